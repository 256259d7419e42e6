//! Istio's fault injection (`fault`), in Envoy's order: a delay for its share of requests,
//! then an independent roll for an abort, whose local reply answers instead of the inner
//! service. Flags: `DI` for a delayed request, `FI` for an aborted one.
//!
//! Readiness is the inner service's; a delayed request goes to a clone of it, called with
//! `oneshot` when its delay ends.

use std::task::{Context, Poll};

use http::Response;
use mesh_route::policy::{FaultPolicy, OrderedOps, ReplyTo};
use tower::Service;

use crate::body::BoxBody;
use crate::flags::{FlagCell, ResponseFlags};
use crate::rng::Samples;

mod future;
mod layer;
#[cfg(test)]
mod tests;

pub(crate) use future::ResponseFuture;
pub(crate) use layer::FaultLayer;

/// How an aborted request is answered: the abort's local reply for this client, with the
/// response header operations Envoy puts on the route's local replies.
#[derive(Clone, Debug)]
pub(crate) struct Reply<'a> {
    pub(crate) to: ReplyTo,
    pub(crate) ops: Option<OrderedOps<'a>>,
}

/// Injects a route's faults before its inner service.
#[derive(Clone, Debug)]
pub(crate) struct Fault<'a, S> {
    inner: S,
    policy: FaultPolicy,
    reply: Reply<'a>,
    rng: &'a Samples,
    flags: &'a FlagCell,
}

impl<'a, S> Fault<'a, S> {
    /// `inner` behind `policy`; `flags` gets `DI` and `FI`.
    pub(crate) fn new(
        inner: S,
        policy: FaultPolicy,
        reply: Reply<'a>,
        rng: &'a Samples,
        flags: &'a FlagCell,
    ) -> Self {
        Fault {
            inner,
            policy,
            reply,
            rng,
            flags,
        }
    }

    /// The abort's answer, if the abort's roll selects the request.
    fn abort(&self) -> Option<Response<BoxBody>> {
        let a = self.policy.abort?;
        if !a.fraction.selects(self.rng.next_u64()) {
            return None;
        }
        self.flags.insert(ResponseFlags::FAULT_INJECTED);
        Some(crate::execute::reply_response(
            &a.kind.reply(self.reply.to),
            None,
            self.reply.ops.clone(),
        ))
    }
}

impl<'a, S, R> Service<R> for Fault<'a, S>
where
    S: Service<R, Response = Response<BoxBody>> + Clone,
{
    type Response = Response<BoxBody>;
    type Error = S::Error;
    type Future = ResponseFuture<'a, S, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        if let Some(d) = self.policy.delay {
            if d.fraction.selects(self.rng.next_u64()) {
                let this = Fault {
                    inner: self.inner.clone(),
                    policy: self.policy,
                    reply: self.reply.clone(),
                    rng: self.rng,
                    flags: self.flags,
                };
                return ResponseFuture::delayed(d.duration, this, req);
            }
        }
        match self.abort() {
            Some(r) => ResponseFuture::aborted(r),
            None => ResponseFuture::called(self.inner.call(req)),
        }
    }
}
