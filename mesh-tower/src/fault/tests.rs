use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Response, StatusCode};
use mesh_route::policy::{AbortFault, AbortKind, DelayFault, FaultPolicy, Fraction, ReplyTo};
use tower::{ServiceExt, service_fn};

use super::{Fault, Reply};
use crate::body::{self, BoxBody};
use crate::flags::{FlagCell, ResponseFlags};
use crate::rng::Samples;

fn reply() -> Reply<'static> {
    Reply {
        to: ReplyTo::default(),
        ops: None,
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
    let r: Response<BoxBody> = Fault::new(inner, policy, reply(), &rng, &flags)
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
    let r = Fault::new(inner, policy, reply(), &rng, &flags)
        .oneshot(())
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!(flags.get(), ResponseFlags::DELAY_INJECTED);
}
