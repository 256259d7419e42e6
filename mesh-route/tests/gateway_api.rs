//! The Gateway API compiled into route tables: match precedence across routes, hostname
//! intersection and listener selection, `allowedRoutes`, ReferenceGrant, filter order,
//! weights (with unresolved backends answering 500 for their share), and Istio and Gateway
//! API resources mixed in one input.

use std::collections::BTreeMap;

use mesh_match::RequestView;
use mesh_model::gateway_api::binding::intersect;
use mesh_route::{CompileOptions, Decision, Identity, RouteTable};
use proptest::prelude::*;

const BASE: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: infra, labels: {team: edge}}
---
apiVersion: v1
kind: Namespace
metadata: {name: apps, labels: {team: apps}}
---
apiVersion: v1
kind: Service
metadata: {name: a, namespace: infra}
spec: {selector: {app: a}, ports: [{port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: infra}
spec: {selector: {app: b}, ports: [{port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: c, namespace: apps}
spec: {selector: {app: c}, ports: [{port: 8080}]}
---
"#;

fn gateway(listeners: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: infra}}
spec:
  gatewayClassName: x
  listeners:
{listeners}---
"
    )
}

const HTTP_ALL: &str =
    "  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}\n";

fn table(yaml: &str, id: Identity) -> RouteTable {
    let resources = mesh_model::load_str(yaml).expect("loads");
    RouteTable::compile(&resources, &id, &CompileOptions::default()).expect("compiles")
}

fn gw() -> Identity {
    Identity::gateway("infra", "gw")
}

/// What a GET gets: `host` of the chosen destination, `status` of a local answer, or
/// `404` for no route.
fn answer(
    t: &RouteTable,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    sample: u64,
) -> String {
    let mut h = http::HeaderMap::new();
    for (k, v) in headers {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    let view = RequestView::new(method, "http", host, path, &h);
    match t.decide(&view, sample) {
        Decision::Route { target, rule, .. } => format!(
            "{} {}",
            rule.virtual_service
                .as_ref()
                .map_or("-".into(), |k| k.name.clone()),
            target.host().split('.').next().unwrap_or_default()
        ),
        Decision::DirectResponse { response, .. } => response.status.to_string(),
        Decision::Redirect { redirect, .. } => redirect.code.to_string(),
        Decision::NoRoute(_) => "404".to_owned(),
    }
}

fn route(name: &str, ns: &str, created: &str, spec: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: {ns}, creationTimestamp: '{created}'}}
spec:
  parentRefs: [{{name: gw, namespace: infra}}]
{spec}---
"
    )
}

/// The spec's precedence across routes: an exact path beats any prefix, a longer prefix a
/// shorter one, then a method condition, then more headers, then more query parameters,
/// then the older route, then `namespace/name`.
#[test]
fn precedence_across_routes() {
    let mut y = format!("{BASE}{}", gateway(HTTP_ALL));
    y += &route(
        "prefix-short",
        "infra",
        "2024-01-01T00:00:00Z",
        "  rules:\n  - matches: [{path: {type: PathPrefix, value: /a}}]\n    backendRefs: [{name: a, port: 8080}]\n",
    );
    y += &route(
        "prefix-long",
        "infra",
        "2024-01-02T00:00:00Z",
        "  rules:\n  - matches: [{path: {type: PathPrefix, value: /a/b}}]\n    backendRefs: [{name: b, port: 8080}]\n",
    );
    y += &route(
        "exact",
        "infra",
        "2024-01-03T00:00:00Z",
        "  rules:\n  - matches: [{path: {type: Exact, value: /a/b/c}}]\n    backendRefs: [{name: a, port: 8080}]\n",
    );
    y += &route(
        "method",
        "infra",
        "2024-01-04T00:00:00Z",
        "  rules:\n  - matches: [{path: {type: PathPrefix, value: /a/b}, method: POST}]\n    backendRefs: [{name: a, port: 8080}]\n",
    );
    y += &route(
        "headers",
        "infra",
        "2024-01-05T00:00:00Z",
        "  rules:\n  - matches: [{path: {type: PathPrefix, value: /a/b}, headers: [{name: hx, value: '1'}, {name: hy, value: '1'}]}]\n    backendRefs: [{name: b, port: 8080}]\n",
    );
    y += &route(
        "old",
        "infra",
        "2023-01-01T00:00:00Z",
        "  rules:\n  - matches: [{path: {type: PathPrefix, value: /z}}]\n    backendRefs: [{name: a, port: 8080}]\n",
    );
    y += &route(
        "young",
        "infra",
        "2025-01-01T00:00:00Z",
        "  rules:\n  - matches: [{path: {type: PathPrefix, value: /z}}]\n    backendRefs: [{name: b, port: 8080}]\n",
    );
    let t = table(&y, gw());
    assert_eq!(answer(&t, "GET", "h", "/a/b/c", &[], 0), "exact a");
    assert_eq!(answer(&t, "GET", "h", "/a/b/d", &[], 0), "prefix-long b");
    assert_eq!(answer(&t, "GET", "h", "/a/x", &[], 0), "prefix-short a");
    assert_eq!(
        answer(&t, "POST", "h", "/a/b/d", &[("hx", "1"), ("hy", "1")], 0),
        "method a"
    );
    assert_eq!(
        answer(&t, "GET", "h", "/a/b/d", &[("hx", "1"), ("hy", "1")], 0),
        "headers b"
    );
    assert_eq!(answer(&t, "GET", "h", "/z", &[], 0), "old a");
}

/// One generated match: path kind and value, method, headers and query parameters.
#[derive(Clone, Debug)]
struct Gen {
    exact: bool,
    path: &'static str,
    method: bool,
    headers: usize,
    query: usize,
}

fn a_match() -> impl Strategy<Value = Gen> {
    (
        any::<bool>(),
        prop::sample::select(vec!["/", "/a", "/a/b", "/a/b/c"]),
        any::<bool>(),
        0usize..3,
        0usize..3,
    )
        .prop_map(|(exact, path, method, headers, query)| Gen {
            exact,
            path,
            method,
            headers,
            query,
        })
}

fn yaml_match(g: &Gen) -> String {
    let kind = if g.exact { "Exact" } else { "PathPrefix" };
    let mut m = format!("path: {{type: {kind}, value: {}}}", g.path);
    if g.method {
        m.push_str(", method: GET");
    }
    if g.headers > 0 {
        let hs: Vec<String> = (0..g.headers)
            .map(|i| format!("{{name: h{i}, value: v}}"))
            .collect();
        m.push_str(&format!(", headers: [{}]", hs.join(", ")));
    }
    if g.query > 0 {
        let qs: Vec<String> = (0..g.query)
            .map(|i| format!("{{name: q{i}, value: v}}"))
            .collect();
        m.push_str(&format!(", queryParams: [{}]", qs.join(", ")));
    }
    format!("{{{m}}}")
}

/// Whether `g` matches the property's request (`GET /a/b/c?q0=v&q1=v` with `h0: v`, `h1: v`).
fn matches_request(g: &Gen) -> bool {
    let path_ok = if g.exact {
        g.path == "/a/b/c"
    } else {
        true // every generated prefix is a path-separated prefix of /a/b/c
    };
    path_ok && g.headers <= 2 && g.query <= 2
}

proptest! {
    // Each case compiles a table from YAML: fewer cases than the default keep this fast.
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever routes hold which matches, the request goes to the route whose matching
    /// rule ranks first by the spec's criteria (exact, prefix length, method, headers,
    /// query parameters), ties going to the older route: a reference implementation of the
    /// spec's rule agrees with the compiled table.
    #[test]
    fn precedence_follows_the_spec(gens in prop::collection::vec(a_match(), 1..6)) {
        let mut y = format!("{BASE}{}", gateway(HTTP_ALL));
        for (i, g) in gens.iter().enumerate() {
            y += &route(
                &format!("r{i}"),
                "infra",
                &format!("2024-01-0{}T00:00:00Z", i + 1),
                &format!("  rules:\n  - matches: [{}]\n    backendRefs: [{{name: a, port: 8080}}]\n", yaml_match(g)),
            );
        }
        let t = table(&y, gw());
        let key = |g: &Gen| {
            let len = if g.path == "/" { 1 } else { g.path.len() };
            (std::cmp::Reverse(g.exact), std::cmp::Reverse(len), std::cmp::Reverse(g.method), std::cmp::Reverse(g.headers), std::cmp::Reverse(g.query))
        };
        let want = gens
            .iter()
            .enumerate()
            .filter(|(_, g)| matches_request(g))
            .min_by_key(|(i, g)| (key(g), *i))
            .map(|(i, _)| format!("r{i} a"));
        let got = answer(&t, "GET", "h", "/a/b/c?q0=v&q1=v", &[("h0", "v"), ("h1", "v")], 0);
        prop_assert_eq!(got, want.unwrap_or_else(|| "404".to_owned()));
    }

    /// Hostname intersection: when it exists it is covered by both names, and every host
    /// both names cover is covered by it; when it does not, no host is covered by both.
    #[test]
    fn hostname_intersection(
        a in prop::sample::select(vec!["*.com", "*.example.com", "foo.example.com", "*.foo.example.com", "bar.example.com", "a.foo.example.com", "example.com"]),
        b in prop::sample::select(vec!["*.com", "*.example.com", "foo.example.com", "*.foo.example.com", "bar.example.com", "a.foo.example.com", "example.com"]),
        host in prop::sample::select(vec!["foo.example.com", "a.foo.example.com", "bar.example.com", "example.com", "x.com", "b.a.foo.example.com"]),
    ) {
        let covers = |pattern: &str, h: &str| match pattern.strip_prefix('*') {
            Some(suffix) => h.ends_with(suffix) && h.len() > suffix.len(),
            None => pattern == h,
        };
        let i = intersect(a, b);
        prop_assert_eq!(&i, &intersect(b, a));
        let both = covers(a, host) && covers(b, host);
        match &i {
            Some(i) => prop_assert_eq!(both, covers(i, host), "{} ∩ {} = {}", a, b, i),
            None => prop_assert!(!both),
        }
    }

    /// Weights: each backend gets its weight's share of samples, and the share of a
    /// backendRef that does not resolve is answered 500.
    #[test]
    fn weights_and_unresolved_shares(w in prop::collection::vec(0u32..4, 1..4), bad in 0u32..4) {
        let mut refs = String::new();
        for (i, wi) in w.iter().enumerate() {
            refs += &format!("    - {{name: {}, port: 8080, weight: {wi}}}\n", if i % 2 == 0 { "a" } else { "b" });
        }
        refs += &format!("    - {{name: missing, port: 8080, weight: {bad}}}\n");
        let y = format!("{BASE}{}{}", gateway(HTTP_ALL), route("w", "infra", "2024-01-01T00:00:00Z", &format!("  rules:\n  - backendRefs:\n{refs}")));
        let t = table(&y, gw());
        let total: u32 = w.iter().sum::<u32>() + bad;
        let n: u64 = 1000;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for k in 0..n {
            let sample = ((u128::from(k) << 64) / u128::from(n)) as u64;
            *counts.entry(answer(&t, "GET", "h", "/", &[], sample)).or_default() += 1;
        }
        if total == 0 {
            prop_assert_eq!(counts.get("500").copied(), Some(n));
        } else {
            let want_500 = f64::from(bad) / f64::from(total);
            let got_500 = counts.get("500").copied().unwrap_or(0) as f64 / n as f64;
            prop_assert!((got_500 - want_500).abs() < 0.01, "{counts:?} {w:?} bad {bad}");
            let a: u32 = w.iter().step_by(2).sum();
            let got_a = counts.get("w a").copied().unwrap_or(0) as f64 / n as f64;
            prop_assert!((got_a - f64::from(a) / f64::from(total)).abs() < 0.01, "{counts:?}");
        }
    }
}

/// `allowedRoutes`: `Same` admits routes of the Gateway's namespace only, `Selector` the
/// namespaces whose labels match (Namespace objects of the input, and the API server's
/// `kubernetes.io/metadata.name` label), `All` every namespace; `kinds` limits the route
/// kinds.
#[test]
fn allowed_routes() {
    let listeners = "  - {name: same, port: 80, protocol: HTTP, hostname: same.example}\n  - {name: sel, port: 80, protocol: HTTP, hostname: sel.example, allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: apps}}}}}\n  - {name: byname, port: 80, protocol: HTTP, hostname: byname.example, allowedRoutes: {namespaces: {from: Selector, selector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [apps]}]}}}}\n  - {name: grpc-only, port: 80, protocol: HTTP, hostname: grpc.example, allowedRoutes: {namespaces: {from: All}, kinds: [{kind: GRPCRoute}]}}\n";
    let mut y = format!("{BASE}{}", gateway(listeners));
    y += &route(
        "infra-route",
        "infra",
        "2024-01-01T00:00:00Z",
        "  rules:\n  - backendRefs: [{name: a, port: 8080}]\n",
    );
    y += &route(
        "apps-route",
        "apps",
        "2024-01-02T00:00:00Z",
        "  rules:\n  - backendRefs: [{name: c, port: 8080}]\n",
    );
    let t = table(&y, gw());
    assert_eq!(
        answer(&t, "GET", "same.example", "/", &[], 0),
        "infra-route a"
    );
    assert_eq!(
        answer(&t, "GET", "sel.example", "/", &[], 0),
        "apps-route c"
    );
    assert_eq!(
        answer(&t, "GET", "byname.example", "/", &[], 0),
        "apps-route c"
    );
    assert_eq!(answer(&t, "GET", "grpc.example", "/", &[], 0), "404");
}

/// ReferenceGrant: a backend in another namespace resolves only with a grant in that
/// namespace, from HTTPRoutes of the route's namespace, to that Service (or every Service);
/// otherwise its requests are answered 500.
#[test]
fn reference_grants() {
    let base = format!(
        "{BASE}{}{}",
        gateway(HTTP_ALL),
        route(
            "cross",
            "infra",
            "2024-01-01T00:00:00Z",
            "  rules:\n  - backendRefs: [{name: c, namespace: apps, port: 8080}]\n"
        )
    );
    let grant = |from_ns: &str, kind: &str, to_name: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {{name: g, namespace: apps}}
spec:
  from: [{{group: gateway.networking.k8s.io, kind: {kind}, namespace: {from_ns}}}]
  to: [{{group: '', kind: Service{to_name}}}]
"
        )
    };
    assert_eq!(answer(&table(&base, gw()), "GET", "h", "/", &[], 0), "500");
    for (g, want) in [
        (grant("infra", "HTTPRoute", ""), "cross c"),
        (grant("infra", "HTTPRoute", ", name: c"), "cross c"),
        (grant("infra", "HTTPRoute", ", name: other"), "500"),
        (grant("elsewhere", "HTTPRoute", ""), "500"),
        (grant("infra", "GRPCRoute", ""), "500"),
    ] {
        let t = table(&format!("{base}---\n{g}"), gw());
        assert_eq!(answer(&t, "GET", "h", "/", &[], 0), want, "{g}");
    }
}

/// Filter order as Istio translates it: `URLRewrite.hostname` decides the upstream
/// authority over a `Host` set by a header modifier; a backendRef's header modifier is the
/// destination's, applied with the rule's.
#[test]
fn filter_order() {
    let y = format!(
        "{BASE}{}{}",
        gateway(HTTP_ALL),
        route(
            "f",
            "infra",
            "2024-01-01T00:00:00Z",
            "  rules:\n  - filters:\n    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: host, value: from-header}, {name: x-a, value: rule}]}}\n    - {type: URLRewrite, urlRewrite: {hostname: from-rewrite}}\n    backendRefs:\n    - name: a\n      port: 8080\n      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-a, value: backend}]}}]\n"
        )
    );
    let t = table(&y, gw());
    let h = http::HeaderMap::new();
    let view = RequestView::new("GET", "http", "h", "/", &h);
    let d = t.decide(&view, 0);
    assert_eq!(d.upstream_authority(&view), "from-rewrite");
    let Decision::Route { rule, target, .. } = d else {
        panic!("{d:?}")
    };
    assert_eq!(
        rule.headers.request.set.len(),
        1,
        "host is the authority, not a header"
    );
    assert_eq!(rule.headers.request.set[0].1, "rule");
    assert_eq!(
        target.destination().unwrap().headers.request.set[0].1,
        "backend"
    );
}

/// Listener selection and isolation: a request picks the listener with the most specific
/// hostname on its port, and only that listener's routes answer it.
#[test]
fn listener_isolation_and_ports() {
    let listeners = "  - {name: any, port: 80, protocol: HTTP}\n  - {name: wild, port: 80, protocol: HTTP, hostname: '*.example.com'}\n  - {name: exact, port: 80, protocol: HTTP, hostname: foo.example.com}\n  - {name: alt, port: 8080, protocol: HTTP}\n";
    let mut y = format!("{BASE}{}", gateway(listeners));
    for (name, section, backend) in [
        ("r-any", "any", "a"),
        ("r-wild", "wild", "b"),
        ("r-exact", "exact", "a"),
        ("r-alt", "alt", "b"),
    ] {
        y += &format!(
            "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: infra}}
spec:
  parentRefs: [{{name: gw, sectionName: {section}}}]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /{section}}}}}]
    backendRefs: [{{name: {backend}, port: 8080}}]
---
"
        );
    }
    let t = table(&y, gw());
    assert_eq!(
        answer(&t, "GET", "foo.example.com", "/exact", &[], 0),
        "r-exact a"
    );
    // The wildcard listener's route does not answer for the exact listener's host.
    assert_eq!(answer(&t, "GET", "foo.example.com", "/wild", &[], 0), "404");
    assert_eq!(
        answer(&t, "GET", "bar.example.com", "/wild", &[], 0),
        "r-wild b"
    );
    assert_eq!(answer(&t, "GET", "other.org", "/any", &[], 0), "r-any a");
    assert_eq!(
        answer(&t, "GET", "other.org:8080", "/alt", &[], 0),
        "r-alt b"
    );
    assert_eq!(answer(&t, "GET", "other.org:8080", "/any", &[], 0), "404");
}

/// Istio and Gateway API resources in one input: each Gateway serves its own API's routes,
/// and a sidecar sees VirtualServices and mesh HTTPRoutes side by side.
#[test]
fn mixed_istio_and_gateway_api_input() {
    let y = format!(
        "{BASE}{}{}
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: istio-gw, namespace: infra}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: 80, name: http, protocol: HTTP}}
    hosts: ['*']
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: vs, namespace: infra}}
spec:
  hosts: ['*']
  gateways: [istio-gw]
  http:
  - route:
    - destination: {{host: b.infra.svc.cluster.local, port: {{number: 8080}}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: mesh-a, namespace: infra}}
spec:
  hosts: [a.infra.svc.cluster.local]
  http:
  - route:
    - destination: {{host: b.infra.svc.cluster.local}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: mesh-c, namespace: apps}}
spec:
  parentRefs: [{{group: '', kind: Service, name: c}}]
  rules:
  - backendRefs: [{{name: a, namespace: infra, port: 8080}}]
---
",
        gateway(HTTP_ALL),
        route(
            "gwapi",
            "infra",
            "2024-01-01T00:00:00Z",
            "  rules:\n  - backendRefs: [{name: a, port: 8080}]\n"
        )
    );
    assert_eq!(answer(&table(&y, gw()), "GET", "h", "/", &[], 0), "gwapi a");
    assert_eq!(
        answer(
            &table(&y, Identity::gateway("infra", "istio-gw")),
            "GET",
            "h",
            "/",
            &[],
            0
        ),
        "vs b"
    );
    let sidecar = table(&y, Identity::sidecar("apps"));
    assert_eq!(answer(&sidecar, "GET", "a.infra", "/", &[], 0), "mesh-a b");
    // The consumer-less mesh route of `apps` to a Service in another namespace needs no
    // ReferenceGrant.
    assert_eq!(answer(&sidecar, "GET", "c", "/", &[], 0), "mesh-c a");
}

/// `RequestRedirect` Locations as Istio translates the filter and Envoy builds them (a
/// scheme without a port: no port rewrite, so the Host's port stays; no scheme and no port:
/// the listener's port; `ReplacePrefixMatch: /` is passed as Envoy's `prefix_rewrite`
/// unchanged). Measured on Envoy 1.40 with `path_separated_prefix` routes: `scheme_redirect:
/// https` on `Host: shop.example.com:8080` gave `https://shop.example.com:8080/scheme/x?q=1`;
/// `port_redirect: 8080` on `Host: shop.example.com` gave
/// `http://shop.example.com:8080/reqport/a`; `prefix_rewrite: "/"` for `/prefix/a/b?q` gave
/// the path `//a/b?q`, and for `/prefix` the path `/` (here with the listener's port, which
/// Istio adds to a redirect without scheme and port).
#[test]
fn redirect_locations_as_envoy_builds_them() {
    let listeners =
        "  - {name: alt, port: 8080, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}\n";
    let y = format!(
        "{BASE}{}{}",
        gateway(listeners),
        route(
            "r",
            "infra",
            "2024-01-01T00:00:00Z",
            "  rules:\n  - matches: [{path: {type: PathPrefix, value: /scheme}}]\n    filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]\n  - matches: [{path: {type: PathPrefix, value: /reqport}}]\n    filters: [{type: RequestRedirect, requestRedirect: {}}]\n  - matches: [{path: {type: PathPrefix, value: /prefix}}]\n    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]\n",
        )
    );
    let t = table(&y, gw());
    let location = |host: &str, path: &str| {
        let h = http::HeaderMap::new();
        let view = RequestView::new("GET", "http", host, path, &h).with_port(8080);
        let d = t.decide(&view, 0);
        assert_eq!(d.outcome(), "redirect", "{path}");
        d.location(&view).unwrap()
    };
    assert_eq!(
        location("shop.example.com:8080", "/scheme/x?q=1"),
        "https://shop.example.com:8080/scheme/x?q=1"
    );
    assert_eq!(
        location("shop.example.com", "/reqport/a"),
        "http://shop.example.com:8080/reqport/a"
    );
    assert_eq!(
        location("shop.example.com", "/prefix/a/b?q"),
        "http://shop.example.com:8080//a/b?q"
    );
    assert_eq!(
        location("shop.example.com", "/prefix"),
        "http://shop.example.com:8080/"
    );
}
