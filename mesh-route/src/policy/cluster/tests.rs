use std::time::Duration;

use super::*;

fn policy(yaml: &str) -> TrafficPolicy {
    serde_yaml::from_str(yaml).expect("traffic policy")
}

/// Without a traffic policy a destination balances by least request, has no limits, no
/// outlier detection and no retry budget of its own (Istio's defaults).
#[test]
fn no_policy_is_istios_defaults() {
    let p = ClusterPolicy::new(None);
    assert_eq!(p.load_balancer, LoadBalancer::LeastRequest);
    assert_eq!(p.limits, ConnectionLimits::default());
    assert_eq!(p.outlier_detection, None);
    assert_eq!(p.retry_budget, None);
}

/// Outlier detection fields left out take Istio's and Envoy's defaults: 5 consecutive 5xx,
/// gateway errors off, 5 local-origin failures, 30 s base ejection, 10% at most ejected,
/// 0% minimum health, ejections capped at 300 s.
#[test]
fn outlier_detection_defaults_are_applied_once() {
    let p = ClusterPolicy::new(Some(&policy("outlierDetection: {}")));
    let o = p.outlier_detection.expect("outlier detection");
    assert_eq!(o.consecutive_5xx, 5);
    assert_eq!(o.consecutive_gateway, 0);
    assert_eq!(o.consecutive_local_origin, 5);
    assert!(!o.split_local_origin);
    assert_eq!(o.base_ejection_time, Duration::from_secs(30));
    assert_eq!(o.max_ejection_time, MAX_EJECTION_TIME);
    assert_eq!(o.max_ejection_percent, 10);
    assert_eq!(o.min_health_percent, 0);
    assert!(o.is_error(500) && o.is_error(503) && !o.is_error(404));
    assert_eq!(o.ejection_time(3), Duration::from_secs(90));
    assert_eq!(o.ejection_time(100), MAX_EJECTION_TIME);
}

/// The deprecated `consecutiveErrors` counts gateway errors, as Istio maps it; explicit
/// error codes replace "any 5xx"; a base ejection time over 300 s is its own cap.
#[test]
fn outlier_detection_fields_are_read() {
    let p = ClusterPolicy::new(Some(&policy(
        "outlierDetection: {consecutiveErrors: 2, baseEjectionTime: 400s, maxEjectionPercent: 150, minHealthPercent: 40, outlierDetectionHttpErrorCodes: [429]}",
    )));
    let o = p.outlier_detection.expect("outlier detection");
    assert_eq!(o.consecutive_gateway, 2);
    assert_eq!(o.max_ejection_percent, 100);
    assert_eq!(o.min_health_percent, 40);
    assert_eq!(o.max_ejection_time, Duration::from_secs(400));
    assert_eq!(o.ejection_time(2), Duration::from_secs(400));
    assert!(o.is_error(429) && !o.is_error(500));
}

/// `simple` picks the balancer (`UNSPECIFIED` and `PASSTHROUGH` are least request); a
/// consistent hash takes the first key set, in Istio's field order.
#[test]
fn load_balancer_is_read() {
    let lb = |yaml: &str| ClusterPolicy::new(Some(&policy(yaml))).load_balancer;
    assert_eq!(
        lb("loadBalancer: {simple: ROUND_ROBIN}"),
        LoadBalancer::RoundRobin
    );
    assert_eq!(lb("loadBalancer: {simple: RANDOM}"), LoadBalancer::Random);
    assert_eq!(
        lb("loadBalancer: {simple: PASSTHROUGH}"),
        LoadBalancer::LeastRequest
    );
    assert_eq!(
        lb("loadBalancer: {consistentHash: {httpHeaderName: x-user}}"),
        LoadBalancer::ConsistentHash(Some(HashKey::Header("x-user".into())))
    );
    assert_eq!(
        lb("loadBalancer: {consistentHash: {useSourceIp: true}}"),
        LoadBalancer::ConsistentHash(Some(HashKey::SourceIp))
    );
    assert_eq!(
        lb("loadBalancer: {consistentHash: {ringHash: {minimumRingSize: 1024}}}"),
        LoadBalancer::ConsistentHash(None)
    );
}

/// The hash of a request is its key's stable hash; a request without the key, or a
/// balancer that does not hash, has none.
#[test]
fn hash_reads_the_key_of_the_request() {
    let lb = LoadBalancer::ConsistentHash(Some(HashKey::Header("x-user".into())));
    let mut headers = http::HeaderMap::new();
    let view = RequestView::new("GET", "http", "a", "/", &headers);
    assert_eq!(lb.hash(&view), None);
    headers.insert("x-user", "ann".parse().expect("value"));
    let view = RequestView::new("GET", "http", "a", "/", &headers);
    assert_eq!(lb.hash(&view), Some(stable_hash(b"ann")));
    assert_eq!(LoadBalancer::RoundRobin.hash(&view), None);
    let by_query = LoadBalancer::ConsistentHash(Some(HashKey::QueryParameter("u".into())));
    let view = RequestView::new("GET", "http", "a", "/?u=bob", &headers);
    assert_eq!(by_query.hash(&view), Some(stable_hash(b"bob")));
}

/// Connection-pool limits of 0 or less are no limit; positive ones are kept.
#[test]
fn connection_limits_are_read() {
    let p = ClusterPolicy::new(Some(&policy(
        "connectionPool: {tcp: {maxConnections: 2}, http: {http1MaxPendingRequests: 0, http2MaxRequests: 7, maxRetries: 1}}",
    )));
    assert_eq!(
        p.limits,
        ConnectionLimits {
            max_connections: Some(2),
            max_pending_requests: None,
            max_requests: Some(7),
            max_retries: Some(1),
        }
    );
}

/// Retries in flight are bounded by the DestinationRule's `retryBudget` (20% and 3 by
/// default), else by `maxRetries`, else by the executor's default budget, else not at all.
#[test]
fn retry_limit_precedence() {
    let budget = ClusterPolicy::new(Some(&policy(
        "retryBudget: {}\nconnectionPool: {http: {maxRetries: 1}}",
    )));
    assert_eq!(
        budget.retry_limit(None),
        RetryLimit::Budget(RetryBudget::DEFAULT)
    );
    let max = ClusterPolicy::new(Some(&policy("connectionPool: {http: {maxRetries: 1}}")));
    assert_eq!(
        max.retry_limit(Some(RetryBudget::DEFAULT)),
        RetryLimit::MaxRetries(1)
    );
    let none = ClusterPolicy::default();
    assert_eq!(
        none.retry_limit(Some(RetryBudget::DEFAULT)),
        RetryLimit::Budget(RetryBudget::DEFAULT)
    );
    assert_eq!(none.retry_limit(None), RetryLimit::Unbounded);
    // 20% of 100 requests in flight is 20 retries; at least 3 with few requests.
    assert!(RetryLimit::Budget(RetryBudget::DEFAULT).allows(100, 19));
    assert!(!RetryLimit::Budget(RetryBudget::DEFAULT).allows(100, 20));
    assert!(RetryLimit::Budget(RetryBudget::DEFAULT).allows(1, 2));
    assert!(!RetryLimit::Budget(RetryBudget::DEFAULT).allows(1, 3));
    assert!(!RetryLimit::MaxRetries(1).allows(0, 1));
}
