//! The proxy's life: hot reload under continuous traffic (a valid change applied within a
//! second, an invalid one rejected while the old configuration keeps serving, no request
//! failing either way), and graceful shutdown (in-flight requests finish, `/ready` turns
//! 503, new connections are refused).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use http::StatusCode;
use mesh_proxy::Settings;

/// The shop's VirtualService with a v1/v2 split.
fn split(v1: u32, v2: u32) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop, namespace: demo}}
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http:
  - name: split
    route:
    - destination: {{host: shop, subset: v1, port: {{number: 8080}}}}
      weight: {v1}
    - destination: {{host: shop, subset: v2, port: {{number: 8080}}}}
      weight: {v2}
---
"
    )
}

/// One request of the load: when it started and ended, and what it got.
#[derive(Debug)]
struct Sample {
    start: Instant,
    end: Instant,
    result: Result<(StatusCode, String), String>,
}

/// Runs `tasks` clients in a loop against `addr` until `stop` is set (or `limit` passes).
fn load(
    addr: std::net::SocketAddr,
    tasks: usize,
    stop: Arc<AtomicBool>,
    limit: Duration,
) -> Vec<tokio::task::JoinHandle<Vec<Sample>>> {
    (0..tasks)
        .map(|t| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let client = client();
                let deadline = Instant::now() + limit;
                let mut samples = Vec::new();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let start = Instant::now();
                    let r = try_get(
                        &client,
                        addr,
                        "shop.example.com",
                        &format!("/load/{t}/{i}"),
                        &[],
                    )
                    .await;
                    samples.push(Sample {
                        start,
                        end: Instant::now(),
                        result: r.map(|r| (r.status, r.body)),
                    });
                    i += 1;
                }
                samples
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hot_reload_under_load_applies_valid_and_rejects_invalid_changes_without_errors() {
    hot_reload_under_load(0).await;
}

/// The same with connections served by two worker threads of their own (`--workers 2`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_under_load_on_worker_threads() {
    hot_reload_under_load(2).await;
}

async fn hot_reload_under_load(workers: usize) {
    let v1 = Upstream::ok("v1").await;
    let v2 = Upstream::ok("v2").await;
    let endpoints = service_entry(
        "shop",
        "shop.demo.svc.cluster.local",
        &[(&v1, &[("version", "v1")]), (&v2, &[("version", "v2")])],
    );
    let config =
        |v1w: u32, v2w: u32| [GATEWAY, &split(v1w, v2w), SHOP_SUBSETS, &endpoints].concat();
    let dir = TempDir::new(&format!("reload-{workers}"));
    let file = dir.write("mesh.yaml", &config(100, 0));
    let proxy = start(Settings {
        workers,
        ..settings(vec![file])
    })
    .await;
    let admin_client = client();
    let metrics = || async {
        admin(&admin_client, proxy.admin_addr, "/metrics")
            .await
            .body
    };
    let rejected = |m: &str| metric(m, "mesh_proxy_config_reloads_total{result=\"rejected\"}");
    let applied = |m: &str| metric(m, "mesh_proxy_config_reloads_total{result=\"applied\"}");

    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(proxy.addr, 4, stop.clone(), Duration::from_secs(6));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // 1. A valid change: the split flips to v2. Applied within a second.
    let before = metrics().await;
    let written = Instant::now();
    dir.write("mesh.yaml", &config(0, 100));
    let probe = client();
    let flipped = eventually(Duration::from_secs(1), || async {
        let r = try_get(&probe, proxy.addr, "shop.example.com", "/probe", &[]).await;
        r.ok().filter(|r| r.body == "v2").map(|_| Instant::now())
    })
    .await;
    let flipped = flipped.expect("the valid change is applied within a second");
    let applied_after = flipped - written;
    let after_valid = metrics().await;
    assert!(applied(&after_valid) > applied(&before), "{after_valid}");
    let config_json = admin(&admin_client, proxy.admin_addr, "/config").await.body;
    let config_json: serde_json::Value = serde_json::from_str(&config_json).expect("JSON");
    let generation = config_json["generation"].as_u64().expect("a generation");
    assert!(generation >= 2, "{config_json}");
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 2. An invalid change (a schema error: a misspelt field): rejected, the old one serves.
    let rejected_before = rejected(&metrics().await);
    dir.replace(
        "mesh.yaml",
        &config(0, 100).replace("weight: 100", "wieght: 100"),
    );
    let rejected_at = eventually(Duration::from_secs(2), || async {
        (rejected(&metrics().await) > rejected_before).then(Instant::now)
    })
    .await
    .expect("the invalid change is rejected");
    let config_json = admin(&admin_client, proxy.admin_addr, "/config").await.body;
    let config_json: serde_json::Value = serde_json::from_str(&config_json).expect("JSON");
    assert_eq!(
        config_json["generation"].as_u64(),
        Some(generation),
        "the rejected change is not applied"
    );
    // Traffic keeps flowing on the old configuration for a while.
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);

    let mut samples = Vec::new();
    for t in tasks {
        samples.extend(t.await.expect("the load task ends"));
    }
    let failed: Vec<&Sample> = samples
        .iter()
        .filter(|s| !matches!(&s.result, Ok((StatusCode::OK, _))))
        .collect();
    let on = |version: &str, s: &&Sample| matches!(&s.result, Ok((_, b)) if b == version);
    // Requests that started after a v2 answer had been received must all be v2: the swap
    // is atomic and never goes back.
    let first_v2_end = samples
        .iter()
        .filter(|s| on("v2", s))
        .map(|s| s.end)
        .min()
        .expect("some requests went to v2");
    let late_v1: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.start > first_v2_end && on("v1", s))
        .collect();
    let after_rejection = samples
        .iter()
        .filter(|s| s.start > rejected_at)
        .filter(|s| on("v2", s))
        .count();
    let v1_count = samples.iter().filter(|s| on("v1", s)).count();
    let v2_count = samples.iter().filter(|s| on("v2", s)).count();
    println!(
        "hot reload under load: {} requests ({v1_count} v1, {v2_count} v2), {} failed; \
         valid change applied {applied_after:?} after the write; \
         {after_rejection} requests served after the rejection",
        samples.len(),
        failed.len()
    );
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    assert!(late_v1.is_empty(), "v1 after the flip: {}", late_v1.len());
    assert!(
        v1_count > 0 && after_rejection > 0,
        "traffic flowed throughout"
    );
    assert!(samples.len() > 100, "only {} requests", samples.len());
    proxy.shutdown().await;
}

/// A reload that changes only a ServiceEntry endpoint (same subset labels, same policy)
/// sends the next request to the new endpoint: cached cluster state is not reused across a
/// change of backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_changed_endpoints() {
    let old = Upstream::ok("old").await;
    let new = Upstream::ok("new").await;
    let config = |u: &Upstream| {
        [
            GATEWAY,
            &split(100, 0),
            SHOP_SUBSETS,
            &service_entry(
                "shop",
                "shop.demo.svc.cluster.local",
                &[(u, &[("version", "v1")])],
            ),
        ]
        .concat()
    };
    let dir = TempDir::new("endpoints");
    let file = dir.write("mesh.yaml", &config(&old));
    let proxy = start(settings(vec![file])).await;
    let c = client();
    let r = get(&c, proxy.addr, "shop.example.com", "/", &[]).await;
    assert_eq!(r.body, "old");
    // Only the endpoint's port changes; the explicit reload makes the test independent of
    // file-watch timing.
    dir.write("mesh.yaml", &config(&new));
    proxy.reload().expect("the new configuration is valid");
    let r = get(&c, proxy.addr, "shop.example.com", "/", &[]).await;
    assert_eq!(r.body, "new", "the new endpoint serves after the reload");
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests_then_refuses_connections() {
    graceful_shutdown(0).await;
}

/// The same with connections served by two worker threads of their own (`--workers 2`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_on_worker_threads() {
    graceful_shutdown(2).await;
}

async fn graceful_shutdown(workers: usize) {
    let slow = Upstream::with("v1", |_, s| {
        let delay = if s.path.starts_with("/slow") {
            Duration::from_millis(300)
        } else {
            Duration::ZERO
        };
        (StatusCode::OK, delay)
    })
    .await;
    let yaml = [
        GATEWAY,
        &split(100, 0),
        SHOP_SUBSETS,
        &service_entry(
            "shop",
            "shop.demo.svc.cluster.local",
            &[(&slow, &[("version", "v1")])],
        ),
    ]
    .concat();
    let dir = TempDir::new(&format!("shutdown-{workers}"));
    let file = dir.write("mesh.yaml", &yaml);
    let proxy = start(Settings {
        workers,
        ..settings(vec![file])
    })
    .await;
    let (addr, admin_addr) = (proxy.addr, proxy.admin_addr);
    let c = client();
    let r = admin(&c, admin_addr, "/ready").await;
    assert_eq!(r.status, StatusCode::OK);

    let in_flight = {
        let c = c.clone();
        tokio::spawn(async move { try_get(&c, addr, "shop.example.com", "/slow", &[]).await })
    };
    // Shut down once the request has reached the upstream.
    eventually(PATIENCE, || async { (slow.calls() == 1).then_some(()) })
        .await
        .expect("the slow request reaches the upstream");
    let asked = Instant::now();
    let shutdown = tokio::spawn(proxy.shutdown());

    // While draining: not ready, and the listener is closed.
    let admin_client = client();
    let ready = eventually(Duration::from_millis(250), || async {
        let r = try_get(
            &admin_client,
            admin_addr.expect("admin"),
            "localhost",
            "/ready",
            &[],
        )
        .await
        .ok()?;
        (r.status == StatusCode::SERVICE_UNAVAILABLE).then_some(r)
    })
    .await;
    let ready = ready.expect("/ready answers 503 while draining");
    assert_eq!(ready.body, "draining");
    let refused = eventually(Duration::from_millis(250), || async {
        tokio::net::TcpStream::connect(addr).await.err()
    })
    .await;
    assert!(
        refused.is_some(),
        "new connections are refused while draining"
    );

    let r = in_flight
        .await
        .expect("the request task ends")
        .expect("the in-flight request completes");
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "v1"));
    tokio::time::timeout(PATIENCE, shutdown)
        .await
        .expect("shutdown ends once the request is done")
        .expect("shutdown task");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "new connections are refused after shutdown"
    );
    assert!(
        tokio::net::TcpStream::connect(admin_addr.expect("admin"))
            .await
            .is_err(),
        "the admin server is stopped after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_files_next_to_the_configuration_do_not_reload_it() {
    let v1 = Upstream::ok("v1").await;
    let config = |v1w: u32, v2w: u32| {
        [
            GATEWAY,
            &split(v1w, v2w),
            SHOP_SUBSETS,
            &service_entry(
                "shop",
                "shop.demo.svc.cluster.local",
                &[(&v1, &[("version", "v1")]), (&v1, &[("version", "v2")])],
            ),
        ]
        .concat()
    };
    let dir = TempDir::new("unrelated");
    let file = dir.write("mesh.yaml", &config(100, 0));
    let proxy = start(settings(vec![file])).await;
    let c = client();
    let generation = || async {
        let m = admin(&c, proxy.admin_addr, "/metrics").await.body;
        metric(&m, "mesh_proxy_config_generation ")
    };
    // A log written beside the configuration, and the configuration rewritten unchanged:
    // nothing to reload.
    for i in 0..5 {
        dir.write("proxy.log", &format!("line {i}\n"));
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    dir.write("mesh.yaml", &config(100, 0));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(generation().await, 1, "nothing was reloaded");
    // A real change still is.
    dir.write("mesh.yaml", &config(50, 50));
    let reloaded = eventually(Duration::from_secs(2), || async {
        (generation().await == 2).then_some(())
    })
    .await;
    assert!(reloaded.is_some(), "the change is applied");
    proxy.shutdown().await;
}
