//! What the layer answers where it used to differ from Envoy 1.40 (issue 12): local
//! replies to gRPC clients, the header operations local replies carry, a delegated rule's
//! fault before its redirect, Envoy's inline headers and `x-forwarded-proto`. The same
//! behaviours are compared with a real Envoy in `difftest/tests/decisions.rs`.

mod common;

use common::*;
use http::StatusCode;
use mesh_tower::{Backends, MeshLayer};

const CONFIG: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop}
spec:
  host: shop
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop]
  http:
  - match: [{uri: {prefix: /undefined}}]
    headers: {response: {set: {x-r: route}}}
    route: [{destination: {host: shop, subset: v9}}]
  - match: [{uri: {prefix: /abort}}]
    headers: {response: {set: {x-r: route, content-type: text/html}}}
    fault: {abort: {httpStatus: 403, percentage: {value: 100}}}
    route: [{destination: {host: shop, subset: v1}}]
  - match: [{uri: {prefix: /delegated}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    delegate: {name: leaf}
  - match: [{scheme: {exact: https}}]
    route: [{destination: {host: shop, subset: v1}}]
    headers: {request: {set: {x-scheme: https}}}
  - match: [{uri: {prefix: /v1}}]
    route: [{destination: {host: shop, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: leaf}
spec:
  http:
  - redirect: {authority: other.example}
    headers: {response: {set: {x-r: leaf}}}
"#;

fn setup(v1: &Backend) -> Mesh {
    let host = fqdn("shop");
    let backends = Backends::new().with(&host, v1.endpoint("shop-v1", [("version", "v1")]));
    mesh(MeshLayer::new(table(CONFIG, sidecar()), backends))
}

const GRPC: (&str, &str) = ("content-type", "application/grpc");

/// A gRPC client gets every local reply as HTTP 200 with Envoy's mapped `grpc-status`: no
/// route 12, no cluster 14, an HTTP abort mapped (403 → 7) with `grpc-message: fault
/// filter abort`; other clients get the HTTP status.
#[tokio::test]
async fn grpc_clients_get_local_replies_as_grpc_status() {
    let svc = setup(&Backend::ok("v1"));
    for (path, grpc_status) in [("/none", "12"), ("/undefined", "14"), ("/abort", "7")] {
        let r = send(&svc, get_with(&format!("http://shop{path}"), &[GRPC])).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.header("grpc-status"), grpc_status, "{path}");
        assert_eq!(r.header("content-type"), "application/grpc", "{path}");
        assert_eq!(r.body, "", "{path}");
    }
    let r = send(&svc, get_with("http://shop/abort", &[GRPC])).await;
    assert_eq!(r.header("grpc-message"), "fault filter abort");
    let r = send(&svc, get("http://shop/none")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("grpc-status"), "");
}

/// The local replies of a forwarding rule's requests (no cluster, a fault abort) carry its
/// response header operations, applied before the reply's content type is chosen (a set
/// `content-type` stays); a reply without a body has no content type.
#[tokio::test]
async fn local_replies_of_a_forwarding_rule_carry_its_response_operations() {
    let svc = setup(&Backend::ok("v1"));
    let r = send(&svc, get("http://shop/undefined")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.header("x-r"), "route");
    assert_eq!(r.header("content-type"), "");
    let r = send(&svc, get("http://shop/abort")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.header("x-r"), "route");
    assert_eq!(r.header("content-type"), "text/html");
    assert_eq!(r.body, "fault filter abort");
}

/// A root rule's fault merged into a delegated redirect answers first, without the
/// redirect's header operations (Envoy's fault filter runs before the router, and a
/// redirect route has no route entry to take them from).
#[tokio::test]
async fn a_delegated_redirect_aborts_first() {
    let svc = setup(&Backend::ok("v1"));
    let r = send(&svc, get("http://shop/delegated")).await;
    assert_eq!(r.status, StatusCode::IM_A_TEAPOT);
    assert_eq!(r.body, "fault filter abort");
    assert_eq!(r.header("location"), "");
    assert_eq!(r.header("x-r"), "");
}

/// Repeated inline headers reach the upstream joined with `,` (Envoy's codec), custom
/// headers as separate values; `x-forwarded-proto: https` makes an origin-form request's
/// scheme https.
#[tokio::test]
async fn inline_headers_are_joined_and_x_forwarded_proto_is_the_scheme() {
    let v1 = Backend::ok("v1");
    let svc = setup(&v1);
    let req = |headers: &[(&str, &str)]| {
        let mut b = http::Request::get("/v1").header("host", "shop");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(mesh_tower::body::empty()).unwrap()
    };
    let r = send(
        &svc,
        req(&[
            ("user-agent", "a"),
            ("user-agent", "b"),
            ("x-tag", "a"),
            ("x-tag", "b"),
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let seen = v1.seen().pop().unwrap();
    let all = |n: &str| -> Vec<String> {
        seen.headers
            .get_all(n)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(all("user-agent"), ["a,b"]);
    assert_eq!(all("x-tag"), ["a", "b"]);
    send(&svc, req(&[("x-forwarded-proto", "https")])).await;
    assert_eq!(v1.seen().pop().unwrap().header("x-scheme"), "https");
    // An absolute-form target names its scheme, which Envoy keeps.
    send(
        &svc,
        get_with("http://shop/v1", &[("x-forwarded-proto", "https")]),
    )
    .await;
    assert_eq!(v1.seen().pop().unwrap().header("x-scheme"), "");
}
