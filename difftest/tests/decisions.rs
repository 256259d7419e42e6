//! The nine decisions where the engine differed from Envoy (issue 12), each settled by a
//! real Envoy 1.40 configured by the translator as istiod configures a sidecar: every case
//! asserts what Envoy does, and that the engine's prediction (what `meshctl route`
//! decides) and the layer agree with it.
//!
//! The first measurements (2026-12-05) were made with hand-written Envoy configurations of
//! the same shape; these tests record them again on every run.

use difftest::generate::Request;
use difftest::observe::Observation;
use difftest::{Case, Lab, Ran};
use envoy_harness::Envoy;

/// The services and DestinationRules of every world (see `difftest::generate`).
const BASE: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: alpha, namespace: default}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: beta, namespace: default}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: gamma, namespace: default}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: alpha, namespace: default}
spec:
  host: alpha
  subsets: [{name: v1, labels: {v1: "on"}}, {name: v2, labels: {v2: "on"}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: beta, namespace: default}
spec:
  host: beta
  subsets: [{name: v1, labels: {v1: "on"}}]
"#;

const V1: &str = "outbound|80|v1|alpha.default.svc.cluster.local";
const V2: &str = "outbound|80|v2|alpha.default.svc.cluster.local";

fn req(method: &str, target: &str, headers: &[(&str, &str)]) -> Request {
    Request {
        method: method.into(),
        authority: "alpha".into(),
        target: target.into(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// Runs `requests` against `BASE` plus `config` through Envoy and the layer; asserts that
/// both agree with the engine on every request; returns the cases (`None` without Envoy).
fn run(test: &str, config: &str, requests: Vec<Request>) -> Option<Vec<Case>> {
    let bin = Envoy::binary_or_skip(test)?;
    let lab = Lab::new();
    let world = difftest::generate::World {
        seed: 0,
        yaml: format!("{BASE}\n---\n{config}"),
        requests,
    };
    let cases = match difftest::observe(&lab, &bin, &world).expect("Envoy runs the translation") {
        Ran::Cases(c) => c,
        Ran::Skipped(why) => panic!("{test}: not run: {why}"),
    };
    for c in &cases {
        let expected = c.expected.as_ref().expect("predictable");
        for (leg, got) in [("envoy", &c.envoy), ("layer", &c.layer)] {
            if let Err(diffs) = difftest::compare::compare(expected, got) {
                panic!(
                    "{test}: {leg} differs on {}:\n  {}",
                    c.request.describe(),
                    diffs.join("\n  ")
                );
            }
        }
    }
    Some(cases)
}

fn on_port_80(mut r: Request) -> Request {
    r.authority = "alpha:80".into();
    r
}

fn values<'a>(h: &'a difftest::observe::HeaderValues, name: &str) -> Vec<&'a str> {
    h.get(name)
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect()
}

fn vs(http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: alpha, namespace: default}}\nspec:\n  hosts: [alpha]\n  http:\n{http}"
    )
}

/// Difference 1 of issue 12: A `set` or `add` with an empty value is skipped by Envoy (Istio leaves
/// `keep_empty_value` unset): the upstream keeps the client's header, no empty header is
/// added, and an empty response `set` leaves the upstream's header.
#[test]
fn empty_header_values_are_not_sent() {
    let config = vs(r#"
  - route: [{destination: {host: alpha, subset: v1}}]
    headers:
      request: {set: {x-user: ""}, add: {x-tag: "", x-added: "1"}}
      response: {set: {x-upstream: ""}, add: {x-resp: ""}}
"#);
    let Some(cases) = run(
        "empty_header_values_are_not_sent",
        &config,
        vec![req("GET", "/", &[("x-user", "jason")])],
    ) else {
        return;
    };
    let e: &Observation = &cases[0].envoy;
    assert_eq!(values(&e.upstream_headers, "x-user"), ["jason"]);
    assert!(values(&e.upstream_headers, "x-tag").is_empty());
    assert_eq!(values(&e.upstream_headers, "x-added"), ["1"]);
    assert_eq!(values(&e.response_headers, "x-upstream"), [V1]);
    assert!(values(&e.response_headers, "x-resp").is_empty());
}

/// Difference 2 of issue 12: The sidecar's outbound listener keeps the client's `x-forwarded-proto`, and Envoy
/// takes `:scheme` from it when it is one value `http` or `https` in any case: it matches
/// `scheme`, and a redirect without a scheme keeps it. `ftp` or two headers (joined into
/// one invalid value) leave the connection's `http`.
#[test]
fn x_forwarded_proto_is_the_scheme() {
    let config = vs(r#"
  - match: [{uri: {prefix: /r}}]
    redirect: {authority: other.example}
  - match: [{uri: {prefix: /s}}]
    redirect: {scheme: https}
  - match: [{scheme: {exact: https}}]
    route: [{destination: {host: alpha, subset: v1}}]
  - route: [{destination: {host: alpha, subset: v2}}]
"#);
    let xfp = |v: &'static str| vec![("x-forwarded-proto", v)];
    let requests = vec![
        req("GET", "/", &[]),
        req("GET", "/", &xfp("https")),
        req("GET", "/", &xfp("HTTPS")),
        req("GET", "/", &xfp("ftp")),
        req(
            "GET",
            "/",
            &[
                ("x-forwarded-proto", "https"),
                ("x-forwarded-proto", "https"),
            ],
        ),
        req("GET", "/r?q=1", &xfp("https")),
        on_port_80(req("GET", "/s", &[])),
        on_port_80(req(
            "GET",
            "/s",
            &[("x-forwarded-proto", "https"), ("x-forwarded-proto", "v1")],
        )),
        on_port_80(req("GET", "/s", &xfp("HTTPS"))),
    ];
    let Some(cases) = run("x_forwarded_proto_is_the_scheme", &config, requests) else {
        return;
    };
    let clusters: Vec<Option<&str>> = cases.iter().map(|c| c.envoy.cluster.as_deref()).collect();
    assert_eq!(
        clusters[..5],
        [Some(V2), Some(V1), Some(V1), Some(V2), Some(V2)]
    );
    assert_eq!(
        values(&cases[5].envoy.response_headers, "location"),
        ["https://other.example/r?q=1"]
    );
    // A scheme change drops the old scheme's default port from the Host, the old scheme
    // being x-forwarded-proto as Envoy holds it, compared exactly: two headers (joined) or
    // `HTTPS` keep `:80`.
    let loc = |i: usize| values(&cases[i].envoy.response_headers, "location");
    assert_eq!(loc(6), ["https://alpha/s"]);
    assert_eq!(loc(7), ["https://alpha:80/s"]);
    assert_eq!(loc(8), ["https://alpha:80/s"]);
}

/// Difference 3 of issue 12: Envoy joins repeated values of its inline headers (`user-agent`, `accept`, ...) with
/// `,` before matching, and sends the joined value upstream: two `user-agent: Chrome`
/// headers do not match `exact: Chrome`; two values of a custom header (or `cookie`) are
/// matched one by one and sent separately.
#[test]
fn inline_headers_are_joined_before_matching() {
    let config = vs(r#"
  - match: [{headers: {user-agent: {exact: Chrome}}}, {headers: {x-tag: {exact: b}}}, {headers: {cookie: {exact: u=1}}}]
    route: [{destination: {host: alpha, subset: v1}}]
  - route: [{destination: {host: alpha, subset: v2}}]
    headers: {request: {add: {accept: more}}}
"#);
    let requests = vec![
        req("GET", "/", &[("user-agent", "Chrome")]),
        req(
            "GET",
            "/",
            &[("user-agent", "Chrome"), ("user-agent", "Chrome")],
        ),
        req("GET", "/", &[("x-tag", "a"), ("x-tag", "b")]),
        req("GET", "/", &[("cookie", "a=1"), ("cookie", "u=1")]),
        req("GET", "/", &[("accept", "a"), ("accept", "b")]),
    ];
    let Some(cases) = run(
        "inline_headers_are_joined_before_matching",
        &config,
        requests,
    ) else {
        return;
    };
    let clusters: Vec<Option<&str>> = cases.iter().map(|c| c.envoy.cluster.as_deref()).collect();
    assert_eq!(clusters, [Some(V1), Some(V2), Some(V1), Some(V1), Some(V2)]);
    assert_eq!(
        values(&cases[1].envoy.upstream_headers, "user-agent"),
        ["Chrome,Chrome"]
    );
    assert_eq!(
        values(&cases[2].envoy.upstream_headers, "x-tag"),
        ["a", "b"]
    );
    // An `add` to a present inline header joins it too.
    assert_eq!(
        values(&cases[4].envoy.upstream_headers, "accept"),
        ["a,b,more"]
    );
}

/// Difference 4 of issue 12: A direct response with a 3xx or 201 status gets a `Location` built from the request
/// (`:scheme://Host` as sent, path and query); other statuses get none.
#[test]
fn direct_responses_with_3xx_or_201_get_a_location() {
    let config = vs(r#"
  - match: [{uri: {prefix: /d301}}]
    directResponse: {status: 301, body: {string: moved}}
  - match: [{uri: {prefix: /d201}}]
    directResponse: {status: 201}
  - match: [{uri: {prefix: /d307}}]
    directResponse: {status: 307}
  - directResponse: {status: 200, body: {string: ok}}
"#);
    let mut with_port = req("GET", "/d201", &[]);
    with_port.authority = "alpha:80".into();
    let requests = vec![
        req("GET", "/d301/x?q=1", &[]),
        with_port,
        req("GET", "/d307", &[("x-forwarded-proto", "https")]),
        req("GET", "/other", &[]),
    ];
    let Some(cases) = run(
        "direct_responses_with_3xx_or_201_get_a_location",
        &config,
        requests,
    ) else {
        return;
    };
    let loc = |i: usize| values(&cases[i].envoy.response_headers, "location");
    assert_eq!(loc(0), ["http://alpha/d301/x?q=1"]);
    assert_eq!(cases[0].envoy.body.as_deref(), Some("moved"));
    assert_eq!(loc(1), ["http://alpha:80/d201"]);
    assert_eq!(loc(2), ["https://alpha/d307"]);
    assert!(loc(3).is_empty());
}

/// Difference 5 of issue 12: Envoy looks a mirror's cluster up per request: a mirror to a
/// subset no DestinationRule defines, or to a host no Service declares (istiod names a
/// cluster `outbound|80||delta.default.svc.cluster.local` that does not exist), sends
/// nothing, while the other mirrors of the route send their copy.
#[test]
fn mirrors_to_an_undefined_subset_send_nothing() {
    let config = vs(r#"
  - route: [{destination: {host: alpha, subset: v1}}]
    mirrors:
    - destination: {host: alpha, subset: v9}
    - destination: {host: delta}
    - destination: {host: beta, subset: v1}
"#);
    let Some(cases) = run(
        "mirrors_to_an_undefined_subset_send_nothing",
        &config,
        vec![req("GET", "/", &[])],
    ) else {
        return;
    };
    let copies: Vec<(&str, usize)> = cases[0]
        .envoy
        .copies
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        copies,
        [
            (V1, 1),
            ("outbound|80|v1|beta.default.svc.cluster.local", 1)
        ]
    );
}

/// Difference 6 of issue 12: A root match `exact: /api` (or a regex) delegating to a rule with a redirect
/// `prefixRewrite`: the merged match is the root's, and Envoy replaces the whole path
/// (`/api?q=1` → `/new?q=1`); under a root prefix the prefix is replaced.
#[test]
fn delegate_redirect_prefix_rewrite_uses_the_merged_match() {
    let config = format!(
        "{}\n---\n{}",
        vs(r#"
  - match: [{uri: {exact: /api}}]
    delegate: {name: exact, namespace: default}
  - match: [{uri: {regex: "/rx/[a-z]+"}}]
    delegate: {name: exact, namespace: default}
  - match: [{uri: {prefix: /pre}}]
    delegate: {name: exact, namespace: default}
"#),
        r#"apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: exact, namespace: default}
spec:
  http:
  - redirect: {prefixRewrite: /new}
"#
    );
    let requests = vec![
        req("GET", "/api?q=1", &[]),
        req("GET", "/rx/abc?q=1", &[]),
        req("GET", "/pre/x?q=1", &[]),
    ];
    let Some(cases) = run(
        "delegate_redirect_prefix_rewrite_uses_the_merged_match",
        &config,
        requests,
    ) else {
        return;
    };
    let loc = |i: usize| values(&cases[i].envoy.response_headers, "location");
    assert_eq!(loc(0), ["http://alpha/new?q=1"]);
    assert_eq!(loc(1), ["http://alpha/new?q=1"]);
    assert_eq!(loc(2), ["http://alpha/new/x?q=1"]);
}

/// Difference 7 of issue 12: A root rule's fault is merged into the delegated rule (`mergeHTTPRoute`), and
/// Envoy's fault filter runs before the router: the abort answers before the delegate's
/// redirect or direct response.
#[test]
fn delegate_root_fault_comes_before_the_redirect() {
    let config = format!(
        "{}\n---\n{}",
        vs(r#"
  - match: [{uri: {prefix: /}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    delegate: {name: leaf, namespace: default}
"#),
        r#"apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: leaf, namespace: default}
spec:
  http:
  - match: [{uri: {prefix: /redirect}}]
    redirect: {authority: other.example}
  - directResponse: {status: 200, body: {string: ok}}
"#
    );
    let requests = vec![req("GET", "/redirect", &[]), req("GET", "/direct", &[])];
    let Some(cases) = run(
        "delegate_root_fault_comes_before_the_redirect",
        &config,
        requests,
    ) else {
        return;
    };
    for c in &cases {
        assert_eq!(c.envoy.status, 418, "{}", c.request.describe());
        assert_eq!(c.envoy.body.as_deref(), Some("fault filter abort"));
        assert!(values(&c.envoy.response_headers, "location").is_empty());
    }
}

/// Difference 8 of issue 12: Header operations at two levels. A single destination's operations join the
/// route's lists: all removes, then the sets (the destination's `set` wins), then the adds
/// (both `add`s of a value are sent). A weighted destination's operations are applied
/// before the route's: the route's `set` wins and its `remove` deletes the destination's
/// `add`. Sets come before adds within a list (`add 1`, `set 2` gives `2, 1`).
#[test]
fn header_operations_at_two_levels() {
    let config = vs(r#"
  - match: [{uri: {prefix: /single}}]
    headers:
      request: {set: {x-user: route}, add: {x-tag: same, x-added: "1"}, remove: [x-resp]}
      response: {set: {x-resp: route}}
    route:
    - destination: {host: alpha, subset: v1}
      headers:
        request: {set: {x-user: dest, x-added: "2"}, add: {x-tag: same}, remove: [x-added]}
        response: {set: {x-resp: dest}}
  - match: [{uri: {prefix: /weighted}}]
    headers:
      request: {set: {x-user: route}, remove: [x-tag]}
      response: {set: {x-resp: route}}
    route:
    - destination: {host: alpha, subset: v1}
      weight: 100
      headers:
        request: {set: {x-user: dest}, add: {x-tag: dest}}
        response: {set: {x-resp: dest}}
    - destination: {host: alpha, subset: v2}
      weight: 0
"#);
    let requests = vec![
        req("GET", "/single", &[("x-tag", "client")]),
        req("GET", "/weighted", &[("x-tag", "client")]),
    ];
    let Some(cases) = run("header_operations_at_two_levels", &config, requests) else {
        return;
    };
    let single = &cases[0].envoy;
    assert_eq!(values(&single.upstream_headers, "x-user"), ["dest"]);
    assert_eq!(
        values(&single.upstream_headers, "x-tag"),
        ["client", "same", "same"]
    );
    // One list: the destination's remove of x-added runs before every set and add, its
    // set (2) before the route's add (1).
    assert_eq!(values(&single.upstream_headers, "x-added"), ["2", "1"]);
    assert_eq!(values(&single.response_headers, "x-resp"), ["dest"]);
    let weighted = &cases[1].envoy;
    assert_eq!(values(&weighted.upstream_headers, "x-user"), ["route"]);
    assert!(values(&weighted.upstream_headers, "x-tag").is_empty());
    assert_eq!(values(&weighted.response_headers, "x-resp"), ["route"]);
}

/// Difference 9 of issue 12: gRPC requests (`content-type: application/grpc` or `application/grpc+...`) get
/// Envoy's local replies as HTTP 200 with `grpc-status` (Envoy's HTTP-to-gRPC mapping:
/// 404 → 12, 503 → 14, 200 and 3xx → 2) and the body as a percent-encoded `grpc-message`;
/// a gRPC-status abort answers a plain request 200 with the plain body `fault filter
/// abort`.
#[test]
fn grpc_local_replies() {
    let config = vs(r#"
  - match: [{uri: {prefix: /down}}]
    directResponse: {status: 503, body: {string: "down %x é"}}
  - match: [{uri: {prefix: /ok}}]
    directResponse: {status: 200, body: {string: ok}}
  - match: [{uri: {prefix: /moved}}]
    redirect: {authority: other.example}
  - match: [{uri: {prefix: /abort-http}}]
    fault: {abort: {httpStatus: 403, percentage: {value: 100}}}
    route: [{destination: {host: alpha, subset: v1}}]
  - match: [{uri: {prefix: /abort-grpc}}]
    fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}
    route: [{destination: {host: alpha, subset: v1}}]
  - match: [{uri: {prefix: /undefined}}]
    route: [{destination: {host: alpha, subset: v9}}]
"#);
    let grpc = [("content-type", "application/grpc")];
    let requests = vec![
        req("POST", "/down", &grpc),
        req("POST", "/ok", &[("content-type", "application/grpc+proto")]),
        req("POST", "/moved", &grpc),
        req("POST", "/abort-http", &grpc),
        req("POST", "/abort-grpc", &grpc),
        req("POST", "/undefined", &grpc),
        req("POST", "/none", &grpc),
        req("POST", "/abort-grpc", &[]),
        req("POST", "/down", &[("content-type", "application/grpc-web")]),
    ];
    let Some(cases) = run("grpc_local_replies", &config, requests) else {
        return;
    };
    let grpc_status = |i: usize| -> (u16, Vec<&str>, Vec<&str>) {
        let e = &cases[i].envoy;
        (
            e.status,
            values(&e.response_headers, "grpc-status"),
            values(&e.response_headers, "grpc-message"),
        )
    };
    assert_eq!(grpc_status(0), (200, vec!["14"], vec!["down %25x %C3%A9"]));
    assert_eq!(grpc_status(1), (200, vec!["2"], vec!["ok"]));
    assert_eq!(grpc_status(2), (200, vec!["2"], vec![]));
    assert_eq!(
        values(&cases[2].envoy.response_headers, "location"),
        ["http://other.example/moved"]
    );
    assert_eq!(grpc_status(3), (200, vec!["7"], vec!["fault filter abort"]));
    assert_eq!(
        grpc_status(4),
        (200, vec!["14"], vec!["fault filter abort"])
    );
    assert_eq!(grpc_status(5), (200, vec!["14"], vec![]));
    assert_eq!(grpc_status(6), (200, vec!["12"], vec![]));
    assert_eq!(grpc_status(7), (200, vec![], vec![]));
    assert_eq!(cases[7].envoy.body.as_deref(), Some("fault filter abort"));
    assert_eq!(
        values(&cases[7].envoy.response_headers, "content-type"),
        ["text/plain"]
    );
    assert_eq!(grpc_status(8), (503, vec![], vec![]));
}
