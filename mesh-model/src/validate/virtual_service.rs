//! Istio's validation rules for `VirtualService` (`ValidateVirtualService` in
//! `pkg/config/validation/validation.go`, `validateHTTPRoute` in `virtualservice.go`,
//! `ValidateHTTPRetry` in `agent/validation.go`), with Istio's message texts.
//!
//! Every finding is an error unless Istio wraps it as a warning. The unreachable-rule
//! analysis is reported with the `istioctl analyze` codes IST0130 (warning) and IST0131
//! (info). Protobuf oneof exclusivity, which the CRD schema enforces before Istio's webhook
//! runs, is reported as errors too (see `schema`).

mod destination;
mod headers;
mod http;
mod l4;
mod names;
mod schema;
mod unreachable;

use std::collections::BTreeMap;

use self::names::{GatewayNameIssue, go_string_slice, is_jwt_claim_route, key_path};
use super::{Finding, Sink, common, validate_metadata};
use crate::host;
use crate::resource::{Kind, Resource};
use crate::virtual_service::{StringMatch, VirtualService};

/// The annotation with which Istio marks VirtualServices generated from Gateway API routes
/// (`constants.InternalRouteSemantics`); `gateway` relaxes gateway-name and destination checks.
const ROUTE_SEMANTICS_ANNOTATION: &str = "internal.istio.io/route-semantics";

/// The name of the implicit gateway of all sidecars.
const MESH_GATEWAY: &str = "mesh";

/// Validates one VirtualService.
pub(super) fn validate(r: &Resource<VirtualService>) -> Vec<Finding> {
    let mut sink = Sink::new(r);
    validate_metadata(&mut sink, Kind::VirtualService, r.name());
    let gateway_semantics = r
        .metadata
        .annotations
        .get(ROUTE_SEMANTICS_ANNOTATION)
        .is_some_and(|v| v == "gateway");
    validate_spec(&mut sink, &r.spec, gateway_semantics);
    validate_rollout(&mut sink, r);
    sink.finish()
}

/// The `mesh-route.dev/rollout` annotation (beyond Istio): its YAML, then its destinations
/// against the routes.
fn validate_rollout(sink: &mut Sink<'_>, r: &Resource<VirtualService>) {
    use crate::rollout::{ROLLOUT_ANNOTATION, annotation_path, parse};
    let Some(text) = r.metadata.annotations.get(ROLLOUT_ANNOTATION) else {
        return;
    };
    if r.spec.hosts.is_empty() {
        sink.error(
            annotation_path(""),
            "a rollout on a delegate VirtualService is not executed; annotate the root VirtualService that delegates to it",
        );
        return;
    }
    match parse(text) {
        Err(errors) => {
            for e in errors {
                sink.error(e.resource_path(), e.message);
            }
        }
        Ok(rollout) => {
            let ns = sink.namespace().to_owned();
            for (path, message) in rollout.check_routes(&r.spec, &ns) {
                sink.error(path, message);
            }
        }
    }
}

/// `isGateway`: the VirtualService does not list `mesh`. True as well when it lists no gateway
/// at all: `validate_spec` checks for an empty list first, `validateSniHost` does not (as in
/// Istio).
fn is_gateway(vs: &VirtualService) -> bool {
    !vs.gateways.iter().any(|g| g == MESH_GATEWAY)
}

/// `isSniHost`: some TLS match names SNI hosts.
fn is_sni_host(vs: &VirtualService) -> bool {
    vs.tls
        .iter()
        .flat_map(|t| &t.r#match)
        .any(|m| !m.sni_hosts.is_empty())
}

/// `ValidateVirtualService`.
fn validate_spec(sink: &mut Sink<'_>, vs: &VirtualService, gateway_semantics: bool) {
    let delegate = vs.hosts.is_empty();
    if delegate {
        // A VirtualService without hosts can only be a delegate: HTTP routes only.
        if !vs.gateways.is_empty() {
            sink.error(
                "spec.gateways",
                "delegate virtual service must have no gateways specified",
            );
        }
        if !vs.tls.is_empty() {
            sink.error(
                "spec.tls",
                "delegate virtual service must have no tls route specified",
            );
        }
        if !vs.tcp.is_empty() {
            sink.error(
                "spec.tcp",
                "delegate virtual service must have no tcp route specified",
            );
        }
    }

    let (applies_to_mesh, applies_to_gateway) = if vs.gateways.is_empty() {
        (true, false)
    } else {
        for (i, issue) in names::validate_gateway_names(&vs.gateways, gateway_semantics) {
            let p = format!("spec.gateways[{i}]");
            match issue {
                GatewayNameIssue::Error(e) => sink.error(p, e),
                GatewayNameIssue::Warning(w) => sink.warning(p, w),
            }
        }
        let gw = is_gateway(vs);
        (!gw, gw)
    };

    if !applies_to_gateway {
        // JWT claims are only available at gateways (a RequestAuthentication there).
        for (i, http) in vs.http.iter().enumerate() {
            for (j, m) in http.r#match.iter().enumerate() {
                for (field, map) in [
                    ("headers", &m.headers),
                    ("withoutHeaders", &m.without_headers),
                ] {
                    check_jwt_claim_keys(
                        sink,
                        &format!("spec.http[{i}].match[{j}].{field}"),
                        map,
                        &vs.gateways,
                    );
                }
            }
        }
    }

    let mut all_hosts_valid = true;
    for (i, h) in vs.hosts.iter().enumerate() {
        let checked = if applies_to_gateway {
            names::validate_wildcard_domain_for_gateway(is_sni_host(vs), h)
        } else {
            common::validate_wildcard_domain(h)
        };
        match checked {
            Err(e) => {
                // IP addresses are accepted as hosts.
                if !common::is_ip(h) {
                    sink.error(format!("spec.hosts[{i}]"), e);
                    all_hosts_valid = false;
                }
            }
            Ok(()) if applies_to_mesh && h == "*" => {
                sink.error(
                    format!("spec.hosts[{i}]"),
                    "wildcard host * is not allowed for virtual services bound to the mesh gateway",
                );
                all_hosts_valid = false;
            }
            Ok(()) => {}
        }
    }

    // Duplicates include overlapping wildcards: `*.foo.com` and `a.foo.com` in one VS.
    if all_hosts_valid {
        for (i, a) in vs.hosts.iter().enumerate() {
            for (j, b) in vs.hosts.iter().enumerate().skip(i + 1) {
                if host::matches(a, b) {
                    sink.error(
                        format!("spec.hosts[{j}]"),
                        format!("duplicate hosts in virtual service: {a} & {b}"),
                    );
                }
            }
        }
    }

    if vs.http.is_empty() && vs.tcp.is_empty() && vs.tls.is_empty() {
        sink.error(
            "spec",
            "http, tcp or tls must be provided in virtual service",
        );
    }
    for (i, route) in vs.http.iter().enumerate() {
        http::validate_http_route(
            sink,
            &format!("spec.http[{i}]"),
            route,
            delegate,
            gateway_semantics,
        );
    }
    for (i, route) in vs.tls.iter().enumerate() {
        l4::validate_tls_route(
            sink,
            &format!("spec.tls[{i}]"),
            route,
            vs,
            gateway_semantics,
        );
    }
    for (i, route) in vs.tcp.iter().enumerate() {
        l4::validate_tcp_route(sink, &format!("spec.tcp[{i}]"), route, gateway_semantics);
    }

    let ns = sink.namespace().to_owned();
    sink.check_all(
        "spec.exportTo",
        common::validate_export_to(&ns, &vs.export_to, false, false),
    );

    unreachable::analyze_http(sink, &vs.http);
    unreachable::analyze_l4(sink, "tcp", &vs.tcp, |r| &r.r#match);
    unreachable::analyze_l4(sink, "tls", &vs.tls, |r| &r.r#match);
}

/// Header keys of the `@request.auth.claims` form, on a VirtualService that applies to
/// sidecars.
fn check_jwt_claim_keys(
    sink: &mut Sink<'_>,
    base: &str,
    map: &crate::vec_map::VecMap<String, StringMatch>,
    gateways: &[String],
) {
    for key in map.keys() {
        if is_jwt_claim_route(key) {
            sink.error(
                key_path(base, key),
                format!(
                    "JWT claim based routing (key: {key}) is only supported for gateway, found no gateways: {}",
                    go_string_slice(gateways)
                ),
            );
        }
    }
}

/// `labels.Instance.Validate` on `sourceLabels`, one finding per bad entry at its key.
fn check_source_labels(sink: &mut Sink<'_>, match_path: &str, labels: &BTreeMap<String, String>) {
    let base = format!("{match_path}.sourceLabels");
    for (k, v) in labels {
        sink.check_all(&key_path(&base, k), common::validate_labels([(k, v)]));
    }
}
