//! A response body that reports how it ended, so that a request is counted when its
//! response is over, with the flag Envoy gives it: a body the upstream cuts (an error after
//! the head) is counted with `UPE` (Envoy 1.40 logs `200 UPE` for a response cut mid-body,
//! measured), never as a complete `200 -`; a body cut because it stalled for the stream
//! idle timeout ([`StreamIdleTimeout`]) is counted with `SI` (Envoy 1.40 logs `200 SI`
//! for a body that stalls after 5 of 100 bytes and for one that stalls right after its
//! head, `stream_idle_timeout: 1s`, measured).
//!
//! A body that fails on its very first read yields once before the error, so that a
//! server holding the response head sends it first (Envoy forwards the head of a response
//! cut right after it, then closes).
//!
//! The report comes as soon as the body is known to be over: when the last frame is read
//! (before it reaches the client, so a client that has read a whole response finds it
//! counted), when the body fails, or, failing both, when the body is dropped. A body
//! dropped after its first read and before its end is a client that went away mid-body:
//! counted with the flag the caller gives, `DC` for HTTP/1 (Envoy 1.40 logs an HTTP/1
//! client that closes its connection after 10 of 100 bytes `200 DC`,
//! `downstream_remote_disconnect`) and none for HTTP/2 (Envoy logs a stream the client
//! resets after 10 bytes `200 -`; both measured). A body dropped unread is one nobody
//! reads, such as HEAD's: no extra flag.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;

use crate::BoxError;
use crate::body::{BoxBody, boxed};
use crate::flags::ResponseFlags;
use crate::idle::StreamIdleTimeout;

/// The flag a body error adds: `SI` when the body stalled for the idle timeout, else `UPE`.
fn flag_for(e: &BoxError) -> ResponseFlags {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&**e);
    while let Some(err) = cur {
        if err.is::<StreamIdleTimeout>() {
            return ResponseFlags::STREAM_IDLE_TIMEOUT;
        }
        cur = err.source();
    }
    ResponseFlags::UPSTREAM_PROTOCOL_ERROR
}

/// The counting of a request handed to whoever carries its response on after the head: an
/// upgraded connection's tunnel, which Envoy counts when it closes (`101 SI` for a tunnel
/// closed by the stream idle timeout, measured with Envoy 1.40). Put in the response's
/// extensions by the tunnel; the layer takes it out and hands the count over.
#[derive(Clone)]
pub(crate) struct Deferred(Arc<Mutex<Option<oneshot::Sender<OnEnd>>>>);

/// Counts a request with the flags its end adds.
type OnEnd = Box<dyn FnOnce(ResponseFlags) + Send>;

/// The tunnel's side of a [`Deferred`]: reports the end.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) struct DeferredEnd(oneshot::Receiver<OnEnd>);

/// A pair: the extension for the response, and the end for the tunnel.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) fn deferred() -> (Deferred, DeferredEnd) {
    let (tx, rx) = oneshot::channel();
    (Deferred(Arc::new(Mutex::new(Some(tx)))), DeferredEnd(rx))
}

impl Deferred {
    /// Hands the count over; counts at once (no extra flag) if the tunnel is already gone.
    pub(crate) fn hand_over(self, on_end: impl FnOnce(ResponseFlags) + Send + 'static) {
        let tx = self.0.lock().ok().and_then(|mut t| t.take());
        let on_end: OnEnd = Box::new(on_end);
        match tx {
            Some(tx) => {
                if let Err(on_end) = tx.send(on_end) {
                    on_end(ResponseFlags::NONE);
                }
            }
            None => on_end(ResponseFlags::NONE),
        }
    }
}

#[cfg_attr(not(feature = "client"), allow(dead_code))]
impl DeferredEnd {
    /// Counts the request with `flags`, once the count has been handed over (at once, in
    /// practice: the layer hands it over as it returns the response).
    pub(crate) async fn report(self, flags: ResponseFlags) {
        if let Ok(on_end) = self.0.await {
            on_end(flags);
        }
    }
}

/// `body`, calling `on_end` once with the flags its end adds; `abandoned` is the flag of a
/// body dropped mid-way.
pub(crate) fn counted<F>(body: BoxBody, abandoned: ResponseFlags, on_end: F) -> BoxBody
where
    F: FnOnce(ResponseFlags) + Send + Unpin + 'static,
{
    boxed(Counted {
        inner: body,
        on_end: Some(on_end),
        started: false,
        held: None,
        abandoned,
    })
}

struct Counted<F: FnOnce(ResponseFlags)> {
    inner: BoxBody,
    on_end: Option<F>,
    /// Whether a frame was asked for yet.
    started: bool,
    /// An error of the very first read, held for one turn.
    held: Option<BoxError>,
    /// The flag of a body dropped mid-way.
    abandoned: ResponseFlags,
}

impl<F: FnOnce(ResponseFlags)> Counted<F> {
    fn end(&mut self, flags: ResponseFlags) {
        if let Some(f) = self.on_end.take() {
            f(flags);
        }
    }
}

impl<F: FnOnce(ResponseFlags) + Unpin> Body for Counted<F> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(e) = self.held.take() {
            self.end(flag_for(&e));
            return Poll::Ready(Some(Err(e)));
        }
        let first = !std::mem::replace(&mut self.started, true);
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let (true, Some(Err(_))) = (first, &frame) {
            // A body that fails before its first byte (an upstream that closed right after
            // its head): yield once, so that the server sends the head it holds before the
            // error ends the connection, as Envoy does.
            if let Some(Err(e)) = frame {
                self.held = Some(e);
            }
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        match &frame {
            None => self.end(ResponseFlags::NONE),
            Some(Err(e)) => {
                let flag = flag_for(e);
                self.end(flag);
            }
            Some(Ok(_)) => {
                if self.inner.is_end_stream() {
                    self.end(ResponseFlags::NONE);
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<F: FnOnce(ResponseFlags)> Drop for Counted<F> {
    fn drop(&mut self) {
        let flags = match self.held.take() {
            Some(e) => flag_for(&e),
            None if self.started => self.abandoned,
            None => ResponseFlags::NONE,
        };
        self.end(flags);
    }
}

#[cfg(test)]
mod tests;
