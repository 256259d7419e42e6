use std::time::Duration;

use tower::{ServiceExt, service_fn};

use super::{Elapsed, Timeout, TimeoutLayer};
use crate::BoxError;

/// A response slower than the timeout is replaced by `Elapsed`, at the deadline.
#[tokio::test(start_paused = true)]
async fn a_slow_response_times_out_at_the_deadline() {
    let slow = service_fn(|()| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok::<_, BoxError>("late")
    });
    let started = tokio::time::Instant::now();
    let err = tower::ServiceBuilder::new()
        .layer(TimeoutLayer::new(Some(Duration::from_secs(2))))
        .service(slow)
        .oneshot(())
        .await
        .expect_err("times out");
    assert!(err.downcast_ref::<Elapsed>().is_some(), "{err}");
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}

/// A response within the timeout, or with no timeout at all, passes unchanged.
#[tokio::test(start_paused = true)]
async fn a_response_within_the_deadline_passes() {
    let svc = service_fn(|()| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<_, BoxError>("on time")
    });
    let r = Timeout::new(svc, Some(Duration::from_secs(2)))
        .oneshot(())
        .await;
    assert_eq!(r.expect("answers"), "on time");
    let r = Timeout::new(svc, None).oneshot(()).await;
    assert_eq!(r.expect("answers"), "on time");
}
