use super::*;

fn parts(head: &str) -> Parts {
    let mut lines = head.lines();
    let first = lines.next().expect("a request line");
    let mut words = first.split(' ');
    let method = words.next().expect("a method");
    let target = words.next().expect("a target");
    let version = match words.next() {
        Some("HTTP/1.0") => Version::HTTP_10,
        Some("HTTP/2") => Version::HTTP_2,
        _ => Version::HTTP_11,
    };
    let mut b = http::Request::builder()
        .method(method)
        .uri(target)
        .version(version);
    for l in lines {
        let (k, v) = l.split_once(':').expect("name: value");
        b = b.header(k.trim(), v.trim());
    }
    b.body(()).expect("a request").into_parts().0
}

fn outcome(head: &str) -> Result<Parts, (u16, String, ResponseFlags)> {
    outcome_with(head, false)
}

fn outcome_with(head: &str, accept_http_10: bool) -> Result<Parts, (u16, String, ResponseFlags)> {
    let mut p = parts(head);
    match check_request(&mut p, accept_http_10) {
        Ok(()) => Ok(p),
        Err(r) => Err((r.error.status().as_u16(), r.error.body(), r.flags)),
    }
}

/// The header names left, sorted (removal does not keep the order).
fn names(p: &Parts) -> Vec<String> {
    let mut n: Vec<String> = p.headers.keys().map(|k| k.as_str().to_owned()).collect();
    n.sort();
    n
}

const DPE: ResponseFlags = ResponseFlags::DOWNSTREAM_PROTOCOL_ERROR;

/// HTTP/1.0 is refused as Envoy's codec refuses it with Istio's listener settings
/// (`accept_http_10` off; measured on Envoy 1.40 in `mesh-proxy/tests/envoy_edge.rs`:
/// `426`, `DPE`), unless the option serves it.
#[test]
fn http10_is_426_unless_accepted() {
    let e = outcome("GET /x HTTP/1.0").expect_err("HTTP/1.0 refused");
    assert_eq!(e, (426, "Upgrade Required".to_owned(), DPE));
    assert!(outcome_with("GET /x HTTP/1.0", true).is_ok());
    assert!(outcome("GET /x HTTP/1.1").is_ok());
    assert!(outcome("GET /x HTTP/2").is_ok());
}

/// HTTP/1 methods are case-sensitive tokens from Envoy's list: anything else is 400 `DPE`.
#[test]
fn http1_methods_are_envoys_case_sensitive_list() {
    for m in [
        "GET", "DELETE", "PATCH", "PURGE", "MSEARCH", "PROPFIND", "TRACE",
    ] {
        assert!(outcome(&format!("{m} /x HTTP/1.1")).is_ok(), "{m}");
    }
    let long = "X".repeat(10_000);
    for m in [
        "delete",
        "Delete",
        "FOO",
        "M-SEARCH",
        "BREW",
        "PRI",
        long.as_str(),
    ] {
        let e = outcome(&format!("{m} /x HTTP/1.1")).expect_err(m);
        assert_eq!(e, (400, "Bad Request".to_owned(), DPE), "{m}");
    }
}

/// Over HTTP/2, Envoy forwards any method token (measured with `delete` and `FOO`).
#[test]
fn http2_methods_are_not_checked() {
    assert!(outcome("delete /x HTTP/2").is_ok());
    assert!(outcome("FOO /x HTTP/2").is_ok());
}

/// Hop-by-hop headers and those Connection names never reach the upstream; `TE` stays only
/// as `te: trailers`.
#[test]
fn hop_by_hop_request_headers_are_removed() {
    let p = outcome(
        "GET /x HTTP/1.1\nconnection: x-foo, keep-alive\nx-foo: 1\nx-bar: 2\nkeep-alive: timeout=5\nproxy-connection: keep-alive\nupgrade: foo\nte: gzip, trailers",
    )
    .expect("accepted");
    assert_eq!(names(&p), ["te", "x-bar"]);
    assert_eq!(p.headers["te"], "trailers");
    for te in ["gzip", "Trailers", "trailers;q=1"] {
        let p = outcome(&format!("GET /x HTTP/1.1\nte: {te}")).expect(te);
        assert!(!p.headers.contains_key("te"), "{te}");
    }
}

/// Envoy's codec refuses a Connection header that names the forwarding headers, names ten
/// headers or more, or names a TE of 256 bytes or more; naming Host leaves no Host (400).
#[test]
fn dangerous_connection_headers_are_refused() {
    for c in [
        "x-forwarded-for",
        "X-Forwarded-Proto",
        "x-foo, x-forwarded-host",
    ] {
        let e = outcome(&format!("GET /x HTTP/1.1\nconnection: {c}")).expect_err(c);
        assert_eq!(e.2, DPE, "{c}");
    }
    let nine = (0..9)
        .map(|i| format!("x-h{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    assert!(outcome(&format!("GET /x HTTP/1.1\nconnection: {nine}")).is_ok());
    let e = outcome(&format!(
        "GET /x HTTP/1.1\nconnection: {nine}\nconnection: close"
    ))
    .expect_err("ten tokens");
    assert_eq!(e.0, 400);
    let te = format!("trailers,{}", "a".repeat(247));
    assert!(
        outcome(&format!(
            "GET /x HTTP/1.1\nconnection: te\nte: {}",
            &te[..255]
        ))
        .is_ok()
    );
    let e = outcome(&format!("GET /x HTTP/1.1\nconnection: te\nte: {te}")).expect_err("256");
    assert_eq!(e.2, DPE);
    assert!(outcome(&format!("GET /x HTTP/1.1\nte: {te}")).is_ok());
    let e = outcome("GET /x HTTP/1.1\nhost: a\nconnection: host").expect_err("host");
    assert_eq!(e, (400, String::new(), ResponseFlags::NONE));
}

/// Client-sent Envoy control headers are removed; other `x-envoy-*` headers pass.
#[test]
fn envoy_control_headers_are_removed() {
    let mut head = "GET /x HTTP/1.1".to_owned();
    for h in ENVOY_CONTROL_HEADERS {
        head.push_str(&format!("\n{h}: 7"));
    }
    head.push_str("\nx-envoy-custom: 1\nx-envoy-upstream-service-time: 3");
    let p = outcome(&head).expect("accepted");
    assert_eq!(
        names(&p),
        ["x-envoy-custom", "x-envoy-upstream-service-time"]
    );
}

/// Upgrades: h2c is served as plain HTTP/1.1 without its headers, websocket passes with
/// them, anything else is 403; CONNECT is 404 `NR`.
#[test]
fn upgrades_are_decided_in_one_place() {
    let p = outcome(
        "GET /x HTTP/1.1\nconnection: Upgrade, HTTP2-Settings\nupgrade: h2c\nhttp2-settings: AAMA",
    )
    .expect("h2c");
    assert!(names(&p).is_empty(), "{:?}", names(&p));
    let p = outcome("GET /x HTTP/1.1\nconnection: upgrade\nupgrade: websocket\nkeep-alive: 1")
        .expect("websocket");
    assert_eq!(names(&p), ["connection", "upgrade"]);
    for u in ["foo", "websocket, h2c", ""] {
        let e = outcome(&format!(
            "GET /x HTTP/1.1\nconnection: upgrade\nupgrade: {u}"
        ))
        .expect_err(u);
        assert_eq!(e, (403, String::new(), ResponseFlags::NONE), "{u:?}");
    }
    let e = outcome("CONNECT site.example.com:443 HTTP/1.1").expect_err("connect");
    assert_eq!(e, (404, String::new(), ResponseFlags::NO_ROUTE));
    // An Upgrade header without `Connection: upgrade` is just removed.
    let p = outcome("GET /x HTTP/1.1\nupgrade: h2c\nhttp2-settings: x").expect("stray");
    assert_eq!(names(&p), ["http2-settings"]);
}

/// `OPTIONS *` is 404 with an empty body; `*` or an authority as another method's target is
/// 400 `DPE`; QUERY needs a Content-Type.
#[test]
fn targets_and_query_as_envoy_answers_them() {
    assert_eq!(
        outcome("OPTIONS * HTTP/1.1").expect_err("*"),
        (404, String::new(), ResponseFlags::NONE)
    );
    assert_eq!(outcome("GET * HTTP/1.1").expect_err("*").2, DPE);
    assert_eq!(
        outcome("GET admin.example.com HTTP/1.1")
            .expect_err("authority")
            .2,
        DPE
    );
    assert!(outcome("GET http://site.example.com HTTP/1.1").is_ok());
    assert_eq!(
        outcome("QUERY /x HTTP/1.1").expect_err("query"),
        (400, String::new(), ResponseFlags::NONE)
    );
    assert!(outcome("QUERY /x HTTP/1.1\ncontent-type: text/plain").is_ok());
}

/// The upstream's hop-by-hop headers never reach the client, except on a 101; the
/// response leaves as HTTP/1.1 whatever the upstream spoke.
#[test]
fn hop_by_hop_response_headers_are_removed() {
    let response = |status: u16| {
        let mut b = http::Response::builder()
            .status(status)
            .version(Version::HTTP_10);
        for (k, v) in [
            ("connection", "x-bar, keep-alive"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("upgrade", "h2c"),
            ("x-bar", "1"),
        ] {
            b = b.header(k, v);
        }
        b.body(()).expect("a response")
    };
    let mut ok = response(200);
    sanitize_response(&mut ok);
    assert_eq!(
        ok.headers().keys().map(|k| k.as_str()).collect::<Vec<_>>(),
        ["x-bar"]
    );
    assert_eq!(ok.version(), Version::HTTP_11);
    let mut switching = response(101);
    sanitize_response(&mut switching);
    assert_eq!(switching.headers().len(), 5);
}
