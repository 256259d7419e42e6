//! The mesh layer's added cost per request: the same in-process endpoint called bare, and
//! through `MeshLayer` (decide, header operations, retry policy bookkeeping, metrics), in
//! the same run. Target: under a microsecond added.
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use mesh_tower::body::{self, BoxBody};
use mesh_tower::{Backends, Endpoint, MeshLayer, Options};
use tower::{Layer, ServiceExt, service_fn};

fn app(
    _req: Request<BoxBody>,
) -> impl std::future::Future<Output = Result<Response<BoxBody>, Infallible>> {
    std::future::ready(Ok(Response::new(body::empty())))
}

fn request(retries: bool) -> Request<BoxBody> {
    let mut r = Request::get("http://shop/cart?item=1");
    if !retries {
        r = r.header("x-canary", "always");
    }
    r.body(body::empty()).expect("request")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let table = benches::layer_table();
    let backends = Backends::new()
        .with(
            "shop.demo.svc.cluster.local",
            Endpoint::new("v1", [("version", "v1")], service_fn(app)),
        )
        .with(
            "shop.demo.svc.cluster.local",
            Endpoint::new("v2", [("version", "v2")], service_fn(app)),
        );
    let mesh = MeshLayer::with_options(
        table,
        backends,
        Options {
            seed: Some(1),
            ..Options::default()
        },
    )
    .layer(service_fn(app));
    let bare = Endpoint::new("v1", [("version", "v1")], service_fn(app));

    let mut g = c.benchmark_group("layer");
    g.bench_function("bare_endpoint", |b| {
        b.iter(|| {
            let svc = bare.service().clone();
            rt.block_on(svc.oneshot(request(true))).map(black_box)
        })
    });
    g.bench_function("mesh_header_route", |b| {
        b.iter(|| {
            rt.block_on(mesh.clone().oneshot(request(false)))
                .map(black_box)
        })
    });
    g.bench_function("mesh_weighted_split_default_retries", |b| {
        b.iter(|| {
            rt.block_on(mesh.clone().oneshot(request(true)))
                .map(black_box)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
