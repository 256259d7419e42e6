//! A configuration candidate run beside the serving table: each live request is decided by
//! both, the serving decision is executed, and the two are compared with
//! [`mesh_route::compare::compare`]. Differences are counted per rule and part
//! (`mesh_config_candidate_diff_total`) with a bounded sample of example requests; the
//! candidate is promoted on command ([`MeshHandle::promote_candidate`](crate::MeshHandle::promote_candidate)),
//! or by itself after a number of requests that differed only under the rules where
//! differences were expected ([`AutoPromote`]).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use mesh_match::RequestView;
use mesh_route::compare::{Differences, compare};
use mesh_route::{Decision, RouteTable};

use super::metrics::RolloutMetrics;

/// The most example requests a candidate keeps; later differences are counted only.
pub const SAMPLE_CAP: usize = 32;

/// A request the candidate decided differently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffSample {
    /// The method.
    pub method: String,
    /// The host (authority) as routed.
    pub host: String,
    /// The normalized path and query.
    pub path: String,
    /// The serving decision's rule, `namespace/name#rule` (empty for none).
    pub serving_rule: String,
    /// The candidate decision's rule, alike.
    pub candidate_rule: String,
    /// What differs: `outcome`, `rule`, `destination`, `rewrite`, `policies`.
    pub differences: Vec<&'static str>,
}

/// When a candidate promotes itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AutoPromote {
    /// Requests to compare before the promotion.
    pub after: u64,
    /// The rules under which differences are expected, as `(namespace/name, rule)` (the
    /// rule's name, or its index when it has none). One difference under any other rule
    /// stops the automatic promotion: the candidate keeps running for a command.
    pub expected: Vec<(String, String)>,
}

/// Where a candidate stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CandidateReport {
    /// Requests decided by both tables.
    pub compared: u64,
    /// Of those, decided differently.
    pub differing: u64,
    /// Of those, under a rule where no difference was expected (with [`AutoPromote`]).
    pub unexpected: u64,
    /// The first differing requests, at most [`SAMPLE_CAP`].
    pub samples: Vec<DiffSample>,
}

/// A candidate table and its counts.
#[derive(Debug)]
pub(crate) struct Candidate {
    pub(crate) table: Arc<RouteTable>,
    compared: AtomicU64,
    differing: AtomicU64,
    unexpected: AtomicU64,
    samples: Mutex<Vec<DiffSample>>,
    auto: Option<AutoPromote>,
    promoting: std::sync::atomic::AtomicBool,
}

fn rule_label(decision: &Decision<'_>) -> (String, String) {
    match decision.matched().map(|m| m.rule()) {
        Some(r) => (
            r.names.virtual_service.as_deref().unwrap_or("").to_owned(),
            if r.names.rule.is_empty() {
                r.index.to_string()
            } else {
                r.names.rule.to_string()
            },
        ),
        None => (String::new(), String::new()),
    }
}

impl Candidate {
    pub(crate) fn new(table: Arc<RouteTable>, auto: Option<AutoPromote>) -> Self {
        Candidate {
            table,
            compared: AtomicU64::new(0),
            differing: AtomicU64::new(0),
            unexpected: AtomicU64::new(0),
            samples: Mutex::new(Vec::new()),
            auto,
            promoting: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether the candidate promotes itself now: automatic promotion is on, enough
    /// requests were compared, none differed unexpectedly; true once.
    pub(crate) fn ready(&self) -> bool {
        let Some(auto) = &self.auto else {
            return false;
        };
        self.compared.load(Ordering::Relaxed) >= auto.after
            && self.unexpected.load(Ordering::Relaxed) == 0
            && !self.promoting.swap(true, Ordering::AcqRel)
    }

    /// Decides `view` with the candidate (with the serving decision's `sample`) and counts
    /// what differs from `serving`.
    pub(crate) fn observe(
        &self,
        view: &RequestView<'_>,
        sample: u64,
        serving: &Decision<'_>,
        metrics: &RolloutMetrics,
    ) {
        self.compared.fetch_add(1, Ordering::Relaxed);
        let candidate = self.table.decide(view, sample);
        let d: Differences = compare(serving, &candidate);
        if d.is_empty() {
            return;
        }
        self.differing.fetch_add(1, Ordering::Relaxed);
        // Counted under the serving rule, or the candidate's when the serving table had none.
        let (vs, rule) = match rule_label(serving) {
            (v, r) if v.is_empty() && r.is_empty() => rule_label(&candidate),
            labels => labels,
        };
        for field in d.names() {
            metrics.candidate_diff(&vs, &rule, field);
        }
        if let Some(auto) = &self.auto {
            if !auto.expected.iter().any(|(v, r)| *v == vs && *r == rule) {
                self.unexpected.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut samples = super::lock(&self.samples);
        if samples.len() < SAMPLE_CAP {
            let label = |(v, r): (String, String)| {
                if v.is_empty() && r.is_empty() {
                    String::new()
                } else {
                    format!("{v}#{r}")
                }
            };
            samples.push(DiffSample {
                method: view.method().to_owned(),
                host: view.host().to_owned(),
                path: view.path_and_query().to_owned(),
                serving_rule: label(rule_label(serving)),
                candidate_rule: label(rule_label(&candidate)),
                differences: d.names().collect(),
            });
        }
    }

    pub(crate) fn report(&self) -> CandidateReport {
        CandidateReport {
            compared: self.compared.load(Ordering::Relaxed),
            differing: self.differing.load(Ordering::Relaxed),
            unexpected: self.unexpected.load(Ordering::Relaxed),
            samples: super::lock(&self.samples).clone(),
        }
    }
}
