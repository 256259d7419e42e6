//! Match semantics, each as Envoy 1.40 was observed to behave with Istio's settings
//! (SPEC section 9).

use http::{HeaderMap, HeaderValue};
use mesh_model::virtual_service::{HttpMatchRequest, StringMatch};

use super::*;
use crate::request::RequestView;

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

fn compile(m: HttpMatchRequest) -> HttpMatch {
    HttpMatch::compile(&m, "default").unwrap()
}

fn hits(m: &HttpMatch, path: &str, h: &HeaderMap) -> bool {
    m.matches(&RequestView::new("GET", "http", "sem.local", path, h))
}

fn uri(sm: StringMatch) -> HttpMatch {
    compile(HttpMatchRequest {
        uri: Some(sm),
        ..Default::default()
    })
}

/// `uri.prefix` is a plain string prefix of `:path`: `/foo` matches `/foobar`, `/foo/x`
/// and `/foo?q`.
#[test]
fn prefix_is_a_raw_string_prefix() {
    let m = uri(StringMatch::prefix("/foo"));
    let h = HeaderMap::new();
    for p in ["/foo", "/foobar", "/foo/x", "/foo?q"] {
        assert!(hits(&m, p, &h), "{p}");
    }
    assert!(!hits(&m, "/fo", &h));
    assert!(!hits(&m, "/Foo", &h));
}

/// `uri.exact` ignores the query; a trailing slash and case are significant.
#[test]
fn exact_ignores_the_query() {
    let m = uri(StringMatch::exact("/ex/a"));
    let h = HeaderMap::new();
    assert!(hits(&m, "/ex/a?q=1", &h));
    assert!(!hits(&m, "/ex/a/", &h));
    assert!(!hits(&m, "/Ex/a", &h));
}

/// `uri.regex` must match the whole path without the query.
#[test]
fn regex_is_a_full_match_on_the_path() {
    let m = uri(StringMatch::regex("/rx/[a-z]+"));
    let h = HeaderMap::new();
    assert!(hits(&m, "/rx/abc?z=1", &h));
    assert!(!hits(&m, "/rx/abc/d", &h));
}

/// `ignoreUriCase` applies to exact and prefix, not to regex.
#[test]
fn ignore_uri_case_skips_regex() {
    let h = HeaderMap::new();
    let m = compile(HttpMatchRequest {
        uri: Some(StringMatch::prefix("/API")),
        ignore_uri_case: true,
        ..Default::default()
    });
    assert!(hits(&m, "/api/x", &h));
    let m = compile(HttpMatchRequest {
        uri: Some(StringMatch::regex("/IcRx[0-9]")),
        ignore_uri_case: true,
        ..Default::default()
    });
    assert!(!hits(&m, "/icrx1", &h));
}

fn header(name: &str, sm: StringMatch) -> HttpMatch {
    let mut m = HttpMatchRequest::default();
    m.headers.insert(name.to_owned(), sm);
    compile(m)
}

fn without(name: &str, sm: StringMatch) -> HttpMatch {
    let mut m = HttpMatchRequest::default();
    m.without_headers.insert(name.to_owned(), sm);
    compile(m)
}

/// Header regexes are full matches: `Chrome` does not match a real Chrome user agent.
#[test]
fn header_regex_is_a_full_match() {
    let ua = headers(&[("user-agent", "Mozilla/5.0 Chrome/120.0 Safari/537.36")]);
    assert!(!hits(
        &header("user-agent", StringMatch::regex("Chrome")),
        "/",
        &ua
    ));
    assert!(hits(
        &header("user-agent", StringMatch::regex(".*Chrome.*")),
        "/",
        &ua
    ));
}

/// Header names are case-insensitive, values case-sensitive.
#[test]
fn header_names_ignore_case_values_do_not() {
    let h = headers(&[("x-tag", "Abc")]);
    assert!(hits(&header("X-Tag", StringMatch::exact("Abc")), "/", &h));
    assert!(!hits(&header("x-tag", StringMatch::prefix("ab")), "/", &h));
}

/// A repeated header is matched value by value; any match counts, the joined form does not.
#[test]
fn repeated_headers_match_value_by_value() {
    let h = headers(&[("x-tag", "a"), ("x-tag", "b")]);
    assert!(hits(&header("x-tag", StringMatch::exact("b")), "/", &h));
    assert!(!hits(&header("x-tag", StringMatch::exact("a,b")), "/", &h));
    let joined = headers(&[("x-tag", "a,b")]);
    assert!(hits(
        &header("x-tag", StringMatch::exact("a,b")),
        "/",
        &joined
    ));
    // One matching value is enough to exclude.
    assert!(!hits(&without("x-tag", StringMatch::exact("a")), "/", &h));
}

/// Presence: `{}` and `regex: "*"`; an empty value counts as present; `exact: ""` means
/// present and empty.
#[test]
fn presence_and_empty_values() {
    let empty = headers(&[("x-tag", "")]);
    let none = HeaderMap::new();
    assert!(hits(&header("x-tag", StringMatch::default()), "/", &empty));
    assert!(hits(&header("x-tag", StringMatch::regex("*")), "/", &empty));
    assert!(!hits(&header("x-tag", StringMatch::default()), "/", &none));
    assert!(hits(&header("x-tag", StringMatch::exact("")), "/", &empty));
    assert!(!hits(&header("x-tag", StringMatch::exact("")), "/", &none));
}

/// `withoutHeaders`: a missing header satisfies `{exact: "1"}` but not `{exact: ""}`
/// (missing counts as empty); `{}` requires the header to be absent.
#[test]
fn without_headers_semantics() {
    let none = HeaderMap::new();
    let one = headers(&[("x", "1")]);
    let two = headers(&[("x", "2")]);
    assert!(hits(&without("x", StringMatch::exact("1")), "/", &none));
    assert!(!hits(&without("x", StringMatch::exact("1")), "/", &one));
    assert!(hits(&without("x", StringMatch::exact("1")), "/", &two));
    assert!(!hits(&without("x", StringMatch::exact("")), "/", &none));
    assert!(hits(&without("x", StringMatch::default()), "/", &none));
    assert!(!hits(&without("x", StringMatch::default()), "/", &two));
}

fn query(name: &str, sm: StringMatch) -> HttpMatch {
    let mut m = HttpMatchRequest::default();
    m.query_params.insert(name.to_owned(), sm);
    compile(m)
}

/// Query parameters: first occurrence only, raw (undecoded) text, `?e` equals `?e=`.
#[test]
fn query_params_are_raw_and_first_wins() {
    let h = HeaderMap::new();
    let one = query("q", StringMatch::exact("1"));
    assert!(hits(&one, "/?q=1&q=2", &h));
    assert!(!hits(&one, "/?q=2&q=1", &h));
    assert!(!hits(
        &query("q", StringMatch::exact("a b")),
        "/?q=a%20b",
        &h
    ));
    assert!(hits(
        &query("q", StringMatch::exact("a%20b")),
        "/?q=a%20b",
        &h
    ));
    assert!(hits(&query("e", StringMatch::exact("")), "/?e", &h));
    assert!(hits(&query("e", StringMatch::exact("")), "/?e=", &h));
    assert!(hits(&query("flag", StringMatch::default()), "/?flag", &h));
    assert!(!hits(
        &query("v", StringMatch::regex("v[0-9]")),
        "/?v=v12",
        &h
    ));
    assert!(!hits(&query("Q", StringMatch::exact("1")), "/?q=1", &h));
}

/// `authority` sees the Host as sent: port included, case-sensitive.
#[test]
fn authority_is_raw() {
    let h = HeaderMap::new();
    let m = compile(HttpMatchRequest {
        authority: Some(Box::new(StringMatch::exact("sem.local"))),
        ..Default::default()
    });
    assert!(m.matches(&RequestView::new("GET", "http", "sem.local", "/", &h)));
    assert!(!m.matches(&RequestView::new("GET", "http", "sem.local:80", "/", &h)));
    assert!(!m.matches(&RequestView::new("GET", "http", "SEM.LOCAL", "/", &h)));
}

/// `method` is case-sensitive; `port` compares with the request port.
#[test]
fn method_and_port() {
    let h = HeaderMap::new();
    let m = compile(HttpMatchRequest {
        method: Some(Box::new(StringMatch::exact("POST"))),
        port: 8080,
        ..Default::default()
    });
    assert!(m.matches(&RequestView::new("POST", "http", "a:8080", "/", &h)));
    assert!(!m.matches(&RequestView::new("POST", "http", "a", "/", &h)));
    assert!(!m.matches(&RequestView::new("post", "http", "a:8080", "/", &h)));
}

/// RE2's `\d` and `\w` are ASCII: Arabic-Indic digits do not match `\d`.
#[test]
fn perl_classes_are_ascii() {
    let h = headers(&[("x", "٣")]);
    assert!(!hits(&header("x", StringMatch::regex("\\d")), "/", &h));
    let h = headers(&[("x", "7")]);
    assert!(hits(&header("x", StringMatch::regex("\\d")), "/", &h));
    assert!(hits(&header("x", StringMatch::regex("[\\d]")), "/", &h));
    assert!(!hits(&header("x", StringMatch::regex("\\D")), "/", &h));
}

/// The Bookinfo cookie regex, against browser and non-browser cookie strings.
#[test]
fn bookinfo_cookie_regex() {
    let m = header("cookie", StringMatch::regex("^(.*?;)?(user=jason)(;.*)?$"));
    for (cookie, want) in [
        ("user=jason", true),
        ("a=b;user=jason", true),
        ("user=jason; a=b", true),
        ("a=b; user=jason", false),
        ("user=jasonx", false),
        ("xuser=jason", false),
        ("user=Jason", false),
    ] {
        assert_eq!(
            hits(&m, "/", &headers(&[("cookie", cookie)])),
            want,
            "{cookie}"
        );
    }
    // Two Cookie headers: each is matched on its own.
    let two = headers(&[("cookie", "a=1"), ("cookie", "user=jason")]);
    assert!(hits(&m, "/", &two));
}

/// Selectors: match-level gateways override source labels and namespace.
#[test]
fn selectors_follow_source_match_http() {
    let mut m = HttpMatchRequest::default();
    m.source_labels.insert("version".into(), "v2".into());
    let sel = compile(m.clone());
    let v2: BTreeMap<String, String> = [
        ("version".to_owned(), "v2".to_owned()),
        ("app".to_owned(), "x".to_owned()),
    ]
    .into();
    let v1: BTreeMap<String, String> = [("version".to_owned(), "v1".to_owned())].into();
    let src = |labels| Source {
        namespace: "default",
        labels,
        gateway: "mesh",
    };
    assert!(sel.selector().applies_to(&src(&v2)));
    assert!(!sel.selector().applies_to(&src(&v1)));
    m.gateways = vec!["mesh".into()];
    let gw = compile(m);
    assert!(gw.selector().applies_to(&src(&v1)));
    assert!(!gw.selector().applies_to(&Source {
        namespace: "default",
        labels: &v2,
        gateway: "default/gw"
    }));
}

/// JWT-claim routing cannot run in-process, so it is refused at compile time.
#[test]
fn jwt_claims_are_refused() {
    let mut m = HttpMatchRequest::default();
    m.headers.insert(
        "@request.auth.claims.group".into(),
        StringMatch::exact("admin"),
    );
    assert!(matches!(
        HttpMatch::compile(&m, "default"),
        Err(CompileError::Unsupported { .. })
    ));
}

/// A regex over the size limit is a compile error, not a slow match.
#[test]
fn huge_regexes_are_refused() {
    let m = uri(StringMatch::regex("/x"));
    assert!(m.matches(&RequestView::new(
        "GET",
        "http",
        "a",
        "/x",
        &HeaderMap::new()
    )));
    let big = HttpMatchRequest {
        uri: Some(StringMatch::regex("(.{100}){100}")),
        ..Default::default()
    };
    assert!(matches!(
        HttpMatch::compile(&big, "default"),
        Err(CompileError::Regex { .. })
    ));
}

/// `conditions` lists every request-time condition once, in the order `check` reads them:
/// uri, scheme, method, authority, port, headers then withoutHeaders, query parameters.
#[test]
fn conditions_list_every_request_time_condition_in_check_order() {
    let mut m = HttpMatchRequest {
        uri: Some(StringMatch::exact("/a")),
        method: Some(Box::new(StringMatch::exact("GET"))),
        port: 8080,
        ..Default::default()
    };
    m.headers.insert("x-user".into(), StringMatch::prefix("a"));
    m.without_headers
        .insert("x-debug".into(), StringMatch::default());
    m.query_params.insert("v".into(), StringMatch::exact("2"));
    let c = compile(m);
    let kinds: Vec<String> = c
        .conditions()
        .iter()
        .map(|c| match c {
            Condition::Uri { whole_path, .. } => format!("uri whole={whole_path}"),
            Condition::Scheme(_) => "scheme".into(),
            Condition::Method(m) => format!("method {}", m.describe()),
            Condition::Authority(_) => "authority".into(),
            Condition::Port(p) => format!("port {p}"),
            Condition::Header { name, without, .. } => format!("header {name} without={without}"),
            Condition::Query { name, .. } => format!("query {name}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "uri whole=true",
            "method exact \"GET\"",
            "port 8080",
            "header x-user without=false",
            "header x-debug without=true",
            "query v"
        ]
    );
}

fn header_match(name: &str, sm: StringMatch) -> HttpMatch {
    let mut m = HttpMatchRequest::default();
    m.headers.insert(name.to_owned(), sm);
    compile(m)
}

/// Envoy joins the repeated values of an inline header (here `user-agent`, `accept`)
/// with `,` before matching (measured with Envoy 1.40): two `user-agent: Chrome` headers
/// are `Chrome,Chrome`, which `exact: Chrome` does not match and a regex over the joined
/// value does; a custom header's values are matched one by one.
#[test]
fn repeated_inline_headers_are_matched_joined() {
    let ua = header_match("user-agent", StringMatch::exact("Chrome"));
    assert!(hits(&ua, "/", &headers(&[("user-agent", "Chrome")])));
    assert!(!hits(
        &ua,
        "/",
        &headers(&[("user-agent", "Chrome"), ("user-agent", "Chrome")])
    ));
    let joined = header_match("accept", StringMatch::exact("a,b"));
    assert!(hits(
        &joined,
        "/",
        &headers(&[("accept", "a"), ("accept", "b")])
    ));
    let custom = header_match("x-tag", StringMatch::exact("b"));
    assert!(hits(
        &custom,
        "/",
        &headers(&[("x-tag", "a"), ("x-tag", "b")])
    ));
}

/// A missing `x-forwarded-proto` is the connection's scheme, as Envoy sets it before
/// routing (measured with Envoy 1.40); a present one is matched as sent.
#[test]
fn a_missing_x_forwarded_proto_is_the_connection_scheme() {
    let m = header_match("x-forwarded-proto", StringMatch::exact("http"));
    assert!(hits(&m, "/", &headers(&[])));
    assert!(!hits(&m, "/", &headers(&[("x-forwarded-proto", "https")])));
    let none = HeaderMap::new();
    let view = RequestView::new("GET", "https", "sem.local", "/", &none);
    assert!(!m.matches(&view));
}

/// The request's `:scheme` is one `x-forwarded-proto` of `http` or `https` in any case
/// (lower-cased), else the connection's; an explicit scheme wins.
#[test]
fn x_forwarded_proto_sets_the_scheme() {
    let scheme = |pairs: &[(&str, &str)]| {
        let h = headers(pairs);
        RequestView::new("GET", "http", "a", "/", &h)
            .scheme()
            .to_owned()
    };
    assert_eq!(scheme(&[("x-forwarded-proto", "https")]), "https");
    assert_eq!(scheme(&[("x-forwarded-proto", "HTTPS")]), "https");
    assert_eq!(scheme(&[("x-forwarded-proto", "ftp")]), "http");
    assert_eq!(
        scheme(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-proto", "https")
        ]),
        "http"
    );
    assert_eq!(scheme(&[]), "http");
    let h = headers(&[("x-forwarded-proto", "https")]);
    let explicit = RequestView::new("GET", "http", "a", "/", &h).with_scheme("http");
    assert_eq!(explicit.scheme(), "http");
    assert_eq!(explicit.listener_scheme(), "http");
    // The default port stays the connection's.
    assert_eq!(RequestView::new("GET", "http", "a", "/", &h).port(), 80);
}
