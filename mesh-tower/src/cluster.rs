//! Per-destination state (Envoy's cluster): the endpoints a subset selects, load balancing
//! among them, circuit breaking (`connectionPool`), outlier detection, and the counters that
//! retry budgets read.
//!
//! State lives in the service, keyed by destination (host, subset, port). A swap of the route
//! table or of the backends keeps it while the destination's merged traffic policy is
//! unchanged: counters and limits stay, and each endpoint keeps its ejection state by name.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use mesh_match::RequestView;
use mesh_route::policy::{ClusterPolicy, ConnectionLimits, LoadBalancer, OutlierPolicy};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::backend::{Backends, Endpoint};
use crate::metrics::{ClusterLabels, Metrics};
use crate::rng::Samples;

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
struct Health {
    consecutive_5xx: u32,
    consecutive_gateway: u32,
    consecutive_local: u32,
    times_ejected: u32,
    ejected_until: Option<Instant>,
}

/// An endpoint's live state: requests in flight and health. Kept by endpoint name across
/// rebuilds of the cluster.
#[derive(Debug, Default)]
pub(crate) struct MemberState {
    pub(crate) active: AtomicU64,
    health: Mutex<Health>,
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
    in_flight: AtomicU64,
    /// Attempts waiting for a connection.
    pending: AtomicU64,
    /// Connections, when `maxConnections` is set.
    connections: Option<Arc<Semaphore>>,
    members: Mutex<HashMap<Arc<str>, Arc<MemberState>>>,
    ejected: AtomicUsize,
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

/// Why an attempt was refused by a circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// `http2MaxRequests` reached.
    Requests,
    /// All connections busy and `http1MaxPendingRequests` waiting already.
    Pending,
}

/// Held while an attempt is admitted by the circuit breakers.
#[derive(Debug)]
pub(crate) struct Admission {
    state: Arc<ClusterState>,
    _connection: Option<OwnedSemaphorePermit>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One destination's endpoints and state.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub(crate) key: ClusterKey,
    pub(crate) members: Vec<Member>,
    next: AtomicUsize,
    pub(crate) state: Arc<ClusterState>,
    labels: Arc<BTreeMap<String, String>>,
    /// The subset's `version` label, or its name: Istio's `destination_version`.
    pub(crate) version: Arc<str>,
    policy: Arc<ClusterPolicy>,
    generation: u64,
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

    fn new(
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

    fn outlier(&self) -> Option<&OutlierPolicy> {
        self.policy.outlier_detection.as_ref()
    }

    /// Admits an attempt through the circuit breakers: at most `http2MaxRequests` in flight;
    /// at most `maxConnections` busy, with up to `http1MaxPendingRequests` waiting for one.
    pub(crate) async fn admit(&self, metrics: &Metrics) -> Result<Admission, Overflow> {
        let labels = || ClusterLabels {
            cluster_name: self.key.name(),
        };
        if let Some(max) = self.policy.limits.max_requests {
            if self.state.in_flight.load(Ordering::Relaxed) >= max {
                metrics.rq_overflow.get_or_create(&labels()).inc();
                return Err(Overflow::Requests);
            }
        }
        let connection = match &self.state.connections {
            None => None,
            Some(sem) => match sem.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    metrics.cx_overflow.get_or_create(&labels()).inc();
                    // Envoy's default for pending requests is unlimited (2^32-1).
                    let max_pending = self.policy.limits.max_pending_requests.unwrap_or(u64::MAX);
                    let pending = self.state.pending.fetch_add(1, Ordering::Relaxed);
                    if pending >= max_pending {
                        self.state.pending.fetch_sub(1, Ordering::Relaxed);
                        metrics.pending_overflow.get_or_create(&labels()).inc();
                        return Err(Overflow::Pending);
                    }
                    let permit = sem.clone().acquire_owned().await;
                    self.state.pending.fetch_sub(1, Ordering::Relaxed);
                    permit.ok()
                }
            },
        };
        self.state.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok(Admission {
            state: self.state.clone(),
            _connection: connection,
        })
    }

    /// Records an attempt's result for outlier detection; ejects the endpoint when it
    /// reaches a threshold and `maxEjectionPercent` allows.
    pub(crate) fn record(&self, member: usize, result: AttemptResult, metrics: &Metrics) {
        let (Some(o), Some(m)) = (self.outlier(), self.members.get(member)) else {
            return;
        };
        let mut h = m.state.health.lock().unwrap_or_else(|e| e.into_inner());
        let (is_5xx, is_gateway, is_local) = match result {
            AttemptResult::Status(s) => (o.is_error(s), matches!(s, 502..=504), false),
            // Without the split, a local-origin failure counts as a gateway error (503).
            AttemptResult::LocalFailure => (
                !o.split_local_origin,
                !o.split_local_origin,
                o.split_local_origin,
            ),
        };
        if !is_5xx && !is_gateway && !is_local {
            h.consecutive_5xx = 0;
            h.consecutive_gateway = 0;
            if !matches!(result, AttemptResult::LocalFailure) {
                h.consecutive_local = 0;
            }
            return;
        }
        if is_5xx {
            h.consecutive_5xx += 1;
        }
        if is_gateway {
            h.consecutive_gateway += 1;
        }
        if is_local {
            h.consecutive_local += 1;
        }
        let trip = (o.consecutive_5xx > 0 && h.consecutive_5xx >= o.consecutive_5xx)
            || (o.consecutive_gateway > 0 && h.consecutive_gateway >= o.consecutive_gateway)
            || (o.split_local_origin
                && o.consecutive_local_origin > 0
                && h.consecutive_local >= o.consecutive_local_origin);
        if !trip || h.ejected_until.is_some() {
            return;
        }
        let total = self.members.len().max(1);
        let ejected = self.state.ejected.load(Ordering::Relaxed);
        if ejected * 100 / total >= o.max_ejection_percent as usize {
            return;
        }
        h.times_ejected += 1;
        let time = o.ejection_time(h.times_ejected);
        h.ejected_until = Some(Instant::now() + time);
        h.consecutive_5xx = 0;
        h.consecutive_gateway = 0;
        h.consecutive_local = 0;
        self.state.ejected.fetch_add(1, Ordering::Relaxed);
        let labels = ClusterLabels {
            cluster_name: self.key.name(),
        };
        metrics.ejections.get_or_create(&labels).inc();
        metrics.ejected.get_or_create(&labels).inc();
        tracing::info!(endpoint = %m.endpoint.id, cluster = %labels.cluster_name, ?time, "endpoint ejected");
    }

    /// Whether member `i` is ejected now; returns endpoints whose time is up.
    fn is_ejected(&self, i: usize, metrics: &Metrics) -> bool {
        let Some(m) = self.members.get(i) else {
            return true;
        };
        let mut h = m.state.health.lock().unwrap_or_else(|e| e.into_inner());
        match h.ejected_until {
            Some(until) if Instant::now() >= until => {
                h.ejected_until = None;
                self.state.ejected.fetch_sub(1, Ordering::Relaxed);
                metrics
                    .ejected
                    .get_or_create(&ClusterLabels {
                        cluster_name: self.key.name(),
                    })
                    .dec();
                false
            }
            Some(_) => true,
            None => false,
        }
    }

    /// Picks an endpoint among those not ejected (all of them in panic mode, when fewer
    /// than `minHealthPercent` are healthy), avoiding `exclude` (endpoints already tried)
    /// when another is available. `None` when no endpoint is available.
    pub(crate) fn pick(
        &self,
        req: &RequestView<'_>,
        rng: &Samples,
        exclude: &[usize],
        metrics: &Metrics,
    ) -> Option<usize> {
        let n = self.members.len();
        if n == 0 {
            return None;
        }
        if self.outlier().is_some() && self.state.ejected.load(Ordering::Relaxed) > 0 {
            let healthy: Vec<usize> = (0..n).filter(|i| !self.is_ejected(*i, metrics)).collect();
            let min = self.outlier().map_or(0, |o| o.min_health_percent) as usize;
            if healthy.len() < n {
                let panic = healthy.len() * 100 < min * n;
                if !panic {
                    if healthy.is_empty() {
                        return None;
                    }
                    return self.pick_among(&healthy, req, rng, exclude);
                }
            }
        }
        let all: Vec<usize> = Vec::new();
        self.pick_among(&all, req, rng, exclude)
    }

    /// Picks among `candidates` (empty: every member).
    fn pick_among(
        &self,
        candidates: &[usize],
        req: &RequestView<'_>,
        rng: &Samples,
        exclude: &[usize],
    ) -> Option<usize> {
        let n = if candidates.is_empty() {
            self.members.len()
        } else {
            candidates.len()
        };
        let at = |k: usize| {
            if candidates.is_empty() {
                k
            } else {
                candidates[k]
            }
        };
        let allowed = |i: usize| !exclude.contains(&i) || exclude.len() >= self.members.len();
        let first = match &self.policy.load_balancer {
            LoadBalancer::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed) % n,
            LoadBalancer::Random => rng.below(n as u64) as usize,
            LoadBalancer::LeastRequest => {
                let a = rng.below(n as u64) as usize;
                let b = rng.below(n as u64) as usize;
                let load = |k: usize| self.members[at(k)].state.active.load(Ordering::Relaxed);
                if load(b) < load(a) { b } else { a }
            }
            lb @ LoadBalancer::ConsistentHash(_) => match lb.hash(req) {
                Some(key) => jump_hash(key, n),
                None => rng.below(n as u64) as usize,
            },
        };
        (0..n).map(|k| at((first + k) % n)).find(|i| allowed(*i))
    }
}

/// Jump consistent hash (Lamping and Veach): a bucket in `0..n` that moves for only 1/n of
/// the keys when `n` changes.
pub(crate) fn jump_hash(mut key: u64, n: usize) -> usize {
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < n as i64 {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = (((b + 1) as f64) * ((1u64 << 31) as f64 / (((key >> 33) + 1) as f64))) as i64;
    }
    b.max(0) as usize
}

/// Clusters by destination: by host, then (subset, port). Looking one up allocates
/// nothing.
/// foldhash: looked up on every request, and faster than SipHash for host names.
type ClusterMap = RwLock<foldhash::HashMap<Box<str>, Vec<Arc<Cluster>>>>;

/// Clusters by destination.
#[derive(Debug, Default)]
pub(crate) struct Clusters {
    map: ClusterMap,
    /// Destinations served by the inner service (no registered endpoints): limits and
    /// counters only.
    inner: ClusterMap,
}

/// A destination, borrowed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dest<'a> {
    pub(crate) host: &'a str,
    pub(crate) subset: &'a str,
    pub(crate) port: u16,
}

impl Clusters {
    fn lookup(
        map: &ClusterMap,
        dest: Dest<'_>,
        endpoints: &[Endpoint],
        labels: &BTreeMap<String, String>,
        policy: &Arc<ClusterPolicy>,
        generation: u64,
    ) -> Arc<Cluster> {
        let same = |c: &Cluster| {
            c.generation == generation
                && *c.labels == *labels
                && (Arc::ptr_eq(&c.policy, policy) || c.policy == *policy)
        };
        let find = |list: &Vec<Arc<Cluster>>| {
            list.iter()
                .find(|c| *c.key.subset == *dest.subset && c.key.port == dest.port)
                .cloned()
        };
        let previous = match map.read() {
            Ok(m) => match m.get(dest.host).and_then(find) {
                Some(c) if same(&c) => return c,
                other => other,
            },
            Err(_) => None,
        };
        let key = ClusterKey {
            host: Arc::from(dest.host),
            subset: Arc::from(dest.subset),
            port: dest.port,
        };
        let cluster = Arc::new(Cluster::new(
            key,
            endpoints,
            labels,
            policy.clone(),
            generation,
            previous.as_deref(),
        ));
        if let Ok(mut m) = map.write() {
            let list = m.entry(dest.host.into()).or_default();
            match list
                .iter_mut()
                .find(|c| *c.key.subset == *dest.subset && c.key.port == dest.port)
            {
                Some(c) if same(c) => return c.clone(),
                Some(c) => *c = cluster.clone(),
                None => list.push(cluster.clone()),
            }
        }
        cluster
    }

    /// The cluster of a destination with registered endpoints, or `None` when its host has
    /// none. `generation` changes whenever the backends are swapped.
    pub(crate) fn get(
        &self,
        backends: &Backends,
        generation: u64,
        dest: Dest<'_>,
        labels: &BTreeMap<String, String>,
        policy: &Arc<ClusterPolicy>,
    ) -> Option<Arc<Cluster>> {
        let endpoints = backends.endpoints(dest.host)?;
        Some(Self::lookup(
            &self.map, dest, endpoints, labels, policy, generation,
        ))
    }

    /// The state of a destination that has no registered endpoints (it goes to the inner
    /// service): limits and counters only.
    pub(crate) fn inner_cluster(
        &self,
        dest: Dest<'_>,
        labels: &BTreeMap<String, String>,
        policy: &Arc<ClusterPolicy>,
    ) -> Arc<Cluster> {
        Self::lookup(&self.inner, dest, &[], labels, policy, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::jump_hash;

    /// Jump hash is stable and spreads keys.
    #[test]
    fn jump_hash_is_stable_and_spreads() {
        assert_eq!(jump_hash(42, 1), 0);
        let mut counts = [0usize; 4];
        for k in 0..4000u64 {
            counts[jump_hash(mesh_route::stable_hash(&k.to_le_bytes()), 4)] += 1;
        }
        assert!(counts.iter().all(|c| *c > 800), "{counts:?}");
        // Growing from 4 to 5 moves about a fifth of the keys.
        let moved = (0..4000u64)
            .filter(|k| {
                let h = mesh_route::stable_hash(&k.to_le_bytes());
                jump_hash(h, 4) != jump_hash(h, 5)
            })
            .count();
        assert!((600..1000).contains(&moved), "{moved}");
    }
}
