//! seed-cookie-user: user=jason sees reviews v2, everyone else v1
//!
//! `cargo run -p examples --bin cookie-user` (`PORT=8080` to choose the port), then
//! (it prints these with its address in place of `{addr}`):
//! `curl -s -H 'Host: reviews' -H 'Cookie: user=jason' http://{addr}/reviews/0`
//! `curl -s -H 'Host: reviews' -H 'Cookie: theme=dark; user=jason' http://{addr}/reviews/0`
//! `curl -s -H 'Host: reviews' http://{addr}/reviews/0`

use mesh_tower::Options;

#[tokio::main]
async fn main() -> Result<(), examples::Error> {
    let app = examples::cookie_user::app(Options::default())?;
    examples::serve::run(
        "seed-cookie-user: user=jason sees reviews v2, everyone else v1",
        app.router,
        &[
            "curl -s -H 'Host: reviews' -H 'Cookie: user=jason' http://{addr}/reviews/0",
            "curl -s -H 'Host: reviews' -H 'Cookie: theme=dark; user=jason' http://{addr}/reviews/0",
            "curl -s -H 'Host: reviews' http://{addr}/reviews/0",
        ],
    )
    .await
}
