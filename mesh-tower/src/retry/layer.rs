//! [`RetryLayer`].

use tower::Layer;

use super::{Policy, Retry};

/// Wraps a service in a [`Retry`] under one request's policy.
// Unused outside tests: the route composition builds its services directly (a layer
// clones what it holds into each service it makes).
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone, Debug)]
pub(crate) struct RetryLayer<'a> {
    policy: Policy<'a>,
}

// Unused outside tests: the route composition builds its services directly.
#[cfg_attr(not(test), allow(dead_code))]
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
