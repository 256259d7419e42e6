//! `seed-cookie-user` over real HTTP.

mod common;

use common::{seeded, start};

/// `user=jason` sees reviews v2 wherever the cookie sits, as long as it follows a `;`
/// directly; with a browser-style space, or another user, it is v1.
#[tokio::test]
async fn only_jason_sees_v2() {
    let app = examples::cookie_user::app(seeded()).expect("the seed compiles");
    let client = start(&app).await;
    for (cookie, want) in [
        (Some("user=jason"), "reviews v2"),
        (Some("user=jason; theme=dark"), "reviews v2"),
        (Some("theme=dark;user=jason"), "reviews v2"),
        (Some("theme=dark; user=jason"), "reviews v1"),
        (Some("user=jasonx"), "reviews v1"),
        (None, "reviews v1"),
    ] {
        let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
        let r = client
            .get("reviews:9080", "/reviews/0", &headers)
            .await
            .expect("answered");
        assert_eq!(r.body.trim(), want, "{cookie:?}");
    }
    assert_eq!((app.calls("reviews-v1"), app.calls("reviews-v2")), (3, 3));
}
