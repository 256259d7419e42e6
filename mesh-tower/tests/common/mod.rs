//! Helpers shared by the integration tests: compiling tables from YAML, in-process backends
//! that count and record what they see, real axum servers on loopback, and a client.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt;
use mesh_route::{CompileOptions, Identity, RouteTable};
use mesh_tower::body::{self, BoxBody};
use mesh_tower::{BoxError, MeshLayer, MeshService, RouteInfo};
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt, service_fn};

/// The inner service every test mesh wraps: answers `inner` (passthrough traffic).
pub type Inner = BoxCloneSyncService<Request<BoxBody>, Response<BoxBody>, Infallible>;

/// The mesh service under test, in response mode.
pub type Mesh = MeshService<Inner>;

/// Loads `yaml` and compiles it for `identity`; panics with the error otherwise.
pub fn table(yaml: &str, identity: Identity) -> RouteTable {
    let resources = mesh_model::load_str(yaml).expect("the test YAML loads");
    RouteTable::compile(&resources, &identity, &CompileOptions::default())
        .expect("the test YAML compiles")
}

/// A sidecar in `default` with no labels.
pub fn sidecar() -> Identity {
    Identity::sidecar("default")
}

/// The FQDN of a service in `default`.
pub fn fqdn(name: &str) -> String {
    format!("{name}.default.svc.cluster.local")
}

/// An inner service answering `inner` with 200.
pub fn inner() -> Inner {
    BoxCloneSyncService::new(service_fn(|_req: Request<BoxBody>| async {
        Ok::<_, Infallible>(Response::new(body::full("inner")))
    }))
}

/// The layer applied to [`inner`].
pub fn mesh(layer: MeshLayer) -> Mesh {
    ServiceBuilder::new().layer(layer).service(inner())
}

/// A request with an empty body.
pub fn get(url: &str) -> Request<BoxBody> {
    Request::get(url)
        .body(body::empty())
        .expect("a valid request")
}

/// A request with headers and an empty body.
pub fn get_with(url: &str, headers: &[(&str, &str)]) -> Request<BoxBody> {
    let mut b = Request::get(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(body::empty()).expect("a valid request")
}

/// What a client got back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// A header's value, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Reads a whole response.
pub async fn reply<B>(resp: Response<B>) -> Reply
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let (parts, b) = resp.into_parts();
    let bytes = b.collect().await.expect("the body reads").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Sends `req` through a clone of `svc` and reads the reply.
pub fn send(svc: &Mesh, req: Request<BoxBody>) -> impl Future<Output = Reply> + Send + 'static {
    // Boxed where the types are concrete: an async block holding the `Oneshot` itself trips
    // rustc's higher-ranked lifetime check of `Send` (rust-lang/rust#102211).
    let call: std::pin::Pin<
        Box<dyn Future<Output = Result<Response<BoxBody>, Infallible>> + Send>,
    > = Box::pin(svc.clone().oneshot(req));
    async move {
        let resp = call.await.expect("response mode never fails");
        reply(resp).await
    }
}

/// A request an in-process backend received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: http::Method,
    pub uri: http::Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub info: Option<RouteInfo>,
}

impl Seen {
    /// A header's value, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// What a backend does with its n-th call (0-based).
pub type Behaviour = Arc<dyn Fn(usize, &Seen) -> Outcome + Send + Sync>;

/// The answer of a backend call.
pub enum Outcome {
    /// Answer with this status and body.
    Status(StatusCode, String),
    /// Answer after sleeping (tokio time, so paused clocks apply).
    After(Duration, StatusCode, String),
    /// Never answer.
    Hang,
    /// Fail as a connection failure would.
    ConnectFailure,
}

/// An in-process backend that counts its calls and records the requests it saw.
#[derive(Clone)]
pub struct Backend {
    pub name: String,
    calls: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    behaviour: Behaviour,
    headers: Vec<(&'static str, &'static str)>,
}

impl Backend {
    /// A backend that answers 200 with `name`.
    pub fn ok(name: &str) -> Self {
        let n = name.to_owned();
        Backend::with(name, move |_, _| Outcome::Status(StatusCode::OK, n.clone()))
    }

    /// A backend with a behaviour.
    pub fn with(name: &str, f: impl Fn(usize, &Seen) -> Outcome + Send + Sync + 'static) -> Self {
        Backend {
            name: name.to_owned(),
            calls: Arc::new(AtomicUsize::new(0)),
            seen: Arc::new(Mutex::new(Vec::new())),
            behaviour: Arc::new(f),
            headers: Vec::new(),
        }
    }

    /// Adds a header to every response.
    pub fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Calls so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("not poisoned").clone()
    }

    /// This backend as an endpoint named `id` with `labels`.
    pub fn endpoint<'a>(
        &self,
        id: &str,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> mesh_tower::Endpoint {
        mesh_tower::Endpoint::new(id, labels, self.service())
    }

    /// This backend as a tower service.
    pub fn service(&self) -> BoxCloneSyncService<Request<BoxBody>, Response<BoxBody>, BoxError> {
        let this = self.clone();
        BoxCloneSyncService::new(service_fn(move |req: Request<BoxBody>| {
            let this = this.clone();
            async move {
                let (parts, b) = req.into_parts();
                let bytes = b.collect().await?.to_bytes();
                let seen = Seen {
                    method: parts.method,
                    uri: parts.uri,
                    headers: parts.headers,
                    body: bytes,
                    info: parts.extensions.get::<RouteInfo>().cloned(),
                };
                let n = this.calls.fetch_add(1, Ordering::SeqCst);
                let outcome = (this.behaviour)(n, &seen);
                this.seen.lock().expect("not poisoned").push(seen);
                let (status, text) = match outcome {
                    Outcome::Status(s, t) => (s, t),
                    Outcome::After(d, s, t) => {
                        tokio::time::sleep(d).await;
                        (s, t)
                    }
                    Outcome::Hang => {
                        std::future::pending::<()>().await;
                        unreachable!()
                    }
                    Outcome::ConnectFailure => {
                        return Err(BoxError::from(mesh_tower::ConnectFailure(
                            "connection refused".into(),
                        )));
                    }
                };
                let mut resp = Response::new(body::full(text));
                *resp.status_mut() = status;
                for (k, v) in &this.headers {
                    resp.headers_mut()
                        .append(*k, http::HeaderValue::from_static(v));
                }
                Ok::<_, BoxError>(resp)
            }
        }))
    }
}

/// Serves `router` on 127.0.0.1:0 in a background task; returns its address.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// A loopback port that refuses every connection for as long as the returned socket lives:
/// bound but never listening, so the kernel answers a connection attempt with a reset, and
/// no other test can take the port meanwhile (a port bound and released could be reused by
/// a concurrent test's listener, which then answers instead of refusing).
pub fn dead_port() -> (u16, tokio::net::TcpSocket) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind("127.0.0.1:0".parse().expect("an address"))
        .expect("bind loopback");
    let port = socket.local_addr().expect("bound address").port();
    (port, socket)
}

/// The lines of `istio_requests_total` that carry every `label="value"` pair, summed.
pub fn requests_total(encoded: &str, labels: &[(&str, &str)]) -> u64 {
    encoded
        .lines()
        .filter(|l| l.starts_with("istio_requests_total{"))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}
