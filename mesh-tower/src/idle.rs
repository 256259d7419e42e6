//! The stream idle timeout ([`Options::stream_idle_timeout`](crate::Options)), as Envoy's
//! HTTP connection manager applies it: a request on which nothing moves for the timeout is
//! given up. Measured with Envoy 1.40 (`stream_idle_timeout: 2s`, istiod's HCM settings):
//!
//! - a client that stops sending its request body: `408`, body `stream timeout`,
//!   `connection: close`, flag `SI`;
//! - an upstream that does not answer (and no route timeout): `504`, body
//!   `stream timeout`, flag `SI`; the client's connection stays open;
//! - an upstream that stops in the middle of its response body: the client gets what was
//!   sent, then its connection is closed.
//!
//! Activity is a request body frame from the client, and the upstream's response head and
//! body frames; on a websocket tunnel, bytes either way (see `upgrade`). The request head itself is the listener's business (a proxy bounds the time
//! to read it, see mesh-proxy's `--stream-idle-timeout`).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::BoxError;
use crate::body::{BoxBody, boxed};

/// When a request last moved, shared by the request body and the watcher.
#[derive(Debug)]
pub(crate) struct Activity {
    start: Instant,
    /// Milliseconds after `start`.
    last_ms: AtomicU64,
    request_complete: AtomicBool,
}

impl Activity {
    pub(crate) fn new(request_complete: bool) -> Arc<Activity> {
        Arc::new(Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            request_complete: AtomicBool::new(request_complete),
        })
    }

    /// Records that something moved now.
    pub(crate) fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    /// Whether the client has sent its whole request.
    pub(crate) fn request_complete(&self) -> bool {
        self.request_complete.load(Ordering::Relaxed)
    }
}

/// Runs `fut` until it finishes, or until nothing has moved for `timeout` (then `None`).
/// Without an `activity` (a request without a body) the wait is measured from the start.
/// `fut` is pinned by the caller: moved in by value, a large future (a request's) would be
/// held, and copied, twice (the argument and the pinned local).
pub(crate) async fn watch<F: Future>(
    timeout: Duration,
    activity: Option<&Activity>,
    mut fut: Pin<&mut F>,
) -> Option<F::Output> {
    let start = Instant::now();
    let last = || activity.map_or(start, Activity::last);
    let mut seen = last();
    let mut sleep = std::pin::pin!(tokio::time::sleep_until(seen + timeout));
    // The future first (as `select!` with `biased;`), then the timer: when it fires and
    // something moved since, it is set again from the last activity.
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        while sleep.as_mut().poll(cx).is_ready() {
            let now = last();
            if now == seen {
                return Poll::Ready(None);
            }
            seen = now;
            sleep.as_mut().reset(seen + timeout);
        }
        Poll::Pending
    })
    .await
}

/// A request body that records its activity.
pub(crate) struct RequestBody {
    inner: BoxBody,
    activity: Arc<Activity>,
}

impl RequestBody {
    pub(crate) fn wrap(inner: BoxBody, activity: Arc<Activity>) -> BoxBody {
        boxed(RequestBody { inner, activity })
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        self.activity.touch();
        if frame.is_none() || self.inner.is_end_stream() {
            self.activity
                .request_complete
                .store(true, Ordering::Relaxed);
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

/// The error that cuts a response body that stalled for the idle timeout.
#[derive(Debug, thiserror::Error)]
#[error("stream timeout: the upstream sent nothing for {0:?}")]
pub struct StreamIdleTimeout(pub Duration);

/// A response body cut when nothing arrives for the timeout.
pub(crate) struct ResponseBody {
    inner: BoxBody,
    timeout: Duration,
    /// Armed only once a poll finds no data ready (a body that is ready at once never
    /// allocates a timer).
    sleep: Option<Pin<Box<Sleep>>>,
}

impl ResponseBody {
    pub(crate) fn wrap(inner: BoxBody, timeout: Duration) -> BoxBody {
        if inner.is_end_stream() {
            return inner;
        }
        boxed(ResponseBody {
            inner,
            timeout,
            sleep: None,
        })
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.sleep = None;
                Poll::Ready(frame)
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.sleep = None;
                        Poll::Ready(Some(Err(Box::new(StreamIdleTimeout(timeout)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
