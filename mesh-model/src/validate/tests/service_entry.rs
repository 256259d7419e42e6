//! ServiceEntry: one test per rule of `ValidateServiceEntry` (and the CRD's CEL rules), each
//! with Istio's exact message at the field it concerns.

use super::support::{assert_finding, assert_no_errors, findings};
use crate::validate::Severity::{Error, Warning};

/// A ServiceEntry `default/se` with `spec` (YAML without base indentation).
fn se(spec: &str) -> String {
    se_with_meta("{name: se, namespace: default}", spec)
}

fn se_with_meta(metadata: &str, spec: &str) -> String {
    let body: String = spec.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {metadata}\nspec:\n{body}"
    )
}

/// Asserts that validation reports neither an error nor a warning (analyzer findings aside).
#[track_caller]
fn assert_clean(yaml: &str) {
    let all: Vec<_> = findings(yaml)
        .into_iter()
        .filter(|f| f.code.is_none())
        .collect();
    assert!(all.is_empty(), "unexpected findings: {all:#?}");
}

/// Asserts that no finding (of any severity) has `message`.
#[track_caller]
fn assert_no_message(yaml: &str, message: &str) {
    let all = findings(yaml);
    assert!(
        !all.iter().any(|f| f.message == message),
        "unexpected {message:?} in {all:#?}"
    );
}

const HTTP_PORT: &str = "ports: [{number: 80, name: http, protocol: HTTP}]";

// ---- hosts ------------------------------------------------------------------------------

/// A service entry has at least one host.
#[test]
fn needs_a_host() {
    assert_finding(
        &se(HTTP_PORT),
        Error,
        "spec.hosts",
        "service entry must have at least one host",
    );
}

/// The host `*` is rejected, by the CRD and by Istio.
#[test]
fn host_is_not_a_full_wildcard() {
    let yaml = se(&format!("hosts: [\"*\"]\n{HTTP_PORT}"));
    assert_finding(&yaml, Error, "spec.hosts[0]", "hostname cannot be wildcard");
    assert_finding(&yaml, Error, "spec.hosts[0]", "invalid host *");
}

/// Hosts are domains with a wildcard only as their whole first label.
#[test]
fn host_is_a_wildcard_domain() {
    assert_finding(
        &se(&format!("hosts: [\"foo.*.com\"]\n{HTTP_PORT}")),
        Error,
        "spec.hosts[0]",
        "domain name \"*.com\" invalid (label \"*\" invalid)",
    );
}

/// Partial wildcards (`*foo.com`) are accepted with a warning, except for DYNAMIC_DNS.
#[test]
fn partial_wildcard_host_warns() {
    let yaml = se(&format!("hosts: [\"*foo.com\"]\n{HTTP_PORT}"));
    assert_no_errors(&yaml);
    assert_finding(
        &yaml,
        Warning,
        "spec.hosts[0]",
        "partial wildcard \"*foo.com\" not allowed",
    );
    assert_no_message(
        &se(&format!(
            "hosts: [\"*foo.com\"]\n{HTTP_PORT}\nresolution: DYNAMIC_DNS"
        )),
        "partial wildcard \"*foo.com\" not allowed",
    );
}

// ---- addresses --------------------------------------------------------------------------

/// Addresses are IP addresses or CIDR blocks.
#[test]
fn addresses_are_ips_or_cidrs() {
    assert_finding(
        &se(&format!(
            "hosts: [db.example.com]\naddresses: [\"10.0.0.300\"]\n{HTTP_PORT}"
        )),
        Error,
        "spec.addresses[0]",
        "10.0.0.300 is not a valid IP",
    );
    assert_finding(
        &se(&format!(
            "hosts: [db.example.com]\naddresses: [\"10.0.0.0/33\"]\n{HTTP_PORT}"
        )),
        Error,
        "spec.addresses[0]",
        "10.0.0.0/33 is not a valid CIDR block",
    );
}

/// CIDR addresses need NONE or STATIC resolution.
#[test]
fn cidr_only_for_none_or_static() {
    assert_finding(
        &se(&format!(
            "hosts: [db.example.com]\naddresses: [\"10.0.0.0/24\"]\n{HTTP_PORT}\nresolution: DNS"
        )),
        Error,
        "spec.addresses",
        "CIDR addresses are allowed only for NONE/STATIC resolution types",
    );
}

// ---- ports ------------------------------------------------------------------------------

/// Port names are unique.
#[test]
fn port_names_are_unique() {
    assert_finding(
        &se(
            "hosts: [example.com]\nports: [{number: 80, name: http, protocol: HTTP}, {number: 81, name: http, protocol: HTTP}]",
        ),
        Error,
        "spec.ports[1].name",
        "service entry port name \"http\" already defined",
    );
}

/// Port numbers are unique (rejected by the CRD and by Istio).
#[test]
fn port_numbers_are_unique() {
    let yaml = se(
        "hosts: [example.com]\nports: [{number: 80, name: http, protocol: HTTP}, {number: 80, name: http2, protocol: HTTP}]",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.ports[1].number",
        "service entry port 80 already defined",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.ports",
        "port number cannot be duplicated",
    );
}

/// Port names are DNS labels.
#[test]
fn port_names_are_dns_labels() {
    assert_finding(
        &se("hosts: [example.com]\nports: [{number: 80, name: http_web, protocol: HTTP}]"),
        Error,
        "spec.ports[0].name",
        "invalid port name: http_web",
    );
}

/// Port protocols are ones Istio knows (or empty, for sniffing).
#[test]
fn port_protocol_is_known() {
    assert_finding(
        &se("hosts: [example.com]\nports: [{number: 80, name: kafka, protocol: KAFKA}]"),
        Error,
        "spec.ports[0].protocol",
        "unsupported protocol: KAFKA",
    );
}

/// Port numbers are in 1..65535 (rejected by the CRD and by Istio).
#[test]
fn port_number_is_valid() {
    let yaml = se("hosts: [example.com]\nports: [{number: 0, name: http, protocol: HTTP}]");
    assert_finding(
        &yaml,
        Error,
        "spec.ports[0].number",
        "port must be between 1-65535",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.ports[0].number",
        "port number 0 must be in the range 1..65535",
    );
}

/// Target ports are in 1..65535 (rejected by the CRD and by Istio).
#[test]
fn target_port_is_valid() {
    let yaml = se(
        "hosts: [example.com]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: 70000}]",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.ports[0].targetPort",
        "port must be between 1-65535",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.ports[0].targetPort",
        "port number 70000 must be in the range 1..65535",
    );
}

/// TCP ports need addresses unless Istio allocates one (it does unless the resolution is
/// NONE or the entry opts out): a warning.
#[test]
fn tcp_ports_want_addresses() {
    let message = "addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled";
    let yaml = se("hosts: [db.example.com]\nports: [{number: 5432, name: pg, protocol: TCP}]");
    assert_no_errors(&yaml);
    assert_finding(&yaml, Warning, "spec.ports[0]", message);
    // Unset protocol counts as TCP.
    assert_finding(
        &se("hosts: [db.example.com]\nports: [{number: 5432, name: pg}]"),
        Warning,
        "spec.ports[0]",
        message,
    );
    // DNS resolution: an address is auto-allocated.
    assert_no_message(
        &se(
            "hosts: [db.example.com]\nports: [{number: 5432, name: pg, protocol: TCP}]\nresolution: DNS",
        ),
        message,
    );
    // ... unless the entry opts out.
    assert_finding(
        &se_with_meta(
            "{name: se, namespace: default, labels: {networking.istio.io/enable-autoallocate-ip: \"False\"}}",
            "hosts: [db.example.com]\nports: [{number: 5432, name: pg, protocol: TCP}]\nresolution: DNS",
        ),
        Warning,
        "spec.ports[0]",
        message,
    );
}

/// Several hosts need HTTP or TLS ports (plain TCP cannot tell them apart), unless the
/// resolution is NONE.
#[test]
fn multiple_hosts_need_http_or_tls() {
    assert_finding(
        &se(
            "hosts: [a.example.com, b.example.com]\nports: [{number: 80, name: http, protocol: HTTP}, {number: 5432, name: pg, protocol: TCP}]\nresolution: DNS",
        ),
        Error,
        "spec.ports[1].protocol",
        "multiple hosts provided with non-HTTP, non-TLS ports",
    );
    assert_no_errors(&se(
        "hosts: [a.example.com, b.example.com]\naddresses: [10.0.0.1]\nports: [{number: 5432, name: pg, protocol: TCP}]",
    ));
}

// ---- resolution NONE --------------------------------------------------------------------

/// Resolution NONE takes no endpoints.
#[test]
fn none_takes_no_endpoints() {
    assert_finding(
        &se(&format!(
            "hosts: [example.com]\n{HTTP_PORT}\nendpoints: [{{address: 1.1.1.1}}]"
        )),
        Error,
        "spec.endpoints",
        "no endpoints should be provided for resolution type none",
    );
}

/// Resolution NONE ignores a workload selector (a warning).
#[test]
fn none_ignores_workload_selector() {
    let yaml = se(&format!(
        "hosts: [example.com]\n{HTTP_PORT}\nworkloadSelector: {{labels: {{app: db}}}}"
    ));
    assert_no_errors(&yaml);
    assert_finding(
        &yaml,
        Warning,
        "spec.workloadSelector",
        "workloadSelector should not be set when resolution mode is NONE",
    );
}

// ---- resolution STATIC ------------------------------------------------------------------

fn static_se(endpoints: &str) -> String {
    se(&format!(
        "hosts: [db.example.com]\n{HTTP_PORT}\nresolution: STATIC\nendpoints: {endpoints}"
    ))
}

/// STATIC endpoints have an address (or at least a network).
#[test]
fn static_endpoint_needs_address() {
    assert_finding(
        &static_se("[{labels: {app: db}}]"),
        Error,
        "spec.endpoints[0].address",
        "address is required",
    );
    let yaml = static_se("[{network: net2}]");
    assert_no_errors(&yaml);
    assert_finding(
        &yaml,
        Warning,
        "spec.endpoints[0].address",
        "address is unset with network \"net2\"",
    );
}

/// STATIC endpoint addresses are IP addresses.
#[test]
fn static_endpoint_address_is_an_ip() {
    assert_finding(
        &static_se("[{address: db.example.com}]"),
        Error,
        "spec.endpoints[0].address",
        "endpoint address \"db.example.com\" is not a valid IP address",
    );
}

/// Unix socket endpoints are absolute paths or abstract sockets.
#[test]
fn unix_endpoint_is_absolute() {
    assert_finding(
        &static_se("[{address: \"unix://sock\"}]"),
        Error,
        "spec.endpoints[0].address",
        "sock is not an absolute path to a file",
    );
    assert_clean(&static_se("[{address: \"unix:///var/run/db.sock\"}]"));
}

/// Unix socket endpoints have no ports.
#[test]
fn unix_endpoint_has_no_ports() {
    assert_finding(
        &static_se("[{address: \"unix:///var/run/db.sock\", ports: {http: 80}}]"),
        Error,
        "spec.endpoints[0].ports",
        "unix endpoint unix:///var/run/db.sock must not include ports",
    );
}

/// Unix socket endpoints need exactly one service port.
#[test]
fn unix_endpoint_needs_one_service_port() {
    assert_finding(
        &se(
            "hosts: [db.example.com]\nports: [{number: 80, name: http, protocol: HTTP}, {number: 81, name: http2, protocol: HTTP}]\nresolution: STATIC\nendpoints: [{address: \"unix://@db\"}]",
        ),
        Error,
        "spec.endpoints[0].address",
        "exactly 1 service port required for unix endpoints",
    );
}

/// Endpoint ports name ports of the entry.
#[test]
fn endpoint_ports_are_defined() {
    assert_finding(
        &static_se("[{address: 10.0.0.1, ports: {grpc: 9090}}]"),
        Error,
        "spec.endpoints[0].ports.grpc",
        "endpoint port 9090 is not defined by the service entry",
    );
}

/// Endpoint port numbers are in 1..65535 (rejected by the CRD and by Istio).
#[test]
fn endpoint_port_numbers_are_valid() {
    let yaml = static_se("[{address: 10.0.0.1, ports: {http: 0}}]");
    assert_finding(
        &yaml,
        Error,
        "spec.endpoints[0].ports.http",
        "port must be between 1-65535",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.endpoints[0].ports.http",
        "port number 0 must be in the range 1..65535",
    );
}

/// Endpoint labels are valid labels.
#[test]
fn endpoint_labels_are_valid() {
    assert_finding(
        &static_se("[{address: 10.0.0.1, labels: {version: \"v1!\"}}]"),
        Error,
        "spec.endpoints[0].labels.version",
        "invalid tag value: \"v1!\"",
    );
}

// ---- resolution DNS / DNS_ROUND_ROBIN ---------------------------------------------------

/// Without endpoints, DNS resolves the hosts themselves, so they are FQDNs (only the first
/// offending host is reported).
#[test]
fn dns_without_endpoints_needs_fqdn_hosts() {
    assert_finding(
        &se(&format!(
            "hosts: [good.example.com, \"*.google.com\", \"*.b.com\"]\n{HTTP_PORT}\nresolution: DNS"
        )),
        Error,
        "spec.hosts[1]",
        "hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode DNS, domain name \"*.google.com\" invalid (label \"*\" invalid)",
    );
    assert_no_message(
        &se(&format!(
            "hosts: [good.example.com, \"*.google.com\", \"*.b.com\"]\n{HTTP_PORT}\nresolution: DNS"
        )),
        "hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode DNS, domain name \"*.b.com\" invalid (label \"*\" invalid)",
    );
}

/// DNS_ROUND_ROBIN takes at most one endpoint.
#[test]
fn dns_round_robin_takes_one_endpoint() {
    assert_finding(
        &se(&format!(
            "hosts: [api.example.com]\n{HTTP_PORT}\nresolution: DNS_ROUND_ROBIN\nendpoints: [{{address: a.example.com}}, {{address: b.example.com}}]"
        )),
        Error,
        "spec.endpoints",
        "there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN",
    );
}

/// DNS endpoint addresses are IP addresses or FQDNs.
#[test]
fn dns_endpoint_address_is_fqdn_or_ip() {
    assert_finding(
        &se(&format!(
            "hosts: [api.example.com]\n{HTTP_PORT}\nresolution: DNS\nendpoints: [{{address: \"bad_host\"}}]"
        )),
        Error,
        "spec.endpoints[0].address",
        "endpoint address \"bad_host\" is not a valid FQDN or an IP address",
    );
}

/// DNS endpoint ports name ports of the entry.
#[test]
fn dns_endpoint_ports_are_defined() {
    assert_finding(
        &se(&format!(
            "hosts: [api.example.com]\n{HTTP_PORT}\nresolution: DNS\nendpoints: [{{address: a.example.com, ports: {{https: 8443}}}}]"
        )),
        Error,
        "spec.endpoints[0].ports.https",
        "endpoint port 8443 is not defined by the service entry",
    );
}

/// With addresses and a TCP port, several hosts are accepted with a warning.
#[test]
fn dns_addresses_with_tcp_and_hosts_warns() {
    assert_finding(
        &se(
            "hosts: [a.example.com, b.example.com]\naddresses: [10.0.0.1]\nports: [{number: 443, name: tls, protocol: TLS}]\nresolution: DNS",
        ),
        Warning,
        "spec.hosts",
        "service entry can not have more than one host specified simultaneously with address and tcp port",
    );
}

// ---- resolution DYNAMIC_DNS -------------------------------------------------------------

/// DYNAMIC_DNS hosts are wildcards.
#[test]
fn dynamic_dns_hosts_are_wildcards() {
    assert_finding(
        &se(&format!(
            "hosts: [api.example.com]\n{HTTP_PORT}\nresolution: DYNAMIC_DNS"
        )),
        Error,
        "spec.hosts[0]",
        "host must be wildcarded for resolution mode DYNAMIC_DNS",
    );
}

/// DYNAMIC_DNS takes no addresses (Istio's message lacks a space, kept verbatim).
#[test]
fn dynamic_dns_takes_no_addresses() {
    assert_finding(
        &se(&format!(
            "hosts: [\"*.example.com\"]\naddresses: [10.0.0.1]\n{HTTP_PORT}\nresolution: DYNAMIC_DNS"
        )),
        Error,
        "spec.addresses",
        "addresses cannot be set for resolution type DYNAMIC_DNS. HTTP route domains will only be generatedfrom the hosts field values",
    );
}

/// DYNAMIC_DNS takes no endpoints (Istio's message lacks a space, kept verbatim).
#[test]
fn dynamic_dns_takes_no_endpoints() {
    assert_finding(
        &se(&format!(
            "hosts: [\"*.example.com\"]\n{HTTP_PORT}\nresolution: DYNAMIC_DNS\nendpoints: [{{address: 10.0.0.1}}]"
        )),
        Error,
        "spec.endpoints",
        "endpoints cannot be set for resolution type DYNAMIC_DNS. Destination IP address determined from hostsfield values",
    );
}

/// DYNAMIC_DNS ports are HTTP, TLS, GRPC or HTTP2.
#[test]
fn dynamic_dns_protocols() {
    assert_finding(
        &se(
            "hosts: [\"*.example.com\"]\nports: [{number: 443, name: https, protocol: HTTPS}]\nresolution: DYNAMIC_DNS",
        ),
        Error,
        "spec.ports[0].protocol",
        "only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type DYNAMIC_DNS",
    );
    assert_clean(&se(
        "hosts: [\"*.example.com\"]\nports: [{number: 443, name: tls, protocol: TLS}, {number: 80, name: http, protocol: http}]\nresolution: DYNAMIC_DNS",
    ));
}

/// DYNAMIC_DNS inside the mesh does not work behind a waypoint.
#[test]
fn dynamic_dns_mesh_internal_not_with_waypoint() {
    let spec = format!(
        "hosts: [\"*.example.com\"]\n{HTTP_PORT}\nresolution: DYNAMIC_DNS\nlocation: MESH_INTERNAL"
    );
    assert_finding(
        &se_with_meta(
            "{name: se, namespace: default, labels: {istio.io/use-waypoint: waypoint}}",
            &spec,
        ),
        Error,
        "spec.location",
        "location MESH_INTERNAL with resolution type DYNAMIC_DNS is not supported when using waypoints",
    );
    assert_no_errors(&se_with_meta(
        "{name: se, namespace: default, labels: {istio.io/use-waypoint: none}}",
        &spec,
    ));
}

// ---- workload selector ------------------------------------------------------------------

/// Endpoints come either from a workload selector or from a list.
#[test]
fn selector_or_endpoints() {
    assert_finding(
        &se(&format!(
            "hosts: [db.example.com]\n{HTTP_PORT}\nresolution: STATIC\nworkloadSelector: {{labels: {{app: db}}}}\nendpoints: [{{address: 10.0.0.1}}]"
        )),
        Error,
        "spec.endpoints",
        "only one of WorkloadSelector or Endpoints is allowed in Service Entry",
    );
}

/// Workload selector labels have no wildcards; such an error ends the validation.
#[test]
fn selector_has_no_wildcards() {
    let yaml = se("workloadSelector: {labels: {app: \"db*\"}}");
    assert_finding(
        &yaml,
        Error,
        "spec.workloadSelector.labels.app",
        "wildcard is not supported in selector: \"app=db*\"",
    );
    assert_no_message(&yaml, "service entry must have at least one host");
}

/// A workload selector without labels selects everything in the namespace (a warning).
#[test]
fn selector_without_labels_warns() {
    let yaml = se(&format!(
        "hosts: [db.example.com]\n{HTTP_PORT}\nresolution: STATIC\nworkloadSelector: {{}}"
    ));
    assert_no_errors(&yaml);
    assert_finding(
        &yaml,
        Warning,
        "spec.workloadSelector",
        "service entry: workload selector specified without labels, will be applied to all services in namespace",
    );
}

// ---- exportTo, subjectAltNames ----------------------------------------------------------

/// A service entry may be exported to no one (`~`).
#[test]
fn export_to_none_is_allowed() {
    assert_clean(&se(&format!(
        "hosts: [example.com]\n{HTTP_PORT}\nexportTo: [\"~\"]"
    )));
}

/// `~` cannot be combined with other exportTo entries.
#[test]
fn export_to_none_is_alone() {
    assert_finding(
        &se(&format!(
            "hosts: [example.com]\n{HTTP_PORT}\nexportTo: [\"~\", \".\"]"
        )),
        Error,
        "spec.exportTo",
        "cannot export service entry to no one (~) and someone",
    );
}

/// `*` cannot be combined with other exportTo entries.
#[test]
fn export_to_public_is_alone() {
    assert_finding(
        &se(&format!(
            "hosts: [example.com]\n{HTTP_PORT}\nexportTo: [\"*\", prod]"
        )),
        Error,
        "spec.exportTo",
        "cannot have both public (*) and non-public exportTo values for a resource",
    );
}

/// Istio does not validate `subjectAltNames`: any strings are accepted.
#[test]
fn subject_alt_names_are_not_validated() {
    assert_clean(&se(&format!(
        "hosts: [example.com]\n{HTTP_PORT}\nsubjectAltNames: [\"spiffe://cluster.local/ns/x/sa/y\", \"not a name!\"]"
    )));
}

// ---- valid configurations ---------------------------------------------------------------

/// Entries of each resolution mode, written as Istio's documentation writes them, have no
/// finding at all.
#[test]
fn typical_entries_are_clean() {
    assert_clean(&se(
        "hosts: [\"*.google.com\"]\nports: [{number: 80, protocol: http, name: http-valid1}, {number: 8080, protocol: http, name: http-valid2}]\nendpoints: [{address: lon.google.com, ports: {http-valid1: 8080}}, {address: in.google.com, ports: {http-valid2: 9080}}]\nresolution: DNS",
    ));
    assert_clean(&se(
        "hosts: [mymongodb.somedomain]\naddresses: [192.192.192.192/24]\nports: [{number: 27018, name: mongodb, protocol: MONGO}]\nlocation: MESH_INTERNAL\nresolution: STATIC\nendpoints: [{address: 2.2.2.2}, {address: 3.3.3.3}]",
    ));
    assert_clean(&se(
        "hosts: [details.bookinfo.com]\nlocation: MESH_INTERNAL\nports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]\nresolution: STATIC\nworkloadSelector: {labels: {app: details-legacy}}",
    ));
}

/// Istio's sample ServiceEntries are accepted.
#[test]
fn istio_samples_are_accepted() {
    let Some(dir) = envoy_harness::shared_dir("corpus/istio", "service_entry samples") else {
        return;
    };
    for file in [
        "egress-rule-google-apis.yaml",
        "github.yaml",
        "pypi.yaml",
        "aptget.yaml",
        "istioio-egress-google-serviceentry.yaml",
        "istioio-egress-httpbin-ext-serviceentry.yaml",
    ] {
        let Ok(yaml) = std::fs::read_to_string(dir.join(file)) else {
            panic!("cannot read {file}");
        };
        assert_no_errors(&yaml);
    }
}
