//! Circuit breaking (`connectionPool`): at most `http2MaxRequests` attempts in flight; at
//! most `maxConnections` busy, with up to `http1MaxPendingRequests` waiting for one.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::OwnedSemaphorePermit;

use super::cluster::{Cluster, ClusterState};
use crate::metrics::{ClusterLabels, Metrics};

/// Why an attempt was refused by a circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// `http2MaxRequests` reached.
    Requests,
    /// All connections busy and `http1MaxPendingRequests` waiting already.
    Pending,
}

/// Held while an attempt is admitted by the circuit breakers.
#[derive(Debug)]
pub(crate) struct Admission {
    state: Arc<ClusterState>,
    _connection: Option<OwnedSemaphorePermit>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An attempt through the circuit breakers: admitted now, or waiting for a connection.
pub(crate) enum Admit {
    /// Admitted.
    Now(Admission),
    /// Waiting for a busy connection to come free (rare: boxed).
    Wait(Pin<Box<dyn Future<Output = Admission> + Send>>),
}

impl std::fmt::Debug for Admit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Admit::Now(a) => f.debug_tuple("Now").field(a).finish(),
            Admit::Wait(_) => f.write_str("Wait"),
        }
    }
}

impl Cluster {
    /// Admits an attempt through the circuit breakers: at most `http2MaxRequests` in flight;
    /// at most `maxConnections` busy, with up to `http1MaxPendingRequests` waiting for one.
    pub(crate) fn admit(&self, metrics: &Metrics) -> Result<Admit, Overflow> {
        let labels = || ClusterLabels {
            cluster_name: self.key.name(),
        };
        if let Some(max) = self.policy.limits.max_requests {
            if self.state.in_flight.load(Ordering::Relaxed) >= max {
                metrics.rq_overflow.get_or_create(&labels()).inc();
                return Err(Overflow::Requests);
            }
        }
        let connection = match &self.state.connections {
            None => None,
            Some(sem) => match sem.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    metrics.cx_overflow.get_or_create(&labels()).inc();
                    // Envoy's default for pending requests is unlimited (2^32-1).
                    let max_pending = self.policy.limits.max_pending_requests.unwrap_or(u64::MAX);
                    let pending = self.state.pending.fetch_add(1, Ordering::Relaxed);
                    if pending >= max_pending {
                        self.state.pending.fetch_sub(1, Ordering::Relaxed);
                        metrics.pending_overflow.get_or_create(&labels()).inc();
                        return Err(Overflow::Pending);
                    }
                    let (sem, state) = (sem.clone(), self.state.clone());
                    return Ok(Admit::Wait(Box::pin(async move {
                        let permit = sem.acquire_owned().await;
                        state.pending.fetch_sub(1, Ordering::Relaxed);
                        Admission::enter(state, permit.ok())
                    })));
                }
            },
        };
        Ok(Admit::Now(Admission::enter(self.state.clone(), connection)))
    }
}

impl Admission {
    fn enter(state: Arc<ClusterState>, connection: Option<OwnedSemaphorePermit>) -> Self {
        state.in_flight.fetch_add(1, Ordering::Relaxed);
        Admission {
            state,
            _connection: connection,
        }
    }
}
