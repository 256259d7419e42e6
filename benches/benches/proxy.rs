//! mesh-proxy's per-request cost in-process over loopback: the same upstream called
//! directly, and through mesh-proxy (a Gateway with a header route and a 90/10 split), with
//! one keep-alive client, in the same run.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mesh_route::Identity;

fn config(port: u16) -> String {
    format!(
        r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: edge, namespace: bench}}
spec:
  servers:
  - port: {{number: 80, name: http, protocol: HTTP}}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: app, namespace: bench}}
spec:
  hosts: [app.example.com]
  gateways: [edge]
  http:
  - match:
    - headers: {{x-canary: {{exact: always}}}}
    route:
    - destination: {{host: app.bench.svc.cluster.local, subset: v2, port: {{number: 8080}}}}
  - route:
    - destination: {{host: app.bench.svc.cluster.local, subset: v1, port: {{number: 8080}}}}
      weight: 90
    - destination: {{host: app.bench.svc.cluster.local, subset: v2, port: {{number: 8080}}}}
      weight: 10
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: app, namespace: bench}}
spec:
  host: app.bench.svc.cluster.local
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: app, namespace: bench}}
spec:
  hosts: [app.bench.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{{number: 8080, name: http, protocol: HTTP}}]
  endpoints:
  - {{address: 127.0.0.1, ports: {{http: {port}}}, labels: {{version: v1}}}}
  - {{address: 127.0.0.1, ports: {{http: {port}}}, labels: {{version: v2}}}}
"#
    )
}

async fn get(
    client: &Client<HttpConnector, Empty<Bytes>>,
    addr: SocketAddr,
    canary: bool,
) -> usize {
    let mut req = http::Request::get(format!("http://{addr}/item"))
        .header(http::header::HOST, "app.example.com");
    if canary {
        req = req.header("x-canary", "always");
    }
    let Ok(req) = req.body(Empty::<Bytes>::new()) else {
        return 0;
    };
    match client.request(req).await {
        Ok(resp) => resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().len())
            .unwrap_or(0),
        Err(_) => 0,
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (upstream, proxy_addr, _running, dir) = rt.block_on(async {
        let app = axum::Router::new().fallback(|| async { "ok" });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let upstream = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let dir = std::env::temp_dir().join(format!("mesh-bench-proxy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("mesh.yaml");
        std::fs::write(&file, config(upstream.port())).expect("config");
        let settings = mesh_proxy::Settings {
            paths: vec![PathBuf::from(&file)],
            identity: Identity::gateway("bench", "edge"),
            default_namespace: "bench".into(),
            allow_any: false,
            allow_any_to: Vec::new(),
            listener: Default::default(),
            reload: Default::default(),
            options: mesh_tower::Options {
                seed: Some(1),
                ..mesh_tower::Options::default()
            },
            workers: 0,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let running = mesh_proxy::start(settings, listener, None)
            .await
            .expect("proxy starts");
        (upstream, running.addr, running, dir)
    });
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    // Warm the connection pools.
    rt.block_on(async {
        assert_eq!(get(&client, upstream, false).await, 2);
        assert_eq!(get(&client, proxy_addr, false).await, 2);
    });
    let mut g = c.benchmark_group("proxy_loopback");
    g.sample_size(50);
    g.bench_function("direct_to_upstream", |b| {
        b.iter(|| black_box(rt.block_on(get(&client, upstream, false))))
    });
    g.bench_function("through_mesh_proxy_split", |b| {
        b.iter(|| black_box(rt.block_on(get(&client, proxy_addr, false))))
    });
    g.bench_function("through_mesh_proxy_header_route", |b| {
        b.iter(|| black_box(rt.block_on(get(&client, proxy_addr, true))))
    });
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
