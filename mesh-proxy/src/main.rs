//! `mesh-proxy --listen 127.0.0.1:8080 -f CONFIG... [--gateway NS/NAME | --namespace NS --labels k=v,...] [--admin 127.0.0.1:15000]`
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mesh_proxy::{Settings, start};
use mesh_route::Identity;

/// A reverse proxy driven only by Istio YAML.
#[derive(Debug, Parser)]
#[command(name = "mesh-proxy", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Istio YAML files or directories (watched for changes).
    #[arg(
        short = 'f',
        long = "file",
        required = true,
        value_name = "CONFIG_FILE_OR_DIR"
    )]
    files: Vec<PathBuf>,
    /// Act as this Gateway (`namespace/name`): an Istio Gateway, or a Gateway API Gateway
    /// (whose HTTP listeners it serves).
    #[arg(long, conflicts_with_all = ["labels"])]
    gateway: Option<String>,
    /// Act as a sidecar in this namespace (also the default namespace of resources).
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Workload labels of the sidecar (`k=v,k2=v2`).
    #[arg(long)]
    labels: Option<String>,
    /// Admin address (`/metrics`, `/config`, `/ready`).
    #[arg(long)]
    admin: Option<SocketAddr>,
    /// Forward hosts that no resource knows to the Host itself (Istio's ALLOW_ANY);
    /// by default they get 502 (REGISTRY_ONLY).
    #[arg(long)]
    allow_any: bool,
    /// The port requests on this listener are matched as (a Gateway server port or a
    /// service port); default: the Gateway's only HTTP server port, else the listen port.
    #[arg(long)]
    port_as: Option<u16>,
    /// Path normalization: NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES.
    #[arg(long, default_value = "BASE")]
    path_normalization: mesh_match::PathNormalization,
    /// Worker threads that serve connections, each with its own single-threaded runtime,
    /// as Envoy's --concurrency (default: the number of cores); 0 serves them on tokio's
    /// work-stealing runtime instead.
    #[arg(long)]
    workers: Option<usize>,
}

fn parse_labels(s: &str) -> Result<BTreeMap<String, String>, String> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| format!("label {p:?} is not k=v"))
        })
        .collect()
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let identity = match &args.gateway {
        Some(g) => match Identity::parse_gateway(g) {
            Some(i) => i,
            None => {
                eprintln!("mesh-proxy: --gateway must be NAMESPACE/NAME, got {g:?}");
                return ExitCode::from(2);
            }
        },
        None => {
            let labels = match args.labels.as_deref().map(parse_labels).transpose() {
                Ok(l) => l.unwrap_or_default(),
                Err(e) => {
                    eprintln!("mesh-proxy: {e}");
                    return ExitCode::from(2);
                }
            };
            Identity::Sidecar {
                namespace: args.namespace.clone(),
                labels,
            }
        }
    };
    let options = mesh_tower::Options {
        path_normalization: args.path_normalization,
        listener_port: args.port_as,
        ..mesh_tower::Options::default()
    };
    let settings = Settings {
        paths: args.files,
        identity,
        default_namespace: args.namespace,
        allow_any: args.allow_any,
        options,
        workers: args
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mesh-proxy: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let admin = match args.admin {
        Some(a) => match tokio::net::TcpListener::bind(a).await {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("mesh-proxy: cannot listen on {a}: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let running = match start(settings, listener, admin).await {
        Ok(r) => r,
        Err(findings) => {
            for f in findings {
                eprintln!("{f}");
            }
            eprintln!("mesh-proxy: the configuration is invalid");
            return ExitCode::from(1);
        }
    };
    tracing::info!(addr = %running.addr, admin = ?running.admin_addr, "mesh-proxy listening");
    wait_for_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    running.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
