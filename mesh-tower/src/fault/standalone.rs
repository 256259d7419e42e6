//! [`Fault`]: fault injection as an application's own middleware.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use mesh_route::policy::FaultPolicy;
use pin_project_lite::pin_project;
use tower::Service;
use tower::util::MapResponse;

use super::{Inject, InjectFuture, OwnEnv, Reply, reply_to};
use crate::BoxError;
use crate::body::{self, BoxBody};
use crate::flags::FlagCell;
use crate::rng::Samples;

/// The inner service's response with its body boxed.
type Boxed<S, B> = MapResponse<S, fn(<S as Service<Request<B>>>::Response) -> Response<BoxBody>>;

/// Injects Istio's faults ([`FaultPolicy`]: a delay for its share of requests, then an
/// abort for its share) before the inner service, as Envoy's fault filter does for a route.
///
/// An aborted request gets the abort's local reply (for a gRPC request, HTTP 200 with the
/// mapped `grpc-status`), never reaching the inner service. Every answer carries the
/// request's flags, when it has any, as a [`ResponseFlags`](crate::ResponseFlags) extension
/// (`DI` delayed, `FI` aborted). The response body is boxed ([`BoxBody`]).
///
/// Readiness is the inner service's; a delayed request goes to a clone of it when its delay
/// ends.
#[derive(Clone, Debug)]
pub struct Fault<S> {
    inner: S,
    policy: FaultPolicy,
    rng: Arc<Samples>,
}

impl<S> Fault<S> {
    /// `inner` behind `policy`'s faults, sampled from the clock-seeded [`Samples`].
    pub fn new(inner: S, policy: FaultPolicy) -> Self {
        Fault {
            inner,
            policy,
            rng: Arc::new(Samples::from_entropy()),
        }
    }

    /// Samples from `rng` instead (a fixed seed makes the selected requests repeatable).
    pub fn with_samples(mut self, rng: Arc<Samples>) -> Self {
        self.rng = rng;
        self
    }
}

impl<S, B, RB> Service<Request<B>> for Fault<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone,
    RB: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    type Response = Response<BoxBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The service made ready goes with the request; a clone takes its place.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let boxed: Boxed<S, B> = MapResponse::new(
            ready,
            (|r: Response<RB>| r.map(body::boxed)) as fn(Response<RB>) -> Response<BoxBody>,
        );
        let flags = Arc::new(FlagCell::default());
        let env = OwnEnv {
            reply: Reply {
                to: reply_to(&req),
                ops: None,
            },
            rng: self.rng.clone(),
            flags: flags.clone(),
        };
        ResponseFuture {
            inner: Inject::new(boxed, self.policy, env).call(req),
            flags,
        }
    }
}

pin_project! {
    /// The answer of [`Fault`]: the inner service's response or the abort's reply, with the
    /// request's flags.
    pub struct ResponseFuture<S: Service<Request<B>>, B> {
        #[pin]
        inner: InjectFuture<'static, Boxed<S, B>, Request<B>, Arc<Samples>, Arc<FlagCell>>,
        flags: Arc<FlagCell>,
    }
}

impl<S: Service<Request<B>>, B> std::fmt::Debug for ResponseFuture<S, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, B, RB> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Output = Result<Response<BoxBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut result = ready!(this.inner.poll(cx));
        let flags = this.flags.get();
        if let (Ok(r), false) = (&mut result, flags.is_empty()) {
            r.extensions_mut().insert(flags);
        }
        Poll::Ready(result)
    }
}
