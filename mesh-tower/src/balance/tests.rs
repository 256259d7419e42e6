use std::collections::BTreeMap;
use std::sync::Arc;

use http::{Request, Response};
use mesh_route::policy::{ClusterPolicy, ConnectionLimits, LoadBalancer};
use tower::{Service, ServiceExt, service_fn};

use super::cluster::{Cluster, ClusterKey};
use super::pick::jump_hash;
use super::{Balance, Dispatch, Env};
use crate::backend::{Endpoint, EndpointService};
use crate::body::{self, BoxBody};
use crate::metrics::Metrics;
use crate::rng::Samples;
use crate::service::error::MeshError;

/// An endpoint answering with its name in `x-endpoint`.
fn endpoint(name: &'static str) -> Endpoint {
    Endpoint::new(
        name,
        [("version", "v1")],
        service_fn(move |_req: Request<BoxBody>| async move {
            let mut r = Response::new(body::empty());
            r.headers_mut()
                .insert("x-endpoint", name.parse().expect("value"));
            Ok::<_, std::convert::Infallible>(r)
        }),
    )
}

fn cluster(endpoints: &[Endpoint], policy: ClusterPolicy) -> Dispatch {
    let key = ClusterKey {
        host: "shop.demo.svc.cluster.local".into(),
        subset: "".into(),
        port: 80,
    };
    let c = Cluster::new(key, endpoints, &BTreeMap::new(), Arc::new(policy), 1, None);
    Dispatch::Cluster(Arc::new(c))
}

fn unused_inner() -> EndpointService {
    endpoint("inner").service().clone()
}

/// Round robin sends consecutive attempts to consecutive endpoints, and a `Balance` that
/// avoids tried endpoints never sends a request's second attempt where its first went.
#[tokio::test]
async fn round_robin_alternates_and_retries_avoid_the_tried_endpoint() {
    let policy = ClusterPolicy {
        load_balancer: LoadBalancer::RoundRobin,
        ..ClusterPolicy::default()
    };
    let dispatch = cluster(&[endpoint("a"), endpoint("b")], policy);
    let (rng, metrics, inner) = (Samples::new(1), Metrics::new(), unused_inner());
    let env = Env {
        rng: &rng,
        metrics: &metrics,
    };
    let mut seen = Vec::new();
    let mut balance = Balance::new(&inner, &dispatch, env, None, None, true);
    for _ in 0..2 {
        let req = Request::new(body::empty());
        let r = balance
            .ready()
            .await
            .expect("ready")
            .call(req)
            .await
            .expect("answer");
        seen.push(r.headers()["x-endpoint"].to_str().expect("text").to_owned());
    }
    assert_ne!(seen[0], seen[1], "{seen:?}");
    // A fresh request's balancer starts where the round robin stands.
    let mut fresh = Balance::new(&inner, &dispatch, env, None, None, false);
    let r = fresh
        .ready()
        .await
        .expect("ready")
        .call(Request::new(body::empty()))
        .await;
    assert_eq!(r.expect("answer").headers()["x-endpoint"], seen[0].as_str());
}

/// `http2MaxRequests` bounds the attempts in flight: past it an attempt is refused as an
/// overflow (503 `UO`), without reaching an endpoint.
#[tokio::test]
async fn the_request_limit_refuses_an_attempt_past_it() {
    let policy = ClusterPolicy {
        limits: ConnectionLimits {
            max_requests: Some(0),
            ..ConnectionLimits::default()
        },
        ..ClusterPolicy::default()
    };
    let dispatch = cluster(&[endpoint("a")], policy);
    let (rng, metrics, inner) = (Samples::new(1), Metrics::new(), unused_inner());
    let env = Env {
        rng: &rng,
        metrics: &metrics,
    };
    let err = Balance::new(&inner, &dispatch, env, None, None, false)
        .oneshot(Request::new(body::empty()))
        .await
        .expect_err("refused");
    assert!(
        matches!(
            err.downcast_ref::<MeshError>(),
            Some(MeshError::Overflow("max requests"))
        ),
        "{err}"
    );
}

/// Jump hash is stable and spreads keys.
#[test]
fn jump_hash_is_stable_and_spreads() {
    assert_eq!(jump_hash(42, 1), 0);
    let mut counts = [0usize; 4];
    for k in 0..4000u64 {
        counts[jump_hash(mesh_route::stable_hash(&k.to_le_bytes()), 4)] += 1;
    }
    assert!(counts.iter().all(|c| *c > 800), "{counts:?}");
    // Growing from 4 to 5 moves about a fifth of the keys.
    let moved = (0..4000u64)
        .filter(|k| {
            let h = mesh_route::stable_hash(&k.to_le_bytes());
            jump_hash(h, 4) != jump_hash(h, 5)
        })
        .count();
    assert!((600..1000).contains(&moved), "{moved}");
}
