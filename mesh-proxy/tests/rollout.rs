//! Automated canaries through the proxy, over real sockets on 127.0.0.1: a VirtualService
//! with the `mesh-route.dev/rollout` annotation (200 ms intervals), real upstreams for v1
//! and v2, steady client traffic; the rollout's progress read from `/metrics` and
//! `/config`. The timings are printed (`--nocapture`), never asserted.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use http::StatusCode;

fn routes(canary_weight: u32) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
  namespace: demo
  annotations:
    mesh-route.dev/rollout: |
      stable: {{host: shop, subset: v1}}
      canary: {{host: shop, subset: v2}}
      stepWeight: 25
      interval: 200ms
      minRequests: 5
      successRate: 95
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http:
  - name: split
    route:
    - destination: {{host: shop, subset: v1, port: {{number: 8080}}}}
      weight: {}
    - destination: {{host: shop, subset: v2, port: {{number: 8080}}}}
      weight: {canary_weight}
---
",
        100 - canary_weight
    )
}

const CANARY: &str = "outbound|8080|v2|shop.demo.svc.cluster.local";

/// The proxy with the rollout, a healthy v1 and a v2 answering `v2_status`.
async fn proxy(
    canary_weight: u32,
    v2_status: StatusCode,
) -> (mesh_proxy::Running, TempDir, Upstream, Upstream) {
    let v1 = Upstream::ok("v1").await;
    let v2 = Upstream::with("v2", move |_, _| (v2_status, Duration::ZERO)).await;
    let yaml = [
        GATEWAY.to_owned(),
        routes(canary_weight),
        SHOP_SUBSETS.to_owned(),
        service_entry(
            "shop",
            "shop.demo.svc.cluster.local",
            &[(&v1, &[("version", "v1")]), (&v2, &[("version", "v2")])],
        ),
    ]
    .concat();
    let dir = TempDir::new("rollout");
    let file = dir.write("mesh.yaml", &yaml);
    let proxy = start(settings(vec![file])).await;
    (proxy, dir, v1, v2)
}

/// Four clients sending to the proxy until `stop` is set.
fn traffic(addr: std::net::SocketAddr, stop: Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<()>> {
    (0..4)
        .map(|_| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let c = client();
                while !stop.load(Ordering::Relaxed) {
                    let _ = try_get(&c, addr, "shop.example.com", "/", &[]).await;
                }
            })
        })
        .collect()
}

/// Polls `/metrics` every 20 ms (at most 10 s) and records when the canary's weight
/// changes, until `done` says so; the weights seen with their times since the start.
async fn watch(
    running: &mesh_proxy::Running,
    done: impl Fn(&str) -> bool,
) -> (Vec<(u64, Duration)>, String) {
    let c = client();
    let started = Instant::now();
    let mut seen: Vec<(u64, Duration)> = Vec::new();
    let prefix = format!(
        "mesh_rollout_weight{{virtual_service=\"demo/shop\",rule=\"split\",destination=\"{CANARY}\"}}"
    );
    loop {
        let text = admin_text(&c, running.admin_addr).await;
        let w = metric(&text, &prefix);
        if seen.last().is_none_or(|(last, _)| *last != w) {
            seen.push((w, started.elapsed()));
        }
        if done(&text) || started.elapsed() > Duration::from_secs(10) {
            return (seen, text);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn admin_text(c: &HttpClient, addr: Option<std::net::SocketAddr>) -> String {
    admin(c, addr, "/metrics").await.body
}

const STATE: &str = "mesh_rollout_state{virtual_service=\"demo/shop\",rule=\"split\"}";

/// A healthy canary written at 0 % steps by 25 every 200 ms interval and reaches 100 %
/// (promoted, state 1), as `/metrics` and `/config` show; then every request reaches v2.
#[tokio::test]
async fn a_healthy_canary_reaches_100_percent() {
    let (running, _dir, _v1, v2) = proxy(0, StatusCode::OK).await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients = traffic(running.addr, stop.clone());
    let (seen, text) = watch(&running, |t| {
        t.lines().any(|l| l.starts_with(STATE) && l.ends_with(" 1"))
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    eprintln!("healthy canary weights over time: {seen:?}");
    let weights: Vec<u64> = seen.iter().map(|(w, _)| *w).collect();
    // The poll can miss a weight on a loaded machine; the transitions counter cannot.
    assert_eq!(weights.first(), Some(&0), "{text}");
    assert_eq!(weights.last(), Some(&100), "{text}");
    assert!(
        weights.windows(2).all(|w| w[0] < w[1] && w[1] % 25 == 0),
        "{weights:?}"
    );
    assert_eq!(metric(&text, STATE), 1, "{text}");
    assert_eq!(
        metric(
            &text,
            "mesh_rollout_transitions_total{virtual_service=\"demo/shop\",rule=\"split\"}"
        ),
        4,
        "{text}"
    );
    assert!(v2.calls() > 0);
    let c = client();
    let config = admin(&c, running.admin_addr, "/config").await;
    let json: serde_json::Value = serde_json::from_str(&config.body).expect("JSON");
    let r = &json["rollouts"][0];
    assert_eq!(r["state"], "promoted", "{json}");
    assert_eq!(r["canary"]["weight"], 100);
    assert_eq!(r["canary"]["destination"], CANARY);
    assert_eq!(r["stable"]["weight"], 0);
    for _ in 0..20 {
        let reply = get(&c, running.addr, "shop.example.com", "/", &[]).await;
        assert_eq!(reply.body, "v2");
    }
    running.shutdown().await;
}

/// A canary written at 25 % whose every answer is a 500 is rolled back at the end of its
/// first interval: weight 0, state 2 in `/metrics`, `rolled_back` in `/config`, and no
/// request reaches v2 after.
#[tokio::test]
async fn a_failing_canary_is_rolled_back() {
    let (running, _dir, _v1, v2) = proxy(25, StatusCode::INTERNAL_SERVER_ERROR).await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients = traffic(running.addr, stop.clone());
    let (seen, text) = watch(&running, |t| {
        t.lines().any(|l| l.starts_with(STATE) && l.ends_with(" 2"))
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    eprintln!("failing canary weights over time: {seen:?}");
    let weights: Vec<u64> = seen.iter().map(|(w, _)| *w).collect();
    assert_eq!(weights, [25, 0], "{text}");
    assert_eq!(metric(&text, STATE), 2, "{text}");
    let c = client();
    let config = admin(&c, running.admin_addr, "/config").await;
    let json: serde_json::Value = serde_json::from_str(&config.body).expect("JSON");
    assert_eq!(json["rollouts"][0]["state"], "rolled_back", "{json}");
    let verdict = json["rollouts"][0]["verdict"].as_str().unwrap_or_default();
    assert!(verdict.contains("success rate"), "{json}");
    let before = v2.calls();
    for _ in 0..20 {
        let reply = get(&c, running.addr, "shop.example.com", "/", &[]).await;
        assert_eq!(reply.body, "v1");
    }
    assert_eq!(v2.calls(), before);
    running.shutdown().await;
}

fn plain_routes(subset: &str) -> String {
    format!(
        "{GATEWAY}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop, namespace: demo}}
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http:
  - name: split
    route:
    - destination: {{host: shop, subset: {subset}, port: {{number: 8080}}}}
---
{SHOP_SUBSETS}"
    )
}

async fn admin_send(
    c: &HttpClient,
    running: &mesh_proxy::Running,
    method: http::Method,
    path: &str,
    body: &str,
) -> Reply {
    let addr = running.admin_addr.expect("admin");
    let req = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_owned(),
        )))
        .expect("request");
    send(c, req).await.expect("the admin answers")
}

/// A configuration candidate posted to the admin port is decided beside the serving table
/// on live requests: the serving table answers, `/candidate` and
/// `mesh_config_candidate_diff_total` count the differences per rule; an invalid
/// candidate is refused with its findings (400); promotion serves the candidate.
#[tokio::test]
async fn a_candidate_is_compared_on_live_requests_then_promoted() {
    let v1 = Upstream::ok("v1").await;
    let v2 = Upstream::ok("v2").await;
    let entries = service_entry(
        "shop",
        "shop.demo.svc.cluster.local",
        &[(&v1, &[("version", "v1")]), (&v2, &[("version", "v2")])],
    );
    let dir = TempDir::new("candidate");
    let file = dir.write("mesh.yaml", &format!("{}{entries}", plain_routes("v1")));
    let running = start(settings(vec![file])).await;
    let c = client();
    let refused = admin_send(&c, &running, http::Method::POST, "/candidate", "kind: [").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    let set = admin_send(
        &c,
        &running,
        http::Method::POST,
        "/candidate",
        &format!("{}{entries}", plain_routes("v2")),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    for _ in 0..10 {
        let r = get(&c, running.addr, "shop.example.com", "/", &[]).await;
        assert_eq!(r.body, "v1", "the serving table answers");
    }
    let report = admin(&c, running.admin_addr, "/candidate").await;
    let json: serde_json::Value = serde_json::from_str(&report.body).expect("JSON");
    assert_eq!(json["compared"], 10, "{json}");
    assert_eq!(json["differing"], 10, "{json}");
    assert_eq!(
        json["samples"][0]["differences"][0], "destination",
        "{json}"
    );
    let text = admin_text(&c, running.admin_addr).await;
    assert_eq!(
        metric(
            &text,
            "mesh_config_candidate_diff_total{virtual_service=\"demo/shop\",rule=\"split\",field=\"destination\"}"
        ),
        10,
        "{text}"
    );
    let promoted = admin_send(&c, &running, http::Method::POST, "/candidate/promote", "").await;
    assert_eq!(promoted.status, StatusCode::OK);
    let r = get(&c, running.addr, "shop.example.com", "/", &[]).await;
    assert_eq!(r.body, "v2", "the candidate serves once promoted");
    let none = admin_send(&c, &running, http::Method::POST, "/candidate/promote", "").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    running.shutdown().await;
}
