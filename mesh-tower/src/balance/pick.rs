//! Load balancing: which endpoint of a destination an attempt goes to.

use std::sync::atomic::Ordering;

use mesh_route::policy::LoadBalancer;

use super::cluster::Cluster;
use crate::metrics::Metrics;
use crate::rng::Samples;

impl Cluster {
    /// Picks an endpoint among those not ejected (all of them in panic mode, when fewer
    /// than `minHealthPercent` are healthy), avoiding `exclude` (endpoints already tried)
    /// when another is available. `None` when no endpoint is available.
    pub(crate) fn pick(
        &self,
        hash: Option<u64>,
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
                    return self.pick_among(&healthy, hash, rng, exclude);
                }
            }
        }
        let all: Vec<usize> = Vec::new();
        self.pick_among(&all, hash, rng, exclude)
    }

    /// Picks among `candidates` (empty: every member).
    pub(super) fn pick_among(
        &self,
        candidates: &[usize],
        hash: Option<u64>,
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
            LoadBalancer::ConsistentHash(_) => match hash {
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
