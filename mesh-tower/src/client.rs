//! Endpoints that forward over HTTP with a hyper client: the endpoints of ServiceEntries
//! (address, named ports, labels), so that a proxy can route to real upstreams with subsets
//! selected by label exactly as in a cluster.

use std::collections::HashMap;
use std::sync::Arc;

use http::{Request, Response, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mesh_model::Resources;
use mesh_model::host::resolve_short_name;
use mesh_model::service_entry::Resolution;
use tower::service_fn;

use crate::BoxError;
use crate::backend::{Backends, Endpoint};
use crate::body::{BoxBody, boxed};
use crate::execute::RouteInfo;

/// The HTTP client endpoints use: HTTP/1.1, and HTTP/2 with prior knowledge when asked.
pub type HttpClient = Client<HttpConnector, BoxBody>;

/// A client with Envoy-like connection defaults (10 s connect timeout, keep-alive) and
/// Envoy's limits on an upstream's HTTP/1 response head: 100 headers, 60 KiB, obsolete line
/// folding accepted (past them: 502 `UPE`).
pub fn http_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(std::time::Duration::from_secs(10)));
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .http1_max_headers(UPSTREAM_MAX_HEADERS)
        .http1_max_buf_size(UPSTREAM_MAX_HEAD_BYTES)
        .http1_allow_obsolete_multiline_headers_in_responses(true)
        .build(connector)
}

/// The most headers an upstream's response may have (Envoy's `max_headers_count` default).
pub const UPSTREAM_MAX_HEADERS: usize = 100;
/// The most bytes an upstream's response head may take (Envoy's `max_response_headers_kb`
/// default, 60 KiB).
pub const UPSTREAM_MAX_HEAD_BYTES: usize = 60 * 1024;

/// An endpoint at `address` that forwards each request over `client`. The port is chosen per
/// request from the destination port the mesh routed to: `ports` maps a service port to the
/// endpoint's port; a service port not in the map is used as is.
pub fn http_endpoint(
    id: impl Into<String>,
    labels: std::collections::BTreeMap<String, String>,
    address: String,
    ports: HashMap<u16, u16>,
    client: HttpClient,
) -> Endpoint {
    let ports = Arc::new(ports);
    let address: Arc<str> = address.into();
    let service = service_fn(move |mut req: Request<BoxBody>| {
        let client = client.clone();
        let ports = ports.clone();
        let address = address.clone();
        async move {
            let service_port = req.extensions().get::<RouteInfo>().map_or(80, |i| i.port);
            let port = ports.get(&service_port).copied().unwrap_or(service_port);
            let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
            let host = if address.contains(':') && !address.starts_with('[') {
                format!("[{address}]")
            } else {
                address.to_string()
            };
            let uri: Uri = format!("http://{host}:{port}{path}").parse()?;
            *req.uri_mut() = uri;
            let resp = client.request(req).await?;
            crate::upstream::check_framing(&resp)?;
            Ok::<Response<BoxBody>, BoxError>(resp.map(boxed))
        }
    });
    Endpoint::new(id, labels, service)
}

impl Backends {
    /// Backends for every ServiceEntry endpoint of `resources` (STATIC and DNS resolution),
    /// each forwarding over `client`. Endpoint ports are taken by the ServiceEntry port's
    /// name (`endpoints[].ports`), else its `targetPort`, else its number.
    pub fn from_service_entries(resources: &Resources, client: &HttpClient) -> Backends {
        let mut backends = Backends::new();
        for se in &resources.service_entries {
            if !matches!(
                se.spec.resolution,
                Resolution::Static | Resolution::Dns | Resolution::DnsRoundRobin
            ) {
                continue;
            }
            for (i, ep) in se.spec.endpoints.iter().enumerate() {
                if ep.address.is_empty() || ep.address.starts_with("unix://") {
                    continue;
                }
                let mut ports = HashMap::new();
                for p in &se.spec.ports {
                    let Ok(number) = u16::try_from(p.number) else {
                        continue;
                    };
                    let target = ep
                        .ports
                        .get(&p.name)
                        .copied()
                        .or((p.target_port != 0).then_some(p.target_port))
                        .and_then(|t| u16::try_from(t).ok())
                        .unwrap_or(number);
                    ports.insert(number, target);
                }
                for h in &se.spec.hosts {
                    let host = resolve_short_name(h, se.namespace());
                    let id = format!("{}/{}#{i}:{}", se.namespace(), se.name(), ep.address);
                    backends.add(
                        &host,
                        http_endpoint(
                            id,
                            ep.labels.clone(),
                            ep.address.clone(),
                            ports.clone(),
                            client.clone(),
                        ),
                    );
                }
            }
        }
        backends
    }
}
