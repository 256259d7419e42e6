//! Which outcomes a route retries, and each retry's request.

use bytes::Bytes;
use http::{Request, Response};
use mesh_route::policy::{RetryOn, RetryPolicy};

use super::budget::Budget;
use crate::BoxError;
use crate::balance::ClusterKey;
use crate::body::{self, BoxBody};
use crate::execute::GRPC_STATUS;
use crate::flags::FlagCell;
use crate::metrics::Metrics;
use crate::rng::Samples;
use crate::service::error::MeshError;
use crate::upstream::{Failure, classify};

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
    /// Whether the outcome of an attempt is one the route retries; a mesh error (no healthy
    /// endpoint, circuit breaker) never is.
    pub(crate) fn retries(&self, result: &Result<Response<BoxBody>, BoxError>) -> bool {
        match result {
            Ok(r) => retry_on_response(self.route, r),
            Err(e) if e.is::<MeshError>() => false,
            Err(e) => retry_on_failure(self.route, classify(e)),
        }
    }

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
