use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use mesh_route::policy::{RetryLimit, RetryOn, RetryPolicy};
use tower::{ServiceExt, service_fn};

use super::budget::Budget;
use super::{Policy, Retry, RetryLayer};
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
        .layer(RetryLayer::new(f.policy(Some(Bytes::new()))))
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
    let retry = Retry::new(flaky(5, calls.clone()), f.policy(Some(Bytes::new())));
    let r = retry
        .oneshot(Request::new(body::empty()))
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert!(f.flags.get().contains(ResponseFlags::UPSTREAM_RETRY_LIMIT));

    let f = Fixture::new(3);
    let calls = Arc::new(AtomicUsize::new(0));
    let retry = Retry::new(flaky(5, calls.clone()), f.policy(None));
    let r = retry
        .oneshot(Request::new(body::empty()))
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}
