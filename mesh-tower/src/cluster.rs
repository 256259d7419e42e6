//! Per-destination state (Envoy's cluster): the endpoints a subset selects, load balancing
//! among them, and the counters that retry budgets read. State lives in the service, keyed by
//! destination, so that it survives a swap of the route table while the destination's
//! DestinationRule is unchanged.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use mesh_match::RequestView;
use mesh_model::destination_rule::{ConsistentHashLb, SimpleLb, TrafficPolicy};
use mesh_route::sticky::stable_hash;

use crate::backend::{Backends, Endpoint};
use crate::rng::Samples;

/// Which destination: host, subset and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ClusterKey {
    pub(crate) host: String,
    pub(crate) subset: String,
    pub(crate) port: u16,
}

/// An endpoint with its live counters.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) endpoint: Endpoint,
    pub(crate) active: AtomicU64,
}

#[derive(Clone, Debug)]
enum Balancer {
    RoundRobin,
    Random,
    LeastRequest,
    Hash(ConsistentHashLb),
}

/// One destination's endpoints and state.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub(crate) members: Vec<Member>,
    balancer: Balancer,
    next: AtomicUsize,
    /// Requests in flight to the destination.
    pub(crate) active_requests: AtomicU64,
    /// Retries in flight to the destination.
    pub(crate) active_retries: AtomicU64,
    labels: BTreeMap<String, String>,
    policy: Option<Arc<TrafficPolicy>>,
}

impl Cluster {
    fn new(
        endpoints: &[Endpoint],
        labels: &BTreeMap<String, String>,
        policy: Option<Arc<TrafficPolicy>>,
    ) -> Self {
        let mut members: Vec<Member> = endpoints
            .iter()
            .filter(|e| e.selected_by(labels))
            .map(|e| Member {
                endpoint: e.clone(),
                active: AtomicU64::new(0),
            })
            .collect();
        // A stable order, so that hashing picks the same endpoint in every process.
        members.sort_by(|a, b| a.endpoint.id.cmp(&b.endpoint.id));
        let lb = policy.as_ref().and_then(|p| p.load_balancer.as_ref());
        let balancer = match lb {
            Some(lb) => match (&lb.simple, &lb.consistent_hash) {
                (_, Some(h)) => Balancer::Hash(h.clone()),
                (Some(SimpleLb::RoundRobin), _) => Balancer::RoundRobin,
                (Some(SimpleLb::Random), _) => Balancer::Random,
                _ => Balancer::LeastRequest,
            },
            None => Balancer::LeastRequest,
        };
        Cluster {
            members,
            balancer,
            next: AtomicUsize::new(0),
            active_requests: AtomicU64::new(0),
            active_retries: AtomicU64::new(0),
            labels: labels.clone(),
            policy,
        }
    }

    /// The policy the cluster was built with.
    pub(crate) fn policy(&self) -> Option<&TrafficPolicy> {
        self.policy.as_deref()
    }

    /// Picks an endpoint, avoiding `exclude` (endpoints already tried) when another is
    /// available. `None` when the subset selects no endpoint.
    pub(crate) fn pick(
        &self,
        req: &RequestView<'_>,
        rng: &Samples,
        exclude: &[usize],
    ) -> Option<usize> {
        let n = self.members.len();
        if n == 0 {
            return None;
        }
        let allowed = |i: usize| !exclude.contains(&i) || exclude.len() >= n;
        let first = match &self.balancer {
            Balancer::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed) % n,
            Balancer::Random => rng.below(n as u64) as usize,
            Balancer::LeastRequest => {
                let a = rng.below(n as u64) as usize;
                let b = rng.below(n as u64) as usize;
                let load = |i: usize| self.members[i].active.load(Ordering::Relaxed);
                if load(b) < load(a) { b } else { a }
            }
            Balancer::Hash(h) => match hash_key(h, req) {
                Some(key) => jump_hash(key, n),
                None => rng.below(n as u64) as usize,
            },
        };
        if allowed(first) {
            return Some(first);
        }
        (1..n).map(|k| (first + k) % n).find(|i| allowed(*i))
    }
}

/// The hash of a request for consistent hashing, or `None` when it lacks the key (Envoy then
/// picks a random host).
fn hash_key(h: &ConsistentHashLb, req: &RequestView<'_>) -> Option<u64> {
    if let Some(name) = &h.http_header_name {
        return req
            .headers()
            .get(name.as_str())
            .map(|v| stable_hash(v.as_bytes()));
    }
    if let Some(cookie) = &h.http_cookie {
        return req
            .headers()
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                (k == cookie.name).then(|| stable_hash(v.as_bytes()))
            });
    }
    if let Some(q) = &h.http_query_parameter_name {
        return req.query_param(q).map(|v| stable_hash(v.as_bytes()));
    }
    if h.use_source_ip == Some(true) {
        return req.remote_ip().map(|ip| match ip {
            std::net::IpAddr::V4(v4) => stable_hash(&v4.octets()),
            std::net::IpAddr::V6(v6) => stable_hash(&v6.octets()),
        });
    }
    None
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

/// Clusters by destination. A cluster is rebuilt only when the subset's labels or the
/// policy change, so its state survives table swaps that leave them alone.
#[derive(Debug, Default)]
pub(crate) struct Clusters {
    map: RwLock<HashMap<ClusterKey, Arc<Cluster>>>,
    /// Destinations served by the inner service (no registered endpoints): only counters.
    inner: RwLock<HashMap<ClusterKey, Arc<Cluster>>>,
}

impl Clusters {
    pub(crate) fn get(
        &self,
        backends: &Backends,
        key: ClusterKey,
        labels: &BTreeMap<String, String>,
        policy: Option<&Arc<TrafficPolicy>>,
    ) -> Option<Arc<Cluster>> {
        let endpoints = backends.endpoints(&key.host)?;
        let same = |c: &Cluster| {
            c.labels == *labels
                && match (&c.policy, policy) {
                    (None, None) => true,
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
                    _ => false,
                }
        };
        if let Ok(map) = self.map.read() {
            if let Some(c) = map.get(&key) {
                if same(c) {
                    return Some(c.clone());
                }
            }
        }
        let cluster = Arc::new(Cluster::new(endpoints, labels, policy.cloned()));
        if let Ok(mut map) = self.map.write() {
            match map.get(&key) {
                Some(c) if same(c) => return Some(c.clone()),
                _ => {
                    map.insert(key, cluster.clone());
                }
            }
        }
        Some(cluster)
    }
}

impl Clusters {
    /// The state of a destination that has no registered endpoints (it goes to the inner
    /// service): its counters only.
    pub(crate) fn inner_cluster(
        &self,
        key: ClusterKey,
        labels: &BTreeMap<String, String>,
        policy: Option<&Arc<TrafficPolicy>>,
    ) -> Arc<Cluster> {
        if let Ok(map) = self.inner.read() {
            if let Some(c) = map.get(&key) {
                return c.clone();
            }
        }
        let cluster = Arc::new(Cluster::new(&[], labels, policy.cloned()));
        if let Ok(mut map) = self.inner.write() {
            return map.entry(key).or_insert(cluster).clone();
        }
        cluster
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
