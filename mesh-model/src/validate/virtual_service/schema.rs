//! Protobuf `oneof` exclusivity, which the Kubernetes CRD schema enforces (`oneOf`) before
//! Istio's webhook sees the resource. The serde types hold each oneof as several `Option`s, so
//! a resource can carry two members; report it at the field path.

use crate::validate::Sink;
use crate::virtual_service::{Abort, Delay, HttpBody, HttpRedirect, StringMatch};

/// `StringMatch`: at most one of `exact`, `prefix`, `regex`.
pub(super) fn string_match(sink: &mut Sink<'_>, path: &str, sm: &StringMatch) {
    if sm.set_count() > 1 {
        sink.error(path, "only one of exact, prefix or regex may be set");
    }
}

/// `HTTPFaultInjection.Abort.error_type`.
pub(super) fn abort(sink: &mut Sink<'_>, path: &str, a: &Abort) {
    let n = usize::from(a.http_status.is_some())
        + usize::from(a.grpc_status.is_some())
        + usize::from(a.http2_error.is_some());
    if n > 1 {
        sink.error(
            path,
            "only one of httpStatus, grpcStatus or http2Error may be set",
        );
    }
}

/// `HTTPFaultInjection.Delay.http_delay_type`.
pub(super) fn delay(sink: &mut Sink<'_>, path: &str, d: &Delay) {
    if d.fixed_delay.is_some() && d.exponential_delay.is_some() {
        sink.error(
            path,
            "only one of fixedDelay or exponentialDelay may be set",
        );
    }
}

/// `HTTPRedirect.redirect_port`.
pub(super) fn redirect(sink: &mut Sink<'_>, path: &str, r: &HttpRedirect) {
    if r.port.is_some() && r.derive_port.is_some() {
        sink.error(path, "only one of port or derivePort may be set");
    }
}

/// `HTTPBody.specifier`.
pub(super) fn body(sink: &mut Sink<'_>, path: &str, b: &HttpBody) {
    if b.string.is_some() && b.bytes.is_some() {
        sink.error(path, "only one of string or bytes may be set");
    }
}
