//! The layer benchmark's services (`benches/layer.rs`, and the allocation count in
//! `tests/alloc.rs`): the same in-process endpoint bare, and behind `MeshLayer` with
//! [`LAYER_YAML`](crate::LAYER_YAML).

use std::convert::Infallible;
use std::future::{Ready, ready};

use http::{Request, Response};
use mesh_tower::body::{self, BoxBody};
use mesh_tower::{Backends, Endpoint, MeshLayer, Options};
use tower::{Layer, Service, service_fn};

/// The endpoint: answers an empty 200 at once.
pub fn app(_req: Request<BoxBody>) -> Ready<Result<Response<BoxBody>, Infallible>> {
    ready(Ok(Response::new(body::empty())))
}

/// `GET http://shop/cart?item=1`, with `x-canary: always` (the header route) or without
/// (the 90/10 split, under Istio's default retry policy).
pub fn request(canary: bool) -> Request<BoxBody> {
    let mut r = Request::get("http://shop/cart?item=1");
    if canary {
        r = r.header("x-canary", "always");
    }
    r.body(body::empty()).expect("request")
}

/// The endpoint as `MeshLayer` would call it, without the layer.
pub fn bare() -> Endpoint {
    Endpoint::new("v1", [("version", "v1")], service_fn(app))
}

/// The endpoint behind `MeshLayer` (seeded), with v1 and v2 of `shop` registered.
pub fn mesh()
-> impl Service<Request<BoxBody>, Response = Response<BoxBody>, Error = Infallible> + Clone {
    let backends = Backends::new()
        .with(
            "shop.demo.svc.cluster.local",
            Endpoint::new("v1", [("version", "v1")], service_fn(app)),
        )
        .with(
            "shop.demo.svc.cluster.local",
            Endpoint::new("v2", [("version", "v2")], service_fn(app)),
        );
    MeshLayer::with_options(
        crate::layer_table(),
        backends,
        Options {
            seed: Some(1),
            ..Options::default()
        },
    )
    .layer(service_fn(app))
}
