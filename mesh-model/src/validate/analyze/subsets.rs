//! DestinationRule hosts and subsets against the Services and workloads of the input
//! (`destinationrule/subset.go`): IST0173 and IST0174.

use std::collections::BTreeMap;

use super::registry::{Registry, fqdn};
use super::{DESTINATION_RULE_SUBSET_NOT_SELECT_PODS, UNKNOWN_DESTINATION_RULE_HOST};
use crate::destination_rule::DestinationRule;
use crate::kubernetes::{KubeService, Workload};
use crate::resource::{Resource, Resources};
use crate::validate::{Finding, Sink};

/// Labels that Istio adds to a pod's labels from its node and cluster (`AugmentLabels`);
/// the input does not say what they would be.
const AUGMENTED_LABELS: [&str; 6] = [
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.istio.io/subzone",
    "topology.istio.io/cluster",
    "topology.istio.io/network",
    "kubernetes.io/hostname",
];

/// IST0174 and IST0173 for every DestinationRule.
pub(super) fn analyze(resources: &Resources) -> Vec<Finding> {
    let registry = Registry::new(resources);
    let check_hosts = !resources.kubernetes.services.is_empty();
    let mut out = Vec::new();
    for dr in &resources.destination_rules {
        let mut sink = Sink::new(dr);
        let ns = dr.namespace();
        let h = dr.spec.host.as_str();
        if h.is_empty() {
            continue;
        }
        // IST0174: the host names no Service or ServiceEntry visible to the rule (a
        // wildcard host naming none of them either).
        if check_hosts
            && registry.lookup(ns, &dr.spec.export_to, h).is_none()
            && !registry.covers_any(ns, &fqdn(ns, h))
        {
            UNKNOWN_DESTINATION_RULE_HOST.push(
                &mut sink,
                "spec.host",
                format!(
                    "The host {h} defined in the DestinationRule does not match any services in the mesh."
                ),
            );
        }
        if let Some(service) = resources.kubernetes.service(&fqdn(ns, h)) {
            subsets_select_pods(&mut sink, dr, service, &resources.kubernetes.workloads);
        }
        out.extend(sink.finish());
    }
    out
}

/// IST0173: a subset selects the pods of the Service that carry all of its labels; one that
/// selects none leaves its routes without endpoints. Checked only when the input holds
/// workloads that the Service selects (otherwise its pods are elsewhere), and not for
/// subsets that select on node or cluster labels.
fn subsets_select_pods(
    sink: &mut Sink<'_>,
    dr: &Resource<DestinationRule>,
    service: &KubeService,
    workloads: &[Workload],
) {
    if service.selector.is_empty() {
        return;
    }
    let pods: Vec<&BTreeMap<String, String>> = workloads
        .iter()
        .filter(|w| w.namespace == service.namespace && selects(&service.selector, &w.pod_labels))
        .map(|w| &w.pod_labels)
        .collect();
    if pods.is_empty() {
        return;
    }
    for (i, subset) in dr.spec.subsets.iter().enumerate() {
        if subset
            .labels
            .keys()
            .any(|k| AUGMENTED_LABELS.contains(&k.as_str()))
        {
            continue;
        }
        if !pods.iter().any(|labels| selects(&subset.labels, labels)) {
            DESTINATION_RULE_SUBSET_NOT_SELECT_PODS.push(
                sink,
                format!("spec.subsets[{i}]"),
                format!(
                    "The Subset {} defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).",
                    subset.name
                ),
            );
        }
    }
}

/// Whether `labels` carry every `key=value` of `selector`.
fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}
