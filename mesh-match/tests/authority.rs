//! The host of a request's authority, as Envoy splits off the port for virtual host
//! selection (`HeaderUtility::getPortStart`, measured with Envoy 1.40 on a gateway's
//! `ignore_port_in_host_matching` route table: Hosts `bench.example.com:abc`,
//! `bench.example.com:` and `bench.example.com:8x0` all select `bench.example.com`).

use http::HeaderMap;
use mesh_match::{RequestView, authority_host, authority_port};

/// Everything after the last `:` is the port, numeric or not, unless the `:` is inside an
/// IPv6 literal's brackets.
#[test]
fn the_port_is_what_follows_the_last_colon_outside_brackets() {
    for (authority, host) in [
        ("a.b", "a.b"),
        ("a.b:80", "a.b"),
        ("a.b:", "a.b"),
        ("a.b:abc", "a.b"),
        ("a.b:8x0", "a.b"),
        ("[::1]", "[::1]"),
        ("[::1]:8080", "[::1]"),
        ("[::1]:", "[::1]"),
    ] {
        assert_eq!(authority_host(authority), host, "{authority}");
    }
    assert_eq!(authority_port("a.b:8080"), Some(8080));
    assert_eq!(authority_port("[::1]:8080"), Some(8080));
    assert_eq!(authority_port("a.b:abc"), None);
    assert_eq!(authority_port("[::1]"), None);
}

/// The request's host (what virtual hosts are looked up by) follows the same rule.
#[test]
fn the_request_host_drops_any_port() {
    let h = HeaderMap::new();
    let view = RequestView::new("GET", "http", "Shop.example.com:abc", "/", &h);
    assert_eq!(view.host(), "Shop.example.com");
}
