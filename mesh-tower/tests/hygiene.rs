//! The layer's HTTP hygiene holds in every embedding, not only in mesh-proxy: a tower
//! service wrapped in `MeshLayer` refuses, strips and classifies as Envoy 1.40 does with
//! Istio's settings (measured; the same rules run through real sockets and side by side
//! with Envoy in `mesh-proxy/tests/edge_http.rs` and `envoy_edge.rs`).

mod common;

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use common::*;
use http::{Method, Request, Response, StatusCode, Version};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use mesh_tower::body::{self, BoxBody};
use mesh_tower::{Backends, BoxError, Endpoint, MeshLayer, ProtocolError};
use tower::ServiceExt;
use tower::service_fn;

const YAML: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [shop]
  http:
  - name: deny-delete
    match: [{method: {exact: DELETE}}]
    directResponse: {status: 403, body: {string: denied}}
  - route:
    - destination: {host: shop}
"#;

fn layer_with(endpoint: Endpoint) -> MeshLayer {
    MeshLayer::new(
        table(YAML, sidecar()),
        Backends::new().with(&fqdn("shop"), endpoint),
    )
}

fn request(method: &[u8], version: Version, headers: &[(&str, &str)]) -> Request<BoxBody> {
    let mut b = Request::builder()
        .method(Method::from_bytes(method).expect("a token"))
        .uri("http://shop/x")
        .version(version);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(body::empty()).expect("a request")
}

/// Over HTTP/1, `delete`, `Delete` and `FOO` never reach a backend: 400 `Bad Request`,
/// `connection: close`, counted `DPE` (Envoy 1.40's codec). Over HTTP/2 Envoy forwards
/// them, and so does the layer.
#[tokio::test]
async fn the_layer_refuses_methods_envoy_refuses() {
    let shop = Backend::ok("shop");
    let layer = layer_with(shop.endpoint("shop-0", []));
    let handle = layer.handle();
    let svc = mesh(layer);
    for m in [&b"delete"[..], b"Delete", b"FOO"] {
        let r = send(&svc, request(m, Version::HTTP_11, &[])).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.body, "Bad Request");
        assert_eq!(r.header("connection"), "close");
    }
    assert_eq!(shop.calls(), 0);
    let m = handle.metrics().encode();
    assert_eq!(requests_total(&m, &[("response_flags", "DPE")]), 3, "{m}");
    let r = send(&svc, request(b"DELETE", Version::HTTP_11, &[])).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::FORBIDDEN, "denied")
    );
    let r = send(&svc, request(b"delete", Version::HTTP_2, &[])).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(shop.seen()[0].method.as_str(), "delete");
}

/// Hop-by-hop headers and Envoy's control headers never reach a backend; `CONNECT` is 404
/// `NR` and reaches nothing.
#[tokio::test]
async fn the_layer_strips_hop_by_hop_and_control_headers_and_refuses_connect() {
    let shop = Backend::ok("shop");
    let layer = layer_with(shop.endpoint("shop-0", []));
    let handle = layer.handle();
    let svc = mesh(layer);
    let r = send(
        &svc,
        request(
            b"GET",
            Version::HTTP_11,
            &[
                ("connection", "x-foo"),
                ("x-foo", "1"),
                ("keep-alive", "1"),
                ("proxy-connection", "1"),
                ("te", "gzip"),
                ("x-envoy-retry-on", "5xx"),
                ("x-envoy-upstream-rq-timeout-ms", "1"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let seen = shop.seen();
    // Only what the layer sets is left: the Host, its loop mark (`CDN-Loop`, see
    // `mesh_tower::loop_detect`), and what Envoy sets: the attempt's number, and a
    // sidecar's `x-forwarded-proto` and `x-request-id`.
    let mut names: Vec<&str> = seen[0].headers.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "cdn-loop",
            "host",
            "x-envoy-attempt-count",
            "x-forwarded-proto",
            "x-request-id"
        ]
    );
    assert_eq!(seen[0].headers["x-envoy-attempt-count"], "1");
    let connect = Request::builder()
        .method(Method::CONNECT)
        .uri("shop:443")
        .body(body::empty())
        .expect("a request");
    let r = send(&svc, connect).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(shop.calls(), 1);
    let m = handle.metrics().encode();
    assert_eq!(requests_total(&m, &[("response_flags", "NR")]), 1, "{m}");
}

/// A backend that reports a malformed upstream response (`ProtocolError`) gets Envoy's
/// `502 ... reset reason: protocol error`, counted `UPE`.
#[tokio::test]
async fn a_protocol_error_of_a_backend_is_502_upe() {
    let endpoint = Endpoint::new(
        "shop-0",
        [("app", "shop")],
        service_fn(|_req: Request<BoxBody>| async {
            Err::<Response<BoxBody>, BoxError>(Box::new(ProtocolError("2OO".into())))
        }),
    );
    let layer = layer_with(endpoint);
    let handle = layer.handle();
    let svc = mesh(layer);
    let r = send(&svc, request(b"GET", Version::HTTP_11, &[])).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        r.body,
        "upstream connect error or disconnect/reset before headers. reset reason: protocol error"
    );
    let m = handle.metrics().encode();
    assert_eq!(
        requests_total(&m, &[("response_code", "502"), ("response_flags", "UPE")]),
        1,
        "{m}"
    );
}

/// Ten bytes, then an error: a response body its upstream cut.
struct Cut(bool);

impl Body for Cut {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(Some(Err(
                "connection closed before message completed".into()
            )))
        } else {
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"0123456789")))))
        }
    }
}

/// A response whose body fails after its head is counted `200 UPE` when the body fails,
/// not as a complete `200 -` (Envoy 1.40 logs a response cut mid-body `200 UPE`).
#[tokio::test]
async fn a_cut_response_body_is_counted_upe() {
    let endpoint = Endpoint::new(
        "shop-0",
        [("app", "shop")],
        service_fn(|_req: Request<BoxBody>| async {
            Ok::<_, BoxError>(Response::new(body::boxed(Cut(false))))
        }),
    );
    let layer = layer_with(endpoint);
    let handle = layer.handle();
    let svc = mesh(layer);
    let resp = svc
        .clone()
        .oneshot(request(b"GET", Version::HTTP_11, &[]))
        .await
        .expect("response mode");
    assert_eq!(resp.status(), StatusCode::OK);
    let m = handle.metrics().encode();
    assert_eq!(
        requests_total(&m, &[("response_code", "200")]),
        0,
        "counted too early"
    );
    assert!(resp.into_body().collect().await.is_err());
    let m = handle.metrics().encode();
    assert_eq!(
        requests_total(&m, &[("response_code", "200"), ("response_flags", "UPE")]),
        1,
        "{m}"
    );
    assert_eq!(
        requests_total(&m, &[("response_code", "200"), ("response_flags", "-")]),
        0
    );
}

/// A protocol error is retried under `5xx`, `gateway-error` and `reset`, not under
/// `connect-failure` (Envoy 1.40, measured: an upstream answering `HTTP/1.1 2OO` was called
/// three times with `num_retries: 2` and `retry_on: 5xx`, once with `connect-failure`).
#[tokio::test]
async fn protocol_errors_are_retried_as_resets() {
    for (retry_on, calls) in [
        ("5xx", 3),
        ("gateway-error", 3),
        ("reset", 3),
        ("connect-failure", 1),
    ] {
        let yaml = format!(
            r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop, namespace: default}}
spec:
  hosts: [shop]
  http:
  - retries: {{attempts: 2, retryOn: {retry_on}}}
    route:
    - destination: {{host: shop}}
"#
        );
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = counter.clone();
        let endpoint = Endpoint::new(
            "shop-0",
            [("app", "shop")],
            service_fn(move |_req: Request<BoxBody>| {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { Err::<Response<BoxBody>, BoxError>(Box::new(ProtocolError("2OO".into()))) }
            }),
        );
        let layer = MeshLayer::new(
            table(&yaml, sidecar()),
            Backends::new().with(&fqdn("shop"), endpoint),
        );
        let r = send(&mesh(layer), request(b"GET", Version::HTTP_11, &[])).await;
        assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{retry_on}");
        assert_eq!(
            counter.load(std::sync::atomic::Ordering::SeqCst),
            calls,
            "{retry_on}"
        );
    }
}
