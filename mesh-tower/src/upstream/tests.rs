use super::*;

fn response(headers: &[(&str, &str)]) -> Response<()> {
    let mut b = Response::builder();
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).expect("a response")
}

/// Responses Envoy passes on: one numeric Content-Length, or chunked alone, or neither.
#[test]
fn well_framed_responses_pass() {
    for h in [
        &[][..],
        &[("content-length", "0")],
        &[("content-length", "123")],
        &[("transfer-encoding", "chunked")],
        &[("transfer-encoding", "Chunked")],
    ] {
        assert!(check_framing(&response(h)).is_ok(), "{h:?}");
    }
}

/// Conflicting or unknown framing is an upstream protocol error (Envoy 1.40: 502 `UPE`).
#[test]
fn conflicting_framing_is_a_protocol_error() {
    for h in [
        &[("content-length", "2"), ("content-length", "2")][..],
        &[("content-length", "2"), ("content-length", "3")],
        &[("content-length", "2, 2")],
        &[("content-length", "-1")],
        &[("content-length", "")],
        &[("content-length", "2"), ("transfer-encoding", "chunked")],
        &[("transfer-encoding", "gzip")],
        &[("transfer-encoding", "chunked, gzip")],
    ] {
        assert!(check_framing(&response(h)).is_err(), "{h:?}");
    }
}

/// Errors are classified by type: the two the layer defines, and anything else as a reset.
#[test]
fn errors_are_classified_by_what_they_say() {
    let connect: BoxError = Box::new(ConnectFailure("refused".into()));
    let protocol: BoxError = Box::new(ProtocolError("2OO".into()));
    let other: BoxError = "something".into();
    assert_eq!(classify(&connect), Failure::Connect);
    assert_eq!(classify(&protocol), Failure::Protocol);
    assert_eq!(classify(&other), Failure::Reset);
}
