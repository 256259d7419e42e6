//! Delegation: a root VirtualService route with `delegate` is replaced by the delegate's
//! routes, merged as Istio merges them (`MergeHTTPRoutes`, `pilot/pkg/model/virtualservice.go`).

use mesh_model::virtual_service::{HttpMatchRequest, HttpRoute, StringMatch};

fn merge_maps<M, V>(root: &M, leaf: &M) -> M
where
    M: Clone + Extend<(String, V)>,
    for<'a> &'a M: IntoIterator<Item = (&'a String, &'a V)>,
    V: Clone + 'static,
{
    let mut out = root.clone();
    out.extend(leaf.into_iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

fn nonempty(s: &Option<Box<str>>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// `stringMatchConflict`.
fn string_match_conflict(root: Option<&StringMatch>, leaf: Option<&StringMatch>) -> bool {
    let (Some(root), Some(leaf)) = (root, leaf) else {
        return false;
    };
    let (re, rp, rx) = (
        nonempty(&root.exact),
        nonempty(&root.prefix),
        nonempty(&root.regex),
    );
    let (le, lp, lx) = (
        nonempty(&leaf.exact),
        nonempty(&leaf.prefix),
        nonempty(&leaf.regex),
    );
    if rx.is_some() && (lx.is_some() || lp.is_some() || le.is_some()) {
        return true;
    }
    if lx.is_some() && (rx.is_some() || rp.is_some() || re.is_some()) {
        return true;
    }
    if let Some(exact) = re {
        if lp.is_some() {
            return true;
        }
        return le != Some(exact);
    }
    if let Some(prefix) = rp {
        if let Some(p) = lp {
            return !p.starts_with(prefix);
        }
        if let Some(e) = le {
            return !e.starts_with(prefix);
        }
    }
    true
}

/// `hasConflict`.
fn has_conflict(root: &HttpMatchRequest, leaf: &HttpMatchRequest) -> bool {
    let pairs = [
        (root.uri.as_ref(), leaf.uri.as_ref()),
        (root.scheme.as_deref(), leaf.scheme.as_deref()),
        (root.method.as_deref(), leaf.method.as_deref()),
        (root.authority.as_deref(), leaf.authority.as_deref()),
    ];
    if pairs.iter().any(|(r, l)| string_match_conflict(*r, *l)) {
        return true;
    }
    for (rmap, lmap) in [
        (&root.headers, &leaf.headers),
        (&root.without_headers, &leaf.without_headers),
        (&root.query_params, &leaf.query_params),
    ] {
        if lmap
            .iter()
            .any(|(k, l)| string_match_conflict(rmap.get(k), Some(l)))
        {
            return true;
        }
    }
    if root.ignore_uri_case != leaf.ignore_uri_case {
        return true;
    }
    if root.port > 0 && leaf.port > 0 && root.port != leaf.port {
        return true;
    }
    if !root.source_namespace.is_empty() && leaf.source_namespace != root.source_namespace {
        return true;
    }
    if leaf
        .source_labels
        .iter()
        .any(|(k, v)| root.source_labels.get(k).is_some_and(|rv| rv != v))
    {
        return true;
    }
    if !root.gateways.is_empty() && !leaf.gateways.is_empty() {
        if root.gateways.len() < leaf.gateways.len() {
            return true;
        }
        if leaf.gateways.iter().any(|g| !root.gateways.contains(g)) {
            return true;
        }
    }
    false
}

fn join_names(root: &str, leaf: &str) -> String {
    match (root.is_empty(), leaf.is_empty()) {
        (_, true) => root.to_owned(),
        (true, false) => leaf.to_owned(),
        (false, false) => format!("{root}-{leaf}"),
    }
}

/// `mergeHTTPMatchRequest`: delegate fields win; maps are unioned.
fn merge_match(root: &HttpMatchRequest, leaf: &HttpMatchRequest) -> HttpMatchRequest {
    let mut out = leaf.clone();
    out.name = join_names(&root.name, &leaf.name);
    if out.uri.is_none() {
        out.uri = root.uri.clone();
    }
    if out.scheme.is_none() {
        out.scheme = root.scheme.clone();
    }
    if out.method.is_none() {
        out.method = root.method.clone();
    }
    if out.authority.is_none() {
        out.authority = root.authority.clone();
    }
    out.headers = merge_maps(&root.headers, &leaf.headers);
    out.without_headers = merge_maps(&root.without_headers, &leaf.without_headers);
    out.query_params = merge_maps(&root.query_params, &leaf.query_params);
    if out.port == 0 {
        out.port = root.port;
    }
    out.source_labels = merge_maps(&root.source_labels, &leaf.source_labels);
    if out.source_namespace.is_empty() {
        out.source_namespace = root.source_namespace.clone();
    }
    if out.gateways.is_empty() {
        out.gateways = root.gateways.clone();
    }
    if out.stat_prefix.is_empty() {
        out.stat_prefix = root.stat_prefix.clone();
    }
    out
}

/// `mergeHTTPMatchRequests`: every delegate match must fit some root match.
fn merge_matches(
    root: &[HttpMatchRequest],
    leaf: &[HttpMatchRequest],
) -> Option<Vec<HttpMatchRequest>> {
    if root.is_empty() {
        return Some(leaf.to_vec());
    }
    if leaf.is_empty() {
        return Some(root.to_vec());
    }
    let mut out = Vec::new();
    for l in leaf {
        let mut found = false;
        for r in root {
            if has_conflict(r, l) {
                continue;
            }
            out.push(merge_match(r, l));
            found = true;
        }
        if !found {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Merges one delegate route under a root route; `None` when their matches conflict (the
/// delegate route then does not take effect).
pub(crate) fn merge_route(root: &HttpRoute, leaf: &HttpRoute) -> Option<HttpRoute> {
    let mut out = leaf.clone();
    out.r#match = merge_matches(&root.r#match, &leaf.r#match)?;
    out.name = join_names(&root.name, &leaf.name);
    if out.rewrite.is_none() {
        out.rewrite = root.rewrite.clone();
    }
    if out.direct_response.is_none() {
        out.direct_response = root.direct_response.clone();
    }
    if out.timeout.is_none() {
        out.timeout = root.timeout;
    }
    if out.retries.is_none() {
        out.retries = root.retries.clone();
    }
    if out.fault.is_none() {
        out.fault = root.fault.clone();
    }
    if out.mirror.is_none() {
        out.mirror = root.mirror.clone();
    }
    if out.mirror_percent.is_none() {
        out.mirror_percent = root.mirror_percent;
    }
    if out.mirror_percentage.is_none() {
        out.mirror_percentage = root.mirror_percentage;
    }
    if out.cors_policy.is_none() {
        out.cors_policy = root.cors_policy.clone();
    }
    if out.mirrors.is_empty() {
        out.mirrors = root.mirrors.clone();
    }
    if out.headers.is_none() {
        out.headers = root.headers.clone();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(p: &str) -> HttpMatchRequest {
        HttpMatchRequest {
            uri: Some(StringMatch::prefix(p)),
            ..Default::default()
        }
    }

    /// A delegate's match must be a subset of the root's: `/productpage/v1` under
    /// `/productpage` merges; `/reviews` under `/productpage` conflicts and is dropped.
    #[test]
    fn delegate_matches_must_fit_the_root() {
        let root = HttpRoute {
            r#match: vec![prefix("/productpage")],
            ..Default::default()
        };
        let ok = HttpRoute {
            r#match: vec![prefix("/productpage/v1")],
            ..Default::default()
        };
        let merged = merge_route(&root, &ok).unwrap();
        assert_eq!(
            merged.r#match[0].uri,
            Some(StringMatch::prefix("/productpage/v1"))
        );
        let bad = HttpRoute {
            r#match: vec![prefix("/reviews")],
            ..Default::default()
        };
        assert!(merge_route(&root, &bad).is_none());
    }

    /// Unset fields of the delegate are inherited from the root, whole field by whole field.
    #[test]
    fn delegate_inherits_unset_fields() {
        let root = HttpRoute {
            name: "root".into(),
            timeout: Some(mesh_model::Duration::from_secs(3)),
            ..Default::default()
        };
        let leaf = HttpRoute {
            name: "leaf".into(),
            ..Default::default()
        };
        let merged = merge_route(&root, &leaf).unwrap();
        assert_eq!(merged.name, "root-leaf");
        assert_eq!(merged.timeout, Some(mesh_model::Duration::from_secs(3)));
    }
}
