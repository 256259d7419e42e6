//! [`Count`]: counts each request in Istio's metrics once its response has ended.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use mesh_route::policy::ReplyTo;
use tower::Service;

use super::{CountFuture, Routed};
use crate::ReplyContext;
use crate::body::BoxBody;
use crate::execute::Shared;
use crate::service::error::MeshError;

/// Counts the requests its inner service routes (`istio_requests_total`,
/// `istio_request_duration_milliseconds`, a rollout's canary counters): a response with a
/// body when its body ends (a body the upstream cuts is counted with `UPE`), an upgraded
/// connection when its tunnel closes, anything else at once. Answers with the result and
/// what its local reply carries ([`ReplyContext`](crate::ReplyContext)).
///
/// Readiness is the inner service's.
#[derive(Clone, Debug)]
pub(crate) struct Count<S> {
    inner: S,
    shared: Arc<Shared>,
    to: ReplyTo,
}

impl<S> Count<S> {
    /// Counts `inner`'s requests in `shared`'s metrics; `to` is how a local reply answers
    /// the client (a gRPC client's is counted as HTTP 200 with its `grpc-status`).
    pub(crate) fn new(inner: S, shared: Arc<Shared>, to: ReplyTo) -> Self {
        Count { inner, shared, to }
    }
}

impl<S> Service<Request<BoxBody>> for Count<S>
where
    S: Service<Request<BoxBody>, Response = Routed, Error = Infallible>,
{
    type Response = (Result<Response<BoxBody>, MeshError>, ReplyContext);
    type Error = Infallible;
    type Future = CountFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<BoxBody>) -> Self::Future {
        CountFuture::new(self.inner.call(req), self.shared.clone(), self.to)
    }
}
