//! [`MeshLayer`]: wraps any service with the mesh; and [`MeshHandle`], to swap its route
//! table while it serves.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use mesh_route::{Identity, RouteTable};
use tokio::sync::Semaphore;
use tower::Layer;

use super::{Errors, MeshService, Mode, Responses};
use crate::backend::Backends;
use crate::balance::Clusters;
use crate::execute::{Shared, Snapshot};
use crate::metrics::Metrics;
use crate::options::Options;
use crate::rng::Samples;

/// Adds Istio's traffic management to a service: `ServiceBuilder::new().layer(MeshLayer::new(table, backends))`.
///
/// Every service the layer builds shares one route table (swappable through
/// [`handle`](Self::handle)), one set of backends, per-destination state, metrics and a
/// seeded source of randomness.
pub struct MeshLayer<M = Responses> {
    shared: Arc<Shared>,
    mode: PhantomData<fn() -> M>,
}

impl<M> Clone for MeshLayer<M> {
    fn clone(&self) -> Self {
        MeshLayer {
            shared: self.shared.clone(),
            mode: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for MeshLayer<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshLayer")
            .field("shared", &self.shared)
            .finish()
    }
}

impl MeshLayer<Responses> {
    /// A layer routing with `table` to `backends`, with default [`Options`].
    pub fn new(table: impl Into<Arc<RouteTable>>, backends: Backends) -> Self {
        MeshLayer::with_options(table, backends, Options::default())
    }

    /// A layer with explicit options.
    pub fn with_options(
        table: impl Into<Arc<RouteTable>>,
        backends: Backends,
        options: Options,
    ) -> Self {
        let table: Arc<RouteTable> = table.into();
        let (ns, app, version) = match table.identity() {
            Identity::Sidecar { namespace, labels } => (
                namespace.clone(),
                labels.get("app").cloned().unwrap_or_default(),
                labels.get("version").cloned().unwrap_or_default(),
            ),
            Identity::Gateway { namespace, name } => {
                (namespace.clone(), name.clone(), String::new())
            }
        };
        let rng = options
            .seed
            .map_or_else(Samples::from_entropy, Samples::new);
        let ids = options.seed.map_or_else(Samples::from_entropy, |s| {
            Samples::new(s ^ 0x6a09_e667_f3bc_c908)
        });
        let loop_id = crate::loop_detect::LoopId::new(options.cdn_loop_id.as_deref());
        let metrics = Metrics::new();
        let rollouts =
            crate::rollout::Rollouts::new(metrics.rollout.clone(), options.listener_port);
        let shared = Shared {
            rollouts,
            loop_id,
            state: ArcSwap::from_pointee(Snapshot {
                table: table.clone(),
                backends: Arc::new(backends),
                generation: 0,
            }),
            generations: AtomicU64::new(0),
            clusters: Clusters::default(),
            default_policy: Arc::default(),
            mirrors: Arc::new(Semaphore::new(options.mirror_queue)),
            options,
            metrics,
            rng,
            ids,
            source_namespace: ns,
            source_app: if app.is_empty() {
                "unknown".into()
            } else {
                app
            },
            source_version: if version.is_empty() {
                "unknown".into()
            } else {
                version
            },
        };
        let shared = Arc::new(shared);
        shared.rollouts.install(&shared, table, None);
        MeshLayer {
            shared,
            mode: PhantomData,
        }
    }

    /// The same layer, returning mesh errors as errors instead of local replies.
    pub fn errors(self) -> MeshLayer<Errors> {
        MeshLayer {
            shared: self.shared,
            mode: PhantomData,
        }
    }
}

impl<M> MeshLayer<M> {
    /// A handle to swap the table and backends, and read metrics.
    pub fn handle(&self) -> MeshHandle {
        MeshHandle {
            shared: self.shared.clone(),
        }
    }
}

impl<S, M: Mode> Layer<S> for MeshLayer<M> {
    type Service = MeshService<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        MeshService::new(inner, self.shared.clone())
    }
}

/// Swaps the route table and backends of a running layer, and reads its metrics.
///
/// The table and the backends are one snapshot: each request reads it once, so that a
/// request decided with a table is dispatched to that table's backends, and requests in
/// flight finish on the snapshot they started with. [`swap`](Self::swap) replaces both at
/// once; a configuration that adds a host and its endpoints should use it.
#[derive(Clone, Debug)]
pub struct MeshHandle {
    shared: Arc<Shared>,
}

impl MeshHandle {
    /// Replaces the route table and the backends together, atomically: no request sees the
    /// new table with the old backends, or the reverse.
    ///
    /// Destinations keep their state (limits, counters, and each endpoint's ejection state
    /// by endpoint name) when their traffic policy is unchanged.
    ///
    /// Automated canaries (see [`crate::rollout`]) whose rule and annotation are unchanged
    /// keep their state; the others start from the written weights.
    pub fn swap(&self, table: impl Into<Arc<RouteTable>>, backends: impl Into<Arc<Backends>>) {
        let generation = self.next_generation();
        self.shared.rollouts.install(
            &self.shared,
            table.into(),
            Some((backends.into(), generation)),
        );
    }

    /// Replaces the route table, keeping the backends. Automated canaries whose rule and
    /// annotation are unchanged keep their state; the others start from the written weights.
    pub fn swap_table(&self, table: impl Into<Arc<RouteTable>>) {
        self.shared
            .rollouts
            .install(&self.shared, table.into(), None);
    }

    /// Runs `table` as a configuration candidate beside the serving one (replacing any
    /// candidate): every request is decided by both, the serving decision is executed, and
    /// the differences are counted (see [`crate::rollout::candidate`]).
    pub fn set_candidate(&self, table: impl Into<Arc<RouteTable>>) {
        self.shared.rollouts.set_candidate(Some(table.into()), None);
    }

    /// As [`set_candidate`](Self::set_candidate), and the candidate promotes itself after
    /// `auto.after` compared requests if none differed under a rule outside `auto.expected`.
    pub fn set_candidate_with(
        &self,
        table: impl Into<Arc<RouteTable>>,
        auto: crate::rollout::candidate::AutoPromote,
    ) {
        self.shared
            .rollouts
            .set_candidate(Some(table.into()), Some(auto));
    }

    /// The candidate's counts and example differences, if one runs.
    pub fn candidate(&self) -> Option<crate::rollout::candidate::CandidateReport> {
        self.shared.rollouts.candidate_report()
    }

    /// Serves the candidate's route table (as [`swap_table`](Self::swap_table) would, with
    /// the backends in use) and stops comparing; false when no candidate runs.
    pub fn promote_candidate(&self) -> bool {
        match self.shared.rollouts.take_candidate() {
            Some(table) => {
                self.shared.rollouts.install(&self.shared, table, None);
                true
            }
            None => false,
        }
    }

    /// Stops comparing without promoting.
    pub fn drop_candidate(&self) {
        self.shared.rollouts.set_candidate(None, None);
    }

    /// Where the automated canaries stand, in table order.
    pub fn rollouts(&self) -> Vec<crate::rollout::RolloutStatus> {
        self.shared.rollouts.statuses()
    }

    /// Calls `callback` on every step of an automated canary, from the layer's interval
    /// driver (keep it short), and on the start of the rollouts a later
    /// [`swap_table`](Self::swap_table) begins (those of the layer's first table started
    /// before any callback: see [`rollouts`](Self::rollouts)).
    pub fn on_rollout(
        &self,
        callback: impl Fn(&crate::rollout::RolloutEvent) + Send + Sync + 'static,
    ) {
        self.shared.rollouts.on_step(Arc::new(callback));
    }

    /// Replaces the backends, keeping the route table.
    ///
    /// Destinations keep their state (limits, counters, and each endpoint's ejection state
    /// by endpoint name) when their traffic policy is unchanged.
    pub fn swap_backends(&self, backends: impl Into<Arc<Backends>>) {
        let backends = backends.into();
        let generation = self.next_generation();
        self.shared.state.rcu(|s| Snapshot {
            table: s.table.clone(),
            backends: backends.clone(),
            generation,
        });
    }

    fn next_generation(&self) -> u64 {
        self.shared.generations.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The table in use.
    pub fn table(&self) -> Arc<RouteTable> {
        self.shared.state.load().table.clone()
    }

    /// The backends in use.
    pub fn backends(&self) -> Arc<Backends> {
        self.shared.state.load().backends.clone()
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// The id this layer appends to the `CDN-Loop` header of the requests it forwards
    /// (see [`crate::loop_detect`]).
    pub fn cdn_loop_id(&self) -> &str {
        self.shared.loop_id.id()
    }
}

#[cfg(test)]
impl<M> MeshLayer<M> {
    /// The state every service of the layer shares (for the policies' unit tests).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}
