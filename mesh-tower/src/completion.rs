//! A response body that reports how it ended, so that a request is counted when its
//! response is over, with the flag Envoy gives it: a body the upstream cuts (an error after
//! the head) is counted with `UPE` (Envoy 1.40 logs `200 UPE` for a response cut mid-body,
//! measured), never as a complete `200 -`.
//!
//! A body that fails on its very first read yields once before the error, so that a
//! server holding the response head sends it first (Envoy forwards the head of a response
//! cut right after it, then closes).
//!
//! The report comes as soon as the body is known to be over: when the last frame is read
//! (before it reaches the client, so a client that has read a whole response finds it
//! counted), when the body fails, or, failing both, when the body is dropped (a client that
//! went away, or a response whose body nobody reads, such as HEAD's): then with no extra
//! flag (Envoy would add `DC`; not done).

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::BoxError;
use crate::body::{BoxBody, boxed};
use crate::flags::ResponseFlags;

/// `body`, calling `on_end` once with the flags its end adds.
pub(crate) fn counted<F>(body: BoxBody, on_end: F) -> BoxBody
where
    F: FnOnce(ResponseFlags) + Send + Unpin + 'static,
{
    boxed(Counted {
        inner: body,
        on_end: Some(on_end),
        started: false,
        held: None,
    })
}

struct Counted<F: FnOnce(ResponseFlags)> {
    inner: BoxBody,
    on_end: Option<F>,
    /// Whether a frame was asked for yet.
    started: bool,
    /// An error of the very first read, held for one turn.
    held: Option<BoxError>,
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
            self.end(ResponseFlags::UPSTREAM_PROTOCOL_ERROR);
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
            Some(Err(_)) => self.end(ResponseFlags::UPSTREAM_PROTOCOL_ERROR),
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
        self.end(ResponseFlags::NONE);
    }
}

#[cfg(test)]
mod tests;
