//! HTTP hygiene at the edge, over real sockets on 127.0.0.1, with the answers a real Envoy
//! 1.40.0 gave to the same bytes with Istio's gateway settings (measured on 2026-12-05 with
//! the configuration of `tests/envoy_edge.rs`, which runs the same cases through Envoy and
//! mesh-proxy side by side in CI). Requests are written byte for byte, since a normal client
//! refuses to send most of them; upstream responses come from an upstream that writes raw
//! bytes.
//!
//! Specification (each point is a test below):
//! - HTTP/1 methods are case-sensitive tokens from Envoy's list: others get `400`, body
//!   `Bad Request`, `connection: close`, flag `DPE`, and nothing reaches the upstream.
//! - Hop-by-hop request headers (`Connection` and what it names, `Keep-Alive`,
//!   `Proxy-Connection`, `TE` but `te: trailers`, `Upgrade`) and client-sent Envoy control
//!   headers (`x-envoy-retry-on`, ...) never reach the upstream, and do not steer retries or
//!   timeouts.
//! - The upstream's `Connection`, `Keep-Alive`, `Proxy-Connection` and `Upgrade` never reach
//!   the client.
//! - A malformed upstream response gets `502`, body `upstream connect error or
//!   disconnect/reset before headers. reset reason: protocol error`, flag `UPE`.
//! - A response cut after its head or mid-body reaches the client as far as it came, then
//!   the connection closes; it is counted with `UPE`, never as a complete `200 -`.
//! - `CONNECT` gets `404`, flag `NR`, and nothing goes upstream; an `Upgrade: h2c` request
//!   is served as plain HTTP/1.1 without `Connection`, `Upgrade` and `HTTP2-Settings`; other
//!   upgrades (but websocket) get `403`.

mod common;

use std::time::Duration;

use common::*;
use envoy_harness::{RawUpstream, Received};
use http::StatusCode;
use mesh_proxy::Running;

const HOST: &str = "edge.example.com";
const PROTOCOL_ERROR: &str =
    "upstream connect error or disconnect/reset before headers. reset reason: protocol error";

/// A proxy in front of a recording upstream (`public`) and a raw one (`/raw/NAME`), with
/// `DELETE` and `/admin` denied.
struct Edge {
    public: Upstream,
    raw: RawUpstream,
    proxy: Running,
    _dir: TempDir,
}

impl Edge {
    async fn start(public: Upstream) -> Edge {
        let raw = RawUpstream::start_pausing(|r: &Received| {
            (raw_answer(&r.target), raw_pause(&r.target))
        });
        let yaml = [
            GATEWAY.to_owned(),
            format!(
                "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: edge, namespace: demo}}
spec:
  hosts: [{HOST}]
  gateways: [edge]
  http:
  - name: deny-delete
    match:
    - method: {{exact: DELETE}}
    directResponse: {{status: 403, body: {{string: denied}}}}
  - name: raw
    match:
    - uri: {{prefix: /raw/}}
    route:
    - destination: {{host: raw.demo.svc.cluster.local, port: {{number: 8080}}}}
  - name: public
    route:
    - destination: {{host: public.demo.svc.cluster.local, port: {{number: 8080}}}}
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
    ports: {{http: {}}}
---
",
                raw.addr().port()
            ),
            service_entry(
                "public",
                "public.demo.svc.cluster.local",
                &[(&public, &[("app", "public")])],
            ),
        ]
        .concat();
        let dir = TempDir::new("edge-http");
        let file = dir.write("mesh.yaml", &yaml);
        let proxy = start(settings(vec![file])).await;
        Edge {
            public,
            raw,
            proxy,
            _dir: dir,
        }
    }

    async fn metrics(&self) -> String {
        admin(&client(), self.proxy.admin_addr, "/metrics")
            .await
            .body
    }
}

/// The head of `stall-mid-body`, which stalls after it and 10 bytes of its body.
const STALL_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n";

/// Where the raw upstream pauses (for 3 s) in its answer to `target`: before anything for
/// `slow-head`, after the head and 10 bytes for `stall-mid-body`.
fn raw_pause(target: &str) -> Option<(usize, Duration)> {
    match target.trim_start_matches("/raw/") {
        "slow-head" => Some((0, Duration::from_secs(3))),
        "stall-mid-body" => Some((STALL_HEAD.len() + 10, Duration::from_secs(3))),
        _ => None,
    }
}

/// The raw upstream's answer to `target`.
fn raw_answer(target: &str) -> Vec<u8> {
    let name = target.trim_start_matches("/raw/");
    let answer: &[u8] = match name {
        "2OO" => b"HTTP/1.1 2OO OK\r\ncontent-length: 2\r\n\r\nok",
        "bad-status-line" => b"FOO 200 OK\r\ncontent-length: 2\r\n\r\nok",
        "two-content-lengths" => {
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nokk"
        }
        "same-content-lengths" => {
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok"
        }
        "nul-in-header" => b"HTTP/1.1 200 OK\r\nx-a: a\x00b\r\ncontent-length: 2\r\n\r\nok",
        "length-and-chunked" => b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        "gzip-coding" => b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nok",
        "cut-after-head" => b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n",
        "cut-mid-body" => b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789",
        "closed-without-answer" => b"",
        "slow-head" => b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        "hop-by-hop" => b"HTTP/1.1 200 OK\r\nconnection: x-bar, keep-alive\r\nx-bar: 1\r\nkeep-alive: timeout=5\r\nproxy-connection: keep-alive\r\nupgrade: h2c\r\ncontent-length: 2\r\n\r\nok",
        _ => b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
    };
    match name {
        "1000-headers" => {
            let many: String = (0..1000).map(|i| format!("x-h{i}: v\r\n")).collect();
            format!("HTTP/1.1 200 OK\r\n{many}content-length: 2\r\n\r\nok").into_bytes()
        }
        "1mib-header" => format!(
            "HTTP/1.1 200 OK\r\nx-big: {}\r\ncontent-length: 2\r\n\r\nok",
            "a".repeat(1 << 20)
        )
        .into_bytes(),
        "stall-mid-body" => format!("{STALL_HEAD}{}", "x".repeat(100)).into_bytes(),
        _ => answer.to_vec(),
    }
}

/// `METHOD target HTTP/1.1` to the edge host with `headers`, closing.
fn request(method: &str, target: &str, headers: &[&str]) -> Vec<u8> {
    let mut r = format!("{method} {target} HTTP/1.1\r\nHost: {HOST}\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("Connection: close\r\n\r\n");
    r.into_bytes()
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Envoy 1.40 (measured): `delete`, `Delete`, `FOO`, `M-SEARCH` and a 10 000-byte method get
/// `400 Bad Request` with `connection: close` and flag `DPE` from its HTTP/1 codec, and
/// nothing reaches the upstream; `DELETE` meets the deny rule; `PATCH`, `PURGE`, `MSEARCH`
/// pass. Before: every token reached the upstream, past a `method: {exact: DELETE}` deny.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_methods_are_envoys_case_sensitive_tokens() {
    let edge = Edge::start(Upstream::ok("public").await).await;
    let long = "X".repeat(10_000);
    for method in ["delete", "Delete", "FOO", "M-SEARCH", long.as_str()] {
        let before = edge.public.calls();
        let r = raw_request(edge.proxy.addr, &request(method, "/x", &[])).await;
        let what = &method[..method.len().min(10)];
        assert_eq!(r.code(), 400, "{what}: {r:?}");
        assert_eq!(r.text(), "Bad Request", "{what}");
        assert_eq!(header(&r.head, "connection"), Some("close"), "{what}");
        assert_eq!(edge.public.calls(), before, "{what} reached the upstream");
    }
    let m = edge.metrics().await;
    assert_eq!(
        requests_total(&m, &[("response_code", "400"), ("response_flags", "DPE")]),
        5,
        "{m}"
    );
    let r = raw_request(edge.proxy.addr, &request("DELETE", "/x", &[])).await;
    assert_eq!((r.code(), r.text().as_str()), (403, "denied"));
    for method in ["PATCH", "PURGE", "MSEARCH", "PROPFIND"] {
        let r = raw_request(edge.proxy.addr, &request(method, "/x", &[])).await;
        assert_eq!(r.code(), 200, "{method}");
        let seen = edge.public.seen();
        assert_eq!(seen.last().map(|s| s.method.as_str()), Some(method));
    }
    edge.proxy.shutdown().await;
}

/// Envoy 1.40 (measured): the headers `Connection` names, `Keep-Alive`, `Proxy-Connection`,
/// a stray `Upgrade` and `TE` other than `trailers` are removed (`te: trailers, deflate`
/// arrives as `te: trailers`); the client's Envoy control headers are removed, others
/// (`x-envoy-custom`) pass; a `Connection` naming `x-forwarded-for` gets 400 `DPE`. Before:
/// all of them reached the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_and_envoy_control_request_headers_never_reach_the_upstream() {
    let edge = Edge::start(Upstream::ok("public").await).await;
    let r = raw_request(
        edge.proxy.addr,
        &request(
            "GET",
            "/hop",
            &[
                "Connection: x-foo, keep-alive",
                "X-Foo: 1",
                "X-Bar: 2",
                "Keep-Alive: timeout=5",
                "Proxy-Connection: keep-alive",
                "Upgrade: foo",
                "TE: trailers, deflate",
                "x-envoy-retry-on: 5xx",
                "x-envoy-max-retries: 7",
                "x-envoy-upstream-rq-timeout-ms: 1",
                "x-envoy-upstream-rq-per-try-timeout-ms: 1",
                "x-envoy-original-path: /evil",
                "x-envoy-internal: true",
                "x-envoy-external-address: 1.1.1.1",
                "x-envoy-custom: kept",
            ],
        ),
    )
    .await;
    assert_eq!(r.code(), 200, "{r:?}");
    let seen = edge.public.seen();
    let s = seen.last().expect("the request reached the upstream");
    for gone in [
        "connection",
        "x-foo",
        "keep-alive",
        "proxy-connection",
        "upgrade",
        "x-envoy-retry-on",
        "x-envoy-max-retries",
        "x-envoy-upstream-rq-timeout-ms",
        "x-envoy-upstream-rq-per-try-timeout-ms",
        "x-envoy-original-path",
        "x-envoy-internal",
    ] {
        assert!(!s.headers.contains_key(gone), "{gone} reached the upstream");
    }
    // The gateway sets its own: the client's address (Envoy 1.40: `127.0.0.1`).
    assert_eq!(s.header("x-envoy-external-address"), "127.0.0.1");
    assert_eq!(s.header("x-bar"), "2");
    assert_eq!(s.header("te"), "trailers");
    assert_eq!(s.header("x-envoy-custom"), "kept");
    let r = raw_request(
        edge.proxy.addr,
        &request(
            "GET",
            "/hop",
            &["Connection: x-forwarded-for", "X-Forwarded-For: 1.2.3.4"],
        ),
    )
    .await;
    assert_eq!((r.code(), r.text().as_str()), (400, "Bad Request"));
    edge.proxy.shutdown().await;
}

/// A client cannot steer retries or timeouts with Envoy's control headers: an upstream that
/// answers 503 is called once (Istio's default policy does not retry 503), and a 1 ms
/// `x-envoy-upstream-rq-timeout-ms` does not cut a 100 ms answer (Envoy 1.40 removes the
/// headers before its router reads them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_control_headers_do_not_steer_retries_or_timeouts() {
    let public = Upstream::with("public", |_, s| {
        if s.path.starts_with("/fail") {
            (StatusCode::SERVICE_UNAVAILABLE, Duration::ZERO)
        } else {
            (StatusCode::OK, Duration::from_millis(100))
        }
    })
    .await;
    let edge = Edge::start(public).await;
    let r = raw_request(
        edge.proxy.addr,
        &request(
            "GET",
            "/fail",
            &["x-envoy-retry-on: 5xx", "x-envoy-max-retries: 5"],
        ),
    )
    .await;
    assert_eq!(r.code(), 503);
    assert_eq!(
        edge.public.calls(),
        1,
        "the client's retry policy was followed"
    );
    let r = raw_request(
        edge.proxy.addr,
        &request("GET", "/slow", &["x-envoy-upstream-rq-timeout-ms: 1"]),
    )
    .await;
    assert_eq!(r.code(), 200, "the client's timeout was followed: {r:?}");
    edge.proxy.shutdown().await;
}

/// Envoy 1.40 (measured): the upstream's `Connection`, `Keep-Alive`, `Proxy-Connection` and
/// `Upgrade` do not reach the client (a header the upstream's `Connection` names does:
/// Envoy passes `x-bar` on). Before: all of them reached the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_hop_by_hop_headers_never_reach_the_client() {
    let edge = Edge::start(Upstream::ok("public").await).await;
    let r = raw_request(edge.proxy.addr, &request("GET", "/raw/hop-by-hop", &[])).await;
    assert_eq!((r.code(), r.text().as_str()), (200, "ok"), "{r:?}");
    assert_eq!(header(&r.head, "keep-alive"), None, "{}", r.head);
    assert_eq!(header(&r.head, "proxy-connection"), None, "{}", r.head);
    assert_eq!(header(&r.head, "upgrade"), None, "{}", r.head);
    assert_ne!(header(&r.head, "connection"), Some("x-bar, keep-alive"));
    assert_eq!(header(&r.head, "x-bar"), Some("1"));
    edge.proxy.shutdown().await;
}

/// Envoy 1.40 (measured): each of these upstream responses gets `502`, body `upstream
/// connect error or disconnect/reset before headers. reset reason: protocol error`, flag
/// `UPE`, and is not retried. Before: `503 UR` (`remote reset`), or, for two equal
/// Content-Lengths, Content-Length with chunked and a gzip coding, the response passed on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_upstream_responses_get_502_upe() {
    let edge = Edge::start(Upstream::ok("public").await).await;
    let cases = [
        "2OO",
        "bad-status-line",
        "two-content-lengths",
        "same-content-lengths",
        "nul-in-header",
        "length-and-chunked",
        "gzip-coding",
        "1000-headers",
        "1mib-header",
    ];
    for name in cases {
        let before = edge.raw.received().len();
        let r = raw_request(
            edge.proxy.addr,
            &request("GET", &format!("/raw/{name}"), &[]),
        )
        .await;
        assert_eq!(r.code(), 502, "{name}: {r:?}");
        assert_eq!(r.text(), PROTOCOL_ERROR, "{name}");
        assert_eq!(
            header(&r.head, "content-type"),
            Some("text/plain"),
            "{name}"
        );
        assert_eq!(edge.raw.received().len(), before + 1, "{name}: retried");
    }
    let m = edge.metrics().await;
    assert_eq!(
        requests_total(&m, &[("response_code", "502"), ("response_flags", "UPE")]),
        cases.len() as u64,
        "{m}"
    );
    // A connection closed without a byte of answer: 503 `UC`, `connection termination`.
    let r = raw_request(
        edge.proxy.addr,
        &request("GET", "/raw/closed-without-answer", &[]),
    )
    .await;
    assert_eq!(r.code(), 503, "{r:?}");
    assert_eq!(
        r.text(),
        "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
    );
    let m = edge.metrics().await;
    assert_eq!(
        requests_total(&m, &[("response_code", "503"), ("response_flags", "UC")]),
        1
    );
    edge.proxy.shutdown().await;
}

/// Envoy 1.40 (measured): a response cut after its head, or after 10 of its 100 bytes,
/// reaches the client as far as it came (`200`, the bytes received), then the connection
/// closes; it is logged `200 UPE`. Before: the proxy also closed, but counted a complete
/// `200 -`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_response_closes_the_client_connection_and_is_counted_upe() {
    let edge = Edge::start(Upstream::ok("public").await).await;
    for (name, got) in [("cut-after-head", ""), ("cut-mid-body", "0123456789")] {
        let r = raw_request(
            edge.proxy.addr,
            &request("GET", &format!("/raw/{name}"), &[]),
        )
        .await;
        assert!(r.closed, "{name}: the connection stays open: {r:?}");
        assert!(
            r.received.starts_with(b"HTTP/1.1 200 OK\r\n"),
            "{name}: {r:?}"
        );
        let end = r
            .received
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head");
        assert_eq!(&r.received[end + 4..], got.as_bytes(), "{name}");
    }
    let m = edge.metrics().await;
    assert_eq!(
        requests_total(&m, &[("response_code", "200"), ("response_flags", "UPE")]),
        2,
        "{m}"
    );
    assert_eq!(
        requests_total(&m, &[("response_code", "200"), ("response_flags", "-")]),
        0,
        "{m}"
    );
    edge.proxy.shutdown().await;
}

/// Envoy 1.40 (measured): `CONNECT` (to the edge host or to a loopback address) gets `404`
/// with flag `NR` and nothing goes upstream; `Upgrade: h2c` with `Connection: Upgrade,
/// HTTP2-Settings` is served as plain HTTP/1.1 and the upstream sees none of the three
/// headers; `Upgrade: foo` gets `403`. Before: CONNECT was forwarded (and a 200 relayed),
/// and the h2c headers reached the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_is_no_route_and_h2c_upgrades_are_served_as_http1() {
    let edge = Edge::start(Upstream::ok("public").await).await;
    for target in [format!("{HOST}:80"), "127.0.0.1:80".to_owned()] {
        let r = raw_request(
            edge.proxy.addr,
            format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes(),
        )
        .await;
        assert_eq!(r.code(), 404, "{target}: {r:?}");
        assert_eq!(edge.public.calls(), 0, "{target} went upstream");
        assert_eq!(edge.raw.received().len(), 0);
    }
    let m = edge.metrics().await;
    assert_eq!(
        requests_total(&m, &[("response_code", "404"), ("response_flags", "NR")]),
        2
    );
    let r = raw_request(
        edge.proxy.addr,
        &request(
            "GET",
            "/h2c",
            &[
                "Connection: Upgrade, HTTP2-Settings",
                "Upgrade: h2c",
                "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
            ],
        ),
    )
    .await;
    assert!(r.head.starts_with("HTTP/1.1 200"), "{r:?}");
    let seen = edge.public.seen();
    let s = seen.last().expect("served");
    for gone in ["connection", "upgrade", "http2-settings"] {
        assert!(!s.headers.contains_key(gone), "{gone} reached the upstream");
    }
    let r = raw_request(
        edge.proxy.addr,
        &request("GET", "/foo", &["Connection: upgrade", "Upgrade: foo"]),
    )
    .await;
    assert_eq!(r.code(), 403, "{r:?}");
    edge.proxy.shutdown().await;
}

/// A client that gives up is counted as Envoy 1.40 counts it (measured; the HTTP/1 cases are
/// also in `envoy_edge.rs`, side by side with Envoy): over HTTP/1, a client that closes its
/// connection before the response head is `0 DC`, mid-body `200 DC`; over HTTP/2, a client
/// that resets its stream (the connection stays open) is `0 -` before the head and `200 -`
/// mid-body. Before: the first was not counted at all, the others counted as whole `200 -`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_gives_up_is_counted_as_envoy_counts_it() {
    use http_body_util::BodyExt as _;
    let edge = Edge::start(Upstream::ok("public").await).await;
    let give_up = Duration::from_millis(300);
    for name in ["slow-head", "stall-mid-body"] {
        let addr = edge.proxy.addr;
        let bytes = request("GET", &format!("/raw/{name}"), &[]);
        tokio::task::spawn_blocking(move || {
            envoy_harness::raw::send_giving_up(addr, &bytes, give_up)
        })
        .await
        .expect("the client");
    }
    // HTTP/2: the stream is reset (its response future or body dropped), the connection kept.
    let stream = tokio::net::TcpStream::connect(edge.proxy.addr)
        .await
        .expect("connect");
    let (mut h2, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2c handshake");
    tokio::spawn(conn);
    let get = |name: &str| {
        http::Request::get(format!("http://{HOST}/raw/{name}"))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .expect("a request")
    };
    let pending = h2.send_request(get("slow-head"));
    assert!(
        tokio::time::timeout(give_up, pending).await.is_err(),
        "answered at once"
    );
    let resp = tokio::time::timeout(PATIENCE, h2.send_request(get("stall-mid-body")))
        .await
        .expect("a head in time")
        .expect("a head");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let first = tokio::time::timeout(PATIENCE, body.frame())
        .await
        .expect("a frame in time")
        .expect("a frame")
        .expect("data");
    assert_eq!(first.into_data().expect("data").len(), 10);
    drop(body);
    let counted = |m: &str| {
        (
            requests_total(m, &[("response_code", "0"), ("response_flags", "DC")]),
            requests_total(m, &[("response_code", "200"), ("response_flags", "DC")]),
            requests_total(m, &[("response_code", "0"), ("response_flags", "-")]),
            requests_total(m, &[("response_code", "200"), ("response_flags", "-")]),
        )
    };
    let mut seen = (0, 0, 0, 0);
    for _ in 0..100 {
        seen = counted(&edge.metrics().await);
        if seen == (1, 1, 1, 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, (1, 1, 1, 1), "0 DC, 200 DC, 0 -, 200 -");
    edge.proxy.shutdown().await;
}
