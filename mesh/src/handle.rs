//! [`Handle`]: reloads a running [`Mesh`](crate::Mesh) and reads its metrics.

use std::sync::{Arc, Mutex};

use mesh_route::{Identity, RouteTable};
use mesh_tower::{Backends, MeshHandle, Metrics};

use crate::config::Config;
use crate::error::{Error, Warning};

/// Reloads a running layer: [`reload`](Self::reload) a whole [`Config`], or
/// [`reload_yaml`](Self::reload_yaml) new YAML with the backends in use.
///
/// A reload compiles the new configuration first; if it is invalid nothing changes and the
/// error lists every finding. Otherwise the route table and the backends are swapped
/// together in one atomic store: a request is decided and dispatched with one
/// configuration, never the new table with the old backends (requests in flight finish on
/// the one they started with). Reloads through clones of one handle are applied one at a
/// time.
#[derive(Clone, Debug)]
pub struct Handle {
    pub(crate) inner: MeshHandle,
    pub(crate) identity: Arc<Identity>,
    /// The configuration serving (the last one applied).
    pub(crate) config: Arc<Mutex<Config>>,
}

impl Handle {
    /// Replaces the sources and backends with `config`: its warnings, or why it was
    /// rejected (then the serving configuration is kept).
    pub fn reload(&self, config: Config) -> Result<Vec<Warning>, Error> {
        let mut serving = self.config.lock().unwrap_or_else(|p| p.into_inner());
        self.apply(&mut serving, config)
    }

    /// Replaces the YAML with `text`, keeping the registered backends (their names are
    /// resolved again): its warnings, or why it was rejected (then the serving
    /// configuration is kept).
    pub fn reload_yaml(&self, text: impl Into<String>) -> Result<Vec<Warning>, Error> {
        let mut serving = self.config.lock().unwrap_or_else(|p| p.into_inner());
        let config = serving.with_yaml_only(text.into());
        self.apply(&mut serving, config)
    }

    /// Compiles `config` and swaps it in, under the lock of `serving`.
    fn apply(&self, serving: &mut Config, config: Config) -> Result<Vec<Warning>, Error> {
        let compiled = config.compile(&self.identity)?;
        self.inner.swap(compiled.table, compiled.backends);
        *serving = config;
        Ok(compiled.warnings)
    }

    /// Swaps in a table and backends compiled elsewhere, together, atomically.
    pub fn swap(&self, table: impl Into<Arc<RouteTable>>, backends: impl Into<Arc<Backends>>) {
        self.inner.swap(table, backends);
    }

    /// The route table serving.
    pub fn table(&self) -> Arc<RouteTable> {
        self.inner.table()
    }

    /// The backends serving, by resolved host.
    pub fn backends(&self) -> Arc<Backends> {
        self.inner.backends()
    }

    /// The layer's metrics (Istio's request metrics and the layer's own counters).
    pub fn metrics(&self) -> &Metrics {
        self.inner.metrics()
    }

    /// The lower-level handle of the layer.
    pub fn mesh_handle(&self) -> &MeshHandle {
        &self.inner
    }
}
