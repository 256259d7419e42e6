//! The response future of [`Retry`](super::Retry).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::Service;

use super::Policy;
use super::backoff::backoff;
use crate::BoxError;
use crate::balance::InFlight;
use crate::body::BoxBody;
use crate::flags::ResponseFlags;
use crate::metrics::{ClusterLabels, Event};

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
    pub(crate) struct ResponseFuture<'a, S: Service<Request<BoxBody>>> {
        #[pin]
        state: State<S::Future>,
        service: S,
        policy: Policy<'a>,
        // The attempt in flight or next (0 for the first).
        attempt: u32,
        // The retry's slot in the budget, held until its back-off timer fires.
        slot: Option<InFlight<'a>>,
    }
}

impl<S: Service<Request<BoxBody>>> std::fmt::Debug for ResponseFuture<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("attempt", &self.attempt)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<'a, S: Service<Request<BoxBody>>> ResponseFuture<'a, S> {
    /// Sends the first attempt to `service` (ready).
    pub(super) fn new(mut service: S, policy: Policy<'a>, req: Request<BoxBody>) -> Self {
        let attempt = service.call(req);
        ResponseFuture {
            state: State::Calling { attempt },
            service,
            policy,
            attempt: 0,
            slot: None,
        }
    }
}

impl<S> Future for ResponseFuture<'_, S>
where
    S: Service<Request<BoxBody>, Response = Response<BoxBody>, Error = BoxError>,
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
                    let exhausted = *this.attempt >= policy.route.attempts;
                    if !retriable || policy.replay.is_none() || exhausted {
                        if retriable && exhausted && *this.attempt > 0 {
                            policy.flags.insert(ResponseFlags::UPSTREAM_RETRY_LIMIT);
                        }
                        return Poll::Ready(result);
                    }
                    if !policy.budget.allows() {
                        // Envoy: the retry overflows (`UO`); the attempt's own outcome is
                        // the answer.
                        policy.metrics.record(Event::RetryBudgetExhausted);
                        let labels = ClusterLabels {
                            cluster_name: policy.cluster.name(),
                        };
                        policy.metrics.retry_overflow.get_or_create(&labels).inc();
                        policy.flags.insert(ResponseFlags::OVERFLOW);
                        return Poll::Ready(result);
                    }
                    // Drop the failed response before waiting.
                    drop(result);
                    *this.attempt += 1;
                    policy.metrics.record(Event::RetryAttempted);
                    *this.slot = Some(policy.budget.enter());
                    let wait = backoff(policy.route.backoff, *this.attempt, policy.rng);
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
