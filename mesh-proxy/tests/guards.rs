//! The proxy never forwards to itself, refuses a request that already passed it, and with
//! `--allow-any` never reaches its own admin port or other loopback services (issue 10,
//! items 1 and 4).

mod common;

use std::net::SocketAddr;

use common::{PATIENCE, TempDir, Upstream, client, get, metric, raw_request, requests_total};
use envoy_harness::{EchoUpstream, Envoy, raw};
use mesh_proxy::{Running, Settings};
use mesh_route::Identity;

/// A ServiceEntry for `site.example.com` on service port 80, its endpoint 127.0.0.1 with
/// `ports: {http: endpoint_port}`, and a DestinationRule; no VirtualService.
fn site(endpoint_port: u16) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: site, namespace: default}}
spec:
  hosts: [site.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports:
  - {{number: 80, name: http, protocol: HTTP}}
  endpoints:
  - address: 127.0.0.1
    ports: {{http: {endpoint_port}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: site, namespace: default}}
spec:
  host: site.example.com
  trafficPolicy:
    loadBalancer: {{simple: ROUND_ROBIN}}
"
    )
}

/// A sidecar in `default` reading `paths`, as `mesh-proxy -f FILE` without `--port-as`.
fn sidecar(paths: Vec<std::path::PathBuf>) -> Settings {
    Settings {
        identity: Identity::sidecar("default"),
        default_namespace: "default".to_owned(),
        ..common::settings(paths)
    }
}

/// Starts the proxy on listeners bound beforehand (so the configuration can name them).
async fn start_on(
    settings: Settings,
    listener: tokio::net::TcpListener,
    admin: tokio::net::TcpListener,
) -> Running {
    match mesh_proxy::start(settings, listener, Some(admin)).await {
        Ok(r) => r,
        Err(findings) => panic!("the configuration is rejected: {findings:#?}"),
    }
}

async fn bind() -> (tokio::net::TcpListener, SocketAddr) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let a = l.local_addr().expect("address");
    (l, a)
}

/// Istio's cluster `outbound|80||site.example.com` sends to the endpoint's port from the
/// ServiceEntry's port map, whatever port the proxy listens on. Measured with Envoy 1.40
/// (this test runs it when Envoy is installed): a sidecar listener with the route
/// `site.example.com` -> that cluster (endpoint `127.0.0.1:P`) answers 200 from P. Before
/// the fix, mesh-proxy routed on its own listen port, found no such port in the map, used
/// it as is and sent the request to itself: ~20 000 times, every file descriptor used,
/// RSS 14 -> 466 MiB (measured).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_entry_default_route_reaches_the_endpoint_port_not_the_proxy() {
    let upstream = Upstream::ok("site").await;
    let dir = TempDir::new("loop");
    let file = dir.write("site.yaml", &site(upstream.port()));
    let proxy = common::start(sidecar(vec![file])).await;
    let c = client();
    let r = get(&c, proxy.addr, "site.example.com", "/hello", &[]).await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "site"));
    assert_eq!(upstream.calls(), 1);
    let m = proxy.handle().metrics().encode();
    assert_eq!(requests_total(&m, &[]), 1, "one request, no loop: {m}");

    // A port the ServiceEntry does not declare has no cluster (503 NC), never the proxy.
    let own = format!("site.example.com:{}", proxy.addr.port());
    let r = get(&c, proxy.addr, &own, "/", &[]).await;
    assert_eq!(r.status.as_u16(), 503);
    let m = proxy.handle().metrics().encode();
    assert_eq!(requests_total(&m, &[("response_flags", "NC")]), 1, "{m}");
    assert_eq!(requests_total(&m, &[]), 2, "{m}");
    proxy.shutdown().await;

    // The same configuration through Envoy as istiod builds it.
    let Some(bin) =
        Envoy::binary_or_skip("a_service_entry_default_route_reaches_the_endpoint_port")
    else {
        return;
    };
    let echo = EchoUpstream::start("site");
    let envoy = Envoy::start(&bin, &envoy_site(echo.addr().port())).expect("envoy starts");
    let reply = raw::send(
        envoy.listener(0),
        b"GET /hello HTTP/1.1\r\nhost: site.example.com\r\nconnection: close\r\n\r\n",
    );
    assert_eq!(reply.status, Some(200), "{reply:?}");
    assert_eq!(echo.received().len(), 1);
}

/// istiod's sidecar outbound HTTP route for port 80 and the cluster of the ServiceEntry.
fn envoy_site(endpoint_port: u16) -> String {
    format!(
        r#"
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
static_resources:
  listeners:
  - name: 0.0.0.0_80
    address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: outbound_0.0.0.0_80
          use_remote_address: false
          normalize_path: true
          path_with_escaped_slashes_action: KEEP_UNCHANGED
          upgrade_configs: [{{upgrade_type: websocket}}]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
          route_config:
            name: "80"
            validate_clusters: false
            virtual_hosts:
            - name: site.example.com:80
              domains: [site.example.com, site.example.com:80]
              routes:
              - match: {{prefix: /}}
                route: {{cluster: "outbound|80||site.example.com", timeout: 0s}}
  clusters:
  - name: "outbound|80||site.example.com"
    type: STATIC
    connect_timeout: 10s
    load_assignment:
      cluster_name: "outbound|80||site.example.com"
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {endpoint_port}}}}}}}}}]}}]
"#
    )
}

/// Defence in depth: a ServiceEntry whose endpoint is the proxy's own data or admin
/// address is refused at connect time (503 `UF`); the request is counted once, not
/// thousands of times, and the admin's `/config` never leaks through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_at_the_proxys_own_address_is_refused() {
    for target in ["data", "admin"] {
        let (listener, addr) = bind().await;
        let (admin, admin_addr) = bind().await;
        let port = if target == "data" {
            addr.port()
        } else {
            admin_addr.port()
        };
        let dir = TempDir::new("own");
        let file = dir.write("site.yaml", &site(port));
        let proxy = start_on(sidecar(vec![file]), listener, admin).await;
        let r = get(&client(), proxy.addr, "site.example.com", "/config", &[]).await;
        assert_eq!(r.status.as_u16(), 503, "{target}: {r:?}");
        assert!(
            r.body.contains("connection failure"),
            "{target}: {}",
            r.body
        );
        assert!(
            !r.body.contains("resources"),
            "{target}: the admin answered"
        );
        let m = proxy.handle().metrics().encode();
        assert_eq!(requests_total(&m, &[]), 1, "{target}: {m}");
        assert_eq!(
            requests_total(&m, &[("response_flags", "UF,URX")]),
            1,
            "{target}: {m}"
        );
        proxy.shutdown().await;
    }
}

/// A request that already passed this proxy is refused, as Envoy's `cdn_loop` filter does
/// (RFC 8586). Measured with Envoy 1.40 (`cdn_id: mesh-test`): `CDN-Loop: mesh-test` ->
/// 502 `The server has detected a loop between CDNs.`; `CDN-Loop: other, foo` -> 200;
/// `CDN-Loop: ,,@@` -> 400 `Invalid CDN-Loop header in request.` with `connection: close`.
/// Every forwarded request carries the proxy's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_already_passed_the_proxy_is_refused() {
    let upstream = Upstream::ok("site").await;
    let dir = TempDir::new("cdnloop");
    let file = dir.write("site.yaml", &site(upstream.port()));
    let mut settings = sidecar(vec![file]);
    settings.options.cdn_loop_id = Some("edge-7".to_owned());
    let proxy = common::start(settings).await;
    let c = client();

    let r = get(
        &c,
        proxy.addr,
        "site.example.com",
        "/",
        &[("cdn-loop", "other, foo")],
    )
    .await;
    assert_eq!(r.status.as_u16(), 200);
    let seen = upstream.seen();
    assert_eq!(seen[0].header("cdn-loop"), "other, foo, edge-7");

    let r = get(
        &c,
        proxy.addr,
        "site.example.com",
        "/",
        &[("cdn-loop", "a, edge-7")],
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.body.as_str()),
        (502, "The server has detected a loop between CDNs.")
    );
    let bad = raw_request(
        proxy.addr,
        b"GET / HTTP/1.1\r\nHost: site.example.com\r\nCDN-Loop: ,,@@\r\n\r\n",
    )
    .await;
    assert_eq!(bad.code(), 400, "{bad:?}");
    assert_eq!(bad.text(), "Invalid CDN-Loop header in request.");
    assert!(
        bad.head.to_ascii_lowercase().contains("connection: close"),
        "{}",
        bad.head
    );
    assert_eq!(upstream.calls(), 1, "refused requests never go upstream");
    proxy.shutdown().await;
}

/// `--allow-any` forwards to the Host, so every spelling of a loopback or unspecified
/// address, and the proxy's admin port above all, must be refused (502, as
/// `REGISTRY_ONLY`): before the fix each of these returned the admin's `/config`. Istio's
/// `ALLOW_ANY` never has this problem, because its PassthroughCluster is an
/// `ORIGINAL_DST` cluster: it connects to the address the client connected to, not to
/// the Host (istio `pilot/pkg/networking/core/cluster_builder.go`, `buildDefaultPassthroughCluster`).
/// A loopback upstream named by `--allow-any-to` is reachable; the proxy's own ports never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_any_never_forwards_to_the_proxy_or_to_loopback() {
    let local = Upstream::ok("local").await;
    let dir = TempDir::new("ssrf");
    let file = dir.write("site.yaml", &site(local.port()));
    let mut settings = sidecar(vec![file]);
    settings.allow_any = true;
    let proxy = common::start(settings).await;
    let admin = proxy.admin_addr.expect("admin").port();
    let up = local.port();
    let mut hosts: Vec<String> = Vec::new();
    for h in [
        "127.0.0.1",
        "localhost",
        "LOCALHOST",
        "127.1",
        "2130706433",
        "0x7f.1",
        "0.0.0.0",
        "[::ffff:127.0.0.1]",
        "[::1]",
        "127.0.0.2",
        "169.254.169.254",
    ] {
        hosts.push(format!("{h}:{admin}"));
        hosts.push(format!("{h}:{up}"));
    }
    for host in &hosts {
        let req = format!("GET /config HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let r = raw_request(proxy.addr, req.as_bytes()).await;
        // 502 when refused; a name the resolver does not know fails as any name (503).
        let literal = host.starts_with(|c: char| c == '[' || c.is_ascii_digit())
            && !host.starts_with("0x")
            && !host.starts_with("2130")
            && !host.starts_with("127.1:");
        if literal {
            assert_eq!(r.code(), 502, "{host}: {r:?}");
        } else {
            assert!(matches!(r.code(), 502 | 503), "{host}: {r:?}");
        }
        assert!(
            !r.text().contains("resources"),
            "{host}: the admin answered"
        );
    }
    // Absolute-form targets route on their authority, and are refused the same way.
    for target in [
        format!("http://127.0.0.1:{admin}/config"),
        format!("http://localhost:{up}/"),
    ] {
        let req = format!(
            "GET {target} HTTP/1.1\r\nHost: elsewhere.example\r\nConnection: close\r\n\r\n"
        );
        let r = raw_request(proxy.addr, req.as_bytes()).await;
        assert_eq!(r.code(), 502, "{target}: {r:?}");
    }
    assert_eq!(local.calls(), 0, "no loopback service was reached");
    proxy.shutdown().await;

    // Allowed explicitly: the loopback upstream, but never the proxy itself.
    let file = dir.write("site.yaml", &site(local.port()));
    let mut settings = sidecar(vec![file]);
    settings.allow_any = true;
    settings.allow_any_to = vec![("127.0.0.1".parse().expect("ip"), None)];
    let proxy = common::start(settings).await;
    let admin = proxy.admin_addr.expect("admin").port();
    let r = get(&client(), proxy.addr, &format!("127.0.0.1:{up}"), "/", &[]).await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "local"));
    let r = get(
        &client(),
        proxy.addr,
        &format!("127.0.0.1:{admin}"),
        "/config",
        &[],
    )
    .await;
    assert_eq!(r.status.as_u16(), 502, "{r:?}");
    let data = format!("127.0.0.1:{}", proxy.addr.port());
    let r = get(&client(), proxy.addr, &data, "/", &[]).await;
    assert_eq!(r.status.as_u16(), 502, "{r:?}");
    let m = common::admin(&client(), proxy.admin_addr, "/metrics").await;
    assert_eq!(requests_total(&m.body, &[]), 3, "no loop: {}", m.body);
    let _ = (metric, PATIENCE);
    proxy.shutdown().await;
}
