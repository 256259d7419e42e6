//! Soak and fault test of the proxy over loopback: a few clients send requests without
//! pause for `SOAK_SECS` seconds (default 5, so that CI stays short) while, on a five-second
//! schedule that repeats, upstream endpoints are killed and restarted on the same port, a
//! whole subset goes down, a subset is slowed past the route timeout, endpoints answer 503
//! for a while, the mirror hangs, and the configuration file is rewritten every second,
//! every other time with an invalid configuration.
//!
//! Every answer is classified: served, failed by design (an injected abort; a 503 after the
//! retries are spent while endpoints were down or answering 503; a 504 while the subset was
//! slowed), or failed otherwise, which must never happen (a transport error from the proxy,
//! a 502, a status or body that the schedule does not explain, no answer within the
//! client's patience). The counts are printed along with the retries spent against the
//! budget, the mirrors sent and dropped, the reloads applied and rejected, and the memory.
//!
//! The full run: `SOAK_SECS=60 cargo test -p mesh-proxy --test soak -- --nocapture`. With
//! `SOAK_TIMELINE=1` the test also prints the fault windows, the outcomes per 200 ms and
//! every request that took over half a second.

mod common;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// The client gives up on a request after this long and counts it as failed otherwise: the
/// route timeout is 1 s, and no request has a reason to take more than about that.
const CLIENT_PATIENCE: Duration = Duration::from_secs(5);

/// Concurrent clients.
const CLIENTS: usize = 4;

/// The length of one round of the fault schedule.
const CYCLE: Duration = Duration::from_secs(5);

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

/// The shop: a 50/50 (or 60/40) split over subsets v1 and v2 of two endpoints each, with
/// retries, a route timeout, a mirror of half the requests and an abort of `abort` percent.
fn config(ups: &Upstreams, v1_weight: u32, abort: u32) -> String {
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
    format!(
        "{GATEWAY}apiVersion: networking.istio.io/v1
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
{SHOP_SUBSETS}apiVersion: networking.istio.io/v1
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
{mirror}",
        v2_weight = 100 - v1_weight,
        v1 = endpoints(&[&ups.v1a, &ups.v1b], "v1"),
        v2 = endpoints(&[&ups.v2a, &ups.v2b], "v2"),
        mirror = service_entry_for_mirror(&ups.mirror),
    )
}

fn service_entry_for_mirror(m: &Controlled) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: mirror, namespace: demo}}
spec:
  hosts: [mirror.demo.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {{number: 8080, name: http, protocol: HTTP}}
  endpoints:
  - address: 127.0.0.1
    ports: {{http: {}}}
    labels: {{app: mirror}}
---
",
        m.addr.port()
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

struct Upstreams {
    v1a: Arc<Controlled>,
    v1b: Arc<Controlled>,
    v2a: Arc<Controlled>,
    v2b: Arc<Controlled>,
    mirror: Arc<Controlled>,
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
// Clients
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

/// Sends requests without pause until `end`: GETs, and every fourth a POST with a small
/// body (buffered for retries and the mirror).
async fn client_loop(addr: SocketAddr, id: usize, end: Instant) -> Vec<Sample> {
    let client = client();
    let mut samples = Vec::new();
    let mut i = 0u64;
    while Instant::now() < end {
        let start = Instant::now();
        let path = format!("/soak/{id}/{i}");
        let req = if i % 4 == 3 {
            Request::post(format!("http://{addr}{path}"))
                .header(http::header::HOST, "shop.example.com")
                .body(Full::new(Bytes::from(vec![b'x'; 1024])))
        } else {
            Request::get(format!("http://{addr}{path}"))
                .header(http::header::HOST, "shop.example.com")
                .body(Full::new(Bytes::new()))
        }
        .expect("a valid request");
        let result = match tokio::time::timeout(CLIENT_PATIENCE, send(&client, req)).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {CLIENT_PATIENCE:?}")),
        };
        samples.push(Sample {
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
    match &s.outcome {
        Outcome::Aborted => Some("injected abort (fault, 503)"),
        Outcome::Timeout if during(Cause::Slowed) => Some("504 route timeout while slowed"),
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
// The test
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_under_faults_and_reloads_fails_only_by_design() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(5);
    let duration = Duration::from_secs(secs);
    let setup = Instant::now();
    let ups = Arc::new(Upstreams {
        v1a: Controlled::start("v1a").await,
        v1b: Controlled::start("v1b").await,
        v2a: Controlled::start("v2a").await,
        v2b: Controlled::start("v2b").await,
        mirror: Controlled::start("mirror").await,
    });
    let variants = [config(&ups, 50, 5), config(&ups, 60, 10)];
    let dir = TempDir::new("soak");
    let file = dir.write("mesh.yaml", &variants[0]);
    let mut s = settings(vec![file]);
    // A small mirror queue, so that the hung mirror makes copies overflow it.
    s.options.mirror_queue = 16;
    let proxy = start(s).await;
    let addr = proxy.addr;
    let rss_before = rss_kib();

    let started = Instant::now();
    let end = started + duration;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| tokio::spawn(client_loop(addr, id, end)))
        .collect();
    let schedule = tokio::spawn(run_schedule(ups.clone(), end));
    // The configuration is rewritten every second, alternately valid and invalid.
    let reloader = {
        let variants = variants.clone();
        tokio::spawn(async move {
            let (mut valid, mut invalid) = (0usize, 0usize);
            let mut n = 0usize;
            let mut next = started + Duration::from_millis(500);
            while next + Duration::from_millis(400) < end {
                tokio::time::sleep_until(next.into()).await;
                let text = if n.is_multiple_of(2) {
                    valid += 1;
                    variants[(n / 2 + 1) % 2].clone()
                } else {
                    invalid += 1;
                    invalid_config(&variants[(n / 2 + 1) % 2], n / 2)
                };
                dir.replace("mesh.yaml", &text);
                n += 1;
                next += Duration::from_secs(1);
            }
            (valid, invalid, dir)
        })
    };

    let mut samples = Vec::new();
    for c in clients {
        samples.extend(c.await.expect("a client task"));
    }
    let windows = schedule.await.expect("the schedule");
    let (valid_writes, invalid_writes, _dir) = reloader.await.expect("the reloader");
    // Let the last reload and the last copies settle.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let soaked = started.elapsed();

    let c = client();
    let m = admin(&c, proxy.admin_addr, "/metrics").await.body;
    let rss_after = rss_kib();
    let peak = peak_rss_kib();
    let stop = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), proxy.shutdown())
        .await
        .expect("the proxy shuts down after the soak");
    let shutdown_took = stop.elapsed();

    // Counts.
    let sent = samples.len() as u64;
    let answered = samples
        .iter()
        .filter(|s| !matches!(&s.outcome, Outcome::Unexpected(e) if e.starts_with("transport") || e.starts_with("no answer")))
        .count() as u64;
    let ok = samples.iter().filter(|s| s.outcome == Outcome::Ok).count() as u64;
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
                    .entry(format!("{:?} (at {at:.1} s into a round)", s.outcome))
                    .or_default() += 1;
            }
        }
    }
    let failed_by_design: u64 = by_design.values().sum();
    let failed_otherwise: u64 = otherwise.values().sum();
    let retries = metric(&m, "mesh_retries_total{result=\"attempted\"}");
    let budget_refused = metric(&m, "mesh_retries_total{result=\"budget_exhausted\"}");
    let overflow = metric_sum(&m, "envoy_cluster_upstream_rq_retry_overflow_total{");
    let mirrors_sent = metric(&m, "mesh_mirror_requests_total{result=\"sent\"}");
    let mirrors_dropped = metric(&m, "mesh_mirror_requests_total{result=\"dropped\"}");
    let applied = metric(&m, "mesh_proxy_config_reloads_total{result=\"applied\"}");
    let rejected = metric(&m, "mesh_proxy_config_reloads_total{result=\"rejected\"}");
    let counted = metric_sum(&m, "istio_requests_total{");
    let upstream_calls: u64 = [&ups.v1a, &ups.v1b, &ups.v2a, &ups.v2b]
        .iter()
        .map(|u| u.calls())
        .sum();

    println!(
        "soak: {secs} s ({soaked:.1?} with settling), {CLIENTS} clients, set-up {:.1?}",
        started - setup
    );
    println!(
        "  requests sent                         {sent:>8}  ({:.0}/s)",
        sent as f64 / secs as f64
    );
    println!("  answered                              {answered:>8}");
    println!("    served (200)                        {ok:>8}");
    println!("    failed by design                    {failed_by_design:>8}");
    for (cause, n) in &by_design {
        println!("      {cause:<62} {n:>6}");
    }
    println!("  failed otherwise                      {failed_otherwise:>8}");
    for (what, n) in &otherwise {
        println!("      {what}: {n}");
    }
    println!("  requests counted by the proxy         {counted:>8}  (istio_requests_total)");
    println!("  upstream attempts answered            {upstream_calls:>8}");
    println!(
        "  retries attempted                     {retries:>8}  (mesh_retries_total{{result=\"attempted\"}})"
    );
    println!(
        "  retries over budget                   {overflow:>8}  (envoy_cluster_upstream_rq_retry_overflow_total)"
    );
    println!("  mirrors sent / dropped                {mirrors_sent:>8} / {mirrors_dropped}");
    println!(
        "  reloads applied / rejected            {applied:>8} / {rejected}  (written: {valid_writes} valid, {invalid_writes} invalid)"
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
    // The proxy counted each request once, local replies included.
    assert_eq!(counted, sent, "{m}");
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
    // Each write was seen: applied, or rejected (the initial load is not a reload).
    assert_eq!(applied, valid_writes as u64, "{m}");
    assert_eq!(rejected, invalid_writes as u64, "{m}");
    // Shutdown finishes (bounded by the drain, not hung); not a speed claim.
    assert!(shutdown_took < Duration::from_secs(30), "{shutdown_took:?}");
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        // Generous: the soak's own samples are in there too.
        assert!(
            after.saturating_sub(before) < 256 * 1024,
            "RSS grew from {before} to {after} KiB"
        );
    }
}
