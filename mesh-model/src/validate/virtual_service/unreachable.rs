//! Rules and matches that can never be used (`analyzeUnreachableHTTPRules`,
//! `analyzeUnreachableTCPRules`, `analyzeUnreachableTLSRules`, `genMatchHTTPRoutes`,
//! `coveredValidation`).
//!
//! Istio returns these as validation warnings that `istioctl analyze` reports as IST0130
//! (VirtualServiceUnreachableRule, a warning) and IST0131 (VirtualServiceIneffectiveMatch, an
//! info), with the texts built in `ValidateVirtualService` (`virtualService rule ...`, no
//! final period; SPEC.md quotes the analyzer's `VirtualService rule ....` template, but the
//! message Istio's validation produces is this one).

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use super::names::go_quote;
use crate::validate::{Severity, Sink};
use crate::virtual_service::{HttpMatchRequest, HttpRoute, StringMatch, StringMatchKind};

const UNREACHABLE: &str = "IST0130";
const INEFFECTIVE: &str = "IST0131";

fn report_unreachable(sink: &mut Sink<'_>, path: String, rule: &str, reason: &str) {
    sink.push(
        Severity::Warning,
        Some(UNREACHABLE),
        path,
        format!("virtualService rule {rule} not used ({reason})"),
    );
}

fn report_ineffective(sink: &mut Sink<'_>, path: String, rule: &str, matchn: &str, dup: &str) {
    sink.push(
        Severity::Info,
        Some(INEFFECTIVE),
        path,
        format!("virtualService rule {rule} match {matchn} is not used (duplicate/overlapping match in rule {dup})"),
    );
}

/// `routeName`: `"name"` for a named HTTP route, else `#index`.
fn http_route_name(route: &HttpRoute, n: usize) -> String {
    if route.name.is_empty() {
        format!("#{n}")
    } else {
        go_quote(&route.name)
    }
}

/// `requestName`: `"name"` for a named HTTP match, else `#index`.
fn http_request_name(m: &HttpMatchRequest, n: usize) -> String {
    if m.name.is_empty() {
        format!("#{n}")
    } else {
        go_quote(&m.name)
    }
}

/// A match with a URI prefix, which the overlap heuristic compares
/// (`OverlappingMatchValidationForHTTPRoute`); what it compares is derived when a pair is
/// compared (few are), so that a VirtualService of many rules copies nothing per match.
struct PrefixMatch<'a> {
    rule: usize,
    matchn: usize,
    route: &'a HttpRoute,
    m: &'a HttpMatchRequest,
    prefix: &'a str,
}

/// A match compared as Istio's JSON form compares it: every field but `name`, by
/// reference (no copy per match).
struct MatchKey<'a>(&'a HttpMatchRequest);

impl MatchKey<'_> {
    /// Every field but `name`, listed exhaustively: a new field of `HttpMatchRequest` is a
    /// compile error here until it is compared.
    #[allow(clippy::type_complexity)]
    fn fields(
        &self,
    ) -> (
        (
            Option<&StringMatch>,
            Option<&StringMatch>,
            Option<&StringMatch>,
            Option<&StringMatch>,
        ),
        (
            &crate::vec_map::VecMap<String, StringMatch>,
            u32,
            &BTreeMap<String, String>,
        ),
        (
            &Vec<String>,
            &crate::vec_map::VecMap<String, StringMatch>,
            bool,
        ),
        (&crate::vec_map::VecMap<String, StringMatch>, &str, &str),
    ) {
        let HttpMatchRequest {
            name: _,
            uri,
            scheme,
            method,
            authority,
            headers,
            port,
            source_labels,
            gateways,
            query_params,
            ignore_uri_case,
            without_headers,
            source_namespace,
            stat_prefix,
        } = self.0;
        (
            (
                uri.as_ref(),
                scheme.as_deref(),
                method.as_deref(),
                authority.as_deref(),
            ),
            (headers, *port, source_labels),
            (gateways, query_params, *ignore_uri_case),
            (without_headers, source_namespace, stat_prefix),
        )
    }
}

impl PartialEq for MatchKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.fields() == other.fields()
    }
}

impl Eq for MatchKey<'_> {}

impl Hash for MatchKey<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.fields().hash(state);
    }
}

/// `assignExactOrPrefix`: `exact:v`, `prefix:v`, or empty (regex, presence, empty values).
fn exact_or_prefix(sm: Option<&StringMatch>) -> String {
    match sm.map(StringMatch::kind) {
        Some(StringMatchKind::Exact(e)) if !e.is_empty() => format!("exact:{e}"),
        Some(StringMatchKind::Prefix(p)) if !p.is_empty() => format!("prefix:{p}"),
        _ => String::new(),
    }
}

fn exact_or_prefix_map(
    map: &crate::vec_map::VecMap<String, StringMatch>,
) -> BTreeMap<String, String> {
    map.iter()
        .map(|(k, v)| (k.clone(), exact_or_prefix(Some(v))))
        .collect()
}

/// `genMatchHTTPRoutes`: only matches with a non-empty URI prefix take part.
fn gen_prefix_match<'a>(
    route: &'a HttpRoute,
    m: &'a HttpMatchRequest,
    rule: usize,
    matchn: usize,
) -> Option<PrefixMatch<'a>> {
    let StringMatchKind::Prefix(prefix) = m.uri.as_ref()?.kind() else {
        return None;
    };
    if prefix.is_empty() {
        return None;
    }
    Some(PrefixMatch {
        rule,
        matchn,
        route,
        m,
        prefix,
    })
}

/// The method as the heuristic compares it: without one it assumes GET.
fn method_of(m: &HttpMatchRequest) -> String {
    let method = exact_or_prefix(m.method.as_deref());
    if method.is_empty() {
        "exact:GET".into()
    } else {
        method
    }
}

/// Field of `coveredValidation`: equal, or the earlier value starts with the later one.
fn covers(a: &str, b: &str) -> bool {
    a == b || a.starts_with(b)
}

fn covers_map(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(k, va)| b.get(k).is_some_and(|vb| covers(va, vb)))
}

/// `coveredValidation`: whether the earlier prefix match `a` covers the later `b`.
fn covered(a: &PrefixMatch<'_>, b: &PrefixMatch<'_>) -> bool {
    let (x, y) = (a.m, b.m);
    b.prefix.starts_with(a.prefix)
        && x.port == y.port
        && covers(&method_of(x), &method_of(y))
        && covers(
            &exact_or_prefix(x.authority.as_deref()),
            &exact_or_prefix(y.authority.as_deref()),
        )
        && covers_map(
            &exact_or_prefix_map(&x.headers),
            &exact_or_prefix_map(&y.headers),
        )
        && covers_map(
            &exact_or_prefix_map(&x.query_params),
            &exact_or_prefix_map(&y.query_params),
        )
        && covers_map(
            &exact_or_prefix_map(&x.without_headers),
            &exact_or_prefix_map(&y.without_headers),
        )
}

/// `analyzeUnreachableHTTPRules`.
pub(super) fn analyze_http(sink: &mut Sink<'_>, routes: &[HttpRoute]) {
    // Matches compare as Istio's JSON form does: every field but `name`.
    let mut seen: HashMap<MatchKey<'_>, usize> = HashMap::new();
    let mut empty_match_rule: Option<usize> = None;
    let mut prefix_matches = Vec::new();
    for (rulen, route) in routes.iter().enumerate() {
        // Formatted only for a finding.
        let rule_path = || format!("spec.http[{rulen}]");
        let name = || http_route_name(route, rulen);
        if route.r#match.is_empty() {
            if empty_match_rule.is_some() {
                report_unreachable(
                    sink,
                    rule_path(),
                    &name(),
                    "only the last rule can have no matches",
                );
            }
            empty_match_rule = Some(rulen);
            continue;
        }
        let mut duplicates = 0;
        for (matchn, m) in route.r#match.iter().enumerate() {
            if empty_match_rule.is_some() {
                report_unreachable(
                    sink,
                    rule_path(),
                    &name(),
                    "route without matches defined before",
                );
                continue;
            }
            let key = MatchKey(m);
            if let Some(&dupn) = seen.get(&key) {
                report_ineffective(
                    sink,
                    format!("{}.match[{matchn}]", rule_path()),
                    &name(),
                    &http_request_name(m, matchn),
                    &http_route_name(&routes[dupn], dupn),
                );
                duplicates += 1;
                continue;
            }
            seen.insert(key, rulen);
            if let Some(pm) = gen_prefix_match(route, m, rulen, matchn) {
                prefix_matches.push(pm);
            }
        }
        if duplicates == route.r#match.len() {
            report_unreachable(
                sink,
                rule_path(),
                &name(),
                "all matches used by prior rules",
            );
        }
    }
    // Istio compares every pair; a later match can only be covered by an earlier one whose
    // prefix is a proper prefix of its own, so index the matches by prefix and look up the
    // prefixes of each prefix: linear in the number of matches times the prefix length,
    // instead of quadratic (a 100 000-rule VirtualService stays fast).
    let mut by_prefix: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, pm) in prefix_matches.iter().enumerate() {
        by_prefix.entry(pm.prefix).or_default().push(i);
    }
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for (j, b) in prefix_matches.iter().enumerate() {
        for (k, _) in b.prefix.char_indices().skip(1) {
            let Some(candidates) = by_prefix.get(&b.prefix[..k]) else {
                continue;
            };
            pairs.extend(candidates.iter().take_while(|i| **i < j).map(|i| (*i, j)));
        }
    }
    // Report in Istio's order: by the earlier match, then the later one.
    pairs.sort_unstable();
    for (i, j) in pairs {
        let (a, b) = (&prefix_matches[i], &prefix_matches[j]);
        {
            if covered(a, b) {
                report_ineffective(
                    sink,
                    format!("spec.http[{}].match[{}]", b.rule, b.matchn),
                    &http_route_name(b.route, b.rule),
                    &format!(
                        "{} of prefix {}",
                        http_request_name(b.m, b.matchn),
                        b.prefix
                    ),
                    &format!(
                        "{} of prefix {} on {}",
                        http_request_name(a.m, a.matchn),
                        a.prefix,
                        http_route_name(a.route, a.rule)
                    ),
                );
            }
        }
    }
}

/// `analyzeUnreachableTCPRules` / `analyzeUnreachableTLSRules`: the same analysis on
/// unnamed rules, without the prefix heuristic. `field` is `tcp` or `tls`; `matches_of`
/// gives a rule's matches.
pub(super) fn analyze_l4<R, M: Eq + Hash>(
    sink: &mut Sink<'_>,
    field: &str,
    routes: &[R],
    matches_of: impl Fn(&R) -> &[M],
) {
    let mut seen: HashMap<&M, usize> = HashMap::new();
    let mut empty_match_rule: Option<usize> = None;
    for (rulen, route) in routes.iter().enumerate() {
        let rule_path = format!("spec.{field}[{rulen}]");
        let name = format!("#{rulen}");
        let matches = matches_of(route);
        if matches.is_empty() {
            if empty_match_rule.is_some() {
                report_unreachable(
                    sink,
                    rule_path,
                    &name,
                    "only the last rule can have no matches",
                );
            }
            empty_match_rule = Some(rulen);
            continue;
        }
        let mut duplicates = 0;
        for (matchn, m) in matches.iter().enumerate() {
            if empty_match_rule.is_some() {
                report_unreachable(
                    sink,
                    rule_path.clone(),
                    &name,
                    "route without matches defined before",
                );
                continue;
            }
            if let Some(&dupn) = seen.get(m) {
                report_ineffective(
                    sink,
                    format!("{rule_path}.match[{matchn}]"),
                    &name,
                    &format!("#{matchn}"),
                    &format!("#{dupn}"),
                );
                duplicates += 1;
            } else {
                seen.insert(m, rulen);
            }
        }
        if duplicates == matches.len() {
            report_unreachable(sink, rule_path, &name, "all matches used by prior rules");
        }
    }
}
