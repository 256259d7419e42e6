//! [`RetryLayer`], and the loop's own layer for the crate's tests.

use std::sync::Arc;

use mesh_route::policy::RetryPolicy;
use tower::Layer;

use super::Retry;
use crate::rng::Samples;

/// Wraps a service in [`Retry`]: Istio's retries as an application's own tower middleware.
#[derive(Clone, Debug)]
pub struct RetryLayer {
    policy: Arc<RetryPolicy>,
    rng: Arc<Samples>,
    body_limit: usize,
}

impl RetryLayer {
    /// Retries under `policy`, back-off jittered from the clock-seeded [`Samples`], bodies
    /// up to 64 KiB buffered for replay (as the mesh layer's default
    /// [`Options::body_limit`](crate::Options::body_limit)).
    pub fn new(policy: RetryPolicy) -> Self {
        RetryLayer {
            policy: Arc::new(policy),
            rng: Arc::new(Samples::from_entropy()),
            body_limit: crate::Options::default().body_limit,
        }
    }

    /// Jitters the back-off from `rng` instead (a fixed seed makes it repeatable); the
    /// services this layer makes share it.
    pub fn with_samples(mut self, rng: Arc<Samples>) -> Self {
        self.rng = rng;
        self
    }

    /// Buffers request bodies up to `limit` bytes for replay; a longer body streams to the
    /// first attempt and is not retried (Envoy's per-request buffer limit).
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, inner: S) -> Retry<S> {
        Retry {
            inner,
            policy: self.policy.clone(),
            rng: self.rng.clone(),
            body_limit: self.body_limit,
        }
    }
}

/// Wraps a service in the retry loop under one request's policy.
#[cfg(test)]
#[derive(Clone, Debug)]
pub(crate) struct RetryingLayer<P> {
    policy: P,
}

#[cfg(test)]
impl<P> RetryingLayer<P> {
    /// Retries under `policy`.
    pub(crate) fn new(policy: P) -> Self {
        RetryingLayer { policy }
    }
}

#[cfg(test)]
impl<P: Clone, S> Layer<S> for RetryingLayer<P> {
    type Service = super::Retrying<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        super::Retrying::new(inner, self.policy.clone())
    }
}
