//! The front door as a user meets it: a layer from YAML in one expression, served by a real
//! server on 127.0.0.1 and called over HTTP/1.1; backends by short name; a destination
//! without endpoints; atomic reloads under concurrent requests; typed metrics and the axum
//! metrics handler.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use envoy_harness::raw::{Reply, exchange};
use mesh::metrics::{CONTENT_TYPE, Event};
use mesh::{Config, Endpoint, Error, Mesh, Warning};

/// A VirtualService for `shop` and `cart` in `demo`, with `shop`'s two subsets.
const SHOP: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop]
  http:
  - route:
    - destination: {host: shop.demo.svc.cluster.local, subset: v2}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop}
spec:
  host: shop
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: cart}
spec:
  hosts: [cart]
  http:
  - route:
    - destination: {host: cart}
"#;

/// An endpoint answering `text`.
fn answering(id: &str, version: &str, text: &'static str) -> Endpoint {
    let router = axum::Router::new().fallback(move || async move { text });
    Endpoint::new(id, [("version", version)], router)
}

/// Serves `app` on 127.0.0.1 (a port of its own); returns its address.
async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// The app behind the layer: answers `app` (passthrough, or routes when no backend is
/// registered).
fn app() -> axum::Router {
    axum::Router::new().fallback(|| async { "app" })
}

/// `GET path` with `host`, over a new connection.
async fn get(addr: SocketAddr, host: &str, path: &str) -> Reply {
    let request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
    tokio::task::spawn_blocking(move || exchange(addr, request.as_bytes()))
        .await
        .expect("client thread")
}

/// A layer built from YAML, backends and an identity in one expression routes as the
/// YAML says: `shop` goes to subset v2's endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_from_yaml_in_one_expression() {
    let addr = serve(
        app().layer(
            Mesh::sidecar("demo")
                .yaml(SHOP)
                .backend("shop", answering("shop-v1", "v1", "v1"))
                .backend("shop", answering("shop-v2", "v2", "v2"))
                .backend("cart", answering("cart-0", "v1", "cart"))
                .build()
                .expect("valid configuration"),
        ),
    )
    .await;
    let reply = get(addr, "shop", "/items").await;
    assert_eq!(reply.status, Some(200));
    assert_eq!(reply.text(), "v2");
    assert_eq!(get(addr, "cart", "/").await.text(), "cart");
}

/// A backend registered under a short name serves the host the table resolves that name
/// to (`shop` in `demo` is `shop.demo.svc.cluster.local`, which the VirtualService names);
/// a name no route reaches (misspelled) is a build-time warning naming it and its host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_name_backends_resolve_as_the_table_hosts() {
    let mesh = Mesh::sidecar("demo")
        .yaml(SHOP)
        .backend("shop", answering("shop-v2", "v2", "v2"))
        .backend("cart", answering("cart-0", "v1", "cart"))
        .backend("shpo", answering("typo-0", "v1", "typo"))
        .build()
        .expect("valid configuration");
    assert!(
        mesh.handle()
            .backends()
            .endpoints("shop.demo.svc.cluster.local")
            .is_some()
    );
    assert_eq!(
        mesh.warnings(),
        [Warning::UnusedBackend {
            name: "shpo".into(),
            host: "shpo.demo.svc.cluster.local".into(),
        }]
    );
    let addr = serve(app().layer(mesh)).await;
    assert_eq!(get(addr, "shop", "/").await.text(), "v2");
}

/// A route whose destination host has no registered endpoints, when the layer has backends
/// for other hosts, is a build-time warning listing the hosts, and is answered as Envoy
/// answers a cluster without endpoints (Envoy 1.40 measured: a STATIC cluster
/// `outbound|80||cart.demo.svc.cluster.local` with no endpoints answers 503, body
/// `no healthy upstream`, access-log flag `UH`). The inner service answers passthrough
/// requests (a host no resource knows) whatever the backends, and every route when no
/// backend is registered at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_without_endpoints_is_warned_and_answered_503_uh() {
    let mesh = Mesh::sidecar("demo")
        .yaml(SHOP)
        .backend("shop", answering("shop-v2", "v2", "v2"))
        .build()
        .expect("valid configuration");
    assert_eq!(
        mesh.warnings(),
        [Warning::NoEndpoints {
            hosts: vec!["cart.demo.svc.cluster.local".into()],
        }]
    );
    let handle = mesh.handle();
    let addr = serve(app().layer(mesh)).await;
    let reply = get(addr, "cart", "/").await;
    assert_eq!(reply.status, Some(503));
    assert_eq!(reply.text(), "no healthy upstream");
    assert!(
        handle
            .metrics()
            .encode()
            .contains(r#"destination_service="cart.demo.svc.cluster.local""#)
            && handle.metrics().encode().contains(r#"response_flags="UH""#),
        "{}",
        handle.metrics().encode()
    );
    // Passthrough: no resource knows the host.
    assert_eq!(get(addr, "elsewhere.example", "/").await.text(), "app");

    // No backends at all: the inner service is every route's upstream, and nothing warns.
    let bare = Mesh::sidecar("demo").yaml(SHOP).build().expect("valid");
    assert!(bare.warnings().is_empty(), "{:?}", bare.warnings());
    let addr = serve(app().layer(bare)).await;
    assert_eq!(get(addr, "cart", "/").await.text(), "app");
}

/// Configuration A routes `shop` to host `shop` (backend `a`); B routes it to host
/// `shop-b` (backend `b`) and has no backend for `shop`. A reload swaps table and backends
/// together: under concurrent requests, every answer is `a` or `b` (the new table with the
/// old backends, or the reverse, would answer 503 `no healthy upstream`), and after each
/// reload the next request sees the new configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_swaps_table_and_backends_atomically_under_concurrent_requests() {
    let yaml = |host: &str| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: shop}}\nspec:\n  hosts: [shop]\n  http:\n  - route:\n    - destination: {{host: {host}}}\n"
        )
    };
    let a = Config::new()
        .yaml(yaml("shop"))
        .backend("shop", answering("a-0", "v1", "a"));
    let b = Config::new()
        .yaml(yaml("shop-b"))
        .backend("shop-b", answering("b-0", "v1", "b"));
    let mesh = Mesh::sidecar("demo")
        .config(a.clone())
        .build()
        .expect("valid");
    let handle = mesh.handle();
    let addr = serve(app().layer(mesh)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut seen = 0usize;
                // Bounded: at most 2 000 requests each, fewer when the reloads are done.
                while !stop.load(Ordering::Relaxed) && seen < 2_000 {
                    let reply = get(addr, "shop", "/").await;
                    assert_eq!(reply.status, Some(200), "{}", reply.text());
                    assert!(matches!(&*reply.text(), "a" | "b"), "{}", reply.text());
                    seen += 1;
                }
                seen
            })
        })
        .collect();
    for i in 0..40 {
        let (config, expected) = if i % 2 == 0 { (&b, "b") } else { (&a, "a") };
        handle.reload(config.clone()).expect("valid");
        assert_eq!(get(addr, "shop", "/").await.text(), expected);
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        assert!(c.await.expect("client") > 0);
    }
}

/// A reload with an invalid configuration is rejected with typed findings (a load error
/// for YAML that does not read, compile problems naming the resource for a resource Istio
/// rejects) and the serving configuration keeps serving; `reload_yaml` keeps the registered
/// backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_reload_is_rejected_and_the_serving_configuration_kept() {
    let mesh = Mesh::sidecar("demo")
        .yaml(SHOP)
        .backend("shop", answering("shop-v2", "v2", "v2"))
        .backend("cart", answering("cart-0", "v1", "cart"))
        .build()
        .expect("valid");
    let handle = mesh.handle();
    let addr = serve(app().layer(mesh)).await;

    let unreadable = handle.reload_yaml("kind: VirtualService\nspec: [");
    assert!(
        matches!(unreadable, Err(Error::Load(ref e)) if !e.errors.is_empty()),
        "{unreadable:?}"
    );
    let invalid = handle.reload_yaml(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: broken}\nspec:\n  hosts: [shop]\n  http:\n  - match:\n    - uri: {regex: \"(\"}\n    route:\n    - destination: {host: shop}\n",
    );
    match invalid {
        Err(Error::Compile(e)) => {
            assert!(
                e.problems.iter().any(|p| p.resource.name == "broken"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    let missing = handle.reload(Config::new().path("/nonexistent/mesh-config"));
    assert!(
        matches!(missing, Err(Error::Load(ref e)) if !e.errors.is_empty()),
        "{missing:?}"
    );
    assert_eq!(get(addr, "shop", "/").await.text(), "v2");

    // New YAML, the same backends: `cart` now goes to `shop`.
    let warnings = handle
        .reload_yaml(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: cart}\nspec:\n  hosts: [cart]\n  http:\n  - route:\n    - destination: {host: shop}\n",
        )
        .expect("valid");
    assert_eq!(
        warnings,
        [Warning::UnusedBackend {
            name: "cart".into(),
            host: "cart.demo.svc.cluster.local".into()
        }]
    );
    assert_eq!(get(addr, "cart", "/").await.text(), "v2");
}

/// The layer's own counters read back typed ([`Event`]), and its metrics registered into
/// the application's own registry show the same values as `encode()` (OpenMetrics text,
/// ending with `# EOF`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_metrics_read_back_and_register_into_the_apps_registry() {
    let mesh = Mesh::sidecar("demo")
        .yaml(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: shop}\nspec:\n  hosts: [shop]\n  http:\n  - route:\n    - destination: {host: shop}\n    mirror: {host: shadow}\n",
        )
        .backend("shop", answering("shop-0", "v1", "shop"))
        .backend("shadow", answering("shadow-0", "v1", "shadow"))
        .build()
        .expect("valid");
    let handle = mesh.handle();
    let mut registry = mesh::metrics::prometheus_client::registry::Registry::default();
    handle.register_metrics(&mut registry);
    let addr = serve(app().layer(mesh)).await;
    for _ in 0..3 {
        assert_eq!(get(addr, "shop", "/").await.text(), "shop");
    }
    assert_eq!(handle.metrics().outcome(Event::MirrorSent), 3);
    assert_eq!(handle.metrics().outcome(Event::MirrorDropped), 0);
    let own = handle.metrics().encode();
    assert!(own.ends_with("# EOF\n"), "{own}");
    let mut app_text = String::new();
    mesh::metrics::prometheus_client::encoding::text::encode(&mut app_text, &registry)
        .expect("encode");
    for text in [&own, &app_text] {
        assert!(
            text.contains(r#"mesh_mirror_requests_total{result="sent"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"destination_service="shop.demo.svc.cluster.local""#),
            "{text}"
        );
    }
}

/// The axum handler answers `GET` with the layer's metrics as OpenMetrics text, with its
/// content type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_axum_metrics_handler_serves_openmetrics() {
    let mesh = Mesh::sidecar("demo")
        .yaml(SHOP)
        .backend("shop", answering("shop-v2", "v2", "v2"))
        .backend("cart", answering("cart-0", "v1", "cart"))
        .build()
        .expect("valid");
    let admin = axum::Router::new().route("/metrics", mesh::metrics::handler(mesh.handle()));
    let addr = serve(app().layer(mesh)).await;
    let admin = serve(admin).await;
    assert_eq!(get(addr, "shop", "/").await.text(), "v2");
    let reply = get(admin, "admin", "/metrics").await;
    assert_eq!(reply.status, Some(200));
    assert_eq!(reply.header("content-type"), Some(CONTENT_TYPE));
    let text = reply.text();
    assert!(text.contains("istio_requests_total{"), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
}

/// A gateway's layer routes by the Gateway's servers and the VirtualServices bound to it,
/// from YAML read from a folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_layer_from_a_folder() {
    let dir = std::env::temp_dir().join(format!("mesh-front-door-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("gateway.yaml"),
        r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["shop.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: demo}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/edge]
  http:
  - route:
    - destination: {host: shop.demo.svc.cluster.local}
"#,
    )
    .expect("write");
    let mesh = Mesh::gateway("istio-system", "edge")
        .path(&dir)
        .backend(
            "shop.demo.svc.cluster.local",
            answering("shop-0", "v1", "shop"),
        )
        .options(mesh::Options {
            listener_port: Some(80),
            ..mesh::Options::default()
        })
        .build();
    let _ = std::fs::remove_dir_all(&dir);
    let mesh = mesh.expect("valid");
    assert!(mesh.warnings().is_empty(), "{:?}", mesh.warnings());
    let addr = serve(app().layer(mesh)).await;
    assert_eq!(get(addr, "shop.example.com", "/").await.text(), "shop");
    assert_eq!(get(addr, "other.example.com", "/").await.status, Some(404));
}

/// With `service_entry_endpoints` (feature `client`), a ServiceEntry's `STATIC` endpoints
/// serve its host over HTTP: here a real server on 127.0.0.1, reached through the
/// ServiceEntry's port map; the route needs no registered backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_entry_endpoints_serve_their_host_over_http() {
    let upstream = serve(axum::Router::new().fallback(|| async { "over http" })).await;
    let port = upstream.port();
    let mesh = Mesh::sidecar("demo")
        .yaml(format!(
            "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: api}}\nspec:\n  hosts: [api.internal]\n  location: MESH_INTERNAL\n  resolution: STATIC\n  ports:\n  - {{number: 80, name: http, protocol: HTTP}}\n  endpoints:\n  - {{address: 127.0.0.1, ports: {{http: {port}}}}}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: api}}\nspec:\n  hosts: [api.internal]\n  http:\n  - route:\n    - destination: {{host: api.internal, port: {{number: 80}}}}\n"
        ))
        .service_entry_endpoints()
        .build()
        .expect("valid");
    assert!(mesh.warnings().is_empty(), "{:?}", mesh.warnings());
    let addr = serve(app().layer(mesh)).await;
    let reply = get(addr, "api.internal", "/").await;
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (Some(200), "over http")
    );
}
