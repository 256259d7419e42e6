//! Istio's validation rules for `ServiceEntry` (`ValidateServiceEntry` and
//! `validateWorkloadEntry` in `pkg/config/validation/validation.go`), plus the CRD's CEL rules
//! that the API server enforces first (`hostname cannot be wildcard`,
//! `port number cannot be duplicated`, `port must be between 1-65535`).

use std::collections::{BTreeMap, HashSet};

use super::common::{self, Protocol, UNIX_ADDRESS_PREFIX};
use super::{Finding, Sink, validate_metadata};
use crate::resource::{Kind, Resource};
use crate::service_entry::{Location, Resolution, ServiceEntry, WorkloadEntry};

/// The label with which a ServiceEntry opts out of IP auto-allocation.
const ENABLE_AUTOALLOCATE_IP_LABEL: &str = "networking.istio.io/enable-autoallocate-ip";
/// The label that puts a ServiceEntry behind a waypoint.
const USE_WAYPOINT_LABEL: &str = "istio.io/use-waypoint";

/// Validates one ServiceEntry.
pub(super) fn validate(r: &Resource<ServiceEntry>) -> Vec<Finding> {
    let mut sink = Sink::new(r);
    validate_metadata(&mut sink, Kind::ServiceEntry, r.name());
    validate_spec(&mut sink, r);
    sink.finish()
}

fn validate_spec(sink: &mut Sink<'_>, r: &Resource<ServiceEntry>) {
    let se = &r.spec;
    let labels = &r.metadata.labels;

    // `ValidateAlphaWorkloadSelector`: an error here ends the validation.
    if let Some(selector) = &se.workload_selector {
        let mut failed = false;
        for (k, v) in &selector.labels {
            let errs = common::validate_selector_label(k, v);
            failed |= !errs.is_empty();
            sink.check_all(&format!("spec.workloadSelector.labels.{k}"), errs);
        }
        if failed {
            return;
        }
        if selector.labels.is_empty() {
            sink.warning(
                "spec.workloadSelector",
                "service entry: workload selector specified without labels, will be applied to all services in namespace",
            );
        }
        if !se.endpoints.is_empty() {
            sink.error(
                "spec.endpoints",
                "only one of WorkloadSelector or Endpoints is allowed in Service Entry",
            );
        }
    }

    if se.hosts.is_empty() {
        sink.error("spec.hosts", "service entry must have at least one host");
    }
    for (i, host) in se.hosts.iter().enumerate() {
        let path = format!("spec.hosts[{i}]");
        if host == "*" {
            // The CRD's CEL rule and Istio's Go check both reject it.
            sink.error(path.clone(), "hostname cannot be wildcard");
            sink.error(path, format!("invalid host {host}"));
            continue;
        }
        sink.check(path.clone(), common::validate_wildcard_domain(host));
        if se.resolution != Resolution::DynamicDns
            && let Err(e) = common::validate_partial_wildcard(host)
        {
            sink.warning(path, e);
        }
    }

    let mut cidr_found = false;
    for (i, address) in se.addresses.iter().enumerate() {
        cidr_found |= address.contains('/');
        sink.check(
            format!("spec.addresses[{i}]"),
            common::validate_ip_subnet(address),
        );
    }
    if cidr_found && !matches!(se.resolution, Resolution::None | Resolution::Static) {
        // Also a CEL rule of the CRD, with the same message.
        sink.error(
            "spec.addresses",
            "CIDR addresses are allowed only for NONE/STATIC resolution types",
        );
    }

    // IP auto-allocation (on by default in istiod) gives the entry an address unless the
    // resolution is NONE, the entry opts out by label, or it has addresses of its own.
    let auto_allocation = se.resolution != Resolution::None
        && !labels
            .get(ENABLE_AUTOALLOCATE_IP_LABEL)
            .is_some_and(|v| v.eq_ignore_ascii_case("false"))
        && se.addresses.is_empty();
    let mut port_names: HashSet<&str> = HashSet::new();
    let mut port_numbers = HashSet::new();
    let mut duplicated_number = false;
    for (i, port) in se.ports.iter().enumerate() {
        let path = format!("spec.ports[{i}]");
        if !port_names.insert(port.name.as_str()) {
            sink.error(
                format!("{path}.name"),
                format!("service entry port name {:?} already defined", port.name),
            );
        }
        if !port_numbers.insert(port.number) {
            duplicated_number = true;
            sink.error(
                format!("{path}.number"),
                format!("service entry port {} already defined", port.number),
            );
        }
        if port.target_port != 0 {
            let p = format!("{path}.targetPort");
            if port.target_port > 65535 {
                sink.error(p.clone(), "port must be between 1-65535");
            }
            sink.check(p, common::validate_port(i64::from(port.target_port)));
        }
        if se.addresses.is_empty()
            && !auto_allocation
            && (port.protocol.is_empty() || port.protocol == "TCP")
        {
            sink.warning(
                path.clone(),
                "addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled",
            );
        }
        sink.check(
            format!("{path}.name"),
            common::validate_port_name(&port.name),
        );
        sink.check(
            format!("{path}.protocol"),
            common::validate_protocol(&port.protocol),
        );
        if port.number == 0 || port.number > 65535 {
            sink.error(format!("{path}.number"), "port must be between 1-65535");
        }
        sink.check(
            format!("{path}.number"),
            common::validate_port(i64::from(port.number)),
        );
    }
    if duplicated_number {
        sink.error("spec.ports", "port number cannot be duplicated");
    }

    match se.resolution {
        Resolution::None => {
            if !se.endpoints.is_empty() {
                sink.error(
                    "spec.endpoints",
                    "no endpoints should be provided for resolution type none",
                );
            }
            if se.workload_selector.is_some() {
                sink.warning(
                    "spec.workloadSelector",
                    "workloadSelector should not be set when resolution mode is NONE",
                );
            }
        }
        Resolution::Static => {
            for (i, ep) in se.endpoints.iter().enumerate() {
                validate_static_endpoint(sink, &format!("spec.endpoints[{i}]"), ep, &port_names);
            }
        }
        Resolution::Dns | Resolution::DnsRoundRobin => {
            validate_dns(sink, se, &port_names);
        }
        Resolution::DynamicDns => validate_dynamic_dns(sink, se, labels),
    }

    // Plain TCP cannot tell hosts apart, so several hosts need HTTP or TLS ports unless the
    // hosts are ignored (resolution NONE).
    if se.resolution != Resolution::None
        && se.hosts.len() > 1
        && let Some(i) = se.ports.iter().position(|p| {
            let p = Protocol::parse(&p.protocol);
            !p.is_http() && !p.is_tls()
        })
    {
        sink.error(
            format!("spec.ports[{i}].protocol"),
            "multiple hosts provided with non-HTTP, non-TLS ports",
        );
    }

    let errs = common::validate_export_to(sink.namespace(), &se.export_to, true, false);
    sink.check_all("spec.exportTo", errs);
    // `subjectAltNames` is not validated by Istio.
}

/// The DNS and DNS_ROUND_ROBIN rules.
fn validate_dns(sink: &mut Sink<'_>, se: &ServiceEntry, port_names: &HashSet<&str>) {
    let mode = se.resolution;
    if se.endpoints.is_empty() {
        // Only the first offending host is reported.
        for (i, host) in se.hosts.iter().enumerate() {
            if let Err(e) = common::validate_fqdn(host) {
                sink.error(
                    format!("spec.hosts[{i}]"),
                    format!(
                        "hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode {mode}, {e}"
                    ),
                );
                break;
            }
        }
    }
    if mode == Resolution::DnsRoundRobin && se.endpoints.len() > 1 {
        sink.error(
            "spec.endpoints",
            format!("there must only be 0 or 1 endpoint for resolution mode {mode}"),
        );
    }
    for (i, ep) in se.endpoints.iter().enumerate() {
        let path = format!("spec.endpoints[{i}]");
        if !common::is_ip(&ep.address) && common::validate_fqdn(&ep.address).is_err() {
            sink.error(
                format!("{path}.address"),
                format!(
                    "endpoint address {:?} is not a valid FQDN or an IP address",
                    ep.address
                ),
            );
        }
        validate_endpoint_labels(sink, &path, ep);
        validate_endpoint_ports(sink, &path, ep, port_names);
    }
    if !se.addresses.is_empty() {
        // Only the first TCP port matters.
        if se
            .ports
            .iter()
            .any(|p| Protocol::parse(&p.protocol).is_tcp())
            && se.hosts.len() > 1
        {
            sink.warning(
                "spec.hosts",
                "service entry can not have more than one host specified simultaneously with address and tcp port",
            );
        }
    }
}

/// The DYNAMIC_DNS rules: wildcard hosts, no addresses, no endpoints, HTTP/TLS/GRPC/HTTP2.
fn validate_dynamic_dns(sink: &mut Sink<'_>, se: &ServiceEntry, labels: &BTreeMap<String, String>) {
    let mode = se.resolution;
    if se.hosts.is_empty() {
        sink.error(
            "spec.hosts",
            format!("at least one wildcard host must be provided for resolution type {mode}"),
        );
    }
    for (i, host) in se.hosts.iter().enumerate() {
        if !host.starts_with('*') {
            sink.error(
                format!("spec.hosts[{i}]"),
                format!("host must be wildcarded for resolution mode {mode}"),
            );
        }
    }
    // Istio's messages lack a space between "generated" and "from", and "hosts" and "field".
    if !se.addresses.is_empty() {
        sink.error(
            "spec.addresses",
            format!(
                "addresses cannot be set for resolution type {mode}. HTTP route domains will only be generatedfrom the hosts field values"
            ),
        );
    }
    if !se.endpoints.is_empty() {
        sink.error(
            "spec.endpoints",
            format!(
                "endpoints cannot be set for resolution type {mode}. Destination IP address determined from hostsfield values"
            ),
        );
    }
    for (i, port) in se.ports.iter().enumerate() {
        let p = Protocol::parse(&port.protocol);
        if !matches!(
            p,
            Protocol::Http | Protocol::Tls | Protocol::Grpc | Protocol::Http2
        ) {
            sink.error(
                format!("spec.ports[{i}].protocol"),
                format!(
                    "only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type {mode}"
                ),
            );
        }
    }
    // "location must be MESH_EXTERNAL or MESH_INTERNAL" cannot fail: the model's `Location`
    // has no other value.
    let uses_waypoint = labels
        .get(USE_WAYPOINT_LABEL)
        .is_some_and(|v| !v.is_empty() && !v.eq_ignore_ascii_case("none"));
    if se.location == Location::MeshInternal && uses_waypoint {
        sink.error(
            "spec.location",
            format!(
                "location MESH_INTERNAL with resolution type {mode} is not supported when using waypoints"
            ),
        );
    }
}

/// `validateWorkloadEntry(endpoint, servicePorts, false)`, for STATIC resolution.
fn validate_static_endpoint(
    sink: &mut Sink<'_>,
    path: &str,
    ep: &WorkloadEntry,
    port_names: &HashSet<&str>,
) {
    let addr = ep.address.as_str();
    if addr.is_empty() {
        if ep.network.is_empty() {
            sink.error(format!("{path}.address"), "address is required");
            return;
        }
        sink.warning(
            format!("{path}.address"),
            format!("address is unset with network {:?}", ep.network),
        );
    }
    let mut unix_endpoint = false;
    if let Some(socket) = addr.strip_prefix(UNIX_ADDRESS_PREFIX) {
        unix_endpoint = true;
        sink.check(
            format!("{path}.address"),
            common::validate_unix_address(socket),
        );
        if !ep.ports.is_empty() {
            sink.error(
                format!("{path}.ports"),
                format!("unix endpoint {addr} must not include ports"),
            );
        }
    } else if !addr.is_empty() && !common::is_ip(addr) {
        sink.error(
            format!("{path}.address"),
            format!("endpoint address {addr:?} is not a valid IP address"),
        );
    }
    validate_endpoint_ports(sink, path, ep, port_names);
    validate_endpoint_labels(sink, path, ep);
    if unix_endpoint && port_names.len() != 1 {
        sink.error(
            format!("{path}.address"),
            "exactly 1 service port required for unix endpoints",
        );
    }
}

/// An endpoint's named ports: each must name a port of the entry, be a valid port name, and
/// a valid port number.
fn validate_endpoint_ports(
    sink: &mut Sink<'_>,
    path: &str,
    ep: &WorkloadEntry,
    port_names: &HashSet<&str>,
) {
    for (name, port) in &ep.ports {
        let p = format!("{path}.ports.{name}");
        if !port_names.contains(name.as_str()) {
            sink.error(
                p.clone(),
                format!("endpoint port {port} is not defined by the service entry"),
            );
        }
        sink.check(p.clone(), common::validate_port_name(name));
        // The CRD's CEL rule and Istio's Go check both reject it.
        if *port == 0 || *port > 65535 {
            sink.error(p.clone(), "port must be between 1-65535");
        }
        sink.check(p, common::validate_port(i64::from(*port)));
    }
}

fn validate_endpoint_labels(sink: &mut Sink<'_>, path: &str, ep: &WorkloadEntry) {
    for (k, v) in &ep.labels {
        let errs = common::validate_labels([(k, v)]);
        sink.check_all(&format!("{path}.labels.{k}"), errs);
    }
}
