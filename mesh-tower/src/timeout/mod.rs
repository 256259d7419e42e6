//! A deadline around a service's response: Istio's route `timeout` (around every attempt and
//! back-off) and a retry policy's `perTryTimeout` (around one attempt).
//!
//! [`Timeout`] fails with [`Elapsed`] (boxed) once its duration has passed without a
//! response; without a duration it is the inner service unchanged. Readiness is the inner
//! service's. An application can stack it itself ([`TimeoutLayer`]), with a compiled rule's
//! `timeout` or its retries' `per_try_timeout`; inside the mesh layer the route's composition
//! builds it per request, and answers an expired route timeout with Envoy's 504 (`UT`).

use std::task::{Context, Poll};
use std::time::Duration;

use tower::Service;

use crate::BoxError;

mod error;
mod future;
mod layer;
#[cfg(test)]
mod tests;

pub use error::Elapsed;
pub use future::ResponseFuture;
pub use layer::TimeoutLayer;

/// Fails a request whose response has not come within the timeout.
#[derive(Clone, Copy, Debug)]
pub struct Timeout<S> {
    inner: S,
    timeout: Option<Duration>,
}

impl<S> Timeout<S> {
    /// `inner` with a deadline of `timeout` (`None`: no deadline).
    pub fn new(inner: S, timeout: Option<Duration>) -> Self {
        Timeout { inner, timeout }
    }
}

impl<S, R> Service<R> for Timeout<S>
where
    S: Service<R>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: R) -> Self::Future {
        ResponseFuture::new(self.inner.call(req), self.timeout)
    }
}
