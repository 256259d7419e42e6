//! The compiled matchers and the path normalizer against small, obviously correct reference
//! implementations written from the SPEC (sections 2.2, 3 and 9), on generated requests.
//!
//! The references deliberately share no code with the crate: every regex used here comes with
//! a hand-written predicate saying which whole values it accepts.

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use mesh_match::{HttpMatch, MatchProgram, PathNormalization, RequestView, normalize};
use mesh_model::virtual_service::{HttpMatchRequest, StringMatch};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// String conditions and their reference semantics.
// ---------------------------------------------------------------------------------------

/// A regex together with the set of whole values it accepts, spelled out by hand.
#[derive(Clone, Debug)]
enum Re {
    /// `s`: the value is `s`.
    Literal(String),
    /// `s.*`: the value starts with `s`.
    StartsWith(String),
    /// `.*s`: the value ends with `s`.
    EndsWith(String),
    /// `.*s.*`: the value contains `s`.
    Contains(String),
    /// `a|b`: the value is `a` or `b` (the alternation is anchored as a whole).
    Alt(String, String),
    /// `(?i)s`: the value is `s` ignoring ASCII case.
    NoCase(String),
    /// `[a-z]+`.
    Lower,
    /// `\d+`: ASCII digits only (RE2's `\d`).
    Digits,
}

/// Escapes the regex metacharacters that the generated alphabets contain.
fn esc(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Re {
    fn pattern(&self) -> String {
        match self {
            Re::Literal(s) => esc(s),
            Re::StartsWith(s) => format!("{}.*", esc(s)),
            Re::EndsWith(s) => format!(".*{}", esc(s)),
            Re::Contains(s) => format!(".*{}.*", esc(s)),
            Re::Alt(a, b) => format!("{}|{}", esc(a), esc(b)),
            Re::NoCase(s) => format!("(?i){}", esc(s)),
            Re::Lower => "[a-z]+".to_owned(),
            Re::Digits => "\\d+".to_owned(),
        }
    }

    /// Values never contain a newline, so `.` accepts every character of them.
    fn accepts(&self, v: &str) -> bool {
        match self {
            Re::Literal(s) => v == s,
            Re::StartsWith(s) => v.starts_with(s.as_str()),
            Re::EndsWith(s) => v.ends_with(s.as_str()),
            Re::Contains(s) => v.contains(s.as_str()),
            Re::Alt(a, b) => v == a || v == b,
            Re::NoCase(s) => v.eq_ignore_ascii_case(s),
            Re::Lower => !v.is_empty() && v.bytes().all(|b| b.is_ascii_lowercase()),
            Re::Digits => !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()),
        }
    }
}

/// A `StringMatch` as a user writes it.
#[derive(Clone, Debug)]
enum Cond {
    Exact(String),
    Prefix(String),
    Regex(Re),
    /// `{}`: presence.
    Present,
    /// `regex: "*"`: also presence (not a regex).
    RegexStar,
}

impl Cond {
    fn to_model(&self) -> StringMatch {
        match self {
            Cond::Exact(s) => StringMatch::exact(s.clone()),
            Cond::Prefix(s) => StringMatch::prefix(s.clone()),
            Cond::Regex(r) => StringMatch::regex(r.pattern()),
            Cond::Present => StringMatch::default(),
            Cond::RegexStar => StringMatch::regex("*"),
        }
    }

    fn is_presence(&self) -> bool {
        matches!(self, Cond::Present | Cond::RegexStar)
    }

    /// Whether a present value satisfies the condition (case-sensitive).
    fn accepts(&self, v: &str) -> bool {
        match self {
            Cond::Exact(s) => v == s,
            Cond::Prefix(s) => v.starts_with(s.as_str()),
            Cond::Regex(r) => r.accepts(v),
            Cond::Present | Cond::RegexStar => true,
        }
    }

    /// `ignoreUriCase` on a path: exact and prefix compare ASCII case-insensitively; a
    /// regex is not affected.
    fn accepts_ignoring_case(&self, v: &str) -> bool {
        match self {
            Cond::Exact(s) => v.eq_ignore_ascii_case(s),
            Cond::Prefix(s) => {
                v.len() >= s.len() && v.as_bytes()[..s.len()].eq_ignore_ascii_case(s.as_bytes())
            }
            other => other.accepts(v),
        }
    }
}

fn re_over(words: &'static [&'static str]) -> impl Strategy<Value = Re> {
    let w = || prop::sample::select(words).prop_map(str::to_owned);
    prop_oneof![
        w().prop_map(Re::Literal),
        w().prop_map(Re::StartsWith),
        w().prop_map(Re::EndsWith),
        w().prop_map(Re::Contains),
        (w(), w()).prop_map(|(a, b)| Re::Alt(a, b)),
        w().prop_map(Re::NoCase),
        Just(Re::Lower),
        Just(Re::Digits),
    ]
}

/// A condition over values built from `words` (exact, prefix, regex, presence).
fn cond_over(words: &'static [&'static str]) -> impl Strategy<Value = Cond> {
    let w = || prop::sample::select(words).prop_map(str::to_owned);
    prop_oneof![
        3 => w().prop_map(Cond::Exact),
        3 => w().prop_map(Cond::Prefix),
        3 => re_over(words).prop_map(Cond::Regex),
        1 => Just(Cond::Present),
        1 => Just(Cond::RegexStar),
    ]
}

// ---------------------------------------------------------------------------------------
// Generated requests.
// ---------------------------------------------------------------------------------------

const PATH_TOKENS: &[&str] = &[
    "/", "a", "A", "b", "B", "%", "%2F", ".", "=", "&", "/a", "/A",
];
const QUERY_KEYS: &[&str] = &["q", "Q", "e", "%71"];
const QUERY_VALUES: &[&str] = &[
    "", "1", "2", "a", "A", "a%20b", "a+b", "v1", "v12", "?", "=",
];
const HEADER_NAMES: &[&str] = &["x-a", "x-b"];
const HEADER_VALUES: &[&str] = &["", "a", "A", "ab", "b", "a,b", "1", "12", "Ab"];
const METHODS: &[&str] = &["GET", "POST", "PUT"];
const AUTHORITIES: &[&str] = &[
    "foo.com",
    "Foo.com",
    "foo.com:80",
    "foo.com:8080",
    "bar.com",
];
const SCHEMES: &[&str] = &["http", "https"];

#[derive(Clone, Debug)]
struct Req {
    method: String,
    scheme: String,
    authority: String,
    /// Path and query, as matching sees it (already normalized).
    target: String,
    /// Header name and its values, in order; a name may be absent.
    headers: Vec<(String, Vec<String>)>,
}

impl Req {
    fn header_map(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, values) in &self.headers {
            for v in values {
                h.append(
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
        }
        h
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// All values of a header, by case-insensitive name, in order.
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, vs)| vs.iter().map(String::as_str))
            .collect()
    }

    /// The raw value of the first occurrence of a query parameter (`?e` has value `""`).
    fn first_query_value(&self, key: &str) -> Option<&str> {
        let q = self.query()?;
        for pair in q.split('&') {
            let (k, v) = match pair.find('=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, ""),
            };
            if k == key {
                return Some(v);
            }
        }
        None
    }
}

fn words(list: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(list).prop_map(str::to_owned)
}

fn target() -> impl Strategy<Value = String> {
    let pair =
        (words(QUERY_KEYS), prop::option::of(words(QUERY_VALUES))).prop_map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k,
        });
    (
        prop::collection::vec(words(PATH_TOKENS), 0..5),
        prop::option::of(prop::collection::vec(pair, 0..4)),
    )
        .prop_map(|(path, query)| {
            let mut t = format!("/{}", path.concat());
            if let Some(pairs) = query {
                t.push('?');
                t.push_str(&pairs.join("&"));
            }
            t
        })
}

fn request() -> impl Strategy<Value = Req> {
    let header = (
        words(HEADER_NAMES),
        prop::collection::vec(words(HEADER_VALUES), 1..3),
    );
    (
        words(METHODS),
        words(SCHEMES),
        words(AUTHORITIES),
        target(),
        prop::collection::vec(header, 0..3),
    )
        .prop_map(|(method, scheme, authority, target, headers)| Req {
            method,
            scheme,
            authority,
            target,
            headers,
        })
}

// ---------------------------------------------------------------------------------------
// Generated match blocks and the reference matcher.
// ---------------------------------------------------------------------------------------

const URI_WORDS: &[&str] = &[
    "/", "/a", "/A", "/a/b", "/a?q", "/ab", "/a%2F", "", "/a/", "/b",
];
const METHOD_WORDS: &[&str] = &["GET", "POST", "P", "get"];
const AUTHORITY_WORDS: &[&str] = &["foo.com", "foo.com:80", "foo", "Foo.com", "bar.com"];

#[derive(Clone, Debug)]
enum UriCond {
    Exact(String),
    Prefix(String),
    Regex(Re),
}

#[derive(Clone, Debug, Default)]
struct Block {
    uri: Option<UriCond>,
    ignore_uri_case: bool,
    method: Option<Cond>,
    authority: Option<Cond>,
    scheme: Option<Cond>,
    /// Keys as written in the VirtualService (case variants allowed).
    headers: BTreeMap<String, Cond>,
    without_headers: BTreeMap<String, Cond>,
    query: BTreeMap<String, Cond>,
}

fn value_cond(words: &'static [&'static str]) -> impl Strategy<Value = Cond> {
    // No presence for method, authority and scheme: they are always present.
    let w = move || prop::sample::select(words).prop_map(str::to_owned);
    prop_oneof![
        w().prop_map(Cond::Exact),
        w().prop_map(Cond::Prefix),
        re_over(words).prop_map(Cond::Regex),
    ]
}

fn block() -> impl Strategy<Value = Block> {
    let uri = prop_oneof![
        words(URI_WORDS).prop_map(UriCond::Exact),
        words(URI_WORDS).prop_map(UriCond::Prefix),
        re_over(&["/a", "/A", "/a/b", "/b", "a", "A", "%2F"]).prop_map(UriCond::Regex),
    ];
    let header_key = prop::sample::select(&["x-a", "x-b", "X-A"][..]).prop_map(str::to_owned);
    let query_key = words(&["q", "Q", "e"]);
    (
        (
            prop::option::of(uri),
            any::<bool>(),
            prop::option::weighted(0.3, value_cond(METHOD_WORDS)),
            prop::option::weighted(0.3, value_cond(AUTHORITY_WORDS)),
            prop::option::weighted(0.2, value_cond(&["http", "https", "HTTP"])),
        ),
        prop::collection::btree_map(header_key.clone(), cond_over(HEADER_VALUES), 0..2),
        prop::collection::btree_map(header_key, cond_over(HEADER_VALUES), 0..2),
        prop::collection::btree_map(query_key, cond_over(QUERY_VALUES), 0..2),
    )
        .prop_map(
            |((uri, ignore_uri_case, method, authority, scheme), headers, without, query)| Block {
                uri,
                ignore_uri_case,
                method,
                authority,
                scheme,
                headers,
                without_headers: without,
                query,
            },
        )
}

impl Block {
    fn to_model(&self) -> HttpMatchRequest {
        let map = |m: &BTreeMap<String, Cond>| {
            m.iter()
                .map(|(k, c)| (k.clone(), c.to_model()))
                .collect::<mesh_model::vec_map::VecMap<_, _>>()
        };
        HttpMatchRequest {
            uri: self.uri.as_ref().map(|u| match u {
                UriCond::Exact(s) => StringMatch::exact(s.clone()),
                UriCond::Prefix(s) => StringMatch::prefix(s.clone()),
                UriCond::Regex(r) => StringMatch::regex(r.pattern()),
            }),
            ignore_uri_case: self.ignore_uri_case,
            method: self.method.as_ref().map(|c| Box::new(c.to_model())),
            authority: self.authority.as_ref().map(|c| Box::new(c.to_model())),
            scheme: self.scheme.as_ref().map(|c| Box::new(c.to_model())),
            headers: map(&self.headers),
            without_headers: map(&self.without_headers),
            query_params: map(&self.query),
            ..Default::default()
        }
    }

    /// The reference: SPEC 2.2 and 9, condition by condition, AND-ed.
    fn reference(&self, r: &Req) -> bool {
        let uri_ok = match &self.uri {
            None => true,
            // exact: the path without the query, whole.
            Some(UriCond::Exact(s)) => {
                let c = Cond::Exact(s.clone());
                if self.ignore_uri_case {
                    c.accepts_ignoring_case(r.path())
                } else {
                    c.accepts(r.path())
                }
            }
            // prefix: a raw prefix of `:path`, query included.
            Some(UriCond::Prefix(s)) => {
                let c = Cond::Prefix(s.clone());
                if self.ignore_uri_case {
                    c.accepts_ignoring_case(&r.target)
                } else {
                    c.accepts(&r.target)
                }
            }
            // regex: the whole path without the query; ignoreUriCase has no effect.
            Some(UriCond::Regex(re)) => re.accepts(r.path()),
        };
        // method, authority and scheme: raw values, case-sensitive.
        let pseudo = |c: &Option<Cond>, v: &str| c.as_ref().is_none_or(|c| c.accepts(v));
        let headers_ok = self.headers.iter().all(|(k, c)| {
            let values = r.header_values(k);
            if c.is_presence() {
                !values.is_empty()
            } else {
                // Each value on its own; any match counts. Absent never matches.
                values.iter().any(|v| c.accepts(v))
            }
        });
        let without_ok = self.without_headers.iter().all(|(k, c)| {
            let values = r.header_values(k);
            if c.is_presence() {
                values.is_empty()
            } else if values.is_empty() {
                // A missing header counts as empty, then the result is inverted.
                !c.accepts("")
            } else {
                !values.iter().any(|v| c.accepts(v))
            }
        });
        let query_ok = self
            .query
            .iter()
            .all(|(k, c)| match r.first_query_value(k) {
                None => false,
                Some(_) if c.is_presence() => true,
                Some(v) => c.accepts(v),
            });
        uri_ok
            && pseudo(&self.method, &r.method)
            && pseudo(&self.authority, &r.authority)
            && pseudo(&self.scheme, &r.scheme)
            && headers_ok
            && without_ok
            && query_ok
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// A compiled match block decides exactly as the reference on every generated request.
    #[test]
    fn matcher_agrees_with_the_reference(
        b in block(),
        reqs in prop::collection::vec(request(), 24),
    ) {
        let m = HttpMatch::compile(&b.to_model(), "default").unwrap();
        for r in &reqs {
            let headers = r.header_map();
            let view = RequestView::new(&r.method, &r.scheme, &r.authority, &r.target, &headers);
            prop_assert_eq!(
                m.matches(&view),
                b.reference(r),
                "block {:?}\nrequest {:?}",
                b,
                r
            );
            // `check` and `matches` agree.
            prop_assert_eq!(m.check(&view).is_ok(), m.matches(&view));
        }
    }

    /// A program of several blocks (as a route table lays out a virtual host's rules, with
    /// their literals, regexes and header names pooled) decides every block exactly as the
    /// reference, and its first match is the first block the reference accepts.
    #[test]
    fn a_program_of_many_blocks_agrees_with_the_reference(
        blocks in prop::collection::vec(prop::option::weighted(0.9, block()), 1..6),
        reqs in prop::collection::vec(request(), 16),
    ) {
        let mut program = MatchProgram::new();
        // A block of another table before these, so that they do not start at 0.
        program.push(Some(&HttpMatch::compile(&block_with_header("x-a", "v1"), "default").unwrap())).unwrap();
        let compiled: Vec<Option<HttpMatch>> = blocks
            .iter()
            .map(|b| b.as_ref().map(|b| HttpMatch::compile(&b.to_model(), "default").unwrap()))
            .collect();
        let first = program.len();
        for m in &compiled {
            program.push(m.as_ref()).unwrap();
        }
        prop_assert_eq!(program.len(), first + blocks.len());
        for r in &reqs {
            let headers = r.header_map();
            let view = RequestView::new(&r.method, &r.scheme, &r.authority, &r.target, &headers);
            let expected: Vec<bool> = blocks
                .iter()
                .map(|b| b.as_ref().is_none_or(|b| b.reference(r)))
                .collect();
            for (i, want) in expected.iter().enumerate() {
                prop_assert_eq!(program.matches(first + i, &view), *want, "block {} {:?}\nrequest {:?}", i, blocks[i], r);
            }
            prop_assert_eq!(
                program.first_match(first..program.len(), &view),
                expected.iter().position(|x| *x).map(|i| first + i)
            );
        }
    }

    /// Requests that carry exactly what a block asks for match it: the generator above
    /// rarely hits every condition at once, so this builds hits on purpose.
    #[test]
    fn a_request_built_to_satisfy_header_and_query_conditions_matches(
        values in prop::collection::vec(words(HEADER_VALUES), 1..4),
        pick in any::<prop::sample::Index>(),
        qv in words(QUERY_VALUES),
        noise in prop::collection::vec(words(QUERY_VALUES), 0..3),
    ) {
        let wanted = pick.get(&values).clone();
        let mut m = HttpMatchRequest::default();
        m.headers.insert("X-A".into(), StringMatch::exact(wanted.clone()));
        m.query_params.insert("q".into(), StringMatch::exact(qv.clone()));
        let compiled = HttpMatch::compile(&m, "default").unwrap();
        let mut headers = HeaderMap::new();
        for v in &values {
            headers.append("x-a", HeaderValue::from_str(v).unwrap());
        }
        let mut target = format!("/p?q={qv}");
        for n in &noise {
            target.push_str(&format!("&q={n}"));
        }
        let view = RequestView::new("GET", "http", "foo.com", &target, &headers);
        prop_assert!(compiled.matches(&view), "{:?} {}", values, target);
    }
}

/// A block with one header condition.
fn block_with_header(name: &str, value: &str) -> HttpMatchRequest {
    let mut m = HttpMatchRequest::default();
    m.headers.insert(name.into(), StringMatch::exact(value));
    m
}

/// A few fixed cases of the reference itself, so that a wrong reference cannot hide a wrong
/// matcher: they restate SPEC section 9 rows.
#[test]
fn the_reference_restates_spec_section_9() {
    let req = |target: &str, headers: &[(&str, &[&str])]| Req {
        method: "GET".into(),
        scheme: "http".into(),
        authority: "sem.local".into(),
        target: target.into(),
        headers: headers
            .iter()
            .map(|(n, vs)| (n.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect(),
    };
    let with_header = |k: &str, c: Cond| Block {
        headers: [(k.to_owned(), c)].into(),
        ..Block::default()
    };
    let without = |k: &str, c: Cond| Block {
        without_headers: [(k.to_owned(), c)].into(),
        ..Block::default()
    };
    // Repeated headers: each value on its own.
    let two = req("/", &[("x-tag", &["a", "b"])]);
    assert!(with_header("x-tag", Cond::Exact("b".into())).reference(&two));
    assert!(!with_header("x-tag", Cond::Exact("a,b".into())).reference(&two));
    assert!(!without("x-tag", Cond::Exact("b".into())).reference(&two));
    // Empty values count as present.
    let empty = req("/", &[("x-tag", &[""])]);
    assert!(with_header("x-tag", Cond::Present).reference(&empty));
    assert!(with_header("x-tag", Cond::Exact(String::new())).reference(&empty));
    // withoutHeaders and a missing header.
    let none = req("/", &[]);
    assert!(without("x-tag", Cond::Exact("1".into())).reference(&none));
    assert!(!without("x-tag", Cond::Exact(String::new())).reference(&none));
    assert!(without("x-tag", Cond::Present).reference(&none));
    assert!(!without("x-tag", Cond::Present).reference(&empty));
    // Query: first occurrence, raw, valueless is empty.
    let q = |k: &str, c: Cond| Block {
        query: [(k.to_owned(), c)].into(),
        ..Block::default()
    };
    assert!(q("q", Cond::Exact("1".into())).reference(&req("/?q=1&q=2", &[])));
    assert!(!q("q", Cond::Exact("1".into())).reference(&req("/?q=2&q=1", &[])));
    assert!(!q("q", Cond::Exact("a b".into())).reference(&req("/?q=a%20b", &[])));
    assert!(q("e", Cond::Exact(String::new())).reference(&req("/?e", &[])));
    assert!(!q("q", Cond::Regex(Re::Literal("v1".into()))).reference(&req("/?q=v12", &[])));
    // Uri.
    let uri = |u: UriCond, ic: bool| Block {
        uri: Some(u),
        ignore_uri_case: ic,
        ..Block::default()
    };
    assert!(uri(UriCond::Prefix("/foo".into()), false).reference(&req("/foobar", &[])));
    assert!(uri(UriCond::Exact("/ex/a".into()), false).reference(&req("/ex/a?q=1", &[])));
    assert!(!uri(UriCond::Exact("/ex/a".into()), false).reference(&req("/ex/a/", &[])));
    assert!(
        !uri(UriCond::Regex(Re::Literal("/IcRx1".into())), true).reference(&req("/icrx1", &[]))
    );
    assert!(uri(UriCond::Prefix("/A".into()), true).reference(&req("/ab", &[])));
}

// ---------------------------------------------------------------------------------------
// Normalization against RFC 3986 section 5.2.4.
// ---------------------------------------------------------------------------------------

/// RFC 3986 section 5.2.4, step by step with an input and an output buffer, as written in
/// the RFC.
fn remove_dot_segments(path: &str) -> String {
    let mut input = path.to_owned();
    let mut output = String::new();
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest.to_owned(); // A
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest.to_owned(); // A
        } else if input.starts_with("/./") {
            input = input[2..].to_owned(); // B
        } else if input == "/." {
            input = "/".to_owned(); // B
        } else if input.starts_with("/../") || input == "/.." {
            // C
            input = if input == "/.." {
                "/".to_owned()
            } else {
                input[3..].to_owned()
            };
            match output.rfind('/') {
                Some(i) => output.truncate(i),
                None => output.clear(),
            }
        } else if input == "." || input == ".." {
            input.clear(); // D
        } else {
            // E: the first segment, with its leading '/', up to the next '/'.
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            output.push_str(&input[..end]);
            input = input[end..].to_owned();
        }
    }
    output
}

/// The reference pipeline of SPEC section 3 for the generated alphabet: with
/// DECODE_AND_MERGE_SLASHES `%2F`/`%5C` (either case) are decoded first (a backslash is a
/// slash); `%2e` is an unreserved escape and decodes to `.`; `\` becomes `/`; then dot
/// segments go; then (MERGE_SLASHES and DECODE_AND_MERGE_SLASHES) slashes merge. An empty
/// result is the root. Checked against Envoy 1.40 on 600 random paths of this alphabet.
fn reference_normalize(path: &str, mode: PathNormalization) -> String {
    let mut p = path.to_owned();
    if mode == PathNormalization::DecodeAndMergeSlashes {
        for e in ["%2f", "%2F", "%5c", "%5C"] {
            p = p.replace(e, "/");
        }
    }
    let decoded = p.replace("%2e", ".").replace("%2E", ".").replace('\\', "/");
    let mut out = remove_dot_segments(&decoded);
    if out.is_empty() {
        out.push('/');
    }
    if mode != PathNormalization::Base {
        out = envoy_merge_slashes(&out);
    }
    out
}

/// Envoy's `PathUtil::mergeSlashes`: a path without `//` is kept; otherwise a leading `/`,
/// the non-empty segments joined with `/`, and a trailing `/` when the path ends with one.
/// So `//` stays `//` (checked against Envoy 1.40, which answers `//` for `///`).
fn envoy_merge_slashes(path: &str) -> String {
    if !path.contains("//") {
        return path.to_owned();
    }
    let prefix = if path.starts_with('/') { "/" } else { "" };
    let suffix = if path.ends_with('/') { "/" } else { "" };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    format!("{prefix}{}{suffix}", segments.join("/"))
}

fn dot_paths() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(
            &[
                "/", "/", "/", ".", "..", "a", "b", "ab", "%2e", "%2E", "\\", "..a", ".a", "%2F",
                "%2f", "%5C", "%5c",
            ][..],
        ),
        0..14,
    )
    .prop_map(|parts| format!("/{}", parts.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// BASE normalization removes dot segments exactly as RFC 3986's algorithm does.
    #[test]
    fn base_normalization_is_rfc3986_remove_dot_segments(p in dot_paths()) {
        let got = normalize(&p, PathNormalization::Base).unwrap();
        prop_assert_eq!(got.as_ref(), reference_normalize(&p, PathNormalization::Base), "input {}", p);
    }

    /// MERGE_SLASHES is BASE, then slashes merged; DECODE_AND_MERGE_SLASHES decodes escaped
    /// slashes first.
    #[test]
    fn merge_slashes_is_rfc3986_then_merge(p in dot_paths()) {
        for mode in [PathNormalization::MergeSlashes, PathNormalization::DecodeAndMergeSlashes] {
            let got = normalize(&p, mode).unwrap();
            prop_assert_eq!(got.as_ref(), reference_normalize(&p, mode), "input {} under {}", p, mode);
        }
    }

    /// NONE leaves every path as received.
    #[test]
    fn none_keeps_the_path(p in dot_paths()) {
        let got = normalize(&p, PathNormalization::None).unwrap();
        prop_assert_eq!(got.as_ref(), p.as_str());
    }
}

/// The RFC's own examples (section 5.2.4) hold for the reference, and for the normalizer on
/// absolute paths.
#[test]
fn rfc3986_examples() {
    assert_eq!(remove_dot_segments("/a/b/c/./../../g"), "/a/g");
    assert_eq!(remove_dot_segments("mid/content=5/../6"), "mid/6");
    for (input, want) in [
        ("/a/b/c/./../../g", "/a/g"),
        ("/a/b/../..", "/"),
        ("/..", "/"),
        ("/a/..b", "/a/..b"),
        ("/a//../b", "/a/b"),
        ("/a/b/..", "/a/"),
    ] {
        assert_eq!(
            normalize(input, PathNormalization::Base).unwrap(),
            want,
            "{input}"
        );
        assert_eq!(
            reference_normalize(input, PathNormalization::Base),
            want,
            "{input}"
        );
    }
}

/// MERGE_SLASHES as Envoy 1.40 was observed to merge (`normalize_path` and `merge_slashes`
/// on): runs of slashes become one, except that a path of slashes only becomes `//`.
#[test]
fn merge_slashes_as_observed_on_envoy() {
    for (input, want) in [
        ("//a", "/a"),
        ("/a//", "/a/"),
        ("/a//b", "/a/b"),
        ("//..", "/"),
        ("//", "//"),
        ("///", "//"),
        ("/..//", "//"),
        ("/\\/", "//"),
        ("/", "/"),
    ] {
        assert_eq!(
            normalize(input, PathNormalization::MergeSlashes).unwrap(),
            want,
            "{input}"
        );
        assert_eq!(
            reference_normalize(input, PathNormalization::MergeSlashes),
            want,
            "{input}"
        );
    }
}
