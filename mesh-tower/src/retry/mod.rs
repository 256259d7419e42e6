//! Istio's retries (`retries`: attempts, `retryOn`, `perTryTimeout`) as Envoy runs them:
//! [`Retry`] calls its inner service again, after a jittered exponential back-off, when an
//! attempt's outcome is one the route retries, while attempts remain, the body can be
//! replayed and the destination's retry budget allows.
//!
//! - [`policy`]: which outcomes are retried; each retry's request.
//! - [`backoff`]: how long a retry waits.
//! - [`budget`]: how many retries a destination allows in flight.
//!
//! The flags of the answer: `URX` when the last attempt's outcome was retriable but no
//! attempt remained, `UO` when the budget refused a retry (the attempt's own outcome is the
//! answer). Readiness is the inner service's; the service made ready is the one the attempts
//! of the request go to (it may keep state between them, such as the endpoints tried).

use std::task::{Context, Poll};

use http::{Request, Response};
use tower::Service;

use crate::BoxError;
use crate::body::BoxBody;

pub(crate) mod backoff;
pub(crate) mod budget;
mod future;
mod layer;
pub(crate) mod policy;
#[cfg(test)]
mod tests;

pub(crate) use future::ResponseFuture;
#[cfg(test)]
pub(crate) use layer::RetryLayer;
pub(crate) use policy::Policy;

/// Retries a request as its route's retry policy says.
#[derive(Clone, Debug)]
pub(crate) struct Retry<'a, S> {
    inner: S,
    policy: Policy<'a>,
}

impl<'a, S> Retry<'a, S> {
    /// `inner`, retried under `policy`.
    pub(crate) fn new(inner: S, policy: Policy<'a>) -> Self {
        Retry { inner, policy }
    }
}

impl<'a, S> Service<Request<BoxBody>> for Retry<'a, S>
where
    S: Service<Request<BoxBody>, Response = Response<BoxBody>, Error = BoxError> + Clone,
{
    type Response = Response<BoxBody>;
    type Error = BoxError;
    type Future = ResponseFuture<'a, S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<BoxBody>) -> Self::Future {
        // The ready service goes with the request; a clone takes its place.
        let clone = self.inner.clone();
        let service = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::new(service, self.policy.clone(), req)
    }
}
