//! The mesh layer's added cost per request: the same in-process endpoint called bare, and
//! through `MeshLayer` (decide, header operations, retry policy bookkeeping, metrics), in
//! the same run. Target: under a microsecond added.
#![forbid(unsafe_code)]

use std::hint::black_box;

use benches::layer;
use criterion::{Criterion, criterion_group, criterion_main};
use tower::ServiceExt;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mesh = layer::mesh();
    let bare = layer::bare();

    let mut g = c.benchmark_group("layer");
    g.bench_function("bare_endpoint", |b| {
        b.iter(|| {
            let svc = bare.service().clone();
            rt.block_on(svc.oneshot(layer::request(false)))
                .map(black_box)
        })
    });
    g.bench_function("mesh_header_route", |b| {
        b.iter(|| {
            rt.block_on(mesh.clone().oneshot(layer::request(true)))
                .map(black_box)
        })
    });
    g.bench_function("mesh_weighted_split_default_retries", |b| {
        b.iter(|| {
            rt.block_on(mesh.clone().oneshot(layer::request(false)))
                .map(black_box)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
