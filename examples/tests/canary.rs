//! `seed-canary-gateway` and `seed-weather-canary` over real HTTP.

mod common;

use common::{seeded, share, start, tally};
use http::StatusCode;

/// 90/10 between my-app v1.0.0 and v2.0.0 under `/my-app`, whatever the Host (the Gateway
/// takes `*`), within 3 points over 1000 requests.
#[tokio::test]
async fn my_app_canary_splits_90_10() {
    let app = examples::canary::my_app(seeded()).expect("the seed compiles");
    let client = start(&app).await;
    let counts = tally(&client, 1000, "shop.example.com", "/my-app", &[]).await;
    let v2 = share(&counts, "my-app v2.0.0");
    eprintln!("seed-canary-gateway over 1000 requests: {counts:?} (v2 {v2:.1}%)");
    assert!((v2 - 10.0).abs() < 3.0, "{counts:?}");
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert_eq!(app.calls("my-app-v1") + app.calls("my-app-v2"), 1000);
}

/// The rewrite replaces only the matched prefix (`/my-app/orders?id=7` reaches the backend
/// as `//orders?id=7`), `/my-appx` matches too, and other paths have no route.
#[tokio::test]
async fn my_app_rewrite_and_no_route() {
    let app = examples::canary::my_app(seeded()).expect("the seed compiles");
    let client = start(&app).await;
    let r = client
        .get("shop.example.com", "/my-app/orders?id=7", &[])
        .await
        .expect("answered");
    assert_eq!(r.header("x-upstream-path"), "//orders?id=7");
    let r = client
        .get("10.0.0.1", "/my-appx", &[])
        .await
        .expect("answered");
    assert_eq!(r.header("x-upstream-path"), "/x");
    let r = client
        .get("shop.example.com", "/other", &[])
        .await
        .expect("answered");
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// 90/10 between weather-service v1 and v2 on every path.
#[tokio::test]
async fn weather_canary_splits_90_10() {
    let app = examples::canary::weather(seeded()).expect("the seed compiles");
    let client = start(&app).await;
    let counts = tally(&client, 1000, "weather.example.com", "/forecast/today", &[]).await;
    let v2 = share(&counts, "weather-service v2");
    eprintln!("seed-weather-canary over 1000 requests: {counts:?} (v2 {v2:.1}%)");
    assert!((v2 - 10.0).abs() < 3.0, "{counts:?}");
}
