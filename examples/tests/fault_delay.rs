//! `seed-fault-delay` on tokio's paused clock: the 7 s delay costs no real time.

use std::time::Duration;

use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use tokio::time::Instant;
use tower::ServiceExt;

async fn get(app: &examples::App, url: &str) -> String {
    let req = Request::get(url).body(Body::empty()).expect("request");
    let resp = app.router.clone().oneshot(req).await.expect("infallible");
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8_lossy(&bytes).trim().to_owned()
}

/// Every request to my-app, by short or fully qualified name, is held 7 s and then answered
/// by ratings v2.
#[tokio::test(start_paused = true)]
async fn every_request_is_delayed_7s_then_sent_to_ratings_v2() {
    let app =
        examples::fault_delay::app(mesh_tower::Options::default()).expect("the seed compiles");
    for url in [
        "http://my-app/",
        "http://my-app.default.svc.cluster.local/any/path",
    ] {
        let started = Instant::now();
        assert_eq!(get(&app, url).await, "ratings v2");
        assert_eq!(started.elapsed(), Duration::from_secs(7), "{url}");
    }
    assert_eq!(app.calls("ratings-v2"), 2);
    let m = app.handle.metrics().encode();
    assert!(m.contains("response_flags=\"DI\""), "{m}");
}

/// The delay is per request, not a queue: ten concurrent requests all finish after 7 s.
#[tokio::test(start_paused = true)]
async fn concurrent_requests_are_delayed_independently() {
    let app =
        examples::fault_delay::app(mesh_tower::Options::default()).expect("the seed compiles");
    let started = Instant::now();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let req = Request::get("http://my-app/")
                .body(Body::empty())
                .expect("request");
            tokio::spawn(app.router.clone().oneshot(req))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(6_900)).await;
    assert_eq!(app.calls("ratings-v2"), 0, "still delayed");
    for t in tasks {
        assert!(
            t.await
                .expect("task")
                .expect("infallible")
                .status()
                .is_success()
        );
    }
    assert_eq!(started.elapsed(), Duration::from_secs(7));
    assert_eq!(app.calls("ratings-v2"), 10);
}
