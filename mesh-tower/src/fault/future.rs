//! The response future of [`Fault`](super::Fault).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::Response;
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::Service;
use tower::util::Oneshot;

use super::Fault;
use crate::body::BoxBody;
use crate::flags::ResponseFlags;

pin_project! {
    #[project = StateProj]
    enum State<'a, S: Service<R>, R> {
        Called { #[pin] call: S::Future },
        Delayed { #[pin] sleep: Sleep, then: Option<(Fault<'a, S>, R)> },
        After { #[pin] call: Oneshot<S, R> },
        Aborted { reply: Option<Response<BoxBody>> },
    }
}

pin_project! {
    /// The inner service's answer, or the abort's local reply.
    pub(crate) struct ResponseFuture<'a, S: Service<R>, R> {
        #[pin]
        state: State<'a, S, R>,
    }
}

impl<S: Service<R>, R> std::fmt::Debug for ResponseFuture<'_, S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<'a, S: Service<R>, R> ResponseFuture<'a, S, R> {
    pub(super) fn called(call: S::Future) -> Self {
        ResponseFuture {
            state: State::Called { call },
        }
    }

    pub(super) fn aborted(reply: Response<BoxBody>) -> Self {
        ResponseFuture {
            state: State::Aborted { reply: Some(reply) },
        }
    }

    pub(super) fn delayed(delay: Duration, fault: Fault<'a, S>, req: R) -> Self {
        ResponseFuture {
            state: State::Delayed {
                sleep: tokio::time::sleep(delay),
                then: Some((fault, req)),
            },
        }
    }
}

impl<S, R> Future for ResponseFuture<'_, S, R>
where
    S: Service<R, Response = Response<BoxBody>>,
{
    type Output = Result<Response<BoxBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Called { call } => return call.poll(cx),
                StateProj::After { call } => return call.poll(cx),
                StateProj::Aborted { reply } => {
                    let r = reply
                        .take()
                        .unwrap_or_else(|| Response::new(crate::body::empty()));
                    return Poll::Ready(Ok(r));
                }
                StateProj::Delayed { sleep, then } => {
                    ready!(sleep.poll(cx));
                    let Some((fault, req)) = then.take() else {
                        return Poll::Ready(Ok(Response::new(crate::body::empty())));
                    };
                    fault.flags.insert(ResponseFlags::DELAY_INJECTED);
                    match fault.abort() {
                        Some(reply) => State::Aborted { reply: Some(reply) },
                        None => State::After {
                            call: Oneshot::new(fault.inner, req),
                        },
                    }
                }
            };
            this.state.set(next);
        }
    }
}
