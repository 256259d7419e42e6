//! What a layer serves: YAML sources and backends, compiled together into a route table and
//! the endpoints of its hosts.

use std::path::PathBuf;

use mesh_load::LoadFiles as _;
use mesh_model::{Loaded, Loader};
use mesh_route::host::resolve_short_name;
use mesh_route::{CompileOptions, Identity, RouteTable};
use mesh_tower::{Backends, Endpoint};

use crate::error::{Error, LoadErrors, Warning};

/// One place YAML comes from.
#[derive(Clone, Debug)]
enum Source {
    /// YAML (or JSON) text.
    Text(String),
    /// A file, or a folder read recursively.
    Path(PathBuf),
}

/// A configuration: Istio YAML (strings, files, folders) and the backends its hosts are
/// served by. Cheap to build; nothing is read until it is compiled (by
/// [`MeshBuilder::build`](crate::MeshBuilder::build) or
/// [`Handle::reload`](crate::Handle::reload)).
#[derive(Clone, Debug, Default)]
pub struct Config {
    sources: Vec<Source>,
    backends: Vec<(String, Endpoint)>,
    #[cfg(feature = "client")]
    service_entry_endpoints: bool,
}

/// A compiled configuration, ready to swap in.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) table: RouteTable,
    pub(crate) backends: Backends,
    pub(crate) warnings: Vec<Warning>,
}

impl Config {
    /// An empty configuration (no resources: every request is passthrough).
    pub fn new() -> Self {
        Config::default()
    }

    /// Adds YAML (or JSON) text: one or more documents, as `kubectl apply -f` takes them.
    pub fn yaml(mut self, text: impl Into<String>) -> Self {
        self.sources.push(Source::Text(text.into()));
        self
    }

    /// Adds a file, or a folder: its `*.yaml`, `*.yml` and `*.json` files, recursively,
    /// sorted by name (a mounted ConfigMap's `..data` entries are skipped), as
    /// [`mesh_load::LoadFiles::load_paths`] reads them.
    pub fn path(mut self, path: impl Into<PathBuf>) -> Self {
        self.sources.push(Source::Path(path.into()));
        self
    }

    /// Registers an endpoint for the host `name` resolves to, as the table resolves its
    /// hosts (Istio's `ResolveShortnameToFQDN`): `shop` in the proxy's namespace `demo` is
    /// `shop.demo.svc.cluster.local`; a name with a dot is kept as written (lower-cased).
    /// Several endpoints of one host share its requests (subsets select them by label).
    pub fn backend(mut self, name: impl Into<String>, endpoint: Endpoint) -> Self {
        self.backends.push((name.into(), endpoint));
        self
    }

    /// Serves the hosts of the configuration's ServiceEntries (`STATIC` and `DNS`
    /// resolution) with their endpoints, over HTTP (hyper). Backends registered with
    /// [`backend`](Self::backend) for the same host are added to them.
    #[cfg(feature = "client")]
    pub fn service_entry_endpoints(mut self) -> Self {
        self.service_entry_endpoints = true;
        self
    }

    /// The same backends (and ServiceEntry setting) with `text` as the only source.
    pub(crate) fn with_yaml_only(&self, text: String) -> Config {
        Config {
            sources: vec![Source::Text(text)],
            ..self.clone()
        }
    }

    /// The resources of every source, or every error reading them. Resources without
    /// `metadata.namespace` are put in `namespace` (as `kubectl apply -n namespace`).
    fn load(&self, namespace: &str) -> Result<mesh_model::Resources, LoadErrors> {
        let loader = Loader::new().with_default_namespace(namespace);
        let mut all = Loaded::default();
        for source in &self.sources {
            let loaded = match source {
                Source::Text(text) => loader.load_str(text, None),
                Source::Path(path) => loader.load_paths(std::slice::from_ref(path)),
            };
            all.resources.extend(loaded.resources);
            all.errors.extend(loaded.errors);
        }
        // The same resource from two sources is an error, as within one.
        all.check_duplicates(loader.duplicates());
        all.into_result().map_err(|errors| LoadErrors { errors })
    }

    /// Reads and compiles the configuration for `identity`: the table, the backends by
    /// resolved host, and the warnings.
    pub(crate) fn compile(&self, identity: &Identity) -> Result<Compiled, Error> {
        let resources = self.load(identity.namespace())?;
        let table = RouteTable::compile(&resources, identity, &CompileOptions::default())?;
        #[cfg(feature = "client")]
        let mut backends = if self.service_entry_endpoints {
            Backends::from_endpoints(
                table.upstream_endpoints(),
                &mesh_tower::client::http_client(),
            )
        } else {
            Backends::new()
        };
        #[cfg(not(feature = "client"))]
        let mut backends = Backends::new();
        let mut registered = Vec::with_capacity(self.backends.len());
        for (name, endpoint) in &self.backends {
            let host = resolve_short_name(name, identity.namespace());
            backends.add(&host, endpoint.clone());
            registered.push((name.clone(), host));
        }
        let warnings = warnings(&table, &backends, &registered);
        Ok(Compiled {
            table,
            backends,
            warnings,
        })
    }
}

/// The table's warnings, backends no route reaches, and destinations without endpoints
/// when the layer has backends (see [`Warning`]).
pub(crate) fn warnings(
    table: &RouteTable,
    backends: &Backends,
    registered: &[(String, String)],
) -> Vec<Warning> {
    let mut out: Vec<Warning> = table
        .warnings()
        .iter()
        .cloned()
        .map(Warning::Table)
        .collect();
    let destinations = table.destination_hosts();
    let mut seen = std::collections::BTreeSet::new();
    for (name, host) in registered {
        if !destinations.contains(host.as_str()) && seen.insert(host) {
            out.push(Warning::UnusedBackend {
                name: name.clone(),
                host: host.clone(),
            });
        }
    }
    if !backends.is_empty() {
        let hosts: Vec<String> = destinations
            .iter()
            .filter(|h| backends.endpoints(h).is_none())
            .map(|h| (*h).to_owned())
            .collect();
        if !hosts.is_empty() {
            out.push(Warning::NoEndpoints { hosts });
        }
    }
    out
}
