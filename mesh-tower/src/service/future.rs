//! The response future of [`MeshService`](super::MeshService).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;

use crate::ReplyContext;
use crate::body::BoxBody;
use crate::execute::RouterFuture;
use crate::metrics::CountFuture;
use crate::service::error::MeshError;

type Routing = CountFuture<RouterFuture>;

/// How the service's mode turns a mesh result into its own.
type Finish<E> =
    fn(Result<Response<BoxBody>, MeshError>, ReplyContext) -> Result<Response<BoxBody>, E>;

pin_project! {
    #[project = StateProj]
    enum State<E> {
        Ready { result: Option<Result<Response<BoxBody>, E>> },
        Routing { #[pin] routing: Routing, finish: Finish<E> },
    }
}

pin_project! {
    /// The future of one request through the mesh.
    pub struct ResponseFuture<E> {
        #[pin]
        state: State<E>,
    }
}

impl<E> std::fmt::Debug for ResponseFuture<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<E> ResponseFuture<E> {
    pub(crate) fn new(routing: Routing, finish: Finish<E>) -> Self {
        ResponseFuture {
            state: State::Routing { routing, finish },
        }
    }

    pub(crate) fn ready(r: Result<Response<BoxBody>, E>) -> Self {
        ResponseFuture {
            state: State::Ready { result: Some(r) },
        }
    }
}

impl<E> Future for ResponseFuture<E> {
    type Output = Result<Response<BoxBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Ready { result } => match result.take() {
                Some(r) => Poll::Ready(r),
                None => Poll::Pending,
            },
            StateProj::Routing { routing, finish } => {
                let Ok::<_, Infallible>((r, context)) = ready!(routing.poll(cx));
                Poll::Ready(finish(r, context))
            }
        }
    }
}
