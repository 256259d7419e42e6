//! [`RetryLayer`].

use tower::Layer;

use super::{Policy, Retry};

/// Wraps a service in a [`Retry`] under one request's policy.
#[derive(Clone, Debug)]
pub(crate) struct RetryLayer<'a> {
    policy: Policy<'a>,
}

impl<'a> RetryLayer<'a> {
    /// Retries under `policy`.
    pub(crate) fn new(policy: Policy<'a>) -> Self {
        RetryLayer { policy }
    }
}

impl<'a, S> Layer<S> for RetryLayer<'a> {
    type Service = Retry<'a, S>;

    fn layer(&self, inner: S) -> Retry<'a, S> {
        Retry::new(inner, self.policy.clone())
    }
}
