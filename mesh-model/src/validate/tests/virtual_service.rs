//! VirtualService validation: one test per Istio rule, with Istio's exact message, severity
//! and the field path it is reported at. Inputs follow Istio's own tests
//! (`pkg/config/validation/validation_test.go`, `virtualservice_test.go`) and the
//! `istioctl analyze` test data.

use super::support::{assert_finding, assert_no_errors, findings};
use crate::validate::Severity::{Error, Info, Warning};
use crate::validate::{Finding, Severity};
use crate::vec_map::VecMap;

/// A VirtualService `default/x` with `spec` (block YAML indented by two spaces).
fn vs(spec: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: x, namespace: default}}\nspec:\n{spec}"
    )
}

/// A VirtualService for host `r` whose only HTTP rule is `rule` (indented as a list item
/// under `http:`), e.g. `"  - route: [{destination: {host: r}}]"`.
fn http_rule(rule: &str) -> String {
    vs(&format!("  hosts: [r]\n  http:\n{rule}"))
}

fn show(all: &[Finding]) -> String {
    all.iter()
        .map(|f| format!("  {f}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts a finding with an `istioctl analyze` code.
#[track_caller]
fn assert_coded(yaml: &str, severity: Severity, code: &str, path: &str, message: &str) {
    let all = findings(yaml);
    assert!(
        all.iter().any(|f| f.severity == severity
            && f.code == Some(code)
            && f.path == path
            && f.message == message),
        "expected {severity} {code} at {path:?}: {message:?}\ngot:\n{}",
        show(&all)
    );
}

/// Asserts that no finding has exactly `message`.
#[track_caller]
fn assert_no_message(yaml: &str, message: &str) {
    let all = findings(yaml);
    assert!(
        !all.iter().any(|f| f.message == message),
        "unexpected {message:?}\ngot:\n{}",
        show(&all)
    );
}

/// Asserts that validating `yaml` yields no finding at all.
#[track_caller]
fn assert_clean(yaml: &str) {
    let all = findings(yaml);
    assert!(all.is_empty(), "unexpected findings:\n{}", show(&all));
}

// ---------------------------------------------------------------------------------------
// Valid configurations
// ---------------------------------------------------------------------------------------

/// Bookinfo's weighted split, header-based routing and fault injection are valid and quiet.
#[test]
fn bookinfo_virtual_services_are_valid() {
    assert_clean(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match:
    - headers:
        end-user:
          exact: jason
    route:
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 90
    - destination: {host: reviews, subset: v3}
      weight: 10
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings]
  http:
  - match:
    - headers:
        end-user:
          exact: jason
    fault:
      abort:
        percentage: {value: 100.0}
        httpStatus: 500
      delay:
        percentage: {value: 100.0}
        fixedDelay: 7s
    route:
    - destination: {host: ratings, subset: v1}
  - route:
    - destination: {host: ratings, subset: v2-mysql-vm}
    timeout: 10s
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,connect-failure,503"}
"#,
    );
}

/// Bookinfo's gateway-bound VirtualService (`hosts: ["*"]` on a gateway) is valid.
#[test]
fn gateway_bound_virtual_service_is_valid() {
    assert_clean(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: default}
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http:
  - match:
    - uri: {exact: /productpage}
    - uri: {prefix: /static}
    - uri: {exact: /login}
    - uri: {exact: /logout}
    - uri: {prefix: /api/v1/products}
    route:
    - destination:
        host: productpage
        port: {number: 9080}
    corsPolicy:
      allowOrigins: [{exact: "https://example.com"}, {regex: "https://.*\\.example\\.com"}]
      allowMethods: [GET, POST]
      allowHeaders: [x-custom, "*"]
      maxAge: 24h
    headers:
      request:
        set: {":authority": bookinfo.example.com, x-hostname: "%HOSTNAME%"}
      response:
        remove: [server]
"#,
    );
}

/// A root VirtualService may delegate a route; the delegate VirtualService has no hosts.
#[test]
fn delegation_is_valid() {
    assert_clean(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: default}
spec:
  hosts: [foo.bar]
  gateways: [default/gw]
  http:
  - match: [{uri: {prefix: /productpage}}]
    delegate: {name: productpage, namespace: nsa}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: productpage, namespace: nsa}
spec:
  http:
  - match: [{uri: {prefix: /productpage/v1/}, sourceNamespace: test}]
    route: [{destination: {host: productpage-v1.nsa.svc.cluster.local}}]
  - route: [{destination: {host: productpage.nsa.svc.cluster.local}}]
"#,
    );
}

/// TCP and TLS routes of Istio's samples are valid, including the auto-generated SNI names
/// of AUTO_PASSTHROUGH gateways.
#[test]
fn tcp_and_tls_routes_are_valid() {
    assert_clean(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp-echo, namespace: default}
spec:
  hosts: ["*"]
  gateways: [tcp-echo-gateway]
  tcp:
  - match: [{port: 31400}]
    route:
    - destination: {host: tcp-echo, port: {number: 9000}, subset: v1}
      weight: 80
    - destination: {host: tcp-echo, port: {number: 9000}, subset: v2}
      weight: 20
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: istiod, namespace: istio-system}
spec:
  hosts: [outbound_.15010_._.istiod.istio-system.svc.cluster.local]
  gateways: [ns1/gateway]
  tls:
  - match:
    - sniHosts: [outbound_.15010_._.istiod.istio-system.svc.cluster.local]
    route:
    - destination: {host: istio.istio-system.svc.cluster.local}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tls, namespace: default}
spec:
  hosts: ["*.example.com"]
  tls:
  - match:
    - sniHosts: [a.example.com, "*.b.example.com"]
      port: 443
      destinationSubnets: [10.0.0.0/8, 192.168.1.1]
      sourceLabels: {app: client}
    route: [{destination: {host: egress.example.com}}]
"#,
    );
}

/// Mirrors, redirects, direct responses and rewrites in their valid forms.
#[test]
fn other_route_actions_are_valid() {
    assert_clean(&vs(r#"
  hosts: [r.example.com]
  http:
  - match: [{uri: {prefix: /old}}]
    redirect: {prefixRewrite: /new, redirectCode: 308, derivePort: FROM_REQUEST_PORT}
  - match: [{uri: {exact: /health}}]
    directResponse: {status: 200, body: {string: ok}}
  - match: [{uri: {regex: "/v[0-9]+/.*"}}]
    rewrite: {uriRegexRewrite: {match: "^/v([0-9]+)/(.*)$", rewrite: "/\\2?v=\\1"}, authority: b}
    route: [{destination: {host: b}}]
  - route: [{destination: {host: a}}]
    mirrors:
    - destination: {host: a, subset: v2}
      percentage: {value: 50}
    - destination: {host: c}
"#));
}

// ---------------------------------------------------------------------------------------
// Top level
// ---------------------------------------------------------------------------------------

/// A delegate VirtualService (no hosts) may not name gateways.
#[test]
fn delegate_virtual_service_has_no_gateways() {
    assert_finding(
        &vs("  gateways: [gw]\n  http: [{route: [{destination: {host: a}}]}]\n"),
        Error,
        "spec.gateways",
        "delegate virtual service must have no gateways specified",
    );
}

/// A delegate VirtualService may not have TLS routes.
#[test]
fn delegate_virtual_service_has_no_tls_routes() {
    assert_finding(
        &vs("  tls: [{match: [{sniHosts: [a.com]}], route: [{destination: {host: a}}]}]\n"),
        Error,
        "spec.tls",
        "delegate virtual service must have no tls route specified",
    );
}

/// A delegate VirtualService may not have TCP routes.
#[test]
fn delegate_virtual_service_has_no_tcp_routes() {
    assert_finding(
        &vs("  tcp: [{route: [{destination: {host: foo.baz}}]}]\n"),
        Error,
        "spec.tcp",
        "delegate virtual service must have no tcp route specified",
    );
}

/// Routing on a JWT claim (`@request.auth.claims.*` header keys) needs a gateway; Istio
/// prints the gateway list with Go's `%v`.
#[test]
fn jwt_claim_routing_is_only_for_gateways() {
    assert_finding(
        &vs(r#"
  hosts: [foo.bar]
  gateways: [mesh]
  http:
  - match:
    - uri: {prefix: /}
      headers:
        "@request.auth.claims.foo": {exact: bar}
    route: [{destination: {host: foo.baz}}]
"#),
        Error,
        "spec.http[0].match[0].headers[\"@request.auth.claims.foo\"]",
        "JWT claim based routing (key: @request.auth.claims.foo) is only supported for gateway, found no gateways: [mesh]",
    );
    assert_finding(
        &vs(r#"
  hosts: [foo.bar]
  http:
  - match:
    - withoutHeaders:
        "@request.auth.claims[groups]": {exact: admin}
    route: [{destination: {host: foo.baz}}]
"#),
        Error,
        "spec.http[0].match[0].withoutHeaders[\"@request.auth.claims[groups]\"]",
        "JWT claim based routing (key: @request.auth.claims[groups]) is only supported for gateway, found no gateways: []",
    );
    assert_no_errors(&vs(r#"
  hosts: [foo.bar]
  gateways: [istio-system/ingress]
  http:
  - match:
    - headers:
        "@request.auth.claims.foo": {exact: bar}
    route: [{destination: {host: foo.baz}}]
"#));
}

/// Hosts are wildcard domains: only the first label may be a wildcard.
#[test]
fn hosts_are_wildcard_domains() {
    assert_finding(
        &vs("  hosts: [foo.ba!r]\n  http: [{route: [{destination: {host: foo.baz}}]}]\n"),
        Error,
        "spec.hosts[0]",
        r#"domain name "ba!r" invalid (label "ba!r" invalid)"#,
    );
    assert_finding(
        &vs("  hosts: [foo.*.com]\n  http: [{route: [{destination: {host: foo.baz}}]}]\n"),
        Error,
        "spec.hosts[0]",
        r#"domain name "*.com" invalid (label "*" invalid)"#,
    );
}

/// An IP address is accepted as a host, although it is not a domain name.
#[test]
fn ip_address_hosts_are_accepted() {
    assert_clean(&vs(
        "  hosts: [10.1.2.3, \"::1\"]\n  http: [{route: [{destination: {host: foo.baz}}]}]\n",
    ));
}

/// `*` as a host is rejected when the VirtualService applies to sidecars, accepted on a
/// gateway.
#[test]
fn wildcard_host_is_not_allowed_on_the_mesh() {
    assert_finding(
        &vs("  hosts: [\"*\"]\n  http: [{route: [{destination: {host: foo.baz}}]}]\n"),
        Error,
        "spec.hosts[0]",
        "wildcard host * is not allowed for virtual services bound to the mesh gateway",
    );
    assert_finding(
        &vs(
            "  hosts: [\"*\"]\n  gateways: [gw, mesh]\n  http: [{route: [{destination: {host: foo.baz}}]}]\n",
        ),
        Error,
        "spec.hosts[0]",
        "wildcard host * is not allowed for virtual services bound to the mesh gateway",
    );
    assert_no_errors(&vs(
        "  hosts: [\"*\"]\n  gateways: [somegateway]\n  http: [{route: [{destination: {host: foo.baz}}]}]\n",
    ));
}

/// Hosts that overlap (`*.foo.bar` and `*.bar`) are duplicates.
#[test]
fn hosts_may_not_overlap() {
    assert_finding(
        &vs(
            "  hosts: [\"*.foo.bar\", \"*.bar\"]\n  http: [{route: [{destination: {host: foo.baz}}]}]\n",
        ),
        Error,
        "spec.hosts[1]",
        "duplicate hosts in virtual service: *.foo.bar & *.bar",
    );
    assert_finding(
        &vs("  hosts: [a.com, a.com]\n  http: [{route: [{destination: {host: foo.baz}}]}]\n"),
        Error,
        "spec.hosts[1]",
        "duplicate hosts in virtual service: a.com & a.com",
    );
}

/// A VirtualService needs HTTP, TCP or TLS routes.
#[test]
fn some_routes_are_required() {
    assert_finding(
        &vs("  hosts: [foo.bar]\n"),
        Error,
        "spec",
        "http, tcp or tls must be provided in virtual service",
    );
}

/// A gateway name without `/` in FQDN form (`name.namespace...`) is a legacy form: a warning
/// recommending `namespace/name`.
#[test]
fn legacy_gateway_names_are_warned_about() {
    assert_finding(
        &vs(
            "  hosts: [foo.bar]\n  gateways: [gateway.example.com]\n  http: [{route: [{destination: {host: foo.baz}}]}]\n",
        ),
        Warning,
        "spec.gateways[0]",
        r#"using legacy gatewayName format "gateway.example.com"; prefer the <namespace>/<name> format: "example/gateway""#,
    );
}

/// A gateway name without `/` must be a valid FQDN.
#[test]
fn plain_gateway_names_are_fqdns() {
    assert_finding(
        &vs(
            "  hosts: [foo.bar]\n  gateways: [b@dgateway]\n  http: [{route: [{destination: {host: foo.baz}}]}]\n",
        ),
        Error,
        "spec.gateways[0]",
        r#"domain name "b@dgateway" invalid (label "b@dgateway" invalid)"#,
    );
}

/// Quirk: Istio stops checking gateway names after the first one without a `/`.
#[test]
fn gateway_names_after_a_plain_name_are_not_checked() {
    assert_no_errors(&vs(
        "  hosts: [foo.bar]\n  gateways: [mesh, \"*/gw\"]\n  http: [{route: [{destination: {host: foo.baz}}]}]\n",
    ));
}

/// `namespace/name` gateway references: both parts non-empty DNS labels (no `*`).
#[test]
fn namespaced_gateway_names_are_labels() {
    let yaml = |gw: &str| {
        vs(&format!(
            "  hosts: [foo.bar]\n  gateways: [\"{gw}\"]\n  http: [{{route: [{{destination: {{host: foo.baz}}}}]}}]\n"
        ))
    };
    assert_finding(
        &yaml("ns1/*"),
        Error,
        "spec.gateways[0]",
        r#"invalid value for gateway name: "*""#,
    );
    assert_finding(
        &yaml("*/gateway"),
        Error,
        "spec.gateways[0]",
        r#"invalid value for namespace: "*""#,
    );
    assert_finding(
        &yaml("/gateway"),
        Error,
        "spec.gateways[0]",
        "config namespace and gateway name cannot be empty",
    );
    assert_no_errors(&yaml("ns1/gateway"));
}

/// VirtualServices Istio generates from Gateway API routes (route-semantics annotation
/// `gateway`) skip the gateway-name label check and destination checks.
#[test]
fn gateway_route_semantics_relax_checks() {
    assert_no_errors(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: x
  namespace: default
  annotations: {internal.istio.io/route-semantics: gateway}
spec:
  hosts: [foo.bar]
  gateways: [ns1/Gateway_Name]
  http: [{route: [{destination: {host: "*"}}]}]
"#,
    );
}

/// `exportTo`: `.`, `*` or namespace names, without duplicates.
#[test]
fn export_to_entries_are_checked() {
    assert_finding(
        &vs(
            "  hosts: [foo.bar]\n  exportTo: [default, .]\n  http: [{route: [{destination: {host: foo.baz}}]}]\n",
        ),
        Error,
        "spec.exportTo",
        "duplicate entries in exportTo: . and current namespace default",
    );
    assert_finding(
        &vs(
            "  hosts: [foo.bar]\n  exportTo: [\"*\", ns1]\n  http: [{route: [{destination: {host: foo.baz}}]}]\n",
        ),
        Error,
        "spec.exportTo",
        "cannot have both public (*) and non-public exportTo values for a resource",
    );
}

// ---------------------------------------------------------------------------------------
// HTTP route actions: route, redirect, direct response, delegate
// ---------------------------------------------------------------------------------------

/// A root route that delegates may not also redirect.
#[test]
fn root_route_must_not_redirect() {
    assert_finding(
        &http_rule(
            "  - name: api\n    delegate: {name: d, namespace: ns1}\n    redirect: {uri: /lerp, authority: foo.biz}\n",
        ),
        Error,
        "spec.http[0].redirect",
        "root HTTP route api must not specify redirect",
    );
}

/// A root route that delegates may not also forward.
#[test]
fn root_route_must_not_route() {
    assert_finding(
        &http_rule(
            "  - delegate: {name: d, namespace: ns1}\n    route: [{destination: {host: foo.baz}}]\n",
        ),
        Error,
        "spec.http[0].route",
        "root HTTP route  must not specify route",
    );
}

/// Routes of a delegate VirtualService may not delegate further.
#[test]
fn delegate_route_cannot_delegate() {
    assert_finding(
        &vs("  http: [{delegate: {name: d, namespace: ns1}}]\n"),
        Error,
        "spec.http[0].delegate",
        "delegate HTTP route cannot contain delegate",
    );
}

/// A redirect excludes `route`, `fault`, `rewrite` and `directResponse`.
#[test]
fn redirect_excludes_other_actions() {
    let yaml = http_rule(
        r#"  - redirect: {uri: /lerp}
    route: [{destination: {host: foo.baz}}]
    fault: {abort: {httpStatus: 500}}
    rewrite: {uri: /x}
    directResponse: {status: 200}
"#,
    );
    assert_finding(
        &yaml,
        Error,
        "spec.http[0].route",
        "HTTP route cannot contain both route and redirect",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.http[0].fault",
        "HTTP route cannot contain both fault and redirect",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.http[0].rewrite",
        "HTTP route rule cannot contain both rewrite and redirect",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.http[0].directResponse",
        "HTTP route rule cannot contain both direct_response and redirect",
    );
}

/// A direct response excludes `route`, `fault` and `rewrite`.
#[test]
fn direct_response_excludes_other_actions() {
    let yaml = http_rule(
        r#"  - directResponse: {status: 503}
    route: [{destination: {host: foo.baz}}]
    fault: {abort: {httpStatus: 500}}
    rewrite: {uri: /x}
"#,
    );
    assert_finding(
        &yaml,
        Error,
        "spec.http[0].route",
        "HTTP route cannot contain both route and direct_response",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.http[0].fault",
        "HTTP route cannot contain both fault and direct_response",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.http[0].rewrite",
        "HTTP route rule cannot contain both rewrite and direct_response",
    );
}

/// A route must forward, redirect or answer directly.
#[test]
fn route_redirect_or_direct_response_is_required() {
    assert_finding(
        &http_rule("  - timeout: 1s\n"),
        Error,
        "spec.http[0]",
        "HTTP route, redirect or direct_response is required",
    );
}

/// `mirror` and `mirrors` are exclusive.
#[test]
fn mirror_and_mirrors_are_exclusive() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: foo.baz}}]\n    mirror: {host: foo.baz}\n    mirrors: [{destination: {host: foo.bar}}]\n",
        ),
        Error,
        "spec.http[0].mirrors",
        "HTTP route cannot contain both mirror and mirrors",
    );
}

// ---------------------------------------------------------------------------------------
// Match conditions
// ---------------------------------------------------------------------------------------

/// A rule whose only match block is `m` (flow YAML).
fn with_match(m: &str) -> String {
    http_rule(&format!(
        "  - match: [{m}]\n    route: [{{destination: {{host: foo.baz}}}}]\n"
    ))
}

/// Header names to match on may not be empty.
#[test]
fn match_header_name_is_not_empty() {
    assert_finding(
        &with_match(r#"{headers: {"": {exact: a}}}"#),
        Error,
        "spec.http[0].match[0].headers[\"\"]",
        "header name cannot be empty",
    );
}

/// Header names are RFC 7230 tokens (upper case accepted), pseudo headers or JWT claims.
#[test]
fn match_header_name_is_a_token() {
    assert_finding(
        &with_match(r#"{headers: {"illegal\"char": {exact: a}}}"#),
        Error,
        "spec.http[0].match[0].headers[\"illegal\\\"char\"]",
        "header name illegal\"char is not a valid header name",
    );
    assert_finding(
        &with_match(r#"{withoutHeaders: {"::": {exact: a}}}"#),
        Error,
        "spec.http[0].match[0].withoutHeaders.::",
        "header name :: is not a valid header name",
    );
    assert_no_errors(&with_match(
        r#"{headers: {X-Requested-With: {exact: a}, ":authority": {exact: b}, "funky!$#_": {}}}"#,
    ));
}

/// A prefix header match may not be empty.
#[test]
fn header_prefix_match_is_not_empty() {
    assert_finding(
        &with_match(r#"{headers: {emptyprefix: {prefix: ""}}}"#),
        Error,
        "spec.http[0].match[0].headers.emptyprefix",
        r#""headers": prefix string match should not be empty"#,
    );
}

/// A regex match may not be empty (scheme, method, authority, queryParams, uri, headers).
#[test]
fn regex_match_is_not_empty() {
    assert_finding(
        &with_match(r#"{method: {regex: ""}}"#),
        Error,
        "spec.http[0].match[0].method",
        r#""method": regex string match should not be empty"#,
    );
    assert_finding(
        &with_match(r#"{uri: {regex: ""}}"#),
        Error,
        "spec.http[0].match[0].uri",
        r#""uri": regex string match should not be empty"#,
    );
    assert_finding(
        &with_match(r#"{queryParams: {q: {regex: ""}}}"#),
        Error,
        "spec.http[0].match[0].queryParams.q",
        r#""queryParams": regex string match should not be empty"#,
    );
}

/// Prefix matches on scheme, method and authority may not be empty; an empty URI prefix is
/// allowed (it matches everything).
#[test]
fn empty_prefix_allowed_for_uri_only() {
    assert_finding(
        &with_match(r#"{scheme: {prefix: ""}}"#),
        Error,
        "spec.http[0].match[0].scheme",
        r#""scheme": prefix string match should not be empty"#,
    );
    assert_finding(
        &with_match(r#"{authority: {prefix: ""}}"#),
        Error,
        "spec.http[0].match[0].authority",
        r#""authority": prefix string match should not be empty"#,
    );
    assert_no_errors(&with_match(r#"{uri: {prefix: ""}}"#));
}

/// Regexes are RE2: errors read as Go's `regexp.Compile` prints them.
#[test]
fn regex_match_is_valid_re2() {
    assert_finding(
        &with_match(r#"{headers: {x-user: {regex: "(abc"}}}"#),
        Error,
        "spec.http[0].match[0].headers.x-user",
        r#""headers": error parsing regexp: missing closing ): `(abc`; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)"#,
    );
    assert_finding(
        &with_match(r#"{withoutHeaders: {header: {regex: "[z-a]"}}}"#),
        Error,
        "spec.http[0].match[0].withoutHeaders.header",
        r#""withoutHeaders": error parsing regexp: invalid character class range: `z-a`; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)"#,
    );
}

/// Regexes are at most 1024 bytes.
#[test]
fn regex_match_is_at_most_1024_bytes() {
    let long = "a".repeat(1025);
    assert_finding(
        &with_match(&format!("{{uri: {{regex: {long}}}}}")),
        Error,
        "spec.http[0].match[0].uri",
        r#""uri": regex is too large, max length allowed is 1024"#,
    );
}

/// `withoutHeaders` with `regex: "*"` is a presence match, not a regex.
#[test]
fn without_headers_star_regex_is_presence() {
    assert_no_errors(&with_match(r#"{withoutHeaders: {header: {regex: "*"}}}"#));
}

/// The match port is a valid port number.
#[test]
fn match_port_is_in_range() {
    assert_finding(
        &with_match("{port: 70000}"),
        Error,
        "spec.http[0].match[0].port",
        "port number 70000 must be in the range 1..65535",
    );
}

/// Source labels follow Kubernetes label syntax.
#[test]
fn match_source_labels_are_labels() {
    assert_finding(
        &with_match(r#"{sourceLabels: {app: "bad value"}}"#),
        Error,
        "spec.http[0].match[0].sourceLabels.app",
        r#"invalid tag value: "bad value""#,
    );
}

/// The source namespace is a DNS-1123 label.
#[test]
fn match_source_namespace_is_a_label() {
    assert_finding(
        &with_match("{sourceNamespace: Not_A_Label}"),
        Error,
        "spec.http[0].match[0].sourceNamespace",
        "sourceNamespace match Not_A_Label is invalid",
    );
}

/// Match-level gateways are checked like the top-level list, but Istio drops the
/// legacy-name warning there.
#[test]
fn match_gateways_are_checked_without_warnings() {
    assert_finding(
        &with_match(r#"{gateways: ["ns/*"]}"#),
        Error,
        "spec.http[0].match[0].gateways[0]",
        r#"invalid value for gateway name: "*""#,
    );
    assert_clean(&with_match("{gateways: [gw.ns]}"));
}

/// Schema: a string match sets at most one of `exact`, `prefix`, `regex`.
#[test]
fn string_match_is_a_oneof() {
    assert_finding(
        &with_match("{uri: {exact: /a, prefix: /b}}"),
        Error,
        "spec.http[0].match[0].uri",
        "only one of exact, prefix or regex may be set",
    );
    assert_finding(
        &with_match("{headers: {x: {exact: a, regex: b}}}"),
        Error,
        "spec.http[0].match[0].headers.x",
        "only one of exact, prefix or regex may be set",
    );
}

// ---------------------------------------------------------------------------------------
// Header manipulation
// ---------------------------------------------------------------------------------------

/// Header operation names may not be empty.
#[test]
fn header_operation_name_is_not_empty() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: foo.baz}}]\n    headers: {request: {add: {\"\": value}}}\n",
        ),
        Error,
        "spec.http[0].headers.request.add[\"\"]",
        "header name cannot be empty",
    );
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: foo.baz}}]\n    headers: {response: {remove: [\"\"]}}\n",
        ),
        Error,
        "spec.http[0].headers.response.remove[0]",
        "header name cannot be empty",
    );
}

/// Request `add`/`set` may not target pseudo headers other than `:authority`.
#[test]
fn request_header_set_cannot_target_pseudo_headers() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: foo.baz}}]\n    headers: {request: {set: {\":path\": /x}}}\n",
        ),
        Error,
        "spec.http[0].headers.request.set.:path",
        r#"invalid header ":path": header cannot have ":" prefix"#,
    );
    assert_clean(&http_rule(
        "  - route: [{destination: {host: foo.baz}}]\n    headers: {request: {set: {\":authority\": foo}}}\n",
    ));
}

/// Removing `Host`, or touching `Host` or pseudo headers in a response, is rejected.
#[test]
fn host_and_pseudo_headers_cannot_be_removed_or_set_in_responses() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: foo.baz}}]\n    headers: {request: {remove: [Host]}}\n",
        ),
        Error,
        "spec.http[0].headers.request.remove[0]",
        r#"invalid header "Host": cannot set Host header"#,
    );
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: foo.baz}}]\n    headers: {response: {set: {\":status\": \"200\"}}}\n",
        ),
        Error,
        "spec.http[0].headers.response.set.:status",
        r#"invalid header ":status": header cannot have ":" prefix"#,
    );
}

/// Header values are Envoy formatters: `%` must be escaped as `%%` or start a `%VAR%`.
#[test]
fn header_values_are_valid_formatters() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: foo.baz}}]\n    headers: {response: {set: {name: \"abcd%oijasodifj\"}}}\n",
        ),
        Error,
        "spec.http[0].headers.response.set.name",
        "header value configuration: invalid header configuration. Un-terminated variable expression 'abcd%oijasodifj'",
    );
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: foo.baz}}]\n    headers: {request: {add: {name: \"%START_TIME%%\"}}}\n",
        ),
        Error,
        "spec.http[0].headers.request.add.name",
        "header value configuration: invalid header configuration. Un-escaped %",
    );
    assert_clean(&http_rule(
        "  - route: [{destination: {host: foo.baz}}]\n    headers: {response: {add: {i-love-istio: \"100%% and more\", name: \"hello %HOSTNAME%\"}}}\n",
    ));
}

/// Header values may not contain control characters (tab excepted).
#[test]
fn header_values_have_no_control_characters() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: foo.baz}}]\n    headers: {request: {set: {x: \"a\\x01b\"}}}\n",
        ),
        Error,
        "spec.http[0].headers.request.set.x",
        "header value configuration a\u{1}b is invalid",
    );
}

/// Destination-level header operations follow the same rules.
#[test]
fn destination_header_operations_are_checked() {
    assert_finding(
        &http_rule(
            "  - route:\n    - destination: {host: foo.baz}\n      headers: {request: {remove: [host]}}\n",
        ),
        Error,
        "spec.http[0].route[0].headers.request.remove[0]",
        r#"invalid header "host": cannot set Host header"#,
    );
}

/// The authority may be rewritten in one place only: `rewrite.authority` or one
/// `:authority`/`Host` header.
#[test]
fn authority_is_rewritten_once() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: foo.baz}}]\n    rewrite: {authority: bar}\n    headers: {request: {set: {\":authority\": foo}}}\n",
        ),
        Error,
        "spec.http[0].headers.request.set.:authority",
        r#"authority header cannot be set multiple times: have "bar", attempting to set "foo""#,
    );
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: foo.baz}}]\n    headers: {request: {set: {host: a}, add: {\":authority\": b}}}\n",
        ),
        Error,
        "spec.http[0].headers.request.add.:authority",
        r#"authority header cannot be set multiple times: have "a", attempting to set "b""#,
    );
}

// ---------------------------------------------------------------------------------------
// Destinations and weights
// ---------------------------------------------------------------------------------------

/// Every route entry needs a destination.
#[test]
fn destination_is_required() {
    assert_finding(
        &http_rule("  - route: [{weight: 100}]\n"),
        Error,
        "spec.http[0].route[0]",
        "destination is required",
    );
}

/// Weights are not negative.
#[test]
fn weight_is_not_negative() {
    assert_finding(
        &http_rule(
            "  - route:\n    - destination: {host: a}\n      weight: 5\n    - destination: {host: b}\n      weight: -1\n",
        ),
        Error,
        "spec.http[0].route[1].weight",
        "weight -1 < 0",
    );
}

/// With several destinations, the weights may not all be zero; one destination needs no
/// weight, and weights need not sum to 100.
#[test]
fn total_weight_is_not_zero() {
    assert_finding(
        &http_rule("  - route:\n    - destination: {host: a}\n    - destination: {host: b}\n"),
        Error,
        "spec.http[0].route",
        "total destination weight = 0",
    );
    assert_clean(&http_rule(
        "  - route: [{destination: {host: a}, weight: 0}]\n",
    ));
    assert_clean(&http_rule(
        "  - route:\n    - destination: {host: a}\n      weight: 550\n    - destination: {host: b}\n      weight: 500\n",
    ));
}

/// The destination host is a (wildcard) domain, and not `*`.
#[test]
fn destination_host_is_a_domain() {
    assert_finding(
        &http_rule("  - route: [{destination: {host: \"*\"}}]\n"),
        Error,
        "spec.http[0].route[0].destination.host",
        "invalid destination host *",
    );
    assert_finding(
        &http_rule("  - route: [{destination: {host: default/baz}}]\n"),
        Error,
        "spec.http[0].route[0].destination.host",
        r#"domain name "default/baz" invalid (label "default/baz" invalid)"#,
    );
    assert_finding(
        &http_rule("  - route: [{destination: {}}]\n"),
        Error,
        "spec.http[0].route[0].destination.host",
        "empty domain name not allowed",
    );
    assert_no_errors(&http_rule(
        "  - route: [{destination: {host: \"*-foo.baz\"}}]\n",
    ));
}

/// Subset names are DNS-1123 labels; Istio's label pattern admits upper case (`V1`).
#[test]
fn destination_subset_is_a_label() {
    assert_clean(&http_rule(
        "  - route: [{destination: {host: a, subset: V1}}]\n",
    ));
    assert_finding(
        &http_rule("  - route: [{destination: {host: a, subset: v1.0}}]\n"),
        Error,
        "spec.http[0].route[0].destination.subset",
        "subset name is invalid: v1.0",
    );
}

/// A destination port selector names a port number.
#[test]
fn destination_port_is_in_range() {
    assert_finding(
        &http_rule("  - route: [{destination: {host: a, port: {}}}]\n"),
        Error,
        "spec.http[0].route[0].destination.port.number",
        "port number 0 must be in the range 1..65535",
    );
}

// ---------------------------------------------------------------------------------------
// Mirroring
// ---------------------------------------------------------------------------------------

/// The deprecated integer `mirrorPercent` is at most 100, and always earns a deprecation
/// warning.
#[test]
fn mirror_percent_is_deprecated() {
    let yaml = http_rule(
        "  - route: [{destination: {host: a}}]\n    mirror: {host: b}\n    mirrorPercent: 101\n",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.http[0].mirrorPercent",
        "mirror_percent must have a max value of 100 (it has 101)",
    );
    assert_finding(
        &yaml,
        Warning,
        "spec.http[0].mirrorPercent",
        r#"using deprecated setting "mirrorPercent", use "mirrorPercentage" instead"#,
    );
}

/// `mirrorPercentage` is within 0..100 (printed with Go's `%f`).
#[test]
fn mirror_percentage_is_in_range() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    mirror: {host: b}\n    mirrorPercentage: {value: 101}\n",
        ),
        Error,
        "spec.http[0].mirrorPercentage",
        "mirror_percentage must have a max value of 100 (it has 101.000000)",
    );
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    mirror: {host: b}\n    mirrorPercentage: {value: -1}\n",
        ),
        Error,
        "spec.http[0].mirrorPercentage",
        "mirror_percentage must have a min value of 0 (it has -1.000000)",
    );
}

/// The mirror destination is validated like a route destination.
#[test]
fn mirror_destination_is_checked() {
    assert_finding(
        &http_rule("  - route: [{destination: {host: a}}]\n    mirror: {host: a, subset: v1_0}\n"),
        Error,
        "spec.http[0].mirror.subset",
        "subset name is invalid: v1_0",
    );
}

/// Each of `mirrors` needs a destination and a percentage within 0..100.
#[test]
fn mirrors_are_checked() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    mirrors: [{percentage: {value: 5}}]\n",
        ),
        Error,
        "spec.http[0].mirrors[0]",
        "destination is required for mirrors",
    );
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    mirrors: [{destination: {host: b}}, {destination: {host: c}, percentage: {value: 101}}]\n",
        ),
        Error,
        "spec.http[0].mirrors[1].percentage",
        "mirror percentage must have a max value of 100 (it has 101.000000)",
    );
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    mirrors: [{destination: {host: b}, percentage: {value: -1}}]\n",
        ),
        Error,
        "spec.http[0].mirrors[0].percentage",
        "mirror percentage must have a min value of 0 (it has -1.000000)",
    );
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    mirrors: [{destination: {host: \"*\"}}]\n",
        ),
        Error,
        "spec.http[0].mirrors[0].destination.host",
        "invalid destination host *",
    );
}

// ---------------------------------------------------------------------------------------
// Redirect, direct response, rewrite
// ---------------------------------------------------------------------------------------

/// A redirect sets `uri` or `prefixRewrite`, not both.
#[test]
fn redirect_uri_and_prefix_rewrite_are_exclusive() {
    assert_finding(
        &http_rule("  - redirect: {uri: /old, prefixRewrite: /new}\n"),
        Error,
        "spec.http[0].redirect.prefixRewrite",
        "redirect may only specify one of uri or prefix_rewrite",
    );
}

/// `prefixRewrite` needs every URI match of the rule to be a prefix match.
#[test]
fn redirect_prefix_rewrite_needs_prefix_matches() {
    assert_finding(
        &http_rule("  - match: [{uri: {exact: /foo}}]\n    redirect: {prefixRewrite: /bar}\n"),
        Error,
        "spec.http[0].redirect.prefixRewrite",
        "redirect prefix_rewrite requires all URI matches to use prefix match type",
    );
    assert_no_errors(&http_rule(
        "  - match: [{headers: {x-foo: {exact: bar}}}]\n    redirect: {prefixRewrite: /bar}\n",
    ));
}

/// A redirect changes something: URI, authority, scheme or port (`derivePort` counts).
#[test]
fn redirect_must_change_something() {
    assert_finding(
        &http_rule("  - redirect: {redirectCode: 302}\n"),
        Error,
        "spec.http[0].redirect",
        "redirect must specify URI, authority, scheme, or port",
    );
    assert_no_errors(&http_rule(
        "  - redirect: {derivePort: FROM_PROTOCOL_DEFAULT}\n",
    ));
}

/// The redirect code is a 3xx.
#[test]
fn redirect_code_is_3xx() {
    assert_finding(
        &http_rule("  - redirect: {uri: t, redirectCode: 400}\n"),
        Error,
        "spec.http[0].redirect.redirectCode",
        "400 is not a valid redirect code, must be 3xx",
    );
}

/// The redirect scheme is `http` or `https`.
#[test]
fn redirect_scheme_is_http_or_https() {
    assert_finding(
        &http_rule("  - redirect: {scheme: ftp}\n"),
        Error,
        "spec.http[0].redirect.scheme",
        r#"invalid redirect scheme, must be "http" or "https""#,
    );
}

/// The redirect port is a valid port number.
#[test]
fn redirect_port_is_in_range() {
    assert_finding(
        &http_rule("  - redirect: {port: 70000}\n"),
        Error,
        "spec.http[0].redirect.port",
        "port number 70000 must be in the range 1..65535",
    );
}

/// Schema: `port` and `derivePort` are a oneof.
#[test]
fn redirect_port_is_a_oneof() {
    assert_finding(
        &http_rule("  - redirect: {port: 8080, derivePort: FROM_REQUEST_PORT}\n"),
        Error,
        "spec.http[0].redirect",
        "only one of port or derivePort may be set",
    );
}

/// Direct response status: quirk, Istio accepts 200..=600 although it says 200-599.
#[test]
fn direct_response_status_range() {
    assert_finding(
        &http_rule("  - directResponse: {status: 199}\n"),
        Error,
        "spec.http[0].directResponse.status",
        "HTTP status 199 is not in range 200-599",
    );
    assert_finding(
        &http_rule("  - directResponse: {status: 601}\n"),
        Error,
        "spec.http[0].directResponse.status",
        "HTTP status 601 is not in range 200-599",
    );
    assert_no_errors(&http_rule("  - directResponse: {status: 600}\n"));
}

/// A direct response body over 100 KiB earns a warning; over 1 MiB an error (bytes count as
/// decoded).
#[test]
fn direct_response_body_size() {
    let body = |n: usize| {
        http_rule(&format!(
            "  - directResponse: {{status: 200, body: {{string: {}}}}}\n",
            "a".repeat(n)
        ))
    };
    assert_finding(
        &body(101 * 1024),
        Warning,
        "spec.http[0].directResponse.body",
        "large direct_responses may impact control plane performance",
    );
    assert_finding(
        &body(2 * 1024 * 1024),
        Error,
        "spec.http[0].directResponse.body",
        "large direct_responses may impact control plane performance, must be less than 1MB",
    );
    // 102402 base64 characters decode to 76801 bytes: under the limit.
    assert_clean(&http_rule(&format!(
        "  - directResponse: {{status: 200, body: {{bytes: {}}}}}\n",
        "QUFB".repeat(25_600)
    )));
    // 136536 characters decode to 102402 bytes: over 100 KiB.
    assert_finding(
        &http_rule(&format!(
            "  - directResponse: {{status: 200, body: {{bytes: {}}}}}\n",
            "QUFB".repeat(34_134)
        )),
        Warning,
        "spec.http[0].directResponse.body",
        "large direct_responses may impact control plane performance",
    );
}

/// Schema: a body is `string` or `bytes`.
#[test]
fn direct_response_body_is_a_oneof() {
    assert_finding(
        &http_rule("  - directResponse: {status: 200, body: {string: a, bytes: YQ==}}\n"),
        Error,
        "spec.http[0].directResponse.body",
        "only one of string or bytes may be set",
    );
}

/// A rewrite sets `uri` or `uriRegexRewrite`, not both.
#[test]
fn rewrite_uri_and_regex_are_exclusive() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    rewrite: {uri: /p, uriRegexRewrite: {match: a, rewrite: b}}\n",
        ),
        Error,
        "spec.http[0].rewrite",
        "rewrite may only contain one of URI or UriRegexRewrite",
    );
}

/// A rewrite rewrites something.
#[test]
fn rewrite_must_rewrite_something() {
    assert_finding(
        &http_rule("  - route: [{destination: {host: a}}]\n    rewrite: {}\n"),
        Error,
        "spec.http[0].rewrite",
        "rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified",
    );
}

/// A regex rewrite needs both `match` and `rewrite`, and `match` is RE2. Istio joins the
/// cause under "UriRegexRewrite has errors"; both are reported.
#[test]
fn uri_regex_rewrite_is_complete_and_valid() {
    let missing = http_rule(
        "  - route: [{destination: {host: a}}]\n    rewrite: {uriRegexRewrite: {rewrite: /x}}\n",
    );
    assert_finding(
        &missing,
        Error,
        "spec.http[0].rewrite.uriRegexRewrite",
        "UriRegexRewrite has errors",
    );
    assert_finding(
        &missing,
        Error,
        "spec.http[0].rewrite.uriRegexRewrite",
        "UriRegexRewrite requires both Rewrite and Match fields to be specified",
    );
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    rewrite: {uriRegexRewrite: {match: \"[\", rewrite: \"[\"}}\n",
        ),
        Error,
        "spec.http[0].rewrite.uriRegexRewrite.match",
        r#""HTTPRewrite.UriRegexRewrite.Match": error parsing regexp: missing closing ]: `[`; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)"#,
    );
}

// ---------------------------------------------------------------------------------------
// Retries and timeouts
// ---------------------------------------------------------------------------------------

/// Retry attempts are not negative.
#[test]
fn retry_attempts_are_not_negative() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    retries: {attempts: -1, perTryTimeout: 2s}\n",
        ),
        Error,
        "spec.http[0].retries.attempts",
        "attempts cannot be negative",
    );
}

/// With `attempts: 0` (retries disabled) no other retry setting may be given.
#[test]
fn disabled_retries_have_no_policy() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    retries: {attempts: 0, retryOn: 5xx}\n",
        ),
        Error,
        "spec.http[0].retries",
        "http retry policy configured when attempts are set to 0 (disabled)",
    );
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    retries: {retryRemoteLocalities: false}\n",
        ),
        Error,
        "spec.http[0].retries",
        "http retry policy configured when attempts are set to 0 (disabled)",
    );
    assert_clean(&http_rule(
        "  - route: [{destination: {host: a}}]\n    retries: {attempts: 0}\n",
    ));
}

/// `retryOn` is a comma-separated list of Envoy policies or HTTP status codes Go knows;
/// entries are not trimmed.
#[test]
fn retry_on_tokens_are_known() {
    let yaml = |on: &str| {
        http_rule(&format!(
            "  - route: [{{destination: {{host: a}}}}]\n    retries: {{attempts: 3, retryOn: \"{on}\"}}\n"
        ))
    };
    assert_finding(
        &yaml("5xx,invalid policy"),
        Error,
        "spec.http[0].retries.retryOn",
        r#""invalid policy" is not a valid retryOn policy"#,
    );
    assert_finding(
        &yaml("5xx, reset"),
        Error,
        "spec.http[0].retries.retryOn",
        r#"" reset" is not a valid retryOn policy"#,
    );
    assert_finding(
        &yaml("600,connect-failure"),
        Error,
        "spec.http[0].retries.retryOn",
        r#""600" is not a valid retryOn policy"#,
    );
    assert_clean(&yaml("503,425,retriable-status-codes,unavailable"));
}

/// Retry durations are whole milliseconds, at least 1 ms.
#[test]
fn retry_durations_are_milliseconds() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    retries: {attempts: 3, perTryTimeout: 2.0000001s}\n",
        ),
        Error,
        "spec.http[0].retries.perTryTimeout",
        "only durations to ms precision are supported",
    );
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    retries: {attempts: 3, backoff: 999ns}\n",
        ),
        Error,
        "spec.http[0].retries.backoff",
        "duration must be greater than 1ms",
    );
}

/// The route timeout is whole milliseconds, at least 1 ms (so `0s` is rejected).
#[test]
fn timeout_is_milliseconds() {
    assert_finding(
        &http_rule("  - route: [{destination: {host: a}}]\n    timeout: 0s\n"),
        Error,
        "spec.http[0].timeout",
        "duration must be greater than 1ms",
    );
    assert_finding(
        &http_rule("  - route: [{destination: {host: a}}]\n    timeout: 1.0005s\n"),
        Error,
        "spec.http[0].timeout",
        "only durations to ms precision are supported",
    );
}

// ---------------------------------------------------------------------------------------
// Fault injection
// ---------------------------------------------------------------------------------------

/// A fault has an abort, a delay, or both.
#[test]
fn fault_has_abort_or_delay() {
    assert_finding(
        &http_rule("  - route: [{destination: {host: a}}]\n    fault: {}\n"),
        Error,
        "spec.http[0].fault",
        "HTTP fault injection must have an abort and/or a delay",
    );
}

/// Fault percentages are 0, or within [0.0001, 100].
#[test]
fn fault_percentage_is_in_range() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    fault: {abort: {httpStatus: 503, percentage: {value: -10}}}\n",
        ),
        Error,
        "spec.http[0].fault.abort.percentage",
        "percentage -10 is neither 0.0, nor in range [0.0001, 100.0]",
    );
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    fault: {delay: {fixedDelay: 1s, percentage: {value: 0.00001}}}\n",
        ),
        Error,
        "spec.http[0].fault.delay.percentage",
        "percentage 1e-05 is neither 0.0, nor in range [0.0001, 100.0]",
    );
}

/// The abort HTTP status is within 200..=600.
#[test]
fn abort_http_status_range() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    fault: {abort: {httpStatus: 9000}}\n",
        ),
        Error,
        "spec.http[0].fault.abort.httpStatus",
        "HTTP status 9000 is not in range 200-599",
    );
    assert_no_errors(&http_rule(
        "  - route: [{destination: {host: a}}]\n    fault: {abort: {httpStatus: 555, percentage: {value: 100}}}\n",
    ));
}

/// The abort gRPC status is a gRPC code name.
#[test]
fn abort_grpc_status_is_a_code_name() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    fault: {abort: {grpcStatus: BAD_STATUS}}\n",
        ),
        Error,
        "spec.http[0].fault.abort.grpcStatus",
        r#"gRPC status "BAD_STATUS" is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'"#,
    );
    assert_clean(&http_rule(
        "  - route: [{destination: {host: a}}]\n    fault: {abort: {grpcStatus: DEADLINE_EXCEEDED}}\n",
    ));
}

/// HTTP/2 error aborts are not supported.
#[test]
fn abort_http2_error_is_not_supported() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    fault: {abort: {http2Error: REFUSED_STREAM}}\n",
        ),
        Error,
        "spec.http[0].fault.abort.http2Error",
        "HTTP/2 abort fault injection not supported yet",
    );
}

/// An abort without an error type is accepted with a warning.
#[test]
fn abort_without_error_type_is_warned_about() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    fault: {abort: {percentage: {value: 10}}}\n",
        ),
        Warning,
        "spec.http[0].fault.abort",
        "abort configured, but error type not set",
    );
}

/// Schema: an abort has one error type.
#[test]
fn abort_error_type_is_a_oneof() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    fault: {abort: {httpStatus: 503, grpcStatus: UNAVAILABLE}}\n",
        ),
        Error,
        "spec.http[0].fault.abort",
        "only one of httpStatus, grpcStatus or http2Error may be set",
    );
}

/// A fixed delay is whole milliseconds, at least 1 ms.
#[test]
fn fixed_delay_is_milliseconds() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    fault: {delay: {fixedDelay: 3.000000042s}}\n",
        ),
        Error,
        "spec.http[0].fault.delay.fixedDelay",
        "only durations to ms precision are supported",
    );
}

/// Exponential delays are not supported.
#[test]
fn exponential_delay_is_not_supported() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    fault: {delay: {exponentialDelay: 1s}}\n",
        ),
        Error,
        "spec.http[0].fault.delay.exponentialDelay",
        "exponentialDelay not supported yet",
    );
}

/// Schema: a delay is fixed or exponential.
#[test]
fn delay_type_is_a_oneof() {
    assert_finding(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n    fault: {delay: {fixedDelay: 1s, exponentialDelay: 1s}}\n",
        ),
        Error,
        "spec.http[0].fault.delay",
        "only one of fixedDelay or exponentialDelay may be set",
    );
}

// ---------------------------------------------------------------------------------------
// CORS
// ---------------------------------------------------------------------------------------

/// A rule with CORS policy `cors` (flow YAML).
fn with_cors(cors: &str) -> String {
    http_rule(&format!(
        "  - route: [{{destination: {{host: a}}}}]\n    corsPolicy: {cors}\n"
    ))
}

/// Allowed origins have a non-empty match value.
#[test]
fn cors_allow_origins_are_not_empty() {
    let yaml = with_cors(r#"{allowOrigins: [{exact: ""}, {prefix: ""}, {regex: ""}, {}]}"#);
    for i in 0..4 {
        assert_finding(
            &yaml,
            Error,
            &format!("spec.http[0].corsPolicy.allowOrigins[{i}]"),
            "'' is not a valid match type for CORS allow origins",
        );
    }
}

/// Allowed-origin regexes are RE2.
#[test]
fn cors_allow_origin_regex_is_valid() {
    assert_finding(
        &with_cors(r#"{allowOrigins: [{regex: "(x"}]}"#),
        Error,
        "spec.http[0].corsPolicy.allowOrigins[0]",
        r#""corsPolicy.allowOrigins": error parsing regexp: missing closing ): `(x`; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)"#,
    );
}

/// Allowed methods are HTTP methods Go knows, or `*`.
#[test]
fn cors_allow_methods_are_http_methods() {
    assert_finding(
        &with_cors("{allowMethods: [GET, PUTT]}"),
        Error,
        "spec.http[0].corsPolicy.allowMethods[1]",
        r#""PUTT" is not a supported HTTP method"#,
    );
}

/// Allowed and exposed headers are header tokens or `*`.
#[test]
fn cors_headers_are_header_names() {
    assert_finding(
        &with_cors(r#"{exposeHeaders: [""]}"#),
        Error,
        "spec.http[0].corsPolicy.exposeHeaders[0]",
        "header name cannot be empty",
    );
    assert_finding(
        &with_cors(r#"{allowHeaders: ["a b"]}"#),
        Error,
        "spec.http[0].corsPolicy.allowHeaders[0]",
        "header name a b is not a valid header name",
    );
}

/// `maxAge` is whole seconds (and at least 1 ms).
#[test]
fn cors_max_age_is_whole_seconds() {
    assert_finding(
        &with_cors("{maxAge: 2.5s}"),
        Error,
        "spec.http[0].corsPolicy.maxAge",
        "max_age duration is accurate only to seconds precision",
    );
    assert_finding(
        &with_cors("{maxAge: 0s}"),
        Error,
        "spec.http[0].corsPolicy.maxAge",
        "duration must be greater than 1ms",
    );
}

// ---------------------------------------------------------------------------------------
// TLS and TCP routes
// ---------------------------------------------------------------------------------------

/// A VirtualService for `foo.bar` whose only TLS rule is `rule` (flow YAML).
fn tls_rule(rule: &str) -> String {
    vs(&format!("  hosts: [foo.bar]\n  tls: [{rule}]\n"))
}

/// TLS routes need a match condition.
#[test]
fn tls_route_needs_a_match() {
    assert_finding(
        &tls_rule("{route: [{destination: {host: foo.baz}}]}"),
        Error,
        "spec.tls[0]",
        "TLS route must have at least one match condition",
    );
}

/// TLS matches name SNI hosts.
#[test]
fn tls_match_needs_sni_hosts() {
    assert_finding(
        &tls_rule("{match: [{port: 443}], route: [{destination: {host: foo.baz}}]}"),
        Error,
        "spec.tls[0].match[0]",
        "TLS match must have at least one SNI host",
    );
}

/// TLS routes need destinations.
#[test]
fn tls_route_needs_destinations() {
    assert_finding(
        &tls_rule("{match: [{port: 999, sniHosts: [foo.bar]}]}"),
        Error,
        "spec.tls[0]",
        "TLS route is required",
    );
}

/// An SNI host is covered by one of the VirtualService's hosts.
#[test]
fn sni_host_is_a_subset_of_the_hosts() {
    assert_finding(
        &vs(
            "  hosts: [foo.bar, \"*.baz\"]\n  tls: [{match: [{sniHosts: [other.com]}], route: [{destination: {host: foo.baz}}]}]\n",
        ),
        Error,
        "spec.tls[0].match[0].sniHosts[0]",
        r#"SNI host "other.com" is not a compatible subset of any of the virtual service hosts: [foo.bar, *.baz]"#,
    );
}

/// SNI hosts are wildcard domains.
#[test]
fn sni_host_is_a_wildcard_domain() {
    assert_finding(
        &tls_rule(
            "{match: [{port: 999, sniHosts: [foo.*.com]}], route: [{destination: {host: foo.baz}}]}",
        ),
        Error,
        "spec.tls[0].match[0].sniHosts[0]",
        r#"domain name "*.com" invalid (label "*" invalid)"#,
    );
}

/// An IP address as SNI host is accepted with a warning.
#[test]
fn sni_host_ip_address_is_warned_about() {
    assert_finding(
        &tls_rule(
            "{match: [{port: 999, sniHosts: [1.1.1.1]}], route: [{destination: {host: foo.baz}}]}",
        ),
        Warning,
        "spec.tls[0].match[0].sniHosts[0]",
        r#"using an IP address ("1.1.1.1") goes against SNI spec and most clients do not support this"#,
    );
}

/// Auto-generated SNI names must carry a port and a host name.
#[test]
fn auto_generated_sni_names_are_checked() {
    assert_finding(
        &vs(
            "  hosts: [foo.bar]\n  gateways: [ns/gw]\n  tls: [{match: [{sniHosts: [outbound_.x_._.foo.bar]}], route: [{destination: {host: foo.baz}}]}]\n",
        ),
        Error,
        "spec.tls[0].match[0].sniHosts[0]",
        r#"domain name "outbound_.x_._.foo.bar" invalid (label "x" invalid). should follow outbound_.<PORT>_._.<HOSTNAME> format"#,
    );
}

/// TLS match attributes: subnets, port, labels; match-level gateways keep their warnings.
#[test]
fn tls_match_attributes_are_checked() {
    let yaml = tls_rule(
        "{match: [{sniHosts: [foo.bar], destinationSubnets: [10.0.0.0/33], port: 70000, gateways: [gw.ns]}], route: [{destination: {host: foo.baz}}]}",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.tls[0].match[0].destinationSubnets[0]",
        "10.0.0.0/33 is not a valid CIDR block",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.tls[0].match[0].port",
        "port number 70000 must be in the range 1..65535",
    );
    assert_finding(
        &yaml,
        Warning,
        "spec.tls[0].match[0].gateways[0]",
        r#"using legacy gatewayName format "gw.ns"; prefer the <namespace>/<name> format: "ns/gw""#,
    );
}

/// TCP routes need destinations.
#[test]
fn tcp_route_needs_destinations() {
    assert_finding(
        &vs("  hosts: [foo.bar]\n  tcp: [{match: [{port: 999}]}]\n"),
        Error,
        "spec.tcp[0]",
        "TCP route is required",
    );
}

/// TCP match attributes: subnets, port, labels.
#[test]
fn tcp_match_attributes_are_checked() {
    let yaml = vs(
        "  hosts: [foo.bar]\n  tcp: [{match: [{destinationSubnets: [not-an-ip], port: 70000, sourceLabels: {\"-bad\": x}}], route: [{destination: {host: foo.baz}}]}]\n",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.tcp[0].match[0].destinationSubnets[0]",
        "not-an-ip is not a valid IP",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.tcp[0].match[0].port",
        "port number 70000 must be in the range 1..65535",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.tcp[0].match[0].sourceLabels.-bad",
        r#"invalid tag key: "-bad""#,
    );
}

/// L4 destinations follow the same weight and destination rules.
#[test]
fn l4_destinations_are_checked() {
    assert_finding(
        &vs(
            "  hosts: [foo.bar]\n  tcp: [{route: [{destination: {host: a}}, {destination: {host: \"foo.*\"}}]}]\n",
        ),
        Error,
        "spec.tcp[0].route",
        "total destination weight = 0",
    );
    assert_finding(
        &vs("  hosts: [foo.bar]\n  tcp: [{route: [{destination: {host: \"foo.*\"}}]}]\n"),
        Error,
        "spec.tcp[0].route[0].destination.host",
        r#"domain name "*" invalid (label "*" invalid)"#,
    );
    assert_finding(
        &vs("  hosts: [foo.bar]\n  tcp: [{route: [{weight: 1}]}]\n"),
        Error,
        "spec.tcp[0].route[0]",
        "destination is required",
    );
}

// ---------------------------------------------------------------------------------------
// Unreachable rules and ineffective matches (IST0130, IST0131)
// ---------------------------------------------------------------------------------------

/// Only the last HTTP rule may have no match: a later rule is never used.
#[test]
fn only_the_last_rule_can_have_no_matches() {
    assert_coded(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n  - name: second\n    route: [{destination: {host: b}}]\n",
        ),
        Warning,
        "IST0130",
        "spec.http[1]",
        r#"virtualService rule "second" not used (only the last rule can have no matches)"#,
    );
}

/// Rules after a rule without matches are never used.
#[test]
fn rules_after_a_catch_all_are_not_used() {
    assert_coded(
        &http_rule(
            "  - route: [{destination: {host: a}}]\n  - match: [{uri: {prefix: /a}}]\n    route: [{destination: {host: b}}]\n",
        ),
        Warning,
        "IST0130",
        "spec.http[1]",
        "virtualService rule #1 not used (route without matches defined before)",
    );
}

/// A match identical (ignoring its name) to an earlier one is not used; a rule all of whose
/// matches are such duplicates is not used.
#[test]
fn duplicate_matches_are_not_used() {
    let yaml = vs(r#"
  hosts: [sample.baz.svc.cluster.local]
  http:
  - name: send /api/v1/products to sample.foo
    match:
    - name: prefix /api/v1/products
      uri: {prefix: /api/v1/products}
    route: [{destination: {host: sample.foo.svc.cluster.local}}]
  - name: send /api/v1/products to sample.bar
    match:
    - uri: {prefix: /api/v1/products}
    route: [{destination: {host: sample.bar.svc.cluster.local, subset: v1}}]
"#);
    assert_coded(
        &yaml,
        Info,
        "IST0131",
        "spec.http[1].match[0]",
        r#"virtualService rule "send /api/v1/products to sample.bar" match #0 is not used (duplicate/overlapping match in rule "send /api/v1/products to sample.foo")"#,
    );
    assert_coded(
        &yaml,
        Warning,
        "IST0130",
        "spec.http[1]",
        r#"virtualService rule "send /api/v1/products to sample.bar" not used (all matches used by prior rules)"#,
    );
}

/// A rule with one duplicate match and one new match is still used.
#[test]
fn partly_duplicate_rule_is_used() {
    let yaml = vs(r#"
  hosts: [sample.bar.svc.cluster.local]
  http:
  - match: [{uri: {prefix: /api/v1/products}}]
    route: [{destination: {host: sample.foo.svc.cluster.local}}]
  - name: send /api/v1/products and /potato to sample.bar
    match:
    - name: prefix /api/v1/products
      uri: {prefix: /api/v1/products}
    - name: prefix /potato
      uri: {prefix: /potato}
    route: [{destination: {host: sample.bar.svc.cluster.local, subset: v1}}]
"#);
    assert_coded(
        &yaml,
        Info,
        "IST0131",
        "spec.http[1].match[0]",
        r#"virtualService rule "send /api/v1/products and /potato to sample.bar" match "prefix /api/v1/products" is not used (duplicate/overlapping match in rule #0)"#,
    );
    assert_no_message(
        &yaml,
        r#"virtualService rule "send /api/v1/products and /potato to sample.bar" not used (all matches used by prior rules)"#,
    );
}

/// Istio's overlap heuristic: a later prefix match is covered by an earlier shorter prefix
/// with the same port, method (GET when absent), authority, headers and query parameters.
#[test]
fn overlapping_prefix_matches_are_not_used() {
    assert_coded(
        &vs(r#"
  hosts: [sample.baz.svc.cluster.local]
  http:
  - name: send product to sample.foo
    match:
    - uri: {prefix: /api/v1/product}
    - uri: {prefix: /api/v1/products}
      method: {exact: GET}
    route: [{destination: {host: sample.foo.svc.cluster.local}}]
"#),
        Info,
        "IST0131",
        "spec.http[0].match[1]",
        r#"virtualService rule "send product to sample.foo" match #1 of prefix /api/v1/products is not used (duplicate/overlapping match in rule #0 of prefix /api/v1/product on "send product to sample.foo")"#,
    );
    let two_rules = vs(r#"
  hosts: [sample.baz.svc.cluster.local]
  http:
  - name: send product to sample.foo
    match: [{uri: {prefix: /api/v1/prod}, method: {exact: GET}}]
    route: [{destination: {host: sample.foo.svc.cluster.local}}]
  - name: send products to sample.bar
    match:
    - uri: {prefix: /api/v1/product}
      method: {exact: GET}
    - uri: {prefix: /api/v1/products}
      method: {exact: POST}
    route: [{destination: {host: sample.bar.svc.cluster.local, subset: v1}}]
"#);
    assert_coded(
        &two_rules,
        Info,
        "IST0131",
        "spec.http[1].match[0]",
        r#"virtualService rule "send products to sample.bar" match #0 of prefix /api/v1/product is not used (duplicate/overlapping match in rule #0 of prefix /api/v1/prod on "send product to sample.foo")"#,
    );
    assert_no_message(
        &two_rules,
        r#"virtualService rule "send products to sample.bar" match #1 of prefix /api/v1/products is not used (duplicate/overlapping match in rule #0 of prefix /api/v1/prod on "send product to sample.foo")"#,
    );
}

/// Exact URI matches are outside the overlap heuristic.
#[test]
fn exact_matches_are_not_overlap_checked() {
    assert_clean(&vs(r#"
  hosts: [sample.baz.svc.cluster.local]
  http:
  - name: send product to sample.foo
    match:
    - uri: {prefix: /}
    - uri: {exact: /}
      method: {exact: GET}
    route: [{destination: {host: sample.foo.svc.cluster.local}}]
"#));
}

/// TCP rules: duplicate matches and repeated catch-alls are reported the same way.
#[test]
fn unreachable_tcp_rules() {
    let dup = vs(r#"
  hosts: ["*"]
  gateways: [tcp-echo-gateway]
  tcp:
  - match: [{port: 31400}]
    route: [{destination: {host: tcp-echo, port: {number: 9000}, subset: v1}}]
  - match: [{port: 31400}]
    route: [{destination: {host: tcp-echo, port: {number: 9000}, subset: v2}}]
"#);
    assert_coded(
        &dup,
        Info,
        "IST0131",
        "spec.tcp[1].match[0]",
        "virtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0)",
    );
    assert_coded(
        &dup,
        Warning,
        "IST0130",
        "spec.tcp[1]",
        "virtualService rule #1 not used (all matches used by prior rules)",
    );
    assert_coded(
        &vs(
            "  hosts: [\"*\"]\n  gateways: [gw]\n  tcp:\n  - route: [{destination: {host: a}}]\n  - route: [{destination: {host: b}}]\n",
        ),
        Warning,
        "IST0130",
        "spec.tcp[1]",
        "virtualService rule #1 not used (only the last rule can have no matches)",
    );
}

/// TLS rules: duplicate matches are reported.
#[test]
fn unreachable_tls_rules() {
    let yaml = vs(r#"
  hosts: [www1.googleapis.com, api1.facebook.com]
  tls:
  - match: [{port: 2443, sniHosts: [www1.googleapis.com]}]
    route: [{destination: {host: www1.googleapis.com}}]
  - match: [{port: 2443, sniHosts: [www1.googleapis.com]}]
    route: [{destination: {host: api1.facebook.com}}]
"#);
    assert_coded(
        &yaml,
        Info,
        "IST0131",
        "spec.tls[1].match[0]",
        "virtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0)",
    );
    assert_coded(
        &yaml,
        Warning,
        "IST0130",
        "spec.tls[1]",
        "virtualService rule #1 not used (all matches used by prior rules)",
    );
}

// ---------------------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------------------

/// Odd but loadable input (huge numbers, non-ASCII names, empty strings) is reported, never
/// a panic.
#[test]
fn odd_input_does_not_panic() {
    let yaml = vs(r#"
  hosts: ["", "ü.example", "*", "outbound_", "outbound_.1_._"]
  gateways: ["", "/", "a/", ".", "..", "ü"]
  exportTo: ["", "~", "."]
  http:
  - name: "ünï\tcode"
    match:
    - name: "m\u0001"
      uri: {prefix: "ü"}
      headers: {"@request.auth.claims": {}, "@REQUEST.AUTH.CLAIMSü": {regex: "\\"}}
      port: 4294967295
    - uri: {prefix: "üx"}
    route:
    - destination: {host: "", port: {number: 4294967295}}
      weight: 2147483647
    - destination: {host: a}
      weight: 1
    directResponse: {status: 4294967295, body: {bytes: "@@@"}}
    retries: {attempts: -2147483648, retryOn: ",,,+503,-1,99999999999999999999"}
    timeout: -1s
    corsPolicy: {maxAge: -1.5s}
    headers: {request: {set: {"%": "%(", "x": "%A([\"\\"}}}
  tls:
  - match: [{sniHosts: ["outbound_.80_._.x", "outbound___"]}]
"#);
    let all = findings(&yaml);
    assert!(all.iter().any(|f| f.severity == Error));
}

proptest::proptest! {
    /// Validation never panics, whatever strings and numbers the fields hold.
    #[test]
    fn validation_never_panics(
        strings in proptest::collection::vec(".{0,12}", 12),
        nums in proptest::collection::vec(proptest::num::i64::ANY, 6),
        pct in proptest::num::f64::ANY,
    ) {
        use std::collections::BTreeMap;

        use crate::duration::Duration;
        use crate::percent::Percent;
        use crate::resource::{AnyResource, Resource};
        use crate::virtual_service::*;

        let s = |i: usize| strings[i].clone();
        let sm = StringMatch { exact: None, prefix: Some(s(4).into()), regex: Some(s(5).into()) };
        let dest = Destination {
            host: s(0),
            subset: s(1),
            port: Some(PortSelector { number: nums[0] as u32 }),
        };
        let m = HttpMatchRequest {
            name: s(2),
            uri: Some(StringMatch::prefix(s(3))),
            method: Some(Box::new(sm.clone())),
            headers: VecMap::from([(s(6), sm.clone()), (format!("@request.auth.claims{}", s(7)), StringMatch::regex(s(8)))]),
            without_headers: VecMap::from([(s(9), StringMatch::regex(s(10)))]),
            query_params: VecMap::from([(s(11), sm.clone())]),
            port: nums[1] as u32,
            source_labels: BTreeMap::from([(s(0), s(1))]),
            gateways: vec![s(2), s(3)],
            source_namespace: s(4),
            ..Default::default()
        };
        let ops = HeaderOperations {
            set: BTreeMap::from([(s(5), s(6)), (":authority".into(), s(7))]),
            add: BTreeMap::from([("host".into(), s(8))]),
            remove: vec![s(9)],
        };
        let http = HttpRoute {
            name: s(10),
            r#match: vec![m.clone(), m.clone(), HttpMatchRequest { uri: Some(StringMatch::prefix(format!("{}{}", s(3), s(4)))), ..m }],
            route: vec![
                HttpRouteDestination { destination: Some(dest.clone()), weight: nums[2] as i32, headers: Some(Box::new(Headers { request: Some(ops.clone()), response: Some(ops.clone()) })) },
                HttpRouteDestination { destination: None, weight: nums[3] as i32, headers: None },
            ],
            redirect: Some(Box::new(HttpRedirect { uri: s(0), prefix_rewrite: s(1), scheme: s(2), port: Some(nums[4] as u32), redirect_code: nums[5] as u32, ..Default::default() })),
            direct_response: Some(Box::new(HttpDirectResponse { status: nums[0] as u32, body: Some(HttpBody { string: Some(s(3)), bytes: Some(s(4)) }) })),
            rewrite: Some(Box::new(HttpRewrite { uri: s(5), authority: s(6), uri_regex_rewrite: Some(RegexRewrite { r#match: s(7), rewrite: s(8) }) })),
            timeout: Some(Duration::from_nanos(nums[1])),
            retries: Some(Box::new(HttpRetry { attempts: nums[2] as i32, retry_on: s(9), per_try_timeout: Some(Duration::from_nanos(nums[3])), backoff: Some(Duration::from_nanos(nums[4])), ..Default::default() })),
            fault: Some(Box::new(HttpFaultInjection {
                delay: Some(Delay { fixed_delay: Some(Duration::from_nanos(nums[5])), percentage: Some(Percent::new(pct)), ..Default::default() }),
                abort: Some(Abort { grpc_status: Some(s(10)), percentage: Some(Percent::new(pct)), ..Default::default() }),
            })),
            mirror: Some(Box::new(dest.clone())),
            mirrors: vec![HttpMirrorPolicy { destination: Some(dest.clone()), percentage: Some(Percent::new(pct)) }],
            mirror_percent: Some(nums[5] as u32),
            mirror_percentage: Some(Percent::new(pct)),
            cors_policy: Some(Box::new(CorsPolicy { allow_origins: Some(vec![sm]), allow_methods: vec![s(11)], allow_headers: vec![s(0)], expose_headers: vec![s(1)], max_age: Some(Duration::from_nanos(nums[0])), ..Default::default() })),
            headers: Some(Box::new(Headers { request: Some(ops.clone()), response: Some(ops) })),
            delegate: Some(Box::new(Delegate { name: s(2), namespace: s(3) })),
        };
        let tls = TlsRoute {
            r#match: vec![TlsMatchAttributes { sni_hosts: vec![s(0), format!("outbound_{}", s(1))], destination_subnets: vec![s(2)], gateways: vec![s(3)], ..Default::default() }],
            route: vec![RouteDestination { destination: Some(dest), weight: nums[1] as i32 }],
        };
        let spec = VirtualService {
            hosts: vec![s(0), s(1), format!("*{}", s(2))],
            gateways: vec![s(3), s(4)],
            http: vec![http.clone(), http],
            tls: vec![tls.clone(), tls],
            tcp: vec![TcpRoute { r#match: vec![L4MatchAttributes { destination_subnets: vec![s(5)], ..Default::default() }], route: vec![] }],
            export_to: vec![s(6), s(7)],
        };
        let _ = crate::validate::validate_resource(&AnyResource::VirtualService(Resource::new(&s(8), &s(9), spec)));
    }
}
