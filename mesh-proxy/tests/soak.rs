//! Soak and fault test of the proxy over loopback, with short timeouts. For `SOAK_SECS`
//! seconds (default 10, so that CI stays short), while the proxy runs with a stream idle
//! timeout of 2 s and a request head timeout of 1 s:
//!
//! - **Well-behaved clients** send requests without pause: four over HTTP/1.1 and two over
//!   h2c (prior knowledge, streams multiplexed on one connection that a bad stream shares).
//! - **Faults**, on a five-second schedule that repeats: upstream endpoints are killed and
//!   restarted on the same port, a whole subset goes down, a subset is slowed past the
//!   route timeout, endpoints answer 503 for a while, the mirror hangs.
//! - **Configuration writers**, once every 1.2 s, in turn: an atomic rename of a valid
//!   change; an atomic rename of an invalid one; a file truncated in place and refilled
//!   700 ms later; the ServiceEntries and DestinationRule written before the
//!   VirtualServices, which are appended 700 ms later; a file written in place in pieces
//!   20 ms apart, each piece ending inside a flow mapping (so that every prefix is invalid
//!   YAML).
//! - **Bad actors**: clients that trickle a request head a byte per 100 ms, send half a
//!   head, connect and send nothing, stall their request body (HTTP/1.1 and an h2c stream),
//!   and requests to a hanging upstream, to an upstream that stalls mid-body, and to a
//!   websocket upstream where nobody sends after the upgrade.
//!
//! Every answer is classified. A well-behaved request is served, or failed by design (an
//! injected abort; a 503 after the retries are spent while endpoints were down or
//! answering 503; a 504 while the subset was slowed), never otherwise (a transport error,
//! a 502 or 404 from a half-written configuration, a status or body that the schedule
//! does not explain, no answer within the client's patience). Each bad actor gets exactly
//! its documented answer (Envoy 1.40's, as measured in `timeouts.rs` and cited below). The
//! metrics count each class as expected, each valid configuration is applied once and
//! nothing half-written is, and once the bad actors have left, the proxy holds no client
//! connection and the process's open files and memory are back near where they started.
//!
//! The full run: `SOAK_SECS=60 cargo test -p mesh-proxy --test soak -- --nocapture`. With
//! `SOAK_TIMELINE=1` the test also prints the fault windows, the outcomes per 200 ms and
//! every request that took over half a second.

mod common;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The client gives up on a request after this long and counts it as failed otherwise: the
/// route timeout is 1 s, and no request has a reason to take more than about that.
const CLIENT_PATIENCE: Duration = Duration::from_secs(5);

/// Concurrent well-behaved HTTP/1.1 clients.
const CLIENTS: usize = 4;

/// Concurrent well-behaved h2c streams (on one connection).
const H2C_CLIENTS: usize = 2;

/// The length of one round of the fault schedule.
const CYCLE: Duration = Duration::from_secs(5);

/// The proxy's stream idle timeout (`Options::stream_idle_timeout`): longer than the
/// shop's route timeout (1 s), so that a slowed upstream is the route timeout's business.
const IDLE: Duration = Duration::from_secs(2);

/// The proxy's request head timeout (`ListenerLimits::request_headers_timeout`).
const HEAD: Duration = Duration::from_secs(1);

/// How often the configuration is written.
const WRITE_EVERY: Duration = Duration::from_millis(1200);

/// How long a non-atomic writer leaves its file half-written.
const HALF_WRITTEN: Duration = Duration::from_millis(700);

// ---------------------------------------------------------------------------------------
// Upstreams that can be killed, restarted, slowed and made to fail
// ---------------------------------------------------------------------------------------

/// What an upstream is told to do.
#[derive(Debug, Default)]
struct Knobs {
    /// Added before answering, in milliseconds.
    delay_ms: AtomicU64,
    /// Answer 503.
    fail: AtomicBool,
    /// Requests answered.
    calls: AtomicU64,
}

/// A real HTTP/1.1 server on 127.0.0.1 whose accept loop and connections are one task:
/// aborting it closes the listener and every connection at once, as a crash would.
struct Controlled {
    name: &'static str,
    addr: SocketAddr,
    knobs: Arc<Knobs>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Controlled {
    async fn start(name: &'static str) -> Arc<Controlled> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let knobs = Arc::new(Knobs::default());
        let task = serve(name, listener, knobs.clone());
        Arc::new(Controlled {
            name,
            addr,
            knobs,
            task: Mutex::new(Some(task)),
        })
    }

    /// Stops accepting and drops every connection, in-flight requests included.
    async fn kill(&self) {
        let task = self.task.lock().expect("not poisoned").take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    async fn restart(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("cannot listen on {} again: {e}", self.addr),
            }
        };
        let task = serve(self.name, listener, self.knobs.clone());
        *self.task.lock().expect("not poisoned") = Some(task);
    }

    fn set_delay(&self, d: Duration) {
        self.knobs
            .delay_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }

    fn set_fail(&self, fail: bool) {
        self.knobs.fail.store(fail, Ordering::SeqCst);
    }

    fn calls(&self) -> u64 {
        self.knobs.calls.load(Ordering::SeqCst)
    }
}

fn serve(
    name: &'static str,
    listener: tokio::net::TcpListener,
    knobs: Arc<Knobs>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let knobs = knobs.clone();
                    connections.spawn(async move {
                        let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let knobs = knobs.clone();
                            async move {
                                let _ = req.into_body().collect().await;
                                let delay = knobs.delay_ms.load(Ordering::SeqCst);
                                if delay > 0 {
                                    tokio::time::sleep(Duration::from_millis(delay)).await;
                                }
                                knobs.calls.fetch_add(1, Ordering::SeqCst);
                                let (status, body) = if knobs.fail.load(Ordering::SeqCst) {
                                    (StatusCode::SERVICE_UNAVAILABLE, format!("{name} is failing"))
                                } else {
                                    (StatusCode::OK, name.to_owned())
                                };
                                let mut r = Response::new(Full::new(Bytes::from(body)));
                                *r.status_mut() = status;
                                r.headers_mut().insert("x-version", http::HeaderValue::from_static(name));
                                Ok::<_, Infallible>(r)
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

/// A configuration in two parts, so that a writer can write one before the other.
#[derive(Clone, Debug)]
struct Config {
    /// The Gateway, the DestinationRule and the ServiceEntries.
    services: String,
    /// The VirtualServices.
    routes: String,
}

impl Config {
    fn whole(&self) -> String {
        format!("{}{}", self.services, self.routes)
    }
}

/// The shop: a 50/50 (or 60/40) split over subsets v1 and v2 of two endpoints each, with
/// retries, a route timeout, a mirror of half the requests and an abort of `abort` percent.
/// And `slow.example.com`, where the bad actors go: `/hang`, `/partial` and `/ws` reach the
/// rogue upstream, the rest the steady one (`/upload` with retries, so that its body is
/// buffered). Neither has a route timeout but the shop's.
fn config(ups: &Upstreams, v1_weight: u32, abort: u32) -> Config {
    let endpoints = |u: &[&Arc<Controlled>], version: &str| -> String {
        u.iter()
            .map(|c| {
                format!(
                    "  - address: 127.0.0.1\n    ports: {{http: {}}}\n    labels: {{version: {version}}}\n",
                    c.addr.port()
                )
            })
            .collect()
    };
    let services = format!(
        "{GATEWAY}{SHOP_SUBSETS}apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: shop, namespace: demo}}
spec:
  hosts: [shop.demo.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {{number: 8080, name: http, protocol: HTTP}}
  endpoints:
{v1}{v2}---
{mirror}{rogue}{steady}",
        v1 = endpoints(&[&ups.v1a, &ups.v1b], "v1"),
        v2 = endpoints(&[&ups.v2a, &ups.v2b], "v2"),
        mirror = single_endpoint_service("mirror", ups.mirror.addr.port()),
        rogue = single_endpoint_service("rogue", ups.rogue.port()),
        steady = single_endpoint_service("steady", ups.steady.port()),
    );
    let routes = format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop, namespace: demo}}
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http:
  - name: shop
    route:
    - destination: {{host: shop, subset: v1, port: {{number: 8080}}}}
      weight: {v1_weight}
    - destination: {{host: shop, subset: v2, port: {{number: 8080}}}}
      weight: {v2_weight}
    timeout: 1s
    retries:
      attempts: 3
      perTryTimeout: 300ms
      retryOn: 5xx,connect-failure,reset
    mirror: {{host: mirror, port: {{number: 8080}}}}
    mirrorPercentage: {{value: 50}}
    fault:
      abort: {{httpStatus: 503, percentage: {{value: {abort}}}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: slow, namespace: demo}}
spec:
  hosts: [slow.example.com]
  gateways: [edge]
  http:
  - match: [{{uri: {{prefix: /hang}}}}, {{uri: {{prefix: /partial}}}}, {{uri: {{prefix: /ws}}}}]
    route: [{{destination: {{host: rogue}}}}]
  - match: [{{uri: {{prefix: /upload}}}}]
    route: [{{destination: {{host: steady}}}}]
    retries: {{attempts: 2, retryOn: connect-failure}}
  - route: [{{destination: {{host: steady}}}}]
---
",
        v2_weight = 100 - v1_weight,
    );
    Config { services, routes }
}

/// A ServiceEntry `NAME.demo.svc.cluster.local` with port 8080 and one endpoint.
fn single_endpoint_service(name: &str, port: u16) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: {name}, namespace: demo}}
spec:
  hosts: [{name}.demo.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {{number: 8080, name: http, protocol: HTTP}}
  endpoints:
  - address: 127.0.0.1
    ports: {{http: {port}}}
    labels: {{app: {name}}}
---
"
    )
}

/// The `n`-th invalid variant of a valid configuration, in turn: a schema error, a syntax
/// error, a validation error and a compile error (a regex past the size limit).
fn invalid_config(valid: &str, n: usize) -> String {
    match n % 4 {
        0 => valid.replacen("weight:", "wieght:", 1),
        1 => valid.replacen("hosts: [shop.example.com]", "hosts: [shop.example.com", 1),
        2 => valid.replacen("timeout: 1s", "timeout: -1s", 1),
        _ => valid.replacen(
            "  - name: shop\n",
            "  - name: shop\n    match:\n    - uri: {regex: '(a{1000}){1000}'}\n",
            1,
        ),
    }
}

/// `text` cut into about `n` pieces, each ending just after a `{`, so that every prefix
/// ends inside a flow mapping and fails to parse.
fn pieces(text: &str, n: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for k in 1..n {
        let from = (text.len() * k / n).max(start);
        let Some(brace) = text[from..].find('{') else {
            break;
        };
        let cut = from + brace + 1;
        out.push(&text[start..cut]);
        start = cut;
    }
    out.push(&text[start..]);
    out
}

struct Upstreams {
    v1a: Arc<Controlled>,
    v1b: Arc<Controlled>,
    v2a: Arc<Controlled>,
    v2b: Arc<Controlled>,
    mirror: Arc<Controlled>,
    rogue: Rogue,
    steady: Upstream,
}

// ---------------------------------------------------------------------------------------
// The schedule
// ---------------------------------------------------------------------------------------

/// Why requests may fail during a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Cause {
    /// One endpoint of v1 is down: its in-flight requests are reset and retried elsewhere;
    /// a retry the budget refuses leaves the connect failure as the answer.
    EndpointDown,
    /// Both endpoints of v1 are down: v1's requests fail after the retries.
    SubsetDown,
    /// Both endpoints of v2 answer slower than the route timeout.
    Slowed,
    /// Endpoints of v2 answer 503.
    Failing,
}

/// A window of the schedule, from its first action to a moment after its last.
#[derive(Clone, Copy, Debug)]
struct Window {
    cause: Cause,
    from: Instant,
    to: Instant,
}

/// Runs the fault schedule until `end`, round after round; returns the windows.
async fn run_schedule(ups: Arc<Upstreams>, end: Instant) -> Vec<Window> {
    let mut windows = Vec::new();
    // A window covers the requests that overlap it; this covers what a fault leaves behind
    // for a moment (connections to a restarted endpoint that the pool still holds).
    let grace = Duration::from_millis(500);
    let mut round_start = Instant::now();
    while round_start + CYCLE <= end + Duration::from_millis(100) {
        let at = |ms: u64| round_start + Duration::from_millis(ms);
        let sleep_until = |t: Instant| tokio::time::sleep_until(t.into());

        // 0.3 s: the mirror hangs for a second (copies queue up, and are dropped once 16
        // are waiting).
        sleep_until(at(300)).await;
        ups.mirror.set_delay(Duration::from_secs(3));

        // 1.0 s: one endpoint of v1 crashes; back at 1.6 s on the same port.
        sleep_until(at(1000)).await;
        let from = Instant::now();
        ups.v1a.kill().await;
        sleep_until(at(1300)).await;
        ups.mirror.set_delay(Duration::ZERO);
        sleep_until(at(1600)).await;
        ups.v1a.restart().await;
        windows.push(Window {
            cause: Cause::EndpointDown,
            from,
            to: Instant::now() + grace,
        });

        // 1.8 s: both endpoints of v1 crash; back at 2.4 s.
        sleep_until(at(1800)).await;
        let from = Instant::now();
        ups.v1a.kill().await;
        ups.v1b.kill().await;
        sleep_until(at(2400)).await;
        ups.v1a.restart().await;
        ups.v1b.restart().await;
        windows.push(Window {
            cause: Cause::SubsetDown,
            from,
            to: Instant::now() + grace,
        });

        // 2.6 s: v2 answers in 1.5 s, past the per-try timeout (300 ms) and, for 1.2 s,
        // past the route timeout (1 s); normal at 3.8 s.
        sleep_until(at(2600)).await;
        let from = Instant::now();
        ups.v2a.set_delay(Duration::from_millis(1500));
        ups.v2b.set_delay(Duration::from_millis(1500));
        sleep_until(at(3800)).await;
        ups.v2a.set_delay(Duration::ZERO);
        ups.v2b.set_delay(Duration::ZERO);
        windows.push(Window {
            cause: Cause::Slowed,
            from,
            to: Instant::now() + grace,
        });

        // 3.9 s: one endpoint of v2 answers 503 (retries go to the other), and from 4.3 s
        // both do (the retries are spent; the upstream's 503 is the answer); normal at 4.8 s.
        sleep_until(at(3900)).await;
        let from = Instant::now();
        ups.v2a.set_fail(true);
        sleep_until(at(4300)).await;
        ups.v2b.set_fail(true);
        sleep_until(at(4800)).await;
        ups.v2a.set_fail(false);
        ups.v2b.set_fail(false);
        windows.push(Window {
            cause: Cause::Failing,
            from,
            to: Instant::now() + grace,
        });

        round_start += CYCLE;
        sleep_until(round_start).await;
    }
    windows
}

// ---------------------------------------------------------------------------------------
// Well-behaved clients
// ---------------------------------------------------------------------------------------

/// What one request got.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Ok,
    /// The injected abort (`fault filter abort`).
    Aborted,
    /// 504 `upstream request timeout`.
    Timeout,
    /// 503 from the mesh after the last attempt failed to connect or was reset.
    ConnectFailure,
    /// The upstream's own 503, after the retries.
    Upstream503,
    /// Anything else: a status or body the schedule does not explain, a transport error,
    /// or no answer in time.
    Unexpected(String),
}

#[derive(Debug)]
struct Sample {
    /// `http/1.1` or `h2c`.
    proto: &'static str,
    start: Instant,
    end: Instant,
    outcome: Outcome,
}

fn classify(r: Result<Reply, String>) -> Outcome {
    let r = match r {
        Ok(r) => r,
        Err(e) => return Outcome::Unexpected(format!("transport: {e}")),
    };
    let version = r.header("x-version").to_owned();
    match (r.status.as_u16(), r.body.as_str()) {
        (200, body) if body.starts_with("v1") || body.starts_with("v2") => Outcome::Ok,
        (503, "fault filter abort") => Outcome::Aborted,
        (504, "upstream request timeout") => Outcome::Timeout,
        (503, body)
            if body.starts_with("upstream connect error or disconnect/reset before headers") =>
        {
            Outcome::ConnectFailure
        }
        (503, body) if body.ends_with(" is failing") && version.starts_with("v2") => {
            Outcome::Upstream503
        }
        (status, body) => Outcome::Unexpected(format!(
            "{status} {:?} (x-version {version:?})",
            body.chars().take(120).collect::<String>()
        )),
    }
}

/// A request body for the h2c client: whole, or one chunk and then nothing, ever (a
/// client that stalls its upload).
enum H2Body {
    Full(Full<Bytes>),
    Stalled(Option<Bytes>),
}

impl Body for H2Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            H2Body::Full(b) => Pin::new(b).poll_frame(cx),
            H2Body::Stalled(first) => match first.take() {
                Some(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                None => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            H2Body::Full(b) => b.is_end_stream(),
            H2Body::Stalled(_) => false,
        }
    }
}

/// An h2c client (HTTP/2 with prior knowledge): its clones share one connection.
type H2Client = hyper::client::conn::http2::SendRequest<H2Body>;

/// Opens an h2c connection to `addr`.
async fn h2c_client(addr: SocketAddr) -> H2Client {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (client, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2c handshake");
    tokio::spawn(conn);
    client
}

/// Waits for the response of `call` and reads its whole body; `Err` on a transport error
/// or after `CLIENT_PATIENCE`.
async fn exchange<E: std::fmt::Debug>(
    call: impl Future<Output = Result<Response<hyper::body::Incoming>, E>>,
) -> Result<Reply, String> {
    let started = Instant::now();
    let call = async {
        let resp = call.await.map_err(|e| format!("{e:?}"))?;
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
    };
    match tokio::time::timeout(CLIENT_PATIENCE, call).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {CLIENT_PATIENCE:?}")),
    }
}

/// A shop request to `authority`: GET, and every fourth a POST with a small body (buffered
/// for retries and the mirror). Over HTTP/1.1 the authority is the proxy's address and the
/// Host header names the shop; over HTTP/2 the `:authority` does.
fn shop_request<B>(authority: &str, path: &str, i: u64, body: impl Fn(Bytes) -> B) -> Request<B> {
    let (method, payload) = if i % 4 == 3 {
        (http::Method::POST, Bytes::from(vec![b'x'; 1024]))
    } else {
        (http::Method::GET, Bytes::new())
    };
    Request::builder()
        .method(method)
        .uri(format!("http://{authority}{path}"))
        .header(http::header::HOST, "shop.example.com")
        .body(body(payload))
        .expect("a valid request")
}

/// Sends shop requests over HTTP/1.1 without pause until `end`.
async fn client_loop(addr: SocketAddr, id: usize, end: Instant) -> Vec<Sample> {
    let client = client();
    let mut samples = Vec::new();
    let mut i = 0u64;
    while Instant::now() < end {
        let start = Instant::now();
        let req = shop_request(&addr.to_string(), &format!("/soak/{id}/{i}"), i, Full::new);
        let result = exchange(client.request(req)).await;
        samples.push(Sample {
            proto: "http/1.1",
            start,
            end: Instant::now(),
            outcome: classify(result),
        });
        i += 1;
    }
    samples
}

/// Sends shop requests as h2c streams without pause until `end`, on `client`'s connection.
async fn h2c_loop(mut client: H2Client, id: usize, end: Instant) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut i = 0u64;
    while Instant::now() < end {
        let start = Instant::now();
        let req = shop_request("shop.example.com", &format!("/soak/h2c/{id}/{i}"), i, |b| {
            H2Body::Full(Full::new(b))
        });
        let result = exchange(client.send_request(req)).await;
        samples.push(Sample {
            proto: "h2c",
            start,
            end: Instant::now(),
            outcome: classify(result),
        });
        i += 1;
    }
    samples
}

/// Whether the schedule explains `s`'s failure; the cause it is counted under.
fn explained(s: &Sample, windows: &[Window]) -> Option<&'static str> {
    let during = |cause: Cause| {
        windows
            .iter()
            .any(|w| w.cause == cause && s.start <= w.to && s.end >= w.from)
    };
    // Rare (seen once in about 300 000 requests, at the instant the whole subset was
    // killed): a request in flight when an endpoint crashes may wait out the route
    // timeout. The cause is not established (the suspect: a connection attempt racing the
    // listener's close, unanswered until its SYN is sent again); only requests that
    // span a crash are excused.
    let in_flight_at_a_crash = windows.iter().any(|w| {
        matches!(w.cause, Cause::EndpointDown | Cause::SubsetDown)
            && s.start <= w.from
            && w.from <= s.end
    });
    match &s.outcome {
        Outcome::Aborted => Some("injected abort (fault, 503)"),
        Outcome::Timeout if during(Cause::Slowed) => Some("504 route timeout while slowed"),
        Outcome::Timeout if in_flight_at_a_crash => {
            Some("504 route timeout: in flight when an endpoint crashed")
        }
        Outcome::ConnectFailure if during(Cause::SubsetDown) => {
            Some("503 after retries: whole subset down")
        }
        Outcome::ConnectFailure if during(Cause::EndpointDown) => {
            Some("503 after retries: one endpoint down, retry refused by the budget")
        }
        Outcome::Upstream503 if during(Cause::Failing) => {
            Some("503 after retries: upstreams answering 503")
        }
        _ => None,
    }
}

fn metric_sum(metrics: &str, prefix: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

// ---------------------------------------------------------------------------------------
// Configuration writers
// ---------------------------------------------------------------------------------------

/// How a configuration file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Writing {
    /// A valid change, written beside and renamed into place.
    AtomicValid,
    /// An invalid change, renamed into place.
    AtomicInvalid,
    /// Truncated in place, then refilled with a valid change `HALF_WRITTEN` later.
    TruncateThenRefill,
    /// The Gateway, DestinationRule and ServiceEntries written in place first, the
    /// VirtualServices appended `HALF_WRITTEN` later.
    ServicesBeforeRoutes,
    /// A valid change written in place in pieces 20 ms apart, each ending inside a flow
    /// mapping.
    Pieces,
}

const WRITES: [Writing; 5] = [
    Writing::AtomicValid,
    Writing::AtomicInvalid,
    Writing::TruncateThenRefill,
    Writing::ServicesBeforeRoutes,
    Writing::Pieces,
];

/// Writes the configuration every `WRITE_EVERY` until `end`, each time in the next way of
/// [`WRITES`]; every valid write changes the configuration (the two variants alternate).
/// Returns the writes done, by way.
async fn write_configs(
    dir: TempDir,
    variants: [Config; 2],
    started: Instant,
    end: Instant,
) -> (BTreeMap<Writing, u64>, TempDir) {
    let path = dir.path().join("mesh.yaml");
    let mut done: BTreeMap<Writing, u64> = BTreeMap::new();
    // The variant being served.
    let mut serving = 0usize;
    let mut invalid = 0usize;
    let mut next = started + Duration::from_millis(400);
    let mut n = 0usize;
    while next + WRITE_EVERY < end {
        tokio::time::sleep_until(next.into()).await;
        let way = WRITES[n % WRITES.len()];
        let change = &variants[1 - serving];
        match way {
            Writing::AtomicValid => {
                dir.replace("mesh.yaml", &change.whole());
            }
            Writing::AtomicInvalid => {
                dir.replace(
                    "mesh.yaml",
                    &invalid_config(&variants[serving].whole(), invalid),
                );
                invalid += 1;
            }
            Writing::TruncateThenRefill => {
                std::fs::write(&path, "").expect("truncate");
                tokio::time::sleep(HALF_WRITTEN).await;
                std::fs::write(&path, change.whole()).expect("refill");
            }
            Writing::ServicesBeforeRoutes => {
                std::fs::write(&path, &change.services).expect("write the services");
                tokio::time::sleep(HALF_WRITTEN).await;
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .expect("open to append");
                std::io::Write::write_all(&mut f, change.routes.as_bytes())
                    .expect("append the routes");
            }
            Writing::Pieces => {
                let text = change.whole();
                let mut f = std::fs::File::create(&path).expect("truncate");
                for piece in pieces(&text, 6) {
                    std::io::Write::write_all(&mut f, piece.as_bytes()).expect("a piece");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        if way != Writing::AtomicInvalid {
            serving = 1 - serving;
        }
        *done.entry(way).or_default() += 1;
        n += 1;
        next += WRITE_EVERY;
    }
    (done, dir)
}

// ---------------------------------------------------------------------------------------
// The rogue upstream and the bad actors
// ---------------------------------------------------------------------------------------

/// An upstream that misbehaves by path, one request per connection, releasing each
/// connection when the proxy closes it: `/hang` is read and never answered; `/partial`
/// gets a head promising 100 bytes and 5 of them, then nothing; `/ws` gets
/// `101 Switching Protocols` and an echo of whatever arrives.
struct Rogue {
    addr: SocketAddr,
    /// Connections it accepted.
    accepted: Arc<AtomicUsize>,
    /// Connections whose proxy side it saw close.
    closed: Arc<AtomicUsize>,
}

impl Rogue {
    async fn start() -> Rogue {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let (count, seen) = (accepted.clone(), closed.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let target = String::from_utf8_lossy(&head)
                        .split(' ')
                        .nth(1)
                        .unwrap_or("")
                        .to_owned();
                    let echo = target.starts_with("/ws");
                    if target.starts_with("/partial") {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhello")
                            .await;
                    } else if echo {
                        let _ = s
                            .write_all(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n")
                            .await;
                    }
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) if echo => {
                                let _ = s.write_all(&buf[..n]).await;
                            }
                            Ok(_) => {}
                        }
                    }
                    seen.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Rogue {
            addr,
            accepted,
            closed,
        }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections from the proxy still open.
    fn open(&self) -> usize {
        self.accepted.load(Ordering::SeqCst) - self.closed.load(Ordering::SeqCst)
    }
}

/// A kind of bad actor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Actor {
    /// Sends a request head a byte per 100 ms, never finishing it in time.
    TrickledHead,
    /// Sends half a request head, then nothing.
    HalfHead,
    /// Connects and sends nothing.
    Silent,
    /// Sends a request head and 10 of the 1000 body bytes it announced, then nothing.
    StalledBody,
    /// Sends an h2c request and 10 body bytes, then nothing, on the connection the
    /// well-behaved h2c streams share.
    StalledH2cStream,
    /// Asks the hanging upstream, then (on the same connection) the steady one.
    HangingUpstream,
    /// Asks the upstream that stalls mid-body.
    StalledResponse,
    /// Opens a websocket tunnel and sends nothing.
    SilentWebsocket,
}

/// How many of each run at once.
const ACTORS: [(Actor, usize); 8] = [
    (Actor::TrickledHead, 3),
    (Actor::HalfHead, 3),
    (Actor::Silent, 6),
    (Actor::StalledBody, 2),
    (Actor::StalledH2cStream, 1),
    (Actor::HangingUpstream, 2),
    (Actor::StalledResponse, 2),
    (Actor::SilentWebsocket, 2),
];

/// What a raw connection received: the bytes, and whether the proxy closed it (rather
/// than the patience running out).
struct Received {
    bytes: Vec<u8>,
    closed: bool,
}

impl Received {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    fn head(&self) -> String {
        let text = self.text();
        text.split_once("\r\n\r\n")
            .map_or(text.clone(), |(h, _)| h.to_owned())
            .to_ascii_lowercase()
    }

    fn body(&self) -> String {
        self.text()
            .split_once("\r\n\r\n")
            .map_or(String::new(), |(_, b)| b.to_owned())
    }
}

/// Reads until the proxy closes the connection, or for at most `CLIENT_PATIENCE`.
async fn read_to_close(s: &mut (impl tokio::io::AsyncRead + Unpin)) -> Received {
    let mut out = Received {
        bytes: Vec::new(),
        closed: false,
    };
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + CLIENT_PATIENCE;
    while let Ok(r) = tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
        match r {
            Ok(0) | Err(_) => {
                out.closed = true;
                break;
            }
            Ok(n) => out.bytes.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// Reads one response with a `content-length` body (or a 101's head), for at most
/// `CLIENT_PATIENCE`: its status line and headers (lower case) and body.
async fn read_response(s: &mut TcpStream) -> Option<(String, String)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + CLIENT_PATIENCE;
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let head = head.to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return Some((head, body.to_owned()));
            }
        }
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
}

/// Envoy's answer to a client that did not send its request in time (Envoy 1.40, stream
/// idle timeout, `timeouts.rs`): 408 `stream timeout`, `connection: close`, then the
/// connection is closed.
fn is_stream_timeout_408(r: &Received) -> bool {
    r.head().starts_with("http/1.1 408")
        && r.head().contains("connection: close")
        && r.body() == "stream timeout"
        && r.closed
}

/// One visit of a bad actor: `Ok` when it got its documented answer, else what it got.
/// Each visit is a new connection (but for the h2c stream, which shares the well-behaved
/// streams' connection).
async fn visit(actor: Actor, addr: SocketAddr, h2c: &mut H2Client) -> Result<(), String> {
    const SHOP_HEAD: &[u8] = b"GET /soak/slow HTTP/1.1\r\nHost: shop.example.com\r\nx-slow: 1\r\n";
    let connect = || async {
        TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))
    };
    let explain = |r: &Received| {
        format!(
            "{:?}{}",
            r.text().chars().take(160).collect::<String>(),
            if r.closed {
                " (closed)"
            } else {
                " (still open)"
            }
        )
    };
    match actor {
        // The head timer runs from the first byte and head bytes do not reset it (Envoy
        // 1.40, `timeouts.rs`): 408 even while bytes keep coming.
        Actor::TrickledHead => {
            let s = connect().await?;
            let (mut rd, mut wr) = s.into_split();
            let trickle = async {
                for b in SHOP_HEAD {
                    if wr.write_all(&[*b]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                std::future::pending::<()>().await;
            };
            let r = tokio::select! {
                r = read_to_close(&mut rd) => r,
                () = trickle => unreachable!("the trickle never ends by itself"),
            };
            is_stream_timeout_408(&r)
                .then_some(())
                .ok_or_else(|| explain(&r))
        }
        Actor::HalfHead => {
            let mut s = connect().await?;
            s.write_all(SHOP_HEAD).await.map_err(|e| e.to_string())?;
            let r = read_to_close(&mut s).await;
            is_stream_timeout_408(&r)
                .then_some(())
                .ok_or_else(|| explain(&r))
        }
        // A connection that never sent a byte is closed silently (Envoy 1.40).
        Actor::Silent => {
            let mut s = connect().await?;
            let r = read_to_close(&mut s).await;
            (r.closed && r.bytes.is_empty())
                .then_some(())
                .ok_or_else(|| explain(&r))
        }
        // Envoy 1.40 (`stream_idle_timeout`, `timeouts.rs`): 408 `stream timeout`,
        // `connection: close`, flag `SI`.
        Actor::StalledBody => {
            let mut s = connect().await?;
            s.write_all(
                b"POST /upload HTTP/1.1\r\nHost: slow.example.com\r\ncontent-length: 1000\r\n\r\n0123456789",
            )
            .await
            .map_err(|e| e.to_string())?;
            let r = read_to_close(&mut s).await;
            is_stream_timeout_408(&r)
                .then_some(())
                .ok_or_else(|| explain(&r))
        }
        // Envoy 1.40 on an h2c stream whose body stalls (`stream_idle_timeout: 1s`,
        // measured with raw frames): HEADERS 408, DATA `stream timeout`, RST_STREAM
        // NO_ERROR; the connection stays open for the other streams. Flag `SI`.
        Actor::StalledH2cStream => {
            let req = Request::post("http://slow.example.com/upload")
                .header(http::header::CONTENT_LENGTH, "1000")
                .body(H2Body::Stalled(Some(Bytes::from_static(b"0123456789"))))
                .expect("a valid request");
            match exchange(h2c.send_request(req)).await {
                Ok(r) if r.status.as_u16() == 408 && r.body == "stream timeout" => Ok(()),
                Ok(r) => Err(format!("{} {:?}", r.status, r.body)),
                Err(e) => Err(e),
            }
        }
        // Envoy 1.40 (`timeouts.rs`): 504 `stream timeout`, flag `SI`, and the client's
        // connection stays open: the next request on it is served.
        Actor::HangingUpstream => {
            let mut s = connect().await?;
            s.write_all(b"GET /hang HTTP/1.1\r\nHost: slow.example.com\r\n\r\n")
                .await
                .map_err(|e| e.to_string())?;
            let first = read_response(&mut s).await;
            let Some((head, body)) = first else {
                return Err("no answer to /hang".to_owned());
            };
            if !(head.starts_with("http/1.1 504")
                && body == "stream timeout"
                && !head.contains("connection: close"))
            {
                return Err(format!("/hang: {head:?} {body:?}"));
            }
            s.write_all(b"GET /after-hang HTTP/1.1\r\nHost: slow.example.com\r\n\r\n")
                .await
                .map_err(|e| e.to_string())?;
            match read_response(&mut s).await {
                Some((head, body)) if head.starts_with("http/1.1 200") && body == "steady" => {
                    Ok(())
                }
                other => Err(format!("after /hang, on the same connection: {other:?}")),
            }
        }
        // Envoy 1.40 (`timeouts.rs`): what the upstream sent, then the connection closed;
        // logged `200 SI`.
        Actor::StalledResponse => {
            let mut s = connect().await?;
            s.write_all(b"GET /partial HTTP/1.1\r\nHost: slow.example.com\r\n\r\n")
                .await
                .map_err(|e| e.to_string())?;
            let r = read_to_close(&mut s).await;
            (r.head().starts_with("http/1.1 200")
                && r.head().contains("content-length: 100")
                && r.body() == "hello"
                && r.closed)
                .then_some(())
                .ok_or_else(|| explain(&r))
        }
        // Envoy 1.40 (`timeouts.rs`, `upgrade.rs`): the 101, then both sides closed after
        // the idle timeout; logged `101 SI`.
        Actor::SilentWebsocket => {
            let mut s = connect().await?;
            s.write_all(
                b"GET /ws HTTP/1.1\r\nHost: slow.example.com\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            )
            .await
            .map_err(|e| e.to_string())?;
            let r = read_to_close(&mut s).await;
            (r.head().starts_with("http/1.1 101") && r.body().is_empty() && r.closed)
                .then_some(())
                .ok_or_else(|| explain(&r))
        }
    }
}

/// Runs `actor` visit after visit until `end`; the number of visits that got their
/// documented answer, and what the others got.
async fn act(
    actor: Actor,
    addr: SocketAddr,
    mut h2c: H2Client,
    end: Instant,
) -> (u64, Vec<String>) {
    let (mut ok, mut wrong) = (0, Vec::new());
    while Instant::now() < end {
        match visit(actor, addr, &mut h2c).await {
            Ok(()) => ok += 1,
            Err(e) => wrong.push(e),
        }
    }
    (ok, wrong)
}

// ---------------------------------------------------------------------------------------
// Open files
// ---------------------------------------------------------------------------------------

/// Open file descriptors of this process (the proxy, its upstreams and its clients all
/// live here), where the platform tells.
fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

/// Open TCP connections of this process whose local port is `port`: for the proxy's
/// port, the client connections the proxy holds (the listening socket is not counted).
fn connections_on(port: u16) -> Option<usize> {
    sockets(|local, _| local == port)
}

/// Open file descriptors of this process that are connections to or from one of `ports`
/// (both ends count when both live here).
fn connections_with(ports: &[u16]) -> Option<usize> {
    sockets(|local, remote| ports.contains(&local) || ports.contains(&remote))
}

/// Open file descriptors of this process that are TCP connections (not listening sockets)
/// whose local and remote ports satisfy `wanted`.
fn sockets(wanted: impl Fn(u16, u16) -> bool) -> Option<usize> {
    let port = |addr: &str| {
        addr.rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok())
    };
    let mut inodes = std::collections::HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(remote), Some(state), Some(inode)) =
                (f.get(1), f.get(2), f.get(3), f.get(9))
            else {
                continue;
            };
            let (Some(local), Some(remote)) = (port(local), port(remote)) else {
                continue;
            };
            // 0A: listening.
            if *state != "0A" && wanted(local, remote) {
                inodes.insert(format!("socket:[{inode}]"));
            }
        }
    }
    let fds = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(
        fds.flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .filter(|l| inodes.contains(l.to_string_lossy().as_ref()))
            .count(),
    )
}

// ---------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_with_faults_bad_actors_and_half_written_configs_fails_only_by_design() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
        .max(10);
    let duration = Duration::from_secs(secs);
    let setup = Instant::now();
    let ups = Arc::new(Upstreams {
        v1a: Controlled::start("v1a").await,
        v1b: Controlled::start("v1b").await,
        v2a: Controlled::start("v2a").await,
        v2b: Controlled::start("v2b").await,
        mirror: Controlled::start("mirror").await,
        rogue: Rogue::start().await,
        steady: Upstream::ok("steady").await,
    });
    let variants = [config(&ups, 50, 5), config(&ups, 60, 10)];
    // What the reloader may read of a file written in pieces is never a valid
    // configuration: each prefix ends inside a flow mapping.
    let whole = variants[1].whole();
    let cut = pieces(&whole, 6);
    assert!(cut.len() > 3, "{} pieces", cut.len());
    let mut prefix = String::new();
    for piece in &cut[..cut.len() - 1] {
        prefix.push_str(piece);
        assert!(
            mesh_model::load_str(&prefix).is_err(),
            "a prefix loads: ...{:?}",
            &prefix[prefix.len().saturating_sub(60)..]
        );
    }
    let dir = TempDir::new("soak");
    let file = dir.write("mesh.yaml", &variants[0].whole());
    let mut s = settings(vec![file]);
    // A small mirror queue, so that the hung mirror makes copies overflow it.
    s.options.mirror_queue = 16;
    s.options.stream_idle_timeout = Some(IDLE);
    s.listener.request_headers_timeout = Some(HEAD);
    s.listener.max_connections = 1024;
    s.reload.settle = Duration::from_millis(100);
    // Longer than any half-written state lasts, shorter than the soak.
    s.reload.suspicious_hold = Duration::from_secs(5);
    let proxy = start(s).await;
    let addr = proxy.addr;
    let fds_before = open_fds();
    let rss_before = rss_kib();

    let started = Instant::now();
    let end = started + duration;
    // Open files and client connections, sampled while the soak runs.
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let (mut fds, mut conns) = (0usize, 0usize);
            while sampling.load(Ordering::SeqCst) {
                fds = fds.max(open_fds().unwrap_or(0));
                conns = conns.max(connections_on(addr.port()).unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (fds, conns)
        })
    };
    let h2c = h2c_client(addr).await;
    let mut clients: Vec<_> = (0..CLIENTS)
        .map(|id| tokio::spawn(client_loop(addr, id, end)))
        .collect();
    clients.extend((0..H2C_CLIENTS).map(|id| tokio::spawn(h2c_loop(h2c.clone(), id, end))));
    let actors: Vec<_> = ACTORS
        .iter()
        .flat_map(|(actor, n)| std::iter::repeat_n(*actor, *n))
        .map(|actor| (actor, tokio::spawn(act(actor, addr, h2c.clone(), end))))
        .collect();
    let schedule = tokio::spawn(run_schedule(ups.clone(), end));
    let writer = tokio::spawn(write_configs(dir, variants.clone(), started, end));

    let mut samples = Vec::new();
    for c in clients {
        samples.extend(c.await.expect("a client task"));
    }
    let mut visits: BTreeMap<Actor, (u64, Vec<String>)> = BTreeMap::new();
    for (actor, task) in actors {
        let (ok, wrong) = task.await.expect("an actor task");
        let entry = visits.entry(actor).or_default();
        entry.0 += ok;
        entry.1.extend(wrong);
    }
    drop(h2c);
    let windows = schedule.await.expect("the schedule");
    let (writes, _dir) = writer.await.expect("the writer");
    let soaked = started.elapsed();

    // The bad actors have left: the proxy lets go of every client connection, and of
    // every connection to the rogue upstream (bounded wait: the last pooled connections
    // close as their clients are dropped).
    let c = client();
    let released = eventually(Duration::from_secs(10), || async {
        let m = admin(&c, proxy.admin_addr, "/metrics").await.body;
        let held = connections_on(addr.port());
        // The admin request's own connection is not on the data port.
        (metric(&m, "mesh_proxy_downstream_cx_active ") == 0
            && held.is_none_or(|n| n == 0)
            && ups.rogue.open() == 0)
            .then_some(())
    })
    .await;
    sampling.store(false, Ordering::SeqCst);
    let (peak_fds, peak_conns) = sampler.await.expect("the sampler");
    let released_after = started.elapsed() - soaked;
    let m = admin(&c, proxy.admin_addr, "/metrics").await.body;
    let upstream_ports: Vec<u16> = [&ups.v1a, &ups.v1b, &ups.v2a, &ups.v2b, &ups.mirror]
        .iter()
        .map(|u| u.addr.port())
        .chain([ups.rogue.port(), ups.steady.port()])
        .collect();
    let pooled_after = connections_with(&upstream_ports);
    let fds_after = open_fds();
    let rss_after = rss_kib();
    let peak = peak_rss_kib();
    let stop = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), proxy.shutdown())
        .await
        .expect("the proxy shuts down after the soak");
    let shutdown_took = stop.elapsed();

    // Counts of the well-behaved requests.
    let sent = samples.len() as u64;
    let sent_h2c = samples.iter().filter(|s| s.proto == "h2c").count() as u64;
    let answered = samples
        .iter()
        .filter(|s| !matches!(&s.outcome, Outcome::Unexpected(e) if e.starts_with("transport") || e.starts_with("no answer")))
        .count() as u64;
    let ok = samples.iter().filter(|s| s.outcome == Outcome::Ok).count() as u64;
    let ok_h2c = samples
        .iter()
        .filter(|s| s.outcome == Outcome::Ok && s.proto == "h2c")
        .count() as u64;
    let mut by_design: BTreeMap<&str, u64> = BTreeMap::new();
    let mut otherwise: BTreeMap<String, u64> = BTreeMap::new();
    for s in &samples {
        if s.outcome == Outcome::Ok {
            continue;
        }
        match explained(s, &windows) {
            Some(cause) => *by_design.entry(cause).or_default() += 1,
            None => {
                let at = s.start.duration_since(started).as_secs_f64() % CYCLE.as_secs_f64();
                *otherwise
                    .entry(format!(
                        "{} {:?} (at {at:.1} s into a round)",
                        s.proto, s.outcome
                    ))
                    .or_default() += 1;
            }
        }
    }
    let failed_by_design: u64 = by_design.values().sum();
    let failed_otherwise: u64 = otherwise.values().sum();
    let visits_ok = |a: Actor| visits.get(&a).map_or(0, |v| v.0);
    let retries = metric(&m, "mesh_retries_total{result=\"attempted\"}");
    let budget_refused = metric(&m, "mesh_retries_total{result=\"budget_exhausted\"}");
    let overflow = metric_sum(&m, "envoy_cluster_upstream_rq_retry_overflow_total{");
    let mirrors_sent = metric(&m, "mesh_mirror_requests_total{result=\"sent\"}");
    let mirrors_dropped = metric(&m, "mesh_mirror_requests_total{result=\"dropped\"}");
    let applied = metric(&m, "mesh_proxy_config_reloads_total{result=\"applied\"}");
    let rejected = metric(&m, "mesh_proxy_config_reloads_total{result=\"rejected\"}");
    let suspicious = metric(&m, "mesh_proxy_config_reloads_total{result=\"suspicious\"}");
    let counted = metric_sum(&m, "istio_requests_total{");
    let counted_as = |code: &str, flags: &str| {
        requests_total(&m, &[("response_code", code), ("response_flags", flags)])
    };
    let upstream_calls: u64 = [&ups.v1a, &ups.v1b, &ups.v2a, &ups.v2b]
        .iter()
        .map(|u| u.calls())
        .sum();
    let wrote = |w: Writing| writes.get(&w).copied().unwrap_or(0);
    let valid_writes = wrote(Writing::AtomicValid)
        + wrote(Writing::TruncateThenRefill)
        + wrote(Writing::ServicesBeforeRoutes)
        + wrote(Writing::Pieces);

    println!(
        "soak: {secs} s ({soaked:.1?} until every client and actor was done), {CLIENTS} HTTP/1.1 clients, {H2C_CLIENTS} h2c streams, set-up {:.1?}",
        started - setup
    );
    println!(
        "  well-behaved requests sent            {sent:>8}  ({:.0}/s; h2c {sent_h2c})",
        sent as f64 / secs as f64
    );
    println!("  answered                              {answered:>8}");
    println!("    served (200)                        {ok:>8}  (h2c {ok_h2c})");
    println!("    failed by design                    {failed_by_design:>8}");
    for (cause, n) in &by_design {
        println!("      {cause:<62} {n:>6}");
    }
    println!("  failed otherwise                      {failed_otherwise:>8}");
    for (what, n) in &otherwise {
        println!("      {what}: {n}");
    }
    println!("  bad actors (visits with the documented answer / otherwise)");
    for (actor, (n, wrong)) in &visits {
        println!(
            "      {:<62} {n:>6} / {}",
            format!("{actor:?}"),
            wrong.len()
        );
    }
    println!("  requests counted by the proxy         {counted:>8}  (istio_requests_total)");
    println!(
        "    408 SI {}, 504 SI {}, 200 SI {}, 101 SI {}",
        counted_as("408", "SI"),
        counted_as("504", "SI"),
        counted_as("200", "SI"),
        counted_as("101", "SI")
    );
    println!("  upstream attempts answered            {upstream_calls:>8}");
    println!(
        "  retries attempted                     {retries:>8}  (mesh_retries_total{{result=\"attempted\"}})"
    );
    println!(
        "  retries over budget                   {overflow:>8}  (envoy_cluster_upstream_rq_retry_overflow_total)"
    );
    println!("  mirrors sent / dropped                {mirrors_sent:>8} / {mirrors_dropped}");
    println!(
        "  reloads applied / rejected / held     {applied:>8} / {rejected} / {suspicious}  (writes: {writes:?})"
    );
    println!(
        "  open files: {} before, peak {peak_fds}, {} after ({} of them the two ends of pooled upstream connections); client connections peak {peak_conns}, all released {released_after:.1?} after the soak",
        fds_before.map_or("?".to_owned(), |n| n.to_string()),
        fds_after.map_or("?".to_owned(), |n| n.to_string()),
        pooled_after.map_or("?".to_owned(), |n| n.to_string()),
    );
    println!(
        "  memory: RSS {} -> {} MiB, peak {} MiB; shutdown took {shutdown_took:.1?}",
        rss_before.map_or(0, |k| k / 1024),
        rss_after.map_or(0, |k| k / 1024),
        peak.map_or(0, |k| k / 1024)
    );

    if std::env::var("SOAK_TIMELINE").is_ok() {
        for w in &windows {
            println!(
                "  window {:?}: {:.2} .. {:.2} s",
                w.cause,
                w.from.duration_since(started).as_secs_f64(),
                w.to.duration_since(started).as_secs_f64()
            );
        }
        let mut buckets: BTreeMap<u64, BTreeMap<String, u64>> = BTreeMap::new();
        for s in &samples {
            let b = s.start.duration_since(started).as_millis() as u64 / 200 * 200;
            let key = match &s.outcome {
                Outcome::Unexpected(_) => "unexpected".to_owned(),
                o => format!("{o:?}"),
            };
            *buckets.entry(b).or_default().entry(key).or_default() += 1;
        }
        for (b, counts) in buckets {
            println!("  {:>5} ms {counts:?}", b);
        }
        for s in samples
            .iter()
            .filter(|s| s.end - s.start > Duration::from_millis(500))
        {
            println!(
                "  slow: started {:.3} s, took {:.3?}: {:?}",
                s.start.duration_since(started).as_secs_f64(),
                s.end - s.start,
                s.outcome
            );
        }
    }

    // Well-behaved clients lose nothing but by design, over both protocols.
    assert_eq!(
        failed_otherwise, 0,
        "failures the schedule does not explain: {otherwise:#?}"
    );
    assert_eq!(answered, sent);
    assert_eq!(ok + failed_by_design, sent);
    assert!(ok * 2 > sent, "most requests are served: {ok} of {sent}");
    assert!(
        sent as f64 > 20.0 * secs as f64,
        "the load ran: {sent} requests"
    );
    assert!(
        ok_h2c * 2 > sent_h2c && sent_h2c > 0,
        "h2c streams are served: {ok_h2c} of {sent_h2c}"
    );
    // Every bad actor got exactly its documented answer, every time, and each came back.
    for (actor, (n, wrong)) in &visits {
        assert!(wrong.is_empty(), "{actor:?} got other answers: {wrong:#?}");
        assert!(*n > 0, "{actor:?} never finished a visit");
    }
    // The proxy counted each request once when it was over, with its flag: the
    // well-behaved ones, the stalled bodies (408 SI), the hanging upstream (504 SI, and the
    // request after it), the stalled responses (200 SI) and the silent tunnels (101 SI).
    // Heads that never arrived never reached the layer.
    let stalled_bodies = visits_ok(Actor::StalledBody) + visits_ok(Actor::StalledH2cStream);
    assert_eq!(counted_as("408", "SI"), stalled_bodies, "{m}");
    assert_eq!(
        counted_as("504", "SI"),
        visits_ok(Actor::HangingUpstream),
        "{m}"
    );
    assert_eq!(
        counted_as("200", "SI"),
        visits_ok(Actor::StalledResponse),
        "{m}"
    );
    assert_eq!(
        counted_as("101", "SI"),
        visits_ok(Actor::SilentWebsocket),
        "{m}"
    );
    assert_eq!(
        counted,
        sent + stalled_bodies
            + 2 * visits_ok(Actor::HangingUpstream)
            + visits_ok(Actor::StalledResponse)
            + visits_ok(Actor::SilentWebsocket),
        "{m}"
    );
    // Every round's faults showed.
    for cause in [
        "injected abort (fault, 503)",
        "503 after retries: whole subset down",
        "504 route timeout while slowed",
    ] {
        assert!(
            by_design.get(cause).is_some_and(|n| *n > 0),
            "no {cause:?}: {by_design:?}"
        );
    }
    assert!(retries > 0, "retries were spent");
    assert_eq!(overflow, budget_refused, "{m}");
    assert!(
        mirrors_sent > 0 && mirrors_dropped > 0,
        "sent {mirrors_sent}, dropped {mirrors_dropped}"
    );
    // Every way of writing ran; each valid configuration was applied once, and nothing
    // half-written was (a half-written state applied would also have shown above as 404s
    // or 502s): the invalid ones were rejected, the truncated and route-less states were
    // held back or rejected (a Gateway without its routes is suspicious; an empty file
    // has no Gateway), and a prefix of a file written in pieces, if the reloader ever
    // saw one, is invalid.
    for w in WRITES {
        assert!(wrote(w) > 0, "{w:?} never ran: {writes:?}");
    }
    assert_eq!(applied, valid_writes, "{m}");
    assert!(rejected >= wrote(Writing::AtomicInvalid), "{m}");
    assert!(suspicious >= wrote(Writing::ServicesBeforeRoutes), "{m}");
    assert!(
        rejected + suspicious
            >= wrote(Writing::AtomicInvalid)
                + wrote(Writing::TruncateThenRefill)
                + wrote(Writing::ServicesBeforeRoutes),
        "{m}"
    );
    // Shutdown finishes (bounded by the drain, not hung); not a speed claim.
    assert!(shutdown_took < Duration::from_secs(30), "{shutdown_took:?}");
    // Nothing is held once the bad actors have left: no client connection, no connection
    // to the rogue upstream, and every other open file but the proxy's pooled upstream
    // connections (idle keep-alive connections, both ends of which live in this process)
    // is one that was open before the soak, give or take the admin client's connection
    // and a few of the runtime's. The bad actors opened far more connections than that
    // margin (see their visits), each of which would stay if leaked; the pool itself is
    // bounded by the requests that were in flight at once.
    assert!(
        released.is_some(),
        "connections still held: to the rogue upstream {}, from clients {:?}: {m}",
        ups.rogue.open(),
        connections_on(addr.port())
    );
    if let (Some(before), Some(after), Some(pooled)) = (fds_before, fds_after, pooled_after) {
        assert!(
            after - pooled.min(after) <= before + 16,
            "open files: {before} before, {after} after, {pooled} of them pooled upstream connections (peak {peak_fds})"
        );
        assert!(pooled <= 256, "{pooled} pooled upstream connection ends");
    }
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        // Generous (the soak's own samples are in there too), but far below what leaked
        // connections and their buffers would add.
        assert!(
            after.saturating_sub(before) < 64 * 1024,
            "RSS grew from {before} to {after} KiB"
        );
    }
}
