//! Mirroring (SPEC 2.6): fire-and-forget copies that never slow the primary, keep the Host
//! (Istio 1.28+) or get `-shadow` (option), follow their percentage, and are dropped and
//! counted when the bounded queue is full.

mod common;

use std::time::Duration;

use common::*;
use http::StatusCode;
use mesh_tower::{Backends, MeshHandle, MeshLayer, Options};
use tokio::time::Instant;

const DR: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: service2}
spec:
  host: service2
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
"#;

fn setup(
    mirror: &str,
    v1: &Backend,
    v2: &Backend,
    v3: &Backend,
    options: Options,
) -> (Mesh, MeshHandle) {
    let yaml = format!(
        r#"{DR}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: service2}}
spec:
  hosts: [service2]
  http:
  - route:
    - destination: {{host: service2, subset: v1}}
{mirror}
"#
    );
    let host = fqdn("service2");
    let backends = Backends::new()
        .with(&host, v1.endpoint("service2-v1", [("version", "v1")]))
        .with(&host, v2.endpoint("service2-v2", [("version", "v2")]))
        .with(&host, v3.endpoint("service2-v3", [("version", "v3")]));
    let layer = MeshLayer::with_options(
        table(&yaml, sidecar()),
        backends,
        Options {
            seed: Some(5),
            ..options
        },
    );
    let handle = layer.handle();
    (mesh(layer), handle)
}

/// Waits (bounded) until `backend` has seen `n` calls; returns the count.
async fn arrivals(backend: &Backend, n: usize) -> usize {
    for _ in 0..1000 {
        if backend.calls() >= n {
            break;
        }
        tokio::task::yield_now().await;
    }
    backend.calls()
}

/// A mirror that never answers does not change the primary's latency: with the primary
/// answering in 10 ms, every request takes exactly 10 ms while the copies hang.
#[tokio::test(start_paused = true)]
async fn a_hung_mirror_does_not_delay_the_primary() {
    let v1 = Backend::with("v1", |_, _| {
        Outcome::After(Duration::from_millis(10), StatusCode::OK, "v1".into())
    });
    let v2 = Backend::with("v2", |_, _| Outcome::Hang);
    let (svc, handle) = setup(
        "    mirror: {host: service2, subset: v2}",
        &v1,
        &v2,
        &Backend::ok("v3"),
        Options::default(),
    );
    for _ in 0..20 {
        let started = Instant::now();
        let r = send(&svc, get("http://service2/")).await;
        assert_eq!(r.body, "v1");
        assert_eq!(started.elapsed(), Duration::from_millis(10));
    }
    assert_eq!(arrivals(&v2, 20).await, 20, "the copies arrived and hang");
    assert_eq!(
        handle
            .metrics()
            .outcome(mesh_tower::metrics::Event::MirrorSent),
        20
    );
}

/// Every request is copied to the mirror (no percentage = 100%) with its method, path, body
/// and Host kept (Istio 1.28+), marked `mirror` in its `RouteInfo`; the primary answers.
#[tokio::test]
async fn mirrors_arrive_with_the_host_kept() {
    let (v1, v2) = (Backend::ok("v1"), Backend::ok("v2"));
    let (svc, _) = setup(
        "    mirror: {host: service2, subset: v2}",
        &v1,
        &v2,
        &Backend::ok("v3"),
        Options::default(),
    );
    for i in 0..10 {
        let req = http::Request::post(format!("http://service2:8080/orders/{i}"))
            .body(mesh_tower::body::full(format!("order {i}")))
            .expect("request");
        assert_eq!(send(&svc, req).await.body, "v1");
    }
    assert_eq!(arrivals(&v2, 10).await, 10);
    let mut copies = v2.seen();
    copies.sort_by_key(|s| s.uri.to_string());
    for (i, s) in copies.iter().enumerate() {
        assert_eq!(s.method, http::Method::POST);
        assert_eq!(s.uri.path(), format!("/orders/{i}"));
        assert_eq!(s.body, format!("order {i}").as_bytes());
        assert_eq!(s.header("host"), "service2:8080");
        // A copy of the first attempt (Envoy 1.40 sends its mirror `1` too).
        assert_eq!(s.header("x-envoy-attempt-count"), "1");
        let info = s.info.as_ref().expect("route info");
        assert!(info.mirror);
        assert_eq!(&*info.subset, "v2");
    }
    assert!(
        v1.seen()
            .iter()
            .all(|s| !s.info.as_ref().expect("info").mirror)
    );
}

/// With `Options.shadow_host_suffix` (Istio 1.27 and earlier), `-shadow` is appended to the
/// host part of the Host, before any port.
#[tokio::test]
async fn shadow_host_suffix_is_appended_before_the_port() {
    let v2 = Backend::ok("v2");
    let (svc, _) = setup(
        "    mirror: {host: service2, subset: v2}",
        &Backend::ok("v1"),
        &v2,
        &Backend::ok("v3"),
        Options {
            shadow_host_suffix: true,
            ..Options::default()
        },
    );
    send(&svc, get("http://service2:8080/")).await;
    send(&svc, get("http://service2/")).await;
    assert_eq!(arrivals(&v2, 2).await, 2);
    let mut hosts: Vec<String> = v2
        .seen()
        .iter()
        .map(|s| s.header("host").to_owned())
        .collect();
    hosts.sort();
    assert_eq!(hosts, ["service2-shadow", "service2-shadow:8080"]);
}

/// `mirrorPercentage` samples each request independently: 25% of 2000 requests lands within
/// 3 points of 25%. Several `mirrors` are decided independently, each with its percentage.
#[tokio::test(start_paused = true)]
async fn mirror_percentages_converge() {
    let (v2, v3) = (Backend::ok("v2"), Backend::ok("v3"));
    let (svc, handle) = setup(
        r#"    mirrors:
    - destination: {host: service2, subset: v2}
      percentage: {value: 25}
    - destination: {host: service2, subset: v3}"#,
        &Backend::ok("v1"),
        &v2,
        &v3,
        Options::default(),
    );
    const N: usize = 2000;
    for _ in 0..N {
        send(&svc, get("http://service2/")).await;
        // Let the copies run: in-process backends never yield, and copies queued past
        // `mirror_queue` would be dropped.
        tokio::task::yield_now().await;
    }
    let to_v3 = arrivals(&v3, N).await;
    let to_v2 = arrivals(&v2, N / 4).await;
    let share = to_v2 as f64 / N as f64 * 100.0;
    eprintln!("mirror 25% over {N}: {to_v2} copies ({share:.1}%); 100% mirror: {to_v3}");
    assert!((share - 25.0).abs() < 3.0, "{share}");
    assert_eq!(to_v3, N);
    assert_eq!(
        handle
            .metrics()
            .outcome(mesh_tower::metrics::Event::MirrorDropped),
        0
    );
    assert_eq!(
        handle
            .metrics()
            .outcome(mesh_tower::metrics::Event::MirrorSent) as usize,
        to_v2 + to_v3
    );
}

/// The mirror queue is bounded (`Options.mirror_queue`): with 4 copies hung in flight, later
/// copies are dropped and counted (`mesh_mirror_requests{result="dropped"}`), and the
/// primary is served as usual.
#[tokio::test(start_paused = true)]
async fn a_full_mirror_queue_drops_copies_and_counts_them() {
    let v2 = Backend::with("v2", |_, _| Outcome::Hang);
    let (svc, handle) = setup(
        "    mirror: {host: service2, subset: v2}",
        &Backend::ok("v1"),
        &v2,
        &Backend::ok("v3"),
        Options {
            mirror_queue: 4,
            ..Options::default()
        },
    );
    for _ in 0..20 {
        assert_eq!(send(&svc, get("http://service2/")).await.body, "v1");
    }
    let m = handle.metrics();
    assert_eq!(m.outcome(mesh_tower::metrics::Event::MirrorSent), 4);
    assert_eq!(m.outcome(mesh_tower::metrics::Event::MirrorDropped), 16);
    assert_eq!(arrivals(&v2, 4).await, 4);
    assert!(
        m.encode()
            .contains("mesh_mirror_requests_total{result=\"dropped\"} 16"),
        "{}",
        m.encode()
    );
}

/// A mirror's failure never reaches the client, and copies are not retried.
#[tokio::test(start_paused = true)]
async fn mirror_failures_are_ignored_and_not_retried() {
    let v2 = Backend::with("v2", |_, _| {
        Outcome::Status(StatusCode::SERVICE_UNAVAILABLE, String::new())
    });
    let (svc, _) = setup(
        "    mirror: {host: service2, subset: v2}\n    retries: {attempts: 3, retryOn: 5xx}",
        &Backend::ok("v1"),
        &v2,
        &Backend::ok("v3"),
        Options::default(),
    );
    for _ in 0..5 {
        let r = send(&svc, get("http://service2/")).await;
        assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "v1"));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(v2.calls(), 5);
}
