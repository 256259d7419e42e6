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
    pub message: String,
    /// Where it was read from (`file:line`), when known.
    pub origin: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.resource)?;
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)?;
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
