use http::HeaderValue;
use http::header::HeaderMap;

use super::{CDN_LOOP, LoopId, occurrences};
use crate::service::error::MeshError;

/// A request without `CDN-Loop` leaves with the layer's id; one that carries other ids
/// leaves with the id appended to the list.
#[test]
fn the_id_is_appended_to_cdn_loop() {
    let id = LoopId::new(Some("edge-1"));
    let mut h = HeaderMap::new();
    id.check_and_mark(&mut h).expect("no loop");
    assert_eq!(
        h.get(&CDN_LOOP).map(HeaderValue::as_bytes),
        Some(&b"edge-1"[..])
    );
    let mut h = HeaderMap::new();
    h.append(&CDN_LOOP, HeaderValue::from_static("cdn-a; v=1"));
    h.append(&CDN_LOOP, HeaderValue::from_static("example.com:8080"));
    id.check_and_mark(&mut h).expect("no loop");
    assert_eq!(
        h.get(&CDN_LOOP).map(HeaderValue::as_bytes),
        Some(&b"cdn-a; v=1, example.com:8080, edge-1"[..])
    );
}

/// A request that names the layer's id anywhere in `CDN-Loop` is a loop (Envoy's
/// `cdn_loop` filter with `max_allowed_occurrences: 0`: 502).
#[test]
fn the_layers_own_id_is_a_loop() {
    let id = LoopId::new(Some("edge-1"));
    for v in ["edge-1", "a, edge-1", "edge-1 ; x=\"y\"", "a,,edge-1"] {
        let mut h = HeaderMap::new();
        h.insert(&CDN_LOOP, HeaderValue::from_static(v));
        assert!(
            matches!(id.check_and_mark(&mut h), Err(MeshError::LoopDetected)),
            "{v}"
        );
    }
    // An id that merely contains ours is not ours.
    assert_eq!(occurrences(b"edge-10, xedge-1", b"edge-1").ok(), Some(0));
}

/// Values that are not lists of cdn-ids are refused (Envoy: 400 `Invalid CDN-Loop header
/// in request.`; measured with `CDN-Loop: ,,@@`).
#[test]
fn an_unreadable_cdn_loop_header_is_refused() {
    let id = LoopId::new(None);
    for v in [",,@@", "a b", "a; =x", "a;", "; x=1", "a; x=y z"] {
        let mut h = HeaderMap::new();
        h.insert(&CDN_LOOP, HeaderValue::from_static(v));
        assert!(
            matches!(id.check_and_mark(&mut h), Err(MeshError::BadLoopHeader)),
            "{v}"
        );
    }
}

/// Without a configured id every layer gets its own, so two layers in a chain never
/// mistake each other for a loop.
#[test]
fn default_ids_are_unique_tokens() {
    let (a, b) = (LoopId::new(None), LoopId::new(None));
    assert_ne!(a.id(), b.id());
    assert!(
        a.id().starts_with("mesh-") && a.id().len() == 21,
        "{}",
        a.id()
    );
    assert_ne!(LoopId::new(Some("not a token")).id(), "not a token");
}
