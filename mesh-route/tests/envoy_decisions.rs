//! The decisions where the engine differed from Envoy 1.40 (issue 12), as the engine makes
//! them now. Each rule was measured on Istio's translation with a real Envoy; the same
//! cases run against Envoy in `difftest/tests/decisions.rs`.

use http::{HeaderMap, HeaderName, HeaderValue};
use mesh_match::{PathNormalization, RequestView, normalize_target};
use mesh_route::policy::{ReplyTo, local_reply};
use mesh_route::{CompileOptions, Decision, Identity, RouteTable, Side};

const DR: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: alpha, namespace: default}
spec:
  host: alpha
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
"#;

fn table(http: &str) -> RouteTable {
    let yaml = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: alpha, namespace: default}}\nspec:\n  hosts: [alpha]\n  http:\n{http}\n---\n{DR}"
    );
    table_of(&yaml)
}

fn table_of(yaml: &str) -> RouteTable {
    let resources = mesh_model::load_str(yaml).expect("loads");
    RouteTable::compile(
        &resources,
        &Identity::sidecar("default"),
        &CompileOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

/// Decides `GET http://alpha{target}` with `h`, and gives the decision to `f`.
fn with<T>(
    t: &RouteTable,
    target: &str,
    h: &HeaderMap,
    f: impl FnOnce(&Decision<'_>, &RequestView<'_>) -> T,
) -> T {
    let path = normalize_target(target, PathNormalization::Base).unwrap();
    let view = RequestView::new("GET", "http", "alpha", &path, h);
    let d = t.decide(&view, 0);
    f(&d, &view)
}

fn subset(t: &RouteTable, target: &str, h: &HeaderMap) -> String {
    with(t, target, h, |d, _| match d {
        Decision::Route { target, .. } => target.subset().to_owned(),
        other => other.outcome().to_owned(),
    })
}

fn ops(d: &Decision<'_>, side: Side) -> Vec<String> {
    d.header_ops(side)
        .map(|o| {
            format!(
                "{} {} {}",
                o.kind(),
                o.name(),
                o.value().map_or("", |v| v.to_str().unwrap())
            )
            .trim_end()
            .to_owned()
        })
        .collect()
}

/// Difference 1: a `set` or `add` with an empty value does nothing (Envoy skips it; Istio
/// leaves `keep_empty_value` unset) and is warned at compile time; an empty `host` sets
/// no authority.
#[test]
fn empty_header_values_do_nothing_and_are_warned() {
    let t = table(
        r#"  - headers:
      request: {set: {x-a: "", host: ""}, add: {x-b: "", x-c: "1"}}
      response: {set: {x-r: ""}}
    route: [{destination: {host: alpha, subset: v1}}]"#,
    );
    let h = headers(&[]);
    with(&t, "/", &h, |d, v| {
        assert_eq!(ops(d, Side::Request), ["add x-c 1"]);
        assert!(ops(d, Side::Response).is_empty());
        assert_eq!(d.upstream_authority(v), "alpha");
    });
    let warned: Vec<String> = t.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        warned.iter().filter(|w| w.contains("empty value")).count(),
        3,
        "{warned:?}"
    );
}

/// Difference 2: one `x-forwarded-proto` of `http` or `https` (any case) is the request's
/// `:scheme`; otherwise (absent, another value, two headers) the connection's scheme is.
/// A header match on `x-forwarded-proto` sees the connection's scheme when the request has
/// none (Envoy sets it before routing). A redirect without a scheme keeps the request's.
#[test]
fn x_forwarded_proto_is_the_scheme() {
    let t = table(
        r#"  - match: [{uri: {prefix: /r}}]
    redirect: {authority: other.example}
  - match: [{scheme: {exact: https}}]
    route: [{destination: {host: alpha, subset: v1}}]
  - match: [{headers: {x-forwarded-proto: {exact: http}}}]
    route: [{destination: {host: alpha, subset: v2}}]"#,
    );
    let xfp = |v: &[&str]| {
        headers(
            &v.iter()
                .map(|v| ("x-forwarded-proto", *v))
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(subset(&t, "/", &xfp(&["https"])), "v1");
    assert_eq!(subset(&t, "/", &xfp(&["HTTPS"])), "v1");
    assert_eq!(subset(&t, "/", &xfp(&[])), "v2");
    assert_eq!(subset(&t, "/", &xfp(&["ftp"])), "noRoute");
    assert_eq!(subset(&t, "/", &xfp(&["https", "https"])), "noRoute");
    let h = xfp(&["https"]);
    with(&t, "/r?q=1", &h, |d, v| {
        assert_eq!(
            d.location(v).as_deref(),
            Some("https://other.example/r?q=1")
        );
    });
    // An explicit :scheme (HTTP/2, absolute form) is kept whatever the header says.
    let path = "/";
    let view = RequestView::new("GET", "http", "alpha", path, &h).with_scheme("http");
    assert_eq!(view.scheme(), "http");
}

/// Difference 3: Envoy joins repeated values of its inline headers with `,` before
/// matching; custom headers and `cookie` are matched value by value.
#[test]
fn inline_headers_are_joined_before_matching() {
    let t = table(
        r#"  - match: [{headers: {user-agent: {exact: Chrome}}}, {headers: {x-tag: {exact: b}}}, {headers: {cookie: {exact: u=1}}}]
    route: [{destination: {host: alpha, subset: v1}}]
  - route: [{destination: {host: alpha, subset: v2}}]"#,
    );
    assert_eq!(subset(&t, "/", &headers(&[("user-agent", "Chrome")])), "v1");
    assert_eq!(
        subset(
            &t,
            "/",
            &headers(&[("user-agent", "Chrome"), ("user-agent", "Chrome")])
        ),
        "v2"
    );
    assert_eq!(
        subset(&t, "/", &headers(&[("x-tag", "a"), ("x-tag", "b")])),
        "v1"
    );
    assert_eq!(
        subset(&t, "/", &headers(&[("cookie", "a=1"), ("cookie", "u=1")])),
        "v1"
    );
}

/// Difference 4: a direct response with a 3xx or 201 status has a `Location`: the
/// request's own URL.
#[test]
fn direct_responses_with_3xx_or_201_have_a_location() {
    for (status, location) in [
        (301, Some("http://alpha/d?q=1")),
        (201, Some("http://alpha/d?q=1")),
        (399, Some("http://alpha/d?q=1")),
        (200, None),
        (204, None),
        (404, None),
    ] {
        let t = table(&format!("  - directResponse: {{status: {status}}}"));
        let h = headers(&[]);
        with(&t, "/d?q=1", &h, |d, v| {
            assert_eq!(d.location(v).as_deref(), location, "{status}")
        });
    }
}

/// Difference 5: a mirror to a subset no DestinationRule defines sends nothing (Envoy has
/// no cluster for it) and is warned.
#[test]
fn mirrors_to_an_undefined_subset_are_left_out() {
    let t = table(
        r#"  - route: [{destination: {host: alpha, subset: v1}}]
    mirrors:
    - destination: {host: alpha, subset: v9}
    - destination: {host: alpha, subset: v2}"#,
    );
    let h = headers(&[]);
    with(&t, "/", &h, |d, _| {
        let m: Vec<&str> = d
            .rule()
            .unwrap()
            .mirrors
            .iter()
            .map(|m| m.destination.subset.as_str())
            .collect();
        assert_eq!(m, ["v2"]);
    });
    assert!(
        t.warnings().iter().any(|w| w.to_string().contains("v9")),
        "{:?}",
        t.warnings()
    );
}

/// Difference 5, continued: when the configuration declares services, a mirror to a host
/// none of them is (or matches, for a wildcard ServiceEntry host) sends nothing either
/// (istiod names a cluster no one defines) and is warned; without any declared service the
/// registry is unknown and the copy is sent.
#[test]
fn mirrors_to_an_undeclared_host_are_left_out_when_services_are_declared() {
    let vs = r#"apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: alpha, namespace: default}
spec:
  hosts: [alpha]
  http:
  - route: [{destination: {host: alpha}}]
    mirrors:
    - destination: {host: delta}
    - destination: {host: api.example.com}
"#;
    let services = r#"
---
apiVersion: v1
kind: Service
metadata: {name: alpha, namespace: default}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
  hosts: ["*.example.com"]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: NONE
  location: MESH_EXTERNAL
"#;
    let mirrored = |t: &RouteTable| -> Vec<String> {
        let h = headers(&[]);
        with(t, "/", &h, |d, _| {
            d.rule()
                .unwrap()
                .mirrors
                .iter()
                .map(|m| m.destination.host.clone())
                .collect()
        })
    };
    let declared = table_of(&format!("{vs}{services}"));
    assert_eq!(mirrored(&declared), ["api.example.com"]);
    assert!(
        declared
            .warnings()
            .iter()
            .any(|w| w.to_string().contains("delta"))
    );
    let unknown = table_of(vs);
    assert_eq!(
        mirrored(&unknown),
        ["delta.default.svc.cluster.local", "api.example.com"]
    );
}

const DELEGATE: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: leaf, namespace: default}
spec:
  http:
  - match: [{uri: {prefix: /redirect}}]
    redirect: {authority: other.example}
  - redirect: {prefixRewrite: /new}
"#;

/// Difference 6: a redirect's `prefixRewrite` under a root `exact` (or regex) match
/// replaces the whole path, as Envoy does for the merged route's path match.
#[test]
fn delegate_redirect_prefix_rewrite_uses_the_merged_match() {
    let t = table_of(&format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: alpha, namespace: default}}\nspec:\n  hosts: [alpha]\n  http:\n  - match: [{{uri: {{exact: /api}}}}]\n    delegate: {{name: leaf, namespace: default}}\n  - match: [{{uri: {{prefix: /pre}}}}]\n    delegate: {{name: leaf, namespace: default}}\n---\n{DELEGATE}"
    ));
    let h = headers(&[]);
    with(&t, "/api?q=1", &h, |d, v| {
        assert_eq!(d.location(v).as_deref(), Some("http://alpha/new?q=1"))
    });
    with(&t, "/pre/x?q=1", &h, |d, v| {
        assert_eq!(d.location(v).as_deref(), Some("http://alpha/new/x?q=1"))
    });
}

/// Difference 7: a root rule's fault is merged into the delegated rule, so the redirect's
/// rule carries the abort (which the layer runs first, as Envoy's fault filter does).
#[test]
fn delegate_root_fault_is_merged_into_the_redirect_rule() {
    let t = table_of(&format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: alpha, namespace: default}}\nspec:\n  hosts: [alpha]\n  http:\n  - fault: {{abort: {{httpStatus: 418, percentage: {{value: 100}}}}}}\n    delegate: {{name: leaf, namespace: default}}\n---\n{DELEGATE}"
    ));
    let h = headers(&[]);
    with(&t, "/redirect", &h, |d, _| {
        assert_eq!(d.outcome(), "redirect");
        let abort = d.rule().unwrap().fault.abort.expect("the root's abort");
        let reply = abort.kind.reply(ReplyTo::default());
        assert_eq!(
            (reply.status, &*reply.body),
            (418, &b"fault filter abort"[..])
        );
    });
}

/// Difference 8: header operations of a route and its destination in Envoy's order: one
/// list for a single destination (removes, sets, adds; the destination's after the
/// route's in each), the destination's then the route's for a weighted split.
#[test]
fn header_operations_at_two_levels_in_envoys_order() {
    let t = table(
        r#"  - match: [{uri: {prefix: /single}}]
    headers: {request: {set: {x-a: route}, add: {x-b: "1"}, remove: [x-c]}}
    route:
    - destination: {host: alpha, subset: v1}
      headers: {request: {set: {x-a: dest}, add: {x-b: "1"}, remove: [x-b]}}
  - match: [{uri: {prefix: /weighted}}]
    headers: {request: {set: {x-a: route}, remove: [x-b]}}
    route:
    - destination: {host: alpha, subset: v1}
      weight: 100
      headers: {request: {set: {x-a: dest}, add: {x-b: dest}}}
    - destination: {host: alpha, subset: v2}
      weight: 0"#,
    );
    let h = headers(&[("x-b", "client")]);
    with(&t, "/single", &h, |d, _| {
        assert_eq!(
            ops(d, Side::Request),
            [
                "remove x-c",
                "remove x-b",
                "set x-a route",
                "set x-a dest",
                "add x-b 1",
                "add x-b 1"
            ]
        );
        let mut sent = h.clone();
        d.header_ops(Side::Request).apply(&mut sent);
        assert_eq!(sent["x-a"], "dest");
        assert_eq!(sent.get_all("x-b").iter().count(), 2);
    });
    with(&t, "/weighted", &h, |d, _| {
        assert_eq!(
            ops(d, Side::Request),
            [
                "set x-a dest",
                "add x-b dest",
                "remove x-b",
                "set x-a route"
            ]
        );
        let mut sent = h.clone();
        d.header_ops(Side::Request).apply(&mut sent);
        assert_eq!(sent["x-a"], "route");
        assert!(!sent.contains_key("x-b"));
    });
}

/// Difference 9: local replies to a gRPC request are HTTP 200 with Envoy's mapped
/// `grpc-status`: no route is 12, a 503 direct response 14 with its body as
/// `grpc-message`, a redirect 2 with its `Location` kept.
#[test]
fn local_replies_to_grpc_requests() {
    let t = table(
        r#"  - match: [{uri: {prefix: /down}}]
    directResponse: {status: 503, body: {string: down}}
  - match: [{uri: {prefix: /moved}}]
    redirect: {authority: other.example}"#,
    );
    let h = headers(&[("content-type", "application/grpc")]);
    let to = ReplyTo::of("GET", &h);
    assert!(to.grpc);
    let reply = |target: &str| {
        with(&t, target, &h, |d, v| {
            let r = d.local_reply(to).expect("a local reply");
            let hm = r.headers(d.location(v).as_deref(), Some(d.header_ops(Side::Response)));
            let get = |n: &str| hm.get(n).map(|v| v.to_str().unwrap().to_owned());
            (
                r.status,
                get("grpc-status"),
                get("grpc-message"),
                get("location"),
            )
        })
    };
    assert_eq!(reply("/none"), (200, Some("12".into()), None, None));
    assert_eq!(
        reply("/down"),
        (200, Some("14".into()), Some("down".into()), None)
    );
    assert_eq!(
        reply("/moved"),
        (
            200,
            Some("2".into()),
            None,
            Some("http://other.example/moved".into())
        )
    );
    // Not gRPC: the plain reply, no content type without a body.
    let plain = local_reply(503, b"", ReplyTo::default(), None);
    assert!(plain.headers(None, None).get("content-type").is_none());
}

/// A sidecar request to a declared Service without a VirtualService, by any of the names
/// Kubernetes DNS resolves (`beta.default`, `BETA`), goes to the Service's FQDN (Istio's
/// default virtual host of each service; measured with Envoy 1.40 by the differential
/// test).
#[test]
fn requests_to_declared_services_without_a_virtual_service_use_their_fqdn() {
    let t = table_of(
        "apiVersion: v1\nkind: Service\nmetadata: {name: beta, namespace: default}\nspec: {ports: [{name: http, port: 80}]}",
    );
    let h = headers(&[]);
    for authority in ["beta.default", "BETA", "beta.default.svc:80"] {
        let view = RequestView::new("GET", "http", authority, "/", &h);
        match t.decide(&view, 0) {
            Decision::Route { target, .. } => {
                assert_eq!(
                    target.host(),
                    "beta.default.svc.cluster.local",
                    "{authority}"
                )
            }
            other => panic!("{authority}: {other:?}"),
        }
    }
}

/// A redirect that changes the scheme drops the old scheme's default port from the Host;
/// the old scheme is `x-forwarded-proto` as Envoy holds it (the connection's when absent),
/// compared exactly: two headers (joined) or `HTTPS` keep `:80` (measured with Envoy 1.40,
/// `difftest/tests/decisions.rs`).
#[test]
fn a_scheme_changing_redirect_drops_the_default_port_of_the_forwarded_proto() {
    let t = table(r#"  - redirect: {scheme: https}"#);
    let location = |xfp: &[&str]| {
        let h = headers(
            &xfp.iter()
                .map(|v| ("x-forwarded-proto", *v))
                .collect::<Vec<_>>(),
        );
        let view = RequestView::new("GET", "http", "alpha:80", "/s", &h);
        t.decide(&view, 0).location(&view)
    };
    assert_eq!(location(&[]).as_deref(), Some("https://alpha/s"));
    assert_eq!(location(&["http"]).as_deref(), Some("https://alpha/s"));
    assert_eq!(
        location(&["https", "v1"]).as_deref(),
        Some("https://alpha:80/s")
    );
    assert_eq!(location(&["HTTPS"]).as_deref(), Some("https://alpha:80/s"));
}
