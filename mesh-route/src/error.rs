//! Why a set of resources could not become a route table, and what it compiled with.

use std::fmt;

use mesh_model::ResourceKey;

/// One problem with one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The resource.
    pub resource: ResourceKey,
    /// The field path.
    pub path: String,
    /// What is wrong.
    pub kind: ProblemKind,
    /// Where it was read from (`file:line`), when known.
    pub origin: String,
}

impl Problem {
    /// What is wrong, as a sentence.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }
}

/// What is wrong with a resource (an error), or what compiled but is not executed as in a
/// mesh (a warning). Display gives the message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    /// Istio's validation (or the Gateway API CRDs') rejects the resource: its message.
    #[error("{message}")]
    Invalid {
        /// The validation's message.
        message: String,
    },
    /// A match, rewrite or CORS pattern does not compile.
    #[error(transparent)]
    Match(#[from] mesh_match::CompileError),
    /// A header operation cannot be executed as written.
    #[error(transparent)]
    Headers(#[from] crate::policy::headers::HeaderError),
    /// A direct response cannot be executed as written.
    #[error(transparent)]
    DirectResponse(#[from] crate::policy::direct::DirectResponseError),
    /// The sticky-split annotation cannot be read.
    #[error(transparent)]
    Sticky(#[from] crate::sticky::StickyKeyError),
    /// A redirect code Istio does not support.
    #[error(
        "Redirect Code {0} is not yet supported (Istio emits a route without an action, which Envoy rejects)"
    )]
    RedirectCode(u32),
    /// The gateway the table is compiled for is not in the configuration.
    #[error("the gateway this table is compiled for is not in the configuration")]
    MissingGateway,
    /// Compiled, but not executed, or not as in a mesh (a warning).
    #[error("{0}")]
    Note(String),
}

impl From<mesh_model::validate::Finding> for ProblemKind {
    fn from(f: mesh_model::validate::Finding) -> Self {
        ProblemKind::Invalid { message: f.message }
    }
}

impl From<String> for ProblemKind {
    fn from(note: String) -> Self {
        ProblemKind::Note(note)
    }
}

impl From<&str> for ProblemKind {
    fn from(note: &str) -> Self {
        ProblemKind::Note(note.to_owned())
    }
}

impl From<mesh_model::validate::Finding> for Problem {
    /// The problem of a validation finding (an error when the finding is one).
    fn from(f: mesh_model::validate::Finding) -> Self {
        Problem {
            resource: f.resource,
            path: f.path,
            origin: f.origin.to_string(),
            kind: ProblemKind::Invalid { message: f.message },
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.resource)?;
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.kind)?;
        if !self.origin.is_empty() {
            write!(f, " ({})", self.origin)?;
        }
        Ok(())
    }
}

/// The resources cannot be compiled: Istio would reject them, or they use something this
/// engine cannot execute. The table that is serving should be kept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) in the configuration; first: {}", .problems.len(), .problems.first().map(ToString::to_string).unwrap_or_default())]
pub struct CompileError {
    /// Every problem found.
    pub problems: Vec<Problem>,
}

/// Something that compiled but does not behave fully as in Istio, or is not executed.
pub type Warning = Problem;
