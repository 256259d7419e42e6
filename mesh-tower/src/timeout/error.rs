//! The error of an expired [`Timeout`](super::Timeout).

/// The timeout expired before the response came.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, thiserror::Error)]
#[error("request timed out")]
pub struct Elapsed;
