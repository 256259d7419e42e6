//! seed-mirror: service2 v1 serves, v2 gets a copy of every request
//!
//! `cargo run -p examples --bin mirror` (`PORT=8080` to choose the port), then
//! (it prints these with its address in place of `{addr}`):
//! `curl -s -X POST -H 'Host: service2' -d 'order=1' http://{addr}/orders`

use mesh_tower::Options;

#[tokio::main]
async fn main() -> Result<(), examples::Error> {
    let app = examples::mirror::app(Options::default())?;
    // Shows the copies arriving at v2, whose answers the clients never see.
    let counts = app.clone();
    tokio::spawn(async move {
        let mut last = (0, 0);
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let now = (counts.calls("service2-v1"), counts.calls("service2-v2"));
            if now != last {
                println!("service2 v1 served {}, v2 received {} copies", now.0, now.1);
                last = now;
            }
        }
    });
    examples::serve::run(
        "seed-mirror: service2 v1 serves, v2 gets a copy of every request",
        app.router,
        &["curl -s -X POST -H 'Host: service2' -d 'order=1' http://{addr}/orders"],
    )
    .await
}
