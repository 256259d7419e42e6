//! Destinations as a proxy resolves them: the FQDN host, the port, the subset's endpoint
//! labels and the DestinationRule policy that applies.

use std::collections::BTreeMap;

use mesh_model::destination_rule::{DestinationRule, Subset, TrafficPolicy};
use mesh_model::host::{self, resolve_short_name, split_service_fqdn};
use mesh_model::{Resource, ResourceKey, Resources};

use crate::identity::Identity;
use crate::policy::{ClusterPolicy, HeadersPolicy, PolicySet};

/// A resolved route destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteDestination {
    /// Fully qualified host.
    pub host: String,
    /// Subset name, empty for none.
    pub subset: String,
    /// The port; `None` means the port the request was sent to.
    pub port: Option<u16>,
    /// Relative weight (a lone destination's weight is ignored).
    pub weight: u32,
    /// Header operations of this destination.
    pub headers: HeadersPolicy,
    /// Labels that select the subset's endpoints: empty for no subset, `None` when the subset
    /// is named but no DestinationRule defines it (Envoy answers 503, cluster not found).
    pub subset_labels: Option<BTreeMap<String, String>>,
    /// The DestinationRule whose policy applies.
    pub destination_rule: Option<ResourceKey>,
    /// The merged traffic policy, by port.
    pub policy: PolicySet,
    /// The answer for requests that pick this destination instead of forwarding them: a
    /// Gateway API backendRef that does not resolve (a missing Service, an unsupported kind,
    /// another namespace without a ReferenceGrant) gets 500 for its share of the traffic.
    pub unresolved: Option<crate::policy::DirectResponse>,
}

impl RouteDestination {
    /// The port to connect to for a request sent to `request_port`.
    pub fn port_for(&self, request_port: u16) -> u16 {
        self.port.unwrap_or(request_port)
    }

    /// The merged traffic policy for a request sent to `request_port`.
    pub fn traffic_policy(&self, request_port: u16) -> Option<&TrafficPolicy> {
        self.policy
            .for_port(self.port_for(request_port))
            .traffic
            .as_deref()
    }

    /// The checked policy for a request sent to `request_port`: what an executor runs.
    pub fn cluster_policy(&self, request_port: u16) -> &std::sync::Arc<ClusterPolicy> {
        &self.policy.for_port(self.port_for(request_port)).cluster
    }
}

/// The DestinationRules visible to one proxy, merged per host as Istio merges them.
#[derive(Debug)]
pub(crate) struct DrIndex<'r> {
    entries: Vec<(String, &'r Resource<DestinationRule>)>,
    /// Indices of `entries` by exact host, in `entries` order.
    exact: std::collections::HashMap<String, Vec<usize>>,
    /// Indices of `entries` whose host is a wildcard.
    wildcards: Vec<usize>,
    namespace: String,
    /// Namespaces of the ServiceEntries, by host: the "service namespace" of hosts that
    /// are not Kubernetes service names (the first entry for a host wins).
    service_entry_ns: std::collections::HashMap<String, &'r str>,
}

/// Istio's root (config) namespace, searched last for DestinationRules.
const ROOT_NAMESPACE: &str = "istio-system";

/// The DestinationRule (or rules) that apply to a host.
#[derive(Debug)]
pub(crate) struct MergedRule<'r> {
    pub(crate) key: ResourceKey,
    pub(crate) traffic_policy: Option<&'r TrafficPolicy>,
    pub(crate) subsets: Vec<&'r Subset>,
}

pub(crate) fn visible(export_to: &[String], owner_ns: &str, viewer_ns: &str) -> bool {
    export_to.is_empty()
        || export_to
            .iter()
            .any(|e| e == "*" || (e == "." && owner_ns == viewer_ns) || e == viewer_ns)
}

impl<'r> DrIndex<'r> {
    pub(crate) fn new(resources: &'r Resources, identity: &Identity) -> Self {
        let ns = identity.namespace();
        let labels = match identity {
            Identity::Sidecar { labels, .. } => Some(labels),
            Identity::Gateway { .. } => None,
        };
        let mut entries: Vec<(String, &'r Resource<DestinationRule>)> = resources
            .destination_rules
            .iter()
            .filter(|dr| visible(&dr.spec.export_to, dr.namespace(), ns))
            .filter(|dr| match &dr.spec.workload_selector {
                None => true,
                Some(sel) => {
                    dr.namespace() == ns
                        && labels.is_some_and(|l| {
                            sel.match_labels.iter().all(|(k, v)| l.get(k) == Some(v))
                        })
                }
            })
            .map(|dr| (resolve_short_name(&dr.spec.host, dr.namespace()), dr))
            .collect();
        entries.sort_by(|a, b| {
            let ta = &a.1.metadata.creation_timestamp;
            let tb = &b.1.metadata.creation_timestamp;
            ta.cmp(tb)
                .then_with(|| a.1.name().cmp(b.1.name()))
                .then_with(|| a.1.namespace().cmp(b.1.namespace()))
        });
        let mut service_entry_ns = std::collections::HashMap::new();
        for se in &resources.service_entries {
            for h in &se.spec.hosts {
                service_entry_ns
                    .entry(resolve_short_name(h, se.namespace()))
                    .or_insert(se.namespace());
            }
        }
        let mut exact: std::collections::HashMap<String, Vec<usize>> = Default::default();
        let mut wildcards = Vec::new();
        for (i, (h, _)) in entries.iter().enumerate() {
            if host::is_wildcard(h) {
                wildcards.push(i);
            } else {
                exact.entry(h.clone()).or_default().push(i);
            }
        }
        DrIndex {
            entries,
            exact,
            wildcards,
            namespace: ns.to_owned(),
            service_entry_ns,
        }
    }

    /// The rules visible to the proxy, each once.
    pub(crate) fn rules(&self) -> impl Iterator<Item = &'r Resource<DestinationRule>> + '_ {
        self.entries.iter().map(|(_, dr)| *dr)
    }

    /// The rules for `host`, found as Istio finds them (`PushContext.destinationRule`):
    /// namespace by namespace (the proxy's, then the service's, then the root namespace
    /// `istio-system`), and in the first namespace that has a rule for the host, the most
    /// specific host (exact before wildcards, longer wildcards first). Rules of that
    /// namespace for that host merge (first subset definition and first top-level policy
    /// win). Rules in any other namespace never apply. Exact hosts are found by hash, so
    /// compiling stays linear in the number of rules.
    pub(crate) fn lookup(&self, target: &str) -> Option<MergedRule<'r>> {
        let service_ns = split_service_fqdn(target)
            .map(|(_, ns)| ns)
            .or_else(|| self.service_entry_ns.get(target).copied());
        let candidates: Vec<usize> = self
            .exact
            .get(target)
            .into_iter()
            .flatten()
            .copied()
            .chain(
                self.wildcards
                    .iter()
                    .copied()
                    .filter(|i| host::subset_of(target, &self.entries[*i].0)),
            )
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let namespaces = [
            Some(self.namespace.as_str()),
            service_ns,
            Some(ROOT_NAMESPACE),
        ];
        for ns in namespaces.into_iter().flatten() {
            let mut best: Option<&str> = None;
            for (h, dr) in candidates.iter().map(|i| &self.entries[*i]) {
                if dr.namespace() != ns {
                    continue;
                }
                if best.is_none_or(|b| host::more_specific(h, b) == std::cmp::Ordering::Less) {
                    best = Some(h.as_str());
                }
            }
            let Some(chosen_host) = best else {
                continue;
            };
            let mut merged: Option<MergedRule<'r>> = None;
            let mut in_order = candidates.clone();
            in_order.sort_unstable();
            for (h, dr) in in_order.iter().map(|i| &self.entries[*i]) {
                if h != chosen_host || dr.namespace() != ns {
                    continue;
                }
                let m = merged.get_or_insert_with(|| MergedRule {
                    key: dr.key(),
                    traffic_policy: None,
                    subsets: Vec::new(),
                });
                if m.traffic_policy.is_none() {
                    m.traffic_policy = dr.spec.traffic_policy.as_ref();
                }
                for s in &dr.spec.subsets {
                    if !m.subsets.iter().any(|x| x.name == s.name) {
                        m.subsets.push(s);
                    }
                }
            }
            return merged;
        }
        None
    }
}

/// Ports of the services this proxy knows (Kubernetes Services and ServiceEntries in the
/// input), used to pick the port of a destination that names none.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    ports: std::collections::HashMap<String, Vec<u16>>,
}

impl Registry {
    pub(crate) fn new(resources: &Resources) -> Self {
        let mut ports: std::collections::HashMap<String, Vec<u16>> = Default::default();
        for s in &resources.kubernetes.services {
            let list = ports.entry(s.fqdn()).or_default();
            list.extend(s.ports.iter().filter_map(|p| u16::try_from(p.port).ok()));
        }
        for se in &resources.service_entries {
            for h in &se.spec.hosts {
                let list = ports
                    .entry(resolve_short_name(h, se.namespace()))
                    .or_default();
                list.extend(
                    se.spec
                        .ports
                        .iter()
                        .filter_map(|p| u16::try_from(p.number).ok()),
                );
            }
        }
        for list in ports.values_mut() {
            list.sort_unstable();
            list.dedup();
        }
        Registry { ports }
    }

    /// The declared services' hosts.
    pub(crate) fn hosts(&self) -> impl Iterator<Item = &str> {
        self.ports.keys().map(String::as_str)
    }

    /// Whether the configuration declares any service (then it is the whole registry).
    pub(crate) fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }

    /// Whether `host` is a declared service (or within a declared wildcard host).
    pub(crate) fn knows(&self, host: &str) -> bool {
        self.ports.contains_key(host)
            || self
                .ports
                .keys()
                .any(|k| host::is_wildcard(k) && host::subset_of(host, k))
    }

    /// The only port of `host`, when it has exactly one.
    pub(crate) fn single_port(&self, host: &str) -> Option<u16> {
        match self.ports.get(host).map(Vec::as_slice) {
            Some([p]) => Some(*p),
            _ => None,
        }
    }
}
