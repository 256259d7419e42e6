//! DestinationRule traffic policy in-process: circuit breaking (`connectionPool`) and
//! outlier detection, as Envoy executes them for Istio.

mod common;

use std::time::Duration;

use common::{Backend, Outcome, fqdn, get, mesh, send, sidecar, table};
use http::StatusCode;
use mesh_tower::{Backends, MeshLayer, Options};

fn config(policy: &str) -> String {
    format!(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: httpbin, namespace: default}}
spec:
  hosts: [httpbin]
  http:
  - route:
    - destination: {{host: httpbin, port: {{number: 8000}}}}
    retries: {{attempts: 0}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: httpbin, namespace: default}}
spec:
  host: httpbin
  trafficPolicy:
{policy}
"#
    )
}

const CLUSTER: &str = "outbound|8000||httpbin.default.svc.cluster.local";

/// Istio's circuit-breaking task, in-process: with one connection and one pending request
/// allowed, three concurrent callers of 30 requests each mostly overflow: the extra requests
/// fail fast with 503 and flag `UO`, and the overflows are counted.
#[tokio::test(start_paused = true)]
async fn istio_circuit_breaking_task() {
    let yaml = config(
        "    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 3m
      maxEjectionPercent: 100",
    );
    let backend = Backend::with("httpbin", |_, _| {
        Outcome::After(Duration::from_millis(20), StatusCode::OK, "ok".into())
    });
    let layer = MeshLayer::with_options(
        table(&yaml, sidecar()),
        Backends::new().with(
            &fqdn("httpbin"),
            backend.endpoint("httpbin-0", [("app", "httpbin")]),
        ),
        Options {
            seed: Some(1),
            ..Options::default()
        },
    );
    let handle = layer.handle();
    let svc = mesh(layer);
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let svc = svc.clone();
        callers.spawn(async move {
            let mut codes = Vec::new();
            for _ in 0..30 {
                codes.push(send(&svc, get("http://httpbin:8000/get")).await);
            }
            codes
        });
    }
    let (mut ok, mut overflow, mut other) = (0, 0, 0);
    while let Some(r) = callers.join_next().await {
        for reply in r.expect("caller") {
            match reply.status {
                StatusCode::OK => ok += 1,
                StatusCode::SERVICE_UNAVAILABLE
                    if reply.body.contains("reset reason: overflow") =>
                {
                    overflow += 1
                }
                _ => other += 1,
            }
        }
    }
    let metrics = handle.metrics();
    let pending_overflow =
        metrics.cluster(mesh_tower::metrics::ClusterMetric::PendingOverflow, CLUSTER);
    println!(
        "circuit breaking: 3 callers x 30 requests: 200 = {ok}, 503 UO = {overflow}, other = {other}; pending overflows counted = {pending_overflow}"
    );
    assert_eq!(ok + overflow + other, 90);
    assert_eq!(other, 0);
    // Two requests can be served or wait at any time; the third caller overflows.
    assert!(overflow >= 25, "{overflow} overflows");
    assert!(ok >= 30, "{ok} served");
    assert_eq!(pending_overflow, overflow as i64);
    let text = metrics.encode();
    assert!(text.contains("response_flags=\"UO\""), "{text}");
    assert!(text.contains(&format!(
        "envoy_cluster_upstream_rq_pending_overflow_total{{cluster_name=\"{CLUSTER}\"}} {overflow}"
    )));
}

/// `http2MaxRequests` bounds the requests in flight; the next one fails fast with `UO`.
#[tokio::test(start_paused = true)]
async fn max_requests_overflow_fails_fast() {
    let yaml = config("    connectionPool:\n      http: {http2MaxRequests: 2}");
    let backend = Backend::with("httpbin", |_, _| {
        Outcome::After(Duration::from_secs(1), StatusCode::OK, "ok".into())
    });
    let layer = MeshLayer::new(
        table(&yaml, sidecar()),
        Backends::new().with(&fqdn("httpbin"), backend.endpoint("h0", [("app", "h")])),
    );
    let handle = layer.handle();
    let svc = mesh(layer);
    let a = tokio::spawn(send(&svc, get("http://httpbin:8000/")));
    let b = tokio::spawn(send(&svc, get("http://httpbin:8000/")));
    tokio::time::sleep(Duration::from_millis(10)).await;
    let started = tokio::time::Instant::now();
    let third = send(&svc, get("http://httpbin:8000/")).await;
    assert_eq!(third.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "the overflow does not wait"
    );
    assert_eq!(a.await.expect("a").status, StatusCode::OK);
    assert_eq!(b.await.expect("b").status, StatusCode::OK);
    assert_eq!(
        handle
            .metrics()
            .cluster(mesh_tower::metrics::ClusterMetric::RqOverflow, CLUSTER),
        1
    );
}

/// `http.maxRetries` bounds retries in flight when no retry budget is set.
#[tokio::test(start_paused = true)]
async fn max_retries_bounds_concurrent_retries() {
    let yaml = config("    connectionPool:\n      http: {maxRetries: 1}").replace(
        "retries: {attempts: 0}",
        "retries: {attempts: 3, retryOn: 5xx}",
    );
    let backend = Backend::with("httpbin", |_, _| {
        Outcome::Status(StatusCode::SERVICE_UNAVAILABLE, "down".into())
    });
    let layer = MeshLayer::new(
        table(&yaml, sidecar()),
        Backends::new().with(&fqdn("httpbin"), backend.endpoint("h0", [("app", "h")])),
    );
    let handle = layer.handle();
    let svc = mesh(layer);
    let mut all = tokio::task::JoinSet::new();
    for _ in 0..20 {
        all.spawn(send(&svc, get("http://httpbin:8000/")));
    }
    while all.join_next().await.is_some() {}
    let overflowed = handle
        .metrics()
        .cluster(mesh_tower::metrics::ClusterMetric::RetryOverflow, CLUSTER);
    println!(
        "maxRetries 1, 20 concurrent failing requests: backend calls {}, retry overflows {overflowed}",
        backend.calls()
    );
    assert!(overflowed > 0);
    assert!(backend.calls() < 20 * 4, "{} calls", backend.calls());
}

fn outlier_config(max_ejection_percent: u32) -> String {
    config(&format!(
        "    loadBalancer: {{simple: ROUND_ROBIN}}
    outlierDetection:
      consecutive5xxErrors: 3
      interval: 1s
      baseEjectionTime: 30s
      maxEjectionPercent: {max_ejection_percent}"
    ))
}

fn three(bad: usize) -> (Vec<Backend>, Backends) {
    let backends: Vec<Backend> = (0..3)
        .map(|i| {
            if i < bad {
                Backend::with(&format!("bad{i}"), |_, _| {
                    Outcome::Status(StatusCode::INTERNAL_SERVER_ERROR, "boom".into())
                })
            } else {
                Backend::ok(&format!("good{i}"))
            }
        })
        .collect();
    let mut registry = Backends::new();
    for (i, b) in backends.iter().enumerate() {
        registry.add(
            &fqdn("httpbin"),
            b.endpoint(&format!("ep{i}"), [("app", "httpbin")]),
        );
    }
    (backends, registry)
}

/// One of three endpoints answers 500: after `consecutive5xxErrors` it is ejected and the
/// traffic flows to the other two; after `baseEjectionTime` it is back; a second ejection
/// lasts twice as long.
#[tokio::test(start_paused = true)]
async fn failing_endpoint_is_ejected_and_returns() {
    let (backends, registry) = three(1);
    let layer = MeshLayer::new(table(&outlier_config(100), sidecar()), registry);
    let handle = layer.handle();
    let svc = mesh(layer);
    for _ in 0..9 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert_eq!(
        backends[0].calls(),
        3,
        "ejected after three consecutive 5xx"
    );
    assert_eq!(
        handle
            .metrics()
            .cluster(mesh_tower::metrics::ClusterMetric::Ejected, CLUSTER),
        1
    );
    for _ in 0..30 {
        let r = send(&svc, get("http://httpbin:8000/")).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(backends[0].calls(), 3, "no traffic while ejected");
    assert_eq!(backends[1].calls() + backends[2].calls(), 36);
    // Back after baseEjectionTime.
    tokio::time::advance(Duration::from_secs(31)).await;
    for _ in 0..9 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert_eq!(
        backends[0].calls(),
        6,
        "back in rotation, and ejected again after 3 more"
    );
    assert_eq!(
        handle
            .metrics()
            .cluster(mesh_tower::metrics::ClusterMetric::Ejections, CLUSTER),
        2
    );
    // The second ejection lasts 2 x baseEjectionTime.
    tokio::time::advance(Duration::from_secs(31)).await;
    for _ in 0..6 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert_eq!(
        backends[0].calls(),
        6,
        "still ejected after 31 s of a 60 s ejection"
    );
    tokio::time::advance(Duration::from_secs(30)).await;
    for _ in 0..3 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert!(backends[0].calls() > 6, "back after 60 s");
}

/// `maxEjectionPercent` caps ejections: with two of three endpoints failing and 30%, only
/// one is ejected.
#[tokio::test(start_paused = true)]
async fn max_ejection_percent_is_honoured() {
    let (backends, registry) = three(2);
    let layer = MeshLayer::new(table(&outlier_config(30), sidecar()), registry);
    let handle = layer.handle();
    let svc = mesh(layer);
    for _ in 0..30 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert_eq!(
        handle
            .metrics()
            .cluster(mesh_tower::metrics::ClusterMetric::Ejected, CLUSTER),
        1
    );
    let bad_calls = backends[0].calls() + backends[1].calls();
    assert!(
        bad_calls > 6,
        "the second bad endpoint keeps getting traffic: {bad_calls}"
    );
}

/// Without an `outlierDetection` block nothing is ejected.
#[tokio::test(start_paused = true)]
async fn no_outlier_detection_no_ejection() {
    let (backends, registry) = three(1);
    let yaml = config("    loadBalancer: {simple: ROUND_ROBIN}");
    let svc = mesh(MeshLayer::new(table(&yaml, sidecar()), registry));
    for _ in 0..30 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert_eq!(backends[0].calls(), 10);
}

/// Ejections and limits belong to the destination: they survive a swap of the route table
/// and of the backends when the DestinationRule did not change, and reset when it did.
#[tokio::test(start_paused = true)]
async fn state_survives_a_swap_when_the_rule_is_unchanged() {
    let (backends, registry) = three(1);
    let layer = MeshLayer::new(table(&outlier_config(100), sidecar()), registry.clone());
    let handle = layer.handle();
    let svc = mesh(layer);
    for _ in 0..9 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert_eq!(backends[0].calls(), 3);
    // The same configuration, compiled again, and the same endpoints registered again.
    handle.swap_table(table(&outlier_config(100), sidecar()));
    handle.swap_backends(registry.clone());
    for _ in 0..12 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert_eq!(backends[0].calls(), 3, "still ejected after the swap");
    // A changed DestinationRule starts afresh.
    handle.swap_table(table(&outlier_config(99), sidecar()));
    for _ in 0..3 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert!(backends[0].calls() > 3, "a new policy has no ejections");
}

/// Below `minHealthPercent` healthy endpoints, ejection is ignored (panic mode).
#[tokio::test(start_paused = true)]
async fn panic_threshold_routes_to_all() {
    let (backends, registry) = three(1);
    let yaml = config(
        "    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection:
      consecutive5xxErrors: 3
      baseEjectionTime: 30s
      maxEjectionPercent: 100
      minHealthPercent: 90",
    );
    let svc = mesh(MeshLayer::new(table(&yaml, sidecar()), registry));
    for _ in 0..30 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert_eq!(
        backends[0].calls(),
        10,
        "two of three healthy is under 90%: all stay in"
    );
}

/// Three round-robin endpoints, the first answering with `bad` (or failing to connect when
/// `bad` is `None`), and the layer's metrics handle, for `outlier` (the `outlierDetection`
/// block's fields, indented for it; `maxEjectionPercent: 100`, `consecutive5xxErrors: 0`
/// unless `outlier` sets them).
fn one_bad_of_three(
    bad: Option<StatusCode>,
    outlier: &str,
) -> (Vec<Backend>, common::Mesh, mesh_tower::MeshHandle) {
    let first = match bad {
        Some(s) => Backend::with("bad", move |_, _| Outcome::Status(s, "bad".into())),
        None => Backend::with("bad", |_, _| Outcome::ConnectFailure),
    };
    let backends = vec![first, Backend::ok("good1"), Backend::ok("good2")];
    let mut registry = Backends::new();
    for (i, b) in backends.iter().enumerate() {
        registry.add(
            &fqdn("httpbin"),
            b.endpoint(&format!("ep{i}"), [("app", "httpbin")]),
        );
    }
    let defaults = ["consecutive5xxErrors", "maxEjectionPercent"]
        .iter()
        .filter(|k| !outlier.contains(*k))
        .map(|k| match *k {
            "consecutive5xxErrors" => "\n      consecutive5xxErrors: 0",
            _ => "\n      maxEjectionPercent: 100",
        })
        .collect::<String>();
    let yaml = config(&format!(
        "    loadBalancer: {{simple: ROUND_ROBIN}}
    outlierDetection:
      baseEjectionTime: 30s{defaults}
{outlier}"
    ));
    let layer = MeshLayer::new(table(&yaml, sidecar()), registry);
    let handle = layer.handle();
    (backends, mesh(layer), handle)
}

/// `consecutiveGatewayErrors: 2`: an endpoint answering 502 is ejected after exactly two
/// consecutive gateway errors (Envoy's `consecutive_gateway_failure`, `>=` the threshold),
/// so with round robin over three endpoints it gets exactly two of nine requests.
#[tokio::test(start_paused = true)]
async fn consecutive_gateway_errors_eject_at_exactly_the_threshold() {
    let (b, svc, handle) = one_bad_of_three(
        Some(StatusCode::BAD_GATEWAY),
        "      consecutiveGatewayErrors: 2",
    );
    for _ in 0..9 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert_eq!(b[0].calls(), 2, "ejected at the second gateway error");
    assert_eq!(
        handle
            .metrics()
            .cluster(mesh_tower::metrics::ClusterMetric::Ejected, CLUSTER),
        1
    );
}

/// Gateway errors are 502, 503 and 504 only: an endpoint answering 500 is never ejected by
/// `consecutiveGatewayErrors` alone (with `consecutive5xxErrors: 0`).
#[tokio::test(start_paused = true)]
async fn a_500_is_not_a_gateway_error() {
    let (b, svc, handle) = one_bad_of_three(
        Some(StatusCode::INTERNAL_SERVER_ERROR),
        "      consecutiveGatewayErrors: 2",
    );
    for _ in 0..9 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert_eq!(b[0].calls(), 3);
    assert_eq!(
        handle
            .metrics()
            .cluster(mesh_tower::metrics::ClusterMetric::Ejected, CLUSTER),
        0
    );
}

/// Without `splitExternalLocalOriginErrors`, a connect failure counts as a gateway error
/// (Envoy maps local-origin failures to 503): `consecutiveGatewayErrors: 2` ejects the
/// endpoint after two of them.
#[tokio::test(start_paused = true)]
async fn local_origin_failures_count_as_gateway_errors_without_the_split() {
    let (b, svc, handle) = one_bad_of_three(None, "      consecutiveGatewayErrors: 2");
    for _ in 0..9 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert_eq!(b[0].calls(), 2);
    assert_eq!(
        handle
            .metrics()
            .cluster(mesh_tower::metrics::ClusterMetric::Ejected, CLUSTER),
        1
    );
}

/// With `splitExternalLocalOriginErrors: true`, local-origin failures are counted apart:
/// `consecutiveLocalOriginFailures: 3` ejects after three connect failures, and
/// `consecutiveGatewayErrors` no longer sees them.
#[tokio::test(start_paused = true)]
async fn split_local_origin_failures_eject_at_their_own_threshold() {
    let (b, svc, handle) = one_bad_of_three(
        None,
        "      splitExternalLocalOriginErrors: true
      consecutiveLocalOriginFailures: 3
      consecutiveGatewayErrors: 1",
    );
    for _ in 0..12 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert_eq!(
        b[0].calls(),
        3,
        "ejected at the third local failure, not the first"
    );
    assert_eq!(
        handle
            .metrics()
            .cluster(mesh_tower::metrics::ClusterMetric::Ejected, CLUSTER),
        1
    );
}

/// `outlierDetectionHttpErrorCodes` replaces "5xx" for `consecutive5xxErrors`: with
/// `[429]`, an endpoint answering 429 is ejected after two, and one answering 500 is not.
#[tokio::test(start_paused = true)]
async fn outlier_http_error_codes_choose_what_counts() {
    let codes = "      consecutive5xxErrors: 2
      outlierDetectionHttpErrorCodes: [429]";
    let (b, svc, handle) = one_bad_of_three(Some(StatusCode::TOO_MANY_REQUESTS), codes);
    for _ in 0..9 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert_eq!(b[0].calls(), 2);
    assert_eq!(
        handle
            .metrics()
            .cluster(mesh_tower::metrics::ClusterMetric::Ejected, CLUSTER),
        1
    );

    let (b, svc, handle) = one_bad_of_three(Some(StatusCode::INTERNAL_SERVER_ERROR), codes);
    for _ in 0..9 {
        send(&svc, get("http://httpbin:8000/")).await;
    }
    assert_eq!(b[0].calls(), 3);
    assert_eq!(
        handle
            .metrics()
            .cluster(mesh_tower::metrics::ClusterMetric::Ejected, CLUSTER),
        0
    );
}
