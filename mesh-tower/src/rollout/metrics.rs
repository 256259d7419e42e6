//! The rollout metrics: `mesh_rollout_weight`, `mesh_rollout_state`,
//! `mesh_rollout_transitions_total`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::RolloutStatus;

/// Labels of `mesh_rollout_weight`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WeightLabels {
    /// `namespace/name` of the VirtualService.
    pub virtual_service: String,
    /// The rule's name (its index when it has none).
    pub rule: String,
    /// The destination, as Envoy names Istio's clusters: `outbound|80|v2|shop.demo.svc.cluster.local`.
    pub destination: String,
}

/// Labels of `mesh_rollout_state` and `mesh_rollout_transitions_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RolloutLabels {
    /// `namespace/name` of the VirtualService.
    pub virtual_service: String,
    /// The rule's name (its index when it has none).
    pub rule: String,
}

/// Labels of `mesh_config_candidate_diff_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DiffLabels {
    /// `namespace/name` of the serving decision's VirtualService (the candidate's when the
    /// serving table matched none).
    pub virtual_service: String,
    /// The rule's name (its index when it has none).
    pub rule: String,
    /// What differed: `outcome`, `rule`, `destination`, `rewrite`, `policies`.
    pub field: String,
}

/// The rollout and configuration-candidate metrics of one layer.
#[derive(Clone, Debug, Default)]
pub struct RolloutMetrics {
    weight: Family<WeightLabels, Gauge>,
    state: Family<RolloutLabels, Gauge>,
    transitions: Family<RolloutLabels, Counter>,
    candidate_diff: Family<DiffLabels, Counter>,
}

impl RolloutMetrics {
    /// Registers the metrics in `registry`.
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "mesh_rollout_weight",
            "The weight of each destination of a rule stepped by an automated canary",
            self.weight.clone(),
        );
        registry.register(
            "mesh_rollout_state",
            "The state of an automated canary: 0 progressing, 1 promoted, 2 rolled back, 3 waiting for traffic",
            self.state.clone(),
        );
        registry.register(
            "mesh_rollout_transitions",
            "Steps of automated canaries that changed a weight or a state",
            self.transitions.clone(),
        );
        registry.register(
            "mesh_config_candidate_diff",
            "Live requests a configuration candidate decided differently from the serving table, by rule and part",
            self.candidate_diff.clone(),
        );
    }

    pub(crate) fn candidate_diff(&self, virtual_service: &str, rule: &str, field: &str) {
        self.candidate_diff
            .get_or_create(&DiffLabels {
                virtual_service: virtual_service.into(),
                rule: rule.into(),
                field: field.into(),
            })
            .inc();
    }

    /// The candidate differences counted for the rule and part.
    pub fn candidate_diffs(&self, virtual_service: &str, rule: &str, field: &str) -> u64 {
        self.candidate_diff
            .get_or_create(&DiffLabels {
                virtual_service: virtual_service.into(),
                rule: rule.into(),
                field: field.into(),
            })
            .get()
    }

    fn labels(s: &RolloutStatus) -> RolloutLabels {
        RolloutLabels {
            virtual_service: s.virtual_service.clone(),
            rule: s.rule.clone(),
        }
    }

    fn weight_labels(s: &RolloutStatus, destination: &str) -> WeightLabels {
        WeightLabels {
            virtual_service: s.virtual_service.clone(),
            rule: s.rule.clone(),
            destination: destination.to_owned(),
        }
    }

    pub(crate) fn observe(&self, s: &RolloutStatus, transition: bool) {
        self.weight
            .get_or_create(&Self::weight_labels(s, &s.canary))
            .set(i64::from(s.weight));
        self.weight
            .get_or_create(&Self::weight_labels(s, &s.stable))
            .set(i64::from(s.stable_weight));
        let labels = Self::labels(s);
        self.state.get_or_create(&labels).set(s.state.code());
        let transitions = self.transitions.get_or_create(&labels);
        if transition {
            transitions.inc();
        }
    }

    /// Drops the series of a rollout that a reload removed.
    pub(crate) fn forget(&self, s: &RolloutStatus) {
        self.weight.remove(&Self::weight_labels(s, &s.canary));
        self.weight.remove(&Self::weight_labels(s, &s.stable));
        self.state.remove(&Self::labels(s));
    }

    /// The weight gauge of `destination` in the rule.
    pub fn weight(&self, virtual_service: &str, rule: &str, destination: &str) -> i64 {
        self.weight
            .get_or_create(&WeightLabels {
                virtual_service: virtual_service.into(),
                rule: rule.into(),
                destination: destination.into(),
            })
            .get()
    }

    /// The state gauge of the rule's rollout.
    pub fn state(&self, virtual_service: &str, rule: &str) -> i64 {
        self.state
            .get_or_create(&Self::rollout(virtual_service, rule))
            .get()
    }

    /// The transitions counted for the rule's rollout.
    pub fn transitions(&self, virtual_service: &str, rule: &str) -> u64 {
        self.transitions
            .get_or_create(&Self::rollout(virtual_service, rule))
            .get()
    }

    fn rollout(virtual_service: &str, rule: &str) -> RolloutLabels {
        RolloutLabels {
            virtual_service: virtual_service.into(),
            rule: rule.into(),
        }
    }
}
