//! The proxy: an HTTP/1.1 and h2c server whose every request goes through the mesh layer,
//! an admin server, hot reload and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::routing::{get, post};
use http::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use mesh_tower::body::{self, BoxBody};
use mesh_tower::client::{DestinationGuard, HttpClient, Refused};
use mesh_tower::{ClientAddr, MeshHandle, MeshLayer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::{Layer, ServiceExt, service_fn};

use crate::config::{ConfigError, Settings, SpecJson, Summary, load};
use crate::listener::{self, Gate};
use crate::reload::{fingerprint, spawn_reloader};

/// Counters of the proxy itself.
#[derive(Debug, Default)]
struct ProxyStats {
    reloads_applied: AtomicU64,
    reloads_rejected: AtomicU64,
    reloads_suspicious: AtomicU64,
    generation: AtomicU64,
}

/// State shared by the servers, the reloader and the admin endpoints.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) settings: Settings,
    handle: MeshHandle,
    client: HttpClient,
    summary: RwLock<Summary>,
    stats: ProxyStats,
    draining: AtomicBool,
    gate: Arc<Gate>,
}

/// A running proxy, for tests and embedding: its addresses and a way to stop it.
#[derive(Debug)]
pub struct Running {
    /// The address the proxy listens on.
    pub addr: SocketAddr,
    /// The admin address, if any.
    pub admin_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    done: tokio::task::JoinHandle<()>,
    state: Arc<State>,
}

impl Running {
    /// Asks the proxy to stop gracefully and waits until in-flight requests are done: the
    /// listener closes at once, `/ready` answers 503 while draining, and the admin server
    /// stops last.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.done.await;
    }

    /// The mesh layer's handle (metrics, table).
    pub fn handle(&self) -> &MeshHandle {
        &self.state.handle
    }

    /// Reloads the configuration now; returns the findings when it is rejected. An explicit
    /// reload applies a valid configuration even if it lost every resource of a kind (the
    /// watcher holds such a change back, see [`crate::reload`]).
    pub fn reload(&self) -> Result<u64, ReloadError> {
        match reload_with(&self.state, Check::AllowSuspicious, None) {
            Outcome::Applied(g) => Ok(g),
            Outcome::Rejected(e) => Err(ReloadError::Rejected(e)),
            Outcome::Suspicious(kinds) => Err(ReloadError::Suspicious { kinds }),
            Outcome::Changed => Err(ReloadError::Changed),
        }
    }
}

/// Why a reload did not apply a configuration: the one serving keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The configuration is invalid.
    #[error(transparent)]
    Rejected(#[from] ConfigError),
    /// Valid, but it lost every resource of these kinds (a file being written?).
    #[error("the new configuration has no {} left (it had some)", .kinds.join(", "))]
    Suspicious {
        /// The kinds emptied.
        kinds: Vec<String>,
    },
    /// The files changed while they were loaded.
    #[error("the configuration changed while loading")]
    Changed,
}

impl ReloadError {
    /// Every finding, one line each (for a rejected configuration, as `meshctl validate`
    /// prints them).
    pub fn findings(&self) -> Vec<String> {
        match self {
            ReloadError::Rejected(e) => e.findings(),
            ReloadError::Suspicious { kinds } => kinds
                .iter()
                .map(|k| format!("the new configuration has no {k} left (it had some)"))
                .collect(),
            ReloadError::Changed => vec![self.to_string()],
        }
    }
}

/// Why the proxy did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listener's address cannot be read.
    #[error("cannot read the listen address: {0}")]
    Listener(#[source] std::io::Error),
}

impl StartError {
    /// Every finding, one line each.
    pub fn findings(&self) -> Vec<String> {
        match self {
            StartError::Config(e) => e.findings(),
            StartError::Listener(_) => vec![self.to_string()],
        }
    }
}

/// The fallback for requests the mesh does not send to a registered endpoint (a routed
/// destination without endpoints is the layer's 503 `UH`, see
/// `Options::inner_serves_unregistered`): a host no VirtualService claims gets 502 (`REGISTRY_ONLY`) or, with `allow_any`, is forwarded to
/// the Host itself over `client`, whose guard refuses the proxy's own addresses and local
/// ones (a refused destination gets 502, as `REGISTRY_ONLY`).
fn fallback(
    client: HttpClient,
    allow_any: bool,
) -> impl tower::Service<
    Request<BoxBody>,
    Response = Response<BoxBody>,
    Error = mesh_tower::BoxError,
    Future = impl Future<Output = Result<Response<BoxBody>, mesh_tower::BoxError>> + Send,
> + Clone
+ Send
+ Sync
+ 'static {
    service_fn(move |mut req: Request<BoxBody>| {
        let client = client.clone();
        async move {
            let reply = |status: StatusCode, text: &'static str| {
                let mut r = Response::new(body::full(text));
                *r.status_mut() = status;
                Ok(r)
            };
            if !allow_any {
                return reply(StatusCode::BAD_GATEWAY, "");
            }
            let host = req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let path = req
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            let Ok(uri) = format!("http://{host}{path}").parse::<http::Uri>() else {
                return reply(StatusCode::BAD_GATEWAY, "");
            };
            *req.uri_mut() = uri;
            *req.version_mut() = http::Version::HTTP_11;
            match client.request(req).await {
                Ok(resp) => Ok(resp.map(body::boxed)),
                Err(e) if refused(&e) => {
                    tracing::debug!(host, error = %error_chain(&e), "allow-any destination refused");
                    reply(StatusCode::BAD_GATEWAY, "")
                }
                Err(e) => Err(e.into()),
            }
        }
    })
}

/// Whether an error comes from the destination guard (a refused address, or a name that
/// resolves only to refused addresses).
fn refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.downcast_ref::<Refused>().is_some() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::PermissionDenied {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        out.push_str(": ");
        out.push_str(&err.to_string());
        cur = err.source();
    }
    out
}

/// How strictly a reload checks a new configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// Refuse a configuration that lost every resource of a kind.
    Strict,
    /// Apply it.
    AllowSuspicious,
}

/// What a reload did.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Applied, with this generation.
    Applied(u64),
    /// Invalid: why.
    Rejected(ConfigError),
    /// Valid, but it lost every resource of these kinds.
    Suspicious(Vec<String>),
    /// The files changed while they were loaded.
    Changed,
}

/// The kinds of resources that a configuration had and `next` has none of.
fn emptied_kinds(before: &[String], next: &[String]) -> Vec<String> {
    let kind = |r: &String| r.split(' ').next().unwrap_or_default().to_owned();
    let mut had: Vec<String> = before.iter().map(kind).collect();
    had.sort();
    had.dedup();
    had.into_iter()
        .filter(|k| !next.iter().any(|r| kind(r) == *k))
        .collect()
}

/// Loads the configuration and applies it unless it is invalid, or (with `Check::Strict`)
/// it lost every resource of a kind, or the files no longer match `expected` (a
/// fingerprint taken when they were stable).
pub(crate) fn reload_with(state: &State, check: Check, expected: Option<u64>) -> Outcome {
    let generation = state.stats.generation.load(Ordering::Relaxed) + 1;
    let config = match load(&state.settings, &state.client, generation) {
        Ok(c) => c,
        Err(error) => {
            if expected.is_some_and(|fp| fp != fingerprint(&state.settings.paths)) {
                return Outcome::Changed;
            }
            state.stats.reloads_rejected.fetch_add(1, Ordering::Relaxed);
            for f in error.findings() {
                tracing::warn!(finding = %f, "configuration rejected; the previous one keeps serving");
            }
            return Outcome::Rejected(error);
        }
    };
    if expected.is_some_and(|fp| fp != fingerprint(&state.settings.paths)) {
        return Outcome::Changed;
    }
    let emptied = match state.summary.read() {
        Ok(s) => emptied_kinds(&s.resources, &config.summary.resources),
        Err(_) => Vec::new(),
    };
    if !emptied.is_empty() {
        if check == Check::Strict {
            state
                .stats
                .reloads_suspicious
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                kinds = ?emptied,
                hold = ?state.settings.reload.suspicious_hold,
                "configuration held back: it lost every resource of a kind (a file being written?); \
                 it is applied if it stays unchanged for the hold time"
            );
            return Outcome::Suspicious(emptied);
        }
        tracing::warn!(kinds = ?emptied, "applying a configuration that lost every resource of a kind");
    }
    // One snapshot: no request decides with the new table and dispatches to the old
    // backends, or the reverse.
    state.handle.swap(config.table, config.backends);
    if let Ok(mut s) = state.summary.write() {
        *s = config.summary;
    }
    state.stats.generation.store(generation, Ordering::Relaxed);
    state.stats.reloads_applied.fetch_add(1, Ordering::Relaxed);
    tracing::info!(generation, "configuration applied");
    Outcome::Applied(generation)
}

/// Starts the proxy on `listener` (and the admin server on `admin`), with the initial
/// configuration; fails if that configuration is invalid.
pub async fn start(
    settings: Settings,
    listener: TcpListener,
    admin: Option<TcpListener>,
) -> Result<Running, StartError> {
    let addr = listener.local_addr().map_err(StartError::Listener)?;
    let admin_addr = admin.as_ref().and_then(|a| a.local_addr().ok());
    // Never send a request to one of our own listeners: it would come back, for ever.
    let own: Vec<SocketAddr> = std::iter::once(addr).chain(admin_addr).collect();
    // Each worker gets upstream connections of its own, as Envoy's workers do, so that a
    // request, its upstream connection and its response stay on the worker's thread. The
    // clients live as long as the proxy: a reload builds new backends over the same
    // connections.
    let client = HttpClient::per_worker(
        DestinationGuard::new().refusing_own(own.clone()),
        settings.workers,
    );
    let passthrough = HttpClient::per_worker(
        DestinationGuard::new()
            .refusing_own(own)
            .refusing_local(settings.allow_any_to.iter().copied()),
        settings.workers,
    );
    // Taken before loading, so that a change racing the first load is seen as a change.
    let loaded = fingerprint(&settings.paths);
    let config = load(&settings, &client, 1)?;
    let mut options = settings.options.clone();
    if options.listener_port.is_none() && !config.gateway_ports.is_empty() {
        // A Gateway server's port is its Service port; the pod listens elsewhere. With one
        // HTTP server port, requests on this listener are matched as that port; with
        // several, as the listen port. A sidecar keeps the port of each request's
        // authority: the port the client meant to reach, as the original destination port
        // of a sidecar's outbound listener (never this listener's own port, which would
        // send a service's default route back here).
        options.listener_port = Some(match config.gateway_ports.as_slice() {
            [only] => *only,
            _ => addr.port(),
        });
    }
    // The fallback below is no upstream: a routed destination without endpoints is the
    // layer's 503 `UH`, as in Envoy, with or without backends for other hosts.
    options.inner_serves_unregistered = false;
    let stream_idle_timeout = options.stream_idle_timeout;
    let layer = MeshLayer::with_options(config.table, config.backends, options);
    let state = Arc::new(State {
        handle: layer.handle(),
        client,
        summary: RwLock::new(config.summary),
        stats: ProxyStats::default(),
        draining: AtomicBool::new(false),
        gate: Gate::new(settings.listener.max_connections),
        settings,
    });
    state.stats.generation.store(1, Ordering::Relaxed);
    let service = layer.layer(fallback(passthrough, state.settings.allow_any));
    let builder = listener::builder(&state.settings.listener, stream_idle_timeout);
    let (stop, stopped) = watch::channel(false);

    let watcher = spawn_reloader(state.clone(), stopped.clone(), loaded);
    // The admin server outlives the drain, so that `/ready` answers 503 while in-flight
    // requests finish (as Envoy's admin does); it stops once the proxy has drained.
    let (drained, drained_rx) = watch::channel(false);
    let admin_task = admin.map(|admin| {
        let router = admin_router(state.clone());
        let mut drained_rx = drained_rx;
        tokio::spawn(async move {
            let _ = axum::serve(admin, router)
                .with_graceful_shutdown(async move { stopped_signal(&mut drained_rx).await })
                .await;
        })
    });
    let st = state.clone();
    let workers = state.settings.workers;
    let done = tokio::spawn(async move {
        if workers == 0 {
            serve(listener, builder, service, stopped, &st).await;
        } else {
            serve_on_workers(workers, listener, builder, service, stopped, &st).await;
        }
        drop(watcher);
        let _ = drained.send(true);
        if let Some(admin_task) = admin_task {
            let _ = tokio::time::timeout(Duration::from_secs(5), admin_task).await;
        }
    });
    Ok(Running {
        addr,
        admin_addr,
        stop,
        done,
        state,
    })
}

async fn serve<S>(
    listener: TcpListener,
    builder: hyper_util::server::conn::auto::Builder<TokioExecutor>,
    service: S,
    mut stopped: watch::Receiver<bool>,
    state: &State,
) where
    S: tower::Service<
            Request<listener::RequestBody>,
            Response = Response<BoxBody>,
            Error = Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors, typically: wait rather than spin.
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(admitted) = state.gate.admit(&stream) else { continue };
                let _ = stream.set_nodelay(true);
                let inner = service.clone();
                let limit = state.settings.listener.max_request_headers_bytes;
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let version = req.version();
                    let mut req = req.map(|b| listener::RequestBody::new(b, version));
                    let too_large = listener::head_too_large(&req, limit);
                    req.extensions_mut().insert(ClientAddr(peer));
                    let call = inner.clone().oneshot(req);
                    async move {
                        if too_large {
                            return Ok::<_, Infallible>(listener::head_too_large_reply());
                        }
                        call.await
                    }
                });
                let (io, conn_state) = listener::Io::new(stream);
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(svc))
                    .into_owned();
                let conn = graceful.watch(conn);
                let first_byte = state
                    .settings
                    .listener
                    .head_timeout(state.settings.options.stream_idle_timeout);
                tokio::spawn(async move {
                    let _admitted = admitted;
                    let mut conn = std::pin::pin!(conn);
                    // hyper's head timer covers a head that has started and the wait for
                    // the next request on a keep-alive connection, but the server first
                    // reads a byte to tell HTTP/1.1 from h2c, with no timer: a connection
                    // that has sent nothing by the head timeout is closed (dropped) here.
                    let first_byte = async {
                        match first_byte {
                            Some(t) => tokio::time::sleep(t).await,
                            None => std::future::pending().await,
                        }
                    };
                    let served = tokio::select! {
                        served = conn.as_mut() => Some(served),
                        () = first_byte => None,
                    };
                    let served = match served {
                        None if conn_state.ever_read() => Some(conn.as_mut().await),
                        other => other,
                    };
                    if let Some(Err(e)) = served {
                        // hyper closes silently when a head does not arrive in time; Envoy
                        // answers a started request with 408.
                        if listener::is_head_timeout(&*e) && conn_state.has_read() {
                            conn_state.reply_on_close(listener::HEAD_TIMEOUT_REPLY);
                        }
                    }
                });
            }
            _ = stopped_signal(&mut stopped) => break,
        }
    }
    state.draining.store(true, Ordering::Relaxed);
    drop(listener);
    // In-flight requests finish; connections close when idle. Bounded wait.
    let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
}

/// Serves `listener` from `workers` threads, each running [`serve`] on a single-threaded
/// runtime of its own on a clone of the listening socket (the kernel hands each accepted
/// connection to one of them), and sending upstream over its own connections
/// ([`mesh_tower::client::bind_thread_to_worker`]); returns when all have drained.
async fn serve_on_workers<S>(
    workers: usize,
    listener: TcpListener,
    builder: hyper_util::server::conn::auto::Builder<TokioExecutor>,
    service: S,
    stopped: watch::Receiver<bool>,
    state: &Arc<State>,
) where
    S: tower::Service<
            Request<listener::RequestBody>,
            Response = Response<BoxBody>,
            Error = Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let std_listener = match listener.into_std() {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot hand the listener to the workers");
            return;
        }
    };
    let mut finished = Vec::with_capacity(workers);
    for i in 0..workers {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        finished.push(rx);
        let socket = match std_listener.try_clone() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(worker = i, error = %e, "cannot clone the listener");
                continue;
            }
        };
        let (service, stopped, state) = (service.clone(), stopped.clone(), state.clone());
        let builder = builder.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("mesh-worker-{i}"))
            .spawn(move || {
                mesh_tower::client::bind_thread_to_worker(i);
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(rt) => rt.block_on(async move {
                        match TcpListener::from_std(socket) {
                            Ok(l) => serve(l, builder, service, stopped, &state).await,
                            Err(e) => tracing::error!(worker = i, error = %e, "listener"),
                        }
                    }),
                    Err(e) => tracing::error!(worker = i, error = %e, "runtime"),
                }
                let _ = tx.send(());
            });
        if let Err(e) = spawned {
            tracing::error!(worker = i, error = %e, "cannot start a worker thread");
        }
    }
    drop(std_listener);
    for rx in finished {
        // An error means the worker never started or has ended: either way it is done.
        let _ = rx.await;
    }
}

/// Resolves when the stop signal is set (the `Ref` of `wait_for` is not `Send`, so it is
/// dropped here rather than held across a `select!`).
pub(crate) async fn stopped_signal(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// The automated canaries' state, as `/config` shows it under `rollouts`.
fn rollouts_json(handle: &MeshHandle) -> serde_json::Value {
    handle
        .rollouts()
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "virtualService": r.virtual_service,
                "rule": r.rule,
                "stable": {"destination": r.stable, "weight": r.stable_weight},
                "canary": {"destination": r.canary, "weight": r.weight},
                "state": r.state.as_str(),
                "intervals": r.intervals,
                "verdict": r.verdict,
            })
        })
        .collect()
}

fn admin_router(state: Arc<State>) -> axum::Router {
    let metrics = {
        let state = state.clone();
        move || {
            let state = state.clone();
            async move {
                let mut text = state.handle.metrics().encode();
                let eof = text.rfind("# EOF").unwrap_or(text.len());
                text.truncate(eof);
                let s = &state.stats;
                text.push_str(&format!(
                    "# HELP mesh_proxy_config_reloads Configuration reloads: applied, rejected (invalid), or held back as suspicious (a kind of resource emptied).\n# TYPE mesh_proxy_config_reloads counter\nmesh_proxy_config_reloads_total{{result=\"applied\"}} {}\nmesh_proxy_config_reloads_total{{result=\"rejected\"}} {}\nmesh_proxy_config_reloads_total{{result=\"suspicious\"}} {}\n# HELP mesh_proxy_config_generation Generation of the active configuration.\n# TYPE mesh_proxy_config_generation gauge\nmesh_proxy_config_generation {}\n# HELP mesh_proxy_downstream_cx_active Client connections open.\n# TYPE mesh_proxy_downstream_cx_active gauge\nmesh_proxy_downstream_cx_active {}\n# HELP mesh_proxy_downstream_cx_overflow Client connections reset at the connection limit.\n# TYPE mesh_proxy_downstream_cx_overflow counter\nmesh_proxy_downstream_cx_overflow_total {}\n# EOF\n",
                    s.reloads_applied.load(Ordering::Relaxed),
                    s.reloads_rejected.load(Ordering::Relaxed),
                    s.reloads_suspicious.load(Ordering::Relaxed),
                    s.generation.load(Ordering::Relaxed),
                    state.gate.active(),
                    state.gate.overflow(),
                ));
                (
                    [(
                        http::header::CONTENT_TYPE,
                        mesh_tower::metrics::CONTENT_TYPE,
                    )],
                    text,
                )
            }
        }
    };
    let config = {
        let state = state.clone();
        move || {
            let state = state.clone();
            async move {
                let summary = state.summary.read().map(|s| s.clone()).ok();
                axum::Json(config_json(summary, &state.handle))
            }
        }
    };
    let candidate = candidate_router(state.clone());
    let ready = move || {
        let state = state.clone();
        async move {
            if state.draining.load(Ordering::Relaxed) {
                (StatusCode::SERVICE_UNAVAILABLE, "draining")
            } else {
                (StatusCode::OK, "ready")
            }
        }
    };
    axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/config", get(config))
        .route("/ready", get(ready))
        .merge(candidate)
}

/// `/config`: the summary, the automated canaries and the candidate. Written as the
/// `serde_json::Value` of it all would be (object keys sorted), except that the resources'
/// JSON is written from its text ([`SpecJson`]) rather than built into a tree.
fn config_json(summary: Option<Summary>, handle: &MeshHandle) -> ConfigBody {
    let spec = summary.as_ref().map(|s| s.spec.clone());
    let summary = summary.map(|s| Summary {
        spec: SpecJson::null(),
        ..s
    });
    let mut json = serde_json::to_value(summary).unwrap_or_default();
    if let Some(object) = json.as_object_mut() {
        object.insert("rollouts".into(), rollouts_json(handle));
        object.insert("candidate".into(), candidate_json(handle));
    }
    ConfigBody { json, spec }
}

/// The body of `/config`: `json` with its `spec` entry (`null` there) written as `spec`.
struct ConfigBody {
    json: serde_json::Value,
    spec: Option<SpecJson>,
}

impl serde::Serialize for ConfigBody {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match (&self.json, &self.spec) {
            (serde_json::Value::Object(map), Some(spec)) => {
                // The map's own order: the order `serde_json::Value` writes it in.
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    if k == "spec" {
                        out.serialize_entry(k, spec)?;
                    } else {
                        out.serialize_entry(k, v)?;
                    }
                }
                out.end()
            }
            (json, _) => json.serialize(serializer),
        }
    }
}

/// The report of the configuration candidate as JSON (`null` without one).
fn candidate_json(handle: &MeshHandle) -> serde_json::Value {
    let Some(r) = handle.candidate() else {
        return serde_json::Value::Null;
    };
    let samples: Vec<serde_json::Value> = r
        .samples
        .iter()
        .map(|s| {
            serde_json::json!({
                "method": s.method,
                "host": s.host,
                "path": s.path,
                "servingRule": s.serving_rule,
                "candidateRule": s.candidate_rule,
                "differences": s.differences,
            })
        })
        .collect();
    serde_json::json!({"compared": r.compared, "differing": r.differing, "unexpected": r.unexpected, "samples": samples})
}

/// The admin port's configuration candidate: `POST /candidate` with YAML (validated and
/// compiled as the live configuration is; axum's 2 MB body limit) runs it beside the
/// serving table; `GET /candidate` reports the differences; `POST /candidate/promote` serves
/// its route table (the upstreams stay those of the live configuration, and the next
/// change of the live files replaces it: copy the candidate there to keep it);
/// `DELETE /candidate` stops comparing.
fn candidate_router(state: Arc<State>) -> axum::Router {
    let set = {
        let state = state.clone();
        move |body: String| {
            let state = state.clone();
            async move {
                match crate::config::candidate(&state.settings, &body) {
                    Ok(table) => {
                        state.handle.set_candidate(table);
                        tracing::info!("configuration candidate set");
                        (StatusCode::OK, "candidate set\n".to_owned())
                    }
                    Err(e) => (
                        StatusCode::BAD_REQUEST,
                        format!("candidate refused:\n{}\n", e.findings().join("\n")),
                    ),
                }
            }
        }
    };
    let report = {
        let state = state.clone();
        move || {
            let state = state.clone();
            async move { axum::Json(candidate_json(&state.handle)) }
        }
    };
    let promote = {
        let state = state.clone();
        move || {
            let state = state.clone();
            async move {
                if state.handle.promote_candidate() {
                    tracing::info!("configuration candidate promoted");
                    (StatusCode::OK, "candidate promoted\n")
                } else {
                    (StatusCode::NOT_FOUND, "no candidate\n")
                }
            }
        }
    };
    let drop_candidate = move || {
        let state = state.clone();
        async move {
            state.handle.drop_candidate();
            (StatusCode::OK, "candidate dropped\n")
        }
    };
    axum::Router::new()
        .route("/candidate", post(set).get(report).delete(drop_candidate))
        .route("/candidate/promote", post(promote))
}
