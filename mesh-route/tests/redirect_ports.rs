//! The port in a redirect's `Location` when the redirect changes the scheme, as Envoy 1.40
//! builds it (measured 2026-12-05 with Envoy 1.40 on routes `redirect: {scheme_redirect:
//! http}` and `{scheme_redirect: https}`, the request's scheme from `x-forwarded-proto`):
//!
//! | request | redirect scheme | Location host |
//! |---|---|---|
//! | https, `shop.example.com:443` | http | `shop.example.com` (the old default port is dropped) |
//! | http, `shop.example.com:443` | http | `shop.example.com:443` (no scheme change: kept) |
//! | https, `shop.example.com:8443` | http | `shop.example.com:8443` |
//! | http, `shop.example.com:80` | https | `shop.example.com` |
//! | https, `shop.example.com:80` | https | `shop.example.com:80` |
//! | http, `shop.example.com:8080` | https | `shop.example.com:8080` |
//! | https, `SHOP.example.com:443` | http | `SHOP.example.com` (case kept) |

use http::HeaderMap;
use mesh_match::RequestView;
use mesh_route::{CompileOptions, Decision, Identity, RouteTable};

const YAML: &str = "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [shop.example.com]
  http:
  - match: [{uri: {prefix: /tohttp}}]
    redirect: {scheme: http}
  - match: [{uri: {prefix: /secure}}]
    redirect: {scheme: https}
";

fn location(table: &RouteTable, scheme: &str, authority: &str, path: &str) -> String {
    let headers = HeaderMap::new();
    let view = RequestView::new("GET", scheme, authority, path, &headers);
    let d = table.decide(&view, 0);
    assert!(matches!(d, Decision::Redirect { .. }), "{d:?}");
    d.location(&view).expect("a redirect has a location")
}

/// A scheme change drops the old scheme's default port from the Host, and only then.
#[test]
fn a_scheme_change_drops_only_the_old_default_port() {
    let resources = mesh_model::load_str(YAML).expect("loads");
    let table = RouteTable::compile(
        &resources,
        &Identity::sidecar("default"),
        &CompileOptions::default(),
    )
    .expect("compiles");
    let cases = [
        (
            "https",
            "shop.example.com:443",
            "/tohttp/x?q=1",
            "http://shop.example.com/tohttp/x?q=1",
        ),
        (
            "http",
            "shop.example.com:443",
            "/tohttp/x?q=1",
            "http://shop.example.com:443/tohttp/x?q=1",
        ),
        (
            "https",
            "shop.example.com:8443",
            "/tohttp/x?q=1",
            "http://shop.example.com:8443/tohttp/x?q=1",
        ),
        (
            "http",
            "shop.example.com:80",
            "/secure/x?q=1",
            "https://shop.example.com/secure/x?q=1",
        ),
        (
            "https",
            "shop.example.com:80",
            "/secure/x?q=1",
            "https://shop.example.com:80/secure/x?q=1",
        ),
        (
            "http",
            "shop.example.com:8080",
            "/secure/x?q=1",
            "https://shop.example.com:8080/secure/x?q=1",
        ),
        (
            "https",
            "SHOP.example.com:443",
            "/tohttp/x?q=1",
            "http://SHOP.example.com/tohttp/x?q=1",
        ),
    ];
    for (scheme, authority, path, want) in cases {
        assert_eq!(
            location(&table, scheme, authority, path),
            want,
            "{scheme}://{authority}{path}"
        );
    }
}
