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

/// `GET /cart?item=1` as a proxy's server hands it over from HTTP/1.1: origin-form, with
/// `Host: shop` and the fixtures' seven browser-like headers (the 90/10 split). As with
/// hyper's server, the target and the header values are slices of one shared buffer (the
/// bytes read from the connection), so that a copy of them counts references, not bytes.
pub fn request_proxied() -> Request<BoxBody> {
    let target = "/cart?item=1";
    let mut text = String::from(target);
    let mut spans = Vec::new();
    for (_, v) in std::iter::once(("host", "shop")).chain(crate::COMMON_HEADERS) {
        spans.push(text.len()..text.len() + v.len());
        text.push_str(v);
    }
    let read = bytes::Bytes::from(text);
    // Shared, as a frozen read buffer is (cloning a `Bytes` made from a `Vec` shares it).
    let _shared = read.clone();
    let uri = http::Uri::from_maybe_shared(read.slice(..target.len())).expect("target");
    let mut r = Request::get(uri);
    let names = std::iter::once("host").chain(crate::COMMON_HEADERS.iter().map(|(k, _)| *k));
    for (name, span) in names.zip(spans) {
        let value = http::HeaderValue::from_maybe_shared(read.slice(span)).expect("header value");
        r = r.header(name, value);
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
