//! Istio's traffic management in-process: a tower [`Layer`](tower::Layer) that executes the
//! decisions of a [`mesh_route::RouteTable`] around any HTTP service, as an Envoy sidecar
//! would, without the extra hop.
//!
//! Policies run in Envoy's order: fault (delay, then abort) → redirect or direct response →
//! rewrite and request header operations → route timeout around retries (per-try timeout,
//! `retryOn`, jittered exponential back-off, retry budget) → response header operations;
//! no route gives 404. Mirrors are fire-and-forget with a bounded queue. Backends are
//! registered per host with labels, and subsets select them by label as Istio's do.
//!
//! Inside, each policy is a small tower middleware of its own (a `Service`, its `Layer` and
//! response future where it needs them), and a request's route stacks them:
//! `fault` → `mirror` → `timeout` (the route's) → `retry` (policy, back-off, budget) →
//! `balance` (load balancing, circuit breaking, outlier detection, the per-try timeout) →
//! the endpoint, under `metrics` (Istio's request metrics, counted when the response ends).
//! The policies are built per request from the decision, borrow its state and live on the
//! request's one boxed future: none allocates on its own, beyond the copy of the request a
//! retry needs and a circuit breaker's wait for a connection.
//!
//! Three of them are also an application's own middleware, to stack around any HTTP service
//! without a route table, from mesh-route's checked policies (a compiled rule's, or built in
//! code): [`fault::FaultLayer`], [`timeout::TimeoutLayer`] and [`retry::RetryLayer`]. They
//! run the same code as the layer's routes; what needs a destination (the retry budget,
//! mirrors, load balancing, circuit breakers, outlier detection) stays inside the layer.
//!
//! Most embeddings want the `mesh` crate, which builds this layer from YAML. Feature
//! `client` (off by default) adds the `client` module: endpoints that forward over HTTP/1.1 and
//! HTTP/2 with hyper's client (ServiceEntry endpoints) and websocket upgrades through them;
//! without it the layer needs tokio's `rt`, `time` and `sync` only, and no HTTP client or
//! server code.
//!
//! ```
//! use mesh_tower::{Backends, Endpoint, MeshLayer};
//! use mesh_route::{CompileOptions, Identity, RouteTable};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let resources = mesh_model::load_str(r#"
//! apiVersion: networking.istio.io/v1
//! kind: VirtualService
//! metadata: {name: shop, namespace: demo}
//! spec:
//!   hosts: [shop]
//!   http:
//!   - route:
//!     - destination: {host: shop, subset: v2}
//! ---
//! apiVersion: networking.istio.io/v1
//! kind: DestinationRule
//! metadata: {name: shop, namespace: demo}
//! spec:
//!   host: shop
//!   subsets:
//!   - {name: v1, labels: {version: v1}}
//!   - {name: v2, labels: {version: v2}}
//! "#)?;
//! let table = RouteTable::compile(&resources, &Identity::sidecar("demo"), &CompileOptions::default())?;
//! let version = |v: &'static str| service_fn(move |_req| async move {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(mesh_tower::body::full(v)))
//! });
//! let backends = Backends::new()
//!     .with("shop.demo.svc.cluster.local", Endpoint::new("shop-v1", [("version", "v1")], version("v1")))
//!     .with("shop.demo.svc.cluster.local", Endpoint::new("shop-v2", [("version", "v2")], version("v2")));
//! // The inner service answers passthrough requests (hosts no resource knows); a route to a
//! // host without registered endpoints gets 503 `no healthy upstream` (`UH`).
//! let fallback = service_fn(|_req| async { Ok::<_, std::convert::Infallible>(http::Response::new(mesh_tower::body::empty())) });
//! let svc = ServiceBuilder::new().layer(MeshLayer::new(table, backends)).service(fallback);
//!
//! let req = http::Request::get("http://shop/cart").body(mesh_tower::body::empty())?;
//! let resp = svc.oneshot(req).await?;
//! let body = http_body_util::BodyExt::collect(resp.into_body()).await.map_err(|e| e.to_string())?.to_bytes();
//! assert_eq!(&body[..], b"v2");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

pub mod backend;
mod balance;
pub mod body;
#[cfg(feature = "client")]
pub mod client;
mod completion;
mod execute;
pub mod fault;
pub mod flags;
mod forwarding;
mod hygiene;
pub mod idle;
pub mod loop_detect;
pub mod metrics;
mod mirror;
pub mod options;
pub mod retry;
pub mod rng;
pub mod rollout;
pub mod service;
pub mod timeout;
#[cfg(feature = "client")]
mod upgrade;
mod upstream;

pub use backend::{Backends, Endpoint, EndpointService};
pub use execute::{ClientAddr, ReplyContext, RouteInfo};
pub use flags::ResponseFlags;
pub use metrics::{ClusterMetric, Event, Metrics};
pub use options::{Options, RetryBudget};
pub use service::error::{ConnectFailure, MeshError, ProtocolError};
pub use service::layer::{MeshHandle, MeshLayer};
pub use service::{Errors, MeshService, Mode, Responses};

/// The boxed error type at the tower boundary.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
