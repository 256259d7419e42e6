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
use hyper_util::rt::TokioExecutor;
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
#[derive(Clone, Debug)]
pub struct HttpClient {
    h1: Client<GuardedConnector, BoxBody>,
    h2: h2::H2Pool,
    guard: Arc<DestinationGuard>,
}

impl HttpClient {
    /// A client that refuses what `guard` refuses, with Envoy-like connection defaults
    /// (10 s connect timeout, keep-alive) and Envoy's limits on an upstream's HTTP/1
    /// response head: 100 headers, 60 KiB, obsolete line folding accepted (past them: 502
    /// `UPE`).
    pub fn new(guard: DestinationGuard) -> Self {
        let connector = GuardedConnector::new(guard.clone());
        HttpClient {
            h1: Client::builder(TokioExecutor::new())
                .http1_max_headers(UPSTREAM_MAX_HEADERS)
                .http1_max_buf_size(UPSTREAM_MAX_HEAD_BYTES)
                .http1_allow_obsolete_multiline_headers_in_responses(true)
                .build(connector.clone()),
            h2: h2::H2Pool::new(connector),
            guard: Arc::new(guard),
        }
    }

    /// Sends `req` over HTTP/1.1 to the authority of its URI (absolute form,
    /// `http://host:port/path`), as hyper's client does.
    pub fn request(&self, req: Request<BoxBody>) -> hyper_util::client::legacy::ResponseFuture {
        self.h1.request(req)
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
                let resp = client.h2.send(&host, upstream.port, req).await?;
                return Ok(resp.map(boxed));
            }
            let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
            let uri: Uri = format!("http://{host}:{}{path}", upstream.port).parse()?;
            *req.uri_mut() = uri;
            *req.version_mut() = Version::HTTP_11;
            let resp = client.h1.request(req).await?;
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
