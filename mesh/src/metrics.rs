//! The layer's metrics: Istio's `istio_requests_total` and
//! `istio_request_duration_milliseconds` with Istio's labels, the layer's own counters
//! ([`Event`]) and Envoy's per-cluster counters ([`ClusterMetric`]), read back typed,
//! encoded as OpenMetrics text ([`Metrics::encode`], served with [`CONTENT_TYPE`]), or
//! registered into the application's own [`Registry`](prometheus_client::registry::Registry)
//! with [`Handle::register_metrics`].

pub use mesh_tower::Metrics;
pub use mesh_tower::metrics::{
    CONTENT_TYPE, ClusterMetric, DURATION_BUCKETS_MS, Event, RequestLabels,
};
/// The `prometheus_client` this crate registers into (use it for your registry, so that
/// the versions agree).
pub use prometheus_client;

use crate::Handle;

impl Handle {
    /// Registers the layer's metrics into `registry`, the application's own: they are the
    /// layer's, shared, so the registry shows them as they change (register once per
    /// registry; a reload keeps them).
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.metrics().register(registry);
    }
}

/// An axum handler answering `GET` with the layer's metrics: 200, `Content-Type`
/// [`CONTENT_TYPE`], OpenMetrics text. Route it where Prometheus scrapes:
/// `Router::new().route("/metrics", mesh::metrics::handler(mesh.handle()))`.
#[cfg(feature = "axum")]
pub fn handler<S>(handle: Handle) -> axum::routing::MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    axum::routing::get(move || {
        let text = handle.metrics().encode();
        async move { ([(http::header::CONTENT_TYPE, CONTENT_TYPE)], text) }
    })
}
