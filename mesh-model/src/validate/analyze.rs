//! Cross-resource checks of `istioctl analyze` (`istio/istio`
//! `pkg/config/analysis/analyzers`), with Istio's codes, levels and message templates
//! (`pkg/config/analysis/msg/messages.yaml`).
//!
//! | Code | Level | Analyzer | Module |
//! |---|---|---|---|
//! | IST0101 `gateway` | Error | `virtualservice/gateways.go` | `gateways` |
//! | IST0132 | Warning | `virtualservice/gateways.go` | `gateways` |
//! | IST0165 | Warning | `virtualservice/gateways.go` | `gateways` |
//! | IST0101 `host`, `mirror host`, `host:port` | Error | `virtualservice/destinationhosts.go` | `destinations` |
//! | IST0112 | Error | `virtualservice/destinationhosts.go` | `destinations` |
//! | IST0140 | Warning | `virtualservice/destinationhosts.go` | `destinations` |
//! | IST0101 `host+subset in destinationrule`, `mirror+subset in destinationrule` | Error | `virtualservice/destinationrules.go` | `destinations` |
//! | IST0109 | Error | `virtualservice/conflictingmeshgatewayhosts.go` | `mesh_hosts` |
//! | IST0173, IST0174 | Error, Warning | `destinationrule/subset.go` | `subsets` |
//!
//! # Offline input
//!
//! `istioctl analyze` sees the whole cluster; this workspace checks files. A reference the
//! files cannot resolve may still be satisfied by the cluster, so each check runs only when
//! the input can answer it:
//!
//! - **Gateways** (IST0101 `gateway`, IST0132): only when the input holds at least one
//!   `Gateway`. A Gateway named by a VirtualService but absent from the input is then
//!   reported; IST0132 compares hosts only with Gateways that are present.
//! - **Subsets** (IST0101 `…+subset in destinationrule`): only when the input holds at
//!   least one DestinationRule for the destination's host.
//! - **Hosts** (IST0101 `host`, `mirror host`; IST0174): only when the input holds at least
//!   one Kubernetes `Service`. Hosts are then looked up among those Services and the
//!   ServiceEntries of the input.
//! - **Ports** (IST0101 `host:port`): when the destination host resolves to a Service or
//!   ServiceEntry of the input. IST0112: when it resolves to a Kubernetes Service of the
//!   input.
//! - **Pods** (IST0173): only when the input holds the Kubernetes Service of the
//!   DestinationRule's host and at least one workload that Service selects.
//!
//! IST0109 and IST0140 compare VirtualServices with each other and always run.
//!
//! Kubernetes Services are taken as exported to every namespace: the loader does not keep
//! their `networking.istio.io/exportTo` annotation.
//!
//! # Differences from Istio's analyzers
//!
//! Where Istio's analyzer compares strings that name the same thing differently, or reports
//! what the runtime does not do, this port follows the runtime:
//!
//! - Gateway names resolve as Pilot resolves them (`resolveGatewayName`: `./name` and the
//!   legacy `name.ns.svc.cluster.local` included), and gateways named in matches
//!   (`http[].match[].gateways`, also TLS and TCP) are checked for existence too.
//! - Subsets: hosts are compared after completing short names (`reviews` in namespace
//!   `bookinfo` and `reviews.bookinfo.svc.cluster.local` are one host; `example.com` is the
//!   same host from every namespace), and a DestinationRule with a wildcard host applies to
//!   the hosts it contains. `exportTo` of DestinationRules is not considered (as in Istio's
//!   analyzer): any rule for the host may define the subset.
//! - IST0140 compares completed host names, and skips VirtualServices bound only to
//!   `mesh`, which serve no ingress gateway.
//! - IST0173 selects the pods of the DestinationRule's Service (its namespace and selector)
//!   before the subset's labels; Istio's analyzer matches the subset's labels against every
//!   pod of the cluster.
//! - IST0174 accepts a wildcard host that contains a Service or ServiceEntry host.
//! - IST0109 does not count a VirtualService listing a host twice as conflicting with
//!   itself; IST0140 reports each route once per VirtualService it shadows.
//! - Route destinations without a host are left to per-resource validation.

use super::{Finding, Severity, Sink};
use crate::resource::{Resource, Resources, Spec};

mod destinations;
mod gateways;
mod mesh_hosts;
mod registry;
mod subsets;

/// Runs the analyzers over a set of resources.
pub fn analyze(resources: &Resources) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(gateways::analyze(resources));
    out.extend(destinations::analyze(resources));
    out.extend(mesh_hosts::analyze(resources));
    out.extend(subsets::analyze(resources));
    out
}

/// One `istioctl analyze` message type: code, level and template.
#[derive(Clone, Copy, Debug)]
struct MessageType {
    code: &'static str,
    severity: Severity,
}

/// IST0101: `Referenced %s not found: %q`.
const REFERENCED_RESOURCE_NOT_FOUND: MessageType = MessageType {
    code: "IST0101",
    severity: Severity::Error,
};
/// IST0109: `The VirtualServices %s associated with mesh gateway define the same host %s …`.
const CONFLICTING_MESH_GATEWAY_VIRTUAL_SERVICE_HOSTS: MessageType = MessageType {
    code: "IST0109",
    severity: Severity::Error,
};
/// IST0112: `This VirtualService routes to a service %q that exposes multiple ports %v. …`.
const VIRTUAL_SERVICE_DESTINATION_PORT_SELECTOR_REQUIRED: MessageType = MessageType {
    code: "IST0112",
    severity: Severity::Error,
};
/// IST0132: `one or more host %v defined in VirtualService %s not found in Gateway %s.`.
const VIRTUAL_SERVICE_HOST_NOT_FOUND_IN_GATEWAY: MessageType = MessageType {
    code: "IST0132",
    severity: Severity::Warning,
};
/// IST0140: `Subset in virtual service %s has no effect on ingress gateway %s requests`.
const INGRESS_ROUTE_RULES_NOT_AFFECTED: MessageType = MessageType {
    code: "IST0140",
    severity: Severity::Warning,
};
/// IST0165: `Gateway reference in VirtualService %s is to an implementation-generated
/// internal Gateway: %s.`.
const REFERENCED_INTERNAL_GATEWAY: MessageType = MessageType {
    code: "IST0165",
    severity: Severity::Warning,
};
/// IST0173: `The Subset %s defined in the DestinationRule does not select any pods. …`.
const DESTINATION_RULE_SUBSET_NOT_SELECT_PODS: MessageType = MessageType {
    code: "IST0173",
    severity: Severity::Error,
};
/// IST0174: `The host %s defined in the DestinationRule does not match any services in the
/// mesh.`.
const UNKNOWN_DESTINATION_RULE_HOST: MessageType = MessageType {
    code: "IST0174",
    severity: Severity::Warning,
};

impl MessageType {
    fn push(self, sink: &mut Sink<'_>, path: impl Into<String>, message: String) {
        sink.push(self.severity, Some(self.code), path, message);
    }
}

/// `Referenced {reftype} not found: {refval:q}`.
fn referenced_resource_not_found(reftype: &str, refval: &str) -> String {
    format!("Referenced {reftype} not found: {}", go_quote(refval))
}

/// `ns/name`, as Istio prints a resource's `FullName`.
fn full_name<S: Spec>(r: &Resource<S>) -> String {
    if r.namespace().is_empty() {
        r.name().to_owned()
    } else {
        format!("{}/{}", r.namespace(), r.name())
    }
}

/// Go's `%q` of a string (`strconv.Quote`).
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            ' ' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() || c.is_whitespace() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%v` of a slice: `[a b c]`.
pub(super) fn go_list<T: std::fmt::Display>(items: &[T]) -> String {
    let parts: Vec<String> = items.iter().map(ToString::to_string).collect();
    format!("[{}]", parts.join(" "))
}
