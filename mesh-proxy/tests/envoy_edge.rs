//! mesh-proxy and a real Envoy 1.40, side by side on the same Istio configuration, on a
//! table of edge cases: hostile paths, methods, hop-by-hop and control headers, upgrades
//! and CONNECT, malformed or cut upstream responses, and clients that give up mid-answer.
//! Each case is sent byte for byte to both, each with its own recording upstreams, and the
//! answers are compared by class:
//!
//! - the status (none when no status line came), and whether the answer arrived whole;
//! - the counted response code and flags: Envoy's `%RESPONSE_CODE% %RESPONSE_FLAGS%` from
//!   its access log, ours from the `response_code` and `response_flags` labels of the
//!   `istio_requests_total` series the request was counted in;
//! - what reached the upstream (method and target), and which of the headers the client
//!   sent reached it unchanged (`TE` by value);
//! - for answers that did not come from the echo upstream (local replies, raw upstream
//!   responses), the body, and which of the raw upstream's response headers reached the
//!   client.
//!
//! Envoy is configured as istiod configures a gateway for this Gateway and VirtualService
//! (the listener settings of `benches/vs-envoy/envoy.yaml.tmpl`: `normalize_path`,
//! `path_with_escaped_slashes_action: KEEP_UNCHANGED`, `use_remote_address`, websocket
//! upgrades, the fault, CORS and router filters, routes in the VirtualService's order with
//! `timeout: 0s` and Istio's default retry policy, `outbound|PORT||HOST` clusters over
//! HTTP/1.1). The cases where mesh-proxy knowingly answers differently are listed with the
//! reason ([`Expect::Differs`]); the test fails when any other case differs, and when a
//! listed one stops differing (so the list stays true).
//!
//! Needs Envoy: CI installs it (`.ci/run`); elsewhere the test is skipped with a message
//! when no Envoy binary is found.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{TempDir, settings};
use envoy_harness::{EchoUpstream, Envoy, RawUpstream, Received, raw};
use mesh_proxy::Running;

const HOST: &str = "edge.example.com";

/// The Istio configuration both sides run: `/admin` and `DELETE` denied with a direct 403,
/// `/raw/` to an upstream that answers with raw bytes, everything else to an echo upstream.
fn istio_yaml(echo_port: u16, raw_port: u16) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: edge, namespace: demo}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: 80, name: http, protocol: HTTP}}
    hosts: ['*.example.com']
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: edge, namespace: demo}}
spec:
  hosts: [{HOST}]
  gateways: [edge]
  http:
  - name: deny-admin
    match:
    - uri: {{prefix: /admin}}
    directResponse: {{status: 403, body: {{string: denied}}}}
  - name: deny-delete
    match:
    - method: {{exact: DELETE}}
    directResponse: {{status: 403, body: {{string: denied}}}}
  - name: raw
    match:
    - uri: {{prefix: /raw/}}
    route:
    - destination: {{host: raw.demo.svc.cluster.local, port: {{number: 8080}}}}
  - name: echo
    route:
    - destination: {{host: echo.demo.svc.cluster.local, port: {{number: 8080}}}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: echo, namespace: demo}}
spec:
  hosts: [echo.demo.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {{number: 8080, name: http, protocol: HTTP}}
  endpoints:
  - address: 127.0.0.1
    ports: {{http: {echo_port}}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: raw, namespace: demo}}
spec:
  hosts: [raw.demo.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {{number: 8080, name: http, protocol: HTTP}}
  endpoints:
  - address: 127.0.0.1
    ports: {{http: {raw_port}}}
"
    )
}

/// What istiod generates for `istio_yaml` on the gateway (listener, routes, clusters),
/// written statically, with an access log of `%RESPONSE_CODE% %RESPONSE_FLAGS%`.
fn envoy_bootstrap(echo_port: u16, raw_port: u16, access_log: &Path) -> String {
    let cluster = |name: &str, port: u16| {
        format!(
            r#"
  - name: "outbound|8080||{name}.demo.svc.cluster.local"
    type: STATIC
    connect_timeout: 10s
    lb_policy: LEAST_REQUEST
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        common_http_protocol_options: {{idle_timeout: 3600s}}
        explicit_http_config:
          http_protocol_options: {{}}
    load_assignment:
      cluster_name: "outbound|8080||{name}.demo.svc.cluster.local"
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {{address: 127.0.0.1, port_value: {port}}}"#
        )
    };
    let route = |name: &str| {
        format!(
            r#"
                route:
                  cluster: "outbound|8080||{name}.demo.svc.cluster.local"
                  timeout: 0s
                  retry_policy:
                    retry_on: connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes
                    num_retries: 2
                    retry_host_predicate:
                    - name: envoy.retry_host_predicates.previous_hosts
                      typed_config:
                        "@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate
                    host_selection_retry_max_attempts: 5"#
        )
    };
    format!(
        r#"
admin:
  address:
    socket_address: {{address: 127.0.0.1, port_value: 0}}
static_resources:
  listeners:
  - name: 0.0.0.0_8080
    address:
      socket_address: {{address: 127.0.0.1, port_value: 0}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: outbound_0.0.0.0_8080
          codec_type: AUTO
          use_remote_address: true
          normalize_path: true
          path_with_escaped_slashes_action: KEEP_UNCHANGED
          stream_idle_timeout: 0s
          server_name: istio-envoy
          upgrade_configs:
          - upgrade_type: websocket
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: {log}
              log_format:
                text_format_source:
                  inline_string: "%RESPONSE_CODE% %RESPONSE_FLAGS%\n"
          http_filters:
          - name: envoy.filters.http.fault
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
          - name: envoy.filters.http.cors
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          route_config:
            name: http.80
            validate_clusters: false
            ignore_port_in_host_matching: true
            virtual_hosts:
            - name: {HOST}:80
              domains: ["{HOST}", "{HOST}:*"]
              include_request_attempt_count: true
              routes:
              - name: deny-admin
                match: {{prefix: /admin, case_sensitive: true}}
                direct_response: {{status: 403, body: {{inline_string: denied}}}}
              - name: deny-delete
                match:
                  prefix: /
                  case_sensitive: true
                  headers:
                  - name: ":method"
                    string_match: {{exact: DELETE}}
                direct_response: {{status: 403, body: {{inline_string: denied}}}}
              - name: raw
                match: {{prefix: /raw/, case_sensitive: true}}{raw_route}
              - name: echo
                match: {{prefix: /, case_sensitive: true}}{echo_route}
  clusters:{raw_cluster}{echo_cluster}
"#,
        log = access_log.display(),
        raw_route = route("raw"),
        echo_route = route("echo"),
        raw_cluster = cluster("raw", raw_port),
        echo_cluster = cluster("echo", echo_port),
    )
}

/// What the raw upstream answers to `/raw/NAME`: bytes written as they are, then the
/// connection is closed. Valid answers say `connection: close`, so that no proxy reuses the
/// connection the upstream is about to close.
/// The head and first 10 bytes of `stall-mid-body`, which then stalls.
const STALL_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n";

/// How long the raw upstream pauses in `slow-head` (before anything) and `stall-mid-body`
/// (after its head and 10 bytes): longer than a client that gives up waits.
const UPSTREAM_PAUSE: Duration = Duration::from_secs(3);

/// How long a client that gives up waits before it closes its connection.
const CLIENT_PATIENCE: Duration = Duration::from_millis(500);

/// Where the raw upstream pauses in its answer to `name`, if it does.
fn raw_pause(name: &str) -> Option<(usize, Duration)> {
    match name {
        "slow-head" => Some((0, UPSTREAM_PAUSE)),
        "stall-mid-body" => Some((STALL_HEAD.len() + 10, UPSTREAM_PAUSE)),
        _ => None,
    }
}

/// The raw upstream's paced answer to a request for `/raw/NAME`.
fn paced_answer(r: &Received) -> (Vec<u8>, Option<(usize, Duration)>) {
    let name = r.target.trim_start_matches("/raw/");
    (raw_answer(name), raw_pause(name))
}

fn raw_answer(name: &str) -> Vec<u8> {
    let ok = |extra: &str| {
        format!("HTTP/1.1 200 OK\r\n{extra}content-length: 2\r\nconnection: close\r\n\r\nok")
            .into_bytes()
    };
    match name {
        "bad-status" => b"HTTP/1.1 abc OK\r\ncontent-length: 2\r\n\r\nok".to_vec(),
        "2OO" => b"HTTP/1.1 2OO OK\r\ncontent-length: 2\r\n\r\nok".to_vec(),
        "not-http" => b"FOO 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec(),
        "garbage" => b"\x00\x01\x02garbage\r\n\r\n".to_vec(),
        "status-99" => b"HTTP/1.1 099 X\r\ncontent-length: 2\r\n\r\nok".to_vec(),
        "two-cl" => b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nokk".to_vec(),
        "same-cl" => b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok".to_vec(),
        "cl-list" => b"HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nok".to_vec(),
        "negative-cl" => b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\nok".to_vec(),
        "huge-cl" => {
            b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999999\r\n\r\nok".to_vec()
        }
        "cl-and-chunked" => b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n".to_vec(),
        "te-gzip" => b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nok".to_vec(),
        "nul" => b"HTTP/1.1 200 OK\r\nx-a: a\x00b\r\ncontent-length: 2\r\n\r\nok".to_vec(),
        "control" => b"HTTP/1.1 200 OK\r\nx-a: a\x01b\r\ncontent-length: 2\r\n\r\nok".to_vec(),
        "no-colon" => b"HTTP/1.1 200 OK\r\nx-a b\r\ncontent-length: 2\r\n\r\nok".to_vec(),
        "space-colon" => b"HTTP/1.1 200 OK\r\nx-a : b\r\ncontent-length: 2\r\n\r\nok".to_vec(),
        "bad-name" => b"HTTP/1.1 200 OK\r\nx(a): b\r\ncontent-length: 2\r\n\r\nok".to_vec(),
        "1000-headers" => {
            let many: String = (0..1000).map(|i| format!("x-h{i}: v\r\n")).collect();
            ok(&many)
        }
        "1mib-header" => ok(&format!("x-big: {}\r\n", "a".repeat(1 << 20))),
        "obs-fold" => ok("x-a: a\r\n b\r\n"),
        "lf-only" => b"HTTP/1.1 200 OK\ncontent-length: 2\nconnection: close\n\nok".to_vec(),
        "http10-no-length" => b"HTTP/1.0 200 OK\r\n\r\nok".to_vec(),
        "continue-then-200" => {
            let mut b = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
            b.extend_from_slice(&ok(""));
            b
        }
        "status-600" => b"HTTP/1.1 600 X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".to_vec(),
        "http2-version" => b"HTTP/2.0 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".to_vec(),
        "cut-after-head" => b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n".to_vec(),
        "cut-mid-body" => b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789".to_vec(),
        "slow-head" => ok(""),
        "stall-mid-body" => {
            let mut b = STALL_HEAD.to_vec();
            b.extend_from_slice(&[b'x'; 100]);
            b
        }
        "cut-mid-chunk" => {
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\na\r\n0123456789\r\n".to_vec()
        }
        "bad-chunk" => {
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n".to_vec()
        }
        "close-no-bytes" => Vec::new(),
        "hop-by-hop" => ok(
            "connection: x-bar, keep-alive\r\nx-bar: 1\r\nkeep-alive: timeout=5\r\nproxy-connection: keep-alive\r\nupgrade: h2c\r\nte: trailers\r\ntrailer: x-t\r\nhttp2-settings: AAA\r\nx-envoy-foo: 1\r\n",
        ),
        _ => ok(""),
    }
}

/// What the test expects of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// The same answer class from both.
    Same,
    /// A known difference, and why.
    Differs(&'static str),
}

use Expect::{Differs, Same};

struct Case {
    name: String,
    request: Vec<u8>,
    expect: Expect,
    /// A client that closes its connection after this long, answered or not.
    gives_up: Option<Duration>,
}

/// `METHOD target HTTP/1.1` to the edge host with `headers` (lines without CRLF), closing.
fn request(method: &str, target: &str, headers: &[&str]) -> Vec<u8> {
    let mut r = format!("{method} {target} HTTP/1.1\r\nhost: {HOST}\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("connection: close\r\n\r\n");
    r.into_bytes()
}

fn case(name: &str, request: Vec<u8>, expect: Expect) -> Case {
    Case {
        name: name.to_owned(),
        request,
        expect,
        gives_up: None,
    }
}

/// Hyper refuses these targets (the `http` crate's URI parser) before the mesh sees them.
const HYPER_URI: &str = "hyper's URI parser refuses `<`, `>` and `` ` `` (400, not counted); \
Envoy escapes them";
/// Hyper drops the fragment before the mesh sees the target.
const HYPER_FRAGMENT: &str = "hyper's URI parser drops the fragment, so the path without it \
is routed; Envoy answers 400";

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // Paths (BASE, Istio's default): `..;` and its relatives reach the deny rule.
    for (target, expect) in [
        ("/admin", Same),
        ("/public/ok", Same),
        ("/public/../admin", Same),
        ("/public/..;/admin", Same),
        ("/public/..;x/admin", Same),
        ("/public/..;jsessionid=1/admin", Same),
        ("/public/..;/..;/admin", Same),
        ("/public/a;/..;/..;/admin", Same),
        ("/public/.;/../admin", Same),
        ("/..;/admin", Same),
        ("/public/%2e%2e;/admin", Same),
        ("/public/..%3b/admin", Same),
        ("/%61dmin", Same),
        ("//admin", Same),
        ("/admin%zz", Same),
        ("/public/%%30%30", Same),
        ("/public%00", Same),
        ("/public\\..\\admin", Same),
        ("/public/a|b^c\"d{e}", Same),
        ("/admin<x>", Differs(HYPER_URI)),
        ("/admin#frag", Differs(HYPER_FRAGMENT)),
    ] {
        cases.push(case(
            &format!("path {target}"),
            request("GET", target, &[]),
            expect,
        ));
    }
    // Methods: case-sensitive tokens from Envoy's HTTP/1 list.
    let long = "X".repeat(10_000);
    for (method, expect) in [
        ("GET", Same),
        ("DELETE", Same),
        ("delete", Same),
        ("Delete", Same),
        ("FOO", Same),
        (long.as_str(), Same),
        ("PATCH", Same),
        ("PURGE", Same),
        ("MSEARCH", Same),
        ("M-SEARCH", Same),
        ("PROPFIND", Same),
        ("TRACE", Same),
    ] {
        let name = format!("method {}", &method[..method.len().min(12)]);
        cases.push(case(&name, request(method, "/public/m", &[]), expect));
    }
    cases.push(case(
        "method QUERY without content-type",
        request("QUERY", "/q", &[]),
        Same,
    ));
    cases.push(case(
        "method QUERY with content-type",
        request("QUERY", "/q", &["content-type: text/plain"]),
        Same,
    ));
    // Hop-by-hop request headers.
    for (name, headers) in [
        (
            "connection names x-foo and keep-alive",
            &[
                "connection: x-foo, keep-alive",
                "x-foo: 1",
                "x-bar: 2",
                "keep-alive: timeout=5",
            ][..],
        ),
        ("proxy-connection", &["proxy-connection: keep-alive"]),
        ("te: trailers", &["te: trailers"]),
        ("te: gzip", &["te: gzip"]),
        ("te: trailers, deflate", &["te: trailers, deflate"]),
        ("te: Trailers", &["te: Trailers"]),
        ("te twice", &["te: gzip", "te: trailers"]),
        ("connection names te", &["connection: te", "te: trailers"]),
        ("stray upgrade", &["upgrade: foo"]),
        (
            "two connection headers",
            &[
                "connection: x-foo",
                "connection: x-baz",
                "x-foo: 1",
                "x-baz: 2",
            ],
        ),
        (
            "connection names cookie",
            &["connection: cookie", "cookie: a=1"],
        ),
        (
            "connection names x-forwarded-for",
            &["connection: x-forwarded-for", "x-forwarded-for: 1.2.3.4"],
        ),
        (
            "connection names x-forwarded-proto",
            &["connection: x-forwarded-proto", "x-forwarded-proto: https"],
        ),
        (
            "connection names x-forwarded-host",
            &["connection: x-forwarded-host", "x-forwarded-host: evil"],
        ),
        ("connection names host", &["connection: host"]),
        (
            "connection with ten tokens",
            &["connection: a1, a2, a3, a4, a5, a6, a7, a8, a9"],
        ),
    ] {
        cases.push(case(name, request("GET", "/public/h", headers), Same));
    }
    let long_te = format!("te: trailers,{}", "a".repeat(250));
    cases.push(case(
        "connection names a 256-byte te",
        request("GET", "/public/h", &["connection: te", &long_te]),
        Same,
    ));
    // Envoy's control headers, one request with all of them.
    let control: Vec<String> = [
        "x-envoy-retry-on: 5xx",
        "x-envoy-max-retries: 7",
        "x-envoy-upstream-rq-timeout-ms: 1",
        "x-envoy-upstream-rq-per-try-timeout-ms: 1",
        "x-envoy-retry-grpc-on: cancelled",
        "x-envoy-hedge-on-per-try-timeout: true",
        "x-envoy-force-trace: 1",
        "x-envoy-internal: true",
        "x-envoy-expected-rq-timeout-ms: 5",
        "x-envoy-original-path: /evil",
        "x-envoy-decorator-operation: op",
        "x-envoy-downstream-service-cluster: c",
        "x-envoy-external-address: 1.1.1.1",
        "x-envoy-attempt-count: 9",
        "x-envoy-retriable-status-codes: 200",
        "x-envoy-upstream-alt-stat-name: s",
        "x-envoy-ip-tags: t",
        "x-envoy-custom: kept",
    ]
    .map(str::to_owned)
    .to_vec();
    let control: Vec<&str> = control.iter().map(String::as_str).collect();
    cases.push(case(
        "client-sent x-envoy control headers",
        request("GET", "/public/e", &control),
        Same,
    ));
    // The connection manager's headers (the gateway counts every client as external).
    for (name, headers) in [
        ("no forwarding headers", &[][..]),
        (
            "client-sent forwarding headers",
            &[
                "x-request-id: abc",
                "x-forwarded-proto: https",
                "x-forwarded-for: 9.9.9.9, 8.8.8.8",
            ][..],
        ),
        (
            "two x-forwarded-for headers",
            &["x-forwarded-for: 1.1.1.1", "x-forwarded-for: 2.2.2.2"][..],
        ),
    ] {
        cases.push(case(name, request("GET", "/public/f", headers), Same));
    }
    // Upgrades and CONNECT.
    for (name, headers) in [
        (
            "h2c upgrade",
            &[
                "connection: Upgrade, HTTP2-Settings",
                "upgrade: h2c",
                "http2-settings: AAMAAABkAARAAAAAAAIAAAAA",
            ][..],
        ),
        (
            "h2c upgrade without settings",
            &["connection: upgrade", "upgrade: H2C"],
        ),
        ("upgrade to foo", &["connection: upgrade", "upgrade: foo"]),
        (
            "upgrade to two protocols",
            &["connection: upgrade", "upgrade: websocket, h2c"],
        ),
        ("upgrade to nothing", &["connection: upgrade", "upgrade: "]),
        (
            "connection upgrade without upgrade",
            &["connection: upgrade"],
        ),
    ] {
        cases.push(case(name, request("GET", "/public/u", headers), Same));
    }
    for (name, bytes) in [
        (
            "CONNECT to the edge host",
            format!("CONNECT {HOST}:80 HTTP/1.1\r\nhost: {HOST}:80\r\n\r\n"),
        ),
        (
            "CONNECT to a loopback address",
            format!("CONNECT 127.0.0.1:80 HTTP/1.1\r\nhost: {HOST}\r\n\r\n"),
        ),
        (
            "OPTIONS *",
            format!("OPTIONS * HTTP/1.1\r\nhost: {HOST}\r\nconnection: close\r\n\r\n"),
        ),
        (
            "GET *",
            format!("GET * HTTP/1.1\r\nhost: {HOST}\r\nconnection: close\r\n\r\n"),
        ),
        (
            "absolute form",
            format!(
                "GET http://{HOST}/public/abs HTTP/1.1\r\nhost: other.example.com\r\nconnection: close\r\n\r\n"
            ),
        ),
    ] {
        cases.push(case(name, bytes.into_bytes(), Same));
    }
    cases.push(case(
        "HTTP/1.0",
        format!("GET /public/old HTTP/1.0\r\nhost: {HOST}\r\n\r\n").into_bytes(),
        Same,
    ));
    // Upstream responses.
    for (name, expect) in [
        ("bad-status", Same),
        ("2OO", Same),
        ("not-http", Same),
        ("garbage", Same),
        ("status-99", Same),
        ("two-cl", Same),
        ("same-cl", Same),
        ("cl-list", Same),
        ("negative-cl", Same),
        ("huge-cl", Same),
        ("cl-and-chunked", Same),
        ("te-gzip", Same),
        ("nul", Same),
        ("control", Same),
        ("no-colon", Same),
        ("space-colon", Same),
        ("bad-name", Same),
        ("1000-headers", Same),
        ("1mib-header", Same),
        ("obs-fold", Same),
        ("lf-only", Same),
        ("http10-no-length", Same),
        ("continue-then-200", Same),
        ("status-600", Same),
        (
            "http2-version",
            Differs(
                "hyper's client refuses a status line that is not HTTP/1.x (502 `UPE`); Envoy passes `HTTP/2.0 200` on",
            ),
        ),
        ("cut-after-head", Same),
        ("cut-mid-body", Same),
        ("cut-mid-chunk", Same),
        ("bad-chunk", Same),
        ("close-no-bytes", Same),
        ("hop-by-hop", Same),
    ] {
        cases.push(case(
            &format!("upstream {name}"),
            request("GET", &format!("/raw/{name}"), &[]),
            expect,
        ));
    }
    // A client that goes away before the answer is over: Envoy logs `0 DC` when nothing was
    // answered yet, `200 DC` mid-body (measured, `downstream_remote_disconnect`).
    for name in ["slow-head", "stall-mid-body"] {
        cases.push(Case {
            gives_up: Some(CLIENT_PATIENCE),
            ..case(
                &format!("client gives up, upstream {name}"),
                request("GET", &format!("/raw/{name}"), &[]),
                Same,
            )
        });
    }
    cases
}

/// The answer class of one case on one side.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Class {
    status: Option<u16>,
    complete: bool,
    /// The counted `CODE FLAGS` (`not counted` when none was).
    flags: String,
    /// `METHOD target` of what reached an upstream, if anything did.
    upstream: Option<String>,
    /// Client-sent headers that reached the upstream unchanged, and `te` as it arrived.
    forwarded: Vec<(String, String)>,
    /// For answers not from the echo upstream: the body.
    body: Option<String>,
    /// For raw upstream answers: the raw response's headers that reached the client.
    passed_back: Vec<(String, String)>,
    /// The connection manager's headers as they reached the upstream
    /// ([`connection_manager_header`]).
    added: Vec<(String, String)>,
}

/// One of the headers Envoy's connection manager sets, as compared: a request id by its
/// shape (it is random), and the address appended to `x-forwarded-for` as `ADDR` (for a
/// client on loopback Envoy appends the host's own address, mesh-proxy the client's: a
/// documented difference).
fn connection_manager_header(name: &str, value: &str) -> Option<(String, String)> {
    let value = match name {
        "x-request-id" => {
            let lens: Vec<usize> = value.split('-').map(str::len).collect();
            if lens == [8, 4, 4, 4, 12] && value.as_bytes()[14] == b'4' {
                "a UUID v4".to_owned()
            } else {
                value.to_owned()
            }
        }
        "x-forwarded-for" => match value.rsplit_once(',') {
            Some((before, _)) => format!("{before},ADDR"),
            None => "ADDR".to_owned(),
        },
        "x-forwarded-proto" | "x-envoy-external-address" => value.to_owned(),
        _ => return None,
    };
    Some((name.to_owned(), value))
}

/// Requests counted so far, by `CODE FLAGS` (the counted response code and flags).
type Counts = BTreeMap<String, u64>;

/// One proxy with its own upstreams, and how to read its counted requests: `counts(n)`
/// returns the counts once they total more than `n` (or after a bounded wait), `counts(0)`
/// at once.
struct Side {
    addr: SocketAddr,
    echo: EchoUpstream,
    raw: RawUpstream,
    counts: Box<dyn Fn(u64) -> Counts>,
}

/// Header lines of an HTTP head (after its first line), lower-cased names.
fn head_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end])
        .split("\r\n")
        .skip(1)
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            Some((n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect()
}

impl Side {
    fn observe(&self, case: &Case) -> Class {
        let before = (self.counts)(0);
        let (echo_before, raw_before) = (self.echo.received().len(), self.raw.received().len());
        let reply = match case.gives_up {
            Some(patience) => raw::send_giving_up(self.addr, &case.request, patience),
            None => raw::send(self.addr, &case.request),
        };
        let reached: Option<Received> = self
            .echo
            .received()
            .get(echo_before)
            .cloned()
            .or_else(|| self.raw.received().get(raw_before).cloned());
        let sent = head_pairs(&case.request);
        let mut forwarded: Vec<(String, String)> = reached
            .iter()
            .flat_map(|r| r.headers.clone())
            .filter(|(n, v)| n == "te" || (n != "host" && sent.contains(&(n.clone(), v.clone()))))
            .collect();
        forwarded.sort();
        let from_echo = reply.header("x-upstream").is_some();
        let raw_name = case
            .request
            .split(|b| *b == b' ')
            .nth(1)
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(|t| t.strip_prefix("/raw/"));
        let mut passed_back: Vec<(String, String)> = match raw_name {
            Some(name) => {
                let upstream = head_pairs(&raw_answer(name));
                reply
                    .headers
                    .iter()
                    .filter(|p| upstream.contains(p) && p.0 != "content-length")
                    .cloned()
                    .collect()
            }
            None => Vec::new(),
        };
        passed_back.sort();
        let mut added: Vec<(String, String)> = reached
            .iter()
            .flat_map(|r| r.headers.iter())
            .filter_map(|(n, v)| connection_manager_header(n, v))
            .collect();
        added.sort();
        Class {
            status: reply.status,
            complete: reply.complete,
            flags: new_flags(&before, &(self.counts)(before.values().sum())),
            upstream: reached.map(|r| format!("{} {}", short(&r.method), r.target)),
            forwarded,
            body: (!from_echo).then(|| reply.text()),
            passed_back,
            added,
        }
    }
}

fn short(s: &str) -> String {
    if s.len() > 16 {
        format!("{}...({} bytes)", &s[..12], s.len())
    } else {
        s.to_owned()
    }
}

/// The flags of the requests counted between two snapshots (`not counted` when none was).
fn new_flags(before: &Counts, after: &Counts) -> String {
    let grown: Vec<String> = after
        .iter()
        .filter(|(f, n)| **n > before.get(*f).copied().unwrap_or(0))
        .map(|(f, _)| f.clone())
        .collect();
    if grown.is_empty() {
        "not counted".to_owned()
    } else {
        grown.join("+")
    }
}

/// Polls `read` until its counts total more than `n`, for at most `patience`.
fn counts_after(n: u64, patience: Duration, read: impl Fn() -> Counts) -> Counts {
    let deadline = Instant::now() + patience;
    loop {
        let c = read();
        if n == 0 || c.values().sum::<u64>() > n || Instant::now() >= deadline {
            return c;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Envoy's requests by response code and flags (`CODE FLAGS`), from its access log (one
/// line each).
fn envoy_counts(log: &Path) -> Counts {
    let mut c = Counts::new();
    for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
        *c.entry(line.trim().to_owned()).or_default() += 1;
    }
    c
}

/// mesh-proxy's requests by response code and flags (`CODE FLAGS`), from the
/// `istio_requests_total` series.
fn proxy_counts(admin: SocketAddr) -> Counts {
    let reply = raw::send(
        admin,
        b"GET /metrics HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n",
    );
    let mut c = Counts::new();
    for line in reply
        .text()
        .lines()
        .filter(|l| l.starts_with("istio_requests_total{"))
    {
        let label = |name: &str| {
            line.split(&format!("{name}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("?")
        };
        let key = format!("{} {}", label("response_code"), label("response_flags"));
        let n: u64 = line
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        *c.entry(key).or_default() += n;
    }
    c
}

/// Runs every case through Envoy 1.40 and mesh-proxy on the same Istio configuration and
/// checks that each answer has the same class, but for the listed known differences.
#[test]
fn mesh_proxy_answers_edge_cases_as_envoy_does() {
    let Some(bin) = Envoy::binary_or_skip("mesh_proxy_answers_edge_cases_as_envoy_does") else {
        return;
    };
    let dir = TempDir::new("envoy-edge");
    let log: PathBuf = dir.path().join("access.log");

    let envoy_echo = EchoUpstream::start("echo");
    let envoy_raw = RawUpstream::start_pausing(paced_answer);
    let envoy = Envoy::start(
        &bin,
        &envoy_bootstrap(envoy_echo.addr().port(), envoy_raw.addr().port(), &log),
    )
    .expect("envoy starts");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let proxy_echo = EchoUpstream::start("echo");
    let proxy_raw = RawUpstream::start_pausing(paced_answer);
    let file = dir.write(
        "mesh.yaml",
        &istio_yaml(proxy_echo.addr().port(), proxy_raw.addr().port()),
    );
    let proxy: Running = rt.block_on(common::start(settings(vec![file])));
    let admin = proxy.admin_addr.expect("an admin listener");

    // One warm-up request, counted before the cases: Envoy's first access-log flush (the
    // file's creation) can take longer than the later ones on a loaded machine.
    let _ = raw::send(
        envoy.listener(0),
        b"GET /public HTTP/1.1\r\nhost: site.example.com\r\nconnection: close\r\n\r\n",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let warm = loop {
        let c = envoy_counts(&log);
        if c.values().sum::<u64>() > 0 || Instant::now() >= deadline {
            break c;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        warm.values().sum::<u64>() > 0,
        "Envoy never wrote its access log"
    );

    let envoy_log = log.clone();
    let envoy_side = Side {
        addr: envoy.listener(0),
        echo: envoy_echo,
        raw: envoy_raw,
        counts: Box::new(move |n| {
            counts_after(n, Duration::from_secs(5), || envoy_counts(&envoy_log))
        }),
    };
    let proxy_side = Side {
        addr: proxy.addr,
        echo: proxy_echo,
        raw: proxy_raw,
        counts: Box::new(move |n| {
            counts_after(n, Duration::from_millis(500), || proxy_counts(admin))
        }),
    };

    let cases = cases();
    let mut report = String::new();
    let mut unexpected = Vec::new();
    let mut agree = 0;
    for case in &cases {
        let theirs = envoy_side.observe(case);
        let ours = proxy_side.observe(case);
        let same = theirs == ours;
        if same {
            agree += 1;
        }
        let _ = writeln!(
            report,
            "{:<44} envoy {:?} {} {:<4} | mesh-proxy {:?} {} {:<4} {}",
            case.name,
            theirs.status,
            if theirs.complete { "whole" } else { "cut  " },
            theirs.flags,
            ours.status,
            if ours.complete { "whole" } else { "cut  " },
            ours.flags,
            match (same, case.expect) {
                (true, Same) => "same".to_owned(),
                (false, Differs(why)) => format!("KNOWN DIFFERENCE: {why}"),
                (true, Differs(_)) =>
                    "NOW THE SAME: remove it from the known differences".to_owned(),
                (false, Same) => "DIFFERENT".to_owned(),
            }
        );
        match (same, case.expect) {
            (true, Same) | (false, Differs(_)) => {}
            (true, Differs(_)) => unexpected.push(format!("{}: now the same as Envoy", case.name)),
            (false, Same) => unexpected.push(format!(
                "{}:\n  envoy      {theirs:?}\n  mesh-proxy {ours:?}",
                case.name
            )),
        }
    }
    println!("{report}");
    println!(
        "{} cases, {agree} with the same answer class as Envoy 1.40",
        cases.len()
    );
    rt.block_on(proxy.shutdown());
    drop(envoy);
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
}
