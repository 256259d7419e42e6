//! What every example is made of: a scenario compiled for one proxy identity, in-process
//! backends that answer with their name and version (and count their calls), and an axum
//! app with the mesh as its layer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use mesh_route::{CompileOptions, Identity, RouteTable};
use mesh_tower::body::BoxBody;
use mesh_tower::{Backends, BoxError, Endpoint, MeshHandle, MeshLayer, Options};
use tower::{Service, ServiceExt};

/// The error type of the examples.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Loads a scenario's YAML and compiles it for `identity`.
pub fn compile(yaml: &str, identity: &Identity) -> Result<RouteTable, Error> {
    let resources = mesh_model::load_str(yaml)?;
    Ok(RouteTable::compile(
        &resources,
        identity,
        &CompileOptions::default(),
    )?)
}

/// An example app: the axum router to serve, the mesh's handle (metrics, hot swap) and the
/// call counts of its backends.
#[derive(Clone, Debug)]
pub struct App {
    /// The app: the mesh layer over a fallback for hosts without backends.
    pub router: Router,
    /// The layer's handle.
    pub handle: MeshHandle,
    calls: Arc<BTreeMap<String, Arc<AtomicU64>>>,
}

impl App {
    /// Requests the endpoint `id` has received so far (mirrored copies and retries included).
    pub fn calls(&self, id: &str) -> u64 {
        self.calls.get(id).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

/// An in-process backend answering `<app> <version>` with the path and Host it saw in
/// `x-upstream-path` and `x-upstream-host`: an axum `Router`, as a real service would be.
pub fn version_backend(app: &str, version: &str) -> Router {
    let text = format!("{app} {version}\n");
    Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
        let text = text.clone();
        async move {
            let host = headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_owned();
            (
                [
                    ("x-upstream-path", uri.to_string()),
                    ("x-upstream-host", host),
                ],
                text,
            )
        }
    })
}

/// Backends being registered for an example, each with a call counter.
#[derive(Debug, Default)]
pub(crate) struct Fleet {
    backends: Backends,
    calls: BTreeMap<String, Arc<AtomicU64>>,
}

impl Fleet {
    pub(crate) fn new() -> Self {
        Fleet::default()
    }

    /// Registers `service` as the endpoint `id` of `host` with `labels`.
    pub(crate) fn endpoint<S, B>(
        &mut self,
        host: &str,
        id: &str,
        labels: &[(&str, &str)],
        service: S,
    ) where
        S: Service<Request<BoxBody>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: axum::body::HttpBody<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let counter = self.calls.entry(id.to_owned()).or_default().clone();
        let counted = service.map_request(move |req: Request<BoxBody>| {
            counter.fetch_add(1, Ordering::Relaxed);
            req
        });
        self.backends
            .add(host, Endpoint::new(id, labels.iter().copied(), counted));
    }

    /// Registers a [`version_backend`] as the endpoint `id` of `host`, labelled
    /// `version: <version>`.
    pub(crate) fn version(&mut self, host: &str, id: &str, app: &str, version: &str) {
        self.endpoint(
            host,
            id,
            &[("app", app), ("version", version)],
            version_backend(app, version),
        );
    }

    /// The axum app: `table` routes with these backends; hosts without backends get a 502
    /// that says which Host header to send.
    pub(crate) fn app(self, table: RouteTable, options: Options) -> App {
        let layer = MeshLayer::with_options(table, self.backends, options);
        let handle = layer.handle();
        let router = Router::new().fallback(no_backend).layer(layer);
        App {
            router,
            handle,
            calls: Arc::new(self.calls),
        }
    }
}

async fn no_backend(headers: HeaderMap) -> (StatusCode, String) {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    (
        StatusCode::BAD_GATEWAY,
        format!(
            "no backend for Host {host:?} in this example: send the Host of a service, \
             e.g. curl -H 'Host: reviews'\n"
        ),
    )
}
