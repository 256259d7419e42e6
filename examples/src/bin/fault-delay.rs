//! seed-fault-delay: every request to my-app is delayed 7 s, then sent to ratings v2
//!
//! `cargo run -p examples --bin fault-delay` (`PORT=8080` to choose the port), then
//! (it prints these with its address in place of `{addr}`):
//! `time curl -s -H 'Host: my-app' http://{addr}/`

use mesh_tower::Options;

#[tokio::main]
async fn main() -> Result<(), examples::Error> {
    let app = examples::fault_delay::app(Options::default())?;
    examples::serve::run(
        "seed-fault-delay: every request to my-app is delayed 7 s, then sent to ratings v2",
        app.router,
        &["time curl -s -H 'Host: my-app' http://{addr}/"],
    )
    .await
}
