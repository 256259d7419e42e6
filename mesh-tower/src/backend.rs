//! Backends as Istio sees them: endpoints registered per host, each with labels (which
//! subsets select on) and a tower service that answers its requests.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

use crate::BoxError;
use crate::body::{BoxBody, boxed};

/// The boxed service of an endpoint.
pub type EndpointService = BoxCloneSyncService<Request<BoxBody>, Response<BoxBody>, BoxError>;

/// One endpoint of a host: a name, its labels, and the service that answers for it.
#[derive(Clone)]
pub struct Endpoint {
    pub(crate) id: Arc<str>,
    pub(crate) labels: Arc<BTreeMap<String, String>>,
    pub(crate) service: EndpointService,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint named `id` (unique within its host, e.g. `reviews-v1-0` or `10.0.0.5:9080`)
    /// with `labels`, served by `service`: any tower service of HTTP requests, such as an
    /// axum `Router`, whose response body has `Bytes` data.
    pub fn new<S, B, K, V>(
        id: impl Into<String>,
        labels: impl IntoIterator<Item = (K, V)>,
        service: S,
    ) -> Self
    where
        S: Service<Request<BoxBody>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
        K: Into<String>,
        V: Into<String>,
    {
        let service = service
            .map_response(|r: Response<B>| r.map(boxed))
            .map_err(Into::into);
        Endpoint {
            id: id.into().into(),
            labels: Arc::new(
                labels
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
            service: BoxCloneSyncService::new(service),
        }
    }

    /// The endpoint's name.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The endpoint's service.
    pub fn service(&self) -> &EndpointService {
        &self.service
    }

    /// The endpoint's labels.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// Whether the endpoint carries every label of `selector`.
    pub fn selected_by(&self, selector: &BTreeMap<String, String>) -> bool {
        selector.iter().all(|(k, v)| self.labels.get(k) == Some(v))
    }
}

/// Endpoints by host (the fully qualified host as Istio resolves it,
/// `name.namespace.svc.cluster.local`, or a ServiceEntry host).
#[derive(Clone, Debug, Default)]
pub struct Backends {
    /// foldhash: looked up on every request, and faster than SipHash for host names.
    hosts: foldhash::HashMap<String, Vec<Endpoint>>,
}

impl Backends {
    /// No backends.
    pub fn new() -> Self {
        Backends::default()
    }

    /// Adds an endpoint to `host` (builder style).
    pub fn with(mut self, host: &str, endpoint: Endpoint) -> Self {
        self.add(host, endpoint);
        self
    }

    /// Adds an endpoint to `host`.
    pub fn add(&mut self, host: &str, endpoint: Endpoint) {
        self.hosts
            .entry(host.to_ascii_lowercase())
            .or_default()
            .push(endpoint);
    }

    /// The endpoints of `host`, if it is registered.
    pub fn endpoints(&self, host: &str) -> Option<&[Endpoint]> {
        self.hosts.get(host).map(Vec::as_slice)
    }

    /// Whether no host has endpoints (then the inner service answers every route).
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The registered hosts.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.hosts.keys().map(String::as_str)
    }
}
