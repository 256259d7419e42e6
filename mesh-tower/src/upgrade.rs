//! Websocket upgrades carried through the layer: Istio enables websocket upgrades on its
//! listeners (`upgrade_configs: [{upgrade_type: websocket}]`), and Envoy then relays the
//! upstream's `101 Switching Protocols` and the bytes both ways until either side closes.
//!
//! The one place where the layer does this: when an upstream answers a request that asked
//! for `Upgrade: websocket` with 101, the client's connection (hyper's `OnUpgrade` in the
//! received request's extensions, as hyper and axum servers put it there) and the
//! upstream's (in the response's extensions, as hyper's client puts it there) are joined
//! once both have switched, and bytes are copied both ways; a close or an error on one
//! side shuts the other down. Other upgrades (`h2c`) are not carried.
//!
//! The stream idle timeout ([`Options::stream_idle_timeout`](crate::Options)) applies to the
//! tunnel as Envoy applies it to an upgraded stream: bytes in either direction keep it
//! open, and when neither side sends anything for the timeout both connections are closed.
//! The request is counted when the tunnel closes, with flag `SI` when the idle timeout
//! closed it. Measured with Envoy 1.40 (istiod's HCM settings, websocket upgrades,
//! `stream_idle_timeout: 1s`, route `timeout: 0s`): a tunnel where nobody sends is closed
//! 1 s after the 101 (the upstream's connection at once, the client's after Envoy's 1 s
//! delayed close) and logged `101 SI`; a tunnel where only the client, or only the
//! upstream, sends every 500 ms stays open for the 4 s observed.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Extensions, HeaderMap, Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::body::BoxBody;
use crate::flags::ResponseFlags;
use crate::idle::Activity;

/// Whether a request asks for a websocket upgrade.
pub(crate) fn wants_websocket(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::UPGRADE)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// Joins the client's and the upstream's connections when `response` switches protocols;
/// the tunnel closes when neither side sends anything for `idle` (never with `None`). The
/// request's count is then deferred to the tunnel's end (a
/// [`Deferred`](crate::completion::Deferred) in the response's extensions).
pub(crate) fn splice(
    request: &Extensions,
    request_headers: &HeaderMap,
    response: &mut Response<BoxBody>,
    idle: Option<Duration>,
) {
    if response.status() != StatusCode::SWITCHING_PROTOCOLS || !wants_websocket(request_headers) {
        return;
    }
    let (Some(downstream), Some(upstream)) = (
        request.get::<OnUpgrade>().cloned(),
        response.extensions_mut().remove::<OnUpgrade>(),
    ) else {
        return;
    };
    let (deferred, end) = crate::completion::deferred();
    response.extensions_mut().insert(deferred);
    tokio::spawn(async move {
        let flags = tunnel(downstream, upstream, idle).await;
        end.report(flags).await;
    });
}

/// Copies bytes both ways once both connections have switched; the flags of its end.
async fn tunnel(
    downstream: OnUpgrade,
    upstream: OnUpgrade,
    idle: Option<Duration>,
) -> ResponseFlags {
    let (Ok(down), Ok(up)) = (downstream.await, upstream.await) else {
        return ResponseFlags::NONE;
    };
    let activity = Activity::new(true);
    let mut down = Touching {
        io: TokioIo::new(down),
        activity: activity.clone(),
    };
    let mut up = Touching {
        io: TokioIo::new(up),
        activity: activity.clone(),
    };
    let copy = tokio::io::copy_bidirectional(&mut down, &mut up);
    match idle {
        None => {
            let _ = copy.await;
            ResponseFlags::NONE
        }
        // On the timeout the copy is dropped here, and both connections with it.
        Some(timeout) => {
            let copy = std::pin::pin!(copy);
            match crate::idle::watch(timeout, Some(&activity), copy).await {
                Some(_) => ResponseFlags::NONE,
                None => ResponseFlags::STREAM_IDLE_TIMEOUT,
            }
        }
    }
}

/// A connection of the tunnel that records each read of data as activity.
struct Touching<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Touching<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Touching<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
