use http::HeaderMap;
use mesh_model::gateway_api::HttpRouteMatch;
use mesh_model::virtual_service::{HttpMatchRequest, StringMatch};

use super::*;

/// Blocks that use one regex pattern or one header name share one entry of the pool, and
/// their literals follow each other in the order of the blocks.
#[test]
fn blocks_share_regexes_and_header_names_and_keep_literals_in_order() {
    let mut cache = crate::RegexCache::new();
    let mut program = MatchProgram::new();
    for i in 0..3 {
        let mut m = HttpMatchRequest {
            uri: Some(StringMatch::regex("/r/[0-9]+")),
            ..Default::default()
        };
        m.headers
            .insert("x-tenant".into(), StringMatch::exact(format!("t{i}")));
        let m = HttpMatch::compile_cached(&m, "default", &mut cache).unwrap();
        assert_eq!(program.push(Some(&m)).unwrap(), i);
    }
    assert_eq!(program.regexes.len(), 1);
    assert_eq!(program.names.len(), 1);
    assert_eq!(program.bytes, b"t0t1t2");
    let headers: HeaderMap = [(
        HeaderName::from_static("x-tenant"),
        http::HeaderValue::from_static("t1"),
    )]
    .into_iter()
    .collect();
    let view = RequestView::new("GET", "http", "a", "/r/17", &headers);
    assert_eq!(program.first_match(0..3, &view), Some(1));
    assert_eq!(program.first_match(2..3, &view), None);
}

/// A block without conditions matches every request.
#[test]
fn a_block_without_conditions_matches_everything() {
    let mut program = MatchProgram::new();
    program.push(None).unwrap();
    let headers = HeaderMap::new();
    let view = RequestView::new("GET", "http", "a", "/", &headers);
    assert!(program.matches(0, &view));
}

/// `with_port` adds the port condition where compiling it with the port puts it: after
/// the URI, before the headers (so `check` names the same condition first).
#[test]
fn with_port_places_the_port_condition_as_compile_does() {
    let m = HttpRouteMatch {
        path: Some(mesh_model::gateway_api::HttpPathMatch {
            kind: "Exact".into(),
            value: "/a".into(),
        }),
        headers: vec![mesh_model::gateway_api::HttpHeaderMatch {
            name: "x-a".into(),
            kind: "Exact".into(),
            value: "1".into(),
        }],
        ..Default::default()
    };
    let with = HttpMatch::from_http_route_match(&m)
        .unwrap()
        .with_port(8080);
    let fields: Vec<Field> = with.program.steps.iter().map(|s| s.field).collect();
    assert_eq!(fields, [Field::Uri, Field::Port, Field::Header]);
    let headers = HeaderMap::new();
    let view = RequestView::new("GET", "http", "a:9090", "/a", &headers);
    assert_eq!(with.check(&view), Err(Failed::Port));
    // Setting it again replaces it.
    let again = with.with_port(9090);
    assert_eq!(again.check(&view), Err(Failed::Header(0)));
    assert_eq!(again.program.steps.len(), 3);
    // And a match of nothing but the port.
    assert!(HttpMatch::any_on_port(Some(9090)).matches(&view));
    assert!(!HttpMatch::any_on_port(Some(80)).matches(&view));
    assert!(HttpMatch::any_on_port(None).matches(&view));
}

/// Header names are looked up once per request for the first few names and each time
/// past them; either way every block gets the answer it gets alone: six names read by
/// twelve blocks (each name twice, the second time negated), with repeated, missing and
/// present headers.
#[test]
fn looked_up_headers_give_every_block_its_own_answer() {
    let mut program = MatchProgram::new();
    for round in 0..2 {
        for i in 0..6 {
            let mut m = HttpMatchRequest::default();
            let cond = StringMatch::exact(format!("v{i}"));
            if round == 0 {
                m.headers.insert(format!("h{i}"), cond);
            } else {
                m.without_headers.insert(format!("h{i}"), cond);
            }
            let m = HttpMatch::compile(&m, "default").unwrap();
            program.push(Some(&m)).unwrap();
        }
    }
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("h1", "x"),
        ("h1", "v1"),
        ("h3", "v3"),
        ("h5", "v5"),
        ("h4", "no"),
    ] {
        headers.append(
            HeaderName::from_static(name),
            http::HeaderValue::from_static(value),
        );
    }
    let view = RequestView::new("GET", "http", "a", "/", &headers);
    let alone: Vec<bool> = (0..12).map(|b| program.matches(b, &view)).collect();
    assert_eq!(
        alone,
        [
            false, true, false, true, false, true, true, false, true, false, true, false
        ]
    );
    for start in 0..12 {
        assert_eq!(
            program.first_match(start..12, &view),
            (start..12).find(|b| alone[*b]),
            "from {start}"
        );
    }
}

proptest::proptest! {
    /// The word-at-a-time comparison is byte equality.
    #[test]
    fn same_is_byte_equality(a in proptest::collection::vec(0u8..4, 0..24), flip in proptest::option::of(0usize..24)) {
        let mut b = a.clone();
        if let Some(i) = flip.filter(|i| *i < b.len()) {
            b[i] ^= 1;
        }
        proptest::prop_assert_eq!(same(&a, &b), a == b);
    }
}
