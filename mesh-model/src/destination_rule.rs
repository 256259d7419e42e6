//! `DestinationRule` and its traffic policies, field for field as `istio/api`
//! `networking/v1alpha3/destination_rule.proto` defines them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::percent::Double;
use crate::proto_enum::{is_default, proto_enum};
use crate::virtual_service::PortSelector;

/// Policies that apply to traffic for a host after routing, and its subsets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationRule {
    /// The service the rule applies to (short names resolve against the rule's namespace).
    #[serde(default)]
    pub host: String,
    /// Policies for the whole host.
    #[serde(
        default,
        alias = "traffic_policy",
        skip_serializing_if = "Option::is_none"
    )]
    pub traffic_policy: Option<TrafficPolicy>,
    /// Named groups of endpoints, selected by labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<Subset>,
    /// Namespaces that can see this rule.
    #[serde(default, alias = "export_to", skip_serializing_if = "Vec::is_empty")]
    pub export_to: Vec<String>,
    /// Applies the rule only to these client workloads.
    #[serde(
        default,
        alias = "workload_selector",
        skip_serializing_if = "Option::is_none"
    )]
    pub workload_selector: Option<WorkloadSelector>,
}

/// Selects workloads by labels (`istio.type.v1beta1.WorkloadSelector`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadSelector {
    /// Labels a workload must carry.
    #[serde(
        default,
        alias = "match_labels",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub match_labels: BTreeMap<String, String>,
}

/// Load balancing, connection pool, outlier detection and TLS for a destination.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficPolicy {
    /// Load balancing.
    #[serde(
        default,
        alias = "load_balancer",
        skip_serializing_if = "Option::is_none"
    )]
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection limits (circuit breaking).
    #[serde(
        default,
        alias = "connection_pool",
        skip_serializing_if = "Option::is_none"
    )]
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Ejection of failing endpoints.
    #[serde(
        default,
        alias = "outlier_detection",
        skip_serializing_if = "Option::is_none"
    )]
    pub outlier_detection: Option<OutlierDetection>,
    /// Client TLS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTlsSettings>,
    /// Per-port overrides.
    #[serde(
        default,
        alias = "port_level_settings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub port_level_settings: Vec<PortTrafficPolicy>,
    /// Tunnel settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<TunnelSettings>,
    /// PROXY protocol towards the upstream.
    #[serde(
        default,
        alias = "proxy_protocol",
        skip_serializing_if = "Option::is_none"
    )]
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Budget for concurrent retries.
    #[serde(
        default,
        alias = "retry_budget",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_budget: Option<RetryBudget>,
}

/// Traffic policy for one port of the destination.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortTrafficPolicy {
    /// The port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSelector>,
    /// Load balancing.
    #[serde(
        default,
        alias = "load_balancer",
        skip_serializing_if = "Option::is_none"
    )]
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection limits.
    #[serde(
        default,
        alias = "connection_pool",
        skip_serializing_if = "Option::is_none"
    )]
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Ejection of failing endpoints.
    #[serde(
        default,
        alias = "outlier_detection",
        skip_serializing_if = "Option::is_none"
    )]
    pub outlier_detection: Option<OutlierDetection>,
    /// Client TLS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTlsSettings>,
}

/// Tunnel settings (HTTP CONNECT or POST).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TunnelSettings {
    /// `CONNECT` (default) or `POST`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// Host of the tunnel target.
    #[serde(default, alias = "target_host")]
    pub target_host: String,
    /// Port of the tunnel target.
    #[serde(default, alias = "target_port")]
    pub target_port: u32,
}

proto_enum! {
    /// PROXY protocol version.
    pub enum ProxyProtocolVersion {
        /// Version 1 (text).
        V1 = 0 => "V1",
        /// Version 2 (binary).
        V2 = 1 => "V2",
    }
}

/// PROXY protocol settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyProtocol {
    /// The version.
    #[serde(default, skip_serializing_if = "is_default")]
    pub version: ProxyProtocolVersion,
}

/// Limits retries to a share of active requests (Envoy's retry budget).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryBudget {
    /// Share of active requests that may be retries (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<Double>,
    /// Retries always allowed regardless of the share (default 3).
    #[serde(
        default,
        alias = "min_retry_concurrency",
        skip_serializing_if = "is_default"
    )]
    pub min_retry_concurrency: u32,
    /// Window of the budget.
    #[serde(
        default,
        alias = "budget_interval",
        skip_serializing_if = "Option::is_none"
    )]
    pub budget_interval: Option<Duration>,
}

/// A named group of endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subset {
    /// The subset's name, referenced by routes.
    #[serde(default)]
    pub name: String,
    /// Endpoint labels that select the subset's members.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Overrides of the host-level policy, block by block.
    #[serde(
        default,
        alias = "traffic_policy",
        skip_serializing_if = "Option::is_none"
    )]
    pub traffic_policy: Option<TrafficPolicy>,
}

proto_enum! {
    /// Standard load-balancing algorithms.
    pub enum SimpleLb {
        /// Istio's default (least request).
        Unspecified = 0 => "UNSPECIFIED",
        /// Deprecated alias of LEAST_REQUEST.
        LeastConn = 1 => "LEAST_CONN",
        /// Random endpoint.
        Random = 2 => "RANDOM",
        /// Forward to the original destination address.
        Passthrough = 3 => "PASSTHROUGH",
        /// Round robin.
        RoundRobin = 4 => "ROUND_ROBIN",
        /// Power of two choices, fewer active requests wins.
        LeastRequest = 5 => "LEAST_REQUEST",
    }
}

/// Load-balancing settings: a simple algorithm or a consistent hash (a oneof).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancerSettings {
    /// Simple algorithm (oneof `lb_policy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simple: Option<SimpleLb>,
    /// Consistent hashing (oneof `lb_policy`).
    #[serde(
        default,
        alias = "consistent_hash",
        skip_serializing_if = "Option::is_none"
    )]
    pub consistent_hash: Option<ConsistentHashLb>,
    /// Locality-weighted load balancing.
    #[serde(
        default,
        alias = "locality_lb_setting",
        skip_serializing_if = "Option::is_none"
    )]
    pub locality_lb_setting: Option<LocalityLoadBalancerSetting>,
    /// Zone-aware load balancing.
    #[serde(
        default,
        alias = "zone_aware_lb_setting",
        skip_serializing_if = "Option::is_none"
    )]
    pub zone_aware_lb_setting: Option<ZoneAwareLoadBalancerSetting>,
    /// Deprecated slow-start window.
    #[serde(
        default,
        alias = "warmup_duration_secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub warmup_duration_secs: Option<Duration>,
    /// Slow start for new endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<WarmupConfiguration>,
}

/// Consistent-hash load balancing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsistentHashLb {
    /// Hash on this header (oneof `hash_key`).
    #[serde(
        default,
        alias = "http_header_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub http_header_name: Option<String>,
    /// Hash on a cookie (oneof `hash_key`).
    #[serde(
        default,
        alias = "http_cookie",
        skip_serializing_if = "Option::is_none"
    )]
    pub http_cookie: Option<HttpCookie>,
    /// Hash on the source IP (oneof `hash_key`).
    #[serde(
        default,
        alias = "use_source_ip",
        skip_serializing_if = "Option::is_none"
    )]
    pub use_source_ip: Option<bool>,
    /// Hash on a query parameter (oneof `hash_key`).
    #[serde(
        default,
        alias = "http_query_parameter_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub http_query_parameter_name: Option<String>,
    /// Ring hash (oneof `hash_algorithm`).
    #[serde(default, alias = "ring_hash", skip_serializing_if = "Option::is_none")]
    pub ring_hash: Option<RingHash>,
    /// Maglev (oneof `hash_algorithm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maglev: Option<MagLev>,
    /// Deprecated ring size.
    #[serde(
        default,
        alias = "minimum_ring_size",
        skip_serializing_if = "is_default"
    )]
    pub minimum_ring_size: u64,
}

/// Ring hash parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RingHash {
    /// Minimum ring size (default 1024).
    #[serde(
        default,
        alias = "minimum_ring_size",
        skip_serializing_if = "is_default"
    )]
    pub minimum_ring_size: u64,
}

/// Maglev parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MagLev {
    /// Lookup table size (a prime).
    #[serde(default, alias = "table_size", skip_serializing_if = "is_default")]
    pub table_size: u64,
}

/// The cookie to hash on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCookie {
    /// Cookie name.
    #[serde(default)]
    pub name: String,
    /// Path of a generated cookie.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Lifetime of a generated cookie; absent means no cookie is generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Duration>,
    /// Extra attributes of a generated cookie.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<CookieAttribute>,
}

/// A cookie attribute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CookieAttribute {
    /// Attribute name.
    #[serde(default)]
    pub name: String,
    /// Attribute value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// Slow start for new endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarmupConfiguration {
    /// Length of the warm-up window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    /// Starting share of traffic (default 10).
    #[serde(
        default,
        alias = "minimum_percent",
        skip_serializing_if = "Option::is_none"
    )]
    pub minimum_percent: Option<Double>,
    /// Curve of the ramp (default 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggression: Option<Double>,
}

/// Connection limits for a host (circuit breaking).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionPoolSettings {
    /// TCP settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpSettings>,
    /// HTTP settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpSettings>,
}

/// TCP connection settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpSettings {
    /// Maximum connections to the destination.
    #[serde(default, alias = "max_connections", skip_serializing_if = "is_default")]
    pub max_connections: i32,
    /// TCP connect timeout (default 10s).
    #[serde(
        default,
        alias = "connect_timeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub connect_timeout: Option<Duration>,
    /// Keepalive probes.
    #[serde(
        default,
        alias = "tcp_keepalive",
        skip_serializing_if = "Option::is_none"
    )]
    pub tcp_keepalive: Option<TcpKeepalive>,
    /// Maximum lifetime of a connection.
    #[serde(
        default,
        alias = "max_connection_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_connection_duration: Option<Duration>,
    /// Idle timeout (default 1h).
    #[serde(
        default,
        alias = "idle_timeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub idle_timeout: Option<Duration>,
}

/// TCP keepalive.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpKeepalive {
    /// Unanswered probes before the connection is dead.
    #[serde(default, skip_serializing_if = "is_default")]
    pub probes: u32,
    /// Idle time before probes start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Duration>,
    /// Interval between probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
}

proto_enum! {
    /// Whether HTTP/1.1 connections are upgraded to HTTP/2.
    pub enum H2UpgradePolicy {
        /// Mesh default.
        Default = 0 => "DEFAULT",
        /// Do not upgrade.
        DoNotUpgrade = 1 => "DO_NOT_UPGRADE",
        /// Upgrade.
        Upgrade = 2 => "UPGRADE",
    }
}

/// HTTP connection-pool settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpSettings {
    /// Maximum queued requests waiting for a connection.
    #[serde(
        default,
        alias = "http1_max_pending_requests",
        skip_serializing_if = "is_default"
    )]
    pub http1_max_pending_requests: i32,
    /// Maximum active requests.
    #[serde(
        default,
        alias = "http2_max_requests",
        skip_serializing_if = "is_default"
    )]
    pub http2_max_requests: i32,
    /// Maximum requests per connection; 1 disables keep-alive.
    #[serde(
        default,
        alias = "max_requests_per_connection",
        skip_serializing_if = "is_default"
    )]
    pub max_requests_per_connection: i32,
    /// Maximum concurrent retries.
    #[serde(default, alias = "max_retries", skip_serializing_if = "is_default")]
    pub max_retries: i32,
    /// Idle timeout of upstream connections.
    #[serde(
        default,
        alias = "idle_timeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub idle_timeout: Option<Duration>,
    /// HTTP/2 upgrade policy.
    #[serde(
        default,
        alias = "h2_upgrade_policy",
        skip_serializing_if = "is_default"
    )]
    pub h2_upgrade_policy: H2UpgradePolicy,
    /// Use the client's protocol upstream.
    #[serde(
        default,
        alias = "use_client_protocol",
        skip_serializing_if = "is_default"
    )]
    pub use_client_protocol: bool,
    /// Maximum concurrent streams per HTTP/2 connection.
    #[serde(
        default,
        alias = "max_concurrent_streams",
        skip_serializing_if = "is_default"
    )]
    pub max_concurrent_streams: i32,
    /// HTTP/2 keepalive pings.
    #[serde(
        default,
        alias = "http2_keep_alive",
        skip_serializing_if = "Option::is_none"
    )]
    pub http2_keep_alive: Option<ConnectionKeepalive>,
}

/// HTTP/2 keepalive pings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionKeepalive {
    /// Ping interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Ping timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// Ejection of endpoints that fail.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutlierDetection {
    /// Deprecated: consecutive gateway errors.
    #[serde(
        default,
        alias = "consecutive_errors",
        skip_serializing_if = "is_default"
    )]
    pub consecutive_errors: i32,
    /// Count local-origin failures separately.
    #[serde(
        default,
        alias = "split_external_local_origin_errors",
        skip_serializing_if = "is_default"
    )]
    pub split_external_local_origin_errors: bool,
    /// Consecutive local-origin failures before ejection.
    #[serde(
        default,
        alias = "consecutive_local_origin_failures",
        skip_serializing_if = "Option::is_none"
    )]
    pub consecutive_local_origin_failures: Option<u32>,
    /// Consecutive 502/503/504 before ejection (0 disables).
    #[serde(
        default,
        alias = "consecutive_gateway_errors",
        skip_serializing_if = "Option::is_none"
    )]
    pub consecutive_gateway_errors: Option<u32>,
    /// Consecutive 5xx before ejection (default 5, 0 disables).
    #[serde(
        default,
        alias = "consecutive_5xx_errors",
        skip_serializing_if = "Option::is_none"
    )]
    pub consecutive_5xx_errors: Option<u32>,
    /// Time between ejection sweeps (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Minimum ejection time, multiplied by the times ejected (default 30s).
    #[serde(
        default,
        alias = "base_ejection_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_ejection_time: Option<Duration>,
    /// Maximum share of endpoints ejected (default 10).
    #[serde(
        default,
        alias = "max_ejection_percent",
        skip_serializing_if = "is_default"
    )]
    pub max_ejection_percent: i32,
    /// Ejection stops below this share of healthy endpoints (default 0).
    #[serde(
        default,
        alias = "min_health_percent",
        skip_serializing_if = "is_default"
    )]
    pub min_health_percent: i32,
    /// HTTP codes that count as errors.
    #[serde(
        default,
        alias = "outlier_detection_http_error_codes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub outlier_detection_http_error_codes: Vec<u32>,
}

proto_enum! {
    /// Client TLS mode.
    pub enum ClientTlsMode {
        /// Plain text.
        Disable = 0 => "DISABLE",
        /// TLS.
        Simple = 1 => "SIMPLE",
        /// Mutual TLS with given certificates.
        Mutual = 2 => "MUTUAL",
        /// Mutual TLS with Istio's certificates.
        IstioMutual = 3 => "ISTIO_MUTUAL",
    }
}

/// Client-side TLS settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientTlsSettings {
    /// The mode.
    #[serde(default, skip_serializing_if = "is_default")]
    pub mode: ClientTlsMode,
    /// Client certificate file.
    #[serde(
        default,
        alias = "client_certificate",
        skip_serializing_if = "String::is_empty"
    )]
    pub client_certificate: String,
    /// Private key file.
    #[serde(
        default,
        alias = "private_key",
        skip_serializing_if = "String::is_empty"
    )]
    pub private_key: String,
    /// CA certificates file.
    #[serde(
        default,
        alias = "ca_certificates",
        skip_serializing_if = "String::is_empty"
    )]
    pub ca_certificates: String,
    /// Secret holding the credentials.
    #[serde(
        default,
        alias = "credential_name",
        skip_serializing_if = "String::is_empty"
    )]
    pub credential_name: String,
    /// Accepted subject alternative names.
    #[serde(
        default,
        alias = "subject_alt_names",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subject_alt_names: Vec<String>,
    /// SNI to present.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sni: String,
    /// Skip server certificate verification.
    #[serde(
        default,
        alias = "insecure_skip_verify",
        skip_serializing_if = "Option::is_none"
    )]
    pub insecure_skip_verify: Option<bool>,
    /// Certificate revocation list file.
    #[serde(default, alias = "ca_crl", skip_serializing_if = "String::is_empty")]
    pub ca_crl: String,
}

/// Locality-weighted load balancing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalityLoadBalancerSetting {
    /// Weighted distribution from one locality to others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distribute: Vec<LocalityDistribute>,
    /// Region failover.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failover: Vec<LocalityFailover>,
    /// Labels ordering failover priority.
    #[serde(
        default,
        alias = "failover_priority",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub failover_priority: Vec<String>,
    /// Enables locality load balancing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// Traffic distribution from a locality.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalityDistribute {
    /// Originating locality (`region/zone/subzone`, `*` allowed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// Destination localities and their weights (summing to 100).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub to: BTreeMap<String, u32>,
}

/// Failover from one region to another.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalityFailover {
    /// Originating region.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// Failover region.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to: String,
}

/// Zone-aware load balancing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ZoneAwareLoadBalancerSetting {
    /// Enables zone-aware routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Region failover.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failover: Vec<LocalityFailover>,
    /// Labels ordering failover priority.
    #[serde(
        default,
        alias = "failover_priority",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub failover_priority: Vec<String>,
    /// Minimum cluster size for zone-aware routing.
    #[serde(
        default,
        alias = "min_cluster_size",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_cluster_size: Option<u64>,
}
