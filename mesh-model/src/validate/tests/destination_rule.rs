//! DestinationRule: one test per rule of `ValidateDestinationRule` (and the CRD schema), each
//! with Istio's exact message at the field it concerns.

use super::support::{assert_finding, assert_no_errors, findings};
use crate::validate::Severity::{Error, Warning};

/// A DestinationRule `default/x` with `spec` (YAML without base indentation).
fn dr(spec: &str) -> String {
    let body: String = spec.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: x, namespace: default}}\nspec:\n{body}"
    )
}

/// A DestinationRule for `reviews` whose top-level traffic policy is `policy`.
fn policy(policy: &str) -> String {
    let body: String = policy.lines().map(|l| format!("  {l}\n")).collect();
    dr(&format!("host: reviews\ntrafficPolicy:\n{body}"))
}

/// Asserts that validation reports neither an error nor a warning (cross-resource analyzer
/// findings, which carry a code, are not this file's concern).
#[track_caller]
fn assert_clean(yaml: &str) {
    let all: Vec<_> = findings(yaml)
        .into_iter()
        .filter(|f| f.code.is_none())
        .collect();
    assert!(all.is_empty(), "unexpected findings: {all:#?}");
}

// ---- host, subsets ----------------------------------------------------------------------

/// The host is required: an empty host is an empty domain name.
#[test]
fn host_is_required() {
    assert_finding(
        &dr("host: \"\""),
        Error,
        "spec.host",
        "empty domain name not allowed",
    );
}

/// The host is a domain with a wildcard only as its whole first label.
#[test]
fn host_wildcard_only_in_first_label() {
    assert_finding(
        &dr("host: \"reviews.*.svc\""),
        Error,
        "spec.host",
        "domain name \"*.svc\" invalid (label \"*\" invalid)",
    );
    assert_no_errors(&dr("host: \"*.example.com\""));
    assert_no_errors(&dr("host: reviews"));
}

/// Every subset needs a name.
#[test]
fn subset_name_cannot_be_empty() {
    assert_finding(
        &dr("host: reviews\nsubsets:\n- labels: {version: v1}"),
        Error,
        "spec.subsets[0].name",
        "subset name cannot be empty",
    );
}

/// Subset names are DNS-1123 labels.
#[test]
fn subset_name_is_a_dns_label() {
    assert_finding(
        &dr("host: reviews\nsubsets:\n- name: v1.0"),
        Error,
        "spec.subsets[0].name",
        "subset name is invalid: v1.0",
    );
}

/// Subset names are unique within a rule.
#[test]
fn subset_names_are_unique() {
    assert_finding(
        &dr("host: reviews\nsubsets:\n- name: v1\n- name: v2\n- name: v1"),
        Error,
        "spec.subsets[2].name",
        "duplicate subset names: v1",
    );
}

/// Subset label keys are `[prefix/]name` qualified names.
#[test]
fn subset_label_keys_are_valid() {
    assert_finding(
        &dr("host: reviews\nsubsets:\n- name: v1\n  labels: {\"bad key\": v1}"),
        Error,
        "spec.subsets[0].labels.bad key",
        "invalid tag key: \"bad key\"",
    );
}

/// Subset label values are empty or qualified names.
#[test]
fn subset_label_values_are_valid() {
    assert_finding(
        &dr("host: reviews\nsubsets:\n- name: v1\n  labels: {version: \"v1!\"}"),
        Error,
        "spec.subsets[0].labels.version",
        "invalid tag value: \"v1!\"",
    );
}

/// A subset's traffic policy follows the same rules as the top-level one.
#[test]
fn subset_traffic_policy_is_validated() {
    assert_finding(
        &dr("host: reviews\nsubsets:\n- name: v1\n  trafficPolicy: {}"),
        Error,
        "spec.subsets[0].trafficPolicy",
        "traffic policy must have at least one field",
    );
}

// ---- traffic policy ---------------------------------------------------------------------

/// An empty `trafficPolicy: {}` is rejected.
#[test]
fn traffic_policy_must_have_a_field() {
    assert_finding(
        &dr("host: reviews\ntrafficPolicy: {}"),
        Error,
        "spec.trafficPolicy",
        "traffic policy must have at least one field",
    );
}

/// A traffic policy that only sets a retry budget is not empty.
#[test]
fn retry_budget_alone_is_a_policy() {
    assert_clean(&policy("retryBudget: {percent: 25}"));
}

/// Tunnel and PROXY protocol exclude each other.
#[test]
fn tunnel_and_proxy_protocol_are_exclusive() {
    assert_finding(
        &policy("tunnel: {targetHost: example.com, targetPort: 443}\nproxyProtocol: {version: V2}"),
        Error,
        "spec.trafficPolicy",
        "tunnel and proxyProtocol must not be set together",
    );
}

/// The tunnel protocol is CONNECT or POST.
#[test]
fn tunnel_protocol_is_connect_or_post() {
    assert_finding(
        &policy("tunnel: {protocol: GET, targetHost: example.com, targetPort: 443}"),
        Error,
        "spec.trafficPolicy.tunnel.protocol",
        "tunnel protocol must be \"CONNECT\" or \"POST\"",
    );
    assert_clean(&policy(
        "tunnel: {protocol: POST, targetHost: 10.0.0.1, targetPort: 443}",
    ));
}

/// The tunnel target host is an FQDN or an IP address.
#[test]
fn tunnel_target_host_is_fqdn_or_ip() {
    assert_finding(
        &policy("tunnel: {targetHost: \"bad_host\", targetPort: 443}"),
        Error,
        "spec.trafficPolicy.tunnel.targetHost",
        "tunnel target host must be valid FQDN or IP address: domain name \"bad_host\" invalid (label \"bad_host\" invalid); bad_host is not a valid IP",
    );
}

/// The tunnel target port is a valid port.
#[test]
fn tunnel_target_port_is_valid() {
    assert_finding(
        &policy("tunnel: {targetHost: example.com, targetPort: 70000}"),
        Error,
        "spec.trafficPolicy.tunnel.targetPort",
        "tunnel target port is invalid: port number 70000 must be in the range 1..65535",
    );
}

/// CRD: the retry budget's percent is within 0..100.
#[test]
fn retry_budget_percent_is_a_percentage() {
    assert_finding(
        &policy("retryBudget: {percent: 101}"),
        Error,
        "spec.trafficPolicy.retryBudget.percent",
        "should be less than or equal to 100",
    );
    assert_finding(
        &policy("retryBudget: {percent: -1}"),
        Error,
        "spec.trafficPolicy.retryBudget.percent",
        "should be greater than or equal to 0",
    );
}

// ---- port level settings ----------------------------------------------------------------

/// Each port-level policy names its port.
#[test]
fn port_level_policy_needs_a_port() {
    assert_finding(
        &policy("portLevelSettings:\n- loadBalancer: {simple: RANDOM}"),
        Error,
        "spec.trafficPolicy.portLevelSettings[0].port",
        "portTrafficPolicy must have valid port",
    );
}

/// Each port-level policy sets something besides the port.
#[test]
fn port_level_policy_must_have_a_field() {
    assert_finding(
        &policy("portLevelSettings:\n- port: {number: 80}"),
        Error,
        "spec.trafficPolicy.portLevelSettings[0]",
        "port traffic policy must have at least one field",
    );
}

/// Port-level policies are validated like the top-level one.
#[test]
fn port_level_policy_is_validated() {
    assert_finding(
        &policy(
            "portLevelSettings:\n- port: {number: 80}\n  connectionPool: {tcp: {maxConnections: -1}}",
        ),
        Error,
        "spec.trafficPolicy.portLevelSettings[0].connectionPool.tcp.maxConnections",
        "max connections must be non-negative",
    );
}

// ---- connection pool --------------------------------------------------------------------

/// An empty `connectionPool: {}` is rejected.
#[test]
fn connection_pool_must_have_a_field() {
    assert_finding(
        &policy("connectionPool: {}"),
        Error,
        "spec.trafficPolicy.connectionPool",
        "connection pool must have at least one field",
    );
}

/// The HTTP pool limits are non-negative.
#[test]
fn http_pool_limits_are_non_negative() {
    let cases = [
        (
            "http1MaxPendingRequests",
            "http1 max pending requests must be non-negative",
        ),
        (
            "http2MaxRequests",
            "http2 max requests must be non-negative",
        ),
        (
            "maxRequestsPerConnection",
            "max requests per connection must be non-negative",
        ),
        ("maxRetries", "max retries must be non-negative"),
        (
            "maxConcurrentStreams",
            "max concurrent streams must be non-negative",
        ),
    ];
    for (field, message) in cases {
        assert_finding(
            &policy(&format!("connectionPool: {{http: {{{field}: -1}}}}")),
            Error,
            &format!("spec.trafficPolicy.connectionPool.http.{field}"),
            message,
        );
    }
}

/// The TCP connection limit is non-negative.
#[test]
fn tcp_max_connections_is_non_negative() {
    assert_finding(
        &policy("connectionPool: {tcp: {maxConnections: -1}}"),
        Error,
        "spec.trafficPolicy.connectionPool.tcp.maxConnections",
        "max connections must be non-negative",
    );
}

/// `useClientProtocol` contradicts an explicit HTTP/2 upgrade.
#[test]
fn use_client_protocol_conflicts_with_upgrade() {
    assert_finding(
        &policy("connectionPool: {http: {h2UpgradePolicy: UPGRADE, useClientProtocol: true}}"),
        Error,
        "spec.trafficPolicy.connectionPool.http.useClientProtocol",
        "use client protocol must not be true when H2UpgradePolicy is UPGRADE",
    );
}

/// HTTP/2 keepalive needs both an interval and a timeout.
#[test]
fn http2_keepalive_needs_interval_and_timeout() {
    assert_finding(
        &policy("connectionPool: {http: {http2KeepAlive: {timeout: 5s}}}"),
        Error,
        "spec.trafficPolicy.connectionPool.http.http2KeepAlive.interval",
        "http2 keepalive interval is required",
    );
    assert_finding(
        &policy("connectionPool: {http: {http2KeepAlive: {interval: 5s}}}"),
        Error,
        "spec.trafficPolicy.connectionPool.http.http2KeepAlive.timeout",
        "http2 keepalive timeout is required",
    );
}

/// Connection-pool durations are at least 1ms, in whole milliseconds.
#[test]
fn connection_pool_durations_are_whole_milliseconds() {
    assert_finding(
        &policy("connectionPool: {tcp: {connectTimeout: 0s}}"),
        Error,
        "spec.trafficPolicy.connectionPool.tcp.connectTimeout",
        "duration must be greater than 1ms",
    );
    assert_finding(
        &policy("connectionPool: {tcp: {maxConnectionDuration: 1500us}}"),
        Error,
        "spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration",
        "only durations to ms precision are supported",
    );
    assert_finding(
        &policy("connectionPool: {tcp: {tcpKeepalive: {time: 0s}}}"),
        Error,
        "spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.time",
        "duration must be greater than 1ms",
    );
    assert_finding(
        &policy("connectionPool: {tcp: {tcpKeepalive: {interval: 0s}}}"),
        Error,
        "spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.interval",
        "duration must be greater than 1ms",
    );
    assert_finding(
        &policy("connectionPool: {http: {idleTimeout: 0s}}"),
        Error,
        "spec.trafficPolicy.connectionPool.http.idleTimeout",
        "duration must be greater than 1ms",
    );
    assert_finding(
        &policy("connectionPool: {http: {http2KeepAlive: {interval: 0s, timeout: 1s}}}"),
        Error,
        "spec.trafficPolicy.connectionPool.http.http2KeepAlive.interval",
        "duration must be greater than 1ms",
    );
}

/// `tcp.idleTimeout: 0s` disables the idle timeout and is accepted; other values follow the
/// duration rules.
#[test]
fn tcp_idle_timeout_zero_disables() {
    assert_clean(&policy("connectionPool: {tcp: {idleTimeout: 0s}}"));
    assert_finding(
        &policy("connectionPool: {tcp: {idleTimeout: 1500us}}"),
        Error,
        "spec.trafficPolicy.connectionPool.tcp.idleTimeout",
        "only durations to ms precision are supported",
    );
}

// ---- outlier detection ------------------------------------------------------------------

/// `consecutiveErrors` is deprecated: accepted with a warning.
#[test]
fn consecutive_errors_is_deprecated() {
    let yaml = policy("outlierDetection: {consecutiveErrors: 5}");
    assert_no_errors(&yaml);
    assert_finding(
        &yaml,
        Warning,
        "spec.trafficPolicy.outlierDetection.consecutiveErrors",
        "outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead",
    );
}

/// Local-origin failures only count when they are split from external errors.
#[test]
fn local_origin_failures_need_split() {
    assert_finding(
        &policy("outlierDetection: {consecutiveLocalOriginFailures: 3}"),
        Error,
        "spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures",
        "outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false",
    );
    assert_clean(&policy(
        "outlierDetection: {consecutiveLocalOriginFailures: 3, splitExternalLocalOriginErrors: true}",
    ));
}

/// `maxEjectionPercent` and `minHealthPercent` are percentages.
#[test]
fn outlier_percentages_are_in_range() {
    assert_finding(
        &policy("outlierDetection: {maxEjectionPercent: 150}"),
        Error,
        "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
        "percentage 150 is not in range 0..100",
    );
    assert_finding(
        &policy("outlierDetection: {minHealthPercent: -1}"),
        Error,
        "spec.trafficPolicy.outlierDetection.minHealthPercent",
        "percentage -1 is not in range 0..100",
    );
}

/// Outlier-detection durations follow the duration rules.
#[test]
fn outlier_durations_are_whole_milliseconds() {
    assert_finding(
        &policy("outlierDetection: {baseEjectionTime: 0s}"),
        Error,
        "spec.trafficPolicy.outlierDetection.baseEjectionTime",
        "duration must be greater than 1ms",
    );
    assert_finding(
        &policy("outlierDetection: {interval: 1.5ms}"),
        Error,
        "spec.trafficPolicy.outlierDetection.interval",
        "only durations to ms precision are supported",
    );
}

/// CRD: the HTTP error codes that count as failures are HTTP status codes (100..599).
#[test]
fn outlier_http_error_codes_are_status_codes() {
    assert_finding(
        &policy("outlierDetection: {outlierDetectionHttpErrorCodes: [503, 600]}"),
        Error,
        "spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes[1]",
        "should be less than or equal to 599",
    );
    assert_finding(
        &policy("outlierDetection: {outlierDetectionHttpErrorCodes: [99]}"),
        Error,
        "spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes[0]",
        "should be greater than or equal to 100",
    );
}

// ---- load balancer ----------------------------------------------------------------------

/// CRD oneof: `simple` or `consistentHash`, not both.
#[test]
fn simple_and_consistent_hash_are_exclusive() {
    assert_finding(
        &policy("loadBalancer: {simple: RANDOM, consistentHash: {httpHeaderName: x-user}}"),
        Error,
        "spec.trafficPolicy.loadBalancer",
        "only one of simple or consistentHash may be set",
    );
}

/// CRD oneof: one hash key.
#[test]
fn one_hash_key() {
    assert_finding(
        &policy("loadBalancer: {consistentHash: {httpHeaderName: x-user, useSourceIp: true}}"),
        Error,
        "spec.trafficPolicy.loadBalancer.consistentHash",
        "only one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName may be set",
    );
}

/// CRD oneof: ring hash or maglev.
#[test]
fn ring_hash_and_maglev_are_exclusive() {
    assert_finding(
        &policy(
            "loadBalancer: {consistentHash: {useSourceIp: true, ringHash: {minimumRingSize: 1024}, maglev: {tableSize: 65537}}}",
        ),
        Error,
        "spec.trafficPolicy.loadBalancer.consistentHash",
        "only one of ringHash or maglev may be set",
    );
}

/// A hash cookie needs a name.
#[test]
fn hash_cookie_needs_a_name() {
    assert_finding(
        &policy("loadBalancer: {consistentHash: {httpCookie: {ttl: 0s}}}"),
        Error,
        "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name",
        "name required for HttpCookie",
    );
}

/// Cookie attributes have names.
#[test]
fn cookie_attribute_names_are_required() {
    assert_finding(
        &policy(
            "loadBalancer: {consistentHash: {httpCookie: {name: user, ttl: 0s, attributes: [{value: x}]}}}",
        ),
        Error,
        "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[0].name",
        "cookie attribute name cannot be empty",
    );
}

/// Cookie attribute names are unique.
#[test]
fn cookie_attribute_names_are_unique() {
    assert_finding(
        &policy(
            "loadBalancer: {consistentHash: {httpCookie: {name: user, ttl: 0s, attributes: [{name: SameSite, value: Lax}, {name: SameSite, value: Strict}]}}}",
        ),
        Error,
        "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[1].name",
        "duplicate cookie attribute name: SameSite",
    );
}

/// The top-level `minimumRingSize` is deprecated (a warning) and conflicts with an explicit
/// hash algorithm (an error).
#[test]
fn minimum_ring_size_is_deprecated() {
    let yaml = policy("loadBalancer: {consistentHash: {useSourceIp: true, minimumRingSize: 1024}}");
    assert_no_errors(&yaml);
    assert_finding(
        &yaml,
        Warning,
        "spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize",
        "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead",
    );
    assert_finding(
        &policy(
            "loadBalancer: {consistentHash: {useSourceIp: true, minimumRingSize: 1024, ringHash: {minimumRingSize: 1024}}}",
        ),
        Error,
        "spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize",
        "only one of MinimumRingSize or Maglev/Ringhash can be specified",
    );
}

/// Maglev needs a table size: 0 is both unset and not prime.
#[test]
fn maglev_table_size_is_required() {
    let yaml = policy("loadBalancer: {consistentHash: {useSourceIp: true, maglev: {}}}");
    let path = "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize";
    assert_finding(&yaml, Error, path, "tableSize must be set for maglev");
    assert_finding(
        &yaml,
        Error,
        path,
        "tableSize must be a prime number for maglev",
    );
}

/// Maglev table sizes are below 5000011.
#[test]
fn maglev_table_size_is_bounded() {
    assert_finding(
        &policy(
            "loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 5000011}}}",
        ),
        Error,
        "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize",
        "tableSize must be less than 5000011 for maglev",
    );
}

/// Maglev table sizes are prime.
#[test]
fn maglev_table_size_is_prime() {
    assert_finding(
        &policy("loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 1000}}}"),
        Error,
        "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize",
        "tableSize must be a prime number for maglev",
    );
    assert_clean(&policy(
        "loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 65537}}}",
    ));
}

/// Locality and zone-aware load balancing exclude each other.
#[test]
fn locality_and_zone_aware_are_exclusive() {
    assert_finding(
        &policy(
            "loadBalancer: {localityLbSetting: {enabled: true}, zoneAwareLbSetting: {enabled: true}}",
        ),
        Error,
        "spec.trafficPolicy.loadBalancer",
        "only one of localityLbSetting and zoneAwareLbSetting can be set",
    );
}

/// A warmup needs a duration, which follows the duration rules.
#[test]
fn warmup_needs_a_duration() {
    assert_finding(
        &policy("loadBalancer: {warmup: {aggression: 1}}"),
        Error,
        "spec.trafficPolicy.loadBalancer.warmup.duration",
        "duration is required",
    );
    assert_finding(
        &policy("loadBalancer: {warmup: {duration: 0s}}"),
        Error,
        "spec.trafficPolicy.loadBalancer.warmup.duration",
        "duration must be greater than 1ms",
    );
}

/// The warmup's starting share is at most 100 (and, by the CRD, at least 0).
#[test]
fn warmup_minimum_percent_is_a_percentage() {
    assert_finding(
        &policy("loadBalancer: {warmup: {duration: 60s, minimumPercent: 101}}"),
        Error,
        "spec.trafficPolicy.loadBalancer.warmup.minimumPercent",
        "minimumPercent value should be less than or equal to 100",
    );
    assert_finding(
        &policy("loadBalancer: {warmup: {duration: 60s, minimumPercent: -1}}"),
        Error,
        "spec.trafficPolicy.loadBalancer.warmup.minimumPercent",
        "should be greater than or equal to 0",
    );
}

/// The warmup aggression is positive.
#[test]
fn warmup_aggression_is_positive() {
    assert_finding(
        &policy("loadBalancer: {warmup: {duration: 60s, aggression: 0}}"),
        Error,
        "spec.trafficPolicy.loadBalancer.warmup.aggression",
        "aggression should be greater than 0",
    );
}

/// CRD: the deprecated `warmupDurationSecs` and `warmup` exclude each other.
#[test]
fn warmup_duration_secs_and_warmup_are_exclusive() {
    assert_finding(
        &policy("loadBalancer: {warmupDurationSecs: 60s, warmup: {duration: 60s}}"),
        Error,
        "spec.trafficPolicy.loadBalancer",
        "only one of warmupDurationSecs or warmup can be set",
    );
}

/// CRD: `warmupDurationSecs` is at least 1ms (Istio's Go code does not check it).
#[test]
fn warmup_duration_secs_is_at_least_1ms() {
    assert_finding(
        &policy("loadBalancer: {warmupDurationSecs: 0s}"),
        Error,
        "spec.trafficPolicy.loadBalancer.warmupDurationSecs",
        "must be a valid duration greater than 1ms",
    );
    assert_clean(&policy(
        "loadBalancer: {simple: ROUND_ROBIN, warmupDurationSecs: 60s}",
    ));
}

// ---- locality load balancing ------------------------------------------------------------

/// `distribute` and `failover` exclude each other.
#[test]
fn locality_distribute_and_failover_are_exclusive() {
    assert_finding(
        &policy(
            "loadBalancer:\n  localityLbSetting:\n    distribute: [{from: a/*, to: {b/*: 100}}]\n    failover: [{from: a, to: b}]\noutlierDetection: {consecutive5xxErrors: 5}",
        ),
        Error,
        "spec.trafficPolicy.loadBalancer.localityLbSetting",
        "can not simultaneously specify 'distribute' and 'failover'",
    );
}

/// `failover` cannot be combined with topology labels in `failoverPriority`.
#[test]
fn locality_failover_excludes_topology_priority() {
    assert_finding(
        &policy(
            "loadBalancer:\n  localityLbSetting:\n    failover: [{from: a, to: b}]\n    failoverPriority: [topology.istio.io/network, topology.kubernetes.io/zone]\noutlierDetection: {consecutive5xxErrors: 5}",
        ),
        Error,
        "spec.trafficPolicy.loadBalancer.localityLbSetting.failoverPriority[1]",
        "can not simultaneously set 'failover' and topology label 'topology.kubernetes.io/zone' in 'failover_priority'",
    );
}

/// Each distribute weight is in 1..100.
#[test]
fn locality_weights_are_in_range() {
    assert_finding(
        &policy(
            "loadBalancer:\n  localityLbSetting:\n    distribute: [{from: a/*, to: {b/*: 0, c/*: 100}}]",
        ),
        Error,
        "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to.b/*",
        "locality weight must be in range [1, 100]",
    );
}

/// The weights of one `distribute` entry sum to 100.
#[test]
fn locality_weights_sum_to_100() {
    assert_finding(
        &policy(
            "loadBalancer:\n  localityLbSetting:\n    distribute: [{from: a/*, to: {b/*: 50, c/*: 40}}]",
        ),
        Error,
        "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to",
        "total locality weight 90 != 100",
    );
}

/// A locality has at most one `*`, at its end.
#[test]
fn locality_wildcard_only_at_end() {
    assert_finding(
        &policy(
            "loadBalancer:\n  localityLbSetting:\n    distribute: [{from: \"a/*/c\", to: {b/*: 100}}]",
        ),
        Error,
        "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].from",
        "locality a/*/c wildcard '*' number can not exceed 1 and must be in the end",
    );
}

/// Source localities do not overlap.
#[test]
fn locality_sources_do_not_overlap() {
    assert_finding(
        &policy(
            "loadBalancer:\n  localityLbSetting:\n    distribute:\n    - {from: a/*, to: {b/*: 100}}\n    - {from: a/z1, to: {b/*: 100}}",
        ),
        Error,
        "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[1].from",
        "locality a/z1 overlap with previous specified ones",
    );
}

/// Localities have no empty region, zone or subzone.
#[test]
fn locality_parts_are_not_empty() {
    assert_finding(
        &policy(
            "loadBalancer:\n  localityLbSetting:\n    distribute: [{from: a/*, to: {\"b//c\": 100}}]",
        ),
        Error,
        "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to.b//c",
        "locality b//c must not contain empty region/zone/subzone info",
    );
}

/// Failover without outlier detection is accepted with a warning.
#[test]
fn locality_failover_wants_outlier_detection() {
    let yaml = policy("loadBalancer:\n  localityLbSetting:\n    failover: [{from: a, to: b}]");
    assert_no_errors(&yaml);
    assert_finding(
        &yaml,
        Warning,
        "spec.trafficPolicy.loadBalancer.localityLbSetting",
        "outlier detection policy must be provided for failover",
    );
}

/// Failover goes to a different region, names regions only, without wildcards.
#[test]
fn locality_failover_regions() {
    let base = "outlierDetection: {consecutive5xxErrors: 5}\nloadBalancer:\n  localityLbSetting:\n    failover: ";
    let path = "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]";
    assert_finding(
        &policy(&format!("{base}[{{from: a, to: a}}]")),
        Error,
        path,
        "locality lb failover settings must specify different regions",
    );
    assert_finding(
        &policy(&format!("{base}[{{from: a/z, to: b}}]")),
        Error,
        path,
        "locality lb failover only specify region",
    );
    assert_finding(
        &policy(&format!("{base}[{{from: a, to: \"b*\"}}]")),
        Error,
        path,
        "locality lb failover region should not contain '*' wildcard",
    );
}

// ---- zone-aware load balancing ----------------------------------------------------------

/// Zone-aware failover priority may not name region, zone or subzone labels.
#[test]
fn zone_aware_priority_excludes_topology_labels() {
    assert_finding(
        &policy(
            "outlierDetection: {consecutive5xxErrors: 5}\nloadBalancer:\n  zoneAwareLbSetting:\n    failoverPriority: [topology.kubernetes.io/region]",
        ),
        Error,
        "spec.trafficPolicy.loadBalancer.zoneAwareLbSetting.failoverPriority[0]",
        "'failover_priority' for zone aware lb must not use topology label 'topology.kubernetes.io/region'; region- and zone-level routing are handled automatically",
    );
}

/// Zone-aware failover without outlier detection is accepted with a warning.
#[test]
fn zone_aware_failover_wants_outlier_detection() {
    let yaml = policy("loadBalancer:\n  zoneAwareLbSetting:\n    failover: [{from: a, to: b}]");
    assert_no_errors(&yaml);
    assert_finding(
        &yaml,
        Warning,
        "spec.trafficPolicy.loadBalancer.zoneAwareLbSetting",
        "outlier detection policy must be provided for failover",
    );
}

/// Zone-aware failover goes to a different region, names regions only, without wildcards.
#[test]
fn zone_aware_failover_regions() {
    let base = "outlierDetection: {consecutive5xxErrors: 5}\nloadBalancer:\n  zoneAwareLbSetting:\n    failover: ";
    let path = "spec.trafficPolicy.loadBalancer.zoneAwareLbSetting.failover[0]";
    assert_finding(
        &policy(&format!("{base}[{{from: a, to: a}}]")),
        Error,
        path,
        "zone aware lb failover settings must specify different regions",
    );
    assert_finding(
        &policy(&format!("{base}[{{from: a, to: b/z}}]")),
        Error,
        path,
        "zone aware lb failover only specifies region; zone and subzone failover are handled automatically",
    );
    assert_finding(
        &policy(&format!("{base}[{{from: \"*\", to: b}}]")),
        Error,
        path,
        "zone aware lb failover region should not contain '*' wildcard",
    );
}

/// CRD: the zone-aware minimum cluster size is at least 1.
#[test]
fn zone_aware_min_cluster_size_is_positive() {
    assert_finding(
        &policy("loadBalancer: {zoneAwareLbSetting: {minClusterSize: 0}}"),
        Error,
        "spec.trafficPolicy.loadBalancer.zoneAwareLbSetting.minClusterSize",
        "should be greater than or equal to 1",
    );
}

// ---- client TLS -------------------------------------------------------------------------

/// A `configmap://` credential names a namespace and a name.
#[test]
fn configmap_credential_needs_namespace_and_name() {
    assert_finding(
        &policy("tls: {mode: SIMPLE, credentialName: \"configmap://ca\"}"),
        Error,
        "spec.trafficPolicy.tls.credentialName",
        "invalid configmap:// credentialName: invalid resource name \"configmap://ca\". Expected namespace and name",
    );
}

/// A `configmap://` credential lives in the rule's own namespace.
#[test]
fn configmap_credential_is_in_own_namespace() {
    assert_finding(
        &policy("tls: {mode: SIMPLE, credentialName: \"configmap://other/ca\"}"),
        Error,
        "spec.trafficPolicy.tls.credentialName",
        "invalid configmap:// credentialName: namespace must match the configuration namespace \"default\"",
    );
    assert_clean(&policy(
        "tls: {mode: SIMPLE, credentialName: \"configmap://default/ca\"}",
    ));
}

/// With `insecureSkipVerify`, SIMPLE TLS takes no CA, credential or SANs.
#[test]
fn insecure_skip_verify_simple_takes_no_verification() {
    assert_finding(
        &policy(
            "tls: {mode: SIMPLE, insecureSkipVerify: true, subjectAltNames: [reviews.default.svc]}",
        ),
        Error,
        "spec.trafficPolicy.tls.insecureSkipVerify",
        "cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true",
    );
}

/// With `insecureSkipVerify`, MUTUAL TLS takes no CA or SANs.
#[test]
fn insecure_skip_verify_mutual_takes_no_verification() {
    assert_finding(
        &policy(
            "tls: {mode: MUTUAL, insecureSkipVerify: true, caCertificates: ca.pem, clientCertificate: c.pem, privateKey: k.pem}",
        ),
        Error,
        "spec.trafficPolicy.tls.insecureSkipVerify",
        "cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true",
    );
    assert_clean(&policy(
        "tls: {mode: MUTUAL, insecureSkipVerify: true, clientCertificate: c.pem, privateKey: k.pem}",
    ));
}

/// A credential name replaces certificate files.
#[test]
fn credential_name_excludes_files() {
    assert_finding(
        &policy("tls: {mode: MUTUAL, credentialName: client-cert, caCertificates: ca.pem}"),
        Error,
        "spec.trafficPolicy.tls.credentialName",
        "cannot specify client certificates or CA certificate or CA CRL If credentialName is set",
    );
}

/// MUTUAL TLS without a credential needs a client certificate and key.
#[test]
fn mutual_tls_needs_certificate_and_key() {
    let yaml = policy("tls: {mode: MUTUAL}");
    assert_finding(
        &yaml,
        Error,
        "spec.trafficPolicy.tls.clientCertificate",
        "client certificate required for mutual tls",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.trafficPolicy.tls.privateKey",
        "private key required for mutual tls",
    );
}

// ---- exportTo and workload selector -----------------------------------------------------

/// exportTo entries are `.`, `*` or namespace names.
#[test]
fn export_to_entries_are_valid() {
    assert_finding(
        &dr("host: reviews\nexportTo: [\"bad_ns\"]"),
        Error,
        "spec.exportTo",
        "only .,*, or a valid DNS 1123 label is allowed as exportTo entry",
    );
}

/// `~` (export to no one) is for ServiceEntries only.
#[test]
fn export_to_none_is_not_for_destination_rules() {
    assert_finding(
        &dr("host: reviews\nexportTo: [\"~\"]"),
        Error,
        "spec.exportTo",
        "exportTo ~ (none) is not allowed for Istio configuration objects",
    );
}

/// `.` and the rule's own namespace are the same entry.
#[test]
fn export_to_no_duplicates() {
    assert_finding(
        &dr("host: reviews\nexportTo: [default, \".\"]"),
        Error,
        "spec.exportTo",
        "duplicate entries in exportTo: . and current namespace default",
    );
}

/// A rule with a workload selector is exported to its own namespace only.
#[test]
fn selector_rule_exports_to_own_namespace() {
    assert_finding(
        &dr("host: reviews\nworkloadSelector: {matchLabels: {app: a}}\nexportTo: [other]"),
        Error,
        "spec.exportTo",
        "destination rule with workload selector cannot have exportTo beyond current namespace",
    );
    assert_finding(
        &dr("host: reviews\nworkloadSelector: {matchLabels: {app: a}}\nexportTo: [\".\", other]"),
        Error,
        "spec.exportTo",
        "destination rule with workload selector cannot have multiple entries in exportTo",
    );
    assert_clean(&dr(
        "host: reviews\nworkloadSelector: {matchLabels: {app: a}}\nexportTo: [\".\"]",
    ));
}

/// Workload selector labels have no wildcards.
#[test]
fn workload_selector_has_no_wildcards() {
    assert_finding(
        &dr("host: reviews\nworkloadSelector: {matchLabels: {app: \"a*\"}}"),
        Error,
        "spec.workloadSelector.matchLabels.app",
        "wildcard is not supported in selector: \"app=a*\"",
    );
}

/// Workload selector label keys are not empty.
#[test]
fn workload_selector_keys_are_not_empty() {
    assert_finding(
        &dr("host: reviews\nworkloadSelector: {matchLabels: {\"\": a}}"),
        Error,
        "spec.workloadSelector.matchLabels.",
        "empty key is not supported in selector: \"=a\"",
    );
}

/// A workload selector without labels is accepted with a warning.
#[test]
fn workload_selector_without_labels_warns() {
    let yaml = dr("host: reviews\nworkloadSelector: {}");
    assert_no_errors(&yaml);
    assert_finding(
        &yaml,
        Warning,
        "spec.workloadSelector",
        "workload selector specified without labels",
    );
}

// ---- valid configurations ---------------------------------------------------------------

/// A rule with every block set sensibly has no finding at all.
#[test]
fn complete_rule_is_clean() {
    assert_clean(&dr(r#"host: reviews.prod.svc.cluster.local
trafficPolicy:
  loadBalancer:
    consistentHash:
      httpCookie: {name: user, ttl: 0s, path: /, attributes: [{name: SameSite, value: Lax}]}
      ringHash: {minimumRingSize: 1024}
    localityLbSetting:
      enabled: true
      failover: [{from: us-east, to: us-west}]
  connectionPool:
    tcp: {maxConnections: 100, connectTimeout: 30ms, tcpKeepalive: {time: 7200s, interval: 75s}}
    http: {http2MaxRequests: 1000, maxRequestsPerConnection: 10, http2KeepAlive: {interval: 10s, timeout: 3s}}
  outlierDetection: {consecutive5xxErrors: 7, interval: 5m, baseEjectionTime: 15m, maxEjectionPercent: 50}
  tls: {mode: ISTIO_MUTUAL}
  portLevelSettings:
  - port: {number: 80}
    loadBalancer: {simple: LEAST_REQUEST}
  - port: {number: 9080}
    tls: {mode: SIMPLE, sni: reviews.example.com}
subsets:
- name: v1
  labels: {version: v1}
- name: v2
  labels: {version: v2}
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN, warmup: {duration: 60s, minimumPercent: 10, aggression: 1.5}}
exportTo: [".", istio-system]"#));
}

/// Istio's sample DestinationRules are accepted.
#[test]
fn istio_samples_are_accepted() {
    let Some(dir) = envoy_harness::shared_dir("corpus/istio", "destination_rule samples") else {
        return;
    };
    for file in [
        "destination-rule-all.yaml",
        "destination-rule-all-mtls.yaml",
        "destination-rule-reviews.yaml",
        "istioio-circuit-breaking-httpbin-dr.yaml",
        "istioio-locality-distribute-dr.yaml",
        "istioio-locality-failover-dr.yaml",
    ] {
        let Ok(yaml) = std::fs::read_to_string(dir.join(file)) else {
            panic!("cannot read {file}");
        };
        assert_no_errors(&yaml);
    }
}
