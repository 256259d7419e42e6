//! Istio's traffic management in-process, behind one dependency: Istio YAML (strings,
//! files, folders) and a proxy identity become a tower [`Layer`](tower::Layer) that routes,
//! splits, retries, times out, injects faults and mirrors as an Envoy sidecar (or gateway)
//! configured by istiod would, around any HTTP service.
//!
//! - [`Mesh::sidecar`] / [`Mesh::gateway`] start a [`MeshBuilder`]: add YAML
//!   ([`yaml`](MeshBuilder::yaml), [`path`](MeshBuilder::path)) and backends
//!   ([`backend`](MeshBuilder::backend), by short name as the table resolves hosts), then
//!   [`build`](MeshBuilder::build) a [`Mesh`]: the layer, with its [`warnings`](Mesh::warnings).
//! - [`Handle`] reloads it: a whole [`Config`] or new YAML, table and backends swapped
//!   together, atomically; an invalid configuration is rejected with typed findings
//!   ([`Error`]) and the serving one is kept.
//! - [`metrics`] (feature `metrics`, default): typed metrics, OpenMetrics text with its
//!   content type, registration into your own registry; with feature `axum`, a ready handler.
//!   The feature gates this module only: the layer counts in every build, and
//!   [`Handle::metrics`] reads the counts with or without it.
//! - Feature `client`: `Config::service_entry_endpoints` serves ServiceEntry hosts with
//!   their endpoints over HTTP (hyper). Without it, no HTTP client, server or HTTP/2 code
//!   is compiled.
//!
//! The wrapped service answers passthrough requests (hosts no resource knows), and every
//! route when no backend is registered at all; once any backend is registered, a route to a
//! host without endpoints is answered 503 `no healthy upstream` (`UH`), as Envoy answers.
//!
//! ```
//! use mesh::{Endpoint, Mesh};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let version = |v: &'static str| service_fn(move |_req| async move {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(mesh::body::full(v)))
//! });
//! let app = service_fn(|_req| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(mesh::body::full("passthrough")))
//! });
//! let svc = ServiceBuilder::new()
//!     .layer(Mesh::sidecar("demo")
//!         .yaml(r#"
//! apiVersion: networking.istio.io/v1
//! kind: VirtualService
//! metadata: {name: shop}
//! spec:
//!   hosts: [shop]
//!   http:
//!   - route:
//!     - destination: {host: shop, subset: v2}
//! ---
//! apiVersion: networking.istio.io/v1
//! kind: DestinationRule
//! metadata: {name: shop}
//! spec:
//!   host: shop
//!   subsets:
//!   - {name: v1, labels: {version: v1}}
//!   - {name: v2, labels: {version: v2}}
//! "#)
//!         .backend("shop", Endpoint::new("shop-v1", [("version", "v1")], version("v1")))
//!         .backend("shop", Endpoint::new("shop-v2", [("version", "v2")], version("v2")))
//!         .build()?)
//!     .service(app);
//!
//! let req = http::Request::get("http://shop/cart").body(mesh::body::empty())?;
//! let resp = svc.oneshot(req).await?;
//! let body = http_body_util::BodyExt::collect(resp.into_body()).await.map_err(|e| e.to_string())?;
//! assert_eq!(&body.to_bytes()[..], b"v2");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod config;
pub mod error;
mod handle;
mod mesh;
#[cfg(feature = "metrics")]
pub mod metrics;

pub use config::Config;
pub use error::{Error, LoadErrors, Warning};
pub use handle::Handle;
pub use mesh::{Mesh, MeshBuilder};

pub use mesh_route::{Decision, Identity, RouteTable};
pub use mesh_tower::{
    BoxError, ClientAddr, Endpoint, MeshError, MeshLayer, MeshService, Options, ResponseFlags,
    RouteInfo, body,
};

/// The layer's building blocks, for what the front door does not cover.
pub mod tower_layer {
    pub use mesh_tower::*;
}

/// The pure crates: resources (`model`), matching (`matching`) and decisions (`route`).
pub mod engine {
    pub use mesh_match as matching;
    pub use mesh_model as model;
    pub use mesh_route as route;
}
