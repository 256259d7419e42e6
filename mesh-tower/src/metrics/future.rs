//! The response future of [`Count`](super::Count).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::Response;
use mesh_route::policy::ReplyTo;
use pin_project_lite::pin_project;

use super::Routed;
use super::record::Record;
use crate::ReplyContext;
use crate::body::BoxBody;
use crate::execute::{GRPC_STATUS, Shared};
use crate::flags::ResponseFlags;
use crate::service::error::MeshError;

pin_project! {
    /// The routed request's result, counted (now, or when its body or tunnel ends).
    pub(crate) struct CountFuture<F> {
        #[pin]
        inner: F,
        shared: Option<Arc<Shared>>,
        to: ReplyTo,
    }
}

impl<F> std::fmt::Debug for CountFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountFuture").finish_non_exhaustive()
    }
}

impl<F> CountFuture<F> {
    pub(crate) fn new(inner: F, shared: Arc<Shared>, to: ReplyTo) -> Self {
        CountFuture {
            inner,
            shared: Some(shared),
            to,
        }
    }
}

impl<F> Future for CountFuture<F>
where
    F: Future<Output = Result<Routed, Infallible>>,
{
    type Output = Result<(Result<Response<BoxBody>, MeshError>, ReplyContext), Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(routed) = ready!(this.inner.poll(cx));
        let Some(shared) = this.shared.take() else {
            return Poll::Pending;
        };
        Poll::Ready(Ok(count(routed, shared, *this.to)))
    }
}

/// Counts a routed request: at once, or once its response body or upgraded tunnel ends.
fn count(
    routed: Routed,
    shared: Arc<Shared>,
    to: ReplyTo,
) -> (Result<Response<BoxBody>, MeshError>, ReplyContext) {
    let Routed {
        mut result,
        outcome,
        reply_headers,
        started,
        abandoned,
    } = routed;
    // A mesh error is answered as a local reply: to a gRPC client, HTTP 200 with the
    // mapped grpc-status, as the metrics report it.
    let (code, grpc_status) = match &result {
        Ok(r) => (
            r.status().as_u16(),
            r.headers()
                .get(&GRPC_STATUS)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
        ),
        Err(e) if to.grpc => (
            200,
            mesh_route::policy::local_reply::http_to_grpc_status(e.status().as_u16()).to_string(),
        ),
        Err(e) => (e.status().as_u16(), String::new()),
    };
    let context = ReplyContext {
        to,
        headers: reply_headers,
    };
    let record = Record {
        shared,
        outcome,
        code,
        grpc_status,
        started,
    };
    // An upgraded connection's tunnel counts the request when it closes.
    let deferred = result
        .as_mut()
        .ok()
        .and_then(|r| r.extensions_mut().remove::<crate::completion::Deferred>());
    if let Some(deferred) = deferred {
        deferred.hand_over(move |flags| record.finish(flags));
        return (result, context);
    }
    let result =
        match result {
            // Counted when the body ends, so that a body the upstream cuts is counted with
            // `UPE`, never as a complete answer.
            Ok(r) if !http_body::Body::is_end_stream(r.body()) => Ok(r.map(|b| {
                crate::completion::counted(b, abandoned, move |flags| record.finish(flags))
            })),
            other => {
                record.finish(ResponseFlags::NONE);
                other
            }
        };
    (result, context)
}
