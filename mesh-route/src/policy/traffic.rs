//! The DestinationRule traffic policy that applies to a destination, merged exactly as Istio
//! merges it (`MergeSubsetTrafficPolicy`, `GetPortLevelTrafficPolicy`): the port-level
//! settings of the rule (four blocks only) or its top-level policy, then the subset's
//! port-level settings (replacing those four blocks, even when empty) or else each block the
//! subset sets.

use std::sync::Arc;

use mesh_model::destination_rule::{PortTrafficPolicy, Subset, TrafficPolicy};

use super::cluster::ClusterPolicy;

fn port_level(tp: &TrafficPolicy, port: u16) -> Option<&PortTrafficPolicy> {
    tp.port_level_settings
        .iter()
        .find(|p| p.port.as_ref().is_some_and(|s| s.number == u32::from(port)))
}

/// The effective policy for `subset` on `port` of a DestinationRule with top-level `top`.
pub fn merge_traffic_policy(
    top: Option<&TrafficPolicy>,
    subset: Option<&Subset>,
    port: Option<u16>,
) -> Option<TrafficPolicy> {
    let mut base = match (top, port.and_then(|p| top.and_then(|t| port_level(t, p)))) {
        (_, Some(pl)) => Some(TrafficPolicy {
            load_balancer: pl.load_balancer.clone(),
            connection_pool: pl.connection_pool.clone(),
            outlier_detection: pl.outlier_detection.clone(),
            tls: pl.tls.clone(),
            ..TrafficPolicy::default()
        }),
        (Some(t), None) => Some(TrafficPolicy {
            port_level_settings: Vec::new(),
            ..t.clone()
        }),
        (None, None) => None,
    };
    if let Some(stp) = subset.and_then(|s| s.traffic_policy.as_ref()) {
        let b = base.get_or_insert_with(TrafficPolicy::default);
        if let Some(pl) = port.and_then(|p| port_level(stp, p)) {
            b.load_balancer = pl.load_balancer.clone();
            b.connection_pool = pl.connection_pool.clone();
            b.outlier_detection = pl.outlier_detection.clone();
            b.tls = pl.tls.clone();
        } else {
            if stp.load_balancer.is_some() {
                b.load_balancer = stp.load_balancer.clone();
            }
            if stp.connection_pool.is_some() {
                b.connection_pool = stp.connection_pool.clone();
            }
            if stp.outlier_detection.is_some() {
                b.outlier_detection = stp.outlier_detection.clone();
            }
            if stp.tls.is_some() {
                b.tls = stp.tls.clone();
            }
            if stp.tunnel.is_some() {
                b.tunnel = stp.tunnel.clone();
            }
            if stp.proxy_protocol.is_some() {
                b.proxy_protocol = stp.proxy_protocol.clone();
            }
            if stp.retry_budget.is_some() {
                b.retry_budget = stp.retry_budget.clone();
            }
        }
    }
    base
}

/// A destination's policy for one port: the merged DestinationRule traffic policy as
/// written (for explanation), and its checked form (for execution).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortPolicy {
    /// The merged traffic policy, `None` when no DestinationRule sets one.
    pub traffic: Option<Arc<TrafficPolicy>>,
    /// The checked policy, with Istio's defaults applied.
    pub cluster: Arc<ClusterPolicy>,
}

impl PortPolicy {
    fn new(traffic: Option<TrafficPolicy>) -> Self {
        PortPolicy {
            cluster: match &traffic {
                // Most destinations have no DestinationRule policy: they share one.
                None => default_cluster(),
                Some(t) => Arc::new(ClusterPolicy::new(Some(t))),
            },
            traffic: traffic.map(Arc::new),
        }
    }
}

/// The checked policy of destinations without a traffic policy (Istio's defaults), one for
/// all of them rather than one each (about 200 bytes per destination).
fn default_cluster() -> Arc<ClusterPolicy> {
    static DEFAULT: std::sync::OnceLock<Arc<ClusterPolicy>> = std::sync::OnceLock::new();
    DEFAULT
        .get_or_init(|| Arc::new(ClusterPolicy::new(None)))
        .clone()
}

/// The merged policies of one destination: for its port when the route names one, else one
/// per port the DestinationRule mentions and a default for the others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicySet {
    default: PortPolicy,
    by_port: Vec<(u16, PortPolicy)>,
}

impl PolicySet {
    /// Computes the set for a destination.
    pub fn new(top: Option<&TrafficPolicy>, subset: Option<&Subset>, port: Option<u16>) -> Self {
        if let Some(p) = port {
            return PolicySet {
                default: PortPolicy::new(merge_traffic_policy(top, subset, Some(p))),
                by_port: Vec::new(),
            };
        }
        let mut ports: Vec<u16> = Vec::new();
        for tp in [top, subset.and_then(|s| s.traffic_policy.as_ref())]
            .into_iter()
            .flatten()
        {
            for pl in &tp.port_level_settings {
                if let Some(n) = pl.port.as_ref().and_then(|p| u16::try_from(p.number).ok())
                    && !ports.contains(&n)
                {
                    ports.push(n);
                }
            }
        }
        PolicySet {
            default: PortPolicy::new(merge_traffic_policy(top, subset, None)),
            by_port: ports
                .into_iter()
                .filter_map(|p| {
                    merge_traffic_policy(top, subset, Some(p))
                        .map(|t| (p, PortPolicy::new(Some(t))))
                })
                .collect(),
        }
    }

    /// The policy for requests to `port`.
    pub fn for_port(&self, port: u16) -> &PortPolicy {
        self.by_port
            .iter()
            .find(|(p, _)| *p == port)
            .map_or(&self.default, |(_, t)| t)
    }
}
