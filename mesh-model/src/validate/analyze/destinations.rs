//! Route and mirror destinations of VirtualServices: hosts, ports and subsets
//! (`virtualservice/destinationhosts.go`, `virtualservice/destinationrules.go`).

use super::registry::{Registry, Target, fqdn};
use super::{
    INGRESS_ROUTE_RULES_NOT_AFFECTED, REFERENCED_RESOURCE_NOT_FOUND,
    VIRTUAL_SERVICE_DESTINATION_PORT_SELECTOR_REQUIRED, full_name, go_list, go_quote,
    referenced_resource_not_found,
};
use crate::destination_rule::DestinationRule;
use crate::host;
use crate::resource::{Resource, Resources};
use crate::validate::{Finding, Sink};
use crate::virtual_service::{Destination, VirtualService};

/// A destination of a VirtualService and the path of the field that holds it.
#[derive(Debug)]
struct Dest<'a> {
    dest: &'a Destination,
    /// `spec.http[0].route[1].destination`, `spec.http[0].mirror`, ...
    path: String,
    /// A mirror (`mirror`, `mirrors[].destination`) rather than a route destination.
    mirror: bool,
}

/// `getRouteDestinations` and `getHTTPMirrorDestinations`: the destinations of every HTTP,
/// TLS and TCP route, then every HTTP mirror. Absent destinations are skipped (per-resource
/// validation reports them).
fn destinations(vs: &VirtualService) -> Vec<Dest<'_>> {
    let mut out = Vec::new();
    let route =
        |section: &str, i: usize, j: usize| format!("spec.{section}[{i}].route[{j}].destination");
    for (i, r) in vs.http.iter().enumerate() {
        for (j, rd) in r.route.iter().enumerate() {
            if let Some(dest) = &rd.destination {
                out.push(Dest {
                    dest,
                    path: route("http", i, j),
                    mirror: false,
                });
            }
        }
    }
    for (i, r) in vs.tls.iter().enumerate() {
        for (j, rd) in r.route.iter().enumerate() {
            if let Some(dest) = &rd.destination {
                out.push(Dest {
                    dest,
                    path: route("tls", i, j),
                    mirror: false,
                });
            }
        }
    }
    for (i, r) in vs.tcp.iter().enumerate() {
        for (j, rd) in r.route.iter().enumerate() {
            if let Some(dest) = &rd.destination {
                out.push(Dest {
                    dest,
                    path: route("tcp", i, j),
                    mirror: false,
                });
            }
        }
    }
    for (i, r) in vs.http.iter().enumerate() {
        if let Some(dest) = &r.mirror {
            out.push(Dest {
                dest,
                path: format!("spec.http[{i}].mirror"),
                mirror: true,
            });
        }
        for (j, m) in r.mirrors.iter().enumerate() {
            if let Some(dest) = &m.destination {
                out.push(Dest {
                    dest,
                    path: format!("spec.http[{i}].mirrors[{j}].destination"),
                    mirror: true,
                });
            }
        }
    }
    out
}

/// IST0101 (`host`, `mirror host`, `host:port`, `host+subset in destinationrule`,
/// `mirror+subset in destinationrule`), IST0112 and IST0140 for every VirtualService.
pub(super) fn analyze(resources: &Resources) -> Vec<Finding> {
    let registry = Registry::new(resources);
    let check_hosts = !resources.kubernetes.services.is_empty();
    let rules: Vec<(String, &Resource<DestinationRule>)> = resources
        .destination_rules
        .iter()
        .filter(|dr| !dr.spec.host.is_empty())
        .map(|dr| (fqdn(dr.namespace(), &dr.spec.host), dr))
        .collect();
    let subset_routes = subset_routes(resources);

    let mut out = Vec::new();
    for vs in &resources.virtual_services {
        let mut sink = Sink::new(vs);
        let ns = vs.namespace();
        for d in destinations(&vs.spec) {
            let h = d.dest.host.as_str();
            if h.is_empty() {
                continue;
            }
            match registry.lookup(ns, &vs.spec.export_to, h) {
                Some(target) => check_port(&mut sink, &d, target),
                None if check_hosts => REFERENCED_RESOURCE_NOT_FOUND.push(
                    &mut sink,
                    format!("{}.host", d.path),
                    referenced_resource_not_found(if d.mirror { "mirror host" } else { "host" }, h),
                ),
                None => {}
            }
            check_subset(&mut sink, &d, &fqdn(ns, h), &rules);
        }
        ingress_route_rules(&mut sink, vs, &subset_routes);
        out.extend(sink.finish());
    }
    out
}

/// `checkServiceEntryPorts`: without `port`, a Kubernetes Service with more than one port is
/// ambiguous (IST0112); with `port`, the number must be one of the target's ports (IST0101
/// `host:port`).
fn check_port(sink: &mut Sink<'_>, d: &Dest<'_>, target: Target<'_>) {
    match &d.dest.port {
        None => {
            if let Target::Service(service) = target
                && service.ports.len() > 1
            {
                let ports: Vec<u32> = service.ports.iter().map(|p| p.port).collect();
                VIRTUAL_SERVICE_DESTINATION_PORT_SELECTOR_REQUIRED.push(
                    sink,
                    d.path.clone(),
                    format!(
                        "This VirtualService routes to a service {} that exposes multiple ports {}. Specifying a port in the destination is required to disambiguate.",
                        go_quote(&d.dest.host),
                        go_list(&ports)
                    ),
                );
            }
        }
        Some(port) => {
            if !target.ports().contains(&port.number) {
                REFERENCED_RESOURCE_NOT_FOUND.push(
                    sink,
                    format!("{}.port.number", d.path),
                    referenced_resource_not_found(
                        "host:port",
                        &format!("{}:{}", d.dest.host, port.number),
                    ),
                );
            }
        }
    }
}

/// `checkDestinationSubset`: a named subset must be defined by a DestinationRule for the
/// destination's host. Checked only when the input has a DestinationRule for that host: one
/// whose host (completed with its namespace) equals the destination's, or a wildcard host
/// that contains it. Any of them defining the subset satisfies the reference.
fn check_subset(
    sink: &mut Sink<'_>,
    d: &Dest<'_>,
    host_fqdn: &str,
    rules: &[(String, &Resource<DestinationRule>)],
) {
    let subset = d.dest.subset.as_str();
    if subset.is_empty() {
        return;
    }
    let mut for_host = rules
        .iter()
        .filter(|(rule_host, _)| {
            rule_host == host_fqdn
                || (host::is_wildcard(rule_host) && host::subset_of(host_fqdn, rule_host))
        })
        .peekable();
    if for_host.peek().is_none() {
        return;
    }
    if for_host.any(|(_, dr)| dr.spec.subsets.iter().any(|s| s.name == subset)) {
        return;
    }
    let reftype = if d.mirror {
        "mirror+subset in destinationrule"
    } else {
        "host+subset in destinationrule"
    };
    REFERENCED_RESOURCE_NOT_FOUND.push(
        sink,
        format!("{}.subset", d.path),
        referenced_resource_not_found(reftype, &format!("{}+{subset}", d.dest.host)),
    );
}

/// `initVirtualServiceDestinations`: each VirtualService with an HTTP route to a subset of
/// one of its own hosts, and those hosts (completed with the VirtualService's namespace).
fn subset_routes(resources: &Resources) -> Vec<(&Resource<VirtualService>, Vec<String>)> {
    let mut out = Vec::new();
    for vs in &resources.virtual_services {
        let ns = vs.namespace();
        let own: Vec<String> = vs.spec.hosts.iter().map(|h| fqdn(ns, h)).collect();
        let mut hosts: Vec<String> = Vec::new();
        for rd in vs.spec.http.iter().flat_map(|r| &r.route) {
            let Some(dest) = &rd.destination else {
                continue;
            };
            if dest.subset.is_empty() || dest.host.is_empty() {
                continue;
            }
            let h = fqdn(ns, &dest.host);
            if own.contains(&h) && !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        if !hosts.is_empty() {
            out.push((vs, hosts));
        }
    }
    out
}

/// `analyzeSubset` (IST0140): a VirtualService bound to a gateway routes an HTTP request to
/// a host without a subset, while another VirtualService routes that host to a subset; the
/// subset routing of that VirtualService does not apply to the gateway's requests. One
/// warning per route and per such VirtualService.
fn ingress_route_rules(
    sink: &mut Sink<'_>,
    vs: &Resource<VirtualService>,
    subset_routes: &[(&Resource<VirtualService>, Vec<String>)],
) {
    // Istio checks every VirtualService with a `gateways` list; one bound only to `mesh`
    // serves no ingress gateway and is skipped here.
    if vs.spec.gateways.iter().all(|g| g == "mesh") {
        return;
    }
    let ns = vs.namespace();
    for (i, r) in vs.spec.http.iter().enumerate() {
        for (j, rd) in r.route.iter().enumerate() {
            let Some(dest) = &rd.destination else {
                continue;
            };
            if !dest.subset.is_empty() || dest.host.is_empty() {
                continue;
            }
            let h = fqdn(ns, &dest.host);
            for (other, hosts) in subset_routes {
                if hosts.contains(&h) {
                    INGRESS_ROUTE_RULES_NOT_AFFECTED.push(
                        sink,
                        format!("spec.http[{i}].route[{j}].destination"),
                        format!(
                            "Subset in virtual service {} has no effect on ingress gateway {} requests",
                            full_name(other),
                            full_name(vs)
                        ),
                    );
                }
            }
        }
    }
}
