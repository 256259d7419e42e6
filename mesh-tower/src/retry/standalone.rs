//! [`Retry`]: Istio's retries as an application's own middleware.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use mesh_route::policy::RetryPolicy;
use pin_project_lite::pin_project;
use tower::Service;
use tower::util::MapResponse;

use super::RetryingFuture;
use super::backoff::backoff;
use super::policy::Attempts;
use crate::BoxError;
use crate::body::{self, BoxBody, Buffered};
use crate::flags::{FlagCell, ResponseFlags};
use crate::rng::Samples;
use crate::timeout::Timeout;

/// Retries requests to the inner service as Istio's `retries` say, the way Envoy runs them
/// for a route: `attempts` retries after the first attempt, of the outcomes `retryOn` names
/// (status codes, `grpc-status`, connection failures, resets, per-try timeouts), each after
/// a jittered exponential back-off, each attempt under `perTryTimeout`.
///
/// The request body is buffered (up to the layer's limit) so that it can be sent again; a
/// longer body streams to the first attempt, which is then the only one. Every answer that
/// is a response carries the request's flags, when it has any, as a
/// [`ResponseFlags`](crate::ResponseFlags) extension (`URX`: the last attempt's outcome was
/// retriable but no attempt remained). A per-try timeout that ends the last attempt is the
/// error [`Elapsed`](crate::timeout::Elapsed).
///
/// Unlike the mesh layer's retries, there is no destination here: no retry budget and no
/// endpoints to avoid (`retryIgnorePreviousHosts` has no effect), and nothing is counted in
/// [`Metrics`](crate::Metrics).
///
/// Readiness is the inner service's; the service made ready takes every attempt of the
/// request (a clone of it stays with `Retry`).
#[derive(Clone, Debug)]
pub struct Retry<S> {
    pub(super) inner: S,
    pub(super) policy: Arc<RetryPolicy>,
    pub(super) rng: Arc<Samples>,
    pub(super) body_limit: usize,
}

/// The inner service with its response body boxed, each attempt under the per-try timeout.
type Attempt<S> =
    Timeout<MapResponse<S, fn(<S as Service<Request<BoxBody>>>::Response) -> Response<BoxBody>>>;

/// The request body being buffered for replay.
type Buffering = Pin<Box<dyn Future<Output = Result<Buffered, BoxError>> + Send>>;

impl<S, B, RB> Service<Request<B>> for Retry<S>
where
    S: Service<Request<BoxBody>, Response = Response<RB>> + Clone,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    type Response = Response<BoxBody>;
    type Error = BoxError;
    type Future = ResponseFuture<Attempt<S>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The service made ready goes with the request; a clone takes its place.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let boxed = (|r: Response<RB>| r.map(body::boxed)) as fn(Response<RB>) -> Response<BoxBody>;
        let attempt = Timeout::new(MapResponse::new(ready, boxed), self.policy.per_try_timeout);
        let (parts, req_body) = req.into_parts();
        let own = Own {
            route: self.policy.clone(),
            head: Arc::new(parts),
            replay: None,
            rng: self.rng.clone(),
            flags: Arc::new(FlagCell::default()),
        };
        ResponseFuture {
            state: State::Buffering {
                buffer: Box::pin(body::buffer(body::boxed(req_body), self.body_limit)),
                then: Some((attempt, own)),
            },
        }
    }
}

pin_project! {
    #[project = StateProj]
    enum State<A: Service<Request<BoxBody>>> {
        Buffering { #[pin] buffer: Buffering, then: Option<(A, Own)> },
        Retrying { #[pin] call: RetryingFuture<A, Own>, flags: Arc<FlagCell> },
    }
}

pin_project! {
    /// The answer of [`Retry`]: the last attempt's, once the body is buffered (`A` is the
    /// inner service as each attempt calls it).
    pub struct ResponseFuture<A: Service<Request<BoxBody>>> {
        #[pin]
        state: State<A>,
    }
}

impl<A: Service<Request<BoxBody>>> std::fmt::Debug for ResponseFuture<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<A> Future for ResponseFuture<A>
where
    A: Service<Request<BoxBody>, Response = Response<BoxBody>, Error = BoxError>,
{
    type Output = Result<Response<BoxBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Buffering { buffer, then } => {
                    let buffered = ready!(buffer.poll(cx))?;
                    let Some((attempt, mut own)) = then.take() else {
                        return Poll::Ready(Err("retry polled after its answer".into()));
                    };
                    let first = match buffered {
                        Buffered::Whole(b) => {
                            let first = own.build(full_or_empty(&b));
                            own.replay = Some(b);
                            first
                        }
                        Buffered::Streaming(s) => own.build(s),
                    };
                    let flags = own.flags.clone();
                    // The service was made ready by `Retry::poll_ready` before the call.
                    State::Retrying {
                        call: RetryingFuture::new(attempt, own, first),
                        flags,
                    }
                }
                StateProj::Retrying { call, flags } => {
                    let mut result = ready!(call.poll(cx));
                    if let (Ok(r), f) = (&mut result, flags.get()) {
                        if !f.is_empty() {
                            r.extensions_mut().insert(f);
                        }
                    }
                    return Poll::Ready(result);
                }
            };
            this.state.set(next);
        }
    }
}

/// A body of `bytes` (empty when there are none).
fn full_or_empty(bytes: &Bytes) -> BoxBody {
    if bytes.is_empty() {
        body::empty()
    } else {
        body::full(bytes.clone())
    }
}

/// An application's retry policy for one request: the request's head and body to send again.
#[derive(Clone, Debug)]
struct Own {
    route: Arc<RetryPolicy>,
    head: Arc<http::request::Parts>,
    replay: Option<Bytes>,
    rng: Arc<Samples>,
    flags: Arc<FlagCell>,
}

impl Own {
    /// The request with `body`: a copy of the received head.
    fn build(&self, body: BoxBody) -> Request<BoxBody> {
        let head = &*self.head;
        let mut r = Request::new(body);
        *r.method_mut() = head.method.clone();
        *r.uri_mut() = head.uri.clone();
        *r.version_mut() = head.version;
        *r.headers_mut() = head.headers.clone();
        *r.extensions_mut() = head.extensions.clone();
        r
    }
}

impl Attempts for Own {
    type Slot = ();

    fn route(&self) -> &RetryPolicy {
        &self.route
    }

    fn replayable(&self) -> bool {
        self.replay.is_some()
    }

    fn flag(&self, flags: ResponseFlags) {
        self.flags.insert(flags);
    }

    fn admit(&self) -> Option<()> {
        Some(())
    }

    fn backoff(&self, retry: u32) -> Duration {
        backoff(self.route.backoff, retry, &self.rng)
    }

    fn request(&self, _attempt: u32) -> Option<Request<BoxBody>> {
        Some(self.build(full_or_empty(self.replay.as_ref()?)))
    }
}
