//! The listener's limits, with Envoy's defaults and answers (measured with Envoy 1.40 as
//! istiod configures its HTTP connection manager; see `tests/timeouts.rs`):
//!
//! | limit | default | past it |
//! |---|---|---|
//! | request head size | 60 KiB (Envoy's `max_request_headers_kb`) | 431, connection closed |
//! | request headers | 100 (Envoy's `max_request_headers_count`) | 431, connection closed |
//! | time to receive a request head | the stream idle timeout, 300 s (Envoy's stream idle timer runs from a request's first byte and is not reset by head bytes) | 408 `stream timeout`, `connection: close`; a connection that never sent a byte, or an idle keep-alive one, is closed silently (Envoy 1.40 keeps a silent connection open until its connection idle timeout, 1 h by default: measured, a connection that sent nothing was still open after 8 s with `stream_idle_timeout: 1s`) |
//! | connections | half the process's open-file limit (its soft `RLIMIT_NOFILE`, read from `/proc/self/limits`), else 10 000 | the connection is accepted and reset at once, as Envoy's listener `connection_limit` does; counted in `mesh_proxy_downstream_cx_overflow_total` |
//!
//! The connection is handed to hyper through a wrapper that counts the bytes read and can
//! leave a last reply in the socket when hyper gives up on a half-received head (hyper
//! itself closes silently).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Limits of the listener (the proxy's HTTP connection manager).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerLimits {
    /// The largest request head (request line and headers), in bytes (default 60 KiB);
    /// past it: 431. HTTP/2 header lists get the same bound.
    pub max_request_headers_bytes: usize,
    /// The most request headers (default 100); past it: 431.
    pub max_request_headers: usize,
    /// How long a client may take to send a request head; `None` (the default): the stream
    /// idle timeout (`Options::stream_idle_timeout`), as in Envoy; when both are `None`,
    /// heads may take for ever. A connection that sends nothing for this long, new or
    /// keep-alive, is closed.
    pub request_headers_timeout: Option<Duration>,
    /// The most client connections at once (default: half the open-file limit, else
    /// 10 000); past it a new connection is reset.
    pub max_connections: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            max_request_headers_bytes: 60 * 1024,
            max_request_headers: 100,
            request_headers_timeout: None,
            max_connections: default_max_connections(),
        }
    }
}

impl ListenerLimits {
    /// The time a client has to send a request head: `request_headers_timeout`, else the
    /// stream idle timeout.
    pub(crate) fn head_timeout(&self, stream_idle_timeout: Option<Duration>) -> Option<Duration> {
        self.request_headers_timeout.or(stream_idle_timeout)
    }
}

/// Half the soft open-file limit (every proxied connection may need an upstream one), else
/// 10 000.
fn default_max_connections() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            let line = t.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        });
    match soft {
        Some(n) if n >= 64 => n / 2,
        _ => 10_000,
    }
}

/// The 408 a client gets when its request head does not arrive in time (Envoy's answer).
pub(crate) const HEAD_TIMEOUT_REPLY: &[u8] = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 14\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nstream timeout";

/// The HTTP/1.1 and h2c server with the limits applied.
pub(crate) fn builder(
    limits: &ListenerLimits,
    stream_idle_timeout: Option<Duration>,
) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    // The exact bound is checked on each parsed head (`head_too_large`, 431 as Envoy);
    // hyper's read buffer is a backstop past it (hyper answers 431 when a head does not
    // fit; its check may let one read more through).
    let head = limits
        .max_request_headers_bytes
        .saturating_add(16 * 1024)
        .max(8192);
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout(stream_idle_timeout))
        .max_headers(limits.max_request_headers)
        .max_buf_size(head);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(head).unwrap_or(u32::MAX));
    b
}

/// Whether a request head is over `limit` bytes, counted as Envoy counts
/// `max_request_headers_kb`: header names and values (the request target too).
pub(crate) fn head_too_large<B>(req: &http::Request<B>, limit: usize) -> bool {
    let mut n = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    for (name, value) in req.headers() {
        n += name.as_str().len() + value.len();
        if n > limit {
            return true;
        }
    }
    n > limit
}

/// Envoy's answer to a head over the limit.
pub(crate) fn head_too_large_reply() -> http::Response<mesh_tower::body::BoxBody> {
    let mut r = http::Response::new(mesh_tower::body::full("Request Header Fields Too Large"));
    *r.status_mut() = http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    h.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    r
}

/// Counts connections and refuses those past the limit.
#[derive(Debug)]
pub(crate) struct Gate {
    max: usize,
    active: AtomicUsize,
    overflow: AtomicU64,
}

/// A connection's place at the gate, given back when dropped.
#[derive(Debug)]
pub(crate) struct Admitted(Arc<Gate>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Gate {
    pub(crate) fn new(max: usize) -> Arc<Gate> {
        Arc::new(Gate {
            max,
            active: AtomicUsize::new(0),
            overflow: AtomicU64::new(0),
        })
    }

    /// Admits `stream`, or resets it (as Envoy's listener past its connection limit) and
    /// counts the overflow.
    pub(crate) fn admit(self: &Arc<Gate>, stream: &TcpStream) -> Option<Admitted> {
        let admitted = self
            .active
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok();
        if admitted {
            return Some(Admitted(self.clone()));
        }
        self.overflow.fetch_add(1, Ordering::Relaxed);
        // Closing with a zero linger sends a reset, as Envoy does.
        let _ = stream.set_zero_linger();
        None
    }

    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    pub(crate) fn overflow(&self) -> u64 {
        self.overflow.load(Ordering::Relaxed)
    }
}

/// What a connection shares with the code that serves it.
#[derive(Debug, Default)]
pub(crate) struct ConnState {
    /// Bytes read since the proxy last wrote: a request head in progress.
    read_since_write: AtomicU64,
    /// Whether the client has sent anything yet.
    ever_read: AtomicBool,
    last_reply: OnceLock<&'static [u8]>,
}

impl ConnState {
    /// Whether the client has sent a byte since the connection opened.
    pub(crate) fn ever_read(&self) -> bool {
        self.ever_read.load(Ordering::Relaxed)
    }

    /// Whether the client has sent bytes since the last answer (a request was started;
    /// an idle keep-alive connection has not).
    pub(crate) fn has_read(&self) -> bool {
        self.read_since_write.load(Ordering::Relaxed) > 0
    }

    /// Leaves `reply` in the socket when the connection is dropped.
    pub(crate) fn reply_on_close(&self, reply: &'static [u8]) {
        let _ = self.last_reply.set(reply);
    }
}

/// A client connection as hyper sees it.
#[derive(Debug)]
pub(crate) struct Io {
    stream: TcpStream,
    state: Arc<ConnState>,
}

impl Io {
    pub(crate) fn new(stream: TcpStream) -> (Io, Arc<ConnState>) {
        let state = Arc::new(ConnState::default());
        (
            Io {
                stream,
                state: state.clone(),
            },
            state,
        )
    }
}

impl Drop for Io {
    fn drop(&mut self) {
        if let Some(reply) = self.state.last_reply.get() {
            // Best effort, without waiting: a short reply fits the socket's send buffer.
            let _ = self.stream.try_write(reply);
        }
    }
}

impl AsyncRead for Io {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.stream).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.state
                .read_since_write
                .fetch_add(n as u64, Ordering::Relaxed);
            self.state.ever_read.store(true, Ordering::Relaxed);
        }
        r
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.state.read_since_write.store(0, Ordering::Relaxed);
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.state.read_since_write.store(0, Ordering::Relaxed);
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// What an HTTP/2 stream's request body that the proxy stopped reading early is still
/// read for, at most: this many bytes...
const DRAIN_BYTES: usize = 64 * 1024;
/// ...and this long; past either, the stream is reset, as before.
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// A client's request body as the layer gets it. An HTTP/2 stream answered before its
/// body ended (a local reply, a fault abort, a 408) keeps being read and discarded for a
/// moment after the layer drops it, so that the client's in-flight DATA frames end the
/// stream normally. Without this the h2 server resets each such stream, and DATA frames
/// arriving after it has forgotten the stream (past 50 recent resets, or 1 s) are each
/// counted as a protocol error of the client: after 1 024 of them it closes the whole
/// connection (`GOAWAY ENHANCE_YOUR_CALM`, `too_many_internal_resets`), failing every
/// stream on it. Measured: 16 concurrent h2c streams POSTing 1 KiB to a host with no
/// route lost their connection after about 2 300 requests; Envoy 1.40 answered all
/// 3 000 of the same run (`h2load -n 3000 -m 16 -d`) with 404 `NR` on one connection.
#[derive(Debug)]
pub(crate) struct RequestBody {
    inner: Option<hyper::body::Incoming>,
    drain: bool,
}

impl RequestBody {
    pub(crate) fn new(inner: hyper::body::Incoming, version: http::Version) -> RequestBody {
        RequestBody {
            inner: Some(inner),
            drain: version == http::Version::HTTP_2,
        }
    }
}

impl hyper::body::Body for RequestBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, hyper::Error>>> {
        match self.inner.as_mut() {
            Some(b) => Pin::new(b).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| hyper::body::SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        let Some(mut body) = self.inner.take() else {
            return;
        };
        if !self.drain || hyper::body::Body::is_end_stream(&body) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            use http_body_util::BodyExt;
            let read = async {
                let mut n = 0usize;
                while let Some(Ok(frame)) = body.frame().await {
                    n += frame.data_ref().map_or(0, |d| d.len());
                    if n > DRAIN_BYTES {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_TIME, read).await;
        });
    }
}

/// Whether a connection error is hyper's header read timeout.
pub(crate) fn is_head_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_timeout() {
                return true;
            }
        }
        cur = err.source();
    }
    false
}
