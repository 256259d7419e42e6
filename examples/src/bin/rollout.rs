//! Automated canaries (`mesh-route.dev/rollout`) in the layer, printed as a timeline: a
//! healthy v2 promoted step by step, then a v2 that starts failing once it gets 30 % and is
//! rolled back within one interval. Intervals of 200 ms; in-process versions; ends by itself
//! (`cargo run -p examples --bin rollout`).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mesh_route::rollout::State;
use mesh_route::{CompileOptions, Identity, RouteTable};
use mesh_tower::{Backends, Endpoint, MeshLayer, body};
use tower::{ServiceBuilder, ServiceExt, service_fn};

const YAML: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
  namespace: demo
  annotations:
    mesh-route.dev/rollout: |
      stable: {host: shop, subset: v1}
      canary: {host: shop, subset: v2}
      stepWeight: 10
      interval: 200ms
      minRequests: 10
      successRate: 99
      maxLatency: 100ms
spec:
  hosts: [shop]
  http:
  - name: split
    route:
    - destination: {host: shop, subset: v1, port: {number: 80}}
      weight: 100
    - destination: {host: shop, subset: v2, port: {number: 80}}
      weight: 0
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop, namespace: demo}
spec:
  host: shop
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
"#;

/// Runs one rollout with a v2 that answers 500 once its weight reaches `fails_at` (never
/// with `None`), printing each step, until it stops (or 10 s pass).
async fn run(title: &str, fails_at: Option<u32>) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n{title}");
    let resources = mesh_model::load_str(YAML)?;
    let table = RouteTable::compile(
        &resources,
        &Identity::sidecar("demo"),
        &CompileOptions::default(),
    )?;
    let weight = Arc::new(AtomicU32::new(0));
    let v1 =
        service_fn(|_req| async { Ok::<_, Infallible>(http::Response::new(body::full("v1"))) });
    let w = weight.clone();
    let v2 = service_fn(move |_req| {
        let failing = fails_at.is_some_and(|at| w.load(Ordering::Relaxed) >= at);
        async move {
            let mut r = http::Response::new(body::full("v2"));
            if failing {
                *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            }
            Ok::<_, Infallible>(r)
        }
    });
    let host = "shop.demo.svc.cluster.local";
    let backends = Backends::new()
        .with(host, Endpoint::new("shop-v1", [("version", "v1")], v1))
        .with(host, Endpoint::new("shop-v2", [("version", "v2")], v2));
    let layer = MeshLayer::new(table, backends);
    let handle = layer.handle();
    let started = Instant::now();
    let w = weight.clone();
    handle.on_rollout(move |e| {
        w.store(e.status.weight, Ordering::Relaxed);
        println!(
            "{:>6} ms  v2 {:>3} %  v1 {:>3} %  {:<19}  canary: {:>3} requests, {:>3} failed, p99 {:>5} µs  {}",
            started.elapsed().as_millis(),
            e.status.weight,
            e.status.stable_weight,
            e.status.state.as_str(),
            e.stats.requests,
            e.stats.failures,
            e.stats
                .p99
                .map_or_else(|| "-".into(), |d| (d.as_nanos() / 1000).to_string()),
            e.verdict,
        );
    });
    let fallback =
        service_fn(|_req| async { Ok::<_, Infallible>(http::Response::new(body::empty())) });
    let svc = ServiceBuilder::new().layer(layer).service(fallback);
    let deadline = started + Duration::from_secs(10);
    while Instant::now() < deadline {
        let state = handle.rollouts().first().map(|r| r.state);
        if state.is_some_and(State::is_final) {
            break;
        }
        // Bursts of 5 requests every 5 ms: several hundred a second.
        for _ in 0..5 {
            let req = http::Request::get("http://shop/").body(body::empty())?;
            svc.clone().oneshot(req).await?;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let last = handle.rollouts();
    if let Some(r) = last.first() {
        println!(
            "{:>6} ms  final: {} with v2 at {} %",
            started.elapsed().as_millis(),
            r.state,
            r.weight
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    run("A healthy canary, promoted step by step:", None).await?;
    run(
        "A canary that starts failing at 30 %, rolled back within one interval:",
        Some(30),
    )
    .await
}
