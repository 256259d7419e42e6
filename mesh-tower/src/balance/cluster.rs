//! One destination's state (Envoy's cluster): the endpoints a subset selects with their live
//! state, the cluster-wide counters that circuit breakers and retry budgets read, and the
//! cached metric series of its requests.
//!
//! State is kept while the destination's merged traffic policy is unchanged: counters and
//! limits stay, and each endpoint keeps its ejection state by name.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};

use mesh_route::policy::{ClusterPolicy, ConnectionLimits, OutlierPolicy};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::backend::Endpoint;

/// Which destination: host, subset and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ClusterKey {
    pub(crate) host: Arc<str>,
    pub(crate) subset: Arc<str>,
    pub(crate) port: u16,
}

impl ClusterKey {
    /// Envoy's cluster name: `outbound|port|subset|host`.
    pub(crate) fn name(&self) -> String {
        format!("outbound|{}|{}|{}", self.port, self.subset, self.host)
    }
}

/// Outlier-detection state of one endpoint.
#[derive(Debug, Default)]
pub(super) struct Health {
    pub(super) consecutive_5xx: u32,
    pub(super) consecutive_gateway: u32,
    pub(super) consecutive_local: u32,
    pub(super) times_ejected: u32,
    pub(super) ejected_until: Option<Instant>,
}

/// An endpoint's live state: requests in flight and health. Kept by endpoint name across
/// rebuilds of the cluster.
#[derive(Debug, Default)]
pub(crate) struct MemberState {
    pub(crate) active: AtomicU64,
    pub(super) health: Mutex<Health>,
}

/// An endpoint with its live state.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) endpoint: Endpoint,
    pub(crate) state: Arc<MemberState>,
}

/// What an attempt to an endpoint ended as, for outlier detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AttemptResult {
    /// A response with this status.
    Status(u16),
    /// A local-origin failure: connect failure, reset, timeout.
    LocalFailure,
}
/// Cluster-wide live state, kept while the policy is unchanged.
#[derive(Debug)]
pub(crate) struct ClusterState {
    /// Requests in flight to the destination (retries included once).
    pub(crate) active_requests: AtomicU64,
    /// Retries waiting for their back-off timer.
    pub(crate) active_retries: AtomicU64,
    /// Attempts in flight (the circuit breaker's requests).
    pub(super) in_flight: AtomicU64,
    /// Attempts waiting for a connection.
    pub(super) pending: AtomicU64,
    /// Connections, when `maxConnections` is set.
    pub(super) connections: Option<Arc<Semaphore>>,
    pub(super) members: Mutex<HashMap<Arc<str>, Arc<MemberState>>>,
    pub(super) ejected: AtomicUsize,
}

impl ClusterState {
    fn new(limits: &ConnectionLimits) -> Self {
        ClusterState {
            active_requests: AtomicU64::new(0),
            active_retries: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            connections: limits
                .max_connections
                .map(|n| Arc::new(Semaphore::new(n.min(Semaphore::MAX_PERMITS as u64) as usize))),
            members: Mutex::new(HashMap::new()),
            ejected: AtomicUsize::new(0),
        }
    }
}
/// One destination's endpoints and state.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub(crate) key: ClusterKey,
    pub(crate) members: Vec<Member>,
    pub(super) next: AtomicUsize,
    pub(crate) state: Arc<ClusterState>,
    pub(super) labels: Arc<BTreeMap<String, String>>,
    /// The subset's `version` label, or its name: Istio's `destination_version`.
    pub(crate) version: Arc<str>,
    pub(super) policy: Arc<ClusterPolicy>,
    pub(super) generation: u64,
    /// Istio metric series of this destination by (code, flags, gRPC status), so that a
    /// request does not build and hash a dozen label strings.
    series: Mutex<Vec<Series>>,
}

/// A cached pair of metric series.
#[derive(Debug)]
struct Series {
    code: u16,
    flags: crate::flags::ResponseFlags,
    grpc: Box<str>,
    counter: prometheus_client::metrics::counter::Counter,
    histogram: prometheus_client::metrics::histogram::Histogram,
}

/// At most this many series are cached per destination; more go the slow way.
const MAX_SERIES: usize = 64;

impl Cluster {
    /// The cached series for an outcome of a request to this destination.
    pub(crate) fn series(
        &self,
        code: u16,
        flags: crate::flags::ResponseFlags,
        grpc: &str,
    ) -> Option<(
        prometheus_client::metrics::counter::Counter,
        prometheus_client::metrics::histogram::Histogram,
    )> {
        let cache = self.series.lock().ok()?;
        cache
            .iter()
            .find(|s| s.code == code && s.flags == flags && &*s.grpc == grpc)
            .map(|s| (s.counter.clone(), s.histogram.clone()))
    }

    /// Caches the series for an outcome.
    pub(crate) fn remember_series(
        &self,
        code: u16,
        flags: crate::flags::ResponseFlags,
        grpc: &str,
        counter: &prometheus_client::metrics::counter::Counter,
        histogram: &prometheus_client::metrics::histogram::Histogram,
    ) {
        if let Ok(mut cache) = self.series.lock() {
            if cache.len() < MAX_SERIES {
                cache.push(Series {
                    code,
                    flags,
                    grpc: grpc.into(),
                    counter: counter.clone(),
                    histogram: histogram.clone(),
                });
            }
        }
    }

    pub(super) fn new(
        key: ClusterKey,
        endpoints: &[Endpoint],
        labels: &BTreeMap<String, String>,
        policy: Arc<ClusterPolicy>,
        generation: u64,
        previous: Option<&Cluster>,
    ) -> Self {
        // Keep the live state when the policy did not change.
        let state = match previous {
            Some(p) if p.policy == policy => p.state.clone(),
            _ => Arc::new(ClusterState::new(&policy.limits)),
        };
        let mut members: Vec<Member> = {
            let mut known = state.members.lock().unwrap_or_else(|e| e.into_inner());
            endpoints
                .iter()
                .filter(|e| e.selected_by(labels))
                .map(|e| Member {
                    endpoint: e.clone(),
                    state: known.entry(e.id.clone()).or_default().clone(),
                })
                .collect()
        };
        // A stable order, so that hashing picks the same endpoint in every process.
        members.sort_by(|a, b| a.endpoint.id.cmp(&b.endpoint.id));
        Cluster {
            members,
            next: AtomicUsize::new(0),
            state,
            version: Arc::from(labels.get("version").map_or(&*key.subset, String::as_str)),
            labels: Arc::new(labels.clone()),
            policy,
            generation,
            series: Mutex::new(Vec::new()),
            key,
        }
    }

    /// The labels that select the destination's endpoints.
    pub(crate) fn labels(&self) -> &Arc<BTreeMap<String, String>> {
        &self.labels
    }

    /// The policy the cluster was built with.
    pub(crate) fn policy(&self) -> &ClusterPolicy {
        &self.policy
    }

    pub(super) fn outlier(&self) -> Option<&OutlierPolicy> {
        self.policy.outlier_detection.as_ref()
    }
}
