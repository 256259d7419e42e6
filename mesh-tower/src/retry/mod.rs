//! Istio's retries (`retries`: attempts, `retryOn`, `perTryTimeout`) as Envoy runs them:
//! an attempt is sent again, after a jittered exponential back-off, when its outcome is one
//! the route retries, while attempts remain, the body can be replayed and the destination's
//! retry budget allows.
//!
//! - [`Retry`] and [`RetryLayer`]: the retries as an application's own tower middleware, from
//!   a [`RetryPolicy`](mesh_route::policy::RetryPolicy) (a compiled rule's `retries`, or
//!   [`istio_default`](mesh_route::policy::RetryPolicy::istio_default)).
//! - Inside the mesh layer, the route's composition runs the same loop (`Retrying`) with the
//!   destination's retry budget, its metrics and the request's flags.
//! - `policy`: which outcomes are retried; each retry's request.
//! - `backoff`: how long a retry waits.
//! - `budget`: how many retries a destination allows in flight.
//!
//! The flags of the answer: `URX` when the last attempt's outcome was retriable but no
//! attempt remained, `UO` when the budget refused a retry (the attempt's own outcome is the
//! answer). Readiness is the inner service's; the service made ready is the one the attempts
//! of the request go to (it may keep state between them, such as the endpoints tried).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use mesh_route::policy::RetryPolicy;
//! use mesh_tower::retry::RetryLayer;
//! use mesh_tower::{ResponseFlags, body};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! // A backend that is unavailable on its first call.
//! let calls = Arc::new(AtomicUsize::new(0));
//! let seen = calls.clone();
//! let backend = service_fn(move |_req: http::Request<body::BoxBody>| {
//!     let first = seen.fetch_add(1, Ordering::Relaxed) == 0;
//!     async move {
//!         let mut r = http::Response::new(body::empty());
//!         if first {
//!             *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
//!         }
//!         Ok::<_, std::convert::Infallible>(r)
//!     }
//! });
//! let policy = mesh_route::policy::RetryPolicy {
//!     retriable_status_codes: vec![503],
//!     ..RetryPolicy::istio_default()
//! };
//! let svc = ServiceBuilder::new().layer(RetryLayer::new(policy)).service(backend);
//! let resp = svc.oneshot(http::Request::new(body::full("order"))).await.unwrap();
//! assert_eq!(resp.status(), 200);
//! assert_eq!(calls.load(Ordering::Relaxed), 2);
//! # }
//! ```

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
mod standalone;
#[cfg(test)]
mod tests;

pub(crate) use future::RetryingFuture;
pub use layer::RetryLayer;
pub(crate) use policy::{Attempts, Policy};
pub use standalone::{ResponseFuture, Retry};

/// Retries a request as its policy `P` says.
#[derive(Clone, Debug)]
pub(crate) struct Retrying<S, P> {
    inner: S,
    policy: P,
}

impl<S, P> Retrying<S, P> {
    /// `inner`, retried under `policy`.
    pub(crate) fn new(inner: S, policy: P) -> Self {
        Retrying { inner, policy }
    }
}

impl<S, P> Service<Request<BoxBody>> for Retrying<S, P>
where
    S: Service<Request<BoxBody>, Response = Response<BoxBody>, Error = BoxError> + Clone,
    P: Attempts + Clone,
{
    type Response = Response<BoxBody>;
    type Error = BoxError;
    type Future = RetryingFuture<S, P>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<BoxBody>) -> Self::Future {
        // The ready service goes with the request; a clone takes its place.
        let clone = self.inner.clone();
        let service = std::mem::replace(&mut self.inner, clone);
        RetryingFuture::new(service, self.policy.clone(), req)
    }
}
