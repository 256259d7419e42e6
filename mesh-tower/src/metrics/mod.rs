//! Istio-compatible Prometheus metrics: `istio_requests_total` and
//! `istio_request_duration_milliseconds` with Istio's standard labels that apply in-process,
//! so Istio's dashboards and queries work unchanged; plus this layer's own counters
//! (mirrors, retries, buffering) under `mesh_`, and Envoy's per-cluster overflow and
//! outlier-detection counters.
//!
//! [`Metrics::encode`] gives OpenMetrics text ([`CONTENT_TYPE`]); [`Metrics::register`] adds
//! the same metrics to an application's own `prometheus_client` registry.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Istio's buckets for `istio_request_duration_milliseconds`.
pub const DURATION_BUCKETS_MS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// Labels of `istio_requests_total` and `istio_request_duration_milliseconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `source` (this layer reports as the calling side).
    pub reporter: &'static str,
    /// The proxy's namespace.
    pub source_workload_namespace: String,
    /// The proxy's `app` label.
    pub source_app: String,
    /// The proxy's `version` label.
    pub source_version: String,
    /// The destination FQDN.
    pub destination_service: String,
    /// The destination's short name.
    pub destination_service_name: String,
    /// The destination's namespace.
    pub destination_service_namespace: String,
    /// The `version` label of the subset (or the subset name), `unknown` without one.
    pub destination_version: String,
    /// `http` or `grpc`.
    pub request_protocol: &'static str,
    /// The status code returned.
    pub response_code: u16,
    /// The `grpc-status`, for gRPC.
    pub grpc_response_status: String,
    /// Envoy response flags, `-` for none.
    pub response_flags: String,
}

/// Labels of the layer's own counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// What happened.
    pub result: &'static str,
}

/// Labels of per-destination (Envoy cluster) metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabels {
    /// `outbound|port|subset|host`, as Envoy names Istio's clusters.
    pub cluster_name: String,
}

/// The metrics of one layer.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub(crate) requests: Family<RequestLabels, Counter>,
    pub(crate) duration: Family<RequestLabels, Histogram, fn() -> Histogram>,
    pub(crate) mirrors: Family<OutcomeLabels, Counter>,
    pub(crate) retries: Family<OutcomeLabels, Counter>,
    pub(crate) bodies: Family<OutcomeLabels, Counter>,
    /// `bodies{result="buffered"}`, kept at hand: every retriable request counts it.
    pub(crate) bodies_buffered: Counter,
    /// `bodies{result="streamed"}`.
    pub(crate) bodies_streamed: Counter,
    pub(crate) rq_overflow: Family<ClusterLabels, Counter>,
    pub(crate) cx_overflow: Family<ClusterLabels, Counter>,
    pub(crate) pending_overflow: Family<ClusterLabels, Counter>,
    pub(crate) retry_overflow: Family<ClusterLabels, Counter>,
    pub(crate) ejections: Family<ClusterLabels, Counter>,
    pub(crate) ejected: Family<ClusterLabels, Gauge>,
    /// Automated canaries' weights and states, configuration candidates' differences.
    pub(crate) rollout: crate::rollout::RolloutMetrics,
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS_MS)
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The content type of [`Metrics::encode`]'s output: OpenMetrics text, which Prometheus
/// scrapes (and negotiates with this header).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Something the layer counts besides Istio's request metrics (see [`Metrics::outcome`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Event {
    /// A mirrored copy was sent (`mesh_mirror_requests_total{result="sent"}`).
    MirrorSent,
    /// A mirrored copy was dropped: the mirror queue was full, or its destination has no
    /// endpoint to send it to (`result="dropped"`).
    MirrorDropped,
    /// No copy: the request body was over the buffering limit (`result="not_buffered"`).
    MirrorNotBuffered,
    /// A retry was attempted (`mesh_retries_total{result="attempted"}`).
    RetryAttempted,
    /// A retry was denied by the retry budget (`result="budget_exhausted"`).
    RetryBudgetExhausted,
    /// A request body was buffered for retries and mirrors
    /// (`mesh_request_bodies_total{result="buffered"}`).
    BodyBuffered,
    /// A request body was streamed, being over the buffering limit (`result="streamed"`).
    BodyStreamed,
}

impl Event {
    /// The value of the `result` label.
    pub fn result(self) -> &'static str {
        match self {
            Event::MirrorSent => "sent",
            Event::MirrorDropped => "dropped",
            Event::MirrorNotBuffered => "not_buffered",
            Event::RetryAttempted => "attempted",
            Event::RetryBudgetExhausted => "budget_exhausted",
            Event::BodyBuffered => "buffered",
            Event::BodyStreamed => "streamed",
        }
    }
}

/// A per-destination (Envoy cluster) metric (see [`Metrics::cluster`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClusterMetric {
    /// `envoy_cluster_upstream_rq_overflow`: requests refused at `http2MaxRequests` (503 UO).
    RqOverflow,
    /// `envoy_cluster_upstream_cx_overflow`: requests that found `maxConnections` busy.
    CxOverflow,
    /// `envoy_cluster_upstream_rq_pending_overflow`: requests refused at
    /// `http1MaxPendingRequests` (503 UO).
    PendingOverflow,
    /// `envoy_cluster_upstream_rq_retry_overflow`: retries not attempted (`maxRetries`, budget).
    RetryOverflow,
    /// `envoy_cluster_outlier_detection_ejections_enforced`: ejections so far.
    Ejections,
    /// `envoy_cluster_outlier_detection_ejections_active`: endpoints ejected now (a gauge).
    Ejected,
}

impl Metrics {
    /// A new set of metrics in its own registry.
    pub fn new() -> Self {
        let bodies = Family::<OutcomeLabels, Counter>::default();
        let body_counter = |result| bodies.get_or_create(&OutcomeLabels { result }).clone();
        let mut metrics = Metrics {
            registry: Arc::new(Registry::default()),
            requests: Family::default(),
            duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            mirrors: Family::default(),
            retries: Family::default(),
            bodies_buffered: body_counter(Event::BodyBuffered.result()),
            bodies_streamed: body_counter(Event::BodyStreamed.result()),
            bodies,
            rq_overflow: Family::default(),
            cx_overflow: Family::default(),
            pending_overflow: Family::default(),
            retry_overflow: Family::default(),
            ejections: Family::default(),
            ejected: Family::default(),
            rollout: crate::rollout::RolloutMetrics::default(),
        };
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        metrics.registry = Arc::new(registry);
        metrics
    }

    /// Registers every metric of this layer into `registry` (an application's own, e.g.
    /// with `registry.sub_registry_with_prefix(..)` or beside its own metrics): the
    /// registered metrics are these, shared, so both registries show the same values.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "istio_requests",
            "Requests, as Istio counts them",
            self.requests.clone(),
        );
        registry.register(
            "istio_request_duration_milliseconds",
            "Request duration, as Istio measures it",
            self.duration.clone(),
        );
        registry.register(
            "mesh_mirror_requests",
            "Mirrored copies: sent, dropped (queue full) or not_buffered (body over the limit)",
            self.mirrors.clone(),
        );
        registry.register(
            "mesh_retries",
            "Retries: attempted, or denied by the retry budget",
            self.retries.clone(),
        );
        registry.register(
            "mesh_request_bodies",
            "Request bodies: buffered for retries and mirrors, or streamed because over the limit",
            self.bodies.clone(),
        );
        registry.register(
            "envoy_cluster_upstream_rq_overflow",
            "Requests refused because http2MaxRequests were in flight (503 UO)",
            self.rq_overflow.clone(),
        );
        registry.register(
            "envoy_cluster_upstream_cx_overflow",
            "Requests that found maxConnections busy (they wait as pending, or overflow)",
            self.cx_overflow.clone(),
        );
        registry.register(
            "envoy_cluster_upstream_rq_pending_overflow",
            "Requests refused because http1MaxPendingRequests were waiting (503 UO)",
            self.pending_overflow.clone(),
        );
        registry.register(
            "envoy_cluster_upstream_rq_retry_overflow",
            "Retries not attempted because of maxRetries or the retry budget",
            self.retry_overflow.clone(),
        );
        registry.register(
            "envoy_cluster_outlier_detection_ejections_enforced",
            "Endpoints ejected by outlier detection",
            self.ejections.clone(),
        );
        registry.register(
            "envoy_cluster_outlier_detection_ejections_active",
            "Endpoints ejected now",
            self.ejected.clone(),
        );
        self.rollout.register(registry);
    }

    /// The automated canaries' and configuration candidates' metrics (`mesh_rollout_*`,
    /// `mesh_config_candidate_diff_total`).
    pub fn rollout(&self) -> &crate::rollout::RolloutMetrics {
        &self.rollout
    }

    /// Every metric in the OpenMetrics text format (ending with `# EOF`): serve it with the
    /// `Content-Type` [`CONTENT_TYPE`].
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The number of requests counted with these labels so far.
    pub fn requests(&self, labels: &RequestLabels) -> u64 {
        self.requests.get_or_create(labels).get()
    }

    /// Counts `event`.
    pub(crate) fn record(&self, event: Event) {
        self.family(event)
            .get_or_create(&OutcomeLabels {
                result: event.result(),
            })
            .inc();
    }

    fn family(&self, event: Event) -> &Family<OutcomeLabels, Counter> {
        match event {
            Event::MirrorSent | Event::MirrorDropped | Event::MirrorNotBuffered => &self.mirrors,
            Event::RetryAttempted | Event::RetryBudgetExhausted => &self.retries,
            Event::BodyBuffered | Event::BodyStreamed => &self.bodies,
        }
    }

    /// The value of the per-destination `metric` for `cluster_name`
    /// (`outbound|port|subset|host`).
    pub fn cluster(&self, metric: ClusterMetric, cluster_name: &str) -> i64 {
        let labels = ClusterLabels {
            cluster_name: cluster_name.to_owned(),
        };
        let counter = |f: &Family<ClusterLabels, Counter>| f.get_or_create(&labels).get() as i64;
        match metric {
            ClusterMetric::RqOverflow => counter(&self.rq_overflow),
            ClusterMetric::CxOverflow => counter(&self.cx_overflow),
            ClusterMetric::PendingOverflow => counter(&self.pending_overflow),
            ClusterMetric::RetryOverflow => counter(&self.retry_overflow),
            ClusterMetric::Ejections => counter(&self.ejections),
            ClusterMetric::Ejected => self.ejected.get_or_create(&labels).get(),
        }
    }

    /// How many times `event` happened so far.
    pub fn outcome(&self, event: Event) -> u64 {
        self.family(event)
            .get_or_create(&OutcomeLabels {
                result: event.result(),
            })
            .get()
    }
}

mod future;
mod layer;
mod record;
#[cfg(test)]
mod tests;

pub(crate) use future::CountFuture;
pub(crate) use layer::Count;
pub(crate) use record::{Destination, InFlight, Outcome, Routed};
