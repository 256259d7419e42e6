//! The mesh service: decides each request with the route table and executes the decision
//! around the chosen backend.
//!
//! The inner service answers passthrough requests (a host no resource knows), and the
//! destinations of routes when the layer has no backends at all (then it is the upstream of
//! every route). Once any host has registered endpoints, a route whose destination host has
//! none gets Istio's answer: 503 `no healthy upstream`, flag `UH`.
//!
//! Readiness: the service is ready when its inner service is; endpoints are
//! always-ready clones called with `oneshot`, as a router over several destinations should.
//! An error from the inner service's `poll_ready` is answered as a 503 (`UF`) on the next
//! call in response mode, or returned in error mode.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower::{Service, ServiceExt};

use crate::BoxError;
use crate::body::{BoxBody, boxed};
use crate::execute::{ReplyContext, Router, Shared, reply_response};
use crate::metrics::Count;
use mesh_route::policy::{ReplyTo, local_reply};

pub mod error;
pub mod future;
pub mod layer;

use error::MeshError;
use future::ResponseFuture;

/// How mesh errors (no route, no healthy upstream, timeouts, ...) reach the caller. There are
/// exactly two modes: [`Responses`] (the default: Envoy's local replies) and [`Errors`]
/// (`MeshLayer::errors`: the error, for the caller to answer). In both, every request is
/// routed, and requests the layer forwards carry a [`RouteInfo`](crate::RouteInfo)
/// extension. Sealed: no other mode exists.
pub trait Mode: Send + Sync + 'static + private::Sealed {
    /// The service's error type.
    type Error: Send + 'static;
    /// Turns the outcome of a request into the service's result; `reply` is what a local
    /// reply for an error carries (a gRPC client gets it as a gRPC response; the failed
    /// rule's response header operations).
    fn finish(
        r: Result<Response<BoxBody>, MeshError>,
        reply: ReplyContext,
    ) -> Result<Response<BoxBody>, Self::Error>;
}

mod private {
    pub trait Sealed {}
    impl Sealed for super::Responses {}
    impl Sealed for super::Errors {}
}

/// Mesh errors become Envoy's local replies (404 `NR`, 503, 504 `UT`, ...; to a gRPC client,
/// HTTP 200 with `grpc-status` as Envoy answers it): the service is infallible and fits
/// axum's `Router::layer`. The default.
#[derive(Clone, Copy, Debug, Default)]
pub struct Responses;

/// Mesh errors are returned as [`MeshError`] boxed in a `BoxError` (downcast to inspect).
#[derive(Clone, Copy, Debug, Default)]
pub struct Errors;

impl Mode for Responses {
    type Error = Infallible;
    fn finish(
        r: Result<Response<BoxBody>, MeshError>,
        context: ReplyContext,
    ) -> Result<Response<BoxBody>, Infallible> {
        Ok(r.unwrap_or_else(|e| {
            let body = e.body();
            let reply = local_reply(e.status().as_u16(), body.as_bytes(), context.to, None);
            let mut r = reply_response(&reply, None, None);
            *r.headers_mut() = reply.finish(context.headers);
            if e.closes_connection() {
                r.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            r
        }))
    }
}

impl Mode for Errors {
    type Error = BoxError;
    fn finish(
        r: Result<Response<BoxBody>, MeshError>,
        _reply: ReplyContext,
    ) -> Result<Response<BoxBody>, BoxError> {
        r.map_err(Into::into)
    }
}

/// The service [`MeshLayer`](layer::MeshLayer) produces around an inner service.
pub struct MeshService<S, M = Responses> {
    inner: S,
    shared: Arc<Shared>,
    ready_error: Option<BoxError>,
    mode: PhantomData<fn() -> M>,
}

impl<S: Clone, M> Clone for MeshService<S, M> {
    fn clone(&self) -> Self {
        MeshService {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
            ready_error: None,
            mode: PhantomData,
        }
    }
}

impl<S: std::fmt::Debug, M> std::fmt::Debug for MeshService<S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshService")
            .field("inner", &self.inner)
            .field("shared", &self.shared)
            .finish()
    }
}

impl<S, M> MeshService<S, M> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        MeshService {
            inner,
            shared,
            ready_error: None,
            mode: PhantomData,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, M, B, RB> Service<Request<B>> for MeshService<S, M>
where
    S: Service<Request<BoxBody>, Response = Response<RB>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError> + 'static,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    M: Mode,
{
    type Response = Response<BoxBody>;
    type Error = M::Error;
    type Future = ResponseFuture<M::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self.inner.poll_ready(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => {
                self.ready_error = Some(e.into());
                Poll::Ready(Ok(()))
            }
        }
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let to = ReplyTo::of(req.method().as_str(), req.headers());
        if let Some(e) = self.ready_error.take() {
            let r = Err(MeshError::Upstream {
                reason: "connection failure",
                source: e,
            });
            let context = ReplyContext {
                to,
                ..ReplyContext::default()
            };
            return ResponseFuture::ready(M::finish(r, context));
        }
        // Take the service that was made ready; leave a clone in its place.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let inner = ready
            .map_response(boxed_response as fn(Response<RB>) -> Response<BoxBody>)
            .map_err(Into::into as fn(S::Error) -> BoxError);
        let req = req.map(boxed);
        let router = Router::new(self.shared.clone(), inner, to);
        let routing = Count::new(router, self.shared.clone(), to).call(req);
        ResponseFuture::new(routing, M::finish)
    }
}

/// The inner service's response with its body boxed.
fn boxed_response<RB>(r: Response<RB>) -> Response<BoxBody>
where
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    r.map(boxed)
}
