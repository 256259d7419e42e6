//! README's "warned" rows: each field the README lists as read and validated but not
//! executed produces a compile warning naming the resource and the field path, so nothing is
//! silently ignored. One case per row; a row whose warning disappears fails here.

use mesh_route::{CompileOptions, Identity, RouteTable};

/// The warnings (`resource: path: message`) of `yaml` compiled for `identity`.
fn warnings(yaml: &str, identity: &Identity) -> Vec<String> {
    let resources = mesh_model::load_str(yaml).unwrap_or_else(|e| panic!("load: {e}\n{yaml}"));
    let table = RouteTable::compile(&resources, identity, &CompileOptions::default())
        .unwrap_or_else(|e| panic!("compile: {e}\n{yaml}"));
    table.warnings().iter().map(ToString::to_string).collect()
}

/// A VirtualService for `shop` in `demo` whose only rule has `rule` (YAML lines indented for
/// a rule), plus `extra` documents.
fn vs(rule: &str, extra: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop, namespace: demo}}
spec:
  hosts: [shop]
  http:
  - route: [{{destination: {{host: shop}}}}]
{rule}
{extra}"
    )
}

/// A DestinationRule for `shop` with `policy` as its `trafficPolicy` (indented for it).
fn dr(policy: &str) -> String {
    format!(
        "---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: shop, namespace: demo}}
spec:
  host: shop
  trafficPolicy:
{policy}"
    )
}

fn assert_warned(yaml: &str, identity: &Identity, want: &[&str]) {
    let got = warnings(yaml, identity);
    for w in want {
        assert!(
            got.iter().any(|g| g.contains(w)),
            "no warning containing {w:?}; got {got:#?}\nfor:\n{yaml}"
        );
    }
}

/// `headers` with an Envoy `%VARIABLE%` formatter: warned, and sent as written.
#[test]
fn header_formatters_are_warned() {
    let yaml = vs(
        "    headers:\n      request:\n        set: {x-client: \"%DOWNSTREAM_REMOTE_ADDRESS%\"}",
        "",
    );
    assert_warned(
        &yaml,
        &Identity::sidecar("demo"),
        &[
            "VirtualService demo/shop",
            "%DOWNSTREAM_REMOTE_ADDRESS%",
            "not evaluated in-process",
        ],
    );
}

/// `retries.retryRemoteLocalities: true` is warned (there are no localities in-process).
#[test]
fn retry_remote_localities_is_warned() {
    let yaml = vs(
        "    retries: {attempts: 2, retryRemoteLocalities: true}",
        "",
    );
    assert_warned(
        &yaml,
        &Identity::sidecar("demo"),
        &["VirtualService demo/shop: spec.http[0].retries.retryRemoteLocalities"],
    );
}

/// `tcp` and `tls` routes are warned: the engine is HTTP.
#[test]
fn tcp_and_tls_routes_are_warned() {
    for l4 in [
        "  tcp:\n  - route: [{destination: {host: shop, port: {number: 3306}}}]",
        "  tls:\n  - match: [{sniHosts: [shop]}]\n    route: [{destination: {host: shop}}]",
    ] {
        let yaml = vs(l4, "");
        assert_warned(
            &yaml,
            &Identity::sidecar("demo"),
            &["VirtualService demo/shop: spec: tcp and tls routes are not executed"],
        );
    }
}

/// DestinationRule `tls`, `tunnel`, `proxyProtocol`, `localityLbSetting`, `warmup`: each
/// warned at its path, at the top level, per port and per subset.
#[test]
fn traffic_policy_fields_not_executed_are_warned() {
    let cases = [
        ("    tls: {mode: ISTIO_MUTUAL}", "spec.trafficPolicy.tls"),
        (
            "    tunnel: {protocol: CONNECT, targetHost: proxy.example.com, targetPort: 8080}",
            "spec.trafficPolicy.tunnel",
        ),
        (
            "    proxyProtocol: {version: V1}",
            "spec.trafficPolicy.proxyProtocol",
        ),
        (
            "    loadBalancer:\n      simple: ROUND_ROBIN\n      localityLbSetting: {enabled: true}",
            "spec.trafficPolicy.loadBalancer.localityLbSetting",
        ),
        (
            "    loadBalancer:\n      simple: ROUND_ROBIN\n      warmupDurationSecs: 60s",
            "spec.trafficPolicy.loadBalancer.warmup",
        ),
        (
            "    portLevelSettings:\n    - port: {number: 80}\n      tls: {mode: SIMPLE}",
            "spec.trafficPolicy.portLevelSettings[0].tls",
        ),
    ];
    for (policy, path) in cases {
        let yaml = vs("", &dr(policy));
        assert_warned(
            &yaml,
            &Identity::sidecar("demo"),
            &[&format!("DestinationRule demo/shop: {path}: ")],
        );
    }
    // In a subset.
    let yaml = vs(
        "",
        "---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop, namespace: demo}
spec:
  host: shop
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      tls: {mode: SIMPLE}",
    );
    assert_warned(
        &yaml,
        &Identity::sidecar("demo"),
        &["DestinationRule demo/shop: spec.subsets[0].trafficPolicy.tls: "],
    );
}

/// `connectionPool`: `connectTimeout`, the idle timeouts, `maxRequestsPerConnection`, the
/// keepalives and `h2UpgradePolicy` are warned.
#[test]
fn connection_settings_not_executed_are_warned() {
    let cases = [
        (
            "tcp: {connectTimeout: 1s}",
            "connectionPool.tcp.connectTimeout",
        ),
        ("tcp: {idleTimeout: 1h}", "connectionPool.tcp.idleTimeout"),
        (
            "tcp: {tcpKeepalive: {time: 10s}}",
            "connectionPool.tcp.tcpKeepalive",
        ),
        ("http: {idleTimeout: 1h}", "connectionPool.http.idleTimeout"),
        (
            "http: {maxRequestsPerConnection: 10}",
            "connectionPool.http.maxRequestsPerConnection",
        ),
        ("http: {h2UpgradePolicy: UPGRADE}", "connectionPool.http: "),
    ];
    for (pool, path) in cases {
        let yaml = vs("", &dr(&format!("    connectionPool:\n      {pool}")));
        assert_warned(
            &yaml,
            &Identity::sidecar("demo"),
            &[&format!(
                "DestinationRule demo/shop: spec.trafficPolicy.{path}"
            )],
        );
    }
}

/// A Gateway server that terminates TLS is warned (terminate TLS in front of the proxy);
/// an `httpsRedirect`-only plain server is not.
#[test]
fn gateway_tls_termination_is_warned() {
    let gateway = |tls: &str| {
        format!(
            "apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: gw, namespace: demo}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: 443, name: https, protocol: HTTPS}}
    hosts: [shop.example.com]
    tls: {tls}
"
        )
    };
    let identity = Identity::gateway("demo", "gw");
    let terminating = gateway("{mode: SIMPLE, credentialName: shop-cert}");
    assert_warned(
        &terminating,
        &identity,
        &["Gateway demo/gw: spec.servers[0].tls: TLS termination is not executed"],
    );
    let redirect = gateway("{httpsRedirect: true}").replace(
        "number: 443, name: https, protocol: HTTPS",
        "number: 80, name: http, protocol: HTTP",
    );
    let got = warnings(&redirect, &identity);
    assert!(
        got.iter().all(|w| !w.contains("TLS termination")),
        "{got:#?}"
    );
}
