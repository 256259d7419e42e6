//! seed-bookinfo-reviews-ratings: reviews 25/25/50; reviews v3 -> ratings v2, v2 -> ratings v1, v1 -> none
//!
//! `cargo run -p examples --bin bookinfo` (`PORT=8080` to choose the port), then
//! (it prints these with its address in place of `{addr}`):
//! `for i in $(seq 20); do curl -s -H 'Host: reviews:9080' http://{addr}/reviews/0; done | sort | uniq -c`

use mesh_tower::Options;

#[tokio::main]
async fn main() -> Result<(), examples::Error> {
    let app = examples::bookinfo::app(Options::default())?;
    examples::serve::run(
        "seed-bookinfo-reviews-ratings: reviews 25/25/50; reviews v3 -> ratings v2, v2 -> ratings v1, v1 -> none",
        app.router,
        &[
            "for i in $(seq 20); do curl -s -H 'Host: reviews:9080' http://{addr}/reviews/0; done | sort | uniq -c",
        ],
    )
    .await
}
