//! Why a match could not be compiled.

/// A match condition that cannot be executed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The regex does not compile, or exceeds [`crate::REGEX_SIZE_LIMIT`].
    #[error("regex {pattern:?} cannot be used: {reason}")]
    Regex {
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
    /// A header name that is not a valid HTTP header name.
    #[error("{name:?} is not a valid header name")]
    HeaderName {
        /// The name.
        name: String,
    },
    /// A condition this engine does not execute (for example JWT-claim routing, which needs
    /// Istio's request authentication). Rejected rather than silently ignored.
    #[error("{what} is not supported in-process")]
    Unsupported {
        /// What.
        what: String,
    },
}
