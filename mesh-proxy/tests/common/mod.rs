//! Helpers shared by the proxy's integration tests: real upstreams on loopback that record
//! what they receive, Istio YAML written to a unique temporary directory, the proxy started
//! in-process on 127.0.0.1:0, and a hyper client.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mesh_proxy::{Running, Settings};
use mesh_route::Identity;

/// Every wait in these tests is bounded by this.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A request an upstream received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: http::Method,
    /// Path and query.
    pub path: String,
    /// The `Host` header.
    pub host: String,
    pub headers: HeaderMap,
}

impl Seen {
    /// A header's value, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// What an upstream does with its n-th request (0-based): the status, and a delay before
/// answering.
pub type Behaviour = Arc<dyn Fn(usize, &Seen) -> (StatusCode, Duration) + Send + Sync>;

/// A real HTTP server on 127.0.0.1 that answers with its version label and records what it
/// received.
#[derive(Clone)]
pub struct Upstream {
    pub version: String,
    pub addr: SocketAddr,
    calls: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    /// An upstream that answers 200 with `version` at once.
    pub async fn ok(version: &str) -> Upstream {
        Upstream::with(version, |_, _| (StatusCode::OK, Duration::ZERO)).await
    }

    /// An upstream with a behaviour.
    pub async fn with(
        version: &str,
        f: impl Fn(usize, &Seen) -> (StatusCode, Duration) + Send + Sync + 'static,
    ) -> Upstream {
        let behaviour: Behaviour = Arc::new(f);
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let router = {
            let calls = calls.clone();
            let seen = seen.clone();
            let version = version.to_owned();
            axum::Router::new().fallback(move |req: Request<axum::body::Body>| {
                let calls = calls.clone();
                let seen = seen.clone();
                let behaviour = behaviour.clone();
                let version = version.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let _ = body.collect().await;
                    let s = Seen {
                        method: parts.method,
                        path: parts
                            .uri
                            .path_and_query()
                            .map_or("/", |p| p.as_str())
                            .to_owned(),
                        host: parts
                            .headers
                            .get(http::header::HOST)
                            .and_then(|h| h.to_str().ok())
                            .unwrap_or("")
                            .to_owned(),
                        headers: parts.headers,
                    };
                    let n = calls.fetch_add(1, Ordering::SeqCst);
                    let (status, delay) = behaviour(n, &s);
                    seen.lock().expect("not poisoned").push(s);
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    (status, [("x-version", version.clone())], version)
                }
            })
        };
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Upstream {
            version: version.to_owned(),
            addr,
            calls,
            seen,
        }
    }

    /// Requests received so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("not poisoned").clone()
    }

    /// The port, for a ServiceEntry endpoint.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// A unique directory under the system's temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "mesh-proxy-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("create the temporary directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `name` in place.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).expect("write the configuration");
        p
    }

    /// Replaces `name` atomically (write a sibling, then rename over it), as editors and
    /// ConfigMap updates do.
    pub fn replace(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        let tmp = self.0.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).expect("write the configuration");
        std::fs::rename(&tmp, &p).expect("rename the configuration");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A ServiceEntry for `host` (in `demo`) with port 8080 named `http` and one endpoint per
/// `(upstream, labels)` on 127.0.0.1.
pub fn service_entry(name: &str, host: &str, endpoints: &[(&Upstream, &[(&str, &str)])]) -> String {
    let mut eps = String::new();
    for (u, labels) in endpoints {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        eps.push_str(&format!(
            "  - address: 127.0.0.1\n    ports: {{http: {}}}\n    labels: {{{}}}\n",
            u.port(),
            labels.join(", ")
        ));
    }
    format!(
        "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: {name}, namespace: demo}}
spec:
  hosts: [{host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {{number: 8080, name: http, protocol: HTTP}}
  endpoints:
{eps}---
"
    )
}

/// The Gateway every test's proxy acts as: `demo/edge`, port 80, `*.example.com`.
pub const GATEWAY: &str = "apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: demo}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*.example.com']
---
";

/// The DestinationRule with subsets v1 and v2 of `shop`.
pub const SHOP_SUBSETS: &str = "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop, namespace: demo}
spec:
  host: shop
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
";

/// The proxy's settings: the Gateway `demo/edge`, reading `paths`.
pub fn settings(paths: Vec<PathBuf>) -> Settings {
    Settings {
        paths,
        identity: Identity::gateway("demo", "edge"),
        default_namespace: "demo".to_owned(),
        allow_any: false,
        allow_any_to: Vec::new(),
        listener: Default::default(),
        reload: Default::default(),
        options: mesh_tower::Options::default(),
        workers: 0,
    }
}

/// Starts the proxy on 127.0.0.1:0 with an admin listener.
pub async fn start(settings: Settings) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    match mesh_proxy::start(settings, listener, Some(admin)).await {
        Ok(r) => r,
        Err(findings) => panic!("the configuration is rejected: {findings:#?}"),
    }
}

/// The client the tests send with.
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// What a client got back.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    pub elapsed: Duration,
}

impl Reply {
    /// A header's value, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Sends `GET path` with `Host: host` and `headers` to `addr`; `Err` on a transport error or
/// after [`PATIENCE`].
pub async fn try_get(
    client: &HttpClient,
    addr: SocketAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Reply, String> {
    let mut b = Request::get(format!("http://{addr}{path}")).header(http::header::HOST, host);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(Full::new(Bytes::new())).map_err(|e| e.to_string())?;
    tokio::time::timeout(PATIENCE, send(client, req))
        .await
        .map_err(|_| "no answer in time".to_owned())?
}

/// Sends `req` and reads the whole reply; `Err` on a transport error (no time limit).
pub async fn send(client: &HttpClient, req: Request<Full<Bytes>>) -> Result<Reply, String> {
    let started = Instant::now();
    let resp = client.request(req).await.map_err(|e| format!("{e:?}"))?;
    let (parts, body) = resp.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| format!("{e:?}"))?
        .to_bytes();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        elapsed: started.elapsed(),
    })
}

/// As [`try_get`], panicking on a transport error.
pub async fn get(
    client: &HttpClient,
    addr: SocketAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Reply {
    match try_get(client, addr, host, path, headers).await {
        Ok(r) => r,
        Err(e) => panic!("GET http://{host}{path} via {addr} failed: {e}"),
    }
}

/// `GET` on the admin server.
pub async fn admin(client: &HttpClient, running_admin: Option<SocketAddr>, path: &str) -> Reply {
    let addr = running_admin.expect("the proxy has an admin listener");
    get(client, addr, "localhost", path, &[]).await
}

/// The `istio_requests_total` series that carry every `label="value"` pair, summed.
pub fn requests_total(metrics: &str, labels: &[(&str, &str)]) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("istio_requests_total{"))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The value of the metric line that starts with `prefix` (name and labels), or 0.
pub fn metric(metrics: &str, prefix: &str) -> u64 {
    metrics
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .unwrap_or(0)
}

/// Polls `check` every 20 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What came back on a raw connection: the status of the first response (if one came), its
/// head and body, and whether the peer closed or reset the connection.
#[derive(Debug, Clone, Default)]
pub struct RawReply {
    /// The status of the first response, if any arrived.
    pub status: Option<u16>,
    /// The first response's status line and headers.
    pub head: String,
    /// Its body (by `Content-Length`), or whatever followed the head.
    pub body: Vec<u8>,
    /// Everything received.
    pub received: Vec<u8>,
    /// The peer closed or reset the connection.
    pub closed: bool,
    /// No complete answer within [`PATIENCE`].
    pub timed_out: bool,
}

impl RawReply {
    /// The status, or 0 when none arrived.
    pub fn code(&self) -> u16 {
        self.status.unwrap_or(0)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Every response status in what was received, in order (pipelined requests get one
    /// each).
    pub fn statuses(&self) -> Vec<u16> {
        let text = String::from_utf8_lossy(&self.received);
        text.match_indices("HTTP/1.1 ")
            .filter_map(|(i, _)| text.get(i + 9..i + 12)?.parse().ok())
            .collect()
    }
}

/// Parses `buf` as far as one HTTP/1.1 response: `Some((status, head, body))` once the head
/// and the `Content-Length` body (0 when absent) have arrived.
fn parse_raw_response(buf: &[u8]) -> Option<(u16, String, Vec<u8>)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head.get(9..12)?.parse().ok()?;
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let body = &buf[end + 4..];
    (body.len() >= length).then(|| (status, head, body[..length].to_vec()))
}

/// Writes `bytes` on a new connection to `addr`, exactly as given (a normal client would
/// refuse to send most of what the hostile tests send), then reads until a complete first
/// response has arrived and the peer has closed, or the connection has been idle for a
/// moment after a complete response, or [`PATIENCE`] has passed. Write errors (the peer
/// closing while a large request is still being sent) are not failures: what was answered
/// is still read.
pub async fn raw_request(addr: SocketAddr, bytes: &[u8]) -> RawReply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut out = RawReply::default();
    let Ok(Ok(mut stream)) =
        tokio::time::timeout(PATIENCE, tokio::net::TcpStream::connect(addr)).await
    else {
        out.closed = true;
        return out;
    };
    let (mut rd, mut wr) = stream.split();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let write = async {
        let _ = wr.write_all(bytes).await;
        let _ = wr.flush().await;
        // Keep the write half open: half-closing would end pipelined input early.
        std::future::pending::<()>().await;
    };
    let read = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // Once a full response is in, wait only briefly for more (pipelined answers).
            let complete = parse_raw_response(&out.received).is_some();
            let wait = if complete {
                Duration::from_millis(300)
            } else {
                deadline.saturating_duration_since(tokio::time::Instant::now())
            };
            match tokio::time::timeout(wait, rd.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    out.closed = true;
                    break;
                }
                Ok(Ok(n)) => out.received.extend_from_slice(&buf[..n]),
                Err(_) => {
                    out.timed_out = !complete;
                    break;
                }
            }
        }
    };
    tokio::select! {
        _ = write => {}
        _ = read => {}
    }
    if let Some((status, head, body)) = parse_raw_response(&out.received) {
        out.status = Some(status);
        out.head = head;
        out.body = body;
    }
    out
}

/// Peak resident memory of this process so far (`VmHWM`), in KiB, where the platform tells.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Current resident memory of this process (`VmRSS`), in KiB, where the platform tells.
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
