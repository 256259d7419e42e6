//! Automated canaries (the `mesh-route.dev/rollout` annotation) executed by the layer: the
//! canary's outcomes are counted per interval (requests, failures, a latency sketch of fixed
//! size), an interval driver on tokio's clock calls [`mesh_route::rollout::step`] when an
//! interval ends, and the layer serves a table derived with the new weights
//! ([`RouteTable::with_canary_weights`]) through its atomic swap.
//!
//! State is per layer (per replica): each replica steps on its own share of the traffic.
//! Replicas behind one load balancer see samples of the same traffic, so they take the same
//! steps at about the same time without talking to each other; they can differ by an
//! interval (their intervals are not aligned) or in a judgement near a threshold (each
//! judges its own sample: with `minRequests` canary requests per interval and replica, a
//! success rate one replica measures can differ from another's by the sampling error).
//! A rollback in one replica is not propagated: the others roll back on their own numbers.
//!
//! A reload ([`MeshHandle::swap_table`](crate::MeshHandle::swap_table)) keeps the state of
//! every rollout whose rule and annotation are unchanged (intervals keep their timing and
//! counts); a changed one starts again from its written weights. Metrics:
//! `mesh_rollout_weight`, `mesh_rollout_state`, `mesh_rollout_transitions_total`; a tracing
//! event per step (target `mesh_tower::rollout`); callbacks through
//! [`MeshHandle::on_rollout`](crate::MeshHandle::on_rollout).

pub mod candidate;
mod metrics;
mod probe;

use std::sync::{Arc, Mutex, Weak};

use arc_swap::ArcSwap;
use mesh_route::rollout::{IntervalStats, RolloutSite, State, Step, Verdict, start, step};
use mesh_route::{Decision, RouteTable, Target};
use tokio::sync::Notify;
use tokio::time::Instant;

pub use metrics::{DiffLabels, RolloutLabels, RolloutMetrics, WeightLabels};
pub(crate) use probe::Probe;

use crate::execute::Shared;

/// One step of a rollout, as the layer reports it to callbacks.
#[derive(Clone, Debug)]
pub struct RolloutEvent {
    /// The rollout's state after the step.
    pub status: RolloutStatus,
    /// The interval's canary numbers (zero for the start of a rollout).
    pub stats: IntervalStats,
    /// Why the step gave its answer.
    pub verdict: Verdict,
}

/// Where one rollout stands.
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutStatus {
    /// The VirtualService, `namespace/name`.
    pub virtual_service: String,
    /// The rule's name, or its index in `http` when it has none.
    pub rule: String,
    /// The canary, named as Envoy names Istio's clusters (`outbound|80|v2|shop.demo.svc.cluster.local`).
    /// The port is the destination's (written, or the service's only port); a destination
    /// without one, whose port is each request's, is named with `Options::listener_port`,
    /// else 80.
    pub canary: String,
    /// The stable destination, named alike.
    pub stable: String,
    /// The canary's weight.
    pub weight: u32,
    /// The stable destination's weight.
    pub stable_weight: u32,
    /// The state.
    pub state: State,
    /// Steps taken since the rollout started (waiting intervals included).
    pub intervals: u64,
    /// Why the last step gave its answer.
    pub verdict: String,
}

/// A callback for rollout steps.
pub type Callback = Arc<dyn Fn(&RolloutEvent) + Send + Sync>;

/// One running rollout.
#[derive(Debug)]
struct Running {
    site: RolloutSite,
    /// Counts of the current interval, shared with the requests that pick the canary.
    probe: Arc<Probe>,
    at: Step,
    due: Instant,
    status: RolloutStatus,
}

/// The canary a request picked, for the hot path: the rule and the destination to compare.
#[derive(Debug)]
struct Watch {
    site: RolloutSite,
    probe: Arc<Probe>,
}

/// The rollouts of one layer.
pub(crate) struct Rollouts {
    /// The table as written (the last one swapped in), that derived tables start from.
    control: Mutex<Control>,
    /// What requests check: the canaries of running rollouts.
    watches: ArcSwap<Vec<Watch>>,
    wake: Arc<Notify>,
    callbacks: Mutex<Vec<Callback>>,
    pub(crate) metrics: RolloutMetrics,
    /// The port in cluster names of destinations without one.
    default_port: u16,
    /// A configuration candidate decided beside the serving table.
    candidate: arc_swap::ArcSwapOption<candidate::Candidate>,
    /// Whether the interval driver runs (`Control::driver`, readable without the lock).
    driving: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct Control {
    written: Option<Arc<RouteTable>>,
    running: Vec<Running>,
    driver: bool,
}

impl std::fmt::Debug for Rollouts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rollouts")
            .field("watches", &self.watches.load().len())
            .finish_non_exhaustive()
    }
}

fn cluster(d: &mesh_route::RouteDestination, default_port: u16) -> String {
    format!(
        "outbound|{}|{}|{}",
        d.port.unwrap_or(default_port),
        d.subset,
        d.host
    )
}

impl Rollouts {
    pub(crate) fn new(metrics: RolloutMetrics, default_port: Option<u16>) -> Self {
        Rollouts {
            control: Mutex::new(Control::default()),
            watches: ArcSwap::from_pointee(Vec::new()),
            wake: Arc::new(Notify::new()),
            callbacks: Mutex::new(Vec::new()),
            metrics,
            default_port: default_port.unwrap_or(80),
            candidate: arc_swap::ArcSwapOption::empty(),
            driving: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Starts the interval driver if rollouts run and it does not yet (a layer built
    /// outside a tokio runtime starts it with its first request).
    fn ensure_driver(&self, shared: &Arc<Shared>, control: &mut Control) {
        if !control.driver && !control.running.is_empty() {
            control.driver = spawn_driver(Arc::downgrade(shared), self.wake.clone());
            self.driving
                .store(control.driver, std::sync::atomic::Ordering::Release);
        }
    }

    /// Decides `view` with the candidate too, if there is one, and counts the differences;
    /// promotes a candidate whose automatic promotion is due.
    #[inline]
    pub(crate) fn observe_candidate(
        &self,
        shared: &Arc<Shared>,
        view: &mesh_match::RequestView<'_>,
        sample: u64,
        serving: &Decision<'_>,
    ) {
        let current = self.candidate.load_full();
        let Some(c) = current else { return };
        c.observe(view, sample, serving, &self.metrics);
        if c.ready() {
            // Only if it is still the candidate (not replaced meanwhile).
            let previous = self.candidate.compare_and_swap(&Some(c.clone()), None);
            if previous.as_ref().is_some_and(|p| Arc::ptr_eq(p, &c)) {
                tracing::info!(
                    target: "mesh_tower::rollout",
                    compared = c.report().compared,
                    "configuration candidate promoted automatically"
                );
                self.install(shared, c.table.clone(), None);
            }
        }
    }

    pub(crate) fn set_candidate(
        &self,
        table: Option<Arc<RouteTable>>,
        auto: Option<candidate::AutoPromote>,
    ) {
        self.candidate
            .store(table.map(|t| Arc::new(candidate::Candidate::new(t, auto))));
    }

    pub(crate) fn candidate_report(&self) -> Option<candidate::CandidateReport> {
        self.candidate.load().as_ref().map(|c| c.report())
    }

    pub(crate) fn take_candidate(&self) -> Option<Arc<RouteTable>> {
        self.candidate.swap(None).map(|c| c.table.clone())
    }

    /// The probe of the rollout whose canary `decision` picked, if any.
    #[inline]
    pub(crate) fn probe_for(
        &self,
        shared: &Arc<Shared>,
        decision: &Decision<'_>,
    ) -> Option<Arc<Probe>> {
        let watches = self.watches.load();
        if watches.is_empty() {
            return None;
        }
        if !self.driving.load(std::sync::atomic::Ordering::Acquire) {
            self.ensure_driver(shared, &mut lock(&self.control));
        }
        let Decision::Route {
            rule,
            target: Target::Destination(d),
            ..
        } = decision
        else {
            return None;
        };
        watches
            .iter()
            .find(|w| {
                let c = w.site.canary();
                w.site.is(rule) && c.subset == d.subset && c.host == d.host
            })
            .map(|w| w.probe.clone())
    }

    /// Installs `written` as the table the layer serves: rollouts of unchanged rules keep
    /// their state, changed or new ones start from the written weights; the derived table
    /// is served, with `backends` (and their generation) when given, else with the
    /// backends in use, in one store.
    pub(crate) fn install(
        &self,
        shared: &Arc<Shared>,
        written: Arc<RouteTable>,
        backends: Option<(Arc<crate::Backends>, u64)>,
    ) {
        let mut control = lock(&self.control);
        if written.rollouts().is_empty() && control.running.is_empty() {
            control.written = None;
            serve(shared, written, backends);
            return;
        }
        let now = Instant::now();
        let mut old = std::mem::take(&mut control.running);
        let mut started = Vec::new();
        for site in written.rollouts() {
            if let Some(i) = old.iter().position(|r| r.site.same_as(site)) {
                let mut kept = old.swap_remove(i);
                kept.site = site.clone();
                control.running.push(kept);
                continue;
            }
            let at = start(&site.spec, site.written_weight());
            let status = self.status(site, &at, 0);
            control.running.push(Running {
                site: site.clone(),
                probe: Arc::new(Probe::default()),
                at,
                due: due(now, site.interval()),
                status,
            });
            started.push(control.running.len() - 1);
        }
        for gone in &old {
            self.metrics.forget(&gone.status);
        }
        control.written = Some(written);
        self.publish(shared, &control, backends);
        let events: Vec<RolloutEvent> = started
            .into_iter()
            .map(|i| {
                let r = &control.running[i];
                self.metrics.observe(&r.status, false);
                RolloutEvent {
                    status: r.status.clone(),
                    stats: IntervalStats::default(),
                    verdict: Verdict::Started,
                }
            })
            .collect();
        self.ensure_driver(shared, &mut control);
        drop(control);
        self.wake.notify_one();
        self.emit(&events);
    }

    /// Stores the table derived from the written one with the running weights, and the
    /// watches requests check.
    fn publish(
        &self,
        shared: &Shared,
        control: &Control,
        backends: Option<(Arc<crate::Backends>, u64)>,
    ) {
        let Some(written) = &control.written else {
            return;
        };
        // `running` is in the order of `written.rollouts()`.
        let weights: Vec<u32> = control.running.iter().map(|r| r.at.weight).collect();
        serve(
            shared,
            Arc::new(written.with_canary_weights(&weights)),
            backends,
        );
        let watches = control
            .running
            .iter()
            .filter(|r| !r.at.state.is_final())
            .map(|r| Watch {
                site: r.site.clone(),
                probe: r.probe.clone(),
            })
            .collect();
        self.watches.store(Arc::new(watches));
    }

    fn status(&self, site: &RolloutSite, at: &Step, intervals: u64) -> RolloutStatus {
        let weighted = site.weighted(at.weight);
        RolloutStatus {
            virtual_service: site.names.virtual_service.as_deref().unwrap_or("").into(),
            rule: if site.names.rule.is_empty() {
                site.index.to_string()
            } else {
                site.names.rule.to_string()
            },
            canary: cluster(site.canary(), self.default_port),
            stable: cluster(site.stable(), self.default_port),
            weight: weighted[site.canary].weight,
            stable_weight: weighted[site.stable].weight,
            state: at.state,
            intervals,
            verdict: at.verdict.to_string(),
        }
    }

    /// Steps every rollout whose interval ended by `now`; the earliest next end, if any
    /// rollout still runs.
    fn tick(&self, shared: &Shared, now: Instant) -> Option<Instant> {
        let mut control = lock(&self.control);
        let mut events = Vec::new();
        let mut changed = false;
        for i in 0..control.running.len() {
            let r = &control.running[i];
            if r.at.state.is_final() || r.due > now {
                continue;
            }
            let stats = r.probe.take();
            let next = step(&r.site.spec, r.at.weight, r.at.state, &stats);
            let interval = r.site.interval();
            let status = self.status(&r.site, &next, r.status.intervals + 1);
            let moved = next.weight != r.at.weight || next.state != r.at.state;
            changed |= next.weight != r.at.weight || next.state.is_final();
            self.metrics.observe(&status, moved);
            tracing::info!(
                target: "mesh_tower::rollout",
                virtual_service = %status.virtual_service,
                rule = %status.rule,
                canary = %status.canary,
                weight = status.weight,
                state = %status.state,
                requests = stats.requests,
                failures = stats.failures,
                p99 = ?stats.p99,
                verdict = %next.verdict,
                "rollout step"
            );
            events.push(RolloutEvent {
                status: status.clone(),
                stats,
                verdict: next.verdict,
            });
            let r = &mut control.running[i];
            r.at = next;
            r.status = status;
            // The next interval starts now (not at the missed due time), so that a late
            // tick never judges a short interval.
            r.due = due(now, interval);
        }
        if changed {
            self.publish(shared, &control, None);
        }
        let next = control
            .running
            .iter()
            .filter(|r| !r.at.state.is_final())
            .map(|r| r.due)
            .min();
        drop(control);
        self.emit(&events);
        next
    }

    fn emit(&self, events: &[RolloutEvent]) {
        if events.is_empty() {
            return;
        }
        let callbacks = lock(&self.callbacks).clone();
        for e in events {
            for c in &callbacks {
                c(e);
            }
        }
    }

    pub(crate) fn on_step(&self, callback: Callback) {
        lock(&self.callbacks).push(callback);
    }

    pub(crate) fn statuses(&self) -> Vec<RolloutStatus> {
        lock(&self.control)
            .running
            .iter()
            .map(|r| r.status.clone())
            .collect()
    }
}

/// Serves `table` with `backends` (and their generation), or with the backends in use.
fn serve(shared: &Shared, table: Arc<RouteTable>, backends: Option<(Arc<crate::Backends>, u64)>) {
    use crate::execute::Snapshot;
    match backends {
        Some((backends, generation)) => shared.state.store(Arc::new(Snapshot {
            table,
            backends,
            generation,
        })),
        None => {
            shared.state.rcu(|s| Snapshot {
                table: table.clone(),
                backends: s.backends.clone(),
                generation: s.generation,
            });
        }
    }
}

/// When an interval that starts at `now` ends; an interval too long for the clock ends
/// in about a year (validation sets no upper bound on `interval`).
fn due(now: Instant, interval: std::time::Duration) -> Instant {
    const YEAR: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);
    now.checked_add(interval)
        .or_else(|| now.checked_add(YEAR))
        .unwrap_or(now)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Spawns the interval driver on the current tokio runtime; false without one (the next
/// install tries again).
fn spawn_driver(shared: Weak<Shared>, wake: Arc<Notify>) -> bool {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(
            target: "mesh_tower::rollout",
            "no tokio runtime yet: rollouts start stepping with the first request the layer serves"
        );
        return false;
    };
    runtime.spawn(drive(shared, wake));
    true
}

/// Sleeps until the earliest end of an interval, steps, and again; a swap wakes it early.
/// Holds the layer only while it steps, and ends when the layer is dropped (whose drop
/// wakes it).
async fn drive(shared: Weak<Shared>, wake: Arc<Notify>) {
    loop {
        let next = {
            let Some(s) = shared.upgrade() else { return };
            s.rollouts.tick(&s, Instant::now())
        };
        match next {
            // Woken by a swap, or at the end of the interval (no `select!`: the lean build
            // has no tokio macros).
            Some(at) => {
                let _ = tokio::time::timeout_at(at, wake.notified()).await;
            }
            None => wake.notified().await,
        }
    }
}

impl Drop for Rollouts {
    fn drop(&mut self) {
        // Wakes the driver, which finds the layer gone and ends.
        self.wake.notify_one();
    }
}
