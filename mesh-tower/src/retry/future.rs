//! The response future of [`Retrying`](super::Retrying).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::Service;

use super::policy::Attempts;
use crate::BoxError;
use crate::body::BoxBody;
use crate::flags::ResponseFlags;

pin_project! {
    #[project = StateProj]
    enum State<F> {
        // An attempt in flight.
        Calling { #[pin] attempt: F },
        // Waiting for the back-off timer.
        Backoff { #[pin] sleep: Sleep },
        // The timer fired: the next attempt starts once the service is ready.
        Ready,
    }
}

pin_project! {
    /// The answer of the last attempt.
    pub(crate) struct RetryingFuture<S: Service<Request<BoxBody>>, P: Attempts> {
        #[pin]
        state: State<S::Future>,
        service: S,
        policy: P,
        // The attempt in flight or next (0 for the first).
        attempt: u32,
        // The retry's slot in the budget, held until its back-off timer fires.
        slot: Option<P::Slot>,
    }
}

impl<S: Service<Request<BoxBody>>, P: Attempts> std::fmt::Debug for RetryingFuture<S, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryingFuture")
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl<S: Service<Request<BoxBody>>, P: Attempts> RetryingFuture<S, P> {
    /// Sends the first attempt to `service` (ready).
    pub(super) fn new(mut service: S, policy: P, req: Request<BoxBody>) -> Self {
        let attempt = service.call(req);
        RetryingFuture {
            state: State::Calling { attempt },
            service,
            policy,
            attempt: 0,
            slot: None,
        }
    }
}

impl<S, P> Future for RetryingFuture<S, P>
where
    S: Service<Request<BoxBody>, Response = Response<BoxBody>, Error = BoxError>,
    P: Attempts,
{
    type Output = Result<Response<BoxBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Calling { attempt } => {
                    let result = ready!(attempt.poll(cx));
                    let policy = &*this.policy;
                    let retriable = policy.retries(&result);
                    let exhausted = *this.attempt >= policy.route().attempts;
                    if !retriable || !policy.replayable() || exhausted {
                        if retriable && exhausted && *this.attempt > 0 {
                            policy.flag(ResponseFlags::UPSTREAM_RETRY_LIMIT);
                        }
                        return Poll::Ready(result);
                    }
                    // Refused by the budget: the attempt's own outcome is the answer.
                    let Some(slot) = policy.admit() else {
                        return Poll::Ready(result);
                    };
                    // Drop the failed response before waiting.
                    drop(result);
                    *this.attempt += 1;
                    *this.slot = Some(slot);
                    let wait = policy.backoff(*this.attempt);
                    State::Backoff {
                        sleep: tokio::time::sleep(wait),
                    }
                }
                StateProj::Backoff { sleep } => {
                    ready!(sleep.poll(cx));
                    drop(this.slot.take());
                    State::Ready
                }
                StateProj::Ready => {
                    ready!(this.service.poll_ready(cx))?;
                    let Some(req) = this.policy.request(*this.attempt) else {
                        return Poll::Ready(Err("retry without a replayable body".into()));
                    };
                    State::Calling {
                        attempt: this.service.call(req),
                    }
                }
            };
            this.state.set(next);
        }
    }
}
