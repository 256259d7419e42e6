//! Reading the configuration: Istio and Gateway API YAML. Resources are loaded, validated
//! with Istio's rules (and the Gateway API CRDs'), compiled into a route table for the
//! proxy's identity, and their ServiceEntry endpoints become the upstreams.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use mesh_load::LoadFiles as _;
use mesh_model::validate::{Severity, validate};
use mesh_model::{Loader, Resources};
use mesh_route::{CompileOptions, Identity, RouteTable};
use mesh_tower::Backends;
use mesh_tower::client::HttpClient;
use serde::Serialize;
use serde_json::value::RawValue;

/// What the proxy is and reads.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Files and directories of Istio YAML.
    pub paths: Vec<PathBuf>,
    /// The proxy identity: a Gateway, or a sidecar with namespace and labels.
    pub identity: Identity,
    /// Namespace of resources that name none.
    pub default_namespace: String,
    /// Forward requests for hosts no VirtualService or ServiceEntry knows to the Host
    /// itself (Istio's `ALLOW_ANY`); otherwise answer 502 (`REGISTRY_ONLY`).
    ///
    /// Istio's `ALLOW_ANY` forwards a connection to its original destination (the address
    /// the client connected to, which iptables redirected to the sidecar), never to what
    /// the Host header says. mesh-proxy has no original destination, so it forwards to the
    /// Host: any client can then make the proxy connect anywhere it can reach
    /// (server-side request forgery). The proxy's own addresses are always refused, and
    /// loopback, link-local (cloud metadata) and unspecified destinations are refused
    /// unless `allow_any_to` names them; a refused destination gets 502, as
    /// `REGISTRY_ONLY`.
    pub allow_any: bool,
    /// Loopback, link-local or unspecified destinations that `allow_any` may still
    /// forward to: an address, with a port or for every port.
    pub allow_any_to: Vec<(std::net::IpAddr, Option<u16>)>,
    /// The listener's limits (request heads, connections).
    pub listener: crate::listener::ListenerLimits,
    /// How configuration changes are applied.
    pub reload: crate::reload::ReloadPolicy,
    /// Settings of the mesh layer.
    pub options: mesh_tower::Options,
    /// Threads that accept and serve connections, each with a single-threaded runtime of its
    /// own, as Envoy's workers: a connection, its requests and the upstream connections they
    /// use (each worker has its own, `mesh_tower::client::HttpClient::per_worker`) stay on
    /// one thread. 0 serves on the runtime that called `start` (tokio's work-stealing
    /// scheduler), with one set of upstream connections.
    pub workers: usize,
}

/// The active configuration, as `/config` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Increases with every applied configuration.
    pub generation: u64,
    /// When it was loaded (seconds since the Unix epoch).
    pub loaded_at_unix: u64,
    /// The proxy identity.
    pub identity: String,
    /// Every resource, as `Kind namespace/name`.
    pub resources: Vec<String>,
    /// The resources themselves, as JSON (kept as text: see [`SpecJson`]).
    pub spec: SpecJson,
    /// Hosts with upstream endpoints.
    pub upstream_hosts: Vec<String>,
    /// Warnings: what compiled but is not executed or differs from a mesh.
    pub warnings: Vec<String>,
}

/// The resources of a configuration as JSON: an array of every resource, each as
/// `serde_json::to_value` gives it (object keys sorted), kept as compact JSON text.
///
/// On a large table the text is a small fraction of the tree of `serde_json::Value`s it
/// stands for (1 000 VirtualServices of 10 rules: about 3 MB of text against 50-120 MB of
/// maps, strings and vectors), and the admin endpoint writes it out as it is. Serializing it
/// gives the same JSON as serializing the tree: to text, the text itself; to a
/// `serde_json::Value`, the tree.
#[derive(Clone, Debug)]
pub struct SpecJson(Arc<Box<RawValue>>);

impl SpecJson {
    /// The JSON text of `resources` (in the order of [`Summary::resources`]; a resource that
    /// cannot be serialized is left out).
    pub fn of(resources: &Resources) -> Self {
        let mut text = String::from("[");
        let mut push = |v: Result<serde_json::Value, serde_json::Error>| {
            // One resource's tree at a time: the text is all that stays.
            if let Ok(v) = v {
                if text.len() > 1 {
                    text.push(',');
                }
                text.push_str(&v.to_string());
            }
        };
        let r = resources;
        for x in &r.virtual_services {
            push(serde_json::to_value(x));
        }
        for x in &r.destination_rules {
            push(serde_json::to_value(x));
        }
        for x in &r.gateways {
            push(serde_json::to_value(x));
        }
        for x in &r.service_entries {
            push(serde_json::to_value(x));
        }
        let g = &r.gateway_api;
        for x in &g.gateways {
            push(serde_json::to_value(x));
        }
        for x in &g.gateway_classes {
            push(serde_json::to_value(x));
        }
        for x in &g.http_routes {
            push(serde_json::to_value(x));
        }
        for x in &g.grpc_routes {
            push(serde_json::to_value(x));
        }
        for x in &g.reference_grants {
            push(serde_json::to_value(x));
        }
        text.push(']');
        Self::from_text(text)
    }

    /// `null`: what `/config` writes in place of the text while it builds the rest.
    pub(crate) fn null() -> Self {
        Self::from_text("null".to_owned())
    }

    fn from_text(text: String) -> Self {
        // The text is JSON written by serde_json; should it ever not parse, `null` says so
        // rather than a panic.
        // Boxed, then shared: the text is not copied (an `Arc<RawValue>` would be a copy).
        SpecJson(Arc::new(RawValue::from_string(text).unwrap_or_default()))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The JSON as a tree of values (built on each call).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.0.get()).unwrap_or_default()
    }
}

impl Serialize for SpecJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RawValue::serialize(&**self.0, serializer)
    }
}

/// A configuration ready to serve.
#[derive(Debug)]
pub struct Config {
    /// The route table.
    pub table: RouteTable,
    /// The upstreams.
    pub backends: Backends,
    /// Its summary.
    pub summary: Summary,
    /// The HTTP server ports of the proxy's Gateway (empty for a sidecar).
    pub gateway_ports: Vec<u16>,
}

/// Why a configuration was not loaded: the one serving (if any) is kept.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Files that could not be read or parsed (each with file, line and field path).
    #[error("{} error(s) reading the configuration; first: {}", .0.len(), first(.0))]
    Load(Vec<mesh_model::LoadError>),
    /// Resources Istio's validation rejects.
    #[error("{} resource(s) Istio would reject; first: {}", .0.len(), first(.0))]
    Invalid(Vec<mesh_model::validate::Finding>),
    /// Resources that cannot be compiled into a route table.
    #[error(transparent)]
    Compile(#[from] mesh_route::CompileError),
}

fn first<T: std::fmt::Display>(items: &[T]) -> String {
    items.first().map(ToString::to_string).unwrap_or_default()
}

impl ConfigError {
    /// Every finding, one line each, as `meshctl validate` prints them.
    pub fn findings(&self) -> Vec<String> {
        match self {
            ConfigError::Load(errors) => errors.iter().map(ToString::to_string).collect(),
            ConfigError::Invalid(findings) => findings.iter().map(ToString::to_string).collect(),
            ConfigError::Compile(e) => e.problems.iter().map(ToString::to_string).collect(),
        }
    }
}

/// Loads, validates and compiles the configuration; an error holds every finding.
pub fn load(
    settings: &Settings,
    client: &HttpClient,
    generation: u64,
) -> Result<Config, ConfigError> {
    let loaded = Loader::new()
        .with_default_namespace(settings.default_namespace.clone())
        .load_paths(&settings.paths);
    let (resources, table) = check_and_compile(settings, loaded)?;
    finish(settings, client, generation, resources, table)
}

/// Loads, validates and compiles a configuration candidate given as YAML text (the admin
/// port's `POST /candidate`), for the proxy's identity.
pub fn candidate(settings: &Settings, text: &str) -> Result<RouteTable, ConfigError> {
    let loaded = Loader::new()
        .with_default_namespace(settings.default_namespace.clone())
        .load_str(text, None);
    check_and_compile(settings, loaded).map(|(_, table)| table)
}

/// Validation, then compilation for the proxy's identity.
fn check_and_compile(
    settings: &Settings,
    loaded: mesh_model::Loaded,
) -> Result<(Resources, RouteTable), ConfigError> {
    if !loaded.errors.is_empty() {
        return Err(ConfigError::Load(loaded.errors));
    }
    let invalid: Vec<_> = validate(&loaded.resources)
        .findings
        .into_iter()
        .filter(|f| f.severity == Severity::Error && f.code.is_none())
        .collect();
    if !invalid.is_empty() {
        return Err(ConfigError::Invalid(invalid));
    }
    let resources = loaded.resources;
    let table = RouteTable::compile(&resources, &settings.identity, &CompileOptions::default())?;
    Ok((resources, table))
}

fn finish(
    settings: &Settings,
    client: &HttpClient,
    generation: u64,
    resources: Resources,
    table: RouteTable,
) -> Result<Config, ConfigError> {
    let backends = Backends::from_endpoints(table.upstream_endpoints(), client);
    // The plain-HTTP ports of the proxy's Gateway: an Istio Gateway's HTTP servers, or a
    // Gateway API Gateway's HTTP listeners.
    let mut gateway_ports: Vec<u16> = match &settings.identity {
        Identity::Gateway { namespace, name } => resources
            .gateways
            .iter()
            .filter(|g| g.namespace() == namespace && g.name() == name)
            .flat_map(|g| g.spec.servers.iter())
            .filter_map(|s| s.port.as_ref())
            .filter(|p| {
                matches!(
                    p.protocol.to_ascii_uppercase().as_str(),
                    "HTTP" | "HTTP2" | "GRPC" | "GRPC-WEB"
                )
            })
            .filter_map(|p| u16::try_from(p.number).ok())
            .chain(
                resources
                    .gateway_api
                    .gateway(namespace, name)
                    .filter(|_| {
                        !resources
                            .gateways
                            .iter()
                            .any(|g| g.namespace() == namespace && g.name() == name)
                    })
                    .into_iter()
                    .flat_map(|g| g.spec.listeners.iter())
                    .filter(|l| l.protocol == "HTTP")
                    .filter_map(|l| u16::try_from(l.port).ok()),
            )
            .collect(),
        Identity::Sidecar { .. } => Vec::new(),
    };
    gateway_ports.sort_unstable();
    gateway_ports.dedup();
    let mut upstream_hosts: Vec<String> = backends.hosts().map(str::to_owned).collect();
    upstream_hosts.sort();
    let summary = Summary {
        generation,
        loaded_at_unix: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        identity: settings.identity.to_string(),
        resources: names(&resources),
        spec: SpecJson::of(&resources),
        upstream_hosts,
        warnings: table.warnings().iter().map(ToString::to_string).collect(),
    };
    Ok(Config {
        table,
        backends,
        summary,
        gateway_ports,
    })
}

fn names(r: &Resources) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(r.virtual_services.iter().map(|x| x.key().to_string()));
    out.extend(r.destination_rules.iter().map(|x| x.key().to_string()));
    out.extend(r.gateways.iter().map(|x| x.key().to_string()));
    out.extend(r.service_entries.iter().map(|x| x.key().to_string()));
    let g = &r.gateway_api;
    out.extend(g.gateways.iter().map(|x| x.key().to_string()));
    out.extend(g.gateway_classes.iter().map(|x| x.key().to_string()));
    out.extend(g.http_routes.iter().map(|x| x.key().to_string()));
    out.extend(g.grpc_routes.iter().map(|x| x.key().to_string()));
    out.extend(g.reference_grants.iter().map(|x| x.key().to_string()));
    out
}
