//! `seed-bookinfo-reviews-ratings` over real HTTP.

mod common;

use common::{seeded, share, start, tally};

/// productpage's calls to reviews split 25/25/50 over v1, v2 and v3 (within 4 points over
/// 1000 requests), and each reviews version gets the ratings its labels select: v3 -> v2,
/// v2 -> v1, v1 -> none (no rule matches: 404).
#[tokio::test]
async fn reviews_split_and_ratings_by_source_labels() {
    let app = examples::bookinfo::app(seeded()).expect("the seed compiles");
    let client = start(&app).await;
    let counts = tally(&client, 1000, "reviews:9080", "/reviews/0", &[]).await;
    eprintln!("seed-bookinfo-reviews-ratings over 1000 requests: {counts:?}");
    assert_eq!(counts.len(), 3, "{counts:?}");
    let cases = [
        ("reviews v1 -> no ratings (404 Not Found)", 25.0),
        ("reviews v2 -> ratings v1", 25.0),
        ("reviews v3 -> ratings v2", 50.0),
    ];
    for (answer, want) in cases {
        let got = share(&counts, answer);
        assert!((got - want).abs() < 4.0, "{answer}: {counts:?}");
    }
}
