//! Istio's `mirror`/`mirrors`: [`Mirror`] hands a copy of each request to a sender for every
//! mirror policy whose percentage selects it, then calls its inner service with the
//! original. Copies are fire and forget (the sender queues them, bounded; their answers never
//! reach the client), and only a request whose body was buffered whole can be copied: for a
//! streamed body each selected mirror is counted as not sent (`MirrorNotBuffered`).
//!
//! Readiness is the inner service's; the future is the inner service's.

use std::task::{Context, Poll};

use bytes::Bytes;
use http::Request;
use tower::Service;

use crate::body::BoxBody;
use crate::metrics::{Event, Metrics};
use crate::rng::Samples;

mod layer;
#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) use layer::MirrorLayer;

/// Sends copies of requests to their route's mirrors.
#[derive(Clone)]
pub(crate) struct Mirror<'a, S, F> {
    inner: S,
    mirrors: &'a [mesh_route::Mirror],
    /// The whole body, when buffered.
    body: Option<Bytes>,
    rng: &'a Samples,
    metrics: &'a Metrics,
    /// Sends one copy: the mirror policy, the original request (whose body is not to be
    /// read), and the body to send.
    send: F,
}

impl<S, F> std::fmt::Debug for Mirror<'_, S, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("mirrors", &self.mirrors)
            .field("buffered", &self.body.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a, S, F> Mirror<'a, S, F> {
    /// Copies requests to `mirrors` through `send`, with `body` (`None`: the body streams).
    pub(crate) fn new(
        inner: S,
        mirrors: &'a [mesh_route::Mirror],
        body: Option<Bytes>,
        (rng, metrics): (&'a Samples, &'a Metrics),
        send: F,
    ) -> Self {
        Mirror {
            inner,
            mirrors,
            body,
            rng,
            metrics,
            send,
        }
    }
}

impl<'a, S, F> Service<Request<BoxBody>> for Mirror<'a, S, F>
where
    S: Service<Request<BoxBody>>,
    F: FnMut(&'a mesh_route::Mirror, &Request<BoxBody>, Bytes),
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<BoxBody>) -> Self::Future {
        for mirror in self.mirrors {
            if !mirror.fraction.selects(self.rng.next_u64()) {
                continue;
            }
            match &self.body {
                Some(bytes) => (self.send)(mirror, &req, bytes.clone()),
                None => self.metrics.record(Event::MirrorNotBuffered),
            }
        }
        self.inner.call(req)
    }
}
