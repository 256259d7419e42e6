//! The automated canary (the `mesh-route.dev/rollout` annotation, see
//! [`mesh_model::rollout`]): the step logic, pure, and the rules a table steps.
//!
//! [`step`] is a function of the spec, the current weight and state, and one interval's
//! canary numbers: no clock, no I/O. The caller (the tower layer) counts the canary's
//! outcomes per interval, calls [`step`] when an interval ends, and serves
//! [`RouteTable::with_canary_weights`] with the weights it returns.
//!
//! Weights: the canary's weight `w` is `0..=maxWeight`. In the rule's split the canary gets
//! `w` and the stable destination the rest of the pair's written weight (`stable + canary`
//! as written, which validation requires to be at least `maxWeight`); other destinations of
//! the rule keep their weights. The split's total is unchanged, so a sticky user's sample
//! falls on the same point of it while the canary grows: the canary's range of samples only
//! widens (see [`crate::sticky`]), and a user on the canary stays there until a rollback.

use std::sync::Arc;

use mesh_model::ResourceKey;
use mesh_model::rollout::Rollout;
use mesh_model::virtual_service::HttpRoute;

use crate::destination::RouteDestination;
use crate::rule::{Action, Rule, RuleNames, Split};
use crate::table::RouteTable;

/// Where a rollout stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// The canary's weight grows each healthy interval.
    Progressing,
    /// The canary reached `maxWeight`; final.
    Promoted,
    /// A breach set the canary's weight to 0; final.
    RolledBack,
    /// The last interval had fewer canary requests than `minRequests`: neither a step nor a
    /// breach; the next interval is judged again.
    WaitingForTraffic,
}

impl State {
    /// The value of the `mesh_rollout_state` gauge: 0 progressing, 1 promoted, 2 rolled
    /// back, 3 waiting for traffic.
    pub fn code(self) -> i64 {
        match self {
            State::Progressing => 0,
            State::Promoted => 1,
            State::RolledBack => 2,
            State::WaitingForTraffic => 3,
        }
    }

    /// Whether the rollout stopped (promoted or rolled back).
    pub fn is_final(self) -> bool {
        matches!(self, State::Promoted | State::RolledBack)
    }

    /// A lower-case name: `progressing`, `promoted`, `rolled_back`, `waiting_for_traffic`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Progressing => "progressing",
            State::Promoted => "promoted",
            State::RolledBack => "rolled_back",
            State::WaitingForTraffic => "waiting_for_traffic",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The canary's numbers over one interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntervalStats {
    /// Requests the canary answered (or failed) in the interval.
    pub requests: u64,
    /// Of those, answered with a 5xx or failed locally (no response from the canary).
    pub failures: u64,
    /// The 99th percentile of their latency; `None` without requests.
    pub p99: Option<std::time::Duration>,
}

/// Why a step gave its answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// The rollout starts at its written weight.
    Started,
    /// The canary was at weight 0, where it gets no traffic to judge: the first step is
    /// taken unjudged.
    Unjudged,
    /// Enough traffic, both thresholds met: one step up.
    Healthy,
    /// Fewer canary requests than `minRequests`.
    TooFewRequests {
        /// The interval's canary requests.
        requests: u64,
    },
    /// The canary's success rate was under `successRate`.
    SuccessRate {
        /// The interval's success rate, in percent.
        percent: f64,
    },
    /// The canary's p99 latency was over `maxLatency`.
    Latency {
        /// The interval's p99.
        p99: std::time::Duration,
    },
    /// The rollout had already stopped; nothing changes.
    Stopped,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Started => f.write_str("started at the written weight"),
            Verdict::Unjudged => {
                f.write_str("stepped unjudged from weight 0 (no canary traffic to judge)")
            }
            Verdict::Healthy => f.write_str("healthy interval"),
            Verdict::TooFewRequests { requests } => {
                write!(f, "too little canary traffic ({requests} requests)")
            }
            Verdict::SuccessRate { percent } => {
                write!(f, "canary success rate {percent:.2}% under the minimum")
            }
            Verdict::Latency { p99 } => {
                write!(f, "canary p99 latency {p99:?} over the maximum")
            }
            Verdict::Stopped => f.write_str("stopped"),
        }
    }
}

/// A rollout's weight and state after a step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// The canary's weight, `0..=maxWeight`.
    pub weight: u32,
    /// The state.
    pub state: State,
    /// Why.
    pub verdict: Verdict,
}

/// Where a rollout starts: the canary's written weight (capped at `maxWeight`, where it is
/// promoted at once).
pub fn start(spec: &Rollout, written_canary_weight: u32) -> Step {
    if written_canary_weight >= spec.max_weight {
        return Step {
            weight: spec.max_weight,
            state: State::Promoted,
            verdict: Verdict::Started,
        };
    }
    Step {
        weight: written_canary_weight,
        state: State::Progressing,
        verdict: Verdict::Started,
    }
}

/// The next weight and state after an interval in which the canary, at `weight` and in
/// `state`, saw `stats`:
///
/// - a stopped rollout (promoted, rolled back) does not move;
/// - at weight 0 the canary gets no traffic, so the first step is taken unjudged;
/// - fewer requests than `minRequests`: the weight stays, [`State::WaitingForTraffic`];
/// - a success rate (requests without a 5xx or a local failure) under `successRate`, or a
///   p99 over `maxLatency`: weight 0, [`State::RolledBack`];
/// - otherwise `stepWeight` more, capped at `maxWeight`, where it is [`State::Promoted`].
pub fn step(spec: &Rollout, weight: u32, state: State, stats: &IntervalStats) -> Step {
    let weight = weight.min(spec.max_weight);
    if state.is_final() {
        return Step {
            weight,
            state,
            verdict: Verdict::Stopped,
        };
    }
    let up = |verdict| {
        let next = weight.saturating_add(spec.step_weight).min(spec.max_weight);
        Step {
            weight: next,
            state: if next >= spec.max_weight {
                State::Promoted
            } else {
                State::Progressing
            },
            verdict,
        }
    };
    if weight == 0 {
        return up(Verdict::Unjudged);
    }
    if stats.requests < spec.min_requests {
        return Step {
            weight,
            state: State::WaitingForTraffic,
            verdict: Verdict::TooFewRequests {
                requests: stats.requests,
            },
        };
    }
    let failures = stats.failures.min(stats.requests);
    let successes = u128::from(stats.requests - failures);
    // successes / requests < successRate, in millionths, exactly.
    let min = u128::from(spec.success_rate.per_million()) * u128::from(stats.requests);
    if successes * 1_000_000 < min {
        return Step {
            weight: 0,
            state: State::RolledBack,
            verdict: Verdict::SuccessRate {
                percent: successes as f64 * 100.0 / stats.requests as f64,
            },
        };
    }
    if let (Some(max), Some(p99)) = (spec.max_latency.and_then(|d| d.to_std()), stats.p99) {
        if p99 > max {
            return Step {
                weight: 0,
                state: State::RolledBack,
                verdict: Verdict::Latency { p99 },
            };
        }
    }
    up(Verdict::Healthy)
}

/// A rule a table's rollout steps, found when the table is compiled.
#[derive(Clone, Debug)]
pub struct RolloutSite {
    /// The VirtualService.
    pub virtual_service: ResourceKey,
    /// The rule's index in its `http` list.
    pub index: usize,
    /// The rule's names (`namespace/name`, rule name) for metrics.
    pub names: RuleNames,
    /// The annotation.
    pub spec: Arc<Rollout>,
    /// The rule as written: a reload that leaves it and the annotation equal keeps the
    /// rollout's state.
    pub source: HttpRoute,
    /// The rule's destinations as written, zero weights included.
    pub written: Vec<RouteDestination>,
    /// The stable destination's index in `written`.
    pub stable: usize,
    /// The canary's index in `written`.
    pub canary: usize,
}

impl RolloutSite {
    /// The canary as written.
    pub fn canary(&self) -> &RouteDestination {
        &self.written[self.canary]
    }

    /// The stable destination as written.
    pub fn stable(&self) -> &RouteDestination {
        &self.written[self.stable]
    }

    /// How long each step is observed.
    pub fn interval(&self) -> std::time::Duration {
        self.spec.interval.to_std().unwrap_or_default()
    }

    /// The canary's written weight, where the rollout starts.
    pub fn written_weight(&self) -> u32 {
        self.canary().weight
    }

    /// Whether `other` is the same rollout of the same rule (a reload that keeps it).
    pub fn same_as(&self, other: &RolloutSite) -> bool {
        self.virtual_service == other.virtual_service
            && self.index == other.index
            && self.spec == other.spec
            && self.source == other.source
    }

    /// The rule's destinations with the canary at `weight` and the stable destination at the
    /// rest of the pair's written weight.
    pub fn weighted(&self, weight: u32) -> Vec<RouteDestination> {
        let pair = self.stable().weight.saturating_add(self.canary().weight);
        let canary = weight.min(pair);
        let mut out = self.written.clone();
        out[self.canary].weight = canary;
        out[self.stable].weight = pair - canary;
        out
    }

    /// Whether `rule` is this site's rule.
    pub fn is(&self, rule: &Rule) -> bool {
        rule.delegate_index.is_none()
            && rule.index == self.index
            && rule.virtual_service.as_ref() == Some(&self.virtual_service)
    }
}

impl RouteTable {
    /// A copy of this table whose rollout rules (see [`RouteTable::rollouts`]) split with
    /// the canary at `weights[i]` for site `i` (missing entries keep the written weights).
    pub fn with_canary_weights(&self, weights: &[u32]) -> RouteTable {
        let sites = self.rollouts();
        let splits: Vec<Split> = sites
            .iter()
            .enumerate()
            .map(|(i, s)| match weights.get(i) {
                Some(w) => Split::new(s.weighted(*w)),
                None => Split::new(s.written.clone()),
            })
            .collect();
        // Each rule once, shared by its entries as in the compiled table.
        let mut replaced: Vec<(*const Rule, Arc<Rule>)> = Vec::new();
        self.map_rules(|rule| {
            let i = sites.iter().position(|s| s.is(rule))?;
            let key = Arc::as_ptr(rule);
            if let Some((_, r)) = replaced.iter().find(|(p, _)| *p == key) {
                return Some(r.clone());
            }
            let mut new = (**rule).clone();
            if let Action::Route(_) = new.action {
                new.action = Action::Route(splits[i].clone());
            }
            let new = Arc::new(new);
            replaced.push((key, new.clone()));
            Some(new)
        })
    }
}

#[cfg(test)]
mod tests;
