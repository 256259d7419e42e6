//! Destinations and their weights (`validateHTTPRouteDestinations`,
//! `validateRouteDestinations`, `validateDestination`).

use super::headers::validate_header_operations;
use crate::validate::{Sink, common};
use crate::virtual_service::{Destination, HttpRouteDestination, RouteDestination};

/// `validateDestination`: host (not `*`, a wildcard domain), subset name, port.
pub(super) fn validate_destination(sink: &mut Sink<'_>, path: &str, d: &Destination) {
    if d.host == "*" {
        sink.error(
            format!("{path}.host"),
            format!("invalid destination host {}", d.host),
        );
    } else {
        sink.check(
            format!("{path}.host"),
            common::validate_wildcard_domain(&d.host),
        );
    }
    if !d.subset.is_empty() {
        sink.check(format!("{path}.subset"), validate_subset_name(&d.subset));
    }
    if let Some(port) = &d.port {
        sink.check(
            format!("{path}.port.number"),
            common::validate_port(i64::from(port.number)),
        );
    }
}

/// `validateSubsetName`: a DNS-1123 label. Istio's label pattern (`labels.IsDNS1123Label`)
/// admits upper case, so `V1` passes; SPEC.md §4.1 says otherwise, the Go code wins.
fn validate_subset_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("subset name cannot be empty".into());
    }
    if !common::is_dns1123_label(name) {
        return Err(format!("subset name is invalid: {name}"));
    }
    Ok(())
}

/// `validateWeight`.
fn check_weight(sink: &mut Sink<'_>, path: &str, weight: i32) {
    if weight < 0 {
        sink.error(format!("{path}.weight"), format!("weight {weight} < 0"));
    }
}

/// `validateHTTPRouteDestinations`: each destination present and valid, header operations,
/// non-negative weights, and a non-zero total when there is more than one destination.
/// Weights are relative: there is no upper bound and no sum-to-100 rule.
pub(super) fn validate_http_route_destinations(
    sink: &mut Sink<'_>,
    path: &str,
    routes: &[HttpRouteDestination],
    gateway_semantics: bool,
) {
    // Go sums in an int32, which wraps.
    let mut total: i32 = 0;
    for (i, rd) in routes.iter().enumerate() {
        let here = format!("{path}[{i}]");
        if rd.destination.is_none() {
            sink.error(here.clone(), "destination is required");
        }
        if let Some(h) = &rd.headers {
            validate_header_operations(sink, &format!("{here}.headers"), h);
        }
        if !gateway_semantics && let Some(d) = &rd.destination {
            validate_destination(sink, &format!("{here}.destination"), d);
        }
        check_weight(sink, &here, rd.weight);
        total = total.wrapping_add(rd.weight);
    }
    if routes.len() > 1 && total == 0 {
        sink.error(path, "total destination weight = 0");
    }
}

/// `validateRouteDestinations` (TLS and TCP routes).
pub(super) fn validate_route_destinations(
    sink: &mut Sink<'_>,
    path: &str,
    routes: &[RouteDestination],
    gateway_semantics: bool,
) {
    let mut total: i32 = 0;
    for (i, rd) in routes.iter().enumerate() {
        let here = format!("{path}[{i}]");
        if rd.destination.is_none() {
            sink.error(here.clone(), "destination is required");
        }
        if !gateway_semantics && let Some(d) = &rd.destination {
            validate_destination(sink, &format!("{here}.destination"), d);
        }
        check_weight(sink, &here, rd.weight);
        total = total.wrapping_add(rd.weight);
    }
    if routes.len() > 1 && total == 0 {
        sink.error(path, "total destination weight = 0");
    }
}
