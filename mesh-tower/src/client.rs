//! Endpoints that forward over HTTP with a hyper client: the endpoints of ServiceEntries
//! (address, named ports, labels), so that a proxy can route to real upstreams with subsets
//! selected by label exactly as in a cluster.
//!
//! The protocol follows the ServiceEntry port, as Istio's cluster for it: HTTP/1.1 to a port
//! of protocol `HTTP` (whatever the client spoke: an h2c request is translated, its
//! `:authority` becoming `Host`), HTTP/2 with prior knowledge to `HTTP2`, `GRPC` and
//! `GRPC-WEB` ports. A [`DestinationGuard`] refuses destinations (a proxy's own listening
//! addresses; loopback and link-local ones for forwarding to unknown hosts).

use std::collections::HashMap;
use std::sync::Arc;

use http::{Request, Response, Uri, Version};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use mesh_route::UpstreamEndpoint;
pub use mesh_route::UpstreamPort;
use tower::service_fn;

use crate::BoxError;
use crate::backend::{Backends, Endpoint};
use crate::body::{BoxBody, boxed};
use crate::execute::RouteInfo;

mod guard;
mod h2;

pub use guard::{DestinationGuard, GuardedConnector, GuardedResolver, Refused};

/// The HTTP client endpoints use: HTTP/1.1 through a pool of keep-alive connections, and
/// HTTP/2 with prior knowledge, one multiplexed connection per endpoint; both through a
/// [`GuardedConnector`].
///
/// A client made with [`HttpClient::per_worker`] keeps one set of pools per worker thread, as
/// Envoy keeps a connection pool per cluster and worker: a request sent from a thread marked
/// with [`bind_thread_to_worker`] uses that worker's connections only, so the request, its
/// upstream connection's task and the response stay on one thread (a pooled connection's
/// task runs on the runtime that opened it; handing a request to a connection of another
/// thread's runtime wakes that thread, and the response wakes this one back). Requests from
/// other threads share one more set.
#[derive(Clone, Debug)]
pub struct HttpClient {
    /// `pools[0]` serves threads bound to no worker; `pools[1 + i]` worker `i`.
    pools: Arc<[Pool]>,
    guard: Arc<DestinationGuard>,
}

/// One set of connections: HTTP/1.1 keep-alive and HTTP/2.
#[derive(Clone, Debug)]
struct Pool {
    h1: Client<GuardedConnector, BoxBody>,
    h2: h2::H2Pool,
}

/// The most workers a client keeps pools for; workers past it share the pools of those
/// below (`index % MAX_WORKERS`).
pub const MAX_WORKERS: usize = 256;

/// How long an idle upstream HTTP/1.1 connection is kept for reuse before it is closed
/// (hyper's default, 90 s): connections to endpoints that a reload removed are closed
/// after it rather than kept for ever.
pub const UPSTREAM_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

thread_local! {
    /// The worker this thread is, if any (see [`bind_thread_to_worker`]).
    static WORKER: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Marks the current thread as worker `index`: requests it sends through a client made with
/// [`HttpClient::per_worker`] use that worker's connections. Call it at the start of a
/// thread that runs a single-threaded runtime of its own (one per worker, as mesh-proxy's
/// `--workers`); a thread of a work-stealing runtime should not be bound (its tasks move
/// between threads, so binding it gains nothing).
pub fn bind_thread_to_worker(index: usize) {
    WORKER.with(|w| w.set(Some(index)));
}

impl Pool {
    fn new(connector: &GuardedConnector) -> Pool {
        Pool {
            h1: Client::builder(TokioExecutor::new())
                .http1_max_headers(UPSTREAM_MAX_HEADERS)
                .http1_max_buf_size(UPSTREAM_MAX_HEAD_BYTES)
                .http1_allow_obsolete_multiline_headers_in_responses(true)
                .pool_idle_timeout(UPSTREAM_IDLE_TIMEOUT)
                .pool_timer(TokioTimer::new())
                .build(connector.clone()),
            h2: h2::H2Pool::new(connector.clone()),
        }
    }
}

impl HttpClient {
    /// A client that refuses what `guard` refuses, with Envoy-like connection defaults
    /// (10 s connect timeout, keep-alive; idle connections closed after
    /// [`UPSTREAM_IDLE_TIMEOUT`]) and Envoy's limits on an upstream's HTTP/1 response head:
    /// 100 headers, 60 KiB, obsolete line folding accepted (past them: 502 `UPE`). One set
    /// of connections, shared by every thread.
    pub fn new(guard: DestinationGuard) -> Self {
        HttpClient::per_worker(guard, 0)
    }

    /// As [`HttpClient::new`], with a set of connections for each of `workers` worker
    /// threads (at most [`MAX_WORKERS`]) besides the shared one: see
    /// [`bind_thread_to_worker`].
    pub fn per_worker(guard: DestinationGuard, workers: usize) -> Self {
        let connector = GuardedConnector::new(guard.clone());
        let pools: Vec<Pool> = (0..=workers.min(MAX_WORKERS))
            .map(|_| Pool::new(&connector))
            .collect();
        HttpClient {
            pools: pools.into(),
            guard: Arc::new(guard),
        }
    }

    /// The connections of the current thread's worker (the shared ones off workers).
    fn pool(&self) -> &Pool {
        let workers = self.pools.len() - 1;
        let index = match WORKER.with(std::cell::Cell::get) {
            Some(i) if workers > 0 => 1 + i % workers,
            _ => 0,
        };
        &self.pools[index]
    }

    /// Sends `req` over HTTP/1.1 to the authority of its URI (absolute form,
    /// `http://host:port/path`), as hyper's client does, over the current thread's
    /// connections.
    pub fn request(&self, req: Request<BoxBody>) -> hyper_util::client::legacy::ResponseFuture {
        self.pool().h1.request(req)
    }

    /// What the client refuses.
    pub fn guard(&self) -> &DestinationGuard {
        &self.guard
    }
}

/// A client that refuses nothing, with Envoy-like connection defaults (10 s connect
/// timeout, keep-alive).
pub fn http_client() -> HttpClient {
    HttpClient::new(DestinationGuard::new())
}

/// A request for a service port the endpoint's ServiceEntry does not declare. Istio has no
/// cluster for it (`outbound|PORT||host`), so the layer answers 503 with flag `NC`.
#[derive(Debug, thiserror::Error)]
#[error("{host} has no port {port}: no ServiceEntry port declares it")]
pub struct NoSuchPort {
    /// The destination host.
    pub host: String,
    /// The service port requested.
    pub port: u16,
}

/// The most headers an upstream's response may have (Envoy's `max_headers_count` default).
pub const UPSTREAM_MAX_HEADERS: usize = 100;
/// The most bytes an upstream's response head may take (Envoy's `max_response_headers_kb`
/// default, 60 KiB).
pub const UPSTREAM_MAX_HEAD_BYTES: usize = 60 * 1024;

/// An endpoint at `address` that forwards each request over `client`. The port is chosen per
/// request from the service port the mesh routed to, through `ports` (a service port to the
/// endpoint's port and protocol); a service port not in `ports` is refused with
/// [`NoSuchPort`], never connected to as it is (a listener's own port would loop).
pub fn http_endpoint(
    id: impl Into<String>,
    labels: std::collections::BTreeMap<String, String>,
    address: String,
    ports: HashMap<u16, UpstreamPort>,
    client: HttpClient,
) -> Endpoint {
    let ports = Arc::new(ports);
    let host: Arc<str> = if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]").into()
    } else {
        address.into()
    };
    let service = service_fn(move |mut req: Request<BoxBody>| {
        let client = client.clone();
        let ports = ports.clone();
        let host = host.clone();
        async move {
            let (service_port, service) = req
                .extensions()
                .get::<RouteInfo>()
                .map_or((80, ""), |i| (i.port, &*i.host));
            let Some(upstream) = ports.get(&service_port).copied() else {
                return Err(Box::new(NoSuchPort {
                    host: service.to_owned(),
                    port: service_port,
                }) as BoxError);
            };
            if upstream.http2 {
                let resp = client.pool().h2.send(&host, upstream.port, req).await?;
                return Ok(resp.map(boxed));
            }
            let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
            let uri: Uri = format!("http://{host}:{}{path}", upstream.port).parse()?;
            *req.uri_mut() = uri;
            *req.version_mut() = Version::HTTP_11;
            let resp = client.request(req).await?;
            crate::upstream::check_framing(&resp)?;
            Ok::<Response<BoxBody>, BoxError>(resp.map(boxed))
        }
    });
    Endpoint::new(id, labels, service)
}

impl Backends {
    /// Backends for the ServiceEntry endpoints of a route table
    /// ([`RouteTable::upstream_endpoints`](mesh_route::RouteTable::upstream_endpoints)),
    /// each forwarding over `client` to its address, on its port for the service port the
    /// request was routed to, over HTTP/2 for `HTTP2`, `GRPC` and `GRPC-WEB` ports.
    pub fn from_endpoints(endpoints: &[UpstreamEndpoint], client: &HttpClient) -> Backends {
        let mut backends = Backends::new();
        for ep in endpoints {
            backends.add(
                &ep.host,
                http_endpoint(
                    ep.id.clone(),
                    ep.labels.clone(),
                    ep.address.clone(),
                    ep.ports.clone(),
                    client.clone(),
                ),
            );
        }
        backends
    }
}
