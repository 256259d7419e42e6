use super::*;

/// The intersection of a route hostname and a listener hostname is the more specific of the
/// two when one covers the other, none otherwise (wildcards are suffix matches that never
/// match the bare parent domain).
#[test]
fn intersection_is_the_more_specific_name() {
    assert_eq!(
        intersect("foo.example.com", "*.example.com").as_deref(),
        Some("foo.example.com")
    );
    assert_eq!(
        intersect("*.example.com", "foo.example.com").as_deref(),
        Some("foo.example.com")
    );
    assert_eq!(
        intersect("*.example.com", "*.foo.example.com").as_deref(),
        Some("*.foo.example.com")
    );
    assert_eq!(intersect("example.com", "*.example.com"), None);
    assert_eq!(intersect("foo.com", "bar.com"), None);
    assert_eq!(
        intersect("a.b.example.com", "*.example.com").as_deref(),
        Some("a.b.example.com")
    );
}

use proptest::prelude::*;

fn load(yaml: &str) -> Resources {
    crate::load_str(yaml).expect("the test YAML loads")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `allowedRoutes.namespaces`: `Same` admits the Gateway's namespace, `All` every
    /// namespace, `Selector` the namespaces whose labels (Namespace objects, plus
    /// `kubernetes.io/metadata.name`) satisfy `matchLabels`; a route the listener does not
    /// admit is `NotAllowedByListeners`.
    #[test]
    fn allowed_routes_namespaces(
        from in prop::sample::select(vec!["Same", "All", "Selector"]),
        route_ns in prop::sample::select(vec!["gw", "apps", "other"]),
        team in prop::sample::select(vec!["a", "b"]),
        wanted in prop::sample::select(vec!["a", "b"]),
    ) {
        let selector = if from == "Selector" {
            format!(", selector: {{matchLabels: {{team: {wanted}}}}}")
        } else {
            String::new()
        };
        let yaml = format!(
            "apiVersion: v1
kind: Namespace
metadata: {{name: apps, labels: {{team: {team}}}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: g, namespace: gw}}
spec:
  gatewayClassName: x
  listeners:
  - {{name: http, port: 80, protocol: HTTP, allowedRoutes: {{namespaces: {{from: {from}{selector}}}}}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: r, namespace: {route_ns}}}
spec:
  parentRefs: [{{name: g, namespace: gw}}]
"
        );
        let r = load(&yaml);
        let route = RouteRef::http(&r.gateway_api.http_routes[0]);
        let a = &attach(&r, route)[0];
        let admitted = match from {
            "Same" => route_ns == "gw",
            "All" => true,
            _ => route_ns == "apps" && team == wanted,
        };
        prop_assert_eq!(a.accepted.is_ok(), admitted, "{:?}", a.accepted);
        if !admitted {
            prop_assert_eq!(a.accepted.as_ref().unwrap_err().reason, "NotAllowedByListeners");
        }
    }

    /// ReferenceGrant: a backend in another namespace resolves exactly when a grant in that
    /// namespace lets routes of the route's kind and namespace refer to Services (all, or
    /// the one named); otherwise it is `RefNotPermitted`. Mesh-only routes need no grant.
    #[test]
    fn reference_grants_decide_cross_namespace_backends(
        grant_ns in prop::sample::select(vec!["apps", "elsewhere"]),
        from_ns in prop::sample::select(vec!["web", "other"]),
        from_kind in prop::sample::select(vec!["HTTPRoute", "GRPCRoute"]),
        to_name in prop::sample::select(vec![None, Some("svc"), Some("else")]),
        mesh in any::<bool>(),
    ) {
        let name = to_name.map(|n| format!(", name: {n}")).unwrap_or_default();
        let yaml = format!(
            "apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {{name: g, namespace: {grant_ns}}}
spec:
  from: [{{group: gateway.networking.k8s.io, kind: {from_kind}, namespace: {from_ns}}}]
  to: [{{group: '', kind: Service{name}}}]
"
        );
        let r = load(&yaml);
        let b = BackendObjectReference {
            group: String::new(),
            kind: "Service".into(),
            name: "svc".into(),
            namespace: Some("apps".into()),
            port: Some(80),
        };
        let got = resolve_backend(&r, Kind::HttpRoute, "web", &b, mesh);
        let granted = grant_ns == "apps" && from_ns == "web" && from_kind == "HTTPRoute" && to_name.is_none_or(|n| n == "svc");
        prop_assert_eq!(got.problem.is_none(), granted || mesh, "{:?}", got.problem);
        prop_assert_eq!(got.host, "svc.apps.svc.cluster.local");
    }
}
