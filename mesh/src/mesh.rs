//! [`Mesh`]: a ready tower `Layer` built from a [`Config`] and a proxy identity.

use std::sync::{Arc, Mutex};

use mesh_route::Identity;
use mesh_tower::{Endpoint, MeshLayer, MeshService, Options};

use crate::config::Config;
use crate::error::{Error, Warning};
use crate::handle::Handle;

/// Istio's traffic management as a tower [`Layer`](tower::Layer): build it with
/// [`Mesh::sidecar`] or [`Mesh::gateway`], wrap any HTTP service with it (an axum `Router`'s
/// `.layer(..)`, tower's `ServiceBuilder`), and reload it through its [`handle`](Self::handle).
///
/// The wrapped (inner) service answers passthrough requests (hosts no resource knows),
/// and every route's destination when no backend is registered at all. Once any backend
/// is registered, a route whose destination host has none is answered 503
/// `no healthy upstream` (flag `UH`), as Envoy answers, and [`warnings`](Self::warnings)
/// lists those hosts at build time.
#[derive(Clone, Debug)]
pub struct Mesh {
    layer: MeshLayer,
    handle: Handle,
    warnings: Arc<[Warning]>,
}

impl Mesh {
    /// A builder for a sidecar of a workload in `namespace` (no labels).
    pub fn sidecar(namespace: impl Into<String>) -> MeshBuilder {
        Mesh::builder(Identity::sidecar(namespace))
    }

    /// A builder for the Istio (or Gateway API) Gateway `namespace/name`.
    pub fn gateway(namespace: impl Into<String>, name: impl Into<String>) -> MeshBuilder {
        Mesh::builder(Identity::gateway(namespace, name))
    }

    /// A builder for any proxy identity (a sidecar with labels, for `sourceLabels`).
    pub fn builder(identity: Identity) -> MeshBuilder {
        MeshBuilder {
            identity,
            config: Config::new(),
            options: Options::default(),
        }
    }

    /// The handle that reloads this layer and reads its metrics.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// What the configuration it was built with warns about (see [`Warning`]).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The underlying layer (for [`MeshLayer::errors`]: mesh errors as errors instead of
    /// Envoy's local replies).
    pub fn layer(&self) -> MeshLayer {
        self.layer.clone()
    }
}

impl<S> tower::Layer<S> for Mesh {
    type Service = MeshService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.layer.layer(inner)
    }
}

/// Builds a [`Mesh`]: YAML sources, backends, options, then [`build`](Self::build).
#[derive(Clone, Debug)]
pub struct MeshBuilder {
    identity: Identity,
    config: Config,
    options: Options,
}

impl MeshBuilder {
    /// Adds YAML (or JSON) text (see [`Config::yaml`]).
    pub fn yaml(mut self, text: impl Into<String>) -> Self {
        self.config = self.config.yaml(text);
        self
    }

    /// Adds a file or a folder (see [`Config::path`]).
    pub fn path(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.config = self.config.path(path);
        self
    }

    /// Registers an endpoint under a host name, short or not (see [`Config::backend`]).
    pub fn backend(mut self, name: impl Into<String>, endpoint: Endpoint) -> Self {
        self.config = self.config.backend(name, endpoint);
        self
    }

    /// Serves the ServiceEntries' hosts with their endpoints over HTTP (see
    /// [`Config::service_entry_endpoints`]).
    #[cfg(feature = "client")]
    pub fn service_entry_endpoints(mut self) -> Self {
        self.config = self.config.service_entry_endpoints();
        self
    }

    /// Replaces the sources and backends with `config`.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The layer's settings (bounds, timeouts, seed).
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Reads and compiles the configuration: a ready layer, or every error found.
    pub fn build(self) -> Result<Mesh, Error> {
        let compiled = self.config.compile(&self.identity)?;
        let layer = MeshLayer::with_options(compiled.table, compiled.backends, self.options);
        let handle = Handle {
            inner: layer.handle(),
            identity: Arc::new(self.identity),
            config: Arc::new(Mutex::new(self.config)),
        };
        Ok(Mesh {
            layer,
            handle,
            warnings: compiled.warnings.into(),
        })
    }
}
