//! Starting an example on 127.0.0.1 and counting answers.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use examples::App;
use examples::serve::{Client, spawn};
use mesh_tower::Options;

/// Options with a fixed seed, so that shares are reproducible.
pub fn seeded() -> Options {
    Options {
        seed: Some(2026),
        ..Options::default()
    }
}

/// Serves `app` on 127.0.0.1:0 and returns a client of it.
pub async fn start(app: &App) -> Client {
    let addr = spawn(app.router.clone()).await.expect("serves on loopback");
    Client::new(addr)
}

/// Sends `n` requests and counts the answers by body (first line).
pub async fn tally(
    client: &Client,
    n: usize,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        let r = client.get(host, path, headers).await.expect("answered");
        *counts.entry(r.body.trim().to_owned()).or_default() += 1;
    }
    counts
}

/// The share of `key` in `counts`, in percent.
pub fn share(counts: &BTreeMap<String, usize>, key: &str) -> f64 {
    let total: usize = counts.values().sum();
    counts.get(key).copied().unwrap_or(0) as f64 * 100.0 / total as f64
}
