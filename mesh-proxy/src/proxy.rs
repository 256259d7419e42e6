//! The proxy: an HTTP/1.1 and h2c server whose every request goes through the mesh layer,
//! an admin server, hot reload and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::routing::get;
use http::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use mesh_tower::body::{self, BoxBody};
use mesh_tower::client::{HttpClient, http_client};
use mesh_tower::{ClientAddr, MeshHandle, MeshLayer, RouteInfo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::{Layer, ServiceExt, service_fn};

use crate::config::{Settings, Summary, load};

/// Counters of the proxy itself.
#[derive(Debug, Default)]
struct ProxyStats {
    reloads_applied: AtomicU64,
    reloads_rejected: AtomicU64,
    generation: AtomicU64,
}

/// State shared by the servers, the reloader and the admin endpoints.
#[derive(Debug)]
struct State {
    settings: Settings,
    handle: MeshHandle,
    client: HttpClient,
    summary: RwLock<Summary>,
    stats: ProxyStats,
    draining: AtomicBool,
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

    /// Reloads the configuration now; returns the findings when it is rejected.
    pub fn reload(&self) -> Result<u64, Vec<String>> {
        reload(&self.state)
    }
}

/// The fallback for requests the mesh does not send to a registered endpoint: a
/// destination without endpoints gets 503 (`no healthy upstream`); a host no
/// VirtualService claims gets 502 (`REGISTRY_ONLY`) or, with `allow_any`, is forwarded to
/// the Host itself.
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
            let info = req.extensions().get::<RouteInfo>().cloned();
            let routed = info.as_ref().is_some_and(|i| i.virtual_service.is_some());
            if routed || !allow_any {
                let (status, text) = if routed {
                    (StatusCode::SERVICE_UNAVAILABLE, "no healthy upstream")
                } else {
                    (StatusCode::BAD_GATEWAY, "")
                };
                let mut r = Response::new(body::full(text));
                *r.status_mut() = status;
                return Ok(r);
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
            *req.uri_mut() = format!("http://{host}{path}").parse()?;
            let resp = client.request(req).await?;
            Ok(resp.map(body::boxed))
        }
    })
}

fn reload(state: &State) -> Result<u64, Vec<String>> {
    let generation = state.stats.generation.load(Ordering::Relaxed) + 1;
    match load(&state.settings, &state.client, generation) {
        Ok(config) => {
            state.handle.swap_backends(config.backends);
            state.handle.swap_table(config.table);
            if let Ok(mut s) = state.summary.write() {
                *s = config.summary;
            }
            state.stats.generation.store(generation, Ordering::Relaxed);
            state.stats.reloads_applied.fetch_add(1, Ordering::Relaxed);
            tracing::info!(generation, "configuration applied");
            Ok(generation)
        }
        Err(findings) => {
            state.stats.reloads_rejected.fetch_add(1, Ordering::Relaxed);
            for f in &findings {
                tracing::warn!(finding = %f, "configuration rejected; the previous one keeps serving");
            }
            Err(findings)
        }
    }
}

/// Starts the proxy on `listener` (and the admin server on `admin`), with the initial
/// configuration; fails if that configuration is invalid.
pub async fn start(
    settings: Settings,
    listener: TcpListener,
    admin: Option<TcpListener>,
) -> Result<Running, Vec<String>> {
    let client = http_client();
    // Taken before loading, so that a change racing the first load is seen as a change.
    let loaded = fingerprint(&settings.paths);
    let config = load(&settings, &client, 1)?;
    let listen_port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut options = settings.options.clone();
    if options.listener_port.is_none() {
        // A Gateway server's port is its Service port; the pod listens elsewhere. With one
        // HTTP server port, requests on this listener are matched as that port.
        options.listener_port = Some(match config.gateway_ports.as_slice() {
            [only] => *only,
            _ => listen_port,
        });
    }
    let layer = MeshLayer::with_options(config.table, config.backends, options);
    let state = Arc::new(State {
        handle: layer.handle(),
        client: client.clone(),
        summary: RwLock::new(config.summary),
        stats: ProxyStats::default(),
        draining: AtomicBool::new(false),
        settings,
    });
    state.stats.generation.store(1, Ordering::Relaxed);
    let service = layer.layer(fallback(client, state.settings.allow_any));
    let addr = listener
        .local_addr()
        .map_err(|e| vec![format!("cannot read the listen address: {e}")])?;
    let admin_addr = admin.as_ref().and_then(|a| a.local_addr().ok());
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
            serve(listener, service, stopped, &st).await;
        } else {
            serve_on_workers(workers, listener, service, stopped, &st).await;
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
    service: S,
    mut stopped: watch::Receiver<bool>,
    state: &State,
) where
    S: tower::Service<
            Request<hyper::body::Incoming>,
            Response = Response<BoxBody>,
            Error = Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let svc = service.clone().map_request(move |mut req: Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ClientAddr(peer));
                    req
                });
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(svc))
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
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
/// connection to one of them); returns when all have drained.
async fn serve_on_workers<S>(
    workers: usize,
    listener: TcpListener,
    service: S,
    stopped: watch::Receiver<bool>,
    state: &Arc<State>,
) where
    S: tower::Service<
            Request<hyper::body::Incoming>,
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
        let spawned = std::thread::Builder::new()
            .name(format!("mesh-worker-{i}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(rt) => rt.block_on(async move {
                        match TcpListener::from_std(socket) {
                            Ok(l) => serve(l, service, stopped, &state).await,
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
async fn stopped_signal(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// A hash of what the loader would read from `paths`: the contents of the files given, and
/// of the `.yaml`, `.yml` and `.json` files under the directories given (missing files hash
/// as missing).
fn fingerprint(paths: &[PathBuf]) -> u64 {
    fn visit(path: &Path, top: bool, depth: usize, h: &mut DefaultHasher) {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                if depth > 16 {
                    return;
                }
                let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                    .map(|rd| rd.flatten().map(|e| e.path()).collect())
                    .unwrap_or_default();
                entries.sort();
                for e in entries {
                    visit(&e, false, depth + 1, h);
                }
            }
            Ok(_) => {
                let wanted = top
                    || path
                        .extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
                if wanted {
                    path.hash(h);
                    std::fs::read(path).ok().hash(h);
                }
            }
            Err(e) => {
                path.hash(h);
                e.kind().hash(h);
            }
        }
    }
    let mut h = DefaultHasher::new();
    for p in paths {
        visit(p, true, 0, &mut h);
    }
    h.finish()
}

/// Watches the configuration and reloads it when what the loader reads has changed. The
/// parent directory of a file is watched (editors and ConfigMap updates replace files), so
/// events for other files there, such as a log written next to the configuration, are
/// common: they are ignored unless the configuration's contents changed.
fn spawn_reloader(
    state: Arc<State>,
    mut stopped: watch::Receiver<bool>,
    mut loaded: u64,
) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(e) = event {
            if !e.kind.is_access() {
                let _ = tx.send(());
            }
        }
    })
    .ok()?;
    for p in &state.settings.paths {
        let (target, mode) = if p.is_dir() {
            (p.clone(), RecursiveMode::Recursive)
        } else {
            // Watch the directory: editors replace files rather than write them in place.
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| ".".into(), |d| d.to_path_buf());
            (dir, RecursiveMode::NonRecursive)
        };
        if let Err(e) = watcher.watch(&target, mode) {
            tracing::warn!(path = %target.display(), error = %e, "cannot watch for changes");
        }
    }
    tokio::spawn(async move {
        loop {
            tokio::select! {
                got = rx.recv() => {
                    if got.is_none() { break; }
                    // Let a burst of writes settle, then reload once.
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    while rx.try_recv().is_ok() {}
                    let now = fingerprint(&state.settings.paths);
                    if now != loaded {
                        loaded = now;
                        let _ = reload(&state);
                    }
                }
                _ = stopped_signal(&mut stopped) => break,
            }
        }
    });
    Some(watcher)
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
                    "# HELP mesh_proxy_config_reloads Configuration reloads, applied or rejected.\n# TYPE mesh_proxy_config_reloads counter\nmesh_proxy_config_reloads_total{{result=\"applied\"}} {}\nmesh_proxy_config_reloads_total{{result=\"rejected\"}} {}\n# HELP mesh_proxy_config_generation Generation of the active configuration.\n# TYPE mesh_proxy_config_generation gauge\nmesh_proxy_config_generation {}\n# EOF\n",
                    s.reloads_applied.load(Ordering::Relaxed),
                    s.reloads_rejected.load(Ordering::Relaxed),
                    s.generation.load(Ordering::Relaxed),
                ));
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
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
                axum::Json(summary)
            }
        }
    };
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
}
