//! The cross-resource analyzers of `istioctl analyze`: for each, a YAML that triggers it,
//! with Istio's code, level and exact message, and a near-identical YAML that does not.

use super::support::findings;
use crate::load::Loader;
use crate::validate::{Finding, Severity, validate};

/// The findings of `yaml` with `code`.
fn coded(yaml: &str, code: &str) -> Vec<Finding> {
    findings(yaml)
        .into_iter()
        .filter(|f| f.code == Some(code))
        .collect()
}

/// Asserts that `yaml` yields exactly one finding with `code`, of `severity`, at `path`,
/// on `resource` (`Kind ns/name`), with exactly `message`.
#[track_caller]
fn assert_only(
    yaml: &str,
    code: &str,
    severity: Severity,
    resource: &str,
    path: &str,
    message: &str,
) {
    let got = coded(yaml, code);
    assert_eq!(got.len(), 1, "expected one {code}, got:\n{}", show(&got));
    let f = &got[0];
    assert_eq!(f.severity, severity, "{f}");
    assert_eq!(f.resource.to_string(), resource, "{f}");
    assert_eq!(f.path, path, "{f}");
    assert_eq!(f.message, message, "{f}");
}

/// Asserts that `yaml` yields no finding with `code`.
#[track_caller]
fn assert_none(yaml: &str, code: &str) {
    let got = coded(yaml, code);
    assert!(got.is_empty(), "expected no {code}, got:\n{}", show(&got));
}

fn show(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("  {f}"))
        .collect::<Vec<_>>()
        .join("\n")
}

const REVIEWS_SERVICE: &str = "
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec:
  selector: {app: reviews}
  ports:
  - {port: 9080, name: http}
";

const INGRESS_GATEWAY: &str = "
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress, namespace: bookinfo}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [bookinfo.example.com]
";

fn vs_with_gateways(gateways: &str) -> String {
    format!(
        "{INGRESS_GATEWAY}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: front, namespace: bookinfo}}
spec:
  hosts: [bookinfo.example.com]
  gateways: {gateways}
  http:
  - route:
    - destination: {{host: reviews}}
"
    )
}

// ---------------------------------------------------------------------------------------
// IST0101 gateway

/// IST0101: a VirtualService that names a Gateway absent from the input (which holds
/// Gateways) references a resource that is not found: `Referenced gateway not found: "…"`.
#[test]
fn ist0101_gateway_must_exist() {
    assert_only(
        &vs_with_gateways("[ingres]"),
        "IST0101",
        Severity::Error,
        "VirtualService bookinfo/front",
        "spec.gateways[0]",
        "Referenced gateway not found: \"ingres\"",
    );
    assert_none(&vs_with_gateways("[ingress]"), "IST0101");
}

/// IST0101: gateway names resolve as Pilot resolves them: `name` and `./name` in the
/// VirtualService's namespace, `ns/name` as written, legacy `name.ns.svc.cluster.local` to
/// `ns/name`; `mesh` names no Gateway.
#[test]
fn ist0101_gateway_names_resolve_like_pilot() {
    for ok in [
        "[ingress]",
        "[./ingress]",
        "[bookinfo/ingress]",
        "[ingress.bookinfo.svc.cluster.local]",
        "[ingress.bookinfo]",
        "[mesh, ingress]",
    ] {
        assert_none(&vs_with_gateways(ok), "IST0101");
    }
    assert_only(
        &vs_with_gateways("[mesh, other/ingress]"),
        "IST0101",
        Severity::Error,
        "VirtualService bookinfo/front",
        "spec.gateways[1]",
        "Referenced gateway not found: \"other/ingress\"",
    );
}

/// IST0101: gateways named by a match (`http[].match[].gateways`) must exist too.
#[test]
fn ist0101_match_gateway_must_exist() {
    let yaml = |gw: &str| {
        format!(
            "{INGRESS_GATEWAY}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: front, namespace: bookinfo}}
spec:
  hosts: [bookinfo.example.com]
  gateways: [ingress]
  http:
  - match:
    - gateways: [{gw}]
    route:
    - destination: {{host: reviews}}
"
        )
    };
    assert_only(
        &yaml("egress"),
        "IST0101",
        Severity::Error,
        "VirtualService bookinfo/front",
        "spec.http[0].match[0].gateways[0]",
        "Referenced gateway not found: \"egress\"",
    );
    assert_none(&yaml("ingress"), "IST0101");
}

/// IST0101 `gateway` is checked only when the input holds at least one Gateway: otherwise
/// the Gateway may be in the cluster.
#[test]
fn ist0101_gateway_unchecked_without_gateways_in_input() {
    assert_none(
        "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: front, namespace: bookinfo}
spec:
  hosts: [bookinfo.example.com]
  gateways: [ingres]
  http:
  - route:
    - destination: {host: reviews}
",
        "IST0101",
    );
}

// ---------------------------------------------------------------------------------------
// IST0101 host, mirror host, host:port

fn route_to(destination: &str) -> String {
    format!(
        "{REVIEWS_SERVICE}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: eu, namespace: bookinfo}}
spec:
  hosts: ['*.eu.example.com']
  ports: [{{number: 443, name: tls, protocol: TLS}}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: private, namespace: other}}
spec:
  hosts: [private.example.com]
  exportTo: ['.']
  ports: [{{number: 80, name: http, protocol: HTTP}}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews, namespace: bookinfo}}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {destination}
"
    )
}

/// IST0101: a route destination host must be a Kubernetes Service or a ServiceEntry host
/// visible from the VirtualService's namespace: `Referenced host not found: "…"`.
#[test]
fn ist0101_destination_host_must_exist() {
    assert_only(
        &route_to("{host: reveiws}"),
        "IST0101",
        Severity::Error,
        "VirtualService bookinfo/reviews",
        "spec.http[0].route[0].destination.host",
        "Referenced host not found: \"reveiws\"",
    );
    for ok in [
        "{host: reviews}",
        "{host: reviews.bookinfo.svc.cluster.local}",
        "{host: api.eu.example.com}",
        "{host: '*.eu.example.com'}",
    ] {
        assert_none(&route_to(ok), "IST0101");
    }
}

/// IST0101: a ServiceEntry exported only to its own namespace is not visible from another.
#[test]
fn ist0101_destination_host_respects_service_entry_export_to() {
    assert_only(
        &route_to("{host: private.example.com}"),
        "IST0101",
        Severity::Error,
        "VirtualService bookinfo/reviews",
        "spec.http[0].route[0].destination.host",
        "Referenced host not found: \"private.example.com\"",
    );
}

/// IST0101: a short name resolves in the VirtualService's namespace, so `reviews` from
/// another namespace names a different (missing) service.
#[test]
fn ist0101_destination_short_name_resolves_in_vs_namespace() {
    let yaml = route_to("{host: reviews}").replace(
        "metadata: {name: reviews, namespace: bookinfo}\nspec:\n  hosts: [reviews]",
        "metadata: {name: reviews, namespace: prod}\nspec:\n  hosts: [reviews]",
    );
    assert_only(
        &yaml,
        "IST0101",
        Severity::Error,
        "VirtualService prod/reviews",
        "spec.http[0].route[0].destination.host",
        "Referenced host not found: \"reviews\"",
    );
}

/// IST0101 `host` is checked only when the input holds at least one Kubernetes Service.
#[test]
fn ist0101_destination_host_unchecked_without_services_in_input() {
    let yaml = route_to("{host: reveiws}").replace(REVIEWS_SERVICE, "");
    assert_none(&yaml, "IST0101");
}

/// IST0101: a mirror host must exist too: `Referenced mirror host not found: "…"`.
#[test]
fn ist0101_mirror_host_must_exist() {
    let yaml = |mirror: &str| {
        format!(
            "{REVIEWS_SERVICE}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews, namespace: bookinfo}}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {{host: reviews}}
    mirrors:
    - destination: {{host: {mirror}}}
"
        )
    };
    assert_only(
        &yaml("shadow"),
        "IST0101",
        Severity::Error,
        "VirtualService bookinfo/reviews",
        "spec.http[0].mirrors[0].destination.host",
        "Referenced mirror host not found: \"shadow\"",
    );
    assert_none(&yaml("reviews"), "IST0101");
}

/// IST0101: a destination port must be a port of the Service or ServiceEntry:
/// `Referenced host:port not found: "host:port"`.
#[test]
fn ist0101_destination_port_must_exist() {
    assert_only(
        &route_to("{host: reviews, port: {number: 9090}}"),
        "IST0101",
        Severity::Error,
        "VirtualService bookinfo/reviews",
        "spec.http[0].route[0].destination.port.number",
        "Referenced host:port not found: \"reviews:9090\"",
    );
    assert_none(
        &route_to("{host: reviews, port: {number: 9080}}"),
        "IST0101",
    );
}

// ---------------------------------------------------------------------------------------
// IST0101 host+subset / mirror+subset

fn subset_yaml(dr_host: &str, dr_namespace: &str, subset: &str, mirror_subset: &str) -> String {
    format!(
        "
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: reviews, namespace: {dr_namespace}}}
spec:
  host: {dr_host}
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews, namespace: bookinfo}}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {{host: reviews, subset: {subset}}}
    mirror: {{host: reviews, subset: {mirror_subset}}}
"
    )
}

/// IST0101: a route destination's subset must be defined by a DestinationRule for its
/// host: `Referenced host+subset in destinationrule not found: "host+subset"`.
#[test]
fn ist0101_destination_subset_must_be_defined() {
    assert_only(
        &subset_yaml("reviews", "bookinfo", "v3", "v1"),
        "IST0101",
        Severity::Error,
        "VirtualService bookinfo/reviews",
        "spec.http[0].route[0].destination.subset",
        "Referenced host+subset in destinationrule not found: \"reviews+v3\"",
    );
    assert_none(&subset_yaml("reviews", "bookinfo", "v2", "v1"), "IST0101");
}

/// IST0101: a mirror's subset must be defined too:
/// `Referenced mirror+subset in destinationrule not found: "host+subset"`.
#[test]
fn ist0101_mirror_subset_must_be_defined() {
    assert_only(
        &subset_yaml("reviews", "bookinfo", "v1", "v3"),
        "IST0101",
        Severity::Error,
        "VirtualService bookinfo/reviews",
        "spec.http[0].mirror.subset",
        "Referenced mirror+subset in destinationrule not found: \"reviews+v3\"",
    );
}

/// IST0101: DestinationRules apply by host: short names resolve in each resource's own
/// namespace, so a rule in another namespace naming the FQDN applies, and one naming the
/// short name there is for another host (and the subset is then not checked).
#[test]
fn ist0101_destination_subset_matches_rules_by_resolved_host() {
    assert_none(
        &subset_yaml(
            "reviews.bookinfo.svc.cluster.local",
            "istio-system",
            "v2",
            "v1",
        ),
        "IST0101",
    );
    assert_only(
        &subset_yaml(
            "reviews.bookinfo.svc.cluster.local",
            "istio-system",
            "v3",
            "v1",
        ),
        "IST0101",
        Severity::Error,
        "VirtualService bookinfo/reviews",
        "spec.http[0].route[0].destination.subset",
        "Referenced host+subset in destinationrule not found: \"reviews+v3\"",
    );
    assert_none(
        &subset_yaml("reviews", "istio-system", "v3", "v3"),
        "IST0101",
    );
}

// ---------------------------------------------------------------------------------------
// IST0109

fn two_mesh_vs(first_extra: &str, second_namespace: &str, second_extra: &str) -> String {
    format!(
        "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews, namespace: team1}}
spec:
  hosts: [reviews.bookinfo.svc.cluster.local]
{first_extra}  http:
  - route:
    - destination: {{host: reviews.bookinfo.svc.cluster.local}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: custom, namespace: {second_namespace}}}
spec:
  hosts: [reviews.bookinfo.svc.cluster.local]
{second_extra}  http:
  - route:
    - destination: {{host: reviews.bookinfo.svc.cluster.local}}
"
    )
}

/// IST0109: two VirtualServices bound to the mesh gateway (no `gateways`, or `mesh`) and
/// exported to all namespaces that define the same host conflict; each is reported, naming
/// both (sorted) and the host as `scope/fqdn`.
#[test]
fn ist0109_mesh_virtual_services_must_not_share_a_host() {
    let yaml = two_mesh_vs("", "team2", "  gateways: [mesh]\n");
    let got = coded(&yaml, "IST0109");
    assert_eq!(got.len(), 2, "{}", show(&got));
    let message = "The VirtualServices team1/reviews,team2/custom associated with mesh gateway define the same host */reviews.bookinfo.svc.cluster.local which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.";
    for (f, resource) in got.iter().zip([
        "VirtualService team1/reviews",
        "VirtualService team2/custom",
    ]) {
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.resource.to_string(), resource);
        assert_eq!(f.path, "metadata.name");
        assert_eq!(f.message, message);
    }
    // Bound to a Gateway only: not a mesh VirtualService.
    assert_none(
        &two_mesh_vs("", "team2", "  gateways: [ingress]\n"),
        "IST0109",
    );
}

/// IST0109: `exportTo` scopes the conflict: VirtualServices exported to different
/// namespaces do not conflict; one exported to a namespace conflicts with one exported to
/// all namespaces whose host overlaps it, wildcards included.
#[test]
fn ist0109_export_to_scopes_the_conflict() {
    let local = "  exportTo: ['.']\n";
    assert_none(&two_mesh_vs(local, "team2", local), "IST0109");
    assert_none(
        &two_mesh_vs("  exportTo: [team3]\n", "team2", local),
        "IST0109",
    );
    let scoped = two_mesh_vs("", "team2", local).replacen(
        "spec:\n  hosts: [reviews.bookinfo.svc.cluster.local]\n",
        "spec:\n  hosts: ['*.bookinfo.svc.cluster.local']\n",
        1,
    );
    let got = coded(&scoped, "IST0109");
    assert_eq!(got.len(), 2, "{}", show(&got));
    assert_eq!(got[0].resource.to_string(), "VirtualService team1/reviews");
    assert_eq!(got[1].resource.to_string(), "VirtualService team2/custom");
    assert_eq!(
        got[1].message,
        "The VirtualServices team1/reviews,team2/custom associated with mesh gateway define the same host team2/reviews.bookinfo.svc.cluster.local which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource."
    );
    // Two VirtualServices exported to all namespaces conflict only on the same host.
    let overlapping = two_mesh_vs("", "team2", "").replacen(
        "spec:\n  hosts: [reviews.bookinfo.svc.cluster.local]\n",
        "spec:\n  hosts: ['*.bookinfo.svc.cluster.local']\n",
        1,
    );
    assert_none(&overlapping, "IST0109");
}

/// IST0109: short names are completed with each VirtualService's namespace, so `reviews`
/// in two namespaces names two hosts.
#[test]
fn ist0109_short_names_are_per_namespace() {
    let yaml = |ns2: &str| {
        format!(
            "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: a, namespace: bookinfo}}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {{host: reviews}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: b, namespace: {ns2}}}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {{host: reviews}}
"
        )
    };
    assert_none(&yaml("prod"), "IST0109");
    assert_eq!(coded(&yaml("bookinfo"), "IST0109").len(), 2);
}

// ---------------------------------------------------------------------------------------
// IST0132

fn gateway_hosts(server_hosts: &str, vs_hosts: &str) -> String {
    format!(
        "
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: ingress, namespace: istio-system}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: 80, name: http, protocol: HTTP}}
    hosts: {server_hosts}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: front, namespace: bookinfo}}
spec:
  hosts: {vs_hosts}
  gateways: [istio-system/ingress]
  http:
  - route:
    - destination: {{host: productpage}}
"
    )
}

/// IST0132: no host of a VirtualService overlaps a host of the Gateway it binds to (server
/// hosts of another namespace, `ns/host`, are not visible to it):
/// `one or more host %v defined in VirtualService %s not found in Gateway %s.`
#[test]
fn ist0132_virtual_service_host_must_be_in_gateway() {
    assert_only(
        &gateway_hosts(
            "[shop.example.com]",
            "[bookinfo.example.com, www.example.com]",
        ),
        "IST0132",
        Severity::Warning,
        "VirtualService bookinfo/front",
        "spec.gateways[0]",
        "one or more host [bookinfo.example.com www.example.com] defined in VirtualService bookinfo/front not found in Gateway istio-system/ingress.",
    );
    assert_only(
        &gateway_hosts("[prod/bookinfo.example.com]", "[bookinfo.example.com]"),
        "IST0132",
        Severity::Warning,
        "VirtualService bookinfo/front",
        "spec.gateways[0]",
        "one or more host [bookinfo.example.com] defined in VirtualService bookinfo/front not found in Gateway istio-system/ingress.",
    );
    for (server, vs) in [
        ("[bookinfo.example.com]", "[bookinfo.example.com]"),
        ("['*.example.com']", "[bookinfo.example.com]"),
        ("[bookinfo/bookinfo.example.com]", "[bookinfo.example.com]"),
        ("['*/bookinfo.example.com']", "[bookinfo.example.com]"),
        ("['*/*']", "[bookinfo.example.com]"),
        ("['*']", "[bookinfo.example.com]"),
        ("[bookinfo.example.com]", "['*']"),
    ] {
        assert_none(&gateway_hosts(server, vs), "IST0132");
    }
}

fn kubernetes_gateway(listener_hostnames: &[Option<&str>], vs_hosts: &str) -> String {
    let listeners: Vec<String> = listener_hostnames
        .iter()
        .enumerate()
        .map(|(i, h)| match h {
            Some(h) => format!(
                "  - {{name: l{i}, port: {}, protocol: HTTP, hostname: '{h}'}}\n",
                80 + i
            ),
            None => format!("  - {{name: l{i}, port: {}, protocol: HTTP}}\n", 80 + i),
        })
        .collect();
    format!(
        "
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: ingress, namespace: istio-system}}
spec:
  gatewayClassName: istio
  listeners:
{}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: front, namespace: bookinfo}}
spec:
  hosts: {vs_hosts}
  gateways: [istio-system/ingress]
  http:
  - route:
    - destination: {{host: productpage}}
",
        listeners.concat()
    )
}

/// Issue 11 item 3: a VirtualService whose `gateways` names a Gateway API Gateway of the
/// input is bound to it (never IST0101, as Istio's analyzer also looks up
/// `KubernetesGateway`), and IST0132 compares its hosts with the listeners' hostnames; a
/// listener without a hostname takes every host.
#[test]
fn virtual_service_binds_to_a_gateway_api_gateway() {
    let bound = kubernetes_gateway(&[Some("bookinfo.example.com")], "[bookinfo.example.com]");
    assert_none(&bound, "IST0101");
    assert_none(&bound, "IST0132");
    assert_only(
        &kubernetes_gateway(&[Some("shop.example.com")], "[bookinfo.example.com]"),
        "IST0132",
        Severity::Warning,
        "VirtualService bookinfo/front",
        "spec.gateways[0]",
        "one or more host [bookinfo.example.com] defined in VirtualService bookinfo/front not found in Gateway istio-system/ingress.",
    );
    for (listeners, vs) in [
        (vec![Some("*.example.com")], "[bookinfo.example.com]"),
        (
            vec![Some("shop.example.com"), None],
            "[bookinfo.example.com]",
        ),
        (
            vec![Some("shop.example.com"), Some("bookinfo.example.com")],
            "[bookinfo.example.com]",
        ),
    ] {
        let yaml = kubernetes_gateway(&listeners, vs);
        assert_none(&yaml, "IST0132");
        assert_none(&yaml, "IST0101");
    }
    // A name that is neither Gateway is still IST0101 when the input holds Gateways.
    let missing = kubernetes_gateway(&[None], "[bookinfo.example.com]").replace(
        "gateways: [istio-system/ingress]",
        "gateways: [istio-system/other]",
    );
    assert_only(
        &missing,
        "IST0101",
        Severity::Error,
        "VirtualService bookinfo/front",
        "spec.gateways[0]",
        "Referenced gateway not found: \"istio-system/other\"",
    );
}

/// IST0132 is not reported for a Gateway missing from the input (IST0101 is).
#[test]
fn ist0132_only_for_gateways_in_input() {
    let yaml = gateway_hosts("[shop.example.com]", "[bookinfo.example.com]").replace(
        "gateways: [istio-system/ingress]",
        "gateways: [istio-system/egress]",
    );
    assert_none(&yaml, "IST0132");
    assert_eq!(coded(&yaml, "IST0101").len(), 1);
}

// ---------------------------------------------------------------------------------------
// IST0165

/// IST0165: a VirtualService should not name the Istio Gateway generated for a Kubernetes
/// Gateway API gateway: `Gateway reference in VirtualService %s is to an
/// implementation-generated internal Gateway: %s.`
#[test]
fn ist0165_internal_gateway_reference() {
    let yaml = vs_with_gateways("['istio-ingress/gateway~istio-autogenerated-k8s-gateway~foo']");
    assert_only(
        &yaml,
        "IST0165",
        Severity::Warning,
        "VirtualService bookinfo/front",
        "spec.gateways[0]",
        "Gateway reference in VirtualService bookinfo/front is to an implementation-generated internal Gateway: istio-ingress/gateway~istio-autogenerated-k8s-gateway~foo.",
    );
    assert_none(&yaml, "IST0101");
    assert_none(
        &vs_with_gateways("['istio-ingress/gateway-foo']"),
        "IST0165",
    );
}

// ---------------------------------------------------------------------------------------
// IST0140

fn ingress_and_mesh(ingress_destination: &str, ingress_gateways: &str) -> String {
    format!(
        "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: front, namespace: bookinfo}}
spec:
  hosts: [bookinfo.example.com]
  gateways: {ingress_gateways}
  http:
  - route:
    - destination: {ingress_destination}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: ratings, namespace: bookinfo}}
spec:
  hosts: [ratings]
  http:
  - route:
    - destination: {{host: ratings, subset: v1}}
"
    )
}

/// IST0140: a gateway-bound VirtualService routes to a host without a subset while another
/// VirtualService routes that host (one of its own hosts) to a subset; that subset routing
/// does not apply to the gateway's requests:
/// `Subset in virtual service %s has no effect on ingress gateway %s requests`.
#[test]
fn ist0140_ingress_route_rules_not_affected() {
    assert_only(
        &ingress_and_mesh("{host: ratings}", "[istio-system/ingress]"),
        "IST0140",
        Severity::Warning,
        "VirtualService bookinfo/front",
        "spec.http[0].route[0].destination",
        "Subset in virtual service bookinfo/ratings has no effect on ingress gateway bookinfo/front requests",
    );
    assert_only(
        &ingress_and_mesh(
            "{host: ratings.bookinfo.svc.cluster.local}",
            "[istio-system/ingress]",
        ),
        "IST0140",
        Severity::Warning,
        "VirtualService bookinfo/front",
        "spec.http[0].route[0].destination",
        "Subset in virtual service bookinfo/ratings has no effect on ingress gateway bookinfo/front requests",
    );
    assert_none(
        &ingress_and_mesh("{host: ratings, subset: v1}", "[istio-system/ingress]"),
        "IST0140",
    );
    // Bound to sidecars only: no ingress gateway.
    assert_none(&ingress_and_mesh("{host: ratings}", "[mesh]"), "IST0140");
    assert_none(&ingress_and_mesh("{host: ratings}", "[]"), "IST0140");
}

// ---------------------------------------------------------------------------------------
// IST0112

fn two_port_service(destination: &str) -> String {
    format!(
        "
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  selector: {{app: web}}
  ports:
  - {{port: 80, name: http}}
  - {{port: 443, name: https}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: web, namespace: shop}}
spec:
  hosts: [web.example.com]
  http:
  - route:
    - destination: {destination}
"
    )
}

/// IST0112: a destination whose Kubernetes Service has more than one port must name the
/// port: `This VirtualService routes to a service %q that exposes multiple ports %v. …`
#[test]
fn ist0112_port_selector_required_for_multi_port_service() {
    assert_only(
        &two_port_service("{host: web}"),
        "IST0112",
        Severity::Error,
        "VirtualService shop/web",
        "spec.http[0].route[0].destination",
        "This VirtualService routes to a service \"web\" that exposes multiple ports [80 443]. Specifying a port in the destination is required to disambiguate.",
    );
    assert_none(
        &two_port_service("{host: web, port: {number: 443}}"),
        "IST0112",
    );
    assert_none(
        &two_port_service("{host: web, port: {number: 443}}"),
        "IST0101",
    );
    let one_port = two_port_service("{host: web}").replace("  - {port: 443, name: https}\n", "");
    assert_none(&one_port, "IST0112");
}

// ---------------------------------------------------------------------------------------
// IST0173 / IST0174

fn reviews_with_pods(subset_labels: &str) -> String {
    format!(
        "{REVIEWS_SERVICE}---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: reviews-v1, namespace: bookinfo}}
spec:
  selector: {{matchLabels: {{app: reviews, version: v1}}}}
  template:
    metadata: {{labels: {{app: reviews, version: v1}}}}
    spec: {{containers: [{{name: reviews, image: reviews:v1}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: ratings-v2, namespace: bookinfo}}
spec:
  selector: {{matchLabels: {{app: ratings, version: v2}}}}
  template:
    metadata: {{labels: {{app: ratings, version: v2}}}}
    spec: {{containers: [{{name: ratings, image: ratings:v2}}]}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: reviews, namespace: bookinfo}}
spec:
  host: reviews
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: vx, labels: {subset_labels}}}
"
    )
}

/// IST0173: a subset whose labels select none of the Service's pods:
/// `The Subset %s defined in the DestinationRule does not select any pods. …` A pod of
/// another Service with those labels does not count.
#[test]
fn ist0173_subset_must_select_pods() {
    assert_only(
        &reviews_with_pods("{version: v2}"),
        "IST0173",
        Severity::Error,
        "DestinationRule bookinfo/reviews",
        "spec.subsets[1]",
        "The Subset vx defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).",
    );
    assert_none(&reviews_with_pods("{version: v1}"), "IST0173");
    assert_none(&reviews_with_pods("{}"), "IST0173");
    // Node labels are unknown offline.
    assert_none(
        &reviews_with_pods("{topology.kubernetes.io/zone: a}"),
        "IST0173",
    );
}

/// IST0173 is checked only when the input holds workloads of the Service.
#[test]
fn ist0173_unchecked_without_the_services_workloads() {
    let yaml = reviews_with_pods("{version: v2}")
        .replace("app: reviews, version: v1", "app: other, version: v1");
    assert_none(&yaml, "IST0173");
    let no_service = reviews_with_pods("{version: v2}").replace(REVIEWS_SERVICE, "");
    assert_none(&no_service, "IST0173");
}

/// IST0174: a DestinationRule whose host is no Service or ServiceEntry of the input (which
/// holds Services): `The host %s defined in the DestinationRule does not match any services
/// in the mesh.`
#[test]
fn ist0174_destination_rule_host_must_exist() {
    let yaml = |h: &str| {
        format!(
            "{REVIEWS_SERVICE}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: dr, namespace: bookinfo}}
spec:
  host: {h}
"
        )
    };
    assert_only(
        &yaml("reveiws"),
        "IST0174",
        Severity::Warning,
        "DestinationRule bookinfo/dr",
        "spec.host",
        "The host reveiws defined in the DestinationRule does not match any services in the mesh.",
    );
    assert_none(&yaml("reviews"), "IST0174");
    assert_none(&yaml("'*.bookinfo.svc.cluster.local'"), "IST0174");
    assert_none(&yaml("reveiws").replace(REVIEWS_SERVICE, ""), "IST0174");
}

// ---------------------------------------------------------------------------------------
// Corpus

/// The Istio bookinfo samples (app, all DestinationRules, all-v1 VirtualServices and the
/// ingress Gateway) reference nothing that is missing: no IST0101.
#[test]
fn bookinfo_samples_reference_nothing_missing() {
    let Some(dir) = envoy_harness::shared_dir("corpus/istio", "bookinfo_samples") else {
        return;
    };
    let files: Vec<_> = [
        "bookinfo.yaml",
        "destination-rule-all.yaml",
        "virtual-service-all-v1.yaml",
        "bookinfo-gateway.yaml",
    ]
    .iter()
    .map(|f| dir.join(f))
    .collect();
    let loaded = load_files(&files);
    assert!(loaded.errors.is_empty(), "load errors: {:?}", loaded.errors);
    assert!(!loaded.resources.kubernetes.services.is_empty());
    let report = validate(&loaded.resources);
    let missing: Vec<_> = report
        .findings
        .into_iter()
        .filter(|f| f.code == Some("IST0101"))
        .collect();
    assert!(missing.is_empty(), "{}", show(&missing));
}

/// Messages quote with Go's `%q` and print lists with Go's `%v`.
#[test]
fn messages_format_values_like_go() {
    use crate::validate::analyze::{go_list, go_quote};
    assert_eq!(go_quote("reviews+v3"), "\"reviews+v3\"");
    assert_eq!(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    assert_eq!(go_quote("a\nb\u{1}"), "\"a\\nb\\x01\"");
    assert_eq!(go_quote("é"), "\"é\"");
    assert_eq!(go_list(&["a", "b"]), "[a b]");
    assert_eq!(go_list::<u32>(&[]), "[]");
    assert_eq!(go_list(&[80, 443]), "[80 443]");
}

/// The analyzers accept every file of the Istio corpus together without panicking.
#[test]
fn analyzers_accept_the_whole_corpus() {
    let Some(dir) = envoy_harness::shared_dir("corpus/istio", "analyzers_accept") else {
        return;
    };
    let mut files = Vec::new();
    let mut dirs = vec![dir];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    let loaded = load_files(&files);
    assert!(!loaded.resources.is_empty());
    let _ = validate(&loaded.resources);
}

/// Reads `files` (test I/O: the library reads no files; mesh-load does that for callers) and
/// loads them together, as mesh-load's `load_paths` does: each parsed, then merged, then
/// duplicates checked across them.
fn load_files(files: &[std::path::PathBuf]) -> crate::load::Loaded {
    let loader = Loader::new();
    let mut loaded = crate::load::Loaded::default();
    for f in files {
        let bytes = std::fs::read(f).unwrap();
        loaded.merge(loader.parse_bytes(&bytes, Some(std::sync::Arc::new(f.clone()))));
    }
    loaded.check_duplicates(loader.duplicates());
    loaded
}
