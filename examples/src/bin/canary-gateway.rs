//! seed-canary-gateway: 90/10 canary of my-app behind a Gateway, /my-app rewritten to /
//!
//! `cargo run -p examples --bin canary-gateway` (`PORT=8080` to choose the port), then
//! (it prints these with its address in place of `{addr}`):
//! `curl -si http://{addr}/my-app`
//! `curl -si http://{addr}/my-app/orders?id=7`
//! `curl -si http://{addr}/other`

use mesh_tower::Options;

#[tokio::main]
async fn main() -> Result<(), examples::Error> {
    let app = examples::canary::my_app(Options::default())?;
    examples::serve::run(
        "seed-canary-gateway: 90/10 canary of my-app behind a Gateway, /my-app rewritten to /",
        app.router,
        &[
            "curl -si http://{addr}/my-app",
            "curl -si http://{addr}/my-app/orders?id=7",
            "curl -si http://{addr}/other",
        ],
    )
    .await
}
