//! Istio's host-name rules (`istio/istio` `pkg/config/host/name.go`): wildcard overlap
//! (`matches`), one-way containment (`subset_of`), and short-name completion.

use std::cmp::Ordering;

/// The default Kubernetes cluster domain.
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// Whether a host starts with `*` (`*`, `*.example.com`).
pub fn is_wildcard(host: &str) -> bool {
    host.starts_with('*')
}

/// Whether two hosts overlap: `*.com` matches `foo.com`, `*` matches everything,
/// `*.foo.com` does not match `foo.com`; two wildcards overlap when one suffix contains the
/// other. Symmetric.
pub fn matches(a: &str, b: &str) -> bool {
    match (is_wildcard(a), is_wildcard(b)) {
        (true, true) => {
            if a.len() < b.len() {
                b[1..].ends_with(&a[1..])
            } else {
                a[1..].ends_with(&b[1..])
            }
        }
        (true, false) => b.ends_with(&a[1..]),
        (false, true) => a.ends_with(&b[1..]),
        (false, false) => a == b,
    }
}

/// Whether every name `a` covers is covered by `b`: `foo.com ⊂ *.com`, `*.bar.com ⊂ *.com`;
/// a wildcard is never a subset of a plain name.
pub fn subset_of(a: &str, b: &str) -> bool {
    match (is_wildcard(a), is_wildcard(b)) {
        (true, true) => a.len() >= b.len() && a[1..].ends_with(&b[1..]),
        (true, false) => false,
        (false, true) => a.ends_with(&b[1..]),
        (false, false) => a == b,
    }
}

/// Istio's `MoreSpecific` order: plain names before wildcards, then longer before shorter,
/// then alphabetical.
pub fn more_specific(a: &str, b: &str) -> Ordering {
    is_wildcard(a)
        .cmp(&is_wildcard(b))
        .then_with(|| b.len().cmp(&a.len()))
        .then_with(|| a.cmp(b))
}

/// Completes a short name against a namespace as Istio does (`ResolveShortnameToFQDN`):
/// a host without a dot that is not `*` and not an IP becomes
/// `name.namespace.svc.cluster.local`; anything else is kept as written (lower-cased).
pub fn resolve_short_name(host: &str, namespace: &str) -> String {
    let host = host.to_ascii_lowercase();
    if host == "*" || host.contains('.') || host.contains(':') || host.is_empty() {
        return host;
    }
    format!("{host}.{namespace}.svc.{CLUSTER_DOMAIN}")
}

/// The short form of a fully qualified Kubernetes service name, and its namespace:
/// `reviews.bookinfo.svc.cluster.local` gives `("reviews", "bookinfo")`.
pub fn split_service_fqdn(host: &str) -> Option<(&str, &str)> {
    let rest = host.strip_suffix(CLUSTER_DOMAIN)?.strip_suffix(".svc.")?;
    let (name, ns) = rest.split_once('.')?;
    if ns.contains('.') || name.is_empty() || ns.is_empty() {
        return None;
    }
    Some((name, ns))
}

/// Resolves a gateway reference of a resource in `namespace` as Istio does
/// (`resolveGatewayName`): `mesh` stays `mesh`; `ns/name` is kept; `./name` and `name` become
/// `namespace/name`; the legacy `name.ns.svc.cluster.local` form becomes `ns/name`.
pub fn resolve_gateway_name(gateway: &str, namespace: &str) -> String {
    if gateway == "mesh" {
        return gateway.to_owned();
    }
    if let Some(name) = gateway.strip_prefix("./") {
        return format!("{namespace}/{name}");
    }
    if gateway.contains('/') {
        return gateway.to_owned();
    }
    if let Some((name, rest)) = gateway.split_once('.') {
        let ns = rest.split('.').next().unwrap_or(namespace);
        return format!("{ns}/{name}");
    }
    format!("{namespace}/{gateway}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Istio's overlap rule: a wildcard never matches the bare domain it is a wildcard for.
    #[test]
    fn matches_follows_istio() {
        assert!(matches("*.com", "foo.com"));
        assert!(matches("foo.com", "*.com"));
        assert!(!matches("*.foo.com", "foo.com"));
        assert!(matches("*", "anything.example"));
        assert!(matches("*.bar.com", "*.com"));
        assert!(matches("*.com", "*.bar.com"));
        assert!(!matches("a.com", "b.com"));
    }

    /// `subset_of` is one-way.
    #[test]
    fn subset_of_is_one_way() {
        assert!(subset_of("foo.com", "*.com"));
        assert!(!subset_of("*.com", "foo.com"));
        assert!(subset_of("*.bar.com", "*.com"));
        assert!(!subset_of("*.com", "*.bar.com"));
        assert!(subset_of("*", "*"));
        assert!(subset_of("*.x", "*"));
    }

    /// Short names resolve against the namespace; names with a dot are taken literally.
    #[test]
    fn short_names_complete_with_the_namespace() {
        assert_eq!(
            resolve_short_name("reviews", "bookinfo"),
            "reviews.bookinfo.svc.cluster.local"
        );
        assert_eq!(
            resolve_short_name("reviews.prod", "bookinfo"),
            "reviews.prod"
        );
        assert_eq!(resolve_short_name("*", "bookinfo"), "*");
        assert_eq!(
            resolve_short_name("Reviews", "x"),
            "reviews.x.svc.cluster.local"
        );
        assert_eq!(
            split_service_fqdn("reviews.bookinfo.svc.cluster.local"),
            Some(("reviews", "bookinfo"))
        );
        assert_eq!(split_service_fqdn("example.com"), None);
    }

    /// Gateway references resolve against the referencing resource's namespace.
    #[test]
    fn gateway_names_resolve() {
        assert_eq!(resolve_gateway_name("mesh", "a"), "mesh");
        assert_eq!(resolve_gateway_name("gw", "a"), "a/gw");
        assert_eq!(resolve_gateway_name("./gw", "a"), "a/gw");
        assert_eq!(resolve_gateway_name("b/gw", "a"), "b/gw");
        assert_eq!(resolve_gateway_name("gw.b.svc.cluster.local", "a"), "b/gw");
    }
}
