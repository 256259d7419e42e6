//! The proxy end to end, over real sockets on 127.0.0.1: Istio YAML in a file, real
//! upstreams from ServiceEntry endpoints, and real HTTP requests through the listener. Each
//! test starts its own upstreams and proxy, so that its metrics are its own.

mod common;

use std::time::Duration;

use common::*;
use http::StatusCode;
use mesh_proxy::Running;

/// Every rule under test, on the Gateway `demo/edge` (port 80).
const ROUTES: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: demo}
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http:
  - name: canary-header
    match:
    - headers: {x-canary: {exact: always}}
    route:
    - destination: {host: shop, subset: v2, port: {number: 8080}}
  - name: rewrite
    match:
    - uri: {prefix: /old/}
    rewrite: {uri: /new/, authority: rewritten.internal}
    route:
    - destination: {host: shop, subset: v1, port: {number: 8080}}
  - name: redirect
    match:
    - uri: {exact: /moved}
    redirect: {uri: /elsewhere, authority: other.example.com}
  - name: direct
    match:
    - uri: {exact: /teapot}
    directResponse: {status: 418, body: {string: short and stout}}
  - name: mirrored
    match:
    - uri: {prefix: /mirror}
    route:
    - destination: {host: shop, subset: v1, port: {number: 8080}}
    mirror: {host: mirror, port: {number: 8080}}
    mirrorPercentage: {value: 100}
  - name: abort
    match:
    - uri: {prefix: /abort}
    fault:
      abort: {httpStatus: 503, percentage: {value: 100}}
    route:
    - destination: {host: shop, subset: v1, port: {number: 8080}}
  - name: delay
    match:
    - uri: {prefix: /delay}
    fault:
      delay: {fixedDelay: 200ms, percentage: {value: 100}}
    route:
    - destination: {host: shop, subset: v1, port: {number: 8080}}
  - name: split
    match:
    - uri: {prefix: /split}
    route:
    - destination: {host: shop, subset: v1, port: {number: 8080}}
      weight: 80
    - destination: {host: shop, subset: v2, port: {number: 8080}}
      weight: 20
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: flaky, namespace: demo}
spec:
  hosts: [flaky.example.com]
  gateways: [edge]
  http:
  - route:
    - destination: {host: flaky, port: {number: 8080}}
    retries: {attempts: 3, retryOn: 5xx}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: slow, namespace: demo}
spec:
  hosts: [slow.example.com]
  gateways: [edge]
  http:
  - route:
    - destination: {host: slow, port: {number: 8080}}
    timeout: 200ms
    retries: {attempts: 0}
---
";

/// The upstreams and the proxy of one test.
struct Shop {
    v1: Upstream,
    v2: Upstream,
    mirror: Upstream,
    flaky: Upstream,
    slow: Upstream,
    proxy: Running,
    client: HttpClient,
    _dir: TempDir,
}

impl Shop {
    async fn start() -> Shop {
        let v1 = Upstream::ok("v1").await;
        let v2 = Upstream::ok("v2").await;
        let mirror = Upstream::ok("mirror").await;
        // Fails the first two of every three requests.
        let flaky = Upstream::with("flaky", |n, _| {
            let status = if n % 3 == 2 {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, Duration::ZERO)
        })
        .await;
        let slow = Upstream::with("slow", |_, _| (StatusCode::OK, Duration::from_secs(30))).await;
        let yaml = [
            GATEWAY.to_owned(),
            ROUTES.to_owned(),
            SHOP_SUBSETS.to_owned(),
            service_entry(
                "shop",
                "shop.demo.svc.cluster.local",
                &[(&v1, &[("version", "v1")]), (&v2, &[("version", "v2")])],
            ),
            service_entry(
                "mirror",
                "mirror.demo.svc.cluster.local",
                &[(&mirror, &[("version", "mirror")])],
            ),
            service_entry(
                "flaky",
                "flaky.demo.svc.cluster.local",
                &[(&flaky, &[("version", "v1")])],
            ),
            service_entry(
                "slow",
                "slow.demo.svc.cluster.local",
                &[(&slow, &[("version", "v1")])],
            ),
        ]
        .concat();
        let dir = TempDir::new("routing");
        let file = dir.write("mesh.yaml", &yaml);
        let proxy = start(settings(vec![file])).await;
        Shop {
            v1,
            v2,
            mirror,
            flaky,
            slow,
            proxy,
            client: client(),
            _dir: dir,
        }
    }

    async fn get(&self, host: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        get(&self.client, self.proxy.addr, host, path, headers).await
    }

    async fn metrics(&self) -> String {
        let r = admin(&self.client, self.proxy.admin_addr, "/metrics").await;
        assert_eq!(r.status, StatusCode::OK);
        r.body
    }
}

const SHOP: &str = "shop.example.com";
const SHOP_FQDN: &str = "shop.demo.svc.cluster.local";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_split_follows_the_weights_and_metrics_count_each_version() {
    let shop = Shop::start().await;
    let n = 300;
    let mut v1 = 0u64;
    let mut v2 = 0u64;
    for i in 0..n {
        let r = shop.get(SHOP, &format!("/split/{i}"), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.header("x-version"), r.body);
        match r.body.as_str() {
            "v1" => v1 += 1,
            "v2" => v2 += 1,
            other => panic!("unexpected upstream {other}"),
        }
    }
    // 80/20 of 300: the mean of v2 is 60, its standard deviation 6.9.
    assert!((30..=90).contains(&v2), "v1={v1} v2={v2}");
    assert_eq!(shop.v1.calls() as u64, v1);
    assert_eq!(shop.v2.calls() as u64, v2);
    // The upstream sees the request's path and Host unchanged.
    let seen = shop.v1.seen();
    assert!(seen.iter().all(|s| s.path.starts_with("/split/")));
    assert!(seen.iter().all(|s| s.host == SHOP), "{:?}", seen[0]);

    let m = shop.metrics().await;
    for (version, count) in [("v1", v1), ("v2", v2)] {
        let labels = [
            ("reporter", "source"),
            ("destination_service", SHOP_FQDN),
            ("destination_service_name", "shop"),
            ("destination_service_namespace", "demo"),
            ("destination_version", version),
            ("request_protocol", "http"),
            ("response_code", "200"),
            ("response_flags", "-"),
        ];
        assert_eq!(requests_total(&m, &labels), count, "{version} in\n{m}");
    }
    assert!(
        m.contains("istio_request_duration_milliseconds_bucket{"),
        "{m}"
    );
    shop.proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_match_routes_to_the_canary() {
    let shop = Shop::start().await;
    for _ in 0..20 {
        let r = shop.get(SHOP, "/split/x", &[("x-canary", "always")]).await;
        assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "v2"));
    }
    // A different value does not match the header rule: the split applies.
    let r = shop.get(SHOP, "/split/x", &[("x-canary", "never")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(shop.v2.calls() >= 20);
    let seen = shop.v2.seen();
    assert_eq!(seen[0].header("x-canary"), "always");
    shop.proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrite_changes_the_path_and_authority_the_upstream_sees() {
    let shop = Shop::start().await;
    let r = shop.get(SHOP, "/old/cart?item=7", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "v1"));
    let seen = shop.v1.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/new/cart?item=7");
    assert_eq!(seen[0].host, "rewritten.internal");
    // Envoy keeps the original path for the upstream's logs.
    assert_eq!(seen[0].header("x-envoy-original-path"), "/old/cart?item=7");
    shop.proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_and_direct_response_are_answered_by_the_proxy() {
    let shop = Shop::start().await;
    let r = shop.get(SHOP, "/moved", &[]).await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY, "{r:?}");
    assert_eq!(r.header("location"), "http://other.example.com/elsewhere");

    let r = shop.get(SHOP, "/teapot", &[]).await;
    assert_eq!(r.status, StatusCode::IM_A_TEAPOT);
    assert_eq!(r.body, "short and stout");

    assert_eq!(
        shop.v1.calls() + shop.v2.calls(),
        0,
        "no upstream is called"
    );
    let m = shop.metrics().await;
    assert_eq!(requests_total(&m, &[("response_code", "301")]), 1, "{m}");
    assert_eq!(requests_total(&m, &[("response_code", "418")]), 1, "{m}");
    shop.proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_sends_a_copy_to_the_mirror_upstream() {
    let shop = Shop::start().await;
    let r = shop.get(SHOP, "/mirror/me?q=1", &[("x-trace", "t1")]).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "v1"));
    let copy = eventually(PATIENCE, || async { shop.mirror.seen().into_iter().next() })
        .await
        .expect("the mirror upstream receives the copy");
    assert_eq!(copy.path, "/mirror/me?q=1");
    assert_eq!(copy.header("x-trace"), "t1");
    // Istio 1.28+: the copy keeps the original Host.
    assert_eq!(copy.host, SHOP);
    assert_eq!(shop.mirror.calls(), 1);
    assert_eq!(shop.v1.calls(), 1);
    let m = shop.metrics().await;
    assert_eq!(metric(&m, "mesh_mirror_requests_total{result=\"sent\"}"), 1);
    // The copy is not counted as a request of its own.
    assert_eq!(
        requests_total(
            &m,
            &[("destination_service", "mirror.demo.svc.cluster.local")]
        ),
        0
    );
    shop.proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_abort_with_fi_and_delay_with_di() {
    let shop = Shop::start().await;
    for _ in 0..5 {
        let r = shop.get(SHOP, "/abort", &[]).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.body, "fault filter abort");
    }
    assert_eq!(
        shop.v1.calls(),
        0,
        "aborted requests never reach the upstream"
    );

    let r = shop.get(SHOP, "/delay", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "v1"));
    // 200 ms fixed delay: the request waited at least that long.
    assert!(r.elapsed >= Duration::from_millis(190), "{:?}", r.elapsed);

    let m = shop.metrics().await;
    let abort = [
        ("destination_service", SHOP_FQDN),
        ("destination_version", "v1"),
        ("response_code", "503"),
        ("response_flags", "FI"),
    ];
    assert_eq!(requests_total(&m, &abort), 5, "{m}");
    let delay = [
        ("destination_version", "v1"),
        ("response_code", "200"),
        ("response_flags", "DI"),
    ];
    assert_eq!(requests_total(&m, &delay), 1, "{m}");
    shop.proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_turn_two_failures_into_a_success() {
    let shop = Shop::start().await;
    let r = shop.get("flaky.example.com", "/pay", &[]).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::OK, "flaky"),
        "{r:?}"
    );
    assert_eq!(shop.flaky.calls(), 3, "two failures, then the success");
    let m = shop.metrics().await;
    assert_eq!(metric(&m, "mesh_retries_total{result=\"attempted\"}"), 2);
    let ok = [
        ("destination_service", "flaky.demo.svc.cluster.local"),
        ("response_code", "200"),
        ("response_flags", "-"),
    ];
    assert_eq!(requests_total(&m, &ok), 1, "{m}");
    // Failed attempts are not requests of their own.
    assert_eq!(requests_total(&m, &[("response_code", "503")]), 0, "{m}");
    shop.proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_timeout_answers_504_with_ut() {
    let shop = Shop::start().await;
    let r = shop.get("slow.example.com", "/report", &[]).await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT, "{r:?}");
    assert_eq!(r.body, "upstream request timeout");
    // The route timeout is 200 ms; the upstream would take 30 s (the upper bound only tells
    // the timeout from the upstream's answer, generously).
    assert!(r.elapsed >= Duration::from_millis(190), "{:?}", r.elapsed);
    assert!(r.elapsed < Duration::from_secs(15), "{:?}", r.elapsed);
    assert_eq!(shop.slow.calls(), 1);
    let m = shop.metrics().await;
    let ut = [
        ("destination_service", "slow.demo.svc.cluster.local"),
        ("response_code", "504"),
        ("response_flags", "UT"),
    ];
    assert_eq!(requests_total(&m, &ut), 1, "{m}");
    shop.proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_is_404_nr() {
    let shop = Shop::start().await;
    // The host is known but no rule matches the path.
    let r = shop.get(SHOP, "/nowhere", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // No virtual host for the authority at all.
    let r = shop.get("unknown.example.org", "/", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let m = shop.metrics().await;
    let nr = [
        ("destination_service", "unknown"),
        ("response_code", "404"),
        ("response_flags", "NR"),
    ];
    assert_eq!(requests_total(&m, &nr), 2, "{m}");
    shop.proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_serves_config_and_readiness() {
    let shop = Shop::start().await;
    let r = admin(&shop.client, shop.proxy.admin_addr, "/ready").await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "ready"));

    let r = admin(&shop.client, shop.proxy.admin_addr, "/config").await;
    assert_eq!(r.status, StatusCode::OK);
    let config: serde_json::Value = serde_json::from_str(&r.body).expect("/config is JSON");
    assert_eq!(config["generation"], 1);
    assert_eq!(
        config["identity"].as_str().map(|s| s.contains("edge")),
        Some(true)
    );
    let resources: Vec<&str> = config["resources"]
        .as_array()
        .expect("a list of resources")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for expected in [
        "VirtualService demo/shop",
        "VirtualService demo/flaky",
        "VirtualService demo/slow",
        "DestinationRule demo/shop",
        "Gateway demo/edge",
        "ServiceEntry demo/shop",
        "ServiceEntry demo/mirror",
    ] {
        assert!(resources.contains(&expected), "{expected} in {resources:?}");
    }
    let hosts = config["upstream_hosts"].to_string();
    assert!(hosts.contains(SHOP_FQDN), "{hosts}");
    assert!(
        config["spec"]
            .as_array()
            .is_some_and(|a| a.len() == resources.len())
    );

    let m = shop.metrics().await;
    assert_eq!(metric(&m, "mesh_proxy_config_generation "), 1, "{m}");
    assert_eq!(
        metric(&m, "mesh_proxy_config_reloads_total{result=\"rejected\"}"),
        0
    );
    assert!(m.trim_end().ends_with("# EOF"), "one EOF, at the end:\n{m}");
    assert_eq!(m.matches("# EOF").count(), 1);
    shop.proxy.shutdown().await;
}

/// `/config` is written exactly as the `serde_json::Value` of it is (object keys sorted, no
/// spaces), and its `spec` is the array of every resource as `serde_json::to_value` gives it,
/// VirtualServices first: the summary keeps the resources as JSON text rather than as a tree
/// of values, and what the endpoint writes must not change with that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_is_written_as_the_json_tree_of_the_resources() {
    use mesh_load::LoadFiles as _;
    let shop = Shop::start().await;
    let r = admin(&shop.client, shop.proxy.admin_addr, "/config").await;
    assert_eq!(r.status, StatusCode::OK);
    let config: serde_json::Value = serde_json::from_str(&r.body).expect("/config is JSON");
    assert_eq!(
        r.body,
        config.to_string(),
        "written as the tree of values writes itself"
    );

    let loaded = mesh_model::Loader::new()
        .with_default_namespace("demo")
        .load_paths(&[shop._dir.path().join("mesh.yaml")]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let r = &loaded.resources;
    let mut expected = Vec::new();
    for v in r.virtual_services.iter().map(serde_json::to_value) {
        expected.push(v.expect("serializable"));
    }
    for v in r.destination_rules.iter().map(serde_json::to_value) {
        expected.push(v.expect("serializable"));
    }
    for v in r.gateways.iter().map(serde_json::to_value) {
        expected.push(v.expect("serializable"));
    }
    for v in r.service_entries.iter().map(serde_json::to_value) {
        expected.push(v.expect("serializable"));
    }
    assert_eq!(expected.len(), 9);
    assert_eq!(config["spec"], serde_json::Value::Array(expected));
    // The other fields are where they were, around the spec.
    let keys: Vec<&str> = config
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "candidate",
            "generation",
            "identity",
            "loaded_at_unix",
            "resources",
            "rollouts",
            "spec",
            "upstream_hosts",
            "warnings"
        ]
    );
    shop.proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_initial_configuration_is_refused_with_findings() {
    let dir = TempDir::new("invalid");
    let file = dir.write(
        "mesh.yaml",
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad, namespace: demo}
spec:
  hosts: [bad.example.com]
  http:
  - route:
    - destination: {host: bad}
      wieght: 100
",
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let err = mesh_proxy::start(settings(vec![file]), listener, None)
        .await
        .expect_err("a schema error is refused")
        .findings();
    assert!(err.iter().any(|f| f.contains("wieght")), "{err:?}");
}

/// A ServiceEntry with `resolution: DNS` has endpoints named by DNS (`localhost` here): the
/// proxy resolves the name when it connects and forwards to the endpoint's port from the
/// ServiceEntry's port map, as Istio's `STRICT_DNS` cluster does (README: ServiceEntry
/// `endpoints` (STATIC, DNS) as upstreams).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_service_entry_endpoint_is_resolved_and_served() {
    let upstream = Upstream::ok("by-dns").await;
    let yaml = [
        GATEWAY.to_owned(),
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: dns, namespace: demo}
spec:
  hosts: [dns.example.com]
  gateways: [edge]
  http:
  - route: [{destination: {host: backend.internal, port: {number: 8080}}}]
---
"
        .to_owned(),
        format!(
            "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: backend, namespace: demo}}
spec:
  hosts: [backend.internal]
  location: MESH_EXTERNAL
  resolution: DNS
  ports:
  - {{number: 8080, name: http, protocol: HTTP}}
  endpoints:
  - address: localhost
    ports: {{http: {}}}
",
            upstream.port()
        ),
    ]
    .concat();
    let dir = TempDir::new("dns");
    let file = dir.write("mesh.yaml", &yaml);
    let proxy = start(settings(vec![file])).await;
    let c = client();
    let r = get(&c, proxy.addr, "dns.example.com", "/hello", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "by-dns"));
    assert_eq!(upstream.calls(), 1);
    assert_eq!(upstream.seen()[0].path, "/hello");
    proxy.shutdown().await;
}

/// A route to a host without endpoints, in a configuration with no endpoints at all, gets
/// Envoy's answer for a cluster without endpoints: 503 `no healthy upstream`, counted with
/// flag `UH` (Envoy 1.40, a STATIC cluster with no endpoints: `503 UH`, body `no healthy
/// upstream`), the same answer as when other hosts have endpoints; the proxy's fallback is no
/// upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_without_endpoints_is_503_uh_even_with_no_endpoints_at_all() {
    let yaml = [
        GATEWAY,
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: empty, namespace: demo}
spec:
  hosts: [empty.example.com]
  gateways: [edge]
  http:
  - route: [{destination: {host: cart, port: {number: 8080}}}]
",
    ]
    .concat();
    let dir = TempDir::new("no-endpoints");
    let file = dir.write("mesh.yaml", &yaml);
    let proxy = start(settings(vec![file])).await;
    let c = client();
    let r = get(&c, proxy.addr, "empty.example.com", "/", &[]).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "no healthy upstream")
    );
    let m = admin(&c, proxy.admin_addr, "/metrics").await.body;
    let uh = [("response_code", "503"), ("response_flags", "UH")];
    assert_eq!(requests_total(&m, &uh), 1, "{m}");
    proxy.shutdown().await;
}
