//! Bodies: one boxed body type for everything the layer forwards, and bounded buffering of
//! request bodies that may be retried or mirrored.

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Empty, Full};

use crate::BoxError;

/// The body type the layer sends to backends and returns.
pub type BoxBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// Boxes any body with `Bytes` data. A body that is a [`BoxBody`] already is returned as
/// it is, not boxed a second time.
pub fn boxed<B>(body: B) -> BoxBody
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut slot = Some(body);
    if let Some(b) = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<BoxBody>>() {
        if let Some(b) = b.take() {
            return b;
        }
    }
    match slot {
        Some(body) => body.map_err(Into::into).boxed_unsync(),
        // Not reached: the slot is only emptied when it held a `BoxBody`.
        None => Empty::<Bytes>::new().map_err(Into::into).boxed_unsync(),
    }
}

/// An empty body.
pub fn empty() -> BoxBody {
    boxed(Empty::<Bytes>::new())
}

/// A body of `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> BoxBody {
    boxed(Full::new(bytes.into()))
}

/// A request body after buffering: whole (replayable), or too large (streamed once).
#[derive(Debug)]
pub(crate) enum Buffered {
    /// The whole body, within the limit: can be sent several times.
    Whole(Bytes),
    /// Over the limit: what was read, followed by the rest of the stream.
    Streaming(BoxBody),
}

/// Reads up to `limit` bytes of `body`. If the body ends within the limit it is returned
/// whole; otherwise the bytes read so far are chained in front of the rest of the stream,
/// so nothing is lost and memory stays bounded by `limit`. Trailers of a buffered body are
/// not kept.
pub(crate) async fn buffer(mut body: BoxBody, limit: usize) -> Result<Buffered, BoxError> {
    let mut buf = BytesMut::new();
    loop {
        match body.frame().await {
            None => return Ok(Buffered::Whole(buf.freeze())),
            Some(Err(e)) => return Err(e),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    if buf.len() + data.len() > limit {
                        // What was read (at most the limit plus one frame) goes first.
                        buf.extend_from_slice(&data);
                        let chained = Chain {
                            head: full(buf.freeze()),
                            tail: body,
                        };
                        return Ok(Buffered::Streaming(boxed(chained)));
                    }
                    buf.extend_from_slice(&data);
                }
                // Trailers end the body.
                Err(_) => return Ok(Buffered::Whole(buf.freeze())),
            },
        }
    }
}

/// Two bodies, one after the other.
struct Chain {
    head: BoxBody,
    tail: BoxBody,
}

impl Body for Chain {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        use std::task::Poll;
        if !self.head.is_end_stream() {
            match std::pin::Pin::new(&mut self.head).poll_frame(cx) {
                Poll::Ready(None) => {}
                other => return other,
            }
        }
        std::pin::Pin::new(&mut self.tail).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_end_stream() && self.tail.is_end_stream()
    }
}
