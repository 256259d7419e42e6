use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Response, StatusCode};
use mesh_route::policy::{AbortFault, AbortKind, DelayFault, FaultPolicy, Fraction, ReplyTo};
use tower::{ServiceExt, service_fn};

use super::{Inject, Reply, RouteEnv};
use crate::body::{self, BoxBody};
use crate::flags::{FlagCell, ResponseFlags};
use crate::rng::Samples;

fn env<'a>(rng: &'a Samples, flags: &'a FlagCell) -> RouteEnv<'a> {
    RouteEnv {
        reply: Reply {
            to: ReplyTo::default(),
            ops: None,
        },
        rng,
        flags,
    }
}

/// An abort for every request answers with its status instead of the inner service, with
/// `FI`.
#[tokio::test]
async fn an_abort_answers_instead_of_the_service() {
    let calls = AtomicUsize::new(0);
    let inner = service_fn(|()| {
        calls.fetch_add(1, Ordering::Relaxed);
        async { Ok::<_, std::convert::Infallible>(Response::new(body::empty())) }
    });
    let policy = FaultPolicy {
        delay: None,
        abort: Some(AbortFault {
            kind: AbortKind::Http(418),
            fraction: Fraction::ALL,
        }),
    };
    let (rng, flags) = (Samples::new(1), FlagCell::default());
    let r: Response<BoxBody> = Inject::new(inner, policy, env(&rng, &flags))
        .oneshot(())
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    assert!(flags.get().contains(ResponseFlags::FAULT_INJECTED));
}

/// A delay for every request holds it for the delay, then the inner service answers, with
/// `DI`.
#[tokio::test(start_paused = true)]
async fn a_delay_holds_the_request_then_forwards_it() {
    let inner =
        service_fn(|()| async { Ok::<_, std::convert::Infallible>(Response::new(body::empty())) });
    let policy = FaultPolicy {
        delay: Some(DelayFault {
            duration: Duration::from_secs(3),
            fraction: Fraction::ALL,
        }),
        abort: None,
    };
    let (rng, flags) = (Samples::new(1), FlagCell::default());
    let started = tokio::time::Instant::now();
    let r = Inject::new(inner, policy, env(&rng, &flags))
        .oneshot(())
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!(flags.get(), ResponseFlags::DELAY_INJECTED);
}

/// An application's own [`Fault`](super::Fault): an abort answers with its local reply
/// instead of the inner service, flagged `FI` in the response's extensions.
#[tokio::test]
async fn the_applications_fault_layer_aborts_with_flags_on_the_response() {
    use std::sync::Arc;
    use tower::ServiceBuilder;

    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let app = service_fn(move |_req: http::Request<BoxBody>| {
        seen.fetch_add(1, Ordering::Relaxed);
        async { Ok::<_, std::convert::Infallible>(Response::new(body::full("app"))) }
    });
    let policy = FaultPolicy {
        delay: None,
        abort: Some(AbortFault {
            kind: AbortKind::Http(503),
            fraction: Fraction::ALL,
        }),
    };
    let svc = ServiceBuilder::new()
        .layer(super::FaultLayer::new(policy).with_samples(Arc::new(Samples::new(3))))
        .service(app);
    let r = svc
        .clone()
        .oneshot(http::Request::new(body::empty()))
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        r.extensions().get::<ResponseFlags>(),
        Some(&ResponseFlags::FAULT_INJECTED)
    );
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    // A gRPC client gets the abort as a gRPC answer: HTTP 200 with the mapped status.
    let grpc = http::Request::post("/pkg.Svc/Call")
        .header("content-type", "application/grpc")
        .body(body::empty())
        .expect("request");
    let r = svc.oneshot(grpc).await.expect("answer");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers().get("grpc-status").map(|v| v.as_bytes()),
        Some(&b"14"[..])
    );
}

/// An application's own [`Fault`](super::Fault) with a delay for half the requests: the
/// selected ones wait and are flagged `DI`, the others pass at once without a flag; every
/// request reaches the inner service, whose response body comes through.
#[tokio::test(start_paused = true)]
async fn the_applications_fault_layer_delays_its_share_of_requests() {
    use std::sync::Arc;

    let app = service_fn(|_req: http::Request<BoxBody>| async {
        Ok::<_, std::convert::Infallible>(Response::new(body::full("app")))
    });
    let policy = FaultPolicy {
        delay: Some(DelayFault {
            duration: Duration::from_secs(2),
            fraction: Fraction::from_percent(50.0),
        }),
        abort: None,
    };
    let mut svc = super::Fault::new(app, policy).with_samples(Arc::new(Samples::new(11)));
    let (mut delayed, mut direct) = (0, 0);
    for _ in 0..200 {
        let started = tokio::time::Instant::now();
        let r = (&mut svc)
            .oneshot(http::Request::new(body::empty()))
            .await
            .expect("answer");
        let bytes = http_body_util::BodyExt::collect(r.into_body())
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(&bytes[..], b"app");
        match started.elapsed() {
            d if d == Duration::from_secs(2) => delayed += 1,
            d if d.is_zero() => direct += 1,
            d => panic!("waited {d:?}"),
        }
    }
    assert!(
        (70..=130).contains(&delayed),
        "{delayed} delayed, {direct} not"
    );
    assert_eq!(delayed + direct, 200);
}
