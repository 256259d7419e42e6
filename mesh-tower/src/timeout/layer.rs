//! [`TimeoutLayer`].

use std::time::Duration;

use tower::Layer;

use super::Timeout;

/// Wraps a service in a [`Timeout`].
// Unused outside tests: the route composition builds its services directly (a layer
// clones what it holds into each service it makes).
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimeoutLayer {
    timeout: Option<Duration>,
}

// Unused outside tests: the route composition builds its services directly.
#[cfg_attr(not(test), allow(dead_code))]
impl TimeoutLayer {
    /// A deadline of `timeout` (`None`: no deadline).
    pub(crate) fn new(timeout: Option<Duration>) -> Self {
        TimeoutLayer { timeout }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout::new(inner, self.timeout)
    }
}
