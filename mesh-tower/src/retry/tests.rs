use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use mesh_route::policy::{RetryLimit, RetryOn, RetryPolicy};
use tower::{ServiceExt, service_fn};

use super::budget::Budget;
use super::layer::RetryingLayer;
use super::{Policy, Retrying};
use crate::BoxError;
use crate::balance::ClusterKey;
use crate::body::{self, BoxBody};
use crate::flags::{FlagCell, ResponseFlags};
use crate::metrics::{Event, Metrics};
use crate::rng::Samples;

/// A service that answers 503 to its first `failures` calls, then 200; counts its calls.
fn flaky(
    failures: usize,
    calls: Arc<AtomicUsize>,
) -> impl tower::Service<Request<BoxBody>, Response = Response<BoxBody>, Error = BoxError, Future: Send>
+ Clone {
    service_fn(move |_req: Request<BoxBody>| {
        let n = calls.fetch_add(1, Ordering::Relaxed);
        async move {
            let mut r = Response::new(body::empty());
            if n < failures {
                *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            }
            Ok::<_, BoxError>(r)
        }
    })
}

/// Rebuilds a bare request.
struct Plain;

impl super::policy::Rebuild for Plain {
    fn request(&self, body: BoxBody, _attempt: u32) -> Request<BoxBody> {
        Request::new(body)
    }
}

struct Fixture {
    route: RetryPolicy,
    requests: AtomicU64,
    retries: AtomicU64,
    rng: Samples,
    metrics: Metrics,
    flags: FlagCell,
    key: ClusterKey,
}

impl Fixture {
    fn new(attempts: u32) -> Self {
        Fixture {
            route: RetryPolicy {
                attempts,
                conditions: vec![RetryOn::FiveXx],
                ..RetryPolicy::istio_default()
            },
            requests: AtomicU64::new(1),
            retries: AtomicU64::new(0),
            rng: Samples::new(7),
            metrics: Metrics::new(),
            flags: FlagCell::default(),
            key: ClusterKey {
                host: "shop".into(),
                subset: "".into(),
                port: 80,
            },
        }
    }

    fn policy(&self, replay: Option<Bytes>) -> Policy<'_> {
        Policy {
            route: &self.route,
            replay,
            rebuild: &Plain,
            budget: Budget::new(RetryLimit::Unbounded, &self.requests, &self.retries),
            rng: &self.rng,
            metrics: &self.metrics,
            flags: &self.flags,
            cluster: &self.key,
        }
    }
}

/// `retryOn: 5xx` with two retries: a backend failing twice answers the third attempt, after
/// two back-offs, and each retry is counted.
#[tokio::test(start_paused = true)]
async fn a_failing_backend_is_retried_until_it_answers() {
    let f = Fixture::new(2);
    let calls = Arc::new(AtomicUsize::new(0));
    let retry = tower::ServiceBuilder::new()
        .layer(RetryingLayer::new(f.policy(Some(Bytes::new()))))
        .service(flaky(2, calls.clone()));
    let r = retry
        .oneshot(Request::new(body::empty()))
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(f.metrics.outcome(Event::RetryAttempted), 2);
    assert!(f.flags.get().is_empty());
}

/// When every attempt fails, the last attempt's answer is returned with `URX`; a body that
/// streamed (nothing to replay) is never retried.
#[tokio::test(start_paused = true)]
async fn retries_run_out_with_urx_and_a_streamed_body_is_not_retried() {
    let f = Fixture::new(1);
    let calls = Arc::new(AtomicUsize::new(0));
    let retry = Retrying::new(flaky(5, calls.clone()), f.policy(Some(Bytes::new())));
    let r = retry
        .oneshot(Request::new(body::empty()))
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert!(f.flags.get().contains(ResponseFlags::UPSTREAM_RETRY_LIMIT));

    let f = Fixture::new(3);
    let calls = Arc::new(AtomicUsize::new(0));
    let retry = Retrying::new(flaky(5, calls.clone()), f.policy(None));
    let r = retry
        .oneshot(Request::new(body::empty()))
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}

/// The body and the `x-order` header of every call a backend got.
type Seen = Arc<std::sync::Mutex<Vec<(Bytes, Option<String>)>>>;

/// A backend that answers 503 to its first `failures` calls, then 200; records the body and
/// the `x-order` header of every call.
fn recording(
    failures: usize,
    seen: Seen,
) -> impl tower::Service<
    Request<BoxBody>,
    Response = Response<BoxBody>,
    Error = std::convert::Infallible,
    Future: Send,
> + Clone {
    service_fn(move |req: Request<BoxBody>| {
        let seen = seen.clone();
        async move {
            let order = req
                .headers()
                .get("x-order")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = http_body_util::BodyExt::collect(req.into_body())
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let n = {
                let mut seen = seen.lock().expect("lock");
                seen.push((bytes, order));
                seen.len()
            };
            let mut r = Response::new(body::empty());
            if n <= failures {
                *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            }
            Ok(r)
        }
    })
}

fn five_xx(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        conditions: vec![RetryOn::FiveXx],
        ..RetryPolicy::istio_default()
    }
}

fn order(body: &'static str) -> Request<BoxBody> {
    Request::post("http://shop/orders")
        .header("x-order", "42")
        .body(body::full(body))
        .expect("request")
}

/// An application's own [`RetryLayer`](super::RetryLayer): a request that fails once is sent
/// again, with the same head and the same body, and answered by the retry without flags.
#[tokio::test(start_paused = true)]
async fn the_applications_retry_layer_replays_the_request() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let svc = tower::ServiceBuilder::new()
        .layer(super::RetryLayer::new(five_xx(2)).with_samples(Arc::new(Samples::new(5))))
        .service(recording(1, seen.clone()));
    let r = svc.oneshot(order("two apples")).await.expect("answer");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.extensions().get::<ResponseFlags>().is_none());
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 2);
    for (bytes, order) in seen.iter() {
        assert_eq!(&bytes[..], b"two apples");
        assert_eq!(order.as_deref(), Some("42"));
    }
}

/// An application's own [`Retry`](super::Retry): when every attempt fails, the last answer
/// comes back flagged `URX`; a body over the buffer limit streams to one attempt only.
#[tokio::test(start_paused = true)]
async fn the_applications_retry_runs_out_with_urx_and_streams_long_bodies() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let svc = tower::Layer::layer(
        &super::RetryLayer::new(five_xx(2)),
        recording(9, seen.clone()),
    );
    let r = svc.oneshot(order("pears")).await.expect("answer");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        r.extensions().get::<ResponseFlags>(),
        Some(&ResponseFlags::UPSTREAM_RETRY_LIMIT)
    );
    assert_eq!(seen.lock().expect("lock").len(), 3);

    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let svc = tower::Layer::layer(
        &super::RetryLayer::new(five_xx(2)).with_body_limit(4),
        recording(9, seen.clone()),
    );
    let r = svc
        .oneshot(order("more than four bytes"))
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 1);
    assert_eq!(&seen[0].0[..], b"more than four bytes");
}

/// An application's own [`Retry`](super::Retry) with `perTryTimeout`: an attempt that hangs
/// is cut at the per-try timeout and retried (`5xx` covers a per-try timeout, as in Envoy).
#[tokio::test(start_paused = true)]
async fn the_applications_retry_cuts_a_hung_attempt_at_the_per_try_timeout() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let backend = service_fn(move |_req: Request<BoxBody>| {
        let first = seen.fetch_add(1, Ordering::Relaxed) == 0;
        async move {
            if first {
                std::future::pending::<()>().await;
            }
            Ok::<_, std::convert::Infallible>(Response::new(body::empty()))
        }
    });
    let policy = RetryPolicy {
        per_try_timeout: Some(std::time::Duration::from_secs(1)),
        ..five_xx(1)
    };
    let started = tokio::time::Instant::now();
    let r = tower::Layer::layer(&super::RetryLayer::new(policy), backend)
        .oneshot(Request::new(body::empty()))
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
}
