//! seed-weather-canary: 90/10 canary of weather-service behind a Gateway
//!
//! `cargo run -p examples --bin weather-canary` (`PORT=8080` to choose the port), then
//! (it prints these with its address in place of `{addr}`):
//! `curl -s http://{addr}/forecast/today`
//! `for i in $(seq 20); do curl -s http://{addr}/; done | sort | uniq -c`

use mesh_tower::Options;

#[tokio::main]
async fn main() -> Result<(), examples::Error> {
    let app = examples::canary::weather(Options::default())?;
    examples::serve::run(
        "seed-weather-canary: 90/10 canary of weather-service behind a Gateway",
        app.router,
        &[
            "curl -s http://{addr}/forecast/today",
            "for i in $(seq 20); do curl -s http://{addr}/; done | sort | uniq -c",
        ],
    )
    .await
}
