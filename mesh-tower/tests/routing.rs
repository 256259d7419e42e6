//! Routing decisions executed by the layer: weighted splits, header and cookie matches,
//! redirects, direct responses, rewrites, header operations, CORS, local replies, and hot swap
//! of the route table. Backends are in-process services registered with `Endpoint::new`.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use http::{Method, Request, StatusCode};
use mesh_tower::{Backends, MeshLayer, Options, body};

const REVIEWS: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
"#;

fn reviews_backends() -> (Backends, [Backend; 3]) {
    let b = [Backend::ok("v1"), Backend::ok("v2"), Backend::ok("v3")];
    let host = fqdn("reviews");
    let backends = Backends::new()
        .with(&host, b[0].endpoint("reviews-v1", [("version", "v1")]))
        .with(&host, b[1].endpoint("reviews-v2", [("version", "v2")]))
        .with(&host, b[2].endpoint("reviews-v3", [("version", "v3")]));
    (backends, b)
}

fn seeded() -> Options {
    Options {
        seed: Some(7),
        ..Options::default()
    }
}

fn reviews_mesh(vs: &str) -> (Mesh, [Backend; 3]) {
    let (backends, b) = reviews_backends();
    let t = table(&format!("{REVIEWS}---{vs}"), sidecar());
    (mesh(MeshLayer::with_options(t, backends, seeded())), b)
}

/// A weighted split picks a destination per request in proportion to the weights
/// (SPEC 2.4): 70/20/10 over 4000 requests lands within 2.5 points of each share.
#[tokio::test]
async fn weighted_split_shares_converge() {
    let (svc, b) = reviews_mesh(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 70}
    - {destination: {host: reviews, subset: v2}, weight: 20}
    - {destination: {host: reviews, subset: v3}, weight: 10}
"#,
    );
    const N: usize = 4000;
    let mut by_body = BTreeMap::<String, usize>::new();
    for _ in 0..N {
        let r = send(&svc, get("http://reviews:9080/reviews/0")).await;
        assert_eq!(r.status, StatusCode::OK);
        *by_body.entry(r.body).or_default() += 1;
    }
    let share = |v: &str| by_body.get(v).copied().unwrap_or(0) as f64 / N as f64 * 100.0;
    eprintln!(
        "split 70/20/10 over {N}: v1 {:.1}% v2 {:.1}% v3 {:.1}%",
        share("v1"),
        share("v2"),
        share("v3")
    );
    for (v, want) in [("v1", 70.0), ("v2", 20.0), ("v3", 10.0)] {
        assert!((share(v) - want).abs() < 2.5, "{v}: {by_body:?}");
    }
    assert_eq!(b.iter().map(Backend::calls).sum::<usize>(), N);
}

/// A header match sends its users to the canary and everyone else to the stable version
/// (A/B by header; first matching rule wins).
#[tokio::test]
async fn header_match_routes_ab_traffic() {
    let (svc, _) = reviews_mesh(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match:
    - headers: {end-user: {exact: jason}}
    route:
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v1}
"#,
    );
    for _ in 0..20 {
        let r = send(
            &svc,
            get_with("http://reviews:9080/", &[("end-user", "jason")]),
        )
        .await;
        assert_eq!(r.body, "v2");
        let r = send(
            &svc,
            get_with("http://reviews:9080/", &[("end-user", "Jason")]),
        )
        .await;
        assert_eq!(r.body, "v1", "header values are case-sensitive");
        let r = send(&svc, get("http://reviews:9080/")).await;
        assert_eq!(r.body, "v1");
    }
}

/// Bookinfo's cookie regex `^(.*?;)?(user=jason)(;.*)?$` is a full match: `user=jason` and
/// `a=b;user=jason` go to v2, a browser-style `a=b; user=jason` does not.
#[tokio::test]
async fn cookie_match_routes_one_user() {
    let (svc, _) = reviews_mesh(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match:
    - headers: {cookie: {regex: "^(.*?;)?(user=jason)(;.*)?$"}}
    route:
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v1}
"#,
    );
    for (cookie, want) in [
        ("user=jason", "v2"),
        ("theme=dark;user=jason", "v2"),
        ("user=jason; theme=dark", "v2"),
        ("theme=dark; user=jason", "v1"),
        ("user=jasonx", "v1"),
    ] {
        let r = send(&svc, get_with("http://reviews/", &[("cookie", cookie)])).await;
        assert_eq!(r.body, want, "cookie {cookie:?}");
    }
}

/// A redirect is answered by the mesh with `Location` (path replaced, query kept, default
/// code 301); the backend is never called.
#[tokio::test]
async fn redirect_answers_with_location() {
    let (svc, b) = reviews_mesh(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, authority: new.example}
  - match: [{uri: {prefix: /temp}}]
    redirect: {uri: /elsewhere, redirectCode: 307}
"#,
    );
    let r = send(&svc, get("http://reviews/old?q=1")).await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(r.header("location"), "http://new.example/new?q=1");
    let r = send(&svc, get("http://reviews/temp")).await;
    assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(r.header("location"), "http://reviews/elsewhere");
    assert_eq!(b.iter().map(Backend::calls).sum::<usize>(), 0);
}

/// A direct response is answered by the mesh with its status and body, and the rule's
/// response header operations.
#[tokio::test]
async fn direct_response_is_answered_locally() {
    let (svc, b) = reviews_mesh(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - directResponse: {status: 503, body: {string: "down for maintenance"}}
    headers:
      response:
        set: {retry-after: "120"}
"#,
    );
    let r = send(&svc, get("http://reviews/")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body, "down for maintenance");
    assert_eq!(r.header("retry-after"), "120");
    assert_eq!(b.iter().map(Backend::calls).sum::<usize>(), 0);
}

/// `rewrite.uri` replaces the matched prefix (query kept) and `rewrite.authority` the Host:
/// the backend sees both.
#[tokio::test]
async fn rewrite_is_seen_by_the_backend() {
    let (svc, b) = reviews_mesh(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /api/}}]
    rewrite: {uri: /v1/, authority: reviews.internal}
    route:
    - destination: {host: reviews, subset: v1}
  - match: [{uri: {prefix: /common}}]
    rewrite: {uri: /}
    route:
    - destination: {host: reviews, subset: v1}
"#,
    );
    let r = send(&svc, get("http://reviews:9080/api/items?page=2")).await;
    assert_eq!(r.status, StatusCode::OK);
    let seen = b[0].seen();
    assert_eq!(seen[0].uri.to_string(), "/v1/items?page=2");
    assert_eq!(seen[0].header("host"), "reviews.internal");
    // Istio's known quirk: only the matched prefix is replaced, so `/` + `/api` is `//api`.
    send(&svc, get("http://reviews:9080/common/api")).await;
    let seen = b[0].seen();
    assert_eq!(seen[1].uri.to_string(), "//api");
    assert_eq!(
        seen[1].header("host"),
        "reviews:9080",
        "Host kept without rewrite"
    );
}

/// Request header operations are applied before forwarding and response operations on the
/// way back: `remove`, then `set` (overwrite), then `add` (append). For a single destination
/// the destination's operations come after the route's, so a destination `set` wins.
#[tokio::test]
async fn header_operations_destination_set_wins_for_a_single_destination() {
    // The backend answers with a header the route removes.
    let b = Backend::ok("v1").header("x-internal", "secret");
    let t = table(
        &format!(
            "{REVIEWS}---{}",
            r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - headers:
      request:
        set: {x-who: route, x-route-only: "1"}
        add: {x-multi: added}
        remove: [x-secret]
      response:
        set: {x-served-by: route}
        remove: [x-internal]
    route:
    - destination: {host: reviews, subset: v1}
      headers:
        request:
          set: {x-who: destination}
        response:
          add: {x-dest: v1}
"#
        ),
        sidecar(),
    );
    let svc = mesh(MeshLayer::new(
        t,
        Backends::new().with(
            &fqdn("reviews"),
            b.endpoint("reviews-v1", [("version", "v1")]),
        ),
    ));
    let r = send(
        &svc,
        get_with(
            "http://reviews/",
            &[("x-multi", "original"), ("x-secret", "s3cr3t")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let seen = &b.seen()[0];
    assert_eq!(seen.header("x-who"), "destination");
    assert_eq!(seen.header("x-route-only"), "1");
    let multi: Vec<_> = seen.headers.get_all("x-multi").iter().collect();
    assert_eq!(multi, ["original", "added"]);
    assert!(!seen.headers.contains_key("x-secret"));
    assert_eq!(r.header("x-served-by"), "route");
    assert_eq!(r.header("x-dest"), "v1");
    assert!(!r.headers.contains_key("x-internal"));
}

/// In a weighted split the destination's operations are applied before the route's (Envoy's
/// `ClusterWeight` headers), so a route `set` of the same header wins (SPEC 2.4's quirk).
#[tokio::test]
async fn header_operations_route_set_wins_in_a_weighted_split() {
    let (svc, b) = reviews_mesh(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - headers:
      request:
        set: {x-who: route}
    route:
    - destination: {host: reviews, subset: v1}
      weight: 50
      headers: {request: {set: {x-who: destination, x-dest: v1}}}
    - destination: {host: reviews, subset: v2}
      weight: 50
      headers: {request: {set: {x-who: destination, x-dest: v2}}}
"#,
    );
    for _ in 0..20 {
        send(&svc, get("http://reviews/")).await;
    }
    for (i, backend) in b.iter().take(2).enumerate() {
        let seen = backend.seen();
        assert!(!seen.is_empty(), "both sides of a 50/50 split get traffic");
        for s in seen {
            assert_eq!(s.header("x-who"), "route");
            assert_eq!(s.header("x-dest"), format!("v{}", i + 1));
        }
    }
}

const CORS: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - corsPolicy:
      allowOrigins: [{exact: "https://app.example"}]
      allowMethods: [GET, POST]
      allowHeaders: [x-token]
      exposeHeaders: [x-trace]
      maxAge: 24h
      allowCredentials: true
    route:
    - destination: {host: reviews, subset: v1}
"#;

/// A CORS preflight from an allowed origin is answered by the mesh (200 with the
/// `Access-Control-Allow-*` headers) without calling the backend.
#[tokio::test]
async fn cors_preflight_is_answered_by_the_mesh() {
    let (svc, b) = reviews_mesh(CORS);
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri("http://reviews/api")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .body(body::empty())
        .expect("request");
    let r = send(&svc, req).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("access-control-allow-origin"),
        "https://app.example"
    );
    assert_eq!(r.header("access-control-allow-methods"), "GET,POST");
    assert_eq!(r.header("access-control-allow-headers"), "x-token");
    assert_eq!(r.header("access-control-max-age"), "86400");
    assert_eq!(r.header("access-control-allow-credentials"), "true");
    assert_eq!(r.header("access-control-expose-headers"), "x-trace");
    assert_eq!(b[0].calls(), 0);
}

/// A policy allowing the methods `*` and the headers `*` answers a preflight with the
/// method and headers the request asks for, whatever `allowCredentials` says. Measured on
/// Envoy 1.40 (`allow_methods: "*"`, `allow_headers: "*"`): a preflight asking
/// `PUT` and `x-header-1, x-header-2` got `access-control-allow-methods: PUT` and
/// `access-control-allow-headers: x-header-1, x-header-2`; without
/// `access-control-request-headers`, an empty `access-control-allow-headers`.
#[tokio::test]
async fn wildcard_cors_methods_and_headers_echo_the_request() {
    let yaml = CORS
        .replace("allowMethods: [GET, POST]", "allowMethods: ['*']")
        .replace("allowHeaders: [x-token]", "allowHeaders: ['*']");
    let (svc, _b) = reviews_mesh(&yaml);
    let preflight = |headers: &[(&str, &str)]| {
        let mut b = Request::builder()
            .method(Method::OPTIONS)
            .uri("http://reviews/api")
            .header("origin", "https://app.example")
            .header("access-control-request-method", "PUT");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(body::empty()).expect("request")
    };
    let r = send(
        &svc,
        preflight(&[("access-control-request-headers", "x-a, x-b")]),
    )
    .await;
    assert_eq!(r.header("access-control-allow-methods"), "PUT");
    assert_eq!(r.header("access-control-allow-headers"), "x-a, x-b");
    let r = send(&svc, preflight(&[])).await;
    assert!(r.headers.contains_key("access-control-allow-headers"));
    assert_eq!(r.header("access-control-allow-headers"), "");
}

/// A preflight from another origin, with unmatched preflights not forwarded (Istio's
/// `unmatchedPreflights: IGNORE`, and every Gateway API CORS filter), is answered 200 with
/// the policy's methods, headers, max age and credentials, but neither `Allow-Origin` nor
/// `Expose-Headers`. Measured on Envoy 1.40 with Istio's CorsPolicy
/// (`forward_not_matching_preflights: false`): `OPTIONS` from `https://foobar.com` got 200
/// with `access-control-allow-credentials`, `-allow-methods`, `-allow-headers` and
/// `-max-age` only; from the allowed origin, `access-control-expose-headers` too.
#[tokio::test]
async fn unmatched_preflight_is_answered_without_allow_origin() {
    let yaml = CORS.replace(
        "allowCredentials: true",
        "allowCredentials: true\n      unmatchedPreflights: IGNORE",
    );
    let (svc, b) = reviews_mesh(&yaml);
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri("http://reviews/api")
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .body(body::empty())
        .expect("request");
    let r = send(&svc, req).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.headers.contains_key("access-control-allow-origin"));
    assert!(!r.headers.contains_key("access-control-expose-headers"));
    assert_eq!(r.header("access-control-allow-methods"), "GET,POST");
    assert_eq!(r.header("access-control-allow-credentials"), "true");
    assert_eq!(r.header("access-control-max-age"), "86400");
    assert_eq!(b[0].calls(), 0);
}

/// A simple request from an allowed origin gets `Access-Control-Allow-Origin` and
/// `Access-Control-Expose-Headers` on the backend's response; another origin gets neither.
#[tokio::test]
async fn cors_response_headers_only_for_allowed_origins() {
    let (svc, b) = reviews_mesh(CORS);
    let r = send(
        &svc,
        get_with("http://reviews/api", &[("origin", "https://app.example")]),
    )
    .await;
    assert_eq!(r.body, "v1");
    assert_eq!(
        r.header("access-control-allow-origin"),
        "https://app.example"
    );
    assert_eq!(r.header("access-control-expose-headers"), "x-trace");
    let r = send(
        &svc,
        get_with("http://reviews/api", &[("origin", "https://evil.example")]),
    )
    .await;
    assert_eq!(r.body, "v1");
    assert!(!r.headers.contains_key("access-control-allow-origin"));
    assert_eq!(b[0].calls(), 2);
}

/// A host without a virtual host at a gateway, and a matched host whose rules all fail,
/// both get 404 with an empty body (`NR`).
#[tokio::test]
async fn no_route_is_404() {
    let t = table(
        r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [shop.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /shop}}]
    route:
    - destination: {host: shop}
"#,
        mesh_route::Identity::gateway("default", "gw"),
    );
    let shop = Backend::ok("shop");
    let backends = Backends::new().with(&fqdn("shop"), shop.endpoint("shop-0", []));
    let svc = mesh(MeshLayer::new(t, backends));
    assert_eq!(
        send(&svc, get("http://shop.example.com/shop")).await.body,
        "shop"
    );
    for url in [
        "http://shop.example.com/other",
        "http://unknown.example.com/shop",
    ] {
        let r = send(&svc, get(url)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{url}");
        assert_eq!(r.body, "");
    }
    assert_eq!(shop.calls(), 1);
}

/// A subset no DestinationRule defines makes Envoy's cluster missing: 503 with an empty body
/// (`NC`). A defined subset that selects no endpoint: 503 `no healthy upstream` (`UH`).
#[tokio::test]
async fn undefined_subset_and_empty_subset_are_503() {
    let v1 = Backend::ok("v1");
    let t = table(
        &format!(
            "{REVIEWS}---{}",
            r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /undefined}}]
    route:
    - destination: {host: reviews, subset: v9}
  - match: [{uri: {prefix: /empty}}]
    route:
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v1}
"#
        ),
        sidecar(),
    );
    let backends = Backends::new().with(
        &fqdn("reviews"),
        v1.endpoint("reviews-v1", [("version", "v1")]),
    );
    let layer = MeshLayer::new(t, backends);
    let handle = layer.handle();
    let svc = mesh(layer);
    let r = send(&svc, get("http://reviews/undefined")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body, "");
    let r = send(&svc, get("http://reviews/empty")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body, "no healthy upstream");
    assert_eq!(send(&svc, get("http://reviews/")).await.body, "v1");
    let m = handle.metrics().encode();
    assert_eq!(requests_total(&m, &[("response_flags", "NC")]), 1);
    assert_eq!(requests_total(&m, &[("response_flags", "UH")]), 1);
    assert_eq!(v1.calls(), 1);
}

/// A host no VirtualService claims, at a sidecar, takes Istio's default route: to the host
/// itself, here the inner service (no endpoints registered for it).
#[tokio::test]
async fn passthrough_goes_to_the_inner_service() {
    let (svc, _) = reviews_mesh(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
"#,
    );
    assert_eq!(
        send(&svc, get("http://payments:8080/pay")).await.body,
        "inner"
    );
}

/// `MeshHandle::swap_table` is atomic per request: a request in flight (here, inside a 5 s
/// fault delay, before it was dispatched) finishes with the table it started with, while new
/// requests use the new table at once.
#[tokio::test(start_paused = true)]
async fn hot_swap_keeps_in_flight_requests_on_the_old_table() {
    let (backends, b) = reviews_backends();
    let old = table(
        &format!(
            "{REVIEWS}---{}",
            r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - fault: {delay: {fixedDelay: 5s, percentage: {value: 100}}}
    route:
    - destination: {host: reviews, subset: v1}
"#
        ),
        sidecar(),
    );
    let new = table(
        &format!(
            "{REVIEWS}---{}",
            r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v2}
"#
        ),
        sidecar(),
    );
    let layer = MeshLayer::new(old, backends);
    let handle = layer.handle();
    let svc = mesh(layer);
    let started = tokio::time::Instant::now();
    let in_flight = tokio::spawn({
        let svc = svc.clone();
        async move { send(&svc, get("http://reviews/")).await }
    });
    // Let the request start its delay.
    tokio::time::sleep(Duration::from_millis(10)).await;
    handle.swap_table(new);
    let r = send(&svc, get("http://reviews/")).await;
    assert_eq!(r.body, "v2", "new requests use the new table");
    assert!(started.elapsed() < Duration::from_secs(1));
    let r = in_flight.await.expect("the task completes");
    assert_eq!(r.body, "v1", "the in-flight request keeps the old decision");
    assert!(started.elapsed() >= Duration::from_secs(5));
    assert_eq!((b[0].calls(), b[1].calls()), (1, 1));
}
