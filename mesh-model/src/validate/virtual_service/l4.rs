//! TLS and TCP routes (`validateTLSRoute`, `validateTLSMatch`, `validateSniHost`,
//! `validateTCPRoute`, `validateTCPMatch`).

use super::destination::validate_route_destinations;
use super::names::{
    GatewayNameIssue, go_quote, validate_gateway_names, validate_wildcard_domain_for_gateway,
};
use crate::host;
use crate::validate::{Sink, common};
use crate::virtual_service::{
    L4MatchAttributes, TcpRoute, TlsMatchAttributes, TlsRoute, VirtualService,
};

/// `validateTLSRoute`: matches with SNI hosts, and destinations.
pub(super) fn validate_tls_route(
    sink: &mut Sink<'_>,
    path: &str,
    tls: &TlsRoute,
    vs: &VirtualService,
    gateway_semantics: bool,
) {
    if tls.r#match.is_empty() {
        sink.error(path, "TLS route must have at least one match condition");
    }
    for (j, m) in tls.r#match.iter().enumerate() {
        validate_tls_match(sink, &format!("{path}.match[{j}]"), m, vs);
    }
    if tls.route.is_empty() {
        sink.error(path, "TLS route is required");
    }
    validate_route_destinations(
        sink,
        &format!("{path}.route"),
        &tls.route,
        gateway_semantics,
    );
}

fn validate_tls_match(
    sink: &mut Sink<'_>,
    path: &str,
    m: &TlsMatchAttributes,
    vs: &VirtualService,
) {
    if m.sni_hosts.is_empty() {
        sink.error(path, "TLS match must have at least one SNI host");
    } else {
        for (k, sni) in m.sni_hosts.iter().enumerate() {
            validate_sni_host(sink, &format!("{path}.sniHosts[{k}]"), sni, vs);
        }
    }
    for (k, subnet) in m.destination_subnets.iter().enumerate() {
        sink.check(
            format!("{path}.destinationSubnets[{k}]"),
            common::validate_ip_subnet(subnet),
        );
    }
    if m.port != 0 {
        sink.check(
            format!("{path}.port"),
            common::validate_port(i64::from(m.port)),
        );
    }
    super::check_source_labels(sink, path, &m.source_labels);
    // TLS matches keep the gateway-name warnings (Istio appends with AppendValidation here).
    for (g, issue) in validate_gateway_names(&m.gateways, false) {
        let p = format!("{path}.gateways[{g}]");
        match issue {
            GatewayNameIssue::Error(e) => sink.error(p, e),
            GatewayNameIssue::Warning(w) => sink.warning(p, w),
        }
    }
}

/// `validateSniHost`: a (wildcard) domain that is a subset of one of the VirtualService's
/// hosts; an IP address is accepted with a warning.
fn validate_sni_host(sink: &mut Sink<'_>, path: &str, sni: &str, vs: &VirtualService) {
    // `isGateway`: true unless `mesh` is listed, so also when no gateway is given.
    let checked = if super::is_gateway(vs) {
        validate_wildcard_domain_for_gateway(true, sni)
    } else {
        common::validate_wildcard_domain(sni)
    };
    if let Err(e) = checked {
        if common::is_ip(sni) {
            sink.warning(
                path,
                format!(
                    "using an IP address ({}) goes against SNI spec and most clients do not support this",
                    go_quote(sni)
                ),
            );
        } else {
            sink.error(path, e);
        }
        return;
    }
    if vs.hosts.iter().any(|h| host::subset_of(sni, h)) {
        return;
    }
    sink.error(
        path,
        format!(
            "SNI host {} is not a compatible subset of any of the virtual service hosts: [{}]",
            go_quote(sni),
            vs.hosts.join(", ")
        ),
    );
}

/// `validateTCPRoute`.
pub(super) fn validate_tcp_route(
    sink: &mut Sink<'_>,
    path: &str,
    tcp: &TcpRoute,
    gateway_semantics: bool,
) {
    for (j, m) in tcp.r#match.iter().enumerate() {
        validate_tcp_match(sink, &format!("{path}.match[{j}]"), m);
    }
    if tcp.route.is_empty() {
        sink.error(path, "TCP route is required");
    }
    validate_route_destinations(
        sink,
        &format!("{path}.route"),
        &tcp.route,
        gateway_semantics,
    );
}

fn validate_tcp_match(sink: &mut Sink<'_>, path: &str, m: &L4MatchAttributes) {
    for (k, subnet) in m.destination_subnets.iter().enumerate() {
        sink.check(
            format!("{path}.destinationSubnets[{k}]"),
            common::validate_ip_subnet(subnet),
        );
    }
    if m.port != 0 {
        sink.check(
            format!("{path}.port"),
            common::validate_port(i64::from(m.port)),
        );
    }
    super::check_source_labels(sink, path, &m.source_labels);
    // Appended with appendErrors in Istio: gateway-name warnings are dropped.
    for (g, issue) in validate_gateway_names(&m.gateways, false) {
        if let GatewayNameIssue::Error(e) = issue {
            sink.error(format!("{path}.gateways[{g}]"), e);
        }
    }
    // Istio does not check `sourceNamespace` or `sourceSubnet` of TCP matches.
}
