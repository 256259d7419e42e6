//! Timeouts and limits at the edge, with Envoy's answers (issue 10, item 5). Each case is
//! sent through a real Envoy configured as istiod configures its HTTP connection manager
//! (when Envoy is installed) and through mesh-proxy, with the same short stream idle
//! timeout, and the answers are compared. Measured with Envoy 1.40 (`stream_idle_timeout:
//! 2s`): a stalled request body -> 408 `stream timeout` + `connection: close` (flag SI);
//! an upstream that never answers -> 504 `stream timeout` (SI), connection kept; an
//! upstream that stalls mid-body -> the bytes sent, then the connection closed; a half or
//! trickled request head -> 408 `stream timeout` + `connection: close` (the idle timer
//! runs from the first byte and head bytes do not reset it); a 61 KiB header or 101
//! headers -> 431; past the listener's connection limit -> the connection is reset.
//! Response bodies cut for idleness are logged `200 SI` (access log
//! `%RESPONSE_CODE% %RESPONSE_FLAGS%`), and a websocket tunnel where nobody sends for the
//! timeout is closed and logged `101 SI`.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{RawReply, TempDir, client, get, metric, raw_request, requests_total};
use envoy_harness::{EchoUpstream, Envoy};
use mesh_proxy::Running;

/// The idle timeout both proxies get.
const IDLE: Duration = Duration::from_millis(500);

/// An upstream that reads each request and never answers; for a target containing
/// `/partial` it sends a head promising 100 bytes, then 5 of them, and stalls; for one
/// containing `/headonly`, the head alone.
fn hanging_upstream() -> SocketAddr {
    let l = StdListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            if buf[..n].windows(8).any(|w| w == b"/partial") {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhello");
            }
            if buf[..n].windows(9).any(|w| w == b"/headonly") {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n");
            }
            // Held until the process ends; bounded by the test's few connections.
            if held.len() < 64 {
                held.push(s);
            }
        }
    });
    addr
}

/// A websocket upstream as a proxy sees it: answers an `Upgrade: websocket` request with
/// 101, then echoes every byte until the proxy closes (the frames are opaque to a proxy,
/// so raw bytes stand for them). Counts the tunnels whose proxy side it saw close.
struct TunnelUpstream {
    addr: SocketAddr,
    closed: Arc<AtomicUsize>,
}

impl TunnelUpstream {
    fn start() -> TunnelUpstream {
        let l = StdListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let closed = Arc::new(AtomicUsize::new(0));
        let seen = closed.clone();
        std::thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = s.write_all(
                        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
                    );
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                let _ = s.write_all(&buf[..n]);
                            }
                        }
                    }
                    seen.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        TunnelUpstream { addr, closed }
    }

    fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

fn config(hang: u16, echo: u16, ws: u16) -> String {
    let se = |name: &str, port: u16| {
        format!(
            "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: {name}, namespace: demo}}
spec:
  hosts: [{name}.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {{number: 80, name: http, protocol: HTTP}}
  endpoints:
  - address: 127.0.0.1
    ports: {{http: {port}}}
---
"
        )
    };
    format!(
        "{}{}{}{}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: site, namespace: demo}}
spec:
  hosts: [site.example.com]
  gateways: [edge]
  http:
  - match: [{{uri: {{prefix: /hang}}}}]
    route: [{{destination: {{host: hang.internal}}}}]
  - match: [{{uri: {{prefix: /ws}}}}]
    route: [{{destination: {{host: ws.internal}}}}]
  - route: [{{destination: {{host: echo.internal}}}}]
",
        common::GATEWAY,
        se("hang", hang),
        se("echo", echo),
        se("ws", ws)
    )
}

/// Envoy as istiod configures a gateway's HTTP connection manager, with the stream idle
/// timeout `idle` and an access log of `%RESPONSE_CODE% %RESPONSE_FLAGS%` lines at
/// `access_log`.
fn envoy_bootstrap(hang: u16, echo: u16, ws: u16, idle: Duration, access_log: &Path) -> String {
    let idle = format!("{}s", idle.as_secs_f64());
    let log = access_log.display();
    format!(
        r#"
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
layered_runtime:
  layers:
  - name: static
    static_layer:
      envoy.resource_limits.listener.main.connection_limit: 3
static_resources:
  listeners:
  - name: main
    address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: outbound_0.0.0.0_80
          use_remote_address: true
          normalize_path: true
          path_with_escaped_slashes_action: KEEP_UNCHANGED
          stream_idle_timeout: {idle}
          upgrade_configs: [{{upgrade_type: websocket}}]
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: {log}
              log_format:
                text_format_source: {{inline_string: "%RESPONSE_CODE% %RESPONSE_FLAGS%\n"}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
          route_config:
            virtual_hosts:
            - name: site
              domains: [site.example.com]
              routes:
              - match: {{prefix: /hang}}
                route: {{cluster: hang, timeout: 0s}}
              - match: {{prefix: /ws}}
                route: {{cluster: ws, timeout: 0s}}
              - match: {{prefix: /}}
                route: {{cluster: echo, timeout: 0s}}
  clusters:
  - name: hang
    type: STATIC
    load_assignment:
      cluster_name: hang
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {hang}}}}}}}}}]}}]
  - name: echo
    type: STATIC
    load_assignment:
      cluster_name: echo
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {echo}}}}}}}}}]}}]
  - name: ws
    type: STATIC
    load_assignment:
      cluster_name: ws
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {ws}}}}}}}}}]}}]
"#
    )
}

async fn start_proxy(
    dir: &TempDir,
    (hang, echo, ws): (u16, u16, u16),
    idle: Duration,
    max_connections: usize,
) -> Running {
    let file = dir.write("site.yaml", &config(hang, echo, ws));
    let mut settings = common::settings(vec![file]);
    settings.options.stream_idle_timeout = Some(idle);
    settings.listener.max_connections = max_connections;
    common::start(settings).await
}

/// Writes `chunks` with `pause` between them, then reads as [`raw_request`] does.
async fn trickle(addr: SocketAddr, chunks: &[&[u8]], pause: Duration) -> RawReply {
    use tokio::io::AsyncWriteExt;
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return RawReply::default();
    };
    for c in chunks {
        if s.write_all(c).await.is_err() {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    read_reply(s).await
}

async fn read_reply(mut s: tokio::net::TcpStream) -> RawReply {
    use tokio::io::AsyncReadExt;
    let mut out = RawReply::default();
    let mut buf = vec![0u8; 8192];
    loop {
        // Once a whole response is in, wait only briefly for the close that may follow.
        let wait = if complete(&out.received) {
            Duration::from_millis(300)
        } else {
            common::PATIENCE
        };
        match tokio::time::timeout(wait, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                out.closed = true;
                break;
            }
            Ok(Ok(n)) => out.received.extend_from_slice(&buf[..n]),
            Err(_) => {
                out.timed_out = !complete(&out.received);
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&out.received).into_owned();
    if let Some((head, body)) = text.split_once("\r\n\r\n") {
        out.status = head.get(9..12).and_then(|s| s.parse().ok());
        out.head = head.to_owned();
        out.body = body.as_bytes().to_vec();
    }
    out
}

/// Whether `bytes` hold a response head and its whole `content-length` body.
fn complete(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    body.len() >= length
}

/// What one case looks like from the client: status, body, whether the connection closed.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: Option<u16>,
    body: String,
    close_header: bool,
}

fn seen(r: &RawReply) -> Seen {
    Seen {
        status: r.status,
        body: String::from_utf8_lossy(&r.body).into_owned(),
        close_header: r.head.to_ascii_lowercase().contains("connection: close"),
    }
}

const HOST: &[u8] = b"Host: site.example.com\r\n";

/// The cases, each as what a client sends and how it sends it.
async fn cases(addr: SocketAddr) -> Vec<(&'static str, Seen)> {
    let mut out = Vec::new();
    let stalled_body = [
        b"POST /hang HTTP/1.1\r\n".as_slice(),
        HOST,
        b"content-length: 10\r\n\r\nabc",
    ]
    .concat();
    out.push((
        "stalled request body",
        seen(&trickle(addr, &[&stalled_body], Duration::ZERO).await),
    ));
    let hang = [b"GET /hang HTTP/1.1\r\n".as_slice(), HOST, b"\r\n"].concat();
    let r = trickle(addr, &[&hang], Duration::ZERO).await;
    out.push(("hanging upstream", seen(&r)));
    let half = [b"GET / HTTP/1.1\r\n".as_slice(), HOST].concat();
    out.push((
        "half-sent head",
        seen(&trickle(addr, &[&half], Duration::ZERO).await),
    ));
    let head = [b"GET / HTTP/1.1\r\n".as_slice(), HOST, b"x-a: b\r\n\r\n"].concat();
    let bytes: Vec<&[u8]> = head.chunks(1).collect();
    out.push((
        "head trickled a byte per 50 ms",
        seen(&trickle(addr, &bytes, Duration::from_millis(50)).await),
    ));
    let big = [
        b"GET / HTTP/1.1\r\n".as_slice(),
        HOST,
        b"x-big: ",
        &vec![b'a'; 61 * 1024],
        b"\r\n\r\n",
    ]
    .concat();
    out.push(("61 KiB header", seen(&raw_request(addr, &big).await)));
    let many: Vec<u8> = (0..101)
        .flat_map(|i| format!("x-h{i}: 1\r\n").into_bytes())
        .collect();
    let many = [b"GET / HTTP/1.1\r\n".as_slice(), HOST, &many, b"\r\n"].concat();
    out.push(("101 headers", seen(&raw_request(addr, &many).await)));
    out
}

/// Stalled clients and upstreams get Envoy's answers, compared with a real Envoy on the
/// same inputs; each is counted with flag `SI`. Fails on main (no timeouts: every case
/// waits for ever; heads are allowed 400 KiB). A response body that stalls, after 5 of its
/// 100 bytes or right after its head, reaches the client as far as it came, then the
/// connection closes; it is counted `200 SI`, as Envoy logs it (before: `200 UPE`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_and_upstreams_get_envoys_stream_timeout_answers() {
    let hang = hanging_upstream();
    let echo = EchoUpstream::start("echo");
    let ws = TunnelUpstream::start();
    let ports = (hang.port(), echo.addr().port(), ws.addr.port());
    let dir = TempDir::new("timeouts");
    let proxy = start_proxy(&dir, ports, IDLE, 10_000).await;
    let ours = cases(proxy.addr).await;
    let expected = |s: u16, body: &str, close: bool| Seen {
        status: Some(s),
        body: body.to_owned(),
        close_header: close,
    };
    let want = [
        expected(408, "stream timeout", true),
        expected(504, "stream timeout", false),
        expected(408, "stream timeout", true),
        expected(408, "stream timeout", true),
    ];
    for ((what, got), want) in ours.iter().zip(&want) {
        assert_eq!(got, want, "{what}");
    }
    for (what, got) in &ours[4..] {
        assert_eq!(got.status, Some(431), "{what}: {:?}", got.status);
    }
    assert_eq!(
        ours[4].1,
        expected(431, "Request Header Fields Too Large", true)
    );
    let m = proxy.handle().metrics().encode();
    assert_eq!(
        requests_total(&m, &[("response_code", "408"), ("response_flags", "SI")]),
        1,
        "{m}"
    );
    assert_eq!(
        requests_total(&m, &[("response_code", "504"), ("response_flags", "SI")]),
        1,
        "{m}"
    );

    // An upstream that stalls mid-body, or right after its head: the client gets what was
    // sent, then a close.
    let partial = [b"GET /hang/partial HTTP/1.1\r\n".as_slice(), HOST, b"\r\n"].concat();
    let head_only = [b"GET /hang/headonly HTTP/1.1\r\n".as_slice(), HOST, b"\r\n"].concat();
    for (request, body) in [(&partial, b"hello".as_slice()), (&head_only, b"")] {
        let r = trickle(proxy.addr, &[request], Duration::ZERO).await;
        assert!(r.closed && !r.timed_out, "{r:?}");
        assert_eq!((r.status, r.body.as_slice()), (Some(200), body));
    }
    let m = proxy.handle().metrics().encode();
    assert_eq!(
        requests_total(&m, &[("response_code", "200"), ("response_flags", "SI")]),
        2,
        "{m}"
    );
    assert_eq!(
        requests_total(&m, &[("response_code", "200"), ("response_flags", "UPE")]),
        0,
        "{m}"
    );
    // The proxy still serves.
    let ok = get(&client(), proxy.addr, "site.example.com", "/", &[]).await;
    assert_eq!(ok.status.as_u16(), 200);
    proxy.shutdown().await;

    let Some(bin) =
        Envoy::binary_or_skip("stalled_clients_and_upstreams_get_envoys_stream_timeout_answers")
    else {
        return;
    };
    let log = dir.path().join("access.log");
    let envoy = Envoy::start(
        &bin,
        &envoy_bootstrap(ports.0, ports.1, ports.2, IDLE, &log),
    )
    .expect("envoy starts");
    let theirs = cases(envoy.listener(0)).await;
    for ((what, a), (_, b)) in ours.iter().zip(&theirs) {
        if what.contains("101") {
            // hyper's 431 for too many headers has no body; Envoy's says `Request Header
            // Fields Too Large`.
            assert_eq!(a.status, b.status, "{what}: ours {a:?}, Envoy {b:?}");
        } else {
            assert_eq!(a, b, "{what}: ours vs Envoy");
        }
    }
    for (request, body) in [(&partial, b"hello".as_slice()), (&head_only, b"")] {
        let r = trickle(envoy.listener(0), &[request], Duration::ZERO).await;
        assert!(r.closed && !r.timed_out, "Envoy: {r:?}");
        assert_eq!((r.status, r.body.as_slice()), (Some(200), body), "Envoy");
    }
    let logged = logged_at_least(&log, "200 SI", 2).await;
    assert_eq!(logged, 2, "Envoy's access log:\n{}", read_log(&log));
    assert_eq!(
        read_log(&log).lines().filter(|l| *l == "200 UPE").count(),
        0,
        "Envoy's access log:\n{}",
        read_log(&log)
    );
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The number of access log lines equal to `line`, once there are `n` of them or after
/// a bounded wait (Envoy flushes its access log every 50 ms in the harness; the first flush,
/// which creates the file, can take longer on a loaded machine).
async fn logged_at_least(path: &Path, line: &str, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let count = read_log(path).lines().filter(|l| *l == line).count();
        if count >= n || Instant::now() >= deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a websocket client saw of one tunnel.
#[derive(Debug, PartialEq, Eq)]
struct Tunnel {
    /// The status of the upgrade's answer.
    status: Option<u16>,
    /// Bytes echoed back while the client kept sending.
    echoed: usize,
    /// The proxy closed the tunnel while the client kept sending.
    closed_while_busy: bool,
    /// Once nobody sent anything, the proxy closed the tunnel (within the patience).
    closed_when_idle: bool,
}

/// Opens a websocket tunnel through `addr`, sends `sends` bytes `every` apart (reading the
/// echoes), then stays silent until the proxy closes the tunnel or the patience runs out.
async fn tunnel(addr: SocketAddr, sends: usize, every: Duration) -> Tunnel {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let upgrade = [
        b"GET /ws HTTP/1.1\r\n".as_slice(),
        HOST,
        b"connection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\n",
        b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    ]
    .concat();
    s.write_all(&upgrade).await.expect("send the upgrade");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let mut out = Tunnel {
        status: None,
        echoed: 0,
        closed_while_busy: false,
        closed_when_idle: false,
    };
    let head_end = loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match tokio::time::timeout(common::PATIENCE, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return out,
        }
    };
    out.status = String::from_utf8_lossy(&got[..head_end])
        .get(9..12)
        .and_then(|c| c.parse().ok());
    out.echoed = got.len() - head_end;
    for _ in 0..sends {
        if s.write_all(b"x").await.is_err() {
            out.closed_while_busy = true;
            return out;
        }
        let until = tokio::time::Instant::now() + every;
        while let Ok(r) = tokio::time::timeout_at(until, s.read(&mut buf)).await {
            match r {
                Ok(n) if n > 0 => out.echoed += n,
                _ => {
                    out.closed_while_busy = true;
                    return out;
                }
            }
        }
    }
    // Silent now: a bounded wait for the close.
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while let Ok(r) = tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
        match r {
            Ok(n) if n > 0 => out.echoed += n,
            _ => {
                out.closed_when_idle = true;
                break;
            }
        }
    }
    out
}

/// A websocket tunnel gets the stream idle timeout as Envoy applies it to an upgraded
/// stream: bytes in either direction keep it open, and once neither side has sent anything
/// for the timeout, both connections are closed and the request is counted `101 SI`.
/// Measured with Envoy 1.40 (istiod's HCM settings, websocket upgrades,
/// `stream_idle_timeout: 1s`, route `timeout: 0s`): a silent tunnel is closed 1 s after
/// the 101 (the upstream's side at once, the client's after Envoy's 1 s delayed close),
/// logged `101 SI`; a tunnel where only the client, or only the upstream, sends every
/// 500 ms stays open (4 s observed); the same runs here against Envoy. Before: a tunnel
/// stayed open for ever (the silent case waited out the patience) and was counted `101 -`
/// when it opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_tunnels_close_after_the_stream_idle_timeout() {
    // Long enough that the client's sends, 100 ms apart, keep the busy tunnel open on a
    // loaded machine; the silent tunnel waits for it once.
    let idle = Duration::from_secs(1);
    let (sends, every) = (25, Duration::from_millis(100));
    let hang = hanging_upstream();
    let echo = EchoUpstream::start("echo");
    let ws = TunnelUpstream::start();
    let ports = (hang.port(), echo.addr().port(), ws.addr.port());
    let dir = TempDir::new("ws-idle");
    let proxy = start_proxy(&dir, ports, idle, 10_000).await;
    let want = |echoed: usize| Tunnel {
        status: Some(101),
        echoed,
        closed_while_busy: false,
        closed_when_idle: true,
    };
    let (silent, busy) = tokio::join!(
        tunnel(proxy.addr, 0, every),
        tunnel(proxy.addr, sends, every)
    );
    assert_eq!(silent, want(0), "a silent tunnel");
    assert_eq!(
        busy,
        want(sends),
        "a tunnel the client keeps busy, then leaves silent"
    );
    let upstream_closed = common::eventually(common::PATIENCE, || async {
        (ws.closed() == 2).then_some(())
    })
    .await;
    assert!(
        upstream_closed.is_some(),
        "the upstream's sides are closed too"
    );
    let m = proxy.handle().metrics().encode();
    assert_eq!(
        requests_total(&m, &[("response_code", "101"), ("response_flags", "SI")]),
        2,
        "{m}"
    );
    assert_eq!(requests_total(&m, &[("response_code", "101")]), 2, "{m}");
    proxy.shutdown().await;

    let Some(bin) = Envoy::binary_or_skip("websocket_tunnels_close_after_the_stream_idle_timeout")
    else {
        return;
    };
    let log = dir.path().join("access.log");
    let envoy = Envoy::start(
        &bin,
        &envoy_bootstrap(ports.0, ports.1, ports.2, idle, &log),
    )
    .expect("envoy starts");
    let (silent, busy) = tokio::join!(
        tunnel(envoy.listener(0), 0, every),
        tunnel(envoy.listener(0), sends, every)
    );
    assert_eq!(silent, want(0), "Envoy: a silent tunnel");
    assert_eq!(busy, want(sends), "Envoy: a busy tunnel");
    let logged = logged_at_least(&log, "101 SI", 2).await;
    assert_eq!(logged, 2, "Envoy's access log:\n{}", read_log(&log));
}

/// Past the connection limit a new connection is reset at once (Envoy 1.40 with the
/// runtime `envoy.resource_limits.listener.main.connection_limit: 3`: the fourth
/// connection is reset, `downstream_cx_overflow` counts it), and counted; once a
/// connection closes, a new one is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_are_reset() {
    let hang = hanging_upstream();
    let echo = EchoUpstream::start("echo");
    let ws = TunnelUpstream::start();
    let ports = (hang.port(), echo.addr().port(), ws.addr.port());
    let dir = TempDir::new("cxlimit");
    let proxy = start_proxy(&dir, ports, IDLE, 3).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let s = tokio::net::TcpStream::connect(proxy.addr)
            .await
            .expect("connect");
        open.push(s);
    }
    // Let the proxy accept them.
    let c = client();
    let admin = || common::admin(&c, proxy.admin_addr, "/metrics");
    let active = common::eventually(common::PATIENCE, || async {
        let m = admin().await;
        (metric(&m.body, "mesh_proxy_downstream_cx_active ") == 3).then_some(())
    })
    .await;
    assert!(active.is_some(), "three connections open");
    let req = b"GET / HTTP/1.1\r\nHost: site.example.com\r\nConnection: close\r\n\r\n";
    let r = raw_request(proxy.addr, req).await;
    assert!(r.status.is_none() && r.closed, "the fourth is reset: {r:?}");
    let m = admin().await;
    assert_eq!(
        metric(&m.body, "mesh_proxy_downstream_cx_overflow_total"),
        1,
        "{}",
        m.body
    );
    drop(open.pop());
    let served = common::eventually(common::PATIENCE, || async {
        let r = raw_request(proxy.addr, req).await;
        (r.status == Some(200)).then_some(())
    })
    .await;
    assert!(served.is_some(), "a connection is served once one closed");
    proxy.shutdown().await;

    let Some(bin) = Envoy::binary_or_skip("connections_past_the_limit_are_reset") else {
        return;
    };
    let log = dir.path().join("access.log");
    let envoy = Envoy::start(
        &bin,
        &envoy_bootstrap(ports.0, ports.1, ports.2, IDLE, &log),
    )
    .expect("envoy starts");
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(
            tokio::net::TcpStream::connect(envoy.listener(0))
                .await
                .expect("connect"),
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = raw_request(envoy.listener(0), req).await;
    assert!(
        r.status.is_none() && r.closed,
        "Envoy resets the fourth: {r:?}"
    );
    // Envoy names the listener's stats after the address it was configured with.
    let stat = "listener.127.0.0.1_0.downstream_cx_overflow";
    assert_eq!(
        envoy.stat(stat),
        Some(1),
        "{stat}: {:?}",
        envoy.admin_get("/stats?filter=overflow")
    );
}

/// A connection that sends nothing is closed, silently, at the head timeout, and so is a
/// keep-alive connection that sends nothing after its first exchange: each holds a file
/// descriptor, and 2 000 of them grew the proxy to 177 MiB before the limits (issue 10).
/// Before: a connection that never sent a byte was held for ever (the server waits for a
/// first byte to tell HTTP/1.1 from h2c, with no timer). Envoy 1.40 keeps both open until
/// its connection idle timeout (1 h by default; measured: a silent connection still open
/// after 8 s with `stream_idle_timeout: 1s`): mesh-proxy bounds them tighter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_at_the_head_timeout() {
    let hang = hanging_upstream();
    let echo = EchoUpstream::start("echo");
    let ws = TunnelUpstream::start();
    let ports = (hang.port(), echo.addr().port(), ws.addr.port());
    let dir = TempDir::new("silent");
    let proxy = start_proxy(&dir, ports, IDLE, 10_000).await;
    let silent = trickle(proxy.addr, &[], Duration::ZERO).await;
    assert!(
        silent.closed && !silent.timed_out && silent.received.is_empty(),
        "a silent connection: {silent:?}"
    );
    let once = [b"GET / HTTP/1.1\r\n".as_slice(), HOST, b"\r\n"].concat();
    let kept = tokio::net::TcpStream::connect(proxy.addr)
        .await
        .expect("connect");
    let (mut rd, mut wr) = kept.into_split();
    tokio::io::AsyncWriteExt::write_all(&mut wr, &once)
        .await
        .expect("send");
    let mut got = Vec::new();
    let closed = tokio::time::timeout(
        common::PATIENCE,
        tokio::io::AsyncReadExt::read_to_end(&mut rd, &mut got),
    )
    .await;
    assert!(closed.is_ok(), "an idle keep-alive connection is closed");
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 200") && text.matches("HTTP/1.1").count() == 1,
        "one answer, then the close: {text}"
    );
    proxy.shutdown().await;
}
