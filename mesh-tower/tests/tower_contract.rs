//! The tower contract of `MeshService`: it is `Clone` (clones share the layer's state), its
//! readiness is its inner service's, and in `errors()` mode mesh errors are `BoxError`s that
//! downcast to `MeshError`.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::*;
use http::{Request, Response, StatusCode};
use mesh_tower::body::{self, BoxBody};
use mesh_tower::{Backends, BoxError, MeshError, MeshLayer, MeshService};
use tower::{Service, ServiceBuilder, ServiceExt};

const YAML: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /slow}}]
    timeout: 1s
    route:
    - destination: {host: reviews, subset: v1}
  - match: [{uri: {prefix: /undefined}}]
    route:
    - destination: {host: reviews, subset: v3}
  - match: [{uri: {prefix: /empty}}]
    route:
    - destination: {host: reviews, subset: v2}
  - match: [{uri: {prefix: /api}}]
    route:
    - destination: {host: reviews, subset: v1}
"#;

fn backends() -> Backends {
    let v1 = Backend::with("v1", |_, seen| {
        if seen.uri.path().starts_with("/slow") {
            Outcome::After(Duration::from_secs(5), StatusCode::OK, "late".into())
        } else if seen.uri.path() == "/api/fail" {
            Outcome::Status(StatusCode::SERVICE_UNAVAILABLE, "busy".into())
        } else {
            Outcome::Status(StatusCode::OK, "v1".into())
        }
    });
    Backends::new().with(
        &fqdn("reviews"),
        v1.endpoint("reviews-v1", [("version", "v1")]),
    )
}

/// An inner service that is ready only once its gate opens (or fails readiness when told).
#[derive(Clone, Default)]
struct Gate {
    open: Arc<AtomicBool>,
    fail: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Gate {
    fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
        if let Some(w) = self.waker.lock().expect("not poisoned").take() {
            w.wake();
        }
    }
}

impl Service<Request<BoxBody>> for Gate {
    type Response = Response<BoxBody>;
    type Error = BoxError;
    type Future = std::future::Ready<Result<Response<BoxBody>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        if self.fail.load(Ordering::SeqCst) {
            return Poll::Ready(Err("inner service closed".into()));
        }
        if self.open.load(Ordering::SeqCst) {
            return Poll::Ready(Ok(()));
        }
        *self.waker.lock().expect("not poisoned") = Some(cx.waker().clone());
        Poll::Pending
    }

    fn call(&mut self, _req: Request<BoxBody>) -> Self::Future {
        std::future::ready(Ok(Response::new(body::full("gate"))))
    }
}

/// The service is `Clone`, and clones share the route table, backends and metrics.
#[tokio::test]
async fn the_service_is_clone_and_clones_share_state() {
    fn assert_clone<T: Clone + Send + Sync + 'static>(_: &T) {}
    let layer = MeshLayer::new(table(YAML, sidecar()), backends());
    let handle = layer.handle();
    let a = mesh(layer);
    assert_clone(&a);
    let b = a.clone();
    send(&a, get("http://reviews/api")).await;
    send(&b, get("http://reviews/api")).await;
    let m = handle.metrics().encode();
    assert_eq!(requests_total(&m, &[("response_code", "200")]), 2, "{m}");
}

/// Readiness is the inner service's: while the inner service is not ready the mesh service
/// is not ready either (backpressure propagates), and it becomes ready when the inner does.
#[tokio::test(start_paused = true)]
async fn poll_ready_propagates_backpressure_of_the_inner_service() {
    let gate = Gate::default();
    let mut svc = ServiceBuilder::new()
        .layer(MeshLayer::new(table(YAML, sidecar()), backends()))
        .service(gate.clone());
    let not_ready = tokio::time::timeout(
        Duration::from_secs(1),
        ServiceExt::<Request<BoxBody>>::ready(&mut svc),
    )
    .await;
    assert!(
        not_ready.is_err(),
        "not ready while the inner service is not"
    );
    gate.open();
    let ready = tokio::time::timeout(
        Duration::from_secs(1),
        ServiceExt::<Request<BoxBody>>::ready(&mut svc),
    )
    .await;
    assert!(
        matches!(ready, Ok(Ok(_))),
        "ready once the inner service is"
    );
    let r = reply(svc.call(get("http://payments/")).await.expect("infallible")).await;
    assert_eq!(r.body, "gate", "passthrough goes to the inner service");
}

/// An error from the inner service's `poll_ready` does not fail readiness in response mode:
/// the next call is answered 503 (connection failure); in errors mode it is a `MeshError`.
#[tokio::test]
async fn an_inner_readiness_error_becomes_a_503_or_a_mesh_error() {
    let gate = Gate::default();
    gate.fail.store(true, Ordering::SeqCst);
    let mut svc = ServiceBuilder::new()
        .layer(MeshLayer::new(table(YAML, sidecar()), backends()))
        .service(gate.clone());
    ServiceExt::<Request<BoxBody>>::ready(&mut svc)
        .await
        .expect("infallible");
    let r = reply(svc.call(get("http://payments/")).await.expect("infallible")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);

    let mut svc = ServiceBuilder::new()
        .layer(MeshLayer::new(table(YAML, sidecar()), backends()).errors())
        .service(gate);
    ServiceExt::<Request<BoxBody>>::ready(&mut svc)
        .await
        .expect("readiness reports through the call");
    let e = svc
        .call(get("http://payments/"))
        .await
        .expect_err("an error");
    assert!(matches!(
        e.downcast_ref::<MeshError>(),
        Some(MeshError::Upstream {
            reason: "connection failure",
            ..
        })
    ));
}

type ErrorsMesh = MeshService<Inner, mesh_tower::Errors>;

async fn call_errors(svc: &ErrorsMesh, url: &str) -> Result<Response<BoxBody>, BoxError> {
    svc.clone().oneshot(get(url)).await
}

/// In `errors()` mode, mesh errors are returned as `BoxError`s that downcast to `MeshError`,
/// each with the status Envoy would answer; upstream responses, 5xx included, are `Ok`.
#[tokio::test(start_paused = true)]
async fn errors_mode_returns_downcastable_mesh_errors() {
    let layer = MeshLayer::new(table(YAML, sidecar()), backends()).errors();
    let svc: ErrorsMesh = ServiceBuilder::new().layer(layer).service(inner());
    type Is = fn(&MeshError) -> bool;
    let cases: [(&str, Is, StatusCode); 4] = [
        (
            "http://reviews/none",
            |e| matches!(e, MeshError::NoRoute),
            StatusCode::NOT_FOUND,
        ),
        (
            "http://reviews/slow",
            |e| matches!(e, MeshError::Timeout),
            StatusCode::GATEWAY_TIMEOUT,
        ),
        (
            "http://reviews/undefined",
            |e| matches!(e, MeshError::ClusterNotFound(c) if c.contains("|v3|")),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            "http://reviews/empty",
            |e| matches!(e, MeshError::NoHealthyUpstream),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ];
    for (url, is, status) in cases {
        let e = call_errors(&svc, url).await.expect_err(url);
        let mesh = e.downcast_ref::<MeshError>().expect("a MeshError");
        assert!(is(mesh), "{url}: {mesh:?}");
        assert_eq!(mesh.status(), status);
    }
    let ok = call_errors(&svc, "http://reviews/api/fail")
        .await
        .expect("a response");
    assert_eq!(ok.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ok = call_errors(&svc, "http://reviews/api")
        .await
        .expect("a response");
    assert_eq!(reply(ok).await.body, "v1");
}
