//! Every destination's state, by destination: looked up per request without allocating, and
//! rebuilt (keeping live state) when the backends or the destination's policy change.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use mesh_route::policy::ClusterPolicy;

use super::cluster::{Cluster, ClusterKey};
use crate::backend::{Backends, Endpoint};

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
