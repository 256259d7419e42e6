//! seed-ab-user-agent: Chrome to my-app v1.0.0, other Mozilla browsers to v2.0.0
//!
//! `cargo run -p examples --bin ab-user-agent` (`PORT=8080` to choose the port), then
//! (it prints these with its address in place of `{addr}`):
//! `curl -s -A 'Mozilla/5.0 Chrome/120.0' http://{addr}/my-app`
//! `curl -s -A 'Mozilla/5.0 Firefox/120.0' http://{addr}/my-app`
//! `curl -si -A curl http://{addr}/my-app`

use mesh_tower::Options;

#[tokio::main]
async fn main() -> Result<(), examples::Error> {
    let app = examples::ab_user_agent::app(Options::default())?;
    examples::serve::run(
        "seed-ab-user-agent: Chrome to my-app v1.0.0, other Mozilla browsers to v2.0.0",
        app.router,
        &[
            "curl -s -A 'Mozilla/5.0 Chrome/120.0' http://{addr}/my-app",
            "curl -s -A 'Mozilla/5.0 Firefox/120.0' http://{addr}/my-app",
            "curl -si -A curl http://{addr}/my-app",
        ],
    )
    .await
}
