//! Load balancing among the endpoints a subset selects, as the DestinationRule's
//! `loadBalancer` says: ROUND_ROBIN, consistent hashing, and LEAST_REQUEST (the default).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;
use http::StatusCode;
use mesh_tower::{Backends, MeshLayer, Options};

fn setup(lb: &str, endpoints: &[Backend]) -> Mesh {
    setup_with_rule(lb, "", endpoints)
}

fn setup_with_rule(lb: &str, rule: &str, endpoints: &[Backend]) -> Mesh {
    let yaml = format!(
        r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: cart}}
spec:
  host: cart
{lb}
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: cart}}
spec:
  hosts: [cart]
  http:
  - route:
    - destination: {{host: cart, subset: v1}}
{rule}
"#
    );
    let mut backends = Backends::new();
    for b in endpoints {
        backends.add(&fqdn("cart"), b.endpoint(&b.name, [("version", "v1")]));
    }
    // An endpoint of another version, which the subset must never select.
    backends.add(
        &fqdn("cart"),
        Backend::ok("v2").endpoint("cart-v2", [("version", "v2")]),
    );
    mesh(MeshLayer::with_options(
        table(&yaml, sidecar()),
        backends,
        Options {
            seed: Some(9),
            ..Options::default()
        },
    ))
}

fn pods(n: usize) -> Vec<Backend> {
    (0..n).map(|i| Backend::ok(&format!("cart-{i}"))).collect()
}

/// `simple: ROUND_ROBIN` spreads requests evenly: 300 requests over three endpoints give
/// exactly 100 each, and the subset never selects the v2 endpoint.
#[tokio::test]
async fn round_robin_spreads_evenly() {
    let p = pods(3);
    let svc = setup(
        "  trafficPolicy:\n    loadBalancer: {simple: ROUND_ROBIN}",
        &p,
    );
    let mut by = BTreeMap::<String, usize>::new();
    for _ in 0..300 {
        *by.entry(send(&svc, get("http://cart/")).await.body)
            .or_default() += 1;
    }
    eprintln!("round robin over 3 endpoints: {by:?}");
    assert_eq!(by.len(), 3, "{by:?}");
    assert!(by.values().all(|c| *c == 100), "{by:?}");
}

/// `consistentHash: {httpHeaderName: x-user}` pins a key to one endpoint; different keys
/// spread over the endpoints.
#[tokio::test]
async fn consistent_hash_on_a_header_pins_a_key() {
    let p = pods(4);
    let svc = setup(
        "  trafficPolicy:\n    loadBalancer: {consistentHash: {httpHeaderName: x-user}}",
        &p,
    );
    let mut used = BTreeSet::new();
    for user in 0..40 {
        let user = format!("user-{user}");
        let first = send(&svc, get_with("http://cart/", &[("x-user", &user)]))
            .await
            .body;
        for _ in 0..10 {
            let again = send(&svc, get_with("http://cart/", &[("x-user", &user)]))
                .await
                .body;
            assert_eq!(again, first, "{user} moved");
        }
        used.insert(first);
    }
    assert!(
        used.len() >= 3,
        "40 keys spread over the endpoints: {used:?}"
    );
}

/// `consistentHash: {httpCookie: {name: session}}` hashes on the cookie's value.
#[tokio::test]
async fn consistent_hash_on_a_cookie_pins_a_session() {
    let p = pods(4);
    let svc = setup(
        "  trafficPolicy:\n    loadBalancer: {consistentHash: {httpCookie: {name: session, ttl: 0s}}}",
        &p,
    );
    for s in 0..10 {
        let cookie = format!("theme=dark; session=s{s}");
        let first = send(&svc, get_with("http://cart/", &[("cookie", &cookie)]))
            .await
            .body;
        for _ in 0..5 {
            let other = format!("session=s{s}");
            let again = send(&svc, get_with("http://cart/", &[("cookie", &other)]))
                .await
                .body;
            assert_eq!(again, first);
        }
    }
}

/// LEAST_REQUEST (Istio's default) picks the less loaded of two random endpoints (Envoy's
/// power of two choices): with one endpoint busy, the idle one gets about 3/4 of the
/// requests, against 1/2 for RANDOM.
#[tokio::test(start_paused = true)]
async fn least_request_prefers_idle_endpoints() {
    for (lb, min, max) in [
        ("", 0.65, 0.85),
        ("LEAST_REQUEST", 0.65, 0.85),
        ("RANDOM", 0.4, 0.6),
    ] {
        // cart-0 holds `/slow` requests for an hour; cart-1 answers everything at once.
        let p = vec![
            Backend::with("cart-0", |_, seen| {
                if seen.uri.path() == "/slow" {
                    Outcome::After(Duration::from_secs(3600), StatusCode::OK, "cart-0".into())
                } else {
                    Outcome::Status(StatusCode::OK, "cart-0".into())
                }
            }),
            Backend::ok("cart-1"),
        ];
        let policy = if lb.is_empty() {
            String::new()
        } else {
            format!("  trafficPolicy:\n    loadBalancer: {{simple: {lb}}}")
        };
        let svc = setup(&policy, &p);
        let slow: Vec<_> = (0..10)
            .map(|_| tokio::spawn(send(&svc, get("http://cart/slow"))))
            .collect();
        tokio::time::sleep(Duration::from_millis(1)).await;
        let busy = p[0].calls();
        assert!(busy > 0, "some slow requests are in flight on cart-0");
        let before = p[1].calls();
        const N: usize = 400;
        for _ in 0..N {
            send(&svc, get("http://cart/fast")).await;
        }
        let to_idle = (p[1].calls() - before) as f64 / N as f64;
        let name = if lb.is_empty() {
            "default (LEAST_REQUEST)"
        } else {
            lb
        };
        eprintln!(
            "{name} with {busy} requests in flight on one of two endpoints: the idle one got {:.1}%",
            to_idle * 100.0
        );
        assert!((min..max).contains(&to_idle), "{name}: {to_idle}");
        for t in slow {
            t.abort();
        }
    }
}

/// A request abandoned by the route timeout no longer counts as load on its endpoint: after
/// ten timeouts on one of two endpoints, LEAST_REQUEST spreads requests evenly again.
#[tokio::test(start_paused = true)]
async fn abandoned_requests_stop_counting_as_load() {
    let p = vec![
        Backend::with("cart-0", |_, seen| {
            if seen.uri.path() == "/slow" {
                Outcome::Hang
            } else {
                Outcome::Status(StatusCode::OK, "cart-0".into())
            }
        }),
        Backend::ok("cart-1"),
    ];
    let svc = setup_with_rule(
        "  trafficPolicy:\n    loadBalancer: {simple: LEAST_REQUEST}",
        "    timeout: 50ms",
        &p,
    );
    let mut timeouts = 0;
    while timeouts < 10 {
        let r = send(&svc, get("http://cart/slow")).await;
        if r.status == StatusCode::GATEWAY_TIMEOUT {
            timeouts += 1;
        }
    }
    const N: usize = 400;
    let before = p[1].calls();
    for _ in 0..N {
        send(&svc, get("http://cart/fast")).await;
    }
    let to_1 = (p[1].calls() - before) as f64 / N as f64;
    eprintln!(
        "after 10 abandoned requests on cart-0: cart-1 got {:.1}%",
        to_1 * 100.0
    );
    assert!((0.4..0.6).contains(&to_1), "{to_1}");
}

/// Sends 40 keys' requests (`request(key)`), each 5 times: every key stays on one endpoint,
/// and the keys use at least three of the four endpoints (a hash key that became a constant
/// would put every key on one).
async fn pins_and_spreads(
    svc: &Mesh,
    mut request: impl FnMut(usize) -> http::Request<mesh_tower::body::BoxBody>,
) {
    let mut used = BTreeSet::new();
    for key in 0..40 {
        let first = send(svc, request(key)).await.body;
        for _ in 0..5 {
            assert_eq!(send(svc, request(key)).await.body, first, "key {key} moved");
        }
        used.insert(first);
    }
    assert!(used.len() >= 3, "40 keys over 4 endpoints: {used:?}");
}

/// `consistentHash: {httpQueryParameterName: user}` hashes on the query parameter's value
/// (the other parameters do not matter).
#[tokio::test]
async fn consistent_hash_on_a_query_parameter_pins_and_spreads() {
    let p = pods(4);
    let svc = setup(
        "  trafficPolicy:\n    loadBalancer: {consistentHash: {httpQueryParameterName: user}}",
        &p,
    );
    let mut n = 0u32;
    pins_and_spreads(&svc, |key| {
        n = n.wrapping_add(1);
        get(&format!("http://cart/?page={n}&user=u{key}"))
    })
    .await;
}

/// `consistentHash: {useSourceIp: true}` hashes on the client's address
/// ([`mesh_tower::ClientAddr`]), not its port.
#[tokio::test]
async fn consistent_hash_on_the_source_ip_pins_and_spreads() {
    let p = pods(4);
    let svc = setup(
        "  trafficPolicy:\n    loadBalancer: {consistentHash: {useSourceIp: true}}",
        &p,
    );
    let mut port = 40_000u16;
    pins_and_spreads(&svc, |key| {
        port = port.wrapping_add(1);
        let mut req = get("http://cart/");
        let ip = std::net::Ipv4Addr::new(10, 0, (key / 256) as u8, (key % 256) as u8);
        req.extensions_mut()
            .insert(mesh_tower::ClientAddr((ip, port).into()));
        req
    })
    .await;
}

/// Cookie hashing spreads sessions too (the pinning test above only checks one session at a
/// time).
#[tokio::test]
async fn consistent_hash_on_a_cookie_spreads_sessions() {
    let p = pods(4);
    let svc = setup(
        "  trafficPolicy:\n    loadBalancer: {consistentHash: {httpCookie: {name: session, ttl: 0s}}}",
        &p,
    );
    pins_and_spreads(&svc, |key| {
        get_with(
            "http://cart/",
            &[("cookie", &format!("a=b; session=s{key}"))],
        )
    })
    .await;
}
