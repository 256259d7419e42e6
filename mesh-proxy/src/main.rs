//! `mesh-proxy --listen 127.0.0.1:8080 -f CONFIG... [--gateway NS/NAME | --namespace NS --labels k=v,...] [--admin 127.0.0.1:15000]`
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    /// by default they get 502 (REGISTRY_ONLY). RISK: Istio's ALLOW_ANY forwards to the
    /// address the client connected to; this proxy can only use the Host header, so any
    /// client can make it connect anywhere it can reach (server-side request forgery). The
    /// proxy's own addresses are always refused, and loopback, link-local (cloud metadata)
    /// and unspecified destinations too unless --allow-any-to names them; refused
    /// destinations get 502. Put a firewall between the proxy and what clients must not
    /// reach.
    #[arg(long)]
    allow_any: bool,
    /// A loopback, link-local or unspecified destination that --allow-any may forward to
    /// (`IP` or `IP:PORT`, IPv6 as `[::1]:PORT`); repeat for several.
    #[arg(long, value_name = "IP[:PORT]", value_parser = parse_allowed)]
    allow_any_to: Vec<(std::net::IpAddr, Option<u16>)>,
    /// Stream idle timeout (Envoy's stream_idle_timeout): a request on which nothing moves
    /// this long gets 408 (client stalled) or 504 (upstream stalled) `stream timeout`, and
    /// a request head must arrive within it. `0` disables it.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    stream_idle_timeout: Duration,
    /// Time allowed to receive a request head (default: the stream idle timeout); past it
    /// 408 `stream timeout`. A connection that sends nothing for this long, new or
    /// keep-alive, is closed.
    #[arg(long, value_parser = parse_duration)]
    request_headers_timeout: Option<Duration>,
    /// Largest request head (request line and headers) in KiB; past it 431.
    #[arg(long, default_value_t = 60)]
    max_request_headers_kb: usize,
    /// Most request headers; past it 431.
    #[arg(long, default_value_t = 100)]
    max_request_headers: usize,
    /// Most client connections at once (default: half the open-file limit); past it a new
    /// connection is reset.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Configuration files must read the same twice this far apart before a change is
    /// loaded.
    #[arg(long, default_value = "300ms", value_parser = parse_duration)]
    config_settle: Duration,
    /// A changed configuration that lost every resource of a kind (a file being written?)
    /// is applied only after staying unchanged this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    suspicious_config_hold: Duration,
    /// Apply a configuration that lost every resource of a kind at once.
    #[arg(long)]
    allow_emptying_config: bool,
    /// The id appended to the CDN-Loop header of forwarded requests; a request that
    /// already carries it is a loop and gets 502 (default: unique to this process; give
    /// replicas behind one load balancer the same id).
    #[arg(long)]
    cdn_loop_id: Option<String>,
    /// Serve HTTP/1.0 requests (Envoy's accept_http_10; default off as in Istio's
    /// listeners: an HTTP/1.0 request gets 426 Upgrade Required).
    #[arg(long)]
    accept_http10: bool,
    /// The port requests on this listener are matched and routed as (a Gateway server port
    /// or a service port); default: for a Gateway its only HTTP server port, else the
    /// listen port; for a sidecar the port of each request's authority (80 without one),
    /// as the port the client meant to reach.
    #[arg(long)]
    port_as: Option<u16>,
    /// Path normalization: NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES.
    #[arg(long, default_value = "BASE")]
    path_normalization: mesh_match::PathNormalization,
    /// Worker threads that serve connections, each with its own single-threaded runtime
    /// and its own upstream connections, as Envoy's --concurrency (default: the number of
    /// cores); 0 serves them on tokio's work-stealing runtime instead, with one set of
    /// upstream connections.
    #[arg(long)]
    workers: Option<usize>,
}

/// `300s`, `250ms`, `5m`, `1h`, or `0`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 300s or 250ms"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(n.saturating_mul(3600))),
        _ => Err(format!("{s:?}: the unit must be ms, s, m or h")),
    }
}

/// `IP` or `IP:PORT`.
fn parse_allowed(s: &str) -> Result<(std::net::IpAddr, Option<u16>), String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok((a.ip(), Some(a.port())));
    }
    s.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map(|ip| (ip, None))
        .map_err(|_| format!("{s:?} is not IP or IP:PORT"))
}

fn nonzero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
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
        stream_idle_timeout: nonzero(args.stream_idle_timeout),
        cdn_loop_id: args.cdn_loop_id.clone(),
        accept_http_10: args.accept_http10,
        ..mesh_tower::Options::default()
    };
    let defaults = mesh_proxy::ListenerLimits::default();
    let listener_limits = mesh_proxy::ListenerLimits {
        max_request_headers_bytes: args.max_request_headers_kb.saturating_mul(1024),
        max_request_headers: args.max_request_headers,
        request_headers_timeout: args.request_headers_timeout.and_then(nonzero),
        max_connections: args.max_connections.unwrap_or(defaults.max_connections),
    };
    let reload = mesh_proxy::ReloadPolicy {
        settle: args.config_settle,
        suspicious_hold: args.suspicious_config_hold,
        allow_emptying: args.allow_emptying_config,
    };
    let settings = Settings {
        paths: args.files,
        identity,
        default_namespace: args.namespace,
        allow_any: args.allow_any,
        allow_any_to: args.allow_any_to,
        listener: listener_limits,
        reload,
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
        Err(e) => {
            for f in e.findings() {
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
