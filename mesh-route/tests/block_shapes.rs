//! `decide` walks a virtual host's match blocks in one of several ways, by the host's shape
//! (a first rule without conditions; one condition a block, with or without a last rule
//! without any; anything else). Whatever the way, the entry it matches must be the first
//! entry whose own match block (`HttpMatch::matches`) accepts the request.

use std::fmt::Write as _;

use http::{HeaderMap, HeaderName, HeaderValue};
use mesh_match::RequestView;
use mesh_route::{CompileOptions, Decision, Identity, NoRoute, RouteTable};
use proptest::prelude::*;

/// One condition of a match block, as VirtualService YAML.
const CONDITIONS: [&str; 12] = [
    "uri: {exact: /a}",
    "uri: {prefix: /a}",
    "uri: {regex: \"/[ab]+\"}",
    "uri: {exact: /B}\n      ignoreUriCase: true",
    "headers: {x-k: {exact: one}}",
    "headers: {x-k: {exact: two}}",
    "headers: {x-j: {prefix: t}}",
    "headers: {x-k: {}}",
    "withoutHeaders: {x-j: {exact: two}}",
    "method: {exact: POST}",
    "queryParams: {q: {exact: \"1\"}}",
    "port: 8080",
];

/// The YAML of one VirtualService for host `h.example.com` whose rules have the given
/// conditions (indexes into [`CONDITIONS`]; an empty rule has no `match`, a rule of several
/// has them in one block).
fn yaml(rules: &[Vec<usize>]) -> String {
    let mut y = String::from(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
         metadata: {name: h, namespace: ns}\nspec:\n  hosts: [h.example.com]\n  http:\n",
    );
    for (i, conds) in rules.iter().enumerate() {
        y.push_str("  - ");
        // One condition per field (a field twice would be a duplicate key).
        let mut conds: Vec<usize> = conds.clone();
        let key = |c: &usize| CONDITIONS[*c].split(':').next().unwrap_or("");
        let mut seen = Vec::new();
        conds.retain(|c| {
            let fresh = !seen.contains(&key(c));
            seen.push(key(c));
            fresh
        });
        if !conds.is_empty() {
            y.push_str("match:\n    - ");
            for (j, c) in conds.iter().enumerate() {
                if j > 0 {
                    y.push_str("\n      ");
                }
                y.push_str(CONDITIONS[*c]);
            }
            y.push_str("\n    ");
        }
        let _ = writeln!(y, "route: [{{destination: {{host: d{i}}}}}]");
    }
    y
}

/// A request: path, method, port, and the values of `x-k` and `x-j` (several for a repeated
/// header).
type Req = (
    &'static str,
    &'static str,
    u16,
    Vec<&'static str>,
    Vec<&'static str>,
);

fn request() -> impl Strategy<Value = Req> {
    (
        prop::sample::select(vec!["/a", "/ab", "/b", "/B", "/a?q=1", "/c?q=2"]),
        prop::sample::select(vec!["GET", "POST"]),
        prop::sample::select(vec![80u16, 8080]),
        prop::collection::vec(prop::sample::select(vec!["one", "two", "x"]), 0..3),
        prop::collection::vec(prop::sample::select(vec!["two", "tx", "y"]), 0..3),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Hosts of every shape: `decide` matches the first entry whose match block accepts the
    /// request, and no entry when none does.
    #[test]
    fn every_host_shape_matches_the_first_entry_that_accepts(
        rules in prop::collection::vec(
            prop::collection::vec(0..CONDITIONS.len(), 0..3),
            1..7,
        ),
        requests in prop::collection::vec(request(), 1..8),
    ) {
        let resources = mesh_model::load_str(&yaml(&rules)).expect("loads");
        let table = RouteTable::compile(&resources, &Identity::sidecar("ns"), &CompileOptions::default())
            .expect("compiles");
        for (path, method, port, k, j) in &requests {
            let mut headers = HeaderMap::new();
            for v in k {
                headers.append(HeaderName::from_static("x-k"), HeaderValue::from_static(v));
            }
            for v in j {
                headers.append(HeaderName::from_static("x-j"), HeaderValue::from_static(v));
            }
            let authority = format!("h.example.com:{port}");
            let view = RequestView::new(method, "http", &authority, path, &headers);
            let vhost = table.virtual_host(&view).expect("a host").expect("its virtual host");
            let want = vhost
                .entries
                .iter()
                .position(|e| e.matcher.as_ref().is_none_or(|m| m.matches(&view)));
            let decision = table.decide(&view, 0);
            let got = match &decision {
                Decision::NoRoute(NoRoute::NoRuleMatched) => None,
                d => Some(
                    vhost
                        .entries
                        .iter()
                        .position(|e| d.matched().is_some_and(|m| std::ptr::eq(m.entry, e)))
                        .expect("the matched entry is the host's"),
                ),
            };
            prop_assert_eq!(got, want, "{:?} {} {} {} {:?} {:?}", rules, path, method, port, k, j);
        }
    }
}
