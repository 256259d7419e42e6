//! VirtualServices of the mesh gateway that claim the same host
//! (`virtualservice/conflictingmeshgatewayhosts.go`): IST0109.

use std::collections::{HashMap, HashSet};

use super::registry::fqdn;
use super::{CONFLICTING_MESH_GATEWAY_VIRTUAL_SERVICE_HOSTS, full_name};
use crate::host;
use crate::resource::{Resource, Resources};
use crate::validate::{Finding, Sink};
use crate::virtual_service::VirtualService;

/// Scope of a VirtualService exported to every namespace.
const ALL: &str = "*";

/// IST0109, as `ConflictingMeshGatewayHostsAnalyzer` decides it.
///
/// A VirtualService is bound to the mesh gateway when its `gateways` list is empty or holds
/// `mesh`. Each of its hosts (short names completed with its namespace) is keyed by scope:
/// `*` when it is exported to all namespaces (no `exportTo`, or `*` among them), otherwise
/// each namespace of `exportTo` (`.` meaning its own). Two VirtualServices conflict when they
/// share a key, or when one is exported to a namespace and the other to all namespaces and
/// their hosts overlap (`Matches`, wildcards included). Each VirtualService is reported once,
/// for the first conflicting key, naming all VirtualServices of the conflict (sorted
/// `ns/name`s joined by `,`) and the key as `scope/host`.
pub(super) fn analyze(resources: &Resources) -> Vec<Finding> {
    let mut keys: Vec<(String, String)> = Vec::new();
    let mut by_key: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (idx, vs) in resources.virtual_services.iter().enumerate() {
        let spec = &vs.spec;
        if !(spec.gateways.is_empty() || spec.gateways.iter().any(|g| g == "mesh")) {
            continue;
        }
        let ns = vs.namespace();
        let scopes: Vec<String> =
            if spec.export_to.is_empty() || spec.export_to.iter().any(|e| e == ALL) {
                vec![ALL.to_owned()]
            } else {
                let mut scopes: Vec<String> = Vec::new();
                for e in &spec.export_to {
                    let scope = if e == "." { ns.to_owned() } else { e.clone() };
                    if !scopes.contains(&scope) {
                        scopes.push(scope);
                    }
                }
                scopes
            };
        for scope in &scopes {
            for h in &spec.hosts {
                let key = (scope.clone(), fqdn(ns, h));
                let list = by_key.entry(key.clone()).or_insert_with(|| {
                    keys.push(key);
                    Vec::new()
                });
                // A VirtualService that lists a host twice does not conflict with itself.
                if !list.contains(&idx) {
                    list.push(idx);
                }
            }
        }
    }

    let mut reported: HashSet<usize> = HashSet::new();
    let mut findings: Vec<(usize, Finding)> = Vec::new();
    for key in &keys {
        let (scope, h) = key;
        let mut list = by_key.get(key).cloned().unwrap_or_default();
        if scope != ALL {
            for other in keys
                .iter()
                .filter(|(s, oh)| s == ALL && host::matches(h, oh))
            {
                for &idx in by_key.get(other).into_iter().flatten() {
                    if !list.contains(&idx) {
                        list.push(idx);
                    }
                }
            }
        }
        if list.len() < 2 {
            continue;
        }
        let vss: Vec<&Resource<VirtualService>> = list
            .iter()
            .map(|&i| &resources.virtual_services[i])
            .collect();
        let mut names: Vec<String> = vss.iter().map(|vs| full_name(vs)).collect();
        names.sort();
        let names = names.join(",");
        for (&idx, vs) in list.iter().zip(&vss) {
            if !reported.insert(idx) {
                continue;
            }
            let mut sink = Sink::new(vs);
            CONFLICTING_MESH_GATEWAY_VIRTUAL_SERVICE_HOSTS.push(
                &mut sink,
                "metadata.name",
                format!(
                    "The VirtualServices {names} associated with mesh gateway define the same host {scope}/{h} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource."
                ),
            );
            findings.extend(sink.finish().into_iter().map(|f| (idx, f)));
        }
    }
    // In the order of the VirtualServices.
    findings.sort_by_key(|(idx, _)| *idx);
    findings.into_iter().map(|(_, f)| f).collect()
}
