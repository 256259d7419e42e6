//! [`TimeoutLayer`].

use std::time::Duration;

use tower::Layer;

use super::Timeout;

/// Wraps a service in a [`Timeout`] (the mesh layer's route composition builds its
/// timeouts directly: a layer clones what it holds into each service it makes).
#[derive(Clone, Copy, Debug)]
pub struct TimeoutLayer {
    timeout: Option<Duration>,
}

impl TimeoutLayer {
    /// A deadline of `timeout` (`None`: no deadline).
    pub fn new(timeout: Option<Duration>) -> Self {
        TimeoutLayer { timeout }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout::new(inner, self.timeout)
    }
}
