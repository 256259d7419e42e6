//! The proxy as a Gateway API Gateway (`--gateway demo/edge-api` naming a
//! `gateway.networking.k8s.io` Gateway), end to end over real sockets on 127.0.0.1: its
//! HTTP listener serves the HTTPRoutes attached to it, with real upstreams from ServiceEntry
//! endpoints for the Services' hosts.

mod common;

use common::*;
use http::StatusCode;
use mesh_route::Identity;

fn config(v1: &Upstream, v2: &Upstream, mirror: &Upstream) -> String {
    let mut s = String::new();
    for (name, u) in [("web-v1", v1), ("web-v2", v2), ("shadow", mirror)] {
        s.push_str(&format!(
            "apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: demo}}
spec: {{selector: {{app: {name}}}, ports: [{{name: http, port: 8080}}]}}
---
"
        ));
        s.push_str(&service_entry(
            name,
            &format!("{name}.demo.svc.cluster.local"),
            &[(u, &[("app", name)])],
        ));
    }
    s.push_str(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge-api, namespace: demo}
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - {name: http, port: 80, protocol: HTTP, hostname: "*.example.com"}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: demo}
spec:
  parentRefs: [{name: edge-api}]
  hostnames: [shop.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /split}}]
    backendRefs:
    - {name: web-v1, port: 8080, weight: 1}
    - {name: web-v2, port: 8080, weight: 1}
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: URLRewrite
      urlRewrite: {hostname: internal.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: x-gateway, value: edge-api}]
        remove: [x-secret]
    - type: ResponseHeaderModifier
      responseHeaderModifier: {add: [{name: x-served-by, value: mesh}]}
    backendRefs: [{name: web-v1, port: 8080}]
  - matches: [{path: {type: Exact, value: /moved}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, statusCode: 301}
  - matches: [{path: {type: PathPrefix, value: /mirror}}]
    filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: shadow, port: 8080}}
    backendRefs: [{name: web-v2, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /broken}}]
    backendRefs: [{name: gone, port: 8080}]
"#,
    );
    s
}

/// A Gateway API Gateway through the proxy: a split reaches both backends, a rewrite
/// changes path and Host and the header filters apply both ways, a redirect answers 301 with
/// an https Location, a mirror copies the request to its backend, and a backendRef to a
/// Service that does not exist answers 500.
#[tokio::test]
async fn gateway_api_gateway_through_the_proxy() {
    let v1 = Upstream::ok("v1").await;
    let v2 = Upstream::ok("v2").await;
    let shadow = Upstream::ok("shadow").await;
    let dir = TempDir::new("gwapi-proxy");
    let file = dir.write("config.yaml", &config(&v1, &v2, &shadow));
    let mut s = settings(vec![file]);
    s.identity = Identity::gateway("demo", "edge-api");
    s.options.seed = Some(7);
    let running = start(s).await;
    let c = client();
    let host = "shop.example.com";

    // Split: 1:1 between web-v1 and web-v2.
    let mut bodies = Vec::new();
    for _ in 0..40 {
        bodies.push(get(&c, running.addr, host, "/split", &[]).await.body);
    }
    assert!(
        bodies.iter().any(|b| b == "v1") && bodies.iter().any(|b| b == "v2"),
        "{bodies:?}"
    );

    // Rewrite and header filters.
    let before = v1.calls();
    let r = get(&c, running.addr, host, "/old/x?q=1", &[("x-secret", "s")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, "v1");
    assert_eq!(r.header("x-served-by"), "mesh");
    let seen = v1.seen().pop().expect("web-v1 was called");
    assert_eq!(v1.calls(), before + 1);
    assert_eq!(seen.path, "/new/x?q=1");
    assert_eq!(seen.host, "internal.example.com");
    assert_eq!(seen.header("x-gateway"), "edge-api");
    assert_eq!(seen.header("x-secret"), "");

    // Redirect.
    let r = get(&c, running.addr, host, "/moved?a=b", &[]).await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(r.header("location"), "https://shop.example.com/moved?a=b");

    // Mirror.
    let r = get(&c, running.addr, host, "/mirror/1", &[]).await;
    assert_eq!(r.body, "v2");
    let copied = eventually(PATIENCE, || {
        let shadow = shadow.clone();
        async move { shadow.seen().into_iter().find(|s| s.path == "/mirror/1") }
    })
    .await;
    assert!(copied.is_some(), "the mirror received no copy");

    // An unresolved backend: 500 without a body, as Envoy answers Istio's route to a
    // cluster that does not exist (`cluster_not_found_response_code: INTERNAL_SERVER_ERROR`;
    // measured on Envoy 1.40: `500`, `content-length: 0`).
    let r = get(&c, running.addr, host, "/broken", &[]).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.body, "");

    // A host the listener does not take.
    let r = get(&c, running.addr, "shop.example.org", "/split", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    running.shutdown().await;
}
