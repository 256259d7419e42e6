//! Istio's standard metrics, as `MeshHandle::metrics().encode()` exposes them for
//! Prometheus: `istio_requests_total` with the destination, version, code and Envoy response
//! flags of each outcome.

mod common;

use std::time::Duration;

use common::*;
use http::StatusCode;
use mesh_route::Identity;
use mesh_tower::{Backends, MeshLayer, Options};

const YAML: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: empty, labels: {version: none}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /ok}}]
    route:
    - destination: {host: reviews, subset: v1}
  - match: [{uri: {prefix: /slow}}]
    timeout: 1s
    route:
    - destination: {host: reviews, subset: v1}
  - match: [{uri: {prefix: /abort}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route:
    - destination: {host: reviews, subset: v1}
  - match: [{uri: {prefix: /delay}}]
    fault: {delay: {fixedDelay: 1s, percentage: {value: 100}}}
    route:
    - destination: {host: reviews, subset: v2}
  - match: [{uri: {prefix: /fail}}]
    retries: {attempts: 2, retryOn: 5xx}
    route:
    - destination: {host: reviews, subset: v1}
  - match: [{uri: {prefix: /refused}}]
    retries: {attempts: 1, retryOn: connect-failure}
    route:
    - destination: {host: reviews, subset: v1}
  - match: [{uri: {prefix: /nocluster}}]
    route:
    - destination: {host: reviews, subset: v9}
  - match: [{uri: {prefix: /empty}}]
    route:
    - destination: {host: reviews, subset: empty}
"#;

/// Each outcome is counted once in `istio_requests_total` with Istio's labels, and response
/// flags as Envoy writes them (joined in Envoy's order: `UT,URX`, `UR,URX`).
#[tokio::test(start_paused = true)]
async fn istio_requests_total_labels_every_outcome() {
    let v1 = Backend::with("v1", |_, seen| match seen.uri.path() {
        "/slow" => Outcome::After(Duration::from_secs(10), StatusCode::OK, "late".into()),
        "/fail" => Outcome::Status(StatusCode::INTERNAL_SERVER_ERROR, "boom".into()),
        "/refused" => Outcome::ConnectFailure,
        _ => Outcome::Status(StatusCode::OK, "v1".into()),
    });
    let host = "reviews.shop.svc.cluster.local";
    let backends = Backends::new()
        .with(host, v1.endpoint("reviews-v1", [("version", "v1")]))
        .with(
            host,
            Backend::ok("v2").endpoint("reviews-v2", [("version", "v2")]),
        );
    let identity =
        Identity::sidecar_with_labels("shop", [("app", "productpage"), ("version", "v3")]);
    let layer = MeshLayer::with_options(
        table(YAML, identity),
        backends,
        Options {
            seed: Some(1),
            ..Options::default()
        },
    );
    let handle = layer.handle();
    let svc = mesh(layer);
    let mut expect = vec![
        ("/ok", StatusCode::OK, "v1", "-"),
        ("/slow", StatusCode::GATEWAY_TIMEOUT, "v1", "UT"),
        ("/abort", StatusCode::IM_A_TEAPOT, "v1", "FI"),
        ("/delay", StatusCode::OK, "v2", "DI"),
        ("/fail", StatusCode::INTERNAL_SERVER_ERROR, "v1", "URX"),
        ("/refused", StatusCode::SERVICE_UNAVAILABLE, "v1", "UF,URX"),
        // No endpoint was reached: which version to report is not checked here.
        ("/nocluster", StatusCode::SERVICE_UNAVAILABLE, "", "NC"),
        ("/empty", StatusCode::SERVICE_UNAVAILABLE, "", "UH"),
    ];
    for (path, status, _, _) in &expect {
        let r = send(&svc, get(&format!("http://reviews:9080{path}"))).await;
        assert_eq!(r.status, *status, "{path}: {}", r.body);
    }
    let r = send(&svc, get("http://unknown.example.com/")).await;
    assert_eq!(r.status, StatusCode::OK, "passthrough to the inner service");
    let m = handle.metrics().encode();
    for (path, status, version, flags) in expect.drain(..) {
        let code = status.as_u16().to_string();
        let mut labels = vec![
            ("reporter", "source"),
            ("source_workload_namespace", "shop"),
            ("source_app", "productpage"),
            ("source_version", "v3"),
            ("destination_service", host),
            ("destination_service_name", "reviews"),
            ("destination_service_namespace", "shop"),
            ("response_code", &code),
            ("response_flags", flags),
        ];
        if !version.is_empty() {
            labels.push(("destination_version", version));
        }
        assert_eq!(requests_total(&m, &labels), 1, "{path}: {m}");
    }
    assert!(m.contains("# TYPE istio_requests counter"), "{m}");
    assert!(
        m.contains("istio_request_duration_milliseconds_bucket{"),
        "{m}"
    );
    // The passthrough request is counted under Envoy's `PassthroughCluster`, not under the
    // Host it sent (which any client can vary); Envoy's no-route names none.
    assert_eq!(
        requests_total(
            &m,
            &[
                ("destination_service", "PassthroughCluster"),
                ("destination_service_name", "PassthroughCluster"),
                ("response_flags", "-")
            ]
        ),
        1,
        "{m}"
    );
    assert!(!m.contains("unknown.example.com"), "{m}");
}

/// Hosts no resource knows share one destination state and one set of metric series: ten
/// thousand distinct Host headers leave the metrics as one request to a known host does.
#[tokio::test]
async fn distinct_passthrough_hosts_do_not_grow_state() {
    let layer = MeshLayer::new(table(YAML, sidecar()), Backends::new());
    let handle = layer.handle();
    let svc = mesh(layer);
    send(&svc, get("http://first-unknown.example.com/")).await;
    let before = handle.metrics().encode();
    for i in 0..10_000 {
        let r = send(&svc, get(&format!("http://h{i}.example.com/"))).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let after = handle.metrics().encode();
    assert_eq!(before.lines().count(), after.lines().count(), "{after}");
    assert_eq!(
        requests_total(&after, &[("destination_service", "PassthroughCluster")]),
        10_001
    );
}

/// A request with no route is counted with `response_code="404"`, `response_flags="NR"` and
/// an `unknown` destination.
#[tokio::test]
async fn no_route_is_counted_as_nr() {
    let svc_yaml = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /only}}]
    route:
    - destination: {host: reviews}
"#;
    let layer = MeshLayer::new(table(svc_yaml, sidecar()), Backends::new());
    let handle = layer.handle();
    let svc = mesh(layer);
    assert_eq!(
        send(&svc, get("http://reviews/other")).await.status,
        StatusCode::NOT_FOUND
    );
    let m = handle.metrics().encode();
    assert_eq!(
        requests_total(
            &m,
            &[
                ("destination_service", "unknown"),
                ("response_code", "404"),
                ("response_flags", "NR")
            ]
        ),
        1,
        "{m}"
    );
}

/// A per-try timeout on the last attempt is both `UT` and `URX`, written `UT,URX` as Envoy
/// orders them; a reset on the last attempt is `UR,URX`.
#[tokio::test(start_paused = true)]
async fn combined_flags_follow_envoys_order() {
    let yaml = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /timeout}}]
    retries: {attempts: 1, perTryTimeout: 10ms, retryOn: 5xx}
    route:
    - destination: {host: reviews}
  - match: [{uri: {prefix: /reset}}]
    retries: {attempts: 1, retryOn: reset}
    route:
    - destination: {host: reviews}
"#;
    let b = Backend::with("r", |_, seen| {
        if seen.uri.path() == "/timeout" {
            Outcome::Hang
        } else {
            Outcome::Status(StatusCode::OK, String::new())
        }
    });
    // A backend that resets: its service fails with an error that is not a connect failure.
    let resetting = mesh_tower::Endpoint::new(
        "reviews-0",
        Vec::<(&str, &str)>::new(),
        tower::service_fn({
            let inner = b.service();
            move |req: http::Request<mesh_tower::body::BoxBody>| {
                let reset = req.uri().path() == "/reset";
                let call: std::pin::Pin<Box<dyn Future<Output = _> + Send>> =
                    Box::pin(tower::ServiceExt::oneshot(inner.clone(), req));
                async move {
                    if reset {
                        return Err(mesh_tower::BoxError::from("connection reset by peer"));
                    }
                    call.await
                }
            }
        }),
    );
    let layer = MeshLayer::new(
        table(yaml, sidecar()),
        Backends::new().with(&fqdn("reviews"), resetting),
    );
    let handle = layer.handle();
    let svc = mesh(layer);
    let r = send(&svc, get("http://reviews/timeout")).await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
    let r = send(&svc, get("http://reviews/reset")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.body.contains("remote reset"), "{}", r.body);
    let m = handle.metrics().encode();
    assert_eq!(
        requests_total(&m, &[("response_flags", "UT,URX")]),
        1,
        "{m}"
    );
    assert_eq!(
        requests_total(&m, &[("response_flags", "UR,URX")]),
        1,
        "{m}"
    );
}
