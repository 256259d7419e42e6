//! RouteTable semantics, one test per rule of Istio's translation (SPEC sections 1, 2 and 9).
//! Each test is named after the rule it checks and states it in its doc comment.

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use mesh_match::{PathNormalization, RequestView, normalize_target};
use mesh_route::policy::retry::DEFAULT_RETRY_ON;
use mesh_route::policy::{AbortKind, Denominator, Fraction, RetryOn};
use mesh_route::{CompileOptions, Decision, Identity, NoRoute, RouteTable, Rule};

// ---------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------

fn try_compile(yaml: &str, id: &Identity) -> Result<RouteTable, String> {
    let resources = mesh_model::load_str(yaml).map_err(|e| format!("load: {e}"))?;
    RouteTable::compile(&resources, id, &CompileOptions::default()).map_err(|e| {
        e.problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn compile(yaml: &str, id: &Identity) -> RouteTable {
    try_compile(yaml, id).unwrap_or_else(|e| panic!("compile failed:\n{e}"))
}

fn compile_error(yaml: &str, id: &Identity) -> String {
    match try_compile(yaml, id) {
        Ok(_) => panic!("expected the configuration to be refused"),
        Err(e) => e,
    }
}

fn sidecar(ns: &str) -> Identity {
    Identity::sidecar(ns)
}

fn sidecar_labels(ns: &str, labels: &[(&str, &str)]) -> Identity {
    Identity::sidecar_with_labels(ns, labels.iter().copied())
}

fn gateway(ns: &str, name: &str) -> Identity {
    Identity::gateway(ns, name)
}

/// What a decision amounts to, owned so that tests can compare it.
#[derive(Clone, Debug, Default)]
struct Got {
    outcome: &'static str,
    no_route: Option<NoRoute>,
    /// `ns/name` of the VirtualService whose rule matched.
    vs: Option<String>,
    rule: Option<usize>,
    match_index: Option<usize>,
    /// Whether a rule matched (false for a default route or passthrough).
    matched: bool,
    host: String,
    subset: String,
    port: u16,
    /// `None`: the subset is named but no visible DestinationRule defines it.
    subset_labels: Option<BTreeMap<String, String>>,
    path: String,
    authority: String,
    location: Option<String>,
    status: Option<u16>,
    body: Vec<u8>,
    rule_value: Option<Rule>,
}

fn send(t: &RouteTable, method: &str, url: &str, headers: &[(&str, &str)]) -> Got {
    let uri: http::Uri = url.parse().expect("url");
    let scheme = uri.scheme_str().unwrap_or("http").to_owned();
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    let target = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let path = normalize_target(&target, PathNormalization::Base)
        .expect("path")
        .into_owned();
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let view = RequestView::new(method, &scheme, &authority, &path, &h);
    let d = t.decide(&view, 0);
    let mut got = Got {
        outcome: d.outcome(),
        path: d.upstream_path(&view).into_owned(),
        authority: d.upstream_authority(&view).to_owned(),
        location: d.location(&view),
        rule_value: d.rule().cloned(),
        ..Got::default()
    };
    if let Some(m) = d.matched() {
        got.matched = true;
        got.rule = Some(m.rule().index);
        got.match_index = Some(m.entry.match_index);
        got.vs = m
            .rule()
            .virtual_service
            .as_ref()
            .map(|k| format!("{}/{}", k.namespace, k.name));
    }
    match d {
        Decision::Route { target, .. } => {
            got.host = target.host().into_owned();
            got.subset = target.subset().to_owned();
            got.port = target.port(view.port());
            got.subset_labels = match target.destination() {
                Some(dest) => dest.subset_labels.clone(),
                None => Some(BTreeMap::new()),
            };
        }
        Decision::Redirect { redirect, .. } => got.status = Some(redirect.code),
        Decision::DirectResponse { response, .. } => {
            got.status = Some(response.status);
            got.body = response.body.to_vec();
        }
        Decision::NoRoute(why) => {
            got.no_route = Some(why);
            got.status = Some(404);
        }
    }
    got
}

fn get(t: &RouteTable, url: &str) -> Got {
    send(t, "GET", url, &[])
}

fn get_h(t: &RouteTable, url: &str, headers: &[(&str, &str)]) -> Got {
    send(t, "GET", url, headers)
}

fn rule(t: &RouteTable, url: &str) -> Rule {
    get(t, url).rule_value.expect("a rule applies")
}

fn svc(name: &str, ns: &str) -> String {
    format!("{name}.{ns}.svc.cluster.local")
}

/// A Gateway `istio-system/gw` serving plain HTTP on port 80 for every host.
const GATEWAY_ALL_HOSTS: &str = r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
"#;

// ---------------------------------------------------------------------------------------
// Rule order and no-route.
// ---------------------------------------------------------------------------------------

const SHOP: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [shop.example.com]
  http:
  - name: v2
    match:
    - uri: {prefix: /api/v2}
    - headers: {x-v2: {exact: "1"}}
    route: [{destination: {host: v2}}]
  - match: [{uri: {prefix: /api}}]
    route: [{destination: {host: v1}}]
  - match: [{uri: {exact: /exact}}]
    route: [{destination: {host: exact}}]
"#;

/// The first rule that matches wins, in the order written, with no specificity sorting; the
/// match blocks of one rule are OR-ed and the first matching block is the one reported.
#[test]
fn first_match_wins() {
    let t = compile(SHOP, &sidecar("default"));
    let g = get(&t, "http://shop.example.com/api/v2/items");
    assert_eq!((g.rule, g.match_index), (Some(0), Some(0)));
    assert_eq!(g.host, svc("v2", "default"));
    // The second block of rule 0 matches before rule 1 is looked at.
    let g = get_h(&t, "http://shop.example.com/api/v1", &[("x-v2", "1")]);
    assert_eq!((g.rule, g.match_index), (Some(0), Some(1)));
    // Rule 1 is a raw prefix: `/api` matches `/apiary`.
    let g = get(&t, "http://shop.example.com/apiary");
    assert_eq!(g.rule, Some(1));
    assert_eq!(g.host, svc("v1", "default"));
}

/// A host that a VirtualService claims, with no rule matching the request, is a 404
/// (`NR`): there is no fall-through to the service's default route.
#[test]
fn no_rule_matches_is_no_route_404() {
    let t = compile(SHOP, &sidecar("default"));
    for url in [
        "http://shop.example.com/other",
        "http://shop.example.com/exact/",
        "http://shop.example.com/Exact",
    ] {
        let g = get(&t, url);
        assert_eq!(g.outcome, "noRoute", "{url}");
        assert_eq!(g.no_route, Some(NoRoute::NoRuleMatched), "{url}");
        assert_eq!(g.status, Some(404));
    }
}

/// A matched host never falls through to a default: only hosts that no VirtualService
/// claims get the default route (passthrough on a sidecar), and a gateway answers 404 for
/// hosts it has no virtual host for.
#[test]
fn a_matched_host_never_falls_through_to_a_default() {
    let yaml = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /v1}}]
    route: [{destination: {host: reviews, subset: v1}}]
"#;
    let t = compile(yaml, &sidecar("default"));
    for url in [
        "http://reviews/other",
        "http://reviews.default/other",
        "http://reviews.default.svc.cluster.local:9080/other",
    ] {
        assert_eq!(get(&t, url).no_route, Some(NoRoute::NoRuleMatched), "{url}");
    }
    // A host without a VirtualService: the default route to the host itself, with Istio's
    // default retries and no timeout.
    let g = get(&t, "http://ratings:9080/x");
    assert_eq!(g.outcome, "route");
    assert!(!g.matched);
    assert_eq!(g.host, svc("ratings", "default"));
    assert_eq!(g.port, 9080);
    let r = g.rule_value.unwrap();
    assert_eq!(r.retries.attempts, 2);
    assert_eq!(r.timeout, None);
    // At a gateway, an unknown host is a 404.
    let yaml = format!(
        "{GATEWAY_ALL_HOSTS}---\n{}",
        yaml.replace(
            "hosts: [reviews]",
            "hosts: [reviews.example.com]\n  gateways: [istio-system/gw]"
        )
    );
    let t = compile(&yaml, &gateway("istio-system", "gw"));
    assert_eq!(
        get(&t, "http://ratings.example.com/").no_route,
        Some(NoRoute::NoVirtualHost)
    );
    assert_eq!(
        get(&t, "http://reviews.example.com/x").no_route,
        Some(NoRoute::NoRuleMatched)
    );
}

// ---------------------------------------------------------------------------------------
// Several VirtualServices for one host.
// ---------------------------------------------------------------------------------------

fn vs_for(name: &str, ns: &str, created: &str, hosts: &str, extra: &str, http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: {name}\n  namespace: {ns}\n  creationTimestamp: \"{created}\"\nspec:\n  hosts: {hosts}\n{extra}  http:\n{http}\n---\n"
    )
}

/// On a sidecar only one VirtualService applies to a host: the oldest by
/// `creationTimestamp`, then by name. The others are ignored for that host (not merged),
/// but still serve their other hosts.
#[test]
fn sidecar_uses_only_the_oldest_virtual_service_per_host() {
    let mut yaml = String::new();
    yaml += &vs_for(
        "a-newer",
        "default",
        "2024-01-02T00:00:00Z",
        "[reviews, ratings]",
        "",
        "  - match: [{uri: {prefix: /only-newer}}]\n    route: [{destination: {host: reviews, subset: newer}}]\n  - route: [{destination: {host: ratings}}]",
    );
    yaml += &vs_for(
        "z-older",
        "default",
        "2024-01-01T00:00:00Z",
        "[reviews]",
        "",
        "  - match: [{uri: {prefix: /v1}}]\n    route: [{destination: {host: reviews, subset: v1}}]",
    );
    let t = compile(&yaml, &sidecar("default"));
    let g = get(&t, "http://reviews/v1");
    assert_eq!(g.vs.as_deref(), Some("default/z-older"));
    // The newer VirtualService's rules for reviews are not merged in.
    assert_eq!(
        get(&t, "http://reviews/only-newer").no_route,
        Some(NoRoute::NoRuleMatched)
    );
    // Its other host is still served.
    assert_eq!(
        get(&t, "http://ratings/").vs.as_deref(),
        Some("default/a-newer")
    );

    // Same creation time: the name decides.
    let mut yaml = String::new();
    for name in ["beta", "alpha"] {
        yaml += &vs_for(
            name,
            "default",
            "2024-01-01T00:00:00Z",
            "[reviews]",
            "",
            &format!("  - route: [{{destination: {{host: reviews, subset: {name}}}}}]"),
        );
    }
    let t = compile(&yaml, &sidecar("default"));
    assert_eq!(get(&t, "http://reviews/").subset, "alpha");
}

/// On a sidecar, VirtualServices private to the proxy's namespace (`.` or the namespace
/// itself) come first, then those exported to it by name, then public ones; creation time
/// orders each group.
#[test]
fn sidecar_prefers_private_then_exported_then_public_virtual_services() {
    let route = |s: &str| {
        format!(
            "  - route: [{{destination: {{host: reviews.default.svc.cluster.local, subset: {s}}}}}]"
        )
    };
    let mut yaml = String::new();
    yaml += &vs_for(
        "public",
        "default",
        "2024-01-01T00:00:00Z",
        "[reviews.default.svc.cluster.local]",
        "  exportTo: [\"*\"]\n",
        &route("public"),
    );
    yaml += &vs_for(
        "exported",
        "other",
        "2024-01-02T00:00:00Z",
        "[reviews.default.svc.cluster.local]",
        "  exportTo: [default]\n",
        &route("exported"),
    );
    let t = compile(&yaml, &sidecar("default"));
    assert_eq!(get(&t, "http://reviews/").subset, "exported");
    yaml += &vs_for(
        "dot",
        "default",
        "2024-01-04T00:00:00Z",
        "[reviews.default.svc.cluster.local]",
        "  exportTo: [\".\"]\n",
        &route("dot"),
    );
    let t = compile(&yaml, &sidecar("default"));
    assert_eq!(get(&t, "http://reviews/").subset, "dot");
    // Exporting to one's own namespace by name is private too: the older of the two wins.
    yaml += &vs_for(
        "own-ns",
        "default",
        "2024-01-03T00:00:00Z",
        "[reviews.default.svc.cluster.local]",
        "  exportTo: [default]\n",
        &route("own-ns"),
    );
    let t = compile(&yaml, &sidecar("default"));
    assert_eq!(get(&t, "http://reviews/").subset, "own-ns");
}

/// At a gateway, VirtualServices for the same host merge: their routes are concatenated in
/// creation order, then every catch-all route moves (stably) to the end.
#[test]
fn gateway_merges_virtual_services_in_creation_order_with_catch_alls_last() {
    let mut yaml = format!("{GATEWAY_ALL_HOSTS}---\n");
    let gw = "  gateways: [istio-system/gw]\n";
    yaml += &vs_for(
        "new",
        "default",
        "2024-01-02T00:00:00Z",
        "[shop.example.com]",
        gw,
        "  - match: [{uri: {prefix: /}, headers: {x-new: {exact: \"1\"}}}]\n    route: [{destination: {host: new-header}}]\n  - match: [{uri: {prefix: /a}}]\n    route: [{destination: {host: a}}]\n  - match: [{uri: {prefix: /}}]\n    route: [{destination: {host: new-catch-all}}]",
    );
    yaml += &vs_for(
        "old",
        "default",
        "2024-01-01T00:00:00Z",
        "[shop.example.com]",
        gw,
        "  - match: [{uri: {prefix: /b}}]\n    route: [{destination: {host: b}}]\n  - route: [{destination: {host: old-catch-all}}]",
    );
    let t = compile(&yaml, &gateway("istio-system", "gw"));
    // The newer VirtualService's /a is not shadowed by the older one's catch-all.
    let g = get(&t, "http://shop.example.com/a");
    assert_eq!(
        (g.vs.as_deref(), g.host.as_str()),
        (Some("default/new"), svc("a", "default").as_str())
    );
    assert_eq!(
        get(&t, "http://shop.example.com/b").vs.as_deref(),
        Some("default/old")
    );
    // Catch-alls keep creation order among themselves: the older one answers.
    assert_eq!(
        get(&t, "http://shop.example.com/c").host,
        svc("old-catch-all", "default")
    );
    // A `prefix: /` with a header condition is not a catch-all: it keeps its place, after
    // the older VirtualService's non-catch-all routes.
    assert_eq!(
        get_h(&t, "http://shop.example.com/b", &[("x-new", "1")]).host,
        svc("b", "default")
    );
    assert_eq!(
        get_h(&t, "http://shop.example.com/a", &[("x-new", "1")]).host,
        svc("new-header", "default")
    );
    let vh = &t.virtual_hosts()[0];
    assert_eq!(vh.entries.len(), 5);
}

/// Only `prefix: /`, `regex: .*` or no uri condition (and nothing else) make a catch-all:
/// `prefix: ""` matches every path too, but Istio's `IsCatchAllRoute` does not count it, so
/// in a gateway merge it keeps its place and shadows the newer VirtualServices.
#[test]
fn empty_prefix_is_not_a_catch_all_in_gateway_merges() {
    let mut yaml = format!("{GATEWAY_ALL_HOSTS}---\n");
    let gw = "  gateways: [istio-system/gw]\n";
    yaml += &vs_for(
        "old",
        "default",
        "2024-01-01T00:00:00Z",
        "[shop.example.com]",
        gw,
        "  - match: [{uri: {prefix: \"\"}}]\n    route: [{destination: {host: old-empty-prefix}}]",
    );
    yaml += &vs_for(
        "new",
        "default",
        "2024-01-02T00:00:00Z",
        "[shop.example.com]",
        gw,
        "  - match: [{uri: {prefix: /a}}]\n    route: [{destination: {host: a}}]",
    );
    let t = compile(&yaml, &gateway("istio-system", "gw"));
    assert_eq!(
        get(&t, "http://shop.example.com/a").host,
        svc("old-empty-prefix", "default")
    );
    // With `prefix: /` the older rule moves last and /a reaches the newer VirtualService.
    let t = compile(
        &yaml.replace("prefix: \"\"", "prefix: /"),
        &gateway("istio-system", "gw"),
    );
    assert_eq!(
        get(&t, "http://shop.example.com/a").host,
        svc("a", "default")
    );
    assert_eq!(
        get(&t, "http://shop.example.com/b").host,
        svc("old-empty-prefix", "default")
    );
}

/// A catch-all rule inside a VirtualService ends it: later rules are unreachable and are
/// not emitted.
#[test]
fn rules_after_a_catch_all_are_dropped() {
    let yaml = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [shop.example.com]
  http:
  - match: [{uri: {prefix: /a}}, {uri: {regex: ".*"}}, {uri: {prefix: /never}}]
    route: [{destination: {host: first}}]
  - route: [{destination: {host: unreachable}}]
"#;
    let t = compile(yaml, &sidecar("default"));
    assert_eq!(t.virtual_hosts()[0].entries.len(), 2);
    let g = get(&t, "http://shop.example.com/never");
    assert_eq!((g.rule, g.match_index), (Some(0), Some(1)));
}

// ---------------------------------------------------------------------------------------
// Which proxies see which rules.
// ---------------------------------------------------------------------------------------

/// A VirtualService bound only to a gateway is invisible to sidecars; one without
/// `gateways` (that is, `mesh`) is invisible to gateways; listing `mesh` and a gateway
/// serves both. Gateway names resolve against the VirtualService's namespace.
#[test]
fn gateway_bindings_select_the_proxies() {
    let yaml = format!(
        "{GATEWAY_ALL_HOSTS}---\n{}{}{}{}",
        vs_for(
            "gw-only",
            "istio-system",
            "2024-01-01T00:00:00Z",
            "[gw-only.example.com]",
            "  gateways: [gw]\n",
            "  - route: [{destination: {host: a.default.svc.cluster.local}}]"
        ),
        vs_for(
            "mesh-only",
            "default",
            "2024-01-01T00:00:00Z",
            "[mesh-only.example.com]",
            "",
            "  - route: [{destination: {host: b}}]"
        ),
        vs_for(
            "both",
            "default",
            "2024-01-01T00:00:00Z",
            "[both.example.com]",
            "  gateways: [istio-system/gw, mesh]\n",
            "  - route: [{destination: {host: c}}]"
        ),
        // `gw` here means default/gw, which does not exist: bound to nothing we compile.
        vs_for(
            "wrong-ns",
            "default",
            "2024-01-01T00:00:00Z",
            "[wrong-ns.example.com]",
            "  gateways: [gw]\n",
            "  - route: [{destination: {host: d}}]"
        ),
    );
    let s = compile(&yaml, &sidecar("default"));
    let g = compile(&yaml, &gateway("istio-system", "gw"));
    // Sidecar.
    assert!(!get(&s, "http://gw-only.example.com/").matched);
    assert!(get(&s, "http://mesh-only.example.com/").matched);
    assert!(get(&s, "http://both.example.com/").matched);
    assert!(!get(&s, "http://wrong-ns.example.com/").matched);
    // Gateway.
    assert!(get(&g, "http://gw-only.example.com/").matched);
    assert_eq!(
        get(&g, "http://mesh-only.example.com/").no_route,
        Some(NoRoute::NoVirtualHost)
    );
    assert!(get(&g, "http://both.example.com/").matched);
    assert_eq!(
        get(&g, "http://wrong-ns.example.com/").no_route,
        Some(NoRoute::NoVirtualHost)
    );
}

/// Match-level `gateways` override the VirtualService's for that block; a block whose
/// gateways do not include the proxy is dropped for that proxy only.
#[test]
fn match_level_gateways_prune_blocks_per_proxy() {
    let yaml = format!(
        "{GATEWAY_ALL_HOSTS}---\n{}",
        vs_for(
            "both",
            "default",
            "2024-01-01T00:00:00Z",
            "[both.example.com]",
            "  gateways: [istio-system/gw, mesh]\n",
            "  - match: [{gateways: [istio-system/gw], uri: {prefix: /x}}]\n    route: [{destination: {host: from-gateway}}]\n  - match: [{gateways: [mesh], uri: {prefix: /x}}]\n    route: [{destination: {host: from-mesh}}]\n  - route: [{destination: {host: rest}}]"
        )
    );
    let s = compile(&yaml, &sidecar("default"));
    let g = compile(&yaml, &gateway("istio-system", "gw"));
    assert_eq!(
        get(&g, "http://both.example.com/x").host,
        svc("from-gateway", "default")
    );
    let gs = get(&s, "http://both.example.com/x");
    assert_eq!(
        (gs.rule, gs.host.as_str()),
        (Some(1), svc("from-mesh", "default").as_str())
    );
}

/// `sourceLabels` (a subset of the proxy's labels) and `sourceNamespace` prune match blocks
/// per proxy at compile time; when the block lists `gateways` they are not looked at. A rule
/// whose every block is pruned is gone for that proxy, and traffic falls to the next rule.
#[test]
fn source_labels_and_namespace_prune_blocks_per_proxy() {
    let yaml = vs_for(
        "sel",
        "default",
        "2024-01-01T00:00:00Z",
        "[sel.example.com]",
        "",
        "  - match: [{sourceLabels: {app: web}, uri: {prefix: /x}}]\n    route: [{destination: {host: web}}]\n  - match: [{sourceNamespace: prod, uri: {prefix: /x}}]\n    route: [{destination: {host: prod}}]\n  - match: [{gateways: [mesh], sourceLabels: {app: nope}, sourceNamespace: nope, uri: {prefix: /y}}]\n    route: [{destination: {host: gateways-win}}]\n  - route: [{destination: {host: other}}]",
    );
    let host_for = |id: Identity, url: &str| get(&compile(&yaml, &id), url).host;
    assert_eq!(
        host_for(
            sidecar_labels("default", &[("app", "web"), ("version", "v1")]),
            "http://sel.example.com/x"
        ),
        svc("web", "default")
    );
    assert_eq!(
        host_for(
            sidecar_labels("default", &[("app", "api")]),
            "http://sel.example.com/x"
        ),
        svc("other", "default")
    );
    assert_eq!(
        host_for(
            sidecar_labels("prod", &[("app", "api")]),
            "http://sel.example.com/x"
        ),
        svc("prod", "default")
    );
    assert_eq!(
        host_for(sidecar("default"), "http://sel.example.com/y"),
        svc("gateways-win", "default")
    );
    // The pruned blocks are not in the table at all.
    let t = compile(&yaml, &sidecar("elsewhere"));
    assert_eq!(t.virtual_hosts()[0].entries.len(), 2);
}

/// VirtualService `exportTo`: `.` is the own namespace only, `*` (and the default) every
/// namespace, a list exactly those namespaces (not even the own one unless listed). A
/// gateway sees what is exported to its namespace.
#[test]
fn virtual_service_export_to_controls_visibility() {
    let r = "  - route: [{destination: {host: x}}]";
    let mut yaml = format!("{GATEWAY_ALL_HOSTS}---\n");
    let gw = "  gateways: [mesh, istio-system/gw]\n";
    yaml += &vs_for(
        "private",
        "a",
        "2024-01-01T00:00:00Z",
        "[private.example.com]",
        &format!("{gw}  exportTo: [\".\"]\n"),
        r,
    );
    yaml += &vs_for(
        "public",
        "a",
        "2024-01-01T00:00:00Z",
        "[public.example.com]",
        &format!("{gw}  exportTo: [\"*\"]\n"),
        r,
    );
    yaml += &vs_for(
        "listed",
        "a",
        "2024-01-01T00:00:00Z",
        "[listed.example.com]",
        &format!("{gw}  exportTo: [b, istio-system]\n"),
        r,
    );
    yaml += &vs_for(
        "default",
        "a",
        "2024-01-01T00:00:00Z",
        "[default.example.com]",
        gw,
        r,
    );
    let sees = |id: Identity| {
        let t = compile(&yaml, &id);
        ["private", "public", "listed", "default"]
            .into_iter()
            .filter(|h| get(&t, &format!("http://{h}.example.com/")).matched)
            .collect::<Vec<_>>()
    };
    assert_eq!(sees(sidecar("a")), ["private", "public", "default"]);
    assert_eq!(sees(sidecar("b")), ["public", "listed", "default"]);
    assert_eq!(sees(sidecar("c")), ["public", "default"]);
    assert_eq!(
        sees(gateway("istio-system", "gw")),
        ["public", "listed", "default"]
    );
}

fn reviews_dr(ns: &str, name: &str, export: &str, version: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  host: reviews.a.svc.cluster.local\n{export}  subsets:\n  - name: v1\n    labels: {{version: {version}}}\n---\n"
    )
}

const REVIEWS_V1_FROM_ANYWHERE: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: a}
spec:
  hosts: [reviews.a.svc.cluster.local]
  http:
  - route: [{destination: {host: reviews.a.svc.cluster.local, subset: v1}}]
"#;

/// DestinationRule `exportTo` works like the VirtualService's: a subset defined by a rule
/// the proxy cannot see is undefined for it (Envoy then answers 503, no cluster).
#[test]
fn destination_rule_export_to_controls_visibility() {
    let labels =
        |yaml: &str, ns: &str| get(&compile(yaml, &sidecar(ns)), "http://reviews.a/").subset_labels;
    let v1 = Some(BTreeMap::from([("version".to_owned(), "v1".to_owned())]));
    let yaml = format!(
        "{}{REVIEWS_V1_FROM_ANYWHERE}",
        reviews_dr("a", "dr", "  exportTo: [\".\"]\n", "v1")
    );
    assert_eq!(labels(&yaml, "a"), v1);
    assert_eq!(labels(&yaml, "b"), None);
    let yaml = format!(
        "{}{REVIEWS_V1_FROM_ANYWHERE}",
        reviews_dr("a", "dr", "  exportTo: [b]\n", "v1")
    );
    assert_eq!(labels(&yaml, "b"), v1);
    assert_eq!(labels(&yaml, "c"), None);
    let yaml = format!(
        "{}{REVIEWS_V1_FROM_ANYWHERE}",
        reviews_dr("a", "dr", "  exportTo: [\"*\"]\n", "v1")
    );
    assert_eq!(labels(&yaml, "c"), v1);
}

/// The DestinationRule used for a host is looked up in the client's namespace, then the
/// service's, then the root namespace (`istio-system`).
#[test]
fn destination_rule_lookup_prefers_client_then_service_then_root_namespace() {
    let version = |yaml: &str| {
        get(&compile(yaml, &sidecar("b")), "http://reviews.a/")
            .subset_labels
            .unwrap()["version"]
            .clone()
    };
    let mut yaml = format!("{REVIEWS_V1_FROM_ANYWHERE}---\n");
    yaml += &reviews_dr("istio-system", "root", "", "root");
    assert_eq!(version(&yaml), "root");
    yaml += &reviews_dr("a", "service", "", "service");
    assert_eq!(version(&yaml), "service");
    yaml += &reviews_dr("b", "client", "", "client");
    assert_eq!(version(&yaml), "client");
}

/// DestinationRules are searched namespace by namespace (the client's, the service's, the
/// root's) and only then by host specificity: a wildcard rule in the client's namespace beats
/// an exact one in the service's. A rule in any other namespace never applies, even when
/// exported everywhere. The service namespace of a ServiceEntry host is the entry's.
#[test]
fn destination_rule_lookup_is_by_namespace_before_host_specificity() {
    let dr = |ns: &str, host: &str, version: &str| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: dr-{version}, namespace: {ns}}}\nspec:\n  host: \"{host}\"\n  subsets:\n  - name: v1\n    labels: {{version: {version}}}\n---\n"
        )
    };
    let version = |yaml: &str, url: &str| {
        get(&compile(yaml, &sidecar("b")), url)
            .subset_labels
            .map(|l| l["version"].clone())
    };
    let mut yaml = format!("{REVIEWS_V1_FROM_ANYWHERE}---\n");
    yaml += &dr("c", "reviews.a.svc.cluster.local", "unrelated-namespace");
    assert_eq!(version(&yaml, "http://reviews.a/"), None);
    yaml += &dr("a", "reviews.a.svc.cluster.local", "service-exact");
    assert_eq!(
        version(&yaml, "http://reviews.a/").as_deref(),
        Some("service-exact")
    );
    yaml += &dr("b", "*.a.svc.cluster.local", "client-wildcard");
    assert_eq!(
        version(&yaml, "http://reviews.a/").as_deref(),
        Some("client-wildcard")
    );
    yaml += &dr("b", "*.svc.cluster.local", "client-shorter-wildcard");
    assert_eq!(
        version(&yaml, "http://reviews.a/").as_deref(),
        Some("client-wildcard")
    );
    // A ServiceEntry host: its namespace is the service namespace.
    let se = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: ext}
spec:
  hosts: [api.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: b}
spec:
  hosts: [api.example.com]
  http:
  - route: [{destination: {host: api.example.com, subset: v1}}]
---
"#;
    let yaml = format!("{se}{}", dr("ext", "api.example.com", "entry-namespace"));
    assert_eq!(
        version(&yaml, "http://api.example.com/").as_deref(),
        Some("entry-namespace")
    );
}

// ---------------------------------------------------------------------------------------
// Hosts.
// ---------------------------------------------------------------------------------------

/// Short names (no dot) resolve against the VirtualService's namespace, not the service's:
/// in namespace `frontend`, `reviews` is `reviews.frontend.svc.cluster.local` even when the
/// VirtualService is for `reviews.backend`; a name with a dot is taken literally. A sidecar
/// reaches a service by its short name only from the same namespace.
#[test]
fn short_names_resolve_against_the_virtual_service_namespace() {
    let yaml = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: frontend}
spec:
  hosts: [reviews.backend.svc.cluster.local, ratings]
  http:
  - match: [{uri: {prefix: /short}}]
    route: [{destination: {host: reviews}}]
    mirror: {host: shadow}
  - match: [{uri: {prefix: /dotted}}]
    route: [{destination: {host: reviews.backend}}]
  - route: [{destination: {host: ratings}}]
"#;
    let t = compile(yaml, &sidecar("frontend"));
    let g = get(&t, "http://reviews.backend/short");
    assert_eq!(g.host, svc("reviews", "frontend"));
    assert_eq!(
        g.rule_value.unwrap().mirrors[0].destination.host,
        svc("shadow", "frontend")
    );
    assert_eq!(
        get(&t, "http://reviews.backend.svc.cluster.local/dotted").host,
        "reviews.backend"
    );
    // The short VirtualService host is ratings.frontend.svc.cluster.local.
    for url in [
        "http://ratings/",
        "http://ratings.frontend/",
        "http://ratings.frontend.svc/",
        "http://ratings.frontend.svc.cluster.local/",
    ] {
        assert_eq!(
            get(&t, url).vs.as_deref(),
            Some("frontend/reviews"),
            "{url}"
        );
    }
    // From another namespace, `ratings` names another service.
    let t = compile(yaml, &sidecar("other"));
    assert!(!get(&t, "http://ratings/").matched);
    assert!(get(&t, "http://ratings.frontend/").matched);
    // `reviews` from backend's own namespace is the backend service's short name.
    let t = compile(yaml, &sidecar("backend"));
    assert!(get(&t, "http://reviews/short").matched);
}

/// Wildcard hosts: an exact host beats any wildcard, a longer wildcard suffix beats a
/// shorter one, and `*.foo.com` does not match `foo.com`.
#[test]
fn wildcard_hosts_most_specific_wins() {
    let mut yaml = String::new();
    for (name, host) in [
        ("wild", "\"*.example.com\""),
        ("wild-api", "\"*.api.example.com\""),
        ("exact", "exact.api.example.com"),
    ] {
        yaml += &vs_for(
            name,
            "default",
            "2024-01-01T00:00:00Z",
            &format!("[{host}]"),
            "",
            "  - route: [{destination: {host: x}}]",
        );
    }
    let t = compile(&yaml, &sidecar("default"));
    let vs = |url: &str| get(&t, url).vs;
    assert_eq!(vs("http://a.example.com/").as_deref(), Some("default/wild"));
    assert_eq!(
        vs("http://x.y.example.com/").as_deref(),
        Some("default/wild")
    );
    assert_eq!(
        vs("http://x.api.example.com/").as_deref(),
        Some("default/wild-api")
    );
    assert_eq!(
        vs("http://exact.api.example.com/").as_deref(),
        Some("default/exact")
    );
    assert_eq!(
        vs("http://api.example.com/").as_deref(),
        Some("default/wild")
    );
    assert_eq!(vs("http://example.com/"), None);
    assert_eq!(vs("http://notexample.com/"), None);
    // At a gateway, `*` catches what nothing more specific claims.
    let mut yaml = format!("{GATEWAY_ALL_HOSTS}---\n");
    for (name, host) in [("star", "\"*\""), ("wild", "\"*.example.com\"")] {
        yaml += &vs_for(
            name,
            "default",
            "2024-01-01T00:00:00Z",
            &format!("[{host}]"),
            "  gateways: [istio-system/gw]\n",
            "  - route: [{destination: {host: x}}]",
        );
    }
    let t = compile(&yaml, &gateway("istio-system", "gw"));
    assert_eq!(
        get(&t, "http://a.example.com/").vs.as_deref(),
        Some("default/wild")
    );
    assert_eq!(
        get(&t, "http://example.com/").vs.as_deref(),
        Some("default/star")
    );
    assert_eq!(
        get(&t, "http://other.org/").vs.as_deref(),
        Some("default/star")
    );
}

/// The virtual host is chosen by the request host case-insensitively and ignoring the port;
/// a trailing dot is not stripped. The `authority` match, however, sees the raw value: case
/// and port included.
#[test]
fn host_selection_ignores_case_and_port_but_authority_match_is_raw() {
    let yaml = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: sem, namespace: default}
spec:
  hosts: [Sem.Local]
  http:
  - match: [{authority: {exact: sem.local}}]
    route: [{destination: {host: exact-authority}}]
  - route: [{destination: {host: rest}}]
"#;
    let t = compile(yaml, &sidecar("default"));
    assert_eq!(
        get(&t, "http://sem.local/").host,
        svc("exact-authority", "default")
    );
    for url in [
        "http://SEM.LOCAL/",
        "http://sem.local:12345/",
        "http://sem.local:80/",
    ] {
        let g = get(&t, url);
        assert_eq!(g.vs.as_deref(), Some("default/sem"), "{url}");
        assert_eq!(
            g.host,
            svc("rest", "default"),
            "{url}: authority match is raw"
        );
    }
    assert!(!get(&t, "http://sem.local./").matched);
}

// ---------------------------------------------------------------------------------------
// Gateways.
// ---------------------------------------------------------------------------------------

/// Gateway server hosts are `[namespace/]host`: `ns/host` admits VirtualServices of that
/// namespace only, `./host` those of the Gateway's namespace, `*/host` (or a bare host) any;
/// a server wildcard admits the more specific VirtualService hosts under it, not the bare
/// domain; a VirtualService wildcard narrows to the server's host.
#[test]
fn gateway_server_hosts_filter_by_namespace_and_host() {
    let gw = r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [team-a/a.example.com, ./infra.example.com, "*/any.example.com", "*.wild.com", narrow.example.org]
  - port: {number: 8080, name: http-alt, protocol: HTTP}
    hosts: [alt.example.com]
---
"#;
    let b = "  gateways: [istio-system/gw]\n";
    let r = |d: &str| {
        format!(
            "  - match: [{{uri: {{prefix: /{d}}}}}]\n    route: [{{destination: {{host: {d}}}}}]\n  - route: [{{destination: {{host: {d}-all}}}}]"
        )
    };
    let mut yaml = gw.to_owned();
    yaml += &vs_for(
        "a",
        "team-a",
        "2024-01-02T00:00:00Z",
        "[a.example.com]",
        b,
        &r("a"),
    );
    yaml += &vs_for(
        "b",
        "team-b",
        "2024-01-01T00:00:00Z",
        "[a.example.com, infra.example.com]",
        b,
        &r("b"),
    );
    yaml += &vs_for(
        "infra",
        "istio-system",
        "2024-01-01T00:00:00Z",
        "[infra.example.com]",
        b,
        &r("infra"),
    );
    yaml += &vs_for(
        "any",
        "team-c",
        "2024-01-01T00:00:00Z",
        "[any.example.com, wild.com, x.wild.com, \"*.example.org\", alt.example.com]",
        b,
        &r("any"),
    );
    let t = compile(&yaml, &gateway("istio-system", "gw"));
    // team-b's older VirtualService for a.example.com is filtered out, not merged.
    let g = get(&t, "http://a.example.com/b");
    assert_eq!(g.vs.as_deref(), Some("team-a/a"));
    assert_eq!(g.host, svc("a-all", "team-a"));
    let g = get(&t, "http://infra.example.com/b");
    assert_eq!(g.vs.as_deref(), Some("istio-system/infra"));
    assert_eq!(
        get(&t, "http://any.example.com/").vs.as_deref(),
        Some("team-c/any")
    );
    assert_eq!(
        get(&t, "http://x.wild.com/").vs.as_deref(),
        Some("team-c/any")
    );
    assert_eq!(
        get(&t, "http://wild.com/").no_route,
        Some(NoRoute::NoVirtualHost)
    );
    // `*.example.org` at the VirtualService narrows to the server's narrow.example.org.
    assert_eq!(
        get(&t, "http://narrow.example.org/").vs.as_deref(),
        Some("team-c/any")
    );
    assert_eq!(
        get(&t, "http://other.example.org/").no_route,
        Some(NoRoute::NoVirtualHost)
    );
    // Servers are per port.
    assert_eq!(
        get(&t, "http://alt.example.com:8080/").vs.as_deref(),
        Some("team-c/any")
    );
    assert_eq!(
        get(&t, "http://alt.example.com/").no_route,
        Some(NoRoute::NoVirtualHost)
    );
    assert_eq!(
        get(&t, "http://any.example.com:8080/").no_route,
        Some(NoRoute::NoVirtualHost)
    );
}

/// A server with `tls.httpsRedirect` answers plain HTTP with a 301 to `https://`, keeping
/// the Host exactly as sent (Envoy's `require_tls`), and HTTPS requests are routed.
#[test]
fn https_redirect_is_a_301_to_https() {
    let yaml = r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [shop.example.com]
    tls: {httpsRedirect: true}
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [shop.example.com]
    tls: {mode: SIMPLE, credentialName: shop-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/gw]
  http:
  - route: [{destination: {host: shop}}]
"#;
    let t = compile(yaml, &gateway("istio-system", "gw"));
    let g = get(&t, "http://shop.example.com/cart?id=1");
    assert_eq!(g.outcome, "redirect");
    assert_eq!(g.status, Some(301));
    assert_eq!(
        g.location.as_deref(),
        Some("https://shop.example.com/cart?id=1")
    );
    // Observed on Envoy 1.40: the Host is kept as sent, port and case included.
    assert_eq!(
        get(&t, "http://shop.example.com:80/x").location.as_deref(),
        Some("https://shop.example.com:80/x")
    );
    assert_eq!(
        get(&t, "http://Shop.example.com:80/x").location.as_deref(),
        Some("https://Shop.example.com:80/x")
    );
    let g = get(&t, "https://shop.example.com/cart");
    assert_eq!(
        (g.outcome, g.host.as_str()),
        ("route", svc("shop", "default").as_str())
    );
}

// ---------------------------------------------------------------------------------------
// Delegation.
// ---------------------------------------------------------------------------------------

const DELEGATION: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: default}
spec:
  hosts: [shop.example.com]
  http:
  - name: products
    match: [{uri: {prefix: /products}}]
    delegate: {name: products, namespace: shop}
    timeout: 5s
    retries: {attempts: 4}
    headers:
      request:
        set: {x-root: "1"}
    mirror: {host: shadow}
    fault: {abort: {httpStatus: 503, percentage: {value: 1}}}
  - name: reviews
    match: [{uri: {prefix: /reviews}}]
    delegate: {name: reviews}
  - name: missing
    match: [{uri: {prefix: /missing}}]
    delegate: {name: nope}
  - name: hidden
    match: [{uri: {prefix: /hidden}}]
    delegate: {name: hidden, namespace: shop}
  - route: [{destination: {host: fallback}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: products, namespace: shop}
spec:
  http:
  - name: v2
    match: [{uri: {prefix: /products/v2}, headers: {x-v2: {exact: "1"}}}]
    route: [{destination: {host: products, subset: v2}}]
    timeout: 1s
    fault: {delay: {fixedDelay: 1s, percentage: {value: 100}}}
  - name: conflict
    match: [{uri: {prefix: /reviews}}]
    route: [{destination: {host: wrong}}]
  - name: beta
    match: [{headers: {x-beta: {exact: "1"}}}]
    route: [{destination: {host: products, subset: beta}}]
  - name: rest
    route: [{destination: {host: products}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  http:
  - route: [{destination: {host: reviews}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: hidden, namespace: shop}
spec:
  exportTo: ["."]
  http:
  - route: [{destination: {host: hidden}}]
"#;

/// A delegating route is replaced by the delegate's routes, each match merged with the
/// root's (delegate fields win, maps unioned); short names resolve in the delegate's
/// namespace; the rule reports the delegate VirtualService and `root-leaf` as its name.
#[test]
fn delegate_routes_merge_under_the_root_match() {
    let t = compile(DELEGATION, &sidecar("default"));
    let g = get_h(
        &t,
        "http://shop.example.com/products/v2/1",
        &[("x-v2", "1")],
    );
    assert_eq!(g.vs.as_deref(), Some("shop/products"));
    assert_eq!(
        (g.host.as_str(), g.subset.as_str()),
        (svc("products", "shop").as_str(), "v2")
    );
    assert_eq!(g.rule_value.as_ref().unwrap().name, "products-v2");
    // The rule says where it is in the delegate (its index there) and in the root.
    assert_eq!(g.rule_value.as_ref().unwrap().delegate_index, Some(0));
    assert_eq!(g.rule_value.as_ref().unwrap().index, 0);
    let beta = get_h(&t, "http://shop.example.com/products/x", &[("x-beta", "1")]);
    assert_eq!(beta.rule_value.as_ref().unwrap().delegate_index, Some(2));
    // A delegate match without a uri keeps the root's: x-beta alone outside /products does
    // not match it.
    assert_eq!(
        get_h(&t, "http://shop.example.com/products/x", &[("x-beta", "1")]).subset,
        "beta"
    );
    assert_eq!(
        get_h(&t, "http://shop.example.com/other", &[("x-beta", "1")]).host,
        svc("fallback", "default")
    );
    // A delegate route without match takes the root's match.
    assert_eq!(
        get(&t, "http://shop.example.com/products/v2/1").host,
        svc("products", "shop")
    );
    // `delegate.namespace` defaults to the root's.
    assert_eq!(
        get(&t, "http://shop.example.com/reviews/1").host,
        svc("reviews", "default")
    );
}

/// A delegate route whose match conflicts with the root's (here `/reviews` under
/// `/products`) does not take effect; a missing delegate, or one not exported to the root's
/// namespace, makes the root route disappear (traffic falls to the next rule). Each case is
/// reported as a warning.
#[test]
fn delegate_conflicts_and_missing_delegates_drop_routes() {
    let t = compile(DELEGATION, &sidecar("default"));
    // /products/reviews matches none of the merged delegate matches except `rest`.
    assert_eq!(
        get(&t, "http://shop.example.com/products/reviews").host,
        svc("products", "shop")
    );
    // Had the conflicting delegate rule been kept with its own uri, `/reviews` would go to
    // `wrong` under the root's first rule; it goes to the root's `reviews` delegate instead.
    let g = get(&t, "http://shop.example.com/reviews");
    assert_eq!(g.host, svc("reviews", "default"));
    assert_eq!(g.vs.as_deref(), Some("default/reviews"));
    assert_eq!(
        get(&t, "http://shop.example.com/missing").host,
        svc("fallback", "default")
    );
    assert_eq!(
        get(&t, "http://shop.example.com/hidden").host,
        svc("fallback", "default")
    );
    let warnings: Vec<String> = t.warnings().iter().map(ToString::to_string).collect();
    assert!(
        warnings.iter().any(|w| w.contains("conflict")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("shop/hidden")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("default/nope")),
        "{warnings:?}"
    );
}

/// A delegate route inherits the root route's timeout, retries, headers, fault and mirrors
/// (and rewrite, CORS) only when it leaves them unset: whole fields, no deep merge. Short
/// names in inherited fields keep the root's namespace.
#[test]
fn delegate_routes_inherit_unset_fields_from_the_root() {
    let t = compile(DELEGATION, &sidecar("default"));
    let own = rule_h(&t, "http://shop.example.com/products/v2", &[("x-v2", "1")]);
    assert_eq!(own.timeout, Some(std::time::Duration::from_secs(1)));
    assert_eq!(own.retries.attempts, 4);
    let inherited = rule(&t, "http://shop.example.com/products/x");
    assert_eq!(inherited.timeout, Some(std::time::Duration::from_secs(5)));
    assert_eq!(inherited.retries.attempts, 4);
    assert_eq!(inherited.headers.request.set.len(), 1);
    assert_eq!(inherited.fault.abort.unwrap().kind, AbortKind::Http(503));
    // Whole fields: the delegate's own fault replaces the root's, it is not merged into it.
    assert!(own.fault.abort.is_none() && own.fault.delay.is_some());
    // Istio resolves short names in each VirtualService before merging, so an inherited
    // mirror names the root's namespace, while the delegate's own destinations name its.
    assert_eq!(
        inherited.mirrors[0].destination.host,
        svc("shadow", "default")
    );
    assert_eq!(own.mirrors[0].destination.host, svc("shadow", "default"));
    // The other root route had no retries: Istio's default.
    assert_eq!(
        rule(&t, "http://shop.example.com/reviews").retries.attempts,
        2
    );
}

fn rule_h(t: &RouteTable, url: &str, h: &[(&str, &str)]) -> Rule {
    get_h(t, url, h).rule_value.expect("a rule applies")
}

// ---------------------------------------------------------------------------------------
// Rewrite, redirect, direct response.
// ---------------------------------------------------------------------------------------

const REWRITES: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: rw, namespace: default}
spec:
  hosts: [rw.example.com]
  http:
  - match: [{uri: {prefix: /rws}}]
    rewrite: {uri: /}
    route: [{destination: {host: a}}]
  - match: [{uri: {exact: /exact}}]
    rewrite: {uri: /new}
    route: [{destination: {host: a}}]
  - match: [{uri: {regex: "/re/[0-9]+"}}]
    rewrite: {uri: /num}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /service}}]
    rewrite:
      uriRegexRewrite: {match: "^/service/([^/]+)(/.*)$", rewrite: "\\2/instance/\\1"}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /all}}]
    rewrite:
      uriRegexRewrite: {match: "a", rewrite: "o"}
    route: [{destination: {host: a}}]
  - match: [{headers: {x-bar: {exact: "1"}}}]
    rewrite: {uri: /bar}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /ICASE}, ignoreUriCase: true}]
    rewrite: {uri: /lower}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /auth}}]
    rewrite: {authority: new.example.com}
    route: [{destination: {host: a}}]
  - rewrite: {uri: /root}
    route: [{destination: {host: a}}]
"#;

/// `rewrite.uri` replaces only the matched prefix (so `/` after `/rws` gives `//x`); with
/// exact and regex matches it replaces the whole path; the query is always kept.
#[test]
fn rewrite_uri_replaces_the_matched_prefix_or_the_whole_path() {
    let t = compile(REWRITES, &sidecar("default"));
    let path = |url: &str| get(&t, url).path;
    assert_eq!(path("http://rw.example.com/rws/x"), "//x");
    assert_eq!(path("http://rw.example.com/rwsfoo?q=1"), "/foo?q=1");
    assert_eq!(path("http://rw.example.com/exact?q=1"), "/new?q=1");
    assert_eq!(path("http://rw.example.com/re/42?z"), "/num?z");
    // ignoreUriCase: the matched prefix is replaced whatever its case; the rest keeps its.
    assert_eq!(path("http://rw.example.com/icase/Path"), "/lower/Path");
}

/// A rule without a uri condition matches as `prefix: /`, so `rewrite.uri: /bar` turns
/// `/x` into `/barx` (SPEC quirk, observed on Envoy).
#[test]
fn rewrite_uri_without_uri_match_replaces_the_leading_slash() {
    let t = compile(REWRITES, &sidecar("default"));
    assert_eq!(
        get_h(&t, "http://rw.example.com/x?y=1", &[("x-bar", "1")]).path,
        "/barx?y=1"
    );
    assert_eq!(
        get(&t, "http://rw.example.com/anything").path,
        "/rootanything"
    );
}

/// `uriRegexRewrite` replaces every match in the path (not the query), with `\1`-style
/// capture references.
#[test]
fn uri_regex_rewrite_substitutes_every_match_with_captures() {
    let t = compile(REWRITES, &sidecar("default"));
    // Envoy's documented example.
    assert_eq!(
        get(&t, "http://rw.example.com/service/foo/v1/api?x=1").path,
        "/v1/api/instance/foo?x=1"
    );
    assert_eq!(
        get(&t, "http://rw.example.com/all/banana?a=a").path,
        "/oll/bonono?a=a"
    );
}

/// `rewrite.authority` sets the upstream Host; without it the request's is kept.
#[test]
fn rewrite_authority_sets_the_upstream_host() {
    let t = compile(REWRITES, &sidecar("default"));
    assert_eq!(
        get(&t, "http://rw.example.com:8080/auth").authority,
        "new.example.com"
    );
    assert_eq!(
        get(&t, "http://rw.example.com:8080/rws").authority,
        "rw.example.com:8080"
    );
}

/// The upstream authority: `rewrite.authority`, else a route-level `host` header operation,
/// else the chosen destination's; route level wins over the destination for a single
/// destination and for a weighted split alike (Istio only sets the destination's when the
/// route has none; Envoy applies a weighted cluster's host rewrite before the route's,
/// observed on Envoy 1.40).
#[test]
fn upstream_authority_prefers_the_route_level_over_the_destination() {
    let yaml = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: auth, namespace: default}
spec:
  hosts: [auth.example.com]
  http:
  - match: [{uri: {prefix: /single}}]
    headers: {request: {set: {host: route.example}}}
    route:
    - destination: {host: a}
      headers: {request: {set: {host: destination.example}}}
  - match: [{uri: {prefix: /weighted}}]
    headers: {request: {set: {host: route.example}}}
    route:
    - destination: {host: a}
      weight: 50
      headers: {request: {set: {host: destination.example}}}
    - destination: {host: b}
      weight: 50
      headers: {request: {set: {host: destination.example}}}
  - match: [{uri: {prefix: /rewrite}}]
    rewrite: {authority: rewrite.example}
    route:
    - destination: {host: a}
      headers: {request: {set: {host: destination.example}}}
  - match: [{uri: {prefix: /destination}}]
    route:
    - destination: {host: a}
      headers: {request: {add: {":authority": destination.example}}}
  - route: [{destination: {host: a}}]
"#;
    let t = compile(yaml, &sidecar("default"));
    let a = |url: &str| get(&t, url).authority;
    assert_eq!(a("http://auth.example.com/single"), "route.example");
    assert_eq!(a("http://auth.example.com/weighted"), "route.example");
    assert_eq!(a("http://auth.example.com/rewrite"), "rewrite.example");
    assert_eq!(
        a("http://auth.example.com/destination"),
        "destination.example"
    );
    assert_eq!(
        a("http://Auth.example.com:8080/other"),
        "Auth.example.com:8080"
    );
}

/// Mirrors only apply to forwarding rules: a redirect or a direct response with a `mirror`
/// (which validation allows) mirrors nothing.
#[test]
fn mirrors_are_ignored_on_redirect_and_direct_response() {
    let yaml = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: m, namespace: default}
spec:
  hosts: [m.example.com]
  http:
  - match: [{uri: {prefix: /redirect}}]
    redirect: {uri: /x}
    mirror: {host: shadow}
  - directResponse: {status: 200}
    mirrors: [{destination: {host: shadow}}]
"#;
    let t = compile(yaml, &sidecar("default"));
    assert!(rule(&t, "http://m.example.com/redirect").mirrors.is_empty());
    assert!(rule(&t, "http://m.example.com/other").mirrors.is_empty());
}

const REDIRECTS: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: redirects, namespace: default}
spec:
  hosts: [redirect.example.com]
  http:
  - match: [{uri: {exact: /r-uri}}]
    redirect: {uri: /new}
  - match: [{uri: {prefix: /r-query}}]
    redirect: {uri: "/new?a=1"}
  - match: [{uri: {prefix: /r-auth}}]
    redirect: {authority: other.example.com, redirectCode: 302}
  - match: [{uri: {prefix: /r-https}}]
    redirect: {scheme: https, redirectCode: 308}
  - match: [{uri: {prefix: /r-port}}]
    redirect: {port: 9000, redirectCode: 307}
  - match: [{uri: {prefix: /r-derive}}]
    redirect: {derivePort: FROM_REQUEST_PORT, scheme: https, redirectCode: 303}
  - match: [{uri: {prefix: /r-p80}}]
    redirect: {port: 80}
  - match: [{uri: {prefix: /r-https443}}]
    redirect: {scheme: https, port: 443}
  - match: [{uri: {prefix: /pfx/}}]
    redirect: {prefixRewrite: /new/}
  - match: [{uri: {prefix: /foo}}]
    redirect: {prefixRewrite: /}
"#;

/// Redirect `uri` replaces the whole path and keeps the request's query, unless the value
/// has its own; `authority` replaces the host (and its port); the default code is 301 and
/// 302, 303, 307, 308 are kept.
#[test]
fn redirect_location_uri_authority_and_codes() {
    let t = compile(REDIRECTS, &sidecar("default"));
    let r = |url: &str| {
        let g = get(&t, url);
        assert_eq!(g.outcome, "redirect", "{url}");
        (g.status.unwrap(), g.location.unwrap())
    };
    assert_eq!(
        r("http://redirect.example.com/r-uri?q=1"),
        (301, "http://redirect.example.com/new?q=1".into())
    );
    assert_eq!(
        r("http://redirect.example.com/r-query/x?q=1"),
        (301, "http://redirect.example.com/new?a=1".into())
    );
    assert_eq!(
        r("http://redirect.example.com:8080/r-auth/x?q=1"),
        (302, "http://other.example.com/r-auth/x?q=1".into())
    );
    assert_eq!(r("http://redirect.example.com/r-https").0, 308);
    assert_eq!(r("http://redirect.example.com:8080/r-port").0, 307);
    assert_eq!(r("http://redirect.example.com:8080/r-derive").0, 303);
}

/// Ports in the Location, as Istio translates them and Envoy builds it (observed on Envoy
/// 1.40): a scheme change drops the old scheme's default port of the Host, any other port is
/// kept; `port` replaces the Host's port; Istio omits `port: 80` with http and `port: 443`
/// with https from the config, so Envoy then keeps the Host's own port; `derivePort:
/// FROM_REQUEST_PORT` is the request's port, omitted only when it is the default of the
/// redirect's scheme.
#[test]
fn redirect_location_ports() {
    let t = compile(REDIRECTS, &sidecar("default"));
    let loc = |url: &str| get(&t, url).location.unwrap();
    assert_eq!(
        loc("http://redirect.example.com/r-https"),
        "https://redirect.example.com/r-https"
    );
    assert_eq!(
        loc("http://redirect.example.com:80/r-https"),
        "https://redirect.example.com/r-https"
    );
    assert_eq!(
        loc("http://redirect.example.com:8080/r-https"),
        "https://redirect.example.com:8080/r-https"
    );
    assert_eq!(
        loc("http://redirect.example.com:8080/r-port"),
        "http://redirect.example.com:9000/r-port"
    );
    assert_eq!(
        loc("http://redirect.example.com/r-port"),
        "http://redirect.example.com:9000/r-port"
    );
    assert_eq!(
        loc("http://redirect.example.com:8080/r-derive"),
        "https://redirect.example.com:8080/r-derive"
    );
    // Request port 80 with scheme https is not a default: it stays.
    assert_eq!(
        loc("http://redirect.example.com/r-derive"),
        "https://redirect.example.com:80/r-derive"
    );
    // `port: 80` is dropped by Istio, so the Host's port survives.
    assert_eq!(
        loc("http://redirect.example.com:8080/r-p80"),
        "http://redirect.example.com:8080/r-p80"
    );
    assert_eq!(
        loc("http://redirect.example.com/r-p80"),
        "http://redirect.example.com/r-p80"
    );
    assert_eq!(
        loc("http://redirect.example.com:8080/r-https443"),
        "https://redirect.example.com:8080/r-https443"
    );
    assert_eq!(
        loc("http://redirect.example.com:80/r-https443"),
        "https://redirect.example.com/r-https443"
    );
}

/// `prefixRewrite` replaces the matched prefix and keeps the rest and the query; with `/`
/// after a `/foo` match it gives `//baz` (SPEC 1.7).
#[test]
fn redirect_prefix_rewrite_replaces_the_matched_prefix() {
    let t = compile(REDIRECTS, &sidecar("default"));
    assert_eq!(
        get(&t, "http://redirect.example.com/pfx/a/b?q=1")
            .location
            .as_deref(),
        Some("http://redirect.example.com/new/a/b?q=1")
    );
    assert_eq!(
        get(&t, "http://redirect.example.com/foo/baz")
            .location
            .as_deref(),
        Some("http://redirect.example.com//baz")
    );
}

/// A redirect code Istio cannot translate (any 3xx other than 301, 302, 303, 307, 308)
/// passes validation but is refused at compile time: istiod would emit a route without an
/// action.
#[test]
fn unsupported_redirect_code_is_refused_at_compile() {
    let yaml = REDIRECTS.replace("redirectCode: 302", "redirectCode: 305");
    let err = compile_error(&yaml, &sidecar("default"));
    assert!(
        err.contains("Redirect Code 305 is not yet supported"),
        "{err}"
    );
    let yaml = REDIRECTS.replace("redirectCode: 302", "redirectCode: 404");
    let err = compile_error(&yaml, &sidecar("default"));
    assert!(
        err.contains("404 is not a valid redirect code, must be 3xx"),
        "{err}"
    );
}

/// `directResponse` answers with its status and body: a string, base64 `bytes`, or nothing;
/// status 600 is accepted (Istio's check is `status > 600`), 601 is not.
#[test]
fn direct_response_status_and_body() {
    let yaml = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: direct, namespace: default}
spec:
  hosts: [direct.example.com]
  http:
  - match: [{uri: {prefix: /down}}]
    directResponse: {status: 503, body: {string: "down for maintenance"}}
  - match: [{uri: {prefix: /bytes}}]
    directResponse: {status: 200, body: {bytes: "aGVsbG8="}}
  - match: [{uri: {prefix: /quirk}}]
    directResponse: {status: 600}
  - directResponse: {status: 204}
"#;
    let t = compile(yaml, &sidecar("default"));
    let g = get(&t, "http://direct.example.com/down");
    assert_eq!(
        (g.outcome, g.status, g.body.as_slice()),
        ("directResponse", Some(503), &b"down for maintenance"[..])
    );
    let g = get(&t, "http://direct.example.com/bytes");
    assert_eq!((g.status, g.body.as_slice()), (Some(200), &b"hello"[..]));
    assert_eq!(get(&t, "http://direct.example.com/quirk").status, Some(600));
    let g = get(&t, "http://direct.example.com/x");
    assert_eq!((g.status, g.body.len()), (Some(204), 0));
    let err = compile_error(
        &yaml.replace("status: 600", "status: 601"),
        &sidecar("default"),
    );
    assert!(
        err.contains("HTTP status 601 is not in range 200-599"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// Retries, timeouts, faults, mirrors.
// ---------------------------------------------------------------------------------------

fn one_rule(fields: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: p, namespace: default}}\nspec:\n  hosts: [p.example.com]\n  http:\n  - route: [{{destination: {{host: p}}}}]\n{fields}"
    )
}

fn policy(fields: &str) -> Rule {
    rule(
        &compile(&one_rule(fields), &sidecar("default")),
        "http://p.example.com/",
    )
}

/// Without `retries`, Istio's default applies: 2 retries on
/// `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes` with no
/// retriable status codes (503 is not retried since 1.24), previous hosts avoided.
#[test]
fn retries_default_is_two_attempts_without_503() {
    let r = policy("").retries;
    assert_eq!(r.attempts, 2);
    assert_eq!(r.retry_on, DEFAULT_RETRY_ON);
    assert_eq!(
        r.retry_on,
        "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
    );
    assert!(r.retriable_status_codes.is_empty());
    assert!(!r.has(RetryOn::FiveXx) && !r.has(RetryOn::GatewayError));
    assert!(r.retry_ignore_previous_hosts);
    assert_eq!(r.per_try_timeout, None);
}

/// `attempts: 0` disables retries, and so does a `retries` block without `attempts`.
#[test]
fn retries_attempts_zero_or_missing_disables() {
    assert_eq!(policy("    retries: {attempts: 0}\n").retries.attempts, 0);
    assert_eq!(policy("    retries: {}\n").retries.attempts, 0);
    // With attempts omitted, other retry fields are a validation error.
    let err = compile_error(
        &one_rule("    retries: {perTryTimeout: 2s}\n"),
        &sidecar("default"),
    );
    assert!(
        err.contains("http retry policy configured when attempts are set to 0 (disabled)"),
        "{err}"
    );
}

/// Numeric `retryOn` tokens become retriable status codes and `retriable-status-codes` is
/// added once; an explicit policy without `retryOn` keeps the default conditions.
#[test]
fn retries_numeric_retry_on_tokens_are_status_codes() {
    let r =
        policy("    retries: {attempts: 3, perTryTimeout: 2s, retryOn: \"503,connect-failure\"}\n")
            .retries;
    assert_eq!(r.attempts, 3);
    assert_eq!(r.per_try_timeout, Some(std::time::Duration::from_secs(2)));
    assert_eq!(r.retriable_status_codes, vec![503]);
    assert_eq!(r.retry_on, "connect-failure,retriable-status-codes");
    let r = policy(
        "    retries: {attempts: 3, retryOn: \"gateway-error,retriable-status-codes,409\"}\n",
    )
    .retries;
    assert_eq!(r.retry_on, "gateway-error,retriable-status-codes");
    assert_eq!(r.retriable_status_codes, vec![409]);
    let r = policy("    retries: {attempts: 5}\n").retries;
    assert_eq!((r.attempts, r.retry_on.as_str()), (5, DEFAULT_RETRY_ON));
}

/// There is no route timeout by default (Istio sends 0s, disabling Envoy's 15 s); a
/// duration below 1 ms (so `0s`) is refused.
#[test]
fn timeout_default_is_none() {
    assert_eq!(policy("").timeout, None);
    assert_eq!(
        policy("    timeout: 3m\n").timeout,
        Some(std::time::Duration::from_secs(180))
    );
    let err = compile_error(&one_rule("    timeout: 0s\n"), &sidecar("default"));
    assert!(err.contains("1ms"), "{err}");
}

fn frac(numerator: u32, denominator: Denominator) -> Fraction {
    Fraction {
        numerator,
        denominator,
    }
}

/// Fault percentages: absent means 0% (never); the deprecated integer `delay.percent` is out
/// of 100; `percentage` is truncated to millionths (`uint32(value * 10000)`) and wins over
/// `percent`; aborts carry an HTTP status or a gRPC code.
#[test]
fn fault_percentages() {
    let f = |fault: &str| policy(&format!("    fault: {fault}\n")).fault;
    let d = f("{delay: {fixedDelay: 7s}, abort: {httpStatus: 503}}");
    assert_eq!(d.delay.unwrap().fraction.numerator, 0);
    assert_eq!(d.delay.unwrap().duration, std::time::Duration::from_secs(7));
    assert_eq!(d.abort.unwrap().fraction.numerator, 0);
    assert!(!d.abort.unwrap().fraction.selects(0));
    assert_eq!(
        f("{delay: {fixedDelay: 7s, percent: 30}}")
            .delay
            .unwrap()
            .fraction,
        frac(30, Denominator::Hundred)
    );
    assert_eq!(
        f("{delay: {fixedDelay: 7s, percentage: {value: 12.345678}}}")
            .delay
            .unwrap()
            .fraction,
        frac(123_456, Denominator::Million)
    );
    assert_eq!(
        f("{delay: {fixedDelay: 7s, percent: 30, percentage: {value: 0.0001}}}")
            .delay
            .unwrap()
            .fraction,
        frac(1, Denominator::Million)
    );
    let a = f("{abort: {httpStatus: 418, percentage: {value: 50}}}")
        .abort
        .unwrap();
    assert_eq!(
        (a.kind, a.fraction),
        (AbortKind::Http(418), frac(500_000, Denominator::Million))
    );
    // Envoy's featureEnabled: a uniform draw below the numerator.
    assert!(
        a.fraction.selects(499_999)
            && !a.fraction.selects(500_000)
            && a.fraction.selects(1_000_000)
    );
    let a = f("{abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}")
        .abort
        .unwrap();
    assert_eq!(a.kind, AbortKind::Grpc(14));
    let err = compile_error(
        &one_rule("    fault: {abort: {httpStatus: 503, percentage: {value: 0.00001}}}\n"),
        &sidecar("default"),
    );
    assert!(
        err.contains("is neither 0.0, nor in range [0.0001, 100.0]"),
        "{err}"
    );
}

/// Mirrors: `mirror` without a percentage mirrors 100%; an explicit `mirrorPercentage: 0`
/// mirrors nothing; the deprecated integer `mirrorPercent` is out of 100 and loses to
/// `mirrorPercentage`; each of `mirrors` has its own percentage (absent = 100%, 0 = none).
#[test]
fn mirror_percentages() {
    let m = |fields: &str| policy(fields).mirrors;
    let all = m("    mirror: {host: shadow}\n");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].fraction.percent(), 100.0);
    assert_eq!(all[0].destination.host, svc("shadow", "default"));
    assert!(m("    mirror: {host: shadow}\n    mirrorPercentage: {value: 0}\n").is_empty());
    assert_eq!(
        m("    mirror: {host: shadow}\n    mirrorPercentage: {value: 25.5}\n")[0].fraction,
        frac(255_000, Denominator::Million)
    );
    assert_eq!(
        m("    mirror: {host: shadow}\n    mirrorPercent: 30\n")[0].fraction,
        frac(30, Denominator::Hundred)
    );
    assert_eq!(
        m("    mirror: {host: shadow}\n    mirrorPercent: 30\n    mirrorPercentage: {value: 5}\n")
            [0]
        .fraction,
        frac(50_000, Denominator::Million)
    );
    assert!(m("    mirror: {host: shadow}\n    mirrorPercent: 0\n").is_empty());
    let list = m(
        "    mirrors:\n    - destination: {host: a}\n    - destination: {host: b, subset: v2}\n      percentage: {value: 10}\n    - destination: {host: c}\n      percentage: {value: 0}\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: b, namespace: default}\nspec:\n  host: b\n  subsets: [{name: v2, labels: {version: v2}}]\n",
    );
    assert_eq!(list.len(), 2);
    assert_eq!(
        (
            list[0].destination.host.as_str(),
            list[0].fraction.percent()
        ),
        (svc("a", "default").as_str(), 100.0)
    );
    assert_eq!(
        (
            list[1].destination.subset.as_str(),
            list[1].fraction.percent()
        ),
        ("v2", 10.0)
    );
}

// ---------------------------------------------------------------------------------------
// Destinations and DestinationRules.
// ---------------------------------------------------------------------------------------

const POLICIES: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool: {tcp: {maxConnections: 100}}
    portLevelSettings:
    - port: {number: 9080}
      loadBalancer: {simple: RANDOM}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: LEAST_REQUEST}
  - name: v3
    labels: {version: v3}
    trafficPolicy:
      connectionPool: {tcp: {maxConnections: 5}}
      portLevelSettings:
      - port: {number: 9080}
        outlierDetection: {consecutive5xxErrors: 7}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {v: {exact: "1"}}}]
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{headers: {v: {exact: "2"}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - match: [{headers: {v: {exact: "3"}}}]
    route: [{destination: {host: reviews, subset: v3}}]
  - match: [{headers: {v: {exact: "9"}}}]
    route: [{destination: {host: reviews, subset: v9}}]
  - route: [{destination: {host: reviews}}]
"#;

/// The effective DestinationRule policy for (subset, port), SPEC 1.15 steps 1-3: the rule's
/// port-level settings replace its top-level policy entirely (nothing inherited); a subset's
/// top-level blocks replace the corresponding blocks; a subset's port-level settings replace
/// all four port-level blocks, even with nothing.
#[test]
fn destination_rule_subset_and_port_policies_merge() {
    use mesh_model::destination_rule::SimpleLb;
    let t = compile(POLICIES, &sidecar("default"));
    let eff = |v: &str, port: u16| {
        let mut h = HeaderMap::new();
        h.insert("v", HeaderValue::from_str(v).unwrap());
        let authority = format!("reviews:{port}");
        let view = RequestView::new("GET", "http", &authority, "/", &h);
        let d = t.decide(&view, 0);
        let Decision::Route { target, .. } = d else {
            panic!("{d:?}")
        };
        let p = target.destination().unwrap().traffic_policy(port).cloned();
        p.map(|p| {
            (
                p.load_balancer.and_then(|l| l.simple),
                p.connection_pool
                    .and_then(|c| c.tcp)
                    .map(|t| t.max_connections),
                p.outlier_detection.and_then(|o| o.consecutive_5xx_errors),
            )
        })
    };
    // Step 1: top level, or the port's settings alone.
    assert_eq!(
        eff("1", 8080),
        Some((Some(SimpleLb::RoundRobin), Some(100), None))
    );
    assert_eq!(eff("1", 9080), Some((Some(SimpleLb::Random), None, None)));
    // Step 2: a subset block replaces the block, the others are inherited.
    assert_eq!(
        eff("2", 8080),
        Some((Some(SimpleLb::LeastRequest), Some(100), None))
    );
    assert_eq!(
        eff("2", 9080),
        Some((Some(SimpleLb::LeastRequest), None, None))
    );
    assert_eq!(
        eff("3", 8080),
        Some((Some(SimpleLb::RoundRobin), Some(5), None))
    );
    // The subset's port-level settings replace every port-level block.
    assert_eq!(eff("3", 9080), Some((None, None, Some(7))));
    // No subset: the rule's policy.
    assert_eq!(
        eff("0", 8080),
        Some((Some(SimpleLb::RoundRobin), Some(100), None))
    );
}

/// A subset that no DestinationRule defines still routes (the rule is selected), with
/// `subset_labels` `None`: Envoy answers 503 (cluster not found). No subset at all selects
/// every endpoint.
#[test]
fn undefined_subset_still_routes_without_subset_labels() {
    let t = compile(POLICIES, &sidecar("default"));
    let g = get_h(&t, "http://reviews/", &[("v", "9")]);
    assert_eq!(
        (g.outcome, g.subset.as_str(), g.subset_labels),
        ("route", "v9", None)
    );
    let g = get_h(&t, "http://reviews/", &[("v", "1")]);
    assert_eq!(g.subset_labels.unwrap()["version"], "v1");
    assert_eq!(
        get(&t, "http://reviews/").subset_labels,
        Some(BTreeMap::new())
    );
}

/// The destination port: explicit `port.number`, else the only port of a known service,
/// else the port the request was sent to.
#[test]
fn destination_port_resolution() {
    let yaml = r#"
apiVersion: v1
kind: Service
metadata: {name: single, namespace: default}
spec:
  ports: [{port: 9080, name: http}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: p, namespace: default}
spec:
  hosts: [p.example.com]
  http:
  - match: [{uri: {prefix: /explicit}}]
    route: [{destination: {host: single, port: {number: 7000}}}]
  - match: [{uri: {prefix: /single}}]
    route: [{destination: {host: single}}]
  - route: [{destination: {host: unknown}}]
"#;
    let t = compile(yaml, &sidecar("default"));
    assert_eq!(get(&t, "http://p.example.com:8000/explicit").port, 7000);
    assert_eq!(get(&t, "http://p.example.com:8000/single").port, 9080);
    assert_eq!(get(&t, "http://p.example.com:8000/other").port, 8000);
    assert_eq!(get(&t, "http://p.example.com/other").port, 80);
}

// ---------------------------------------------------------------------------------------
// Refused configurations.
// ---------------------------------------------------------------------------------------

/// JWT-claim routing (`@request.auth.claims.*` keys) needs Istio's request authentication:
/// refused at compile time on a gateway, and a validation error for mesh-bound
/// VirtualServices.
#[test]
fn jwt_claim_matches_are_refused() {
    let vs = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: jwt, namespace: default}
spec:
  hosts: [jwt.example.com]
  gateways: [istio-system/gw]
  http:
  - match: [{headers: {"@request.auth.claims.group": {exact: admin}}}]
    route: [{destination: {host: admin}}]
  - route: [{destination: {host: rest}}]
"#;
    let err = compile_error(
        &format!("{GATEWAY_ALL_HOSTS}---\n{vs}"),
        &gateway("istio-system", "gw"),
    );
    assert!(
        err.contains("JWT claim routing") && err.contains("not supported"),
        "{err}"
    );
    let err = compile_error(
        &vs.replace("  gateways: [istio-system/gw]\n", ""),
        &sidecar("default"),
    );
    assert!(err.contains("JWT claim based routing"), "{err}");
}

/// Resources that Istio's validation rejects refuse compilation, whichever proxy the
/// table is for, with Istio's own wording.
#[test]
fn validation_errors_refuse_compilation() {
    let cases = [
        (
            "  - route:\n    - destination: {host: a}\n      weight: 0\n    - destination: {host: b}\n      weight: 0\n",
            "total destination weight = 0",
        ),
        (
            "  - route: [{destination: {host: a}}]\n    redirect: {uri: /x}\n",
            "HTTP route cannot contain both route and redirect",
        ),
        (
            "  - route: [{destination: {host: a}}]\n    rewrite: {uri: /a, uriRegexRewrite: {match: a, rewrite: b}}\n",
            "rewrite may only contain one of URI or UriRegexRewrite",
        ),
        (
            "  - match: [{uri: {regex: \"(\"}}]\n    route: [{destination: {host: a}}]\n",
            "Istio uses RE2 style regex-based match",
        ),
        (
            "  - route: [{destination: {host: a, subset: v1.0}}]\n",
            "subset name is invalid",
        ),
    ];
    for (http, want) in cases {
        let yaml = format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: bad, namespace: default}}\nspec:\n  hosts: [bad.example.com]\n  http:\n{http}"
        );
        for id in [sidecar("default"), sidecar("elsewhere")] {
            let err = compile_error(&yaml, &id);
            assert!(err.contains(want), "want {want:?} in {err}");
        }
    }
}

/// A table for a gateway that is not in the configuration is refused.
#[test]
fn unknown_gateway_identity_is_refused() {
    let err = compile_error(GATEWAY_ALL_HOSTS, &gateway("istio-system", "other"));
    assert!(err.contains("not in the configuration"), "{err}");
}

/// README Limits: a request host over [`mesh_route::MAX_HOST_LEN`] (255) bytes gets no
/// route (`BadHost`, 404) on every path: lower-case or not, on a sidecar and at a gateway,
/// even when a wildcard VirtualService would match it. A host of exactly 255 bytes still
/// routes.
#[test]
fn a_host_over_255_bytes_is_no_route_even_under_a_matching_wildcard() {
    let yaml = format!(
        "{GATEWAY_ALL_HOSTS}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: wild, namespace: default}}
spec:
  hosts: ['*.example.com']
  gateways: [istio-system/gw, mesh]
  http:
  - route: [{{destination: {{host: wild}}}}]
"
    );
    let label = "a".repeat(63);
    let long = format!("{label}.{label}.{label}.{}.example.com", &label[..55]);
    assert_eq!(long.len(), 259);
    let at_limit = &long[long.len() - 255..];
    let upper = long.to_ascii_uppercase();
    for identity in [sidecar("default"), gateway("istio-system", "gw")] {
        let t = compile(&yaml, &identity);
        for host in [long.as_str(), upper.as_str()] {
            let g = get(&t, &format!("http://{host}/"));
            assert_eq!(
                g.no_route,
                Some(NoRoute::BadHost),
                "{identity:?} {}",
                host.len()
            );
            assert_eq!(g.status, Some(404));
        }
        for host in [at_limit.to_owned(), at_limit.to_ascii_uppercase()] {
            let g = get(&t, &format!("http://{host}/"));
            assert_eq!(g.outcome, "route", "{identity:?}: {} bytes", host.len());
            assert_eq!(g.host, svc("wild", "default"));
        }
    }
}

/// The VirtualService of generated host `i` for [`a_large_table_decides_as_a_small_one`]:
/// a prefix, an exact path, a header, a regex, a 3-way split, a redirect and a catch-all.
fn many_hosts_vs(i: usize) -> String {
    format!(
        r#"apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: vs-{i}, namespace: gen}}
spec:
  hosts: [h{i}.example.com, "*.w{i}.example.com"]
  http:
  - match: [{{uri: {{prefix: /api/{i}/}}}}]
    route: [{{destination: {{host: a{i}}}}}]
  - match: [{{uri: {{exact: /items/{i}}}}}, {{uri: {{exact: /items}}}}]
    route: [{{destination: {{host: b{i}}}}}]
  - match: [{{headers: {{x-tenant: {{exact: t{i}}}}}}}]
    route: [{{destination: {{host: c{i}}}}}]
  - match: [{{uri: {{regex: "/r{i}/users/[0-9]+"}}}}]
    route: [{{destination: {{host: d{i}}}}}]
  - match: [{{uri: {{prefix: /split}}}}]
    route:
    - {{destination: {{host: e{i}}}, weight: 20}}
    - {{destination: {{host: f{i}}}, weight: 30}}
    - {{destination: {{host: g{i}}}, weight: 50}}
  - match: [{{uri: {{prefix: /old}}}}]
    redirect: {{uri: /new}}
  - route: [{{destination: {{host: z{i}}}}}]
"#
    )
}

/// Deciding does not depend on the table's size: in a table of 1 400 route entries (large
/// enough for `decide` to read a host's layout ahead, which a table under 1 024 entries does
/// not), every host's requests get the decision that a table of that host's
/// VirtualService alone gives, for each kind of rule, a miss of every rule, a wildcard host
/// and an unknown host.
#[test]
fn a_large_table_decides_as_a_small_one() {
    let hosts = 175;
    let all: Vec<String> = (0..hosts).map(many_hosts_vs).collect();
    let large = compile(&all.join("---\n"), &sidecar("gen"));
    let requests = |i: usize| -> Vec<(String, Vec<(&'static str, String)>)> {
        vec![
            (format!("http://h{i}.example.com/api/{i}/x"), vec![]),
            (format!("http://H{i}.Example.COM/items/{i}"), vec![]),
            (format!("http://h{i}.example.com/items"), vec![]),
            (
                format!("http://h{i}.example.com/other"),
                vec![("x-tenant", format!("t{i}"))],
            ),
            (
                format!("http://h{i}.example.com/other"),
                vec![("x-tenant", "t".to_owned())],
            ),
            (format!("http://h{i}.example.com/r{i}/users/42"), vec![]),
            (format!("http://h{i}.example.com/r{i}/users/4x"), vec![]),
            (format!("http://h{i}.example.com/split/1"), vec![]),
            (format!("http://h{i}.example.com/old/page"), vec![]),
            (format!("http://a.w{i}.example.com/api/{i}/"), vec![]),
            (
                format!("http://h{i}.example.com:8080/api/{}/", i + 1),
                vec![],
            ),
            ("http://unknown.example.com/api/".to_owned(), vec![]),
        ]
    };
    for i in [0, 1, 63, 64, 100, hosts - 1] {
        let small = compile(&many_hosts_vs(i), &sidecar("gen"));
        for (url, headers) in requests(i) {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let got = format!("{:?}", get_h(&large, &url, &headers));
            let want = format!("{:?}", get_h(&small, &url, &headers));
            assert_eq!(got, want, "{url} {headers:?}");
            assert!(!got.contains("NoRuleMatched"), "{url}: {got}");
        }
    }
}
