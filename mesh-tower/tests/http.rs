//! End to end over real sockets on 127.0.0.1: the layer in front of an axum app served with
//! `axum::serve` (via `Router::layer`, the default response mode), called with a hyper
//! client, routing to real axum backends reached over HTTP through ServiceEntry endpoints.
#![cfg(feature = "client")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get as axum_get;
use common::*;
use http::{HeaderMap, Request, StatusCode, Uri};
use mesh_route::{CompileOptions, Identity, RouteTable};
use mesh_tower::client::{HttpClient, http_client};
use mesh_tower::{Backends, MeshHandle, MeshLayer, Options, body};

/// A backend server answering `<name> host=<Host> path=<path>` after `delay`; `/flaky` fails
/// its first two calls of every three with 503; `/slow` answers after 30 s.
async fn backend_with_delay(name: &'static str, calls: Arc<AtomicUsize>, delay: Duration) -> u16 {
    let echo = move |headers: HeaderMap, uri: Uri| async move {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(delay).await;
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned();
        format!("{name} host={host} path={uri}")
    };
    let flaky_calls = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route(
            "/flaky",
            axum_get(move || {
                let n = flaky_calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n % 3 < 2 {
                        (StatusCode::SERVICE_UNAVAILABLE, "flaky")
                    } else {
                        (StatusCode::OK, "recovered")
                    }
                }
            }),
        )
        .route(
            "/slow",
            axum_get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "slow"
            }),
        )
        .fallback(echo);
    serve(router).await.port()
}

async fn backend(name: &'static str, calls: Arc<AtomicUsize>) -> u16 {
    backend_with_delay(name, calls, Duration::ZERO).await
}

/// ServiceEntry endpoints for `shop.demo.svc.cluster.local` (v1 and v2 at these ports) and a
/// VirtualService with `rules`.
fn resources(v1_ports: &[u16], v2_port: u16, rules: &str) -> mesh_model::Resources {
    let mut endpoints = String::new();
    for p in v1_ports {
        endpoints.push_str(&format!(
            "  - {{address: 127.0.0.1, ports: {{http: {p}}}, labels: {{version: v1}}}}\n"
        ));
    }
    endpoints.push_str(&format!(
        "  - {{address: 127.0.0.1, ports: {{http: {v2_port}}}, labels: {{version: v2}}}}\n"
    ));
    let yaml = format!(
        r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: shop, namespace: demo}}
spec:
  hosts: [shop.demo.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {{number: 80, name: http, protocol: HTTP}}
  endpoints:
{endpoints}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: shop, namespace: demo}}
spec:
  host: shop
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop, namespace: demo}}
spec:
  hosts: [shop]
  http:
{rules}
"#
    );
    mesh_model::load_str(&yaml).expect("the test YAML loads")
}

/// Serves an axum app with the mesh as its layer (`Router::layer`) on 127.0.0.1:0.
async fn front(resources: &mesh_model::Resources, options: Options) -> (u16, MeshHandle) {
    let table = RouteTable::compile(
        resources,
        &Identity::sidecar("demo"),
        &CompileOptions::default(),
    )
    .expect("compiles");
    let backends = Backends::from_endpoints(table.upstream_endpoints(), &http_client());
    let layer = MeshLayer::with_options(table, backends, options);
    let handle = layer.handle();
    let app = Router::new()
        .fallback(|| async { "inner app" })
        .layer(layer);
    (serve(app).await.port(), handle)
}

/// Sends `GET path` with `Host: host` to the front server.
async fn call(
    client: &HttpClient,
    port: u16,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut b = Request::get(format!("http://127.0.0.1:{port}{path}")).header("host", host);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(body::empty()).expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(5), client.request(req))
        .await
        .expect("answered within 5 s")
        .expect("the front server answers");
    reply(resp).await
}

const AB: &str = r#"  - match: [{headers: {x-canary: {exact: "yes"}}}]
    route:
    - destination: {host: shop, subset: v2}
  - match: [{uri: {prefix: /old}}]
    rewrite: {uri: /new}
    route:
    - destination: {host: shop, subset: v1}
  - route:
    - destination: {host: shop, subset: v1}"#;

/// The layer in front of an axum app routes `Host: shop` to the ServiceEntry endpoints over
/// HTTP (v2 for the canary header), with Host kept and rewrites applied; other hosts reach
/// the axum app itself.
#[tokio::test]
async fn the_layer_in_front_of_axum_routes_to_service_entry_endpoints() {
    let (c1, c2) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let v1 = backend("v1", c1.clone()).await;
    let v2 = backend("v2", c2.clone()).await;
    let (port, handle) = front(&resources(&[v1], v2, AB), Options::default()).await;
    let client = http_client();

    let r = call(&client, port, "shop", "/cart?id=1", &[]).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::OK, "v1 host=shop path=/cart?id=1")
    );
    let r = call(&client, port, "shop", "/cart", &[("x-canary", "yes")]).await;
    assert_eq!(r.body, "v2 host=shop path=/cart");
    let r = call(&client, port, "shop", "/old/page", &[]).await;
    assert_eq!(r.body, "v1 host=shop path=/new/page");
    let r = call(&client, port, "payments.example.com", "/pay", &[]).await;
    assert_eq!(r.body, "inner app");
    assert_eq!(
        (c1.load(Ordering::SeqCst), c2.load(Ordering::SeqCst)),
        (2, 1)
    );
    let m = handle.metrics().encode();
    assert_eq!(
        requests_total(
            &m,
            &[
                ("destination_service", "shop.demo.svc.cluster.local"),
                ("destination_version", "v2")
            ]
        ),
        1,
        "{m}"
    );
}

/// Istio's default retry policy retries a refused connection (on another endpoint): with one
/// endpoint down, every request succeeds. With `attempts: 0`, some get a 503 connection
/// failure.
#[tokio::test]
async fn a_refused_connection_is_retried_by_default() {
    let live = backend("v1", Arc::new(AtomicUsize::new(0))).await;
    let v2 = backend("v2", Arc::new(AtomicUsize::new(0))).await;
    // Kept until the test ends: the port refuses connections while it is held.
    let (dead, _held) = dead_port();
    let rules = "  - route:\n    - destination: {host: shop, subset: v1}";
    let seeded = || Options {
        seed: Some(4),
        ..Options::default()
    };
    let (port, handle) = front(&resources(&[dead, live], v2, rules), seeded()).await;
    let client = http_client();
    for _ in 0..20 {
        let r = call(&client, port, "shop", "/", &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let retried = handle
        .metrics()
        .outcome(mesh_tower::metrics::Event::RetryAttempted);
    eprintln!("one endpoint of two refusing: 20/20 succeeded, {retried} retries");
    assert!(retried > 0);

    let rules =
        "  - route:\n    - destination: {host: shop, subset: v1}\n    retries: {attempts: 0}";
    let (port, _) = front(&resources(&[dead, live], v2, rules), seeded()).await;
    let mut refused = 0;
    for _ in 0..20 {
        let r = call(&client, port, "shop", "/", &[]).await;
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(r.body.contains("connection failure"), "{}", r.body);
            refused += 1;
        }
    }
    eprintln!("without retries: {refused}/20 refused");
    assert!(refused > 0);
}

/// Over real HTTP: `retries: {attempts: 3, retryOn: 5xx}` hides a backend failing two calls
/// of three, and a 100 ms route timeout answers 504 long before the 30 s backend.
#[tokio::test]
async fn retries_and_timeouts_over_http() {
    let v1 = backend("v1", Arc::new(AtomicUsize::new(0))).await;
    let v2 = backend("v2", Arc::new(AtomicUsize::new(0))).await;
    let rules = r#"  - match: [{uri: {prefix: /flaky}}]
    retries: {attempts: 3, retryOn: 5xx}
    route:
    - destination: {host: shop, subset: v1}
  - match: [{uri: {prefix: /slow}}]
    timeout: 100ms
    route:
    - destination: {host: shop, subset: v1}"#;
    let (port, _) = front(&resources(&[v1], v2, rules), Options::default()).await;
    let client = http_client();
    for _ in 0..3 {
        let r = call(&client, port, "shop", "/flaky", &[]).await;
        assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "recovered"));
    }
    let started = Instant::now();
    let r = call(&client, port, "shop", "/slow", &[]).await;
    let took = started.elapsed();
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(r.body, "upstream request timeout");
    // Only tells the timeout from the backend's answer (30 s), generously.
    assert!(took < Duration::from_secs(15), "{took:?}");
}

/// Over real HTTP: every request is mirrored to v2 with its Host kept, and a mirror that
/// takes 3 s to answer does not slow the primary.
#[tokio::test]
async fn mirrors_arrive_over_http() {
    let (c1, c2) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let v1 = backend("v1", c1.clone()).await;
    let v2 = backend_with_delay("v2", c2.clone(), Duration::from_secs(3)).await;
    let rules = r#"  - route:
    - destination: {host: shop, subset: v1}
    mirror: {host: shop, subset: v2}"#;
    let (port, handle) = front(&resources(&[v1], v2, rules), Options::default()).await;
    let client = http_client();
    let started = Instant::now();
    for i in 0..10 {
        let r = call(&client, port, "shop:80", &format!("/echo/{i}"), &[]).await;
        assert_eq!(r.body, format!("v1 host=shop:80 path=/echo/{i}"));
    }
    let took = started.elapsed();
    eprintln!("10 primaries with a 3 s mirror: {took:?}");
    // Sequential primaries held up by their copies would take 10 x 3 s; the bound only
    // tells the two apart, generously.
    assert!(took < Duration::from_secs(15), "{took:?}");
    for _ in 0..200 {
        if c2.load(Ordering::SeqCst) == 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        c2.load(Ordering::SeqCst),
        10,
        "copies counted at the mirror"
    );
    assert_eq!(c1.load(Ordering::SeqCst), 10);
    assert_eq!(
        handle
            .metrics()
            .outcome(mesh_tower::metrics::Event::MirrorSent),
        10
    );
}
