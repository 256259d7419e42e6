//! Istio-compatible Prometheus metrics: `istio_requests_total` and
//! `istio_request_duration_milliseconds` with Istio's standard labels that apply in-process,
//! so Istio's dashboards and queries work unchanged; plus this layer's own counters
//! (mirrors, retries, buffering) under `mesh_`.

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
    /// Automated canaries' weights and states.
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

impl Metrics {
    /// A new set of metrics in its own registry.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        let mirrors = Family::<OutcomeLabels, Counter>::default();
        let retries = Family::<OutcomeLabels, Counter>::default();
        let bodies = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "istio_requests",
            "Requests, as Istio counts them",
            requests.clone(),
        );
        registry.register(
            "istio_request_duration_milliseconds",
            "Request duration, as Istio measures it",
            duration.clone(),
        );
        registry.register(
            "mesh_mirror_requests",
            "Mirrored copies: sent, dropped (queue full) or not_buffered (body over the limit)",
            mirrors.clone(),
        );
        registry.register(
            "mesh_retries",
            "Retries: attempted, or denied by the retry budget",
            retries.clone(),
        );
        registry.register(
            "mesh_request_bodies",
            "Request bodies: buffered for retries and mirrors, or streamed because over the limit",
            bodies.clone(),
        );
        let rq_overflow = Family::<ClusterLabels, Counter>::default();
        let cx_overflow = Family::<ClusterLabels, Counter>::default();
        let pending_overflow = Family::<ClusterLabels, Counter>::default();
        let retry_overflow = Family::<ClusterLabels, Counter>::default();
        let ejections = Family::<ClusterLabels, Counter>::default();
        let ejected = Family::<ClusterLabels, Gauge>::default();
        registry.register(
            "envoy_cluster_upstream_rq_overflow",
            "Requests refused because http2MaxRequests were in flight (503 UO)",
            rq_overflow.clone(),
        );
        registry.register(
            "envoy_cluster_upstream_cx_overflow",
            "Requests that found maxConnections busy (they wait as pending, or overflow)",
            cx_overflow.clone(),
        );
        registry.register(
            "envoy_cluster_upstream_rq_pending_overflow",
            "Requests refused because http1MaxPendingRequests were waiting (503 UO)",
            pending_overflow.clone(),
        );
        registry.register(
            "envoy_cluster_upstream_rq_retry_overflow",
            "Retries not attempted because of maxRetries or the retry budget",
            retry_overflow.clone(),
        );
        registry.register(
            "envoy_cluster_outlier_detection_ejections_enforced",
            "Endpoints ejected by outlier detection",
            ejections.clone(),
        );
        registry.register(
            "envoy_cluster_outlier_detection_ejections_active",
            "Endpoints ejected now",
            ejected.clone(),
        );
        let rollout = crate::rollout::RolloutMetrics::default();
        rollout.register(&mut registry);
        let body_counter = |result| bodies.get_or_create(&OutcomeLabels { result }).clone();
        Metrics {
            registry: Arc::new(registry),
            requests,
            duration,
            mirrors,
            retries,
            bodies_buffered: body_counter("buffered"),
            bodies_streamed: body_counter("streamed"),
            bodies,
            rq_overflow,
            cx_overflow,
            pending_overflow,
            retry_overflow,
            ejections,
            ejected,
            rollout,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The automated canaries' metrics (`mesh_rollout_*`).
    pub fn rollout(&self) -> &crate::rollout::RolloutMetrics {
        &self.rollout
    }

    /// The number of requests counted with these labels so far.
    pub fn requests(&self, labels: &RequestLabels) -> u64 {
        self.requests.get_or_create(labels).get()
    }

    pub(crate) fn count(family: &Family<OutcomeLabels, Counter>, result: &'static str) {
        family.get_or_create(&OutcomeLabels { result }).inc();
    }

    /// The value of a per-destination metric for `cluster_name`: `rq_overflow`,
    /// `cx_overflow`, `pending_overflow`, `retry_overflow`, `ejections` or `ejected`.
    pub fn cluster(&self, metric: &str, cluster_name: &str) -> i64 {
        let labels = ClusterLabels {
            cluster_name: cluster_name.to_owned(),
        };
        let counter = |f: &Family<ClusterLabels, Counter>| f.get_or_create(&labels).get() as i64;
        match metric {
            "rq_overflow" => counter(&self.rq_overflow),
            "cx_overflow" => counter(&self.cx_overflow),
            "pending_overflow" => counter(&self.pending_overflow),
            "retry_overflow" => counter(&self.retry_overflow),
            "ejections" => counter(&self.ejections),
            _ => self.ejected.get_or_create(&labels).get(),
        }
    }

    /// How many times `result` happened for mirrors (`sent`, `dropped`, `not_buffered`),
    /// retries (`attempted`, `budget_exhausted`) or bodies (`buffered`, `streamed`).
    pub fn outcome(&self, kind: &str, result: &'static str) -> u64 {
        let family = match kind {
            "mirrors" => &self.mirrors,
            "retries" => &self.retries,
            _ => &self.bodies,
        };
        family.get_or_create(&OutcomeLabels { result }).get()
    }
}
