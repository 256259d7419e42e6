//! seed-split-retries: 90/10 split of service2; v1 refuses the first two attempts of each request, retries hide it
//!
//! `cargo run -p examples --bin split-retries` (`PORT=8080` to choose the port), then
//! (it prints these with its address in place of `{addr}`):
//! `curl -s -H 'Host: service2' -H 'x-retry-test: yes' http://{addr}/`
//! `for i in $(seq 20); do curl -s -H 'Host: service2' http://{addr}/; done | sort | uniq -c`
//! `curl -si -H 'Host: service2' -H 'x-retry-test: yes' http://{addr}/unavailable`

use mesh_tower::Options;

#[tokio::main]
async fn main() -> Result<(), examples::Error> {
    let app = examples::split_retries::app(Options::default())?;
    examples::serve::run(
        "seed-split-retries: 90/10 split of service2; v1 refuses the first two attempts of each request, retries hide it",
        app.router,
        &[
            "curl -s -H 'Host: service2' -H 'x-retry-test: yes' http://{addr}/",
            "for i in $(seq 20); do curl -s -H 'Host: service2' http://{addr}/; done | sort | uniq -c",
            "curl -si -H 'Host: service2' -H 'x-retry-test: yes' http://{addr}/unavailable",
        ],
    )
    .await
}
