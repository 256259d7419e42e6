//! `seed-split-retries` over real HTTP, with v1 refusing the first two attempts of every
//! request.

mod common;

use common::{seeded, start};
use http::StatusCode;
use mesh_tower::Options;

/// With `x-retry-test: yes` (5 retries), every request succeeds on v1's third attempt.
#[tokio::test]
async fn explicit_retries_hide_a_flaky_backend() {
    let app = examples::split_retries::app(seeded()).expect("the seed compiles");
    let client = start(&app).await;
    for _ in 0..10 {
        let r = client
            .get("service2", "/", &[("x-retry-test", "yes")])
            .await
            .expect("answered");
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body.trim(), "service2 v1 (answered attempt 2)");
    }
    assert_eq!(app.calls("service2-v1"), 30, "three attempts per request");
    assert_eq!(
        app.handle
            .metrics()
            .outcome(mesh_tower::metrics::Event::RetryAttempted),
        20
    );
}

/// Without the header the 90/10 split applies, and Istio's default policy (2 retries on
/// connect-failure) is just enough for v1: every request succeeds. Istio sets no retry
/// budget, so neither does this run of 300 requests, 100 at a time.
#[tokio::test]
async fn the_split_with_default_retries() {
    let app = examples::split_retries::app(Options {
        default_retry_budget: None,
        ..seeded()
    })
    .expect("the seed compiles");
    let client = start(&app).await;
    let mut v2 = 0;
    for _ in 0..3 {
        let batch: Vec<_> = (0..100)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move { client.get("service2", "/", &[]).await })
            })
            .collect();
        for t in batch {
            let r = t.await.expect("task").expect("answered");
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            if r.body.trim() == "service2 v2" {
                v2 += 1;
            }
        }
    }
    let share = v2 as f64 / 3.0;
    eprintln!(
        "seed-split-retries over 300 requests: v2 {share:.1}%, v1 attempts {}",
        app.calls("service2-v1")
    );
    assert!((share - 10.0).abs() < 5.0, "{share}");
    assert_eq!(app.calls("service2-v1"), 3 * (300 - v2));
}

/// A 503 answered by v1 itself is not retried by either policy (no `5xx` in `retryOn`; the
/// default has no retriable status codes since Istio 1.24): the client gets it.
#[tokio::test]
async fn a_503_from_the_backend_is_not_retried() {
    let app = examples::split_retries::app(seeded()).expect("the seed compiles");
    let client = start(&app).await;
    let r = client
        .get("service2", "/unavailable", &[("x-retry-test", "yes")])
        .await
        .expect("answered");
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        app.calls("service2-v1"),
        3,
        "two refused attempts, then the 503"
    );
}
