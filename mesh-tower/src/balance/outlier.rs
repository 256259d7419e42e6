//! Outlier detection: consecutive errors eject an endpoint for a time that grows with each
//! ejection, within `maxEjectionPercent`.

use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::cluster::{AttemptResult, Cluster};
use crate::metrics::{ClusterLabels, Metrics};

impl Cluster {
    /// Records an attempt's result for outlier detection; ejects the endpoint when it
    /// reaches a threshold and `maxEjectionPercent` allows.
    pub(crate) fn record(&self, member: usize, result: AttemptResult, metrics: &Metrics) {
        let (Some(o), Some(m)) = (self.outlier(), self.members.get(member)) else {
            return;
        };
        let mut h = m.state.health.lock().unwrap_or_else(|e| e.into_inner());
        let (is_5xx, is_gateway, is_local) = match result {
            AttemptResult::Status(s) => (o.is_error(s), matches!(s, 502..=504), false),
            // Without the split, a local-origin failure counts as a gateway error (503).
            AttemptResult::LocalFailure => (
                !o.split_local_origin,
                !o.split_local_origin,
                o.split_local_origin,
            ),
        };
        if !is_5xx && !is_gateway && !is_local {
            h.consecutive_5xx = 0;
            h.consecutive_gateway = 0;
            if !matches!(result, AttemptResult::LocalFailure) {
                h.consecutive_local = 0;
            }
            return;
        }
        if is_5xx {
            h.consecutive_5xx += 1;
        }
        if is_gateway {
            h.consecutive_gateway += 1;
        }
        if is_local {
            h.consecutive_local += 1;
        }
        let trip = (o.consecutive_5xx > 0 && h.consecutive_5xx >= o.consecutive_5xx)
            || (o.consecutive_gateway > 0 && h.consecutive_gateway >= o.consecutive_gateway)
            || (o.split_local_origin
                && o.consecutive_local_origin > 0
                && h.consecutive_local >= o.consecutive_local_origin);
        if !trip || h.ejected_until.is_some() {
            return;
        }
        let total = self.members.len().max(1);
        let ejected = self.state.ejected.load(Ordering::Relaxed);
        if ejected * 100 / total >= o.max_ejection_percent as usize {
            return;
        }
        h.times_ejected += 1;
        let time = o.ejection_time(h.times_ejected);
        h.ejected_until = Some(Instant::now() + time);
        h.consecutive_5xx = 0;
        h.consecutive_gateway = 0;
        h.consecutive_local = 0;
        self.state.ejected.fetch_add(1, Ordering::Relaxed);
        let labels = ClusterLabels {
            cluster_name: self.key.name(),
        };
        metrics.ejections.get_or_create(&labels).inc();
        metrics.ejected.get_or_create(&labels).inc();
        tracing::info!(endpoint = %m.endpoint.id, cluster = %labels.cluster_name, ?time, "endpoint ejected");
    }

    /// Whether member `i` is ejected now; returns endpoints whose time is up.
    pub(super) fn is_ejected(&self, i: usize, metrics: &Metrics) -> bool {
        let Some(m) = self.members.get(i) else {
            return true;
        };
        let mut h = m.state.health.lock().unwrap_or_else(|e| e.into_inner());
        match h.ejected_until {
            Some(until) if Instant::now() >= until => {
                h.ejected_until = None;
                self.state.ejected.fetch_sub(1, Ordering::Relaxed);
                metrics
                    .ejected
                    .get_or_create(&ClusterLabels {
                        cluster_name: self.key.name(),
                    })
                    .dec();
                false
            }
            Some(_) => true,
            None => false,
        }
    }
}
