//! Istio's validation rules for `DestinationRule` (`ValidateDestinationRule` in
//! `pkg/config/validation/validation.go`), plus the rules of the CRD schema that the API
//! server enforces before Istio sees the resource.

mod load_balancer;
mod traffic_policy;

use std::collections::HashSet;

use super::common;
use super::{Finding, Sink, validate_metadata};
use crate::destination_rule::{DestinationRule, Subset, WorkloadSelector};
use crate::resource::{Kind, Resource};

/// Validates one DestinationRule.
pub(super) fn validate(r: &Resource<DestinationRule>) -> Vec<Finding> {
    let mut sink = Sink::new(r);
    validate_metadata(&mut sink, Kind::DestinationRule, r.name());
    let spec = &r.spec;

    sink.check("spec.host", common::validate_wildcard_domain(&spec.host));
    if let Some(policy) = &spec.traffic_policy {
        traffic_policy::validate_traffic_policy(&mut sink, "spec.trafficPolicy", policy);
    }

    let mut names = HashSet::new();
    for (i, subset) in spec.subsets.iter().enumerate() {
        let path = format!("spec.subsets[{i}]");
        if !names.insert(subset.name.as_str()) {
            sink.error(
                format!("{path}.name"),
                format!("duplicate subset names: {}", subset.name),
            );
        }
        validate_subset(&mut sink, &path, subset);
    }

    let errs = common::validate_export_to(
        sink.namespace(),
        &spec.export_to,
        false,
        spec.workload_selector.is_some(),
    );
    sink.check_all("spec.exportTo", errs);

    if let Some(selector) = &spec.workload_selector {
        validate_workload_selector(&mut sink, "spec.workloadSelector", selector);
    }
    sink.finish()
}

/// `validateSubset`: name, labels, traffic policy.
fn validate_subset(sink: &mut Sink<'_>, path: &str, subset: &Subset) {
    sink.check(format!("{path}.name"), validate_subset_name(&subset.name));
    for (k, v) in &subset.labels {
        let errs = common::validate_labels([(k, v)]);
        sink.check_all(&format!("{path}.labels.{k}"), errs);
    }
    if let Some(policy) = &subset.traffic_policy {
        traffic_policy::validate_traffic_policy(sink, &format!("{path}.trafficPolicy"), policy);
    }
}

/// `validateSubsetName`: required, and a DNS-1123 label.
fn validate_subset_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("subset name cannot be empty".into());
    }
    if !common::is_dns1123_label(name) {
        return Err(format!("subset name is invalid: {name}"));
    }
    Ok(())
}

/// `validateWorkloadSelector`: no empty keys, no wildcards; a selector without labels is
/// accepted with a warning.
fn validate_workload_selector(sink: &mut Sink<'_>, path: &str, selector: &WorkloadSelector) {
    for (k, v) in &selector.match_labels {
        let errs = common::validate_selector_label(k, v);
        sink.check_all(&format!("{path}.matchLabels.{k}"), errs);
    }
    if selector.match_labels.is_empty() {
        sink.warning(path, "workload selector specified without labels");
    }
}
