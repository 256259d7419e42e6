//! Rules that the mutation run (`cargo mutants -p mesh-match`, TESTING.md) found untested:
//! RE2's ASCII word boundaries and Perl classes inside brackets, every edit of a pattern
//! rewritten (not only the first), regex equality (reloads compare compiled tables), and
//! header matches on Envoy's pseudo-headers.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use http::{HeaderMap, HeaderValue};
use mesh_match::{FullRegex, HttpMatch, RequestView};
use mesh_model::virtual_service::{HttpMatchRequest, StringMatch};

fn full(pattern: &str, value: &str) -> bool {
    FullRegex::new(pattern)
        .expect("the pattern compiles")
        .is_full_match(value.as_bytes())
}

/// RE2's `\b` and `\B` are ASCII (Envoy's regex engine): `é` is not a word character there,
/// so there is a boundary between `é` and `x`; Rust's Unicode-aware `\b` would see none.
#[test]
fn word_boundaries_are_ascii_as_in_re2() {
    assert!(full(r".*\bx", "éx"));
    assert!(!full(r".*\Bx", "éx"));
    assert!(full(r".*\Bx", "ax"));
    assert!(!full(r".*\bx", "ax"));
}

/// A Perl class inside brackets is ASCII too: `[\d]` does not match an Arabic-Indic digit,
/// and `[\w]` does not match `é`.
#[test]
fn perl_classes_inside_brackets_are_ascii() {
    assert!(full(r"[\d]+", "0123"));
    assert!(!full(r"[\d]+", "١٢"));
    assert!(full(r"[\w-]+", "a_b-1"));
    assert!(!full(r"[\w]+", "é"));
}

/// Every Perl class of a pattern is rewritten, also after a gap: in `\da\d` the second `\d`
/// is ASCII as well as the first.
#[test]
fn every_perl_class_of_a_pattern_is_ascii() {
    assert!(full(r"\da\d", "1a2"));
    assert!(!full(r"\da\d", "1a٢"));
    assert!(!full(r"\da\d", "١a2"));
    assert!(!full(r"\w\s\w", "é é"));
}

fn hash(r: &FullRegex) -> u64 {
    let mut h = DefaultHasher::new();
    r.hash(&mut h);
    h.finish()
}

/// Compiled regexes compare and hash by their pattern (a reload that keeps a pattern keeps
/// an equal table; one that changes it does not).
#[test]
fn compiled_regexes_compare_by_pattern() {
    let a = FullRegex::new("a+").unwrap();
    let same = FullRegex::new("a+").unwrap();
    let other = FullRegex::new("b+").unwrap();
    assert_eq!(a, same);
    assert_eq!(hash(&a), hash(&same));
    assert_ne!(a, other);
    assert_ne!(hash(&a), hash(&other));
    assert!(format!("{a:?}").contains("a+"));
}

fn header_match(name: &str, sm: StringMatch) -> HttpMatch {
    let mut m = HttpMatchRequest::default();
    m.headers.insert(name.to_owned(), sm);
    HttpMatch::compile(&m, "default").unwrap()
}

fn matches(m: &HttpMatch, method: &str, scheme: &str, authority: &str, path: &str) -> bool {
    let mut h = HeaderMap::new();
    h.insert("x-other", HeaderValue::from_static("1"));
    m.matches(&RequestView::new(method, scheme, authority, path, &h))
}

/// Header matches on Envoy's pseudo-headers read the request's method, scheme, authority
/// (also spelled `host`) and path, not a header of that name.
#[test]
fn pseudo_header_matches_read_the_request_line() {
    let method = header_match(":method", StringMatch::exact("POST"));
    assert!(matches(&method, "POST", "http", "a", "/"));
    assert!(!matches(&method, "GET", "http", "a", "/"));
    let scheme = header_match(":scheme", StringMatch::exact("https"));
    assert!(matches(&scheme, "GET", "https", "a", "/"));
    assert!(!matches(&scheme, "GET", "http", "a", "/"));
    for name in [":authority", "host", "Host"] {
        let authority = header_match(name, StringMatch::prefix("shop."));
        assert!(
            matches(&authority, "GET", "http", "shop.example.com", "/"),
            "{name}"
        );
        assert!(
            !matches(&authority, "GET", "http", "cart.example.com", "/"),
            "{name}"
        );
    }
    let path = header_match(":path", StringMatch::prefix("/api"));
    assert!(matches(&path, "GET", "http", "a", "/api/x"));
    assert!(!matches(&path, "GET", "http", "a", "/web"));
}

/// A pseudo-header in `withoutHeaders` excludes the requests it matches.
#[test]
fn pseudo_headers_in_without_headers_exclude() {
    let mut m = HttpMatchRequest::default();
    m.without_headers
        .insert(":method".to_owned(), StringMatch::exact("DELETE"));
    let m = HttpMatch::compile(&m, "default").unwrap();
    assert!(matches(&m, "GET", "http", "a", "/"));
    assert!(!matches(&m, "DELETE", "http", "a", "/"));
}
