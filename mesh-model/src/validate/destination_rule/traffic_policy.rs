//! `validateTrafficPolicy` and what it calls: outlier detection, connection pool, client TLS
//! (`agent.ValidateTLS`), port-level settings, tunnel; plus the CRD's range checks on fields
//! Istio's Go code leaves alone.

use super::load_balancer::validate_load_balancer;
use crate::destination_rule::{
    ClientTlsMode, ClientTlsSettings, ConnectionPoolSettings, H2UpgradePolicy, HttpSettings,
    OutlierDetection, PortTrafficPolicy, RetryBudget, TcpSettings, TrafficPolicy, TunnelSettings,
};
use crate::validate::Sink;
use crate::validate::common;

/// `validateTrafficPolicy` for the policy at `path` (`spec.trafficPolicy` or a subset's).
pub(super) fn validate_traffic_policy(sink: &mut Sink<'_>, path: &str, policy: &TrafficPolicy) {
    // A `portLevelSettings: []` decodes to nil in Go, so it counts as unset.
    if policy.outlier_detection.is_none()
        && policy.connection_pool.is_none()
        && policy.load_balancer.is_none()
        && policy.tls.is_none()
        && policy.port_level_settings.is_empty()
        && policy.tunnel.is_none()
        && policy.proxy_protocol.is_none()
        && policy.retry_budget.is_none()
    {
        sink.error(path, "traffic policy must have at least one field");
        return;
    }
    if policy.tunnel.is_some() && policy.proxy_protocol.is_some() {
        // Istio stops here: nothing else of the policy is checked.
        sink.error(path, "tunnel and proxyProtocol must not be set together");
        return;
    }

    let outlier = policy.outlier_detection.as_ref();
    if let Some(o) = outlier {
        validate_outlier_detection(sink, &format!("{path}.outlierDetection"), o);
    }
    if let Some(cp) = &policy.connection_pool {
        validate_connection_pool(sink, &format!("{path}.connectionPool"), cp);
    }
    if let Some(lb) = &policy.load_balancer {
        validate_load_balancer(sink, &format!("{path}.loadBalancer"), lb, outlier);
    }
    if let Some(tls) = &policy.tls {
        validate_client_tls(sink, &format!("{path}.tls"), tls);
    }
    for (i, pl) in policy.port_level_settings.iter().enumerate() {
        validate_port_traffic_policy(sink, &format!("{path}.portLevelSettings[{i}]"), pl);
    }
    if let Some(tunnel) = &policy.tunnel {
        validate_tunnel(sink, &format!("{path}.tunnel"), tunnel);
    }
    // `validateProxyProtocol` rejects versions other than V1 and V2; the model's enum cannot
    // hold another version (the loader rejects it), so there is nothing left to check.
    if let Some(budget) = &policy.retry_budget {
        validate_retry_budget(sink, &format!("{path}.retryBudget"), budget);
    }
}

/// `validatePortTrafficPolicies`, for one entry.
fn validate_port_traffic_policy(sink: &mut Sink<'_>, path: &str, pl: &PortTrafficPolicy) {
    if pl.port.is_none() {
        sink.error(
            format!("{path}.port"),
            "portTrafficPolicy must have valid port",
        );
    }
    if pl.outlier_detection.is_none()
        && pl.connection_pool.is_none()
        && pl.load_balancer.is_none()
        && pl.tls.is_none()
    {
        sink.error(path, "port traffic policy must have at least one field");
        return;
    }
    let outlier = pl.outlier_detection.as_ref();
    if let Some(o) = outlier {
        validate_outlier_detection(sink, &format!("{path}.outlierDetection"), o);
    }
    if let Some(cp) = &pl.connection_pool {
        validate_connection_pool(sink, &format!("{path}.connectionPool"), cp);
    }
    if let Some(lb) = &pl.load_balancer {
        validate_load_balancer(sink, &format!("{path}.loadBalancer"), lb, outlier);
    }
    if let Some(tls) = &pl.tls {
        validate_client_tls(sink, &format!("{path}.tls"), tls);
    }
}

/// `validateOutlierDetection`.
fn validate_outlier_detection(sink: &mut Sink<'_>, path: &str, o: &OutlierDetection) {
    if let Some(d) = &o.base_ejection_time {
        sink.check(
            format!("{path}.baseEjectionTime"),
            common::validate_duration(d),
        );
    }
    if o.consecutive_errors != 0 {
        sink.warning(
            format!("{path}.consecutiveErrors"),
            "outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead",
        );
    }
    if !o.split_external_local_origin_errors && o.consecutive_local_origin_failures.unwrap_or(0) > 0
    {
        sink.error(
            format!("{path}.consecutiveLocalOriginFailures"),
            "outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false",
        );
    }
    if let Some(d) = &o.interval {
        sink.check(format!("{path}.interval"), common::validate_duration(d));
    }
    sink.check(
        format!("{path}.maxEjectionPercent"),
        common::validate_percent_int(o.max_ejection_percent),
    );
    sink.check(
        format!("{path}.minHealthPercent"),
        common::validate_percent_int(o.min_health_percent),
    );
    // CRD schema: `minimum: 100`, `maximum: 599` on each code (Istio's Go code does not check).
    for (i, code) in o.outlier_detection_http_error_codes.iter().enumerate() {
        let p = format!("{path}.outlierDetectionHttpErrorCodes[{i}]");
        if *code < 100 {
            sink.error(p, "should be greater than or equal to 100");
        } else if *code > 599 {
            sink.error(p, "should be less than or equal to 599");
        }
    }
}

/// `validateConnectionPool`.
fn validate_connection_pool(sink: &mut Sink<'_>, path: &str, cp: &ConnectionPoolSettings) {
    if cp.http.is_none() && cp.tcp.is_none() {
        sink.error(path, "connection pool must have at least one field");
        return;
    }
    if let Some(http) = &cp.http {
        validate_http_settings(sink, &format!("{path}.http"), http);
    }
    if let Some(tcp) = &cp.tcp {
        validate_tcp_settings(sink, &format!("{path}.tcp"), tcp);
    }
}

fn validate_http_settings(sink: &mut Sink<'_>, path: &str, http: &HttpSettings) {
    let non_negative = [
        (
            "http1MaxPendingRequests",
            http.http1_max_pending_requests,
            "http1 max pending requests must be non-negative",
        ),
        (
            "http2MaxRequests",
            http.http2_max_requests,
            "http2 max requests must be non-negative",
        ),
        (
            "maxRequestsPerConnection",
            http.max_requests_per_connection,
            "max requests per connection must be non-negative",
        ),
        (
            "maxRetries",
            http.max_retries,
            "max retries must be non-negative",
        ),
    ];
    for (field, value, message) in non_negative {
        if value < 0 {
            sink.error(format!("{path}.{field}"), message);
        }
    }
    if let Some(d) = &http.idle_timeout {
        sink.check(format!("{path}.idleTimeout"), common::validate_duration(d));
    }
    if http.h2_upgrade_policy == H2UpgradePolicy::Upgrade && http.use_client_protocol {
        sink.error(
            format!("{path}.useClientProtocol"),
            "use client protocol must not be true when H2UpgradePolicy is UPGRADE",
        );
    }
    if http.max_concurrent_streams < 0 {
        sink.error(
            format!("{path}.maxConcurrentStreams"),
            "max concurrent streams must be non-negative",
        );
    }
    if let Some(ka) = &http.http2_keep_alive {
        let p = format!("{path}.http2KeepAlive");
        match &ka.interval {
            None => sink.error(
                format!("{p}.interval"),
                "http2 keepalive interval is required",
            ),
            Some(d) => sink.check(format!("{p}.interval"), common::validate_duration(d)),
        }
        match &ka.timeout {
            None => sink.error(
                format!("{p}.timeout"),
                "http2 keepalive timeout is required",
            ),
            Some(d) => sink.check(format!("{p}.timeout"), common::validate_duration(d)),
        }
    }
}

fn validate_tcp_settings(sink: &mut Sink<'_>, path: &str, tcp: &TcpSettings) {
    if tcp.max_connections < 0 {
        sink.error(
            format!("{path}.maxConnections"),
            "max connections must be non-negative",
        );
    }
    if let Some(d) = &tcp.connect_timeout {
        sink.check(
            format!("{path}.connectTimeout"),
            common::validate_duration(d),
        );
    }
    if let Some(d) = &tcp.max_connection_duration {
        sink.check(
            format!("{path}.maxConnectionDuration"),
            common::validate_duration(d),
        );
    }
    if let Some(d) = &tcp.idle_timeout {
        // 0s disables the timeout. Go compares `Milliseconds()` (truncated) with 0, so any
        // value under 1ms in magnitude is skipped as well.
        if d.as_nanos() / 1_000_000 != 0 {
            sink.check(format!("{path}.idleTimeout"), common::validate_duration(d));
        }
    }
    if let Some(ka) = &tcp.tcp_keepalive {
        if let Some(d) = &ka.time {
            sink.check(
                format!("{path}.tcpKeepalive.time"),
                common::validate_duration(d),
            );
        }
        if let Some(d) = &ka.interval {
            sink.check(
                format!("{path}.tcpKeepalive.interval"),
                common::validate_duration(d),
            );
        }
    }
}

/// `agent.ValidateTLS` (client TLS settings of a destination).
fn validate_client_tls(sink: &mut Sink<'_>, path: &str, tls: &ClientTlsSettings) {
    const CONFIGMAP_URI: &str = "configmap://";
    if let Some(rest) = tls.credential_name.strip_prefix(CONFIGMAP_URI) {
        let ns = sink.namespace().to_owned();
        let message = match parse_configmap_resource(&tls.credential_name, rest) {
            Err(e) => Some(format!("invalid configmap:// credentialName: {e}")),
            Ok(rn_ns) if rn_ns != ns || ns.is_empty() => Some(format!(
                "invalid configmap:// credentialName: namespace must match the configuration namespace {ns:?}"
            )),
            Ok(_) => None,
        };
        if let Some(m) = message {
            sink.error(format!("{path}.credentialName"), m);
        }
    }

    if tls.insecure_skip_verify == Some(true) {
        // Go tests `SubjectAltNames != nil`; an empty list decodes to nil.
        if tls.mode == ClientTlsMode::Simple
            && (!tls.ca_certificates.is_empty()
                || !tls.credential_name.is_empty()
                || !tls.subject_alt_names.is_empty())
        {
            sink.error(
                format!("{path}.insecureSkipVerify"),
                "cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true",
            );
        }
        if tls.mode == ClientTlsMode::Mutual
            && (!tls.ca_certificates.is_empty() || !tls.subject_alt_names.is_empty())
        {
            sink.error(
                format!("{path}.insecureSkipVerify"),
                "cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true",
            );
        }
    }

    if matches!(tls.mode, ClientTlsMode::Simple | ClientTlsMode::Mutual)
        && !tls.credential_name.is_empty()
    {
        if !tls.client_certificate.is_empty()
            || !tls.ca_certificates.is_empty()
            || !tls.private_key.is_empty()
            || !tls.ca_crl.is_empty()
        {
            sink.error(
                format!("{path}.credentialName"),
                "cannot specify client certificates or CA certificate or CA CRL If credentialName is set",
            );
        }
        // Credentials come from the secret: no certificate files are required.
        return;
    }

    if tls.mode == ClientTlsMode::Mutual {
        if tls.client_certificate.is_empty() {
            sink.error(
                format!("{path}.clientCertificate"),
                "client certificate required for mutual tls",
            );
        }
        if tls.private_key.is_empty() {
            sink.error(
                format!("{path}.privateKey"),
                "private key required for mutual tls",
            );
        }
    }
}

/// `credentials.ParseResourceName` for `configmap://namespace/name`: the namespace, or
/// Istio's error.
fn parse_configmap_resource(resource_name: &str, rest: &str) -> Result<String, String> {
    let mut split = rest.split('/');
    let namespace = split.next().unwrap_or_default();
    let Some(name) = split.next() else {
        return Err(format!(
            "invalid resource name {resource_name:?}. Expected namespace and name"
        ));
    };
    if namespace.is_empty() {
        return Err(format!(
            "invalid resource name {resource_name:?}. Expected namespace"
        ));
    }
    if name.is_empty() {
        return Err(format!(
            "invalid resource name {resource_name:?}. Expected name"
        ));
    }
    Ok(namespace.to_owned())
}

/// `validateTunnelSettings`.
fn validate_tunnel(sink: &mut Sink<'_>, path: &str, tunnel: &TunnelSettings) {
    if !matches!(tunnel.protocol.as_str(), "" | "CONNECT" | "POST") {
        sink.error(
            format!("{path}.protocol"),
            "tunnel protocol must be \"CONNECT\" or \"POST\"",
        );
    }
    if let (Err(fqdn), Err(ip)) = (
        common::validate_fqdn(&tunnel.target_host),
        common::validate_ip_address(&tunnel.target_host),
    ) {
        sink.error(
            format!("{path}.targetHost"),
            format!("tunnel target host must be valid FQDN or IP address: {fqdn}; {ip}"),
        );
    }
    if let Err(e) = common::validate_port(i64::from(tunnel.target_port)) {
        sink.error(
            format!("{path}.targetPort"),
            format!("tunnel target port is invalid: {e}"),
        );
    }
}

/// The retry budget: Istio's Go code does not check it; the CRD bounds `percent` to
/// `0..=100`.
fn validate_retry_budget(sink: &mut Sink<'_>, path: &str, budget: &RetryBudget) {
    if let Some(p) = budget.percent {
        if p.0 < 0.0 {
            sink.error(
                format!("{path}.percent"),
                "should be greater than or equal to 0",
            );
        } else if p.0 > 100.0 {
            sink.error(
                format!("{path}.percent"),
                "should be less than or equal to 100",
            );
        }
    }
}
