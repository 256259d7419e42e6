//! `seed-ab-user-agent` over real HTTP.

mod common;

use common::{seeded, start};
use examples::ab_user_agent::{CHROME, FIREFOX};
use http::StatusCode;

/// Chrome (whose user agent also says Mozilla) takes the first rule, v1.0.0; Firefox the
/// second, v2.0.0; the backend sees `/my-app` rewritten to `/`.
#[tokio::test]
async fn browsers_are_split_by_user_agent() {
    let app = examples::ab_user_agent::app(seeded()).expect("the seed compiles");
    let client = start(&app).await;
    for (ua, want) in [
        (CHROME, "my-app v1.0.0"),
        ("Chrome", "my-app v1.0.0"),
        (FIREFOX, "my-app v2.0.0"),
    ] {
        for _ in 0..10 {
            let r = client
                .get("shop.example.com", "/my-app", &[("user-agent", ua)])
                .await
                .expect("answered");
            assert_eq!(r.body.trim(), want, "{ua}");
            assert_eq!(r.header("x-upstream-path"), "/");
        }
    }
    assert_eq!((app.calls("my-app-v1"), app.calls("my-app-v2")), (20, 10));
}

/// Other clients, a lower-case `chrome` (values are case-sensitive), no user agent, and
/// other paths have no route: 404.
#[tokio::test]
async fn everyone_else_has_no_route() {
    let app = examples::ab_user_agent::app(seeded()).expect("the seed compiles");
    let client = start(&app).await;
    for (path, headers) in [
        ("/my-app", vec![("user-agent", "curl/8.4.0")]),
        ("/my-app", vec![("user-agent", "chrome")]),
        ("/my-app", vec![]),
        ("/elsewhere", vec![("user-agent", "Chrome")]),
    ] {
        let r = client
            .get("shop.example.com", path, &headers)
            .await
            .expect("answered");
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path} {headers:?}");
    }
    assert_eq!(app.calls("my-app-v1") + app.calls("my-app-v2"), 0);
}
