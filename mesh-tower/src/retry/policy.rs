//! Which outcomes a route retries, and each retry's request.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use mesh_route::policy::{RetryOn, RetryPolicy};

use super::backoff::backoff;
use super::budget::Budget;
use crate::BoxError;
use crate::balance::{ClusterKey, InFlight};
use crate::body::{self, BoxBody};
use crate::execute::GRPC_STATUS;
use crate::flags::{FlagCell, ResponseFlags};
use crate::metrics::{ClusterLabels, Event, Metrics};
use crate::rng::Samples;
use crate::service::error::MeshError;
use crate::upstream::{Failure, classify};

/// What the retry loop ([`Retrying`](super::Retrying)) asks of its policy: a route's inside
/// the mesh layer ([`Policy`]), or an application's own ([`Retry`](super::Retry)).
pub(crate) trait Attempts {
    /// Held while a retry waits for its back-off timer (a slot in the destination's budget).
    type Slot;

    /// The route's retry policy.
    fn route(&self) -> &RetryPolicy;

    /// Whether the request's body can be sent again.
    fn replayable(&self) -> bool;

    /// Records `flags` for the request.
    fn flag(&self, flags: ResponseFlags);

    /// A slot for one more retry, counted; `None` (counted as an overflow, flagged `UO`) when
    /// the budget refuses it.
    fn admit(&self) -> Option<Self::Slot>;

    /// The wait before retry `retry` (counted from 1).
    fn backoff(&self, retry: u32) -> Duration;

    /// The request of retry `attempt` (counted from 1); `None` when the body cannot be
    /// replayed.
    fn request(&self, attempt: u32) -> Option<Request<BoxBody>>;

    /// Whether the outcome of an attempt is one the route retries; a mesh error (no healthy
    /// endpoint, circuit breaker) never is.
    fn retries(&self, result: &Result<Response<BoxBody>, BoxError>) -> bool {
        match result {
            Ok(r) => retry_on_response(self.route(), r),
            Err(e) if e.is::<MeshError>() => false,
            Err(e) => retry_on_failure(self.route(), classify(e)),
        }
    }
}

impl<'a> Attempts for Policy<'a> {
    type Slot = InFlight<'a>;

    fn route(&self) -> &RetryPolicy {
        self.route
    }

    fn replayable(&self) -> bool {
        self.replay.is_some()
    }

    fn flag(&self, flags: ResponseFlags) {
        self.flags.insert(flags);
    }

    fn admit(&self) -> Option<InFlight<'a>> {
        if !self.budget.allows() {
            // Envoy: the retry overflows (`UO`); the attempt's own outcome is the answer.
            self.metrics.record(Event::RetryBudgetExhausted);
            let labels = ClusterLabels {
                cluster_name: self.cluster.name(),
            };
            self.metrics.retry_overflow.get_or_create(&labels).inc();
            self.flags.insert(ResponseFlags::OVERFLOW);
            return None;
        }
        self.metrics.record(Event::RetryAttempted);
        Some(self.budget.enter())
    }

    fn backoff(&self, retry: u32) -> Duration {
        backoff(self.route.backoff, retry, self.rng)
    }

    fn request(&self, attempt: u32) -> Option<Request<BoxBody>> {
        Policy::request(self, attempt)
    }
}

/// One request's retry policy: the route's, the body to replay, the destination's budget,
/// and where the outcome goes (flags, metrics).
#[derive(Clone)]
pub(crate) struct Policy<'a> {
    pub(crate) route: &'a RetryPolicy,
    /// The whole request body, when it was buffered (`None`: it streams and cannot be
    /// replayed, so no attempt is retried).
    pub(crate) replay: Option<Bytes>,
    /// Builds a retry's request.
    pub(crate) rebuild: &'a dyn Rebuild,
    pub(crate) budget: Budget<'a>,
    pub(crate) rng: &'a Samples,
    pub(crate) metrics: &'a Metrics,
    pub(crate) flags: &'a FlagCell,
    /// The destination, named in the overflow counter.
    pub(crate) cluster: &'a ClusterKey,
}

impl std::fmt::Debug for Policy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("route", self.route)
            .field("replayable", &self.replay.is_some())
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl Policy<'_> {
    /// The request of retry `attempt` (counted from 1), rebuilt with the replayed body;
    /// `None` when the body cannot be replayed.
    pub(crate) fn request(&self, attempt: u32) -> Option<Request<BoxBody>> {
        let bytes = self.replay.as_ref()?;
        let body = if bytes.is_empty() {
            body::empty()
        } else {
            body::full(bytes.clone())
        };
        Some(self.rebuild.request(body, attempt))
    }
}

/// Builds each retry's request again from what the first was built from, so that no copy
/// of a request is kept for a retry that may never come.
pub(crate) trait Rebuild: Sync {
    /// The request of attempt `attempt` with `body`.
    fn request(&self, body: BoxBody, attempt: u32) -> Request<BoxBody>;
}

/// Whether a failure of an attempt is retried: Envoy's `5xx`, `gateway-error` and `reset`
/// cover every failure to get a response; `connect-failure` covers connection failures.
pub(crate) fn retry_on_failure(p: &RetryPolicy, f: Failure) -> bool {
    let any_reset = p.has(RetryOn::FiveXx) || p.has(RetryOn::GatewayError) || p.has(RetryOn::Reset);
    match f {
        Failure::Connect => any_reset || p.has(RetryOn::ConnectFailure),
        Failure::Reset | Failure::Termination | Failure::Protocol | Failure::PerTryTimeout => {
            any_reset
        }
        Failure::NoCluster => false,
    }
}

/// Whether a response is retried (its status, or a trailers-only gRPC response's
/// `grpc-status`).
pub(crate) fn retry_on_response(p: &RetryPolicy, r: &Response<BoxBody>) -> bool {
    let grpc = r
        .headers()
        .get(&GRPC_STATUS)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    p.retries_response(r.status().as_u16(), grpc)
}
