//! Hostile requests and configurations against the proxy, over real sockets on 127.0.0.1.
//! Requests are written byte for byte on a raw `TcpStream`, since a normal client refuses
//! to send most of them. Every case gets a clear answer (a status from hyper's parser or
//! from the mesh, as Envoy would give) and the proxy keeps serving; none reaches an upstream
//! it should not.
//!
//! The path-normalization cases are Istio's and Envoy's known bypasses (CVE-2021-31920 and
//! SPEC.md sections 3 and 9): a route sends `prefix: /admin` to an "admin" upstream and
//! everything else to a "public" one, and a second configuration answers `/admin` with a
//! direct 403 (a "deny"), under each `pathNormalization`.

mod common;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use http::StatusCode;
use mesh_match::PathNormalization;
use mesh_proxy::Running;

const SITE: &str = "site.example.com";

/// The longest a hostile case may take: a guard against runaway work (a hang fails instead
/// of stalling CI), not a speed claim; generous enough for a loaded machine.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// `/admin` to the admin upstream, everything else to the public one.
const ROUTE: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: site, namespace: demo}
spec:
  hosts: [site.example.com]
  gateways: [edge]
  http:
  - name: admin
    match:
    - uri: {prefix: /admin}
    route:
    - destination: {host: admin, port: {number: 8080}}
  - name: public
    route:
    - destination: {host: public, port: {number: 8080}}
---
";

/// `/admin` denied with a direct 403, everything else to the public upstream.
const DENY: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: site, namespace: demo}
spec:
  hosts: [site.example.com]
  gateways: [edge]
  http:
  - name: deny-admin
    match:
    - uri: {prefix: /admin}
    directResponse: {status: 403, body: {string: denied}}
  - name: public
    route:
    - destination: {host: public, port: {number: 8080}}
---
";

/// Two upstreams and a proxy in front of them.
struct Site {
    admin: Upstream,
    public: Upstream,
    proxy: Running,
    _dir: TempDir,
}

impl Site {
    async fn start(routes: &str, mode: PathNormalization) -> Site {
        let admin = Upstream::ok("admin").await;
        let public = Upstream::ok("public").await;
        let yaml = [
            GATEWAY.to_owned(),
            routes.to_owned(),
            service_entry(
                "admin",
                "admin.demo.svc.cluster.local",
                &[(&admin, &[("app", "admin")])],
            ),
            service_entry(
                "public",
                "public.demo.svc.cluster.local",
                &[(&public, &[("app", "public")])],
            ),
        ]
        .concat();
        let dir = TempDir::new("hostile");
        let file = dir.write("mesh.yaml", &yaml);
        let mut s = settings(vec![file]);
        s.options.path_normalization = mode;
        let proxy = start(s).await;
        Site {
            admin,
            public,
            proxy,
            _dir: dir,
        }
    }

    /// Sends `target` as the request target, as is.
    async fn send(&self, target: &str) -> Landed {
        self.send_bytes(&request(target.as_bytes(), &[])).await
    }

    /// Sends raw bytes and reports where the request landed.
    async fn send_bytes(&self, bytes: &[u8]) -> Landed {
        let (a, p) = (self.admin.calls(), self.public.calls());
        let reply = raw_request(self.proxy.addr, bytes).await;
        let landed = if self.admin.calls() > a {
            Landed::Admin(
                self.admin
                    .seen()
                    .last()
                    .map(|s| s.path.clone())
                    .unwrap_or_default(),
            )
        } else if self.public.calls() > p {
            Landed::Public(
                self.public
                    .seen()
                    .last()
                    .map(|s| s.path.clone())
                    .unwrap_or_default(),
            )
        } else {
            Landed::Status(reply.code())
        };
        // An upstream answered: the proxy passed its 200 on.
        if !matches!(landed, Landed::Status(_)) {
            assert_eq!(reply.code(), 200, "{landed:?}: {reply:?}");
        }
        landed
    }

    /// A plain request still works.
    async fn still_serves(&self) {
        let r = raw_request(self.proxy.addr, &request(b"/public/ok", &[])).await;
        assert_eq!(r.code(), 200, "the proxy keeps serving: {r:?}");
    }
}

/// Where a request ended: at an upstream (with the path it saw), or answered by the proxy
/// (or by hyper in front of it) with a status; `Status(0)`: no answer, connection closed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Landed {
    Admin(String),
    Public(String),
    Status(u16),
}

use Landed::{Admin, Public, Status};

fn to_admin(p: &str) -> Landed {
    Admin(p.to_owned())
}

fn to_public(p: &str) -> Landed {
    Public(p.to_owned())
}

/// `GET target HTTP/1.1` to `site.example.com`, with `extra` header lines, closing after.
fn request(target: &[u8], extra: &[&[u8]]) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(b"GET ");
    r.extend_from_slice(target);
    r.extend_from_slice(b" HTTP/1.1\r\nHost: site.example.com\r\n");
    for h in extra {
        r.extend_from_slice(h);
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"Connection: close\r\n\r\n");
    r
}

const MODES: [PathNormalization; 4] = [
    PathNormalization::None,
    PathNormalization::Base,
    PathNormalization::MergeSlashes,
    PathNormalization::DecodeAndMergeSlashes,
];

/// What Envoy 1.40 did with 160 hostile request targets under each normalization, recorded
/// by running it (`mesh-match/tests/data/envoy-paths.tsv`; `mesh-match/tests/envoy_paths.rs`
/// keeps the file true to Envoy): the path the upstream received, or Envoy's status.
const ENVOY_PATHS: &str = include_str!("../../mesh-match/tests/data/envoy-paths.tsv");

/// Where a request with the path Envoy forwarded lands with the ROUTE configuration.
fn landed_as(answer: &str) -> Landed {
    match answer.parse::<u16>() {
        Ok(status) => Status(status),
        Err(_) if answer.starts_with("/admin") => to_admin(answer),
        Err(_) => to_public(answer),
    }
}

/// Targets hyper's request-target parser (the `http` crate) treats differently from Envoy's
/// HTTP/1 codec, before the mesh sees the request: `<`, `>` and `` ` `` are refused with 400
/// (Envoy accepts them and escapes them in the path), and a fragment is dropped (Envoy
/// answers 400; see `a_fragment_is_dropped_before_routing_and_never_forwarded`). Returns the
/// target the mesh sees, or `None` when hyper refuses it.
fn as_hyper_delivers(target: &str) -> Option<&str> {
    if target.contains(['<', '>', '`']) {
        return None;
    }
    Some(target.split('#').next().unwrap_or(target))
}

/// Each recorded target with where it lands under NONE, BASE, MERGE_SLASHES and
/// DECODE_AND_MERGE_SLASHES with the ROUTE configuration: where Envoy 1.40 sent it, except
/// for the codec differences of [`as_hyper_delivers`], where it is where Envoy sends the
/// target hyper delivers (or 400 when hyper refuses it).
fn route_expectations() -> Vec<(&'static str, [Landed; 4])> {
    let rows: Vec<(&str, [&str; 4])> = ENVOY_PATHS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c.len() == 5).then(|| (c[0], [c[1], c[2], c[3], c[4]]))
        })
        .collect();
    assert!(rows.len() >= 75, "the recorded table is too small");
    let answers_for = |target: &str| rows.iter().find(|(t, _)| *t == target).map(|(_, a)| *a);
    rows.iter()
        .map(|(target, answers)| {
            let landed = match as_hyper_delivers(target) {
                None => [Status(400), Status(400), Status(400), Status(400)],
                Some(t) if t == *target => answers.map(landed_as),
                Some(t) => match answers_for(t) {
                    Some(a) => a.map(landed_as),
                    // Not recorded: normalize as Envoy would (the pure test checks the
                    // normalizer against every recorded row).
                    None => MODES.map(|m| match mesh_match::normalize_target(t, m) {
                        Ok(p) => landed_as(&p),
                        Err(_) => Status(400),
                    }),
                },
            };
            (*target, landed)
        })
        .collect()
}

fn mode_index(mode: PathNormalization) -> usize {
    MODES.iter().position(|m| *m == mode).unwrap_or(0)
}

/// Runs every expectation under `mode` with `routes`, mapping the ROUTE expectation through
/// `expect` (for the deny configuration), and returns the mismatches.
async fn check_mode(
    routes: &str,
    mode: PathNormalization,
    expect: impl Fn(&Landed) -> Landed,
) -> Vec<String> {
    let site = Site::start(routes, mode).await;
    let mut wrong = Vec::new();
    let mut table = String::new();
    for (target, outcomes) in route_expectations() {
        let want = expect(&outcomes[mode_index(mode)]);
        let got = site.send(target).await;
        let _ = writeln!(table, "  {mode:<24} {target:<28} -> {got:?}");
        if got != want {
            wrong.push(format!("{mode} {target}: got {got:?}, want {want:?}"));
        }
    }
    print!("{table}");
    site.still_serves().await;
    site.proxy.shutdown().await;
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_normalization_routes_each_bypass_where_envoy_does() {
    let mut wrong = Vec::new();
    for mode in MODES {
        wrong.extend(check_mode(ROUTE, mode, Clone::clone).await);
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_normalization_denies_each_bypass_that_envoy_denies() {
    // With `/admin` denied, whatever ROUTE sent to the admin upstream is a 403 and nothing
    // else changes: no path the route matched as `/admin` reaches the public upstream.
    let mut wrong = Vec::new();
    for mode in MODES {
        wrong.extend(
            check_mode(DENY, mode, |l| match l {
                Admin(_) => Status(403),
                other => other.clone(),
            })
            .await,
        );
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_targets_hyper_refuses_get_400_and_the_proxy_keeps_serving() {
    let site = Site::start(DENY, PathNormalization::Base).await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("raw NUL", request(b"/admin\0x", &[])),
        ("raw non-UTF-8", request(b"/adm\xffin", &[])),
        ("raw UTF-8", request("/admin/é".as_bytes(), &[])),
        ("raw space", request(b"/ad min", &[])),
        ("raw tab", request(b"/ad\tmin", &[])),
        ("raw DEL", request(b"/admin\x7f", &[])),
        ("raw CR", request(b"/admin\rx", &[])),
        ("no leading slash", request(b"admin", &[])),
        ("backslash first", request(b"\\admin", &[])),
        ("empty target", request(b"", &[])),
        ("lower-case method", b"get /admin HTTP/1.1\r\nHost: site.example.com\r\n\r\n".to_vec()),
        ("HTTP/2 preface on HTTP/1", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()),
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec()),
        ("no Host", b"GET /admin HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec()),
        ("two Hosts", b"GET /admin HTTP/1.1\r\nHost: site.example.com\r\nHost: other.example.com\r\nConnection: close\r\n\r\n".to_vec()),
        ("HTTP/1.0 without Host", b"GET /admin HTTP/1.0\r\n\r\n".to_vec()),
        ("HTTP/0.9", b"GET /admin\r\n\r\n".to_vec()),
        ("asterisk", b"OPTIONS * HTTP/1.1\r\nHost: site.example.com\r\nConnection: close\r\n\r\n".to_vec()),
        ("CONNECT", b"CONNECT site.example.com:80 HTTP/1.1\r\nHost: site.example.com:80\r\n\r\n".to_vec()),
        // Absolute form: the target's authority routes, whatever the Host header says.
        ("absolute /admin, other Host", b"GET http://site.example.com/admin HTTP/1.1\r\nHost: other.example.com\r\nConnection: close\r\n\r\n".to_vec()),
        ("absolute dots", b"GET http://site.example.com/public/../admin HTTP/1.1\r\nHost: site.example.com\r\nConnection: close\r\n\r\n".to_vec()),
        ("absolute https", b"GET https://site.example.com/%61dmin HTTP/1.1\r\nHost: site.example.com\r\nConnection: close\r\n\r\n".to_vec()),
        ("absolute userinfo", b"GET http://x@site.example.com/admin HTTP/1.1\r\nHost: site.example.com\r\nConnection: close\r\n\r\n".to_vec()),
    ];
    let mut table = String::new();
    for (what, bytes) in &cases {
        let before = site.public.calls();
        let r = raw_request(site.proxy.addr, bytes).await;
        let reached = site.public.calls() - before;
        let _ = writeln!(
            table,
            "  {what:<26} -> status {:?}, closed {}, reached public {reached}{}",
            r.status,
            r.closed,
            site.public
                .seen()
                .last()
                .filter(|_| reached > 0)
                .map(|s| format!(" as {} {}", s.method, s.path))
                .unwrap_or_default()
        );
        // An answer, a closed connection, or (for the HTTP/2 preface) HTTP/2 frames.
        assert!(
            r.status.is_some() || r.closed || !r.received.is_empty(),
            "{what}: no answer: {r:?}"
        );
        // Nothing reaches the public upstream as `/admin`, and the admin rule is never
        // bypassed.
        if reached > 0 {
            let seen = site.public.seen();
            let path = &seen.last().expect("a request").path;
            assert!(!path.starts_with("/admin"), "{what}: {path}");
        }
    }
    print!("{table}");
    site.still_serves().await;
    site.proxy.shutdown().await;
}

/// A known difference from Envoy, which answers a fragment with 400 in every mode (SPEC.md
/// section 9): hyper's request-target parser (the `http` crate) drops the fragment before
/// the mesh sees the request, so the proxy routes, and forwards, the path without it. Since
/// routing and forwarding see the same path, no rule is bypassed: `/admin#x` is still
/// denied and `/public/..#/admin` is `/public/..`, normalized as any other path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragment_is_dropped_before_routing_and_never_forwarded() {
    for mode in MODES {
        let site = Site::start(DENY, mode).await;
        let dots = if mode == PathNormalization::None {
            "/public/.."
        } else {
            "/"
        };
        for (target, want) in [
            ("/public#frag", to_public("/public")),
            ("/admin#frag", Status(403)),
            ("/admin#/../public", Status(403)),
            ("/public/..#/admin", to_public(dots)),
            ("/public#/../admin", to_public("/public")),
            ("/#", to_public("/")),
        ] {
            let got = site.send(target).await;
            println!("  {mode:<24} {target:<22} -> {got:?}");
            assert_eq!(got, want, "{mode} {target}");
        }
        site.still_serves().await;
        site.proxy.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_values_with_control_bytes_are_refused_before_routing() {
    let site = Site::start(DENY, PathNormalization::Base).await;
    let mut table = String::new();
    for (what, header, refused) in [
        ("NUL", &b"x-a: a\0b"[..], true),
        ("SOH", b"x-a: a\x01b", true),
        ("ESC", b"x-a: a\x1bb", true),
        ("DEL", b"x-a: a\x7fb", true),
        ("bare CR", b"x-a: a\rb", true),
        (
            "bare LF (a new line: `b` is not a header)",
            b"x-a: a\nb",
            true,
        ),
        ("control in the name", b"x-\x01a: b", true),
        ("space before the colon", b"x-a : b", true),
        ("obs-fold", b"x-a: a\r\n  folded", true),
        ("tab (allowed)", b"x-a: a\tb", false),
        ("obs-text (allowed)", b"x-a: caf\xe9", false),
    ] {
        let before = site.public.calls();
        let r = raw_request(site.proxy.addr, &request(b"/public/x", &[header])).await;
        let reached = site.public.calls() > before;
        let _ = writeln!(
            table,
            "  {what:<42} -> status {:?}, reached the upstream {reached}",
            r.status
        );
        if refused {
            assert!(!reached, "{what}: {r:?}");
            assert!(matches!(r.status, Some(400) | None), "{what}: {r:?}");
        } else {
            assert_eq!(r.code(), 200, "{what}: {r:?}");
        }
    }
    print!("{table}");
    // A Host that is not visible ASCII: hyper accepts it (obs-text); the mesh finds no
    // virtual host for it (404), as for any unknown host.
    let r = raw_request(
        site.proxy.addr,
        b"GET /public HTTP/1.1\r\nHost: \xff\xfe.example.com\r\nConnection: close\r\n\r\n",
    )
    .await;
    println!("  non-UTF-8 Host -> {:?}", r.status);
    assert!(matches!(r.status, Some(400 | 404)), "{r:?}");
    // Two Host headers, in either order: Envoy 1.40 joins them into one authority
    // (`site.example.com,evil.example.com`), which no virtual host serves: 404, and nothing
    // reaches an upstream (measured: Envoy with istiod's gateway HCM answers 404 `NR`; with a
    // catch-all virtual host the upstream receives `host: a,b`).
    for hosts in [
        "Host: site.example.com\r\nHost: evil.example.com",
        "Host: evil.example.com\r\nHost: site.example.com",
    ] {
        let before = site.public.calls();
        let bytes = format!("GET /public HTTP/1.1\r\n{hosts}\r\nConnection: close\r\n\r\n");
        let r = raw_request(site.proxy.addr, bytes.as_bytes()).await;
        assert_eq!(r.code(), 404, "{hosts}: {r:?}");
        assert_eq!(site.public.calls(), before, "{hosts}: forwarded");
    }
    site.still_serves().await;
    site.proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_headers_hit_the_60_kib_limit_with_431_and_bounded_memory() {
    let site = Site::start(DENY, PathNormalization::Base).await;
    // 59 KiB: within the 60 KiB head (Envoy's `max_request_headers_kb`); forwarded whole.
    let big = vec![b'v'; 59 * 1024];
    let header = [b"x-big: ".as_slice(), &big].concat();
    let r = raw_request(site.proxy.addr, &request(b"/public/59k", &[&header])).await;
    assert_eq!(r.code(), 200, "{:?}", r.status);
    let seen = site.public.seen();
    assert_eq!(
        seen.last().map(|s| s.header("x-big").len()),
        Some(59 * 1024)
    );

    // 1 MiB: past hyper's limit, 431 or a closed connection; never the upstream.
    let rss_before = rss_kib();
    let peak_before = peak_rss_kib();
    let huge = vec![b'v'; 1 << 20];
    let header = [b"x-huge: ".as_slice(), &huge].concat();
    let before = site.public.calls();
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let r = raw_request(site.proxy.addr, &request(b"/public/1m", &[&header])).await;
        statuses.push(r.status);
        assert!(matches!(r.status, Some(431) | None), "{r:?}");
    }
    assert_eq!(
        site.public.calls(),
        before,
        "no 1 MiB header reached the upstream"
    );
    // Many headers: hyper's limit is 100.
    let many: Vec<Vec<u8>> = (0..120)
        .map(|i| format!("x-h{i}: v").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
    let r = raw_request(site.proxy.addr, &request(b"/public/many", &refs)).await;
    println!("120 headers: {:?}", r.status);
    assert!(matches!(r.status, Some(431) | None), "{r:?}");
    let r = raw_request(site.proxy.addr, &request(b"/public/some", &refs[..90])).await;
    assert_eq!(r.code(), 200, "90 headers are fine: {r:?}");
    // Heads around the 60 KiB limit; well past it, 431 (Envoy 1.40: 59 KiB 200, 61 KiB 431).
    let mut sweep = Vec::new();
    for kib in [30usize, 50, 70, 100, 400, 1000] {
        let lines: Vec<Vec<u8>> = (0..kib / 10)
            .map(|i| format!("x-h{i}: {}", "w".repeat(10 * 1024 - 10)).into_bytes())
            .collect();
        let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let r = raw_request(site.proxy.addr, &request(b"/public/wide", &refs)).await;
        sweep.push((kib, r.status));
        if kib <= 50 {
            assert_eq!(r.code(), 200, "{kib} KiB: {r:?}");
        }
        if kib >= 70 {
            assert!(matches!(r.status, Some(431) | None), "{kib} KiB: {r:?}");
        }
    }
    println!("head size (KiB) -> status: {sweep:?}");

    println!(
        "1 MiB headers x 20: statuses {statuses:?}; RSS {:?} -> {:?} KiB, peak {:?} -> {:?} KiB",
        rss_before,
        rss_kib(),
        peak_before,
        peak_rss_kib()
    );
    if let (Some(a), Some(b)) = (peak_before, peak_rss_kib()) {
        // Generous: hyper buffers at most its limit per connection.
        assert!(b.saturating_sub(a) < 256 * 1024, "peak grew {} KiB", b - a);
    }
    site.still_serves().await;
    site.proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_smuggling_shapes_are_refused_or_reframed_by_hyper() {
    let site = Site::start(DENY, PathNormalization::Base).await;
    let smuggled = b"GET /admin HTTP/1.1\r\nHost: site.example.com\r\n\r\n";
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "CL.TE",
            [
                b"POST /public/a HTTP/1.1\r\nHost: site.example.com\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".as_slice(),
                smuggled,
            ]
            .concat(),
        ),
        (
            "TE.CL",
            [
                b"POST /public/a HTTP/1.1\r\nHost: site.example.com\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n".as_slice(),
                smuggled,
            ]
            .concat(),
        ),
        (
            "two Content-Lengths",
            b"POST /public/a HTTP/1.1\r\nHost: site.example.com\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhello".to_vec(),
        ),
        (
            "Content-Length list",
            b"POST /public/a HTTP/1.1\r\nHost: site.example.com\r\nContent-Length: 5, 40\r\n\r\nhello".to_vec(),
        ),
        (
            "negative Content-Length",
            b"POST /public/a HTTP/1.1\r\nHost: site.example.com\r\nContent-Length: -1\r\n\r\n".to_vec(),
        ),
        (
            "Content-Length with a plus",
            b"POST /public/a HTTP/1.1\r\nHost: site.example.com\r\nContent-Length: +5\r\n\r\nhello".to_vec(),
        ),
        (
            "huge Content-Length",
            b"POST /public/a HTTP/1.1\r\nHost: site.example.com\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec(),
        ),
        (
            "TE not chunked last",
            b"POST /public/a HTTP/1.1\r\nHost: site.example.com\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n".to_vec(),
        ),
        (
            "TE xchunked",
            b"POST /public/a HTTP/1.1\r\nHost: site.example.com\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n".to_vec(),
        ),
        (
            "TE with a space before the colon",
            [
                b"POST /public/a HTTP/1.1\r\nHost: site.example.com\r\nTransfer-Encoding : chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n".as_slice(),
                smuggled,
            ]
            .concat(),
        ),
        (
            "bad chunk size",
            b"POST /public/a HTTP/1.1\r\nHost: site.example.com\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n".to_vec(),
        ),
        (
            "chunk size overflow",
            b"POST /public/a HTTP/1.1\r\nHost: site.example.com\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n".to_vec(),
        ),
        (
            "chunk extension with a CR",
            b"POST /public/a HTTP/1.1\r\nHost: site.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5;a\rb\r\nhello\r\n0\r\n\r\n".to_vec(),
        ),
        (
            "TE on HTTP/1.0",
            [
                b"POST /public/a HTTP/1.0\r\nHost: site.example.com\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n".as_slice(),
                smuggled,
            ]
            .concat(),
        ),
    ];
    let mut table = String::new();
    for (what, bytes) in &cases {
        let before = site.public.calls();
        let r = raw_request(site.proxy.addr, bytes).await;
        let new: Vec<Seen> = site.public.seen().into_iter().skip(before).collect();
        let _ = writeln!(
            table,
            "  {what:<34} -> statuses {:?}, closed {}, upstream saw {:?}",
            r.statuses(),
            r.closed,
            new.iter()
                .map(|s| format!(
                    "{} {} cl={:?} te={:?}",
                    s.method,
                    s.path,
                    s.header("content-length"),
                    s.header("transfer-encoding")
                ))
                .collect::<Vec<_>>()
        );
        assert!(
            !r.timed_out || r.status.is_some(),
            "{what}: no answer: {r:?}"
        );
        for s in &new {
            // The smuggled request never reaches an upstream as `/admin`; what is forwarded
            // is framed one way only.
            assert!(!s.path.starts_with("/admin"), "{what}: smuggled {s:?}");
            assert!(
                s.header("content-length").is_empty() || s.header("transfer-encoding").is_empty(),
                "{what}: both Content-Length and Transfer-Encoding forwarded: {s:?}"
            );
        }
        // A pipelined `/admin` after a reframed body is routed by the proxy: denied.
        for status in r.statuses().iter().skip(1) {
            assert_eq!(*status, 403, "{what}: {:?}", r.statuses());
        }
        assert!(
            r.statuses()
                .first()
                .is_none_or(|s| matches!(s, 200 | 400 | 403 | 411 | 413 | 501)),
            "{what}: {:?}",
            r.statuses()
        );
    }
    print!("{table}");
    site.still_serves().await;
    site.proxy.shutdown().await;
}

/// README Limits: a request host over 255 bytes gets no route (404), even when a wildcard
/// VirtualService (`*.example.com`, here on the `*.example.com` Gateway) would match it; a
/// 255-byte host under the same wildcard is routed. (Before the limit was enforced on every
/// path, a 259-byte lower-case host was routed: 200.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_over_255_bytes_is_no_route() {
    let wildcard = ROUTE.replace("hosts: [site.example.com]", "hosts: ['*.example.com']");
    let site = Site::start(&wildcard, PathNormalization::Base).await;
    let label = "a".repeat(63);
    let long = format!("{label}.{label}.{label}.{}.example.com", &label[..55]);
    assert_eq!(long.len(), 259);
    let at_limit = &long[long.len() - 255..];
    for (host, want) in [(long.as_str(), 404), (at_limit, 200), (SITE, 200)] {
        let bytes = format!("GET /public HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let r = raw_request(site.proxy.addr, bytes.as_bytes()).await;
        assert_eq!(r.code(), want, "Host of {} bytes", host.len());
    }
    // A 50 KiB Host (within the 60 KiB head), and a 64 KiB one (past it: 431).
    for (kib, want) in [(50, 404), (64, 431)] {
        let host = "h".repeat(kib * 1024);
        let bytes = format!("GET /public HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let r = raw_request(site.proxy.addr, bytes.as_bytes()).await;
        assert!(
            matches!(r.status, Some(400) | None) || r.code() == want,
            "{kib} KiB: {r:?}"
        );
    }
    site.still_serves().await;
    site.proxy.shutdown().await;
}

/// Sends `n` GETs to `shop.example.com` at once (`{prefix}0`, `{prefix}1`, ...), each on its
/// own connection, and returns their status codes in the order sent.
async fn concurrent_gets(addr: SocketAddr, n: usize, prefix: &str) -> Vec<u16> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let path = format!("{prefix}{i}");
            tokio::spawn(async move {
                let c = client();
                try_get(&c, addr, "shop.example.com", &path, &[]).await
            })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.expect("task").expect("an answer").status.as_u16());
    }
    codes
}

/// A route with retries and a mirror, for the body limit.
fn retry_mirror_config(shop: &Upstream, mirror: &Upstream) -> String {
    [
        GATEWAY.to_owned(),
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: demo}
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http:
  - route:
    - destination: {host: shop, port: {number: 8080}}
    retries: {attempts: 2, retryOn: 5xx}
    mirror: {host: mirror, port: {number: 8080}}
    mirrorPercentage: {value: 100}
---
"
        .to_owned(),
        service_entry(
            "shop",
            "shop.demo.svc.cluster.local",
            &[(shop, &[("app", "shop")])],
        ),
        service_entry(
            "mirror",
            "mirror.demo.svc.cluster.local",
            &[(mirror, &[("app", "mirror")])],
        ),
    ]
    .concat()
}

async fn post(addr: SocketAddr, path: &str, body: &[u8]) -> RawReply {
    let mut bytes = format!(
        "POST {path} HTTP/1.1\r\nHost: shop.example.com\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    raw_request(addr, &bytes).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_buffer_limit_stream_once_unretried_and_unmirrored() {
    // The upstream fails the first attempt of every body it sees, so a buffered body is
    // retried and a streamed one is not.
    let shop = Upstream::with("shop", |n, _| {
        let status = if n % 2 == 0 {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        };
        (status, Duration::ZERO)
    })
    .await;
    let mirror = Upstream::ok("mirror").await;
    let dir = TempDir::new("body");
    let file = dir.write("mesh.yaml", &retry_mirror_config(&shop, &mirror));
    let s = settings(vec![file]);
    assert_eq!(s.options.body_limit, 64 * 1024, "the documented default");
    let proxy = start(s).await;

    // At the limit: buffered, retried (503 then 200) and mirrored.
    let r = post(proxy.addr, "/at-limit", &vec![b'a'; 64 * 1024]).await;
    assert_eq!(r.code(), 200, "{r:?}");
    assert_eq!(shop.calls(), 2);
    eventually(PATIENCE, || async { (mirror.calls() == 1).then_some(()) })
        .await
        .expect("the copy is mirrored");

    // One byte over: streamed to the primary once, which answers 503: not retried.
    let rss_before = peak_rss_kib();
    let r = post(proxy.addr, "/over", &vec![b'b'; 64 * 1024 + 1]).await;
    assert_eq!(r.code(), 503, "{r:?}");
    assert_eq!(shop.calls(), 3, "not retried");
    // 8 MiB: streamed whole to the upstream.
    let r = post(proxy.addr, "/big", &vec![b'c'; 8 << 20]).await;
    assert_eq!(r.code(), 200, "{r:?}");
    assert_eq!(shop.calls(), 4);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(mirror.calls(), 1, "streamed bodies are not mirrored");

    let c = client();
    let m = admin(&c, proxy.admin_addr, "/metrics").await.body;
    let buffered = metric(&m, "mesh_request_bodies_total{result=\"buffered\"}");
    let streamed = metric(&m, "mesh_request_bodies_total{result=\"streamed\"}");
    let not_buffered = metric(&m, "mesh_mirror_requests_total{result=\"not_buffered\"}");
    println!(
        "bodies: buffered {buffered}, streamed {streamed}, mirrors not buffered {not_buffered}; peak RSS {rss_before:?} -> {:?} KiB",
        peak_rss_kib()
    );
    assert_eq!((buffered, streamed, not_buffered), (1, 2, 2), "{m}");
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirrored_copies_past_the_queue_are_dropped_and_counted() {
    assert_eq!(
        mesh_tower::Options::default().mirror_queue,
        1024,
        "the documented default"
    );
    let shop = Upstream::ok("shop").await;
    // A mirror that hangs for longer than the test.
    let mirror = Upstream::with("mirror", |_, _| (StatusCode::OK, Duration::from_secs(30))).await;
    let dir = TempDir::new("mirrorq");
    let file = dir.write("mesh.yaml", &retry_mirror_config(&shop, &mirror));
    let mut s = settings(vec![file]);
    s.options.mirror_queue = 4;
    let proxy = start(s).await;
    let c = client();
    let started = Instant::now();
    for i in 0..10 {
        let r = get(&c, proxy.addr, "shop.example.com", &format!("/m{i}"), &[]).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // The primary never waits for its copy.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let m = admin(&c, proxy.admin_addr, "/metrics").await.body;
    let sent = metric(&m, "mesh_mirror_requests_total{result=\"sent\"}");
    let dropped = metric(&m, "mesh_mirror_requests_total{result=\"dropped\"}");
    println!("mirror queue of 4, hung mirror, 10 requests: sent {sent}, dropped {dropped}");
    assert_eq!((sent, dropped), (4, 6), "{m}");
    proxy.shutdown().await;
}

/// A DestinationRule's `retryBudget` bounds the retries in flight (Envoy's `retry_budget`,
/// which istiod sets from it) and counts the overflow. By default nothing but `attempts`
/// bounds them, as istiod configures Envoy (README "Limits").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_budget_bounds_retries_and_counts_the_overflow() {
    // Always 503, slowly enough that requests overlap: 20 concurrent requests with 5
    // attempts each would be 100 retries without a budget; this budget (Envoy's defaults)
    // allows max(20% of active, 3) retries in flight.
    let shop = Upstream::with("shop", |_, _| {
        (StatusCode::SERVICE_UNAVAILABLE, Duration::from_millis(50))
    })
    .await;
    let yaml = [
        GATEWAY.to_owned(),
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: demo}
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http:
  - route:
    - destination: {host: shop, port: {number: 8080}}
    retries: {attempts: 5, retryOn: 5xx, perTryTimeout: 1s}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop, namespace: demo}
spec:
  host: shop
  trafficPolicy:
    retryBudget: {percent: 20, minRetryConcurrency: 3}
---
"
        .to_owned(),
        service_entry(
            "shop",
            "shop.demo.svc.cluster.local",
            &[(&shop, &[("app", "shop")])],
        ),
    ]
    .concat();
    let dir = TempDir::new("budget");
    let file = dir.write("mesh.yaml", &yaml);
    let proxy = start(settings(vec![file])).await;
    let addr = proxy.addr;
    let codes = concurrent_gets(addr, 20, "/b").await;
    let c = client();
    let m = admin(&c, proxy.admin_addr, "/metrics").await.body;
    let attempted = metric(&m, "mesh_retries_total{result=\"attempted\"}");
    let exhausted = metric(&m, "mesh_retries_total{result=\"budget_exhausted\"}");
    let overflow: u64 = m
        .lines()
        .filter(|l| l.starts_with("envoy_cluster_upstream_rq_retry_overflow_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    println!(
        "20 requests x 5 attempts on an always-503 upstream: {attempted} retries, {exhausted} denied by the budget ({overflow} overflow), upstream calls {}",
        shop.calls()
    );
    assert!(codes.iter().all(|c| *c == 503), "{codes:?}");
    assert!(overflow > 0 && overflow == exhausted, "{m}");
    assert!(attempted < 100, "{attempted}");
    assert_eq!(shop.calls() as u64, 20 + attempted);
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_pool_limit_answers_503_uo() {
    let shop = Upstream::with("shop", |_, _| (StatusCode::OK, Duration::from_millis(300))).await;
    let yaml = [
        GATEWAY.to_owned(),
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: demo}
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http:
  - route:
    - destination: {host: shop, port: {number: 8080}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop, namespace: demo}
spec:
  host: shop
  trafficPolicy:
    connectionPool:
      http: {http2MaxRequests: 2, http1MaxPendingRequests: 1}
---
"
        .to_owned(),
        service_entry(
            "shop",
            "shop.demo.svc.cluster.local",
            &[(&shop, &[("app", "shop")])],
        ),
    ]
    .concat();
    let dir = TempDir::new("pool");
    let file = dir.write("mesh.yaml", &yaml);
    let proxy = start(settings(vec![file])).await;
    let addr = proxy.addr;
    let mut codes = concurrent_gets(addr, 10, "/p").await;
    codes.sort_unstable();
    let c = client();
    let m = admin(&c, proxy.admin_addr, "/metrics").await.body;
    let uo = requests_total(&m, &[("response_code", "503"), ("response_flags", "UO")]);
    println!("10 concurrent requests, 2 allowed + 1 pending: {codes:?}, {uo} counted UO");
    assert!(codes.contains(&200) && codes.contains(&503), "{codes:?}");
    assert_eq!(
        uo,
        codes.iter().filter(|c| **c == 503).count() as u64,
        "{m}"
    );
    proxy.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Hostile configurations
// ---------------------------------------------------------------------------------------

/// A VirtualService on `shop.example.com` whose route carries `extra` (YAML lines of an
/// HTTPRoute, indented for the rule).
fn shop_with(shop: &Upstream, extra: &str) -> String {
    [
        GATEWAY.to_owned(),
        format!(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop, namespace: demo}}
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http:
  - route:
    - destination: {{host: shop, port: {{number: 8080}}}}
{extra}---
"
        ),
        service_entry(
            "shop",
            "shop.demo.svc.cluster.local",
            &[(shop, &[("app", "shop")])],
        ),
    ]
    .concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_configurations_are_refused_and_the_serving_one_stays() {
    let shop = Upstream::ok("shop").await;
    let good = shop_with(&shop, "");
    let dir = TempDir::new("hostile-config");
    let file = dir.write("mesh.yaml", &good);
    let proxy = start(settings(vec![file.clone()])).await;
    let c = client();

    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for l in 1..10 {
        let items = vec![format!("*a{}", l - 1); 10].join(", ");
        let _ = writeln!(bomb, "a{l}: &a{l} [{items}]");
    }
    let scalar_bomb = format!(
        "big: &s {}\nmany: [{}*s]\n",
        "x".repeat(512 * 1024),
        "*s,".repeat(100_000)
    );
    let cases: Vec<(&str, String, &str)> = vec![
        ("alias bomb", format!("{good}---\n{bomb}"), "aliases expand"),
        (
            "scalar alias bomb",
            format!("{good}---\n{scalar_bomb}"),
            "aliases expand",
        ),
        (
            "regex that explodes when compiled",
            shop_with(&shop, "    match:\n    - uri: {regex: '(a{1000}){1000}'}\n"),
            "regex",
        ),
        (
            "regex over 1024 bytes",
            shop_with(
                &shop,
                &format!("    match:\n    - uri: {{regex: '{}'}}\n", "a".repeat(1025)),
            ),
            "1024",
        ),
        (
            "control byte in a header operation name",
            shop_with(&shop, "    headers: {request: {set: {\"x-a\\x01\": v}}}\n"),
            "header name",
        ),
        (
            "CR LF in a header value",
            shop_with(
                &shop,
                "    headers: {request: {set: {x-a: \"v\\r\\nx-injected: 1\"}}}\n",
            ),
            "header value",
        ),
        ("raw NUL", format!("{good}\0---\n"), "control characters"),
        (
            "not UTF-8",
            String::from_utf8_lossy(b"a: \xff").into_owned(),
            "",
        ),
        (
            "over 16 MiB",
            format!("{good}#{}\n", "x".repeat(16 << 20)),
            "more than the limit",
        ),
        (
            "deep nesting",
            format!("{good}---\n{}", "[".repeat(100_000)),
            "nesting",
        ),
    ];
    for (what, text, expect) in &cases {
        // At start-up: refused with findings.
        let dir2 = TempDir::new("hostile-start");
        let f = dir2.write("mesh.yaml", text);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let started = Instant::now();
        let err = mesh_proxy::start(settings(vec![f]), listener, None)
            .await
            .expect_err(what)
            .findings();
        let took = started.elapsed();
        let first = err
            .first()
            .map(|e| e.chars().take(200).collect::<String>())
            .unwrap_or_default();
        println!("{what}: refused at start in {took:?}: {first}");
        assert!(err.iter().any(|e| e.contains(expect)), "{what}: {err:?}");
        assert!(took < HANG_GUARD, "{what}: {took:?}");

        // On reload: refused, and the configuration serving keeps serving.
        dir.write("mesh.yaml", text);
        let err = proxy.reload().expect_err(what).findings();
        assert!(err.iter().any(|e| e.contains(expect)), "{what}: {err:?}");
        let r = get(&c, proxy.addr, "shop.example.com", "/", &[]).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (StatusCode::OK, "shop"),
            "{what}"
        );
    }
    let m = admin(&c, proxy.admin_addr, "/metrics").await.body;
    assert_eq!(metric(&m, "mesh_proxy_config_generation "), 1, "{m}");
    proxy.shutdown().await;
}

#[test]
fn regexes_are_bounded_when_compiled() {
    use mesh_match::{FullRegex, REGEX_SIZE_LIMIT};
    assert_eq!(REGEX_SIZE_LIMIT, 1 << 20);
    for re in [
        "(a{1000}){1000}",
        "((a{100}){100}){100}",
        "(((((((((a{9}){9}){9}){9}){9}){9}){9}){9}){9})",
        "(\\pL{1000}){1000}",
        "(\\pL+\\s*){1000}",
        "[\\x{0}-\\x{10FFFF}]{1000}{1000}",
    ] {
        let started = Instant::now();
        let r = FullRegex::new(re);
        let took = started.elapsed();
        println!("{re}: {took:?}: {:?}", r.as_ref().err());
        assert!(r.is_err(), "{re} compiles past the size limit");
        assert!(took < HANG_GUARD, "{re}: {took:?}");
    }
    // Matching is linear: a classic catastrophic-backtracking pattern on a long input.
    let re = FullRegex::new("(a+)+$").expect("compiles");
    let input = [vec![b'a'; 100_000], vec![b'!']].concat();
    let started = Instant::now();
    assert!(!re.is_full_match(&input));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
