//! The response future of [`Inject`](super::Inject).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::Response;
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::Service;
use tower::util::Oneshot;

use super::Inject;
use crate::body::BoxBody;
use crate::flags::FlagCell;
use crate::flags::ResponseFlags;
use crate::rng::Samples;

pin_project! {
    #[project = StateProj]
    enum State<'a, S: Service<Q>, Q, R, F> {
        Called { #[pin] call: S::Future },
        Delayed { #[pin] sleep: Sleep, then: Option<(Inject<'a, S, R, F>, Q)> },
        After { #[pin] call: Oneshot<S, Q> },
        Aborted { reply: Option<Response<BoxBody>> },
    }
}

pin_project! {
    /// The inner service's answer, or the abort's local reply.
    pub(crate) struct InjectFuture<'a, S: Service<Q>, Q, R, F> {
        #[pin]
        state: State<'a, S, Q, R, F>,
    }
}

impl<S: Service<Q>, Q, R, F> std::fmt::Debug for InjectFuture<'_, S, Q, R, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InjectFuture").finish_non_exhaustive()
    }
}

impl<'a, S: Service<Q>, Q, R, F> InjectFuture<'a, S, Q, R, F> {
    pub(super) fn called(call: S::Future) -> Self {
        InjectFuture {
            state: State::Called { call },
        }
    }

    pub(super) fn aborted(reply: Response<BoxBody>) -> Self {
        InjectFuture {
            state: State::Aborted { reply: Some(reply) },
        }
    }

    pub(super) fn delayed(delay: Duration, fault: Inject<'a, S, R, F>, req: Q) -> Self {
        InjectFuture {
            state: State::Delayed {
                sleep: tokio::time::sleep(delay),
                then: Some((fault, req)),
            },
        }
    }
}

impl<S, Q, R, F> Future for InjectFuture<'_, S, Q, R, F>
where
    S: Service<Q, Response = Response<BoxBody>>,
    R: std::ops::Deref<Target = Samples> + Clone,
    F: std::ops::Deref<Target = FlagCell> + Clone,
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
                    fault.env.flag(ResponseFlags::DELAY_INJECTED);
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
