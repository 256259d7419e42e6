//! Why a configuration was rejected (the serving one is kept), and what a compiled one
//! warns about.

use std::fmt;

/// A configuration that cannot serve: nothing was swapped, the layer keeps the
/// configuration it had.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The YAML could not be read (syntax, unknown fields, wrong types, unreadable files,
    /// the same resource twice): every error, each with its file, line and field path.
    #[error(transparent)]
    Load(#[from] LoadErrors),
    /// The resources were read but Istio would reject them, or they use something this
    /// engine cannot execute: every problem, each naming resource, field path and place.
    #[error(transparent)]
    Compile(#[from] mesh_route::CompileError),
}

/// Every error of reading a configuration's YAML.
#[derive(Debug, thiserror::Error)]
pub struct LoadErrors {
    /// The errors, in the order the sources were read.
    pub errors: Vec<mesh_model::LoadError>,
}

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} error(s) reading the configuration",
            self.errors.len()
        )?;
        if let Some(first) = self.errors.first() {
            write!(f, "; first: {first}")?;
        }
        Ok(())
    }
}

/// Something that compiled but will not behave as the configuration's author may expect.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Warning {
    /// The route table's own warning: compiled, but not executed, or not as in a mesh.
    #[error("{0}")]
    Table(mesh_route::Warning),
    /// A backend was registered for a host no route forwards or mirrors to (a misspelled
    /// name?): its endpoints receive nothing.
    #[error(
        "backend {name:?} (host {host}) is not the destination of any route: its endpoints receive no requests (misspelled?)"
    )]
    UnusedBackend {
        /// The name it was registered under.
        name: String,
        /// The host that name resolves to.
        host: String,
    },
    /// The layer has backends, but these destination hosts have no registered endpoints:
    /// requests routed to them are answered 503 `no healthy upstream` (flag `UH`), as Envoy
    /// answers for a cluster without endpoints.
    #[error(
        "destination host(s) without registered endpoints (requests routed there get 503 no healthy upstream, UH): {}",
        .hosts.join(", ")
    )]
    NoEndpoints {
        /// The hosts, sorted.
        hosts: Vec<String>,
    },
}
