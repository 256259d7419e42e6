//! Fields that are read and validated but not executed in-process. Compiling a table
//! reports each one it meets as a warning, so that nothing is silently ignored.

use mesh_model::destination_rule::{DestinationRule, TrafficPolicy};
use mesh_model::gateway::{Gateway, ServerTlsMode};
use mesh_model::virtual_service::HttpRoute;

/// `(path, message)` for every unexecuted field of a traffic policy at `at`.
fn traffic_policy(tp: &TrafficPolicy, at: &str, out: &mut Vec<(String, String)>) {
    let mut note = |path: String, what: &str| {
        out.push((path, format!("{what} is not executed in-process")));
    };
    if tp.tls.is_some() {
        note(format!("{at}.tls"), "client TLS (mTLS and TLS origination)");
    }
    if tp.tunnel.is_some() {
        note(format!("{at}.tunnel"), "tunnelling");
    }
    if tp.proxy_protocol.is_some() {
        note(format!("{at}.proxyProtocol"), "the PROXY protocol");
    }
    if let Some(lb) = &tp.load_balancer {
        if lb.locality_lb_setting.is_some() {
            note(
                format!("{at}.loadBalancer.localityLbSetting"),
                "locality load balancing",
            );
        }
        if lb.zone_aware_lb_setting.is_some() {
            note(
                format!("{at}.loadBalancer.zoneAwareLbSetting"),
                "zone-aware load balancing",
            );
        }
        if lb.warmup.is_some() || lb.warmup_duration_secs.is_some() {
            note(format!("{at}.loadBalancer.warmup"), "slow start (warmup)");
        }
        if let Some(ch) = &lb.consistent_hash {
            if ch.http_cookie.as_ref().is_some_and(|c| c.ttl.is_some()) {
                note(
                    format!("{at}.loadBalancer.consistentHash.httpCookie.ttl"),
                    "generating the hash cookie (requests without it are balanced at random)",
                );
            }
        }
    }
    if let Some(cp) = &tp.connection_pool {
        if let Some(tcp) = &cp.tcp {
            if tcp.connect_timeout.is_some() {
                note(
                    format!("{at}.connectionPool.tcp.connectTimeout"),
                    "a per-destination connect timeout (mesh-proxy's client uses 10s)",
                );
            }
            if tcp.idle_timeout.is_some() {
                note(
                    format!("{at}.connectionPool.tcp.idleTimeout"),
                    "a per-destination idle timeout",
                );
            }
            if tcp.tcp_keepalive.is_some() {
                note(
                    format!("{at}.connectionPool.tcp.tcpKeepalive"),
                    "TCP keepalive",
                );
            }
            if tcp.max_connection_duration.is_some() {
                note(
                    format!("{at}.connectionPool.tcp.maxConnectionDuration"),
                    "a maximum connection duration",
                );
            }
        }
        if let Some(http) = &cp.http {
            if http.idle_timeout.is_some() {
                note(
                    format!("{at}.connectionPool.http.idleTimeout"),
                    "a per-destination idle timeout",
                );
            }
            if http.max_requests_per_connection > 0 {
                note(
                    format!("{at}.connectionPool.http.maxRequestsPerConnection"),
                    "a per-connection request limit (in-process calls have no connections)",
                );
            }
            if http.h2_upgrade_policy != Default::default() || http.use_client_protocol {
                note(
                    format!("{at}.connectionPool.http"),
                    "choosing the upstream HTTP version",
                );
            }
            if http.http2_keep_alive.is_some() {
                note(
                    format!("{at}.connectionPool.http.http2KeepAlive"),
                    "HTTP/2 keepalive pings",
                );
            }
            if http.max_concurrent_streams != 0 {
                note(
                    format!("{at}.connectionPool.http.maxConcurrentStreams"),
                    "a per-connection stream limit",
                );
            }
        }
    }
}

/// Unexecuted fields of a DestinationRule.
pub(crate) fn destination_rule(dr: &DestinationRule) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(tp) = &dr.traffic_policy {
        traffic_policy(tp, "spec.trafficPolicy", &mut out);
        for (i, pl) in tp.port_level_settings.iter().enumerate() {
            let as_policy = TrafficPolicy {
                load_balancer: pl.load_balancer.clone(),
                connection_pool: pl.connection_pool.clone(),
                outlier_detection: pl.outlier_detection.clone(),
                tls: pl.tls.clone(),
                ..TrafficPolicy::default()
            };
            traffic_policy(
                &as_policy,
                &format!("spec.trafficPolicy.portLevelSettings[{i}]"),
                &mut out,
            );
        }
    }
    for (i, s) in dr.subsets.iter().enumerate() {
        if let Some(tp) = &s.traffic_policy {
            traffic_policy(tp, &format!("spec.subsets[{i}].trafficPolicy"), &mut out);
        }
    }
    out
}

/// Unexecuted fields of a Gateway.
pub(crate) fn gateway(gw: &Gateway) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, s) in gw.servers.iter().enumerate() {
        if let Some(tls) = &s.tls {
            let terminates = !matches!(
                tls.mode,
                ServerTlsMode::Passthrough | ServerTlsMode::AutoPassthrough
            ) || !tls.credential_name.is_empty()
                || !tls.server_certificate.is_empty();
            if terminates && !(tls.https_redirect && tls.mode == ServerTlsMode::Passthrough) {
                out.push((
                    format!("spec.servers[{i}].tls"),
                    "TLS termination is not executed in-process: terminate TLS in front of it; its HTTP routes apply to the decrypted requests".to_owned(),
                ));
            }
        }
    }
    out
}

/// Unexecuted fields of an HTTP route.
pub(crate) fn http_route(r: &HttpRoute, at: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if r.retries.as_ref().and_then(|x| x.retry_remote_localities) == Some(true) {
        out.push((
            format!("{at}.retries.retryRemoteLocalities"),
            "retrying in other localities is not executed in-process (there are no localities)"
                .to_owned(),
        ));
    }
    out
}
