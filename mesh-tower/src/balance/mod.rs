//! Load balancing, circuit breaking and outlier detection for one destination (Envoy's
//! cluster): [`Balance`] sends each request to one endpoint of the destination, through its
//! circuit breakers, under the per-try timeout, and records the outcome for outlier detection.
//!
//! Readiness: always ready. Endpoints are always-ready services called with `oneshot`; the
//! circuit breakers are part of the response future (an attempt may wait for a connection,
//! or be refused with [`MeshError::Overflow`]).
//!
//! A `Balance` is built per request (it borrows the destination's state) and keeps the
//! endpoints it has tried, so that retries can avoid them (`retryIgnorePreviousHosts`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use tower::util::Either;
use tower::{Service, ServiceExt};

use crate::BoxError;
use crate::backend::EndpointService;
use crate::body::BoxBody;
use crate::metrics::Metrics;
use crate::rng::Samples;
use crate::service::error::MeshError;

mod breaker;
mod cluster;
mod clusters;
mod future;
mod outlier;
mod pick;
#[cfg(test)]
mod tests;

pub(crate) use breaker::Overflow;
pub(crate) use cluster::{Cluster, ClusterKey};
pub(crate) use clusters::{Clusters, Dest};
pub(crate) use future::ResponseFuture;

/// Where a destination's requests go: a cluster of registered endpoints, or the inner
/// service (hosts without registered endpoints, and passthrough), with the destination's
/// state either way.
#[derive(Clone, Debug)]
pub(crate) enum Dispatch {
    /// Registered endpoints.
    Cluster(std::sync::Arc<Cluster>),
    /// The inner service.
    Inner(std::sync::Arc<Cluster>),
}

impl Dispatch {
    /// The destination's state.
    pub(crate) fn cluster(&self) -> &std::sync::Arc<Cluster> {
        match self {
            Dispatch::Cluster(c) | Dispatch::Inner(c) => c,
        }
    }
}

/// One unit of a gauge (requests, retries or an endpoint's attempts in flight), given back
/// when dropped: the route timeout and a client that goes away drop futures at any await
/// point, and retry budgets and least-request balancing must not keep counting what was
/// abandoned.
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a AtomicU64);

impl<'a> InFlight<'a> {
    /// Counts one more in `gauge` until dropped.
    pub(crate) fn enter(gauge: &'a AtomicU64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a [`Balance`] needs besides the destination: the layer's randomness and metrics.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Env<'a> {
    pub(crate) rng: &'a Samples,
    pub(crate) metrics: &'a Metrics,
}

/// Sends each request to one endpoint of a destination (or to `inner`, for a destination
/// served by the inner service).
#[derive(Clone, Debug)]
pub(crate) struct Balance<'a, S> {
    /// The inner service, for [`Dispatch::Inner`] (a clone is called).
    inner: &'a S,
    dispatch: &'a Dispatch,
    env: Env<'a>,
    /// The request's consistent-hash key (see `LoadBalancer::hash`), computed once.
    hash: Option<u64>,
    per_try_timeout: Option<Duration>,
    /// Whether attempts avoid the endpoints already tried (when another is available).
    avoid_tried: bool,
    tried: Vec<usize>,
}

impl<'a, S> Balance<'a, S> {
    /// Balances over `dispatch`'s endpoints (or calls `inner`), each attempt under
    /// `per_try_timeout`; `hash` is the request's consistent-hash key.
    pub(crate) fn new(
        inner: &'a S,
        dispatch: &'a Dispatch,
        env: Env<'a>,
        hash: Option<u64>,
        per_try_timeout: Option<Duration>,
        avoid_tried: bool,
    ) -> Self {
        Balance {
            inner,
            dispatch,
            env,
            hash,
            per_try_timeout,
            avoid_tried,
            tried: Vec::new(),
        }
    }
}

impl<'a, S> Service<Request<BoxBody>> for Balance<'a, S>
where
    S: Service<Request<BoxBody>, Response = Response<BoxBody>, Error = BoxError> + Clone,
{
    type Response = Response<BoxBody>;
    type Error = BoxError;
    type Future = ResponseFuture<'a, Either<EndpointService, S>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<BoxBody>) -> Self::Future {
        let cluster = &**self.dispatch.cluster();
        let (svc, member) = match self.dispatch {
            Dispatch::Inner(_) => (Either::Right(S::clone(self.inner)), None),
            Dispatch::Cluster(c) => {
                let exclude: &[usize] = if self.avoid_tried { &self.tried } else { &[] };
                match c.pick(self.hash, self.env.rng, exclude, self.env.metrics) {
                    Some(i) => {
                        if self.avoid_tried {
                            self.tried.push(i);
                        }
                        (Either::Left(c.members[i].endpoint.service.clone()), Some(i))
                    }
                    None => return ResponseFuture::failed(MeshError::NoHealthyUpstream),
                }
            }
        };
        let load = member.map(|i| InFlight::enter(&cluster.members[i].state.active));
        let admit = match cluster.admit(self.env.metrics) {
            Ok(a) => a,
            Err(overflow) => {
                return ResponseFuture::failed(MeshError::Overflow(match overflow {
                    Overflow::Requests => "max requests",
                    Overflow::Pending => "max pending requests",
                }));
            }
        };
        let attempt = future::Attempt {
            cluster,
            metrics: self.env.metrics,
            member,
            _load: load,
        };
        ResponseFuture::new(attempt, admit, svc.oneshot(req), self.per_try_timeout)
    }
}
