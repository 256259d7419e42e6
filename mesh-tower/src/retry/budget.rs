//! How many retries a destination allows in flight: the DestinationRule's `retryBudget`
//! when set, else its `connectionPool.http.maxRetries` when set, else the layer's default
//! budget ([`RetryLimit`]).

use std::sync::atomic::{AtomicU64, Ordering};

use mesh_route::policy::RetryLimit;

use crate::balance::InFlight;

/// A destination's retry limit and the counters it reads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget<'a> {
    limit: RetryLimit,
    /// Requests in flight to the destination.
    requests: &'a AtomicU64,
    /// Retries waiting for their back-off timer.
    retries: &'a AtomicU64,
}

impl<'a> Budget<'a> {
    /// `limit` over the destination's counters of requests and retries in flight.
    pub(crate) fn new(limit: RetryLimit, requests: &'a AtomicU64, retries: &'a AtomicU64) -> Self {
        Budget {
            limit,
            requests,
            retries,
        }
    }

    /// Whether another retry may start now.
    pub(crate) fn allows(&self) -> bool {
        self.limit.allows(
            self.requests.load(Ordering::Relaxed),
            self.retries.load(Ordering::Relaxed),
        )
    }

    /// Counts a retry against the budget until dropped: Envoy counts a retry while it waits
    /// for its back-off timer; once the timer fires the retry is an ordinary request again.
    pub(crate) fn enter(&self) -> InFlight<'a> {
        InFlight::enter(self.retries)
    }
}
