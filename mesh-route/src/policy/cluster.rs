//! The checked policy of one destination (Envoy's cluster): load balancing, circuit-breaker
//! limits, outlier detection and retry budget, compiled from a merged DestinationRule
//! traffic policy ([`merge_traffic_policy`](super::merge_traffic_policy)) with Istio's and
//! Envoy's defaults applied once, durations as [`std::time::Duration`].
//!
//! This is what an executor reads; the wire types stay in `mesh-model`.

use std::time::Duration;

use mesh_match::RequestView;
use mesh_model::destination_rule::{
    ConnectionPoolSettings, LoadBalancerSettings, OutlierDetection, SimpleLb, TrafficPolicy,
};

use crate::sticky::{cookie, hash_ip, stable_hash};

/// The executed part of a destination's traffic policy, with defaults applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ClusterPolicy {
    /// How an endpoint is picked.
    pub load_balancer: LoadBalancer,
    /// Circuit-breaker limits (`connectionPool`).
    pub limits: ConnectionLimits,
    /// Outlier detection, when configured.
    pub outlier_detection: Option<OutlierPolicy>,
    /// The DestinationRule's `retryBudget`, when set.
    pub retry_budget: Option<RetryBudget>,
}

impl ClusterPolicy {
    /// The checked policy of a merged traffic policy (`None`: Istio's defaults).
    pub fn new(policy: Option<&TrafficPolicy>) -> Self {
        let Some(p) = policy else {
            return ClusterPolicy::default();
        };
        ClusterPolicy {
            load_balancer: p
                .load_balancer
                .as_ref()
                .map_or(LoadBalancer::LeastRequest, LoadBalancer::new),
            limits: ConnectionLimits::new(p.connection_pool.as_ref()),
            outlier_detection: p.outlier_detection.as_ref().map(OutlierPolicy::new),
            retry_budget: p.retry_budget.as_ref().map(|b| RetryBudget {
                percent: b.percent.map_or(RetryBudget::DEFAULT.percent, |p| p.0),
                min_concurrency: if b.min_retry_concurrency == 0 {
                    RetryBudget::DEFAULT.min_concurrency
                } else {
                    b.min_retry_concurrency
                },
            }),
        }
    }

    /// What bounds the retries in flight to the destination: the DestinationRule's
    /// `retryBudget` when set, else its `connectionPool.http.maxRetries` when set, else
    /// `default` (the executor's own budget; `None`: unbounded, as in Istio).
    pub fn retry_limit(&self, default: Option<RetryBudget>) -> RetryLimit {
        match (self.retry_budget, self.limits.max_retries) {
            (Some(b), _) => RetryLimit::Budget(b),
            (None, Some(max)) => RetryLimit::MaxRetries(max),
            (None, None) => default.map_or(RetryLimit::Unbounded, RetryLimit::Budget),
        }
    }
}

/// How an endpoint of the destination is picked (`loadBalancer`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum LoadBalancer {
    /// `ROUND_ROBIN`.
    RoundRobin,
    /// `RANDOM`.
    Random,
    /// `LEAST_REQUEST` (power of two choices), Istio's default (also for `UNSPECIFIED`,
    /// `PASSTHROUGH` and settings without `simple`).
    #[default]
    LeastRequest,
    /// `consistentHash` on a key of the request; `None` when no key is configured (every
    /// request then picks at random, as Envoy does for a request without the key).
    ConsistentHash(Option<HashKey>),
}

/// What a consistent hash is computed on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HashKey {
    /// A request header (`httpHeaderName`).
    Header(String),
    /// A cookie (`httpCookie.name`).
    Cookie(String),
    /// A query parameter (`httpQueryParameterName`).
    QueryParameter(String),
    /// The client's address (`useSourceIp`).
    SourceIp,
}

impl LoadBalancer {
    fn new(lb: &LoadBalancerSettings) -> Self {
        if let Some(h) = &lb.consistent_hash {
            let key = if let Some(name) = &h.http_header_name {
                Some(HashKey::Header(name.clone()))
            } else if let Some(c) = &h.http_cookie {
                Some(HashKey::Cookie(c.name.clone()))
            } else if let Some(q) = &h.http_query_parameter_name {
                Some(HashKey::QueryParameter(q.clone()))
            } else if h.use_source_ip == Some(true) {
                Some(HashKey::SourceIp)
            } else {
                None
            };
            return LoadBalancer::ConsistentHash(key);
        }
        match lb.simple {
            Some(SimpleLb::RoundRobin) => LoadBalancer::RoundRobin,
            Some(SimpleLb::Random) => LoadBalancer::Random,
            _ => LoadBalancer::LeastRequest,
        }
    }

    /// The hash of a request for consistent hashing, or `None` when the balancer does not
    /// hash or the request lacks the key (Envoy then picks a random endpoint).
    pub fn hash(&self, req: &RequestView<'_>) -> Option<u64> {
        let LoadBalancer::ConsistentHash(Some(key)) = self else {
            return None;
        };
        match key {
            HashKey::Header(name) => req
                .headers()
                .get(name.as_str())
                .map(|v| stable_hash(v.as_bytes())),
            HashKey::Cookie(name) => cookie(req.headers(), name).map(|v| stable_hash(v.as_bytes())),
            HashKey::QueryParameter(name) => {
                req.query_param(name).map(|v| stable_hash(v.as_bytes()))
            }
            HashKey::SourceIp => req.remote_ip().map(hash_ip),
        }
    }
}

/// Circuit-breaker limits from `connectionPool`; `None` is no limit (0 or absent: Istio's
/// defaults of 2^32-1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnectionLimits {
    /// `tcp.maxConnections`: requests in flight at once (an HTTP/1.1 connection carries
    /// one).
    pub max_connections: Option<u64>,
    /// `http.http1MaxPendingRequests`: requests waiting for a connection.
    pub max_pending_requests: Option<u64>,
    /// `http.http2MaxRequests`: requests in flight at once.
    pub max_requests: Option<u64>,
    /// `http.maxRetries`: retries in flight at once.
    pub max_retries: Option<u64>,
}

impl ConnectionLimits {
    fn new(cp: Option<&ConnectionPoolSettings>) -> Self {
        let positive = |v: i32| u64::try_from(v).ok().filter(|v| *v > 0);
        let http = cp.and_then(|c| c.http.as_ref());
        ConnectionLimits {
            max_connections: cp
                .and_then(|c| c.tcp.as_ref())
                .and_then(|t| positive(t.max_connections)),
            max_pending_requests: http.and_then(|h| positive(h.http1_max_pending_requests)),
            max_requests: http.and_then(|h| positive(h.http2_max_requests)),
            max_retries: http.and_then(|h| positive(h.max_retries)),
        }
    }
}

/// Envoy's `max_ejection_time` default: ejections never last longer (unless the base
/// ejection time is longer still).
pub const MAX_EJECTION_TIME: Duration = Duration::from_secs(300);

/// Outlier detection with Istio's and Envoy's defaults applied.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OutlierPolicy {
    /// Consecutive 5xx (or `error_codes`) responses that eject an endpoint (0: never);
    /// default 5.
    pub consecutive_5xx: u32,
    /// Consecutive gateway errors (502, 503, 504) that eject; the deprecated
    /// `consecutiveErrors` counts here, as Istio maps it. Default 0 (off).
    pub consecutive_gateway: u32,
    /// Consecutive local-origin failures that eject, with `split_local_origin`; default 5.
    pub consecutive_local_origin: u32,
    /// `splitExternalLocalOriginErrors`: local-origin failures (connect failures, resets,
    /// timeouts) are counted apart; otherwise each counts as a 503.
    pub split_local_origin: bool,
    /// `baseEjectionTime` (default 30 s): an endpoint is ejected for it times the number
    /// of its ejections.
    pub base_ejection_time: Duration,
    /// The longest ejection: [`MAX_EJECTION_TIME`], or the base ejection time when longer.
    pub max_ejection_time: Duration,
    /// `maxEjectionPercent` (default 10, at most 100).
    pub max_ejection_percent: u32,
    /// `minHealthPercent`: under it, every endpoint is used (panic mode). Default 0.
    pub min_health_percent: u32,
    /// `outlierDetectionHttpErrorCodes`: the statuses that count as errors (empty: any 5xx).
    pub error_codes: Vec<u16>,
}

impl OutlierPolicy {
    fn new(o: &OutlierDetection) -> Self {
        let base = o
            .base_ejection_time
            .and_then(|d| d.to_std())
            .unwrap_or(Duration::from_secs(30));
        OutlierPolicy {
            consecutive_5xx: o.consecutive_5xx_errors.unwrap_or(5),
            consecutive_gateway: o
                .consecutive_gateway_errors
                .unwrap_or(u32::try_from(o.consecutive_errors).unwrap_or(0)),
            consecutive_local_origin: o.consecutive_local_origin_failures.unwrap_or(5),
            split_local_origin: o.split_external_local_origin_errors,
            base_ejection_time: base,
            max_ejection_time: MAX_EJECTION_TIME.max(base),
            max_ejection_percent: match u32::try_from(o.max_ejection_percent) {
                Ok(p) if p > 0 => p.min(100),
                _ => 10,
            },
            min_health_percent: u32::try_from(o.min_health_percent.clamp(0, 100)).unwrap_or(0),
            error_codes: o
                .outlier_detection_http_error_codes
                .iter()
                .filter_map(|c| u16::try_from(*c).ok())
                .collect(),
        }
    }

    /// Whether a response status counts as an error (`error_codes`, else any 5xx).
    pub fn is_error(&self, status: u16) -> bool {
        if self.error_codes.is_empty() {
            status >= 500
        } else {
            self.error_codes.contains(&status)
        }
    }

    /// How long the `times`-th ejection of an endpoint lasts.
    pub fn ejection_time(&self, times: u32) -> Duration {
        self.base_ejection_time
            .saturating_mul(times)
            .min(self.max_ejection_time)
    }
}

/// A retry budget: retries in flight to a destination may not exceed `percent` of the
/// requests in flight to it, but `min_concurrency` retries are always allowed (Envoy's
/// `retry_budget`).
#[derive(Clone, Copy, Debug)]
pub struct RetryBudget {
    /// Share of active requests that may be retries.
    pub percent: f64,
    /// Retries always allowed.
    pub min_concurrency: u32,
}

impl RetryBudget {
    /// Envoy's defaults (and Istio's for a `retryBudget` that leaves them out): 20%, at
    /// least 3.
    pub const DEFAULT: RetryBudget = RetryBudget {
        percent: 20.0,
        min_concurrency: 3,
    };

    /// The retries allowed in flight while `active` requests are.
    pub fn allowed(&self, active: u64) -> u64 {
        ((active as f64 * self.percent / 100.0) as u64).max(u64::from(self.min_concurrency))
    }
}

/// Compared by the percentage's bit pattern, so that policies can be `Eq`.
impl PartialEq for RetryBudget {
    fn eq(&self, other: &Self) -> bool {
        self.percent.to_bits() == other.percent.to_bits()
            && self.min_concurrency == other.min_concurrency
    }
}

impl Eq for RetryBudget {}

impl std::hash::Hash for RetryBudget {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.percent.to_bits().hash(state);
        self.min_concurrency.hash(state);
    }
}

/// What bounds a destination's retries in flight (see [`ClusterPolicy::retry_limit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryLimit {
    /// A share of the requests in flight.
    Budget(RetryBudget),
    /// A fixed number (`maxRetries`).
    MaxRetries(u64),
    /// No bound.
    Unbounded,
}

impl RetryLimit {
    /// Whether another retry may start while `active_requests` requests and
    /// `active_retries` retries are in flight.
    pub fn allows(&self, active_requests: u64, active_retries: u64) -> bool {
        match self {
            RetryLimit::Budget(b) => active_retries < b.allowed(active_requests),
            RetryLimit::MaxRetries(max) => active_retries < *max,
            RetryLimit::Unbounded => true,
        }
    }
}

#[cfg(test)]
mod tests;
