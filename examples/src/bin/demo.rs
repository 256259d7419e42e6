//! The README's main job: `cargo run --release -p examples --bin demo [-- --once]`.
//!
//! Starts two upstream versions of `shop` (v1 answers one request in ten with a 503, to
//! show retries), and `mesh-proxy` as the Gateway `demo/shop-gateway` with the bundled
//! `examples/config/shop.yaml`, unchanged Istio YAML. Sends a burst of requests through the
//! proxy and prints what happened: requests per version, the header override, mirrored
//! copies, injected faults and retries, read from the upstreams and from the proxy's
//! Istio metrics. Then stays up with a curl line to try, unless `--once`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mesh_load::LoadFiles as _;
use mesh_route::Identity;

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/shop.yaml");

/// What an upstream version received.
#[derive(Debug, Default)]
struct Received {
    requests: AtomicU64,
    failed_on_purpose: AtomicU64,
}

/// Starts one version of the upstream on `addr`: it answers `shop <version>`; with
/// `flaky`, every tenth request gets a 503.
async fn upstream(
    addr: SocketAddr,
    version: &'static str,
    flaky: bool,
) -> std::io::Result<Arc<Received>> {
    let received = Arc::new(Received::default());
    let r = received.clone();
    let app = axum::Router::new().fallback(move || {
        let r = r.clone();
        async move {
            let n = r.requests.fetch_add(1, Ordering::Relaxed) + 1;
            if flaky && n % 10 == 0 {
                r.failed_on_purpose.fetch_add(1, Ordering::Relaxed);
                return (
                    http::StatusCode::SERVICE_UNAVAILABLE,
                    "try again".to_owned(),
                );
            }
            (http::StatusCode::OK, format!("shop {version}\n"))
        }
    });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(received)
}

/// The endpoint address of each version, from the ServiceEntry of the bundled config.
fn endpoints(config: &str) -> Result<BTreeMap<String, SocketAddr>, String> {
    let resources = mesh_model::Loader::new()
        .load_paths(&[config])
        .into_result()
        .map_err(|e| format!("{e:?}"))?;
    let mut out = BTreeMap::new();
    for se in &resources.service_entries {
        for ep in &se.spec.endpoints {
            let version = ep.labels.get("version").cloned().unwrap_or_default();
            let port = ep.ports.values().next().copied().unwrap_or(80);
            let addr = format!("{}:{port}", ep.address)
                .parse()
                .map_err(|e| format!("endpoint {}: {e}", ep.address))?;
            out.insert(version, addr);
        }
    }
    Ok(out)
}

fn metric_sum(text: &str, name: &str, filter: &[&str]) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(name) && filter.iter().all(|f| l.contains(f)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let once = args.iter().any(|a| a == "--once");
    let total: u64 = args
        .windows(2)
        .find(|w| w[0] == "--requests")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(1000);
    let listen: SocketAddr = args
        .windows(2)
        .find(|w| w[0] == "--listen")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or_else(|| {
            if once {
                "127.0.0.1:0"
            } else {
                "127.0.0.1:8080"
            }
            .parse()
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)))
        });

    println!("mesh demo: Istio YAML executed in-process by mesh-proxy");
    println!("config: {CONFIG}\n");
    let eps = endpoints(CONFIG)?;
    let (Some(v1_addr), Some(v2_addr)) = (eps.get("v1"), eps.get("v2")) else {
        return Err("the config has no v1/v2 endpoints".into());
    };
    let v1 = upstream(*v1_addr, "v1", true).await.map_err(|e| {
        format!("cannot start upstream v1 on {v1_addr} (the ServiceEntry's endpoint): {e}")
    })?;
    let v2 = upstream(*v2_addr, "v2", false).await.map_err(|e| {
        format!("cannot start upstream v2 on {v2_addr} (the ServiceEntry's endpoint): {e}")
    })?;
    println!("upstreams: shop v1 on {v1_addr} (fails 1 request in 10), shop v2 on {v2_addr}");

    let settings = mesh_proxy::Settings {
        paths: vec![PathBuf::from(CONFIG)],
        identity: Identity::gateway("demo", "shop-gateway"),
        default_namespace: "default".into(),
        allow_any: false,
        allow_any_to: Vec::new(),
        listener: Default::default(),
        reload: Default::default(),
        options: mesh_tower::Options {
            seed: Some(7),
            ..mesh_tower::Options::default()
        },
        workers: 0,
    };
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let proxy = mesh_proxy::start(settings, listener, Some(admin))
        .await
        .map_err(|e| e.findings().join("\n"))?;
    let addr = proxy.addr;
    let admin_addr = proxy.admin_addr.ok_or("no admin address")?;
    println!("mesh-proxy: gateway demo/shop-gateway on {addr}, admin on {admin_addr}\n");

    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut by_body: BTreeMap<String, u64> = BTreeMap::new();
    let mut canary_v2 = 0;
    let overrides = total / 20;
    let mut tasks = tokio::task::JoinSet::new();
    let concurrency = 8u64;
    for worker in 0..concurrency {
        let client = client.clone();
        tasks.spawn(async move {
            let mut seen: Vec<(bool, u16, String)> = Vec::new();
            let mut i = worker;
            while i < total {
                let canary = i % 20 == 0;
                let mut req = http::Request::get(format!("http://{addr}/cart?item={i}"))
                    .header(http::header::HOST, "shop.example.com");
                if canary {
                    req = req.header("x-canary", "always");
                }
                if let Ok(req) = req.body(Empty::<Bytes>::new()) {
                    if let Ok(resp) = client.request(req).await {
                        let status = resp.status().as_u16();
                        let body = resp
                            .into_body()
                            .collect()
                            .await
                            .map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_owned())
                            .unwrap_or_default();
                        seen.push((canary, status, body));
                    }
                }
                i += concurrency;
            }
            seen
        });
    }
    let mut answered = 0;
    while let Some(Ok(seen)) = tasks.join_next().await {
        for (canary, status, body) in seen {
            answered += 1;
            let key = if status == 200 {
                body.clone()
            } else {
                format!("HTTP {status} {body}")
            };
            *by_body.entry(key).or_default() += 1;
            if canary && body == "shop v2" {
                canary_v2 += 1;
            }
        }
    }
    // Mirrored copies are fire-and-forget: give the last ones a moment to land.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let metrics = reqwest_free_get(&client, admin_addr, "/metrics").await;
    let v1_primary = *by_body.get("shop v1").unwrap_or(&0);
    let v2_primary = *by_body.get("shop v2").unwrap_or(&0);
    let split_total = answered - overrides;
    println!("{total} requests sent, {answered} answered\n");
    println!("  answered by version");
    for (k, v) in &by_body {
        println!(
            "    {k:<36} {v:>6}  ({:.1}%)",
            *v as f64 * 100.0 / answered.max(1) as f64
        );
    }
    println!(
        "\n  x-canary: always override        {canary_v2:>6} of {overrides} went to v2 (rule canary-override)"
    );
    let split_v2 = v2_primary.saturating_sub(canary_v2);
    println!(
        "  90/10 split (rule split)          v1 {v1_primary}, v2 {split_v2} of {split_total}: {:.1}% to the canary",
        split_v2 as f64 * 100.0 / split_total.max(1) as f64
    );
    let v2_received = v2.requests.load(Ordering::Relaxed);
    let mirrors_sent = metric_sum(&metrics, "mesh_mirror_requests_total", &["result=\"sent\""]);
    println!(
        "  mirrored copies to v2             {mirrors_sent:>6} sent (v2 received {v2_received}: {v2_primary} primary + {} copies)",
        v2_received.saturating_sub(v2_primary)
    );
    let faults = metric_sum(&metrics, "istio_requests_total", &["response_flags=\"FI\""]);
    println!("  injected faults (503, flag FI)    {faults:>6} (2% of the split's requests)");
    let retries = metric_sum(&metrics, "mesh_retries_total", &["result=\"attempted\""]);
    println!(
        "  retries                           {retries:>6} (v1 failed {} requests on purpose; clients saw {} of them)",
        v1.failed_on_purpose.load(Ordering::Relaxed),
        by_body
            .iter()
            .filter(|(k, _)| k.starts_with("HTTP 503 try"))
            .map(|(_, v)| v)
            .sum::<u64>()
    );
    println!(
        "\n  Istio metrics (GET http://{admin_addr}/metrics), istio_requests_total by version and code:"
    );
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("istio_requests_total"))
    {
        let get = |label: &str| {
            line.split(&format!("{label}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("")
                .to_owned()
        };
        println!(
            "    destination_version={:<8} response_code={} response_flags={:<4} {}",
            get("destination_version"),
            get("response_code"),
            get("response_flags"),
            line.rsplit(' ').next().unwrap_or("")
        );
    }
    if once {
        proxy.shutdown().await;
        return Ok(());
    }
    println!("\nmesh-proxy stays up. Try:");
    println!("  curl -H 'Host: shop.example.com' http://{addr}/");
    println!("  curl -H 'Host: shop.example.com' -H 'x-canary: always' http://{addr}/");
    println!("  curl http://{admin_addr}/metrics");
    println!("Edit {CONFIG} and the proxy reloads it. Ctrl-C to stop.");
    let _ = tokio::signal::ctrl_c().await;
    proxy.shutdown().await;
    Ok(())
}

async fn reqwest_free_get(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
    addr: SocketAddr,
    path: &str,
) -> String {
    let Ok(req) = http::Request::get(format!("http://{addr}{path}")).body(Empty::<Bytes>::new())
    else {
        return String::new();
    };
    match client.request(req).await {
        Ok(resp) => resp
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
}
