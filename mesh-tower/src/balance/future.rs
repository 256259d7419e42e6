//! The response future of [`Balance`](super::Balance): wait for the circuit breakers, call
//! the endpoint under the per-try timeout, record the outcome for outlier detection.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::Service;
use tower::util::Oneshot;

use super::InFlight;
use super::breaker::{Admission, Admit};
use super::cluster::{AttemptResult, Cluster};
use crate::BoxError;
use crate::body::BoxBody;
use crate::metrics::Metrics;
use crate::service::error::MeshError;
use crate::timeout;

/// One attempt to an endpoint (or to the inner service), for outlier detection; holds the
/// endpoint's in-flight count until the attempt ends.
#[derive(Debug)]
pub(crate) struct Attempt<'a> {
    pub(crate) cluster: &'a Cluster,
    pub(crate) metrics: &'a Metrics,
    /// The endpoint (`None`: the inner service, which outlier detection does not track).
    pub(crate) member: Option<usize>,
    pub(crate) _load: Option<InFlight<'a>>,
}

type Call<T> = Oneshot<T, Request<BoxBody>>;

pin_project! {
    #[project = StateProj]
    enum State<T: Service<Request<BoxBody>>> {
        Failed { error: Option<MeshError> },
        Waiting {
            wait: Pin<Box<dyn Future<Output = Admission> + Send>>,
            call: Option<Call<T>>,
            per_try: Option<Duration>,
        },
        Calling {
            #[pin]
            call: timeout::ResponseFuture<Call<T>>,
            admission: Option<Admission>,
        },
    }
}

pin_project! {
    /// The response of the endpoint a [`Balance`](super::Balance) picked.
    pub(crate) struct ResponseFuture<'a, T: Service<Request<BoxBody>>> {
        #[pin]
        state: State<T>,
        attempt: Option<Attempt<'a>>,
    }
}

impl<T: Service<Request<BoxBody>>> std::fmt::Debug for ResponseFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl<'a, T: Service<Request<BoxBody>>> ResponseFuture<'a, T> {
    // Inlined into `Balance::call`: built in place, not returned and copied.
    #[inline(always)]
    pub(super) fn new(
        attempt: Attempt<'a>,
        admit: Admit,
        call: Call<T>,
        per_try: Option<Duration>,
    ) -> Self {
        let state = match admit {
            Admit::Now(admission) => State::Calling {
                call: timeout::ResponseFuture::new(call, per_try),
                admission: Some(admission),
            },
            Admit::Wait(wait) => State::Waiting {
                wait,
                call: Some(call),
                per_try,
            },
        };
        ResponseFuture {
            state,
            attempt: Some(attempt),
        }
    }

    pub(super) fn failed(error: MeshError) -> Self {
        ResponseFuture {
            state: State::Failed { error: Some(error) },
            attempt: None,
        }
    }
}

impl<T> Future for ResponseFuture<'_, T>
where
    T: Service<Request<BoxBody>, Response = Response<BoxBody>>,
    T::Error: Into<BoxError>,
{
    type Output = Result<Response<BoxBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Failed { error } => {
                    let e = error.take().unwrap_or(MeshError::NoHealthyUpstream);
                    return Poll::Ready(Err(e.into()));
                }
                StateProj::Waiting {
                    wait,
                    call,
                    per_try,
                } => {
                    let admission = ready!(wait.as_mut().poll(cx));
                    let Some(call) = call.take() else {
                        return Poll::Ready(Err(MeshError::NoHealthyUpstream.into()));
                    };
                    State::Calling {
                        call: timeout::ResponseFuture::new(call, *per_try),
                        admission: Some(admission),
                    }
                }
                StateProj::Calling { call, admission } => {
                    let result = ready!(call.poll(cx));
                    drop(admission.take());
                    if let Some(a) = this.attempt.take() {
                        if let Some(i) = a.member {
                            let r = match &result {
                                Ok(r) => AttemptResult::Status(r.status().as_u16()),
                                Err(_) => AttemptResult::LocalFailure,
                            };
                            a.cluster.record(i, r, a.metrics);
                        }
                    }
                    return Poll::Ready(result);
                }
            };
            this.state.set(next);
        }
    }
}
