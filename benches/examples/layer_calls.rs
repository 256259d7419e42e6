//! A fixed number of requests through the layer benchmark's services, for instruction
//! counts under `valgrind --tool=callgrind` (stable where wall-clock time on a shared
//! machine is not): `layer_calls bare|header|split|proxied N` (`proxied`: the split with an
//! origin-form request, its `Host` and seven browser-like headers, as a proxy's server hands
//! it over). Instructions per request are the
//! difference between two runs (N and 0) divided by N.
#![forbid(unsafe_code)]

use std::hint::black_box;

use benches::layer;
use tower::ServiceExt;

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "split".to_owned());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mesh = layer::mesh();
    let bare = layer::bare();
    // Warm-up: metric series, clusters, lazily built state.
    for _ in 0..10 {
        let _ = rt.block_on(mesh.clone().oneshot(layer::request(true)));
        let _ = rt.block_on(mesh.clone().oneshot(layer::request(false)));
        let _ = rt.block_on(bare.service().clone().oneshot(layer::request(false)));
        // Only when measured: the other cases' figures stay comparable with earlier rounds.
        if which == "proxied" {
            let _ = rt.block_on(mesh.clone().oneshot(layer::request_proxied()));
        }
    }
    for _ in 0..n {
        let ok = match which.as_str() {
            "bare" => rt
                .block_on(bare.service().clone().oneshot(layer::request(false)))
                .is_ok(),
            "header" => rt
                .block_on(mesh.clone().oneshot(layer::request(true)))
                .is_ok(),
            "proxied" => rt
                .block_on(mesh.clone().oneshot(layer::request_proxied()))
                .is_ok(),
            _ => rt
                .block_on(mesh.clone().oneshot(layer::request(false)))
                .is_ok(),
        };
        black_box(ok);
    }
}
