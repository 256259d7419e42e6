//! Istio's fault injection (`fault`), in Envoy's order: a delay for its share of requests,
//! then an independent roll for an abort, whose local reply answers instead of the inner
//! service. Flags: `DI` for a delayed request, `FI` for an aborted one.
//!
//! Two ways to use it:
//! - [`Fault`] and [`FaultLayer`], tower middleware an application stacks itself around any
//!   HTTP service, from a [`FaultPolicy`] (a compiled rule's `fault`, or one built in code).
//!   The answer carries its flags as a [`ResponseFlags`] response extension.
//! - Inside the mesh layer, the route's composition wraps each request of a route with faults
//!   in the same policy, with the route's reply and the request's flags.
//!
//! Readiness is the inner service's; a delayed request goes to a clone of it, called with
//! `oneshot` when its delay ends.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::sync::Arc;
//! use mesh_route::policy::{AbortFault, AbortKind, FaultPolicy, Fraction};
//! use mesh_tower::fault::FaultLayer;
//! use mesh_tower::{ResponseFlags, body, rng::Samples};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! let policy = FaultPolicy {
//!     delay: None,
//!     abort: Some(AbortFault { kind: AbortKind::Http(503), fraction: Fraction::ALL }),
//! };
//! let app = service_fn(|_req: http::Request<body::BoxBody>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(body::empty()))
//! });
//! let svc = ServiceBuilder::new()
//!     .layer(FaultLayer::new(policy).with_samples(Arc::new(Samples::new(7))))
//!     .service(app);
//! let resp = svc.oneshot(http::Request::new(body::empty())).await.unwrap();
//! assert_eq!(resp.status(), 503);
//! assert!(resp.extensions().get::<ResponseFlags>().unwrap().contains(ResponseFlags::FAULT_INJECTED));
//! # }
//! ```

use std::ops::Deref;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use mesh_route::policy::{FaultPolicy, OrderedOps, ReplyTo};
use tower::Service;

use crate::body::BoxBody;
use crate::flags::{FlagCell, ResponseFlags};
use crate::rng::Samples;

mod future;
mod layer;
mod standalone;
#[cfg(test)]
mod tests;

pub(crate) use future::InjectFuture;
pub use layer::FaultLayer;
pub(crate) use layer::InjectLayer;
pub use standalone::{Fault, ResponseFuture};

/// How an aborted request is answered: the abort's local reply for this client, with the
/// response header operations Envoy puts on the route's local replies.
#[derive(Clone, Debug)]
pub(crate) struct Reply<'a> {
    pub(crate) to: ReplyTo,
    pub(crate) ops: Option<OrderedOps<'a>>,
}

/// What a fault reads and writes besides its policy: where its samples come from (`R`:
/// the layer's, borrowed, or an application's, shared), where its flags go (`F`: the
/// request's, borrowed or shared), and how its abort answers.
#[derive(Clone, Debug)]
pub(crate) struct Env<'a, R, F> {
    pub(crate) reply: Reply<'a>,
    pub(crate) rng: R,
    pub(crate) flags: F,
}

/// A route's faults inside the mesh layer: the layer's samples, the request's flags.
pub(crate) type RouteEnv<'a> = Env<'a, &'a Samples, &'a FlagCell>;

/// An application's faults ([`Fault`]): shared samples, the request's own flags.
pub(crate) type OwnEnv = Env<'static, Arc<Samples>, Arc<FlagCell>>;

impl<R, F> Env<'_, R, F>
where
    R: Deref<Target = Samples> + Clone,
    F: Deref<Target = FlagCell> + Clone,
{
    /// The next uniform sample.
    fn sample(&self) -> u64 {
        self.rng.next_u64()
    }

    /// Records `flags` for the request.
    fn flag(&self, flags: ResponseFlags) {
        self.flags.insert(flags);
    }
}

/// Injects a route's faults before its inner service, in `E`'s environment.
#[derive(Clone, Debug)]
pub(crate) struct Inject<'a, S, R, F> {
    inner: S,
    policy: FaultPolicy,
    env: Env<'a, R, F>,
}

impl<'a, S, R, F> Inject<'a, S, R, F>
where
    R: Deref<Target = Samples> + Clone,
    F: Deref<Target = FlagCell> + Clone,
{
    /// `inner` behind `policy`; `env` gets `DI` and `FI`.
    pub(crate) fn new(inner: S, policy: FaultPolicy, env: Env<'a, R, F>) -> Self {
        Inject { inner, policy, env }
    }

    /// The abort's answer, if the abort's roll selects the request.
    fn abort(&self) -> Option<Response<BoxBody>> {
        let a = self.policy.abort?;
        if !a.fraction.selects(self.env.sample()) {
            return None;
        }
        self.env.flag(ResponseFlags::FAULT_INJECTED);
        let reply = &self.env.reply;
        Some(crate::execute::reply_response(
            &a.kind.reply(reply.to),
            None,
            reply.ops.clone(),
        ))
    }
}

impl<'a, S, Q, R, F> Service<Q> for Inject<'a, S, R, F>
where
    S: Service<Q, Response = Response<BoxBody>> + Clone,
    R: Deref<Target = Samples> + Clone,
    F: Deref<Target = FlagCell> + Clone,
{
    type Response = Response<BoxBody>;
    type Error = S::Error;
    type Future = InjectFuture<'a, S, Q, R, F>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Q) -> Self::Future {
        if let Some(d) = self.policy.delay {
            if d.fraction.selects(self.env.sample()) {
                let this = Inject {
                    inner: self.inner.clone(),
                    policy: self.policy,
                    env: self.env.clone(),
                };
                return InjectFuture::delayed(d.duration, this, req);
            }
        }
        match self.abort() {
            Some(r) => InjectFuture::aborted(r),
            None => InjectFuture::called(self.inner.call(req)),
        }
    }
}

/// The request's `ReplyTo`, for an application's faults.
fn reply_to<B>(req: &Request<B>) -> ReplyTo {
    ReplyTo::of(req.method().as_str(), req.headers())
}
