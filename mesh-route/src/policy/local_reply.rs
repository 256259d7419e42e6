//! Responses the proxy makes itself (Envoy's local replies): no route, redirects, direct
//! responses, fault aborts and upstream failures, and how Envoy turns each into a gRPC
//! response for a gRPC client.
//!
//! Measured with Envoy 1.40 on Istio's translation (2026-12-05; recorded again by
//! `difftest/tests/decisions.rs`), and Envoy's `Http::Utility::prepareLocalReply`:
//! - A request is gRPC when its one `content-type` is `application/grpc` or starts with
//!   `application/grpc+` (`Grpc::Common::hasGrpcContentType`): `application/grpc;x`,
//!   `application/grpc-web`, `Application/GRPC` and two `content-type` headers (joined into
//!   one value) are not.
//! - To a gRPC request every local reply is HTTP 200, `content-type: application/grpc`,
//!   `grpc-status` from the HTTP status (`Grpc::Utility::httpToGrpcStatus`: 400 → 13,
//!   401 → 16, 403 → 7, 404 → 12, 429/502/503/504 → 14, anything else → 2, so a 200 direct
//!   response or a 301 redirect is `UNKNOWN`) or the abort's gRPC status, `grpc-message`
//!   the body text percent-encoded (absent for an empty body or a HEAD request), and no
//!   body. Headers the reply had (a redirect's `Location`, response header operations)
//!   stay.
//! - To any other request a local reply has its status and body, with `content-type:
//!   text/plain` when the body is not empty (unless the route's response header operations
//!   set one), none otherwise. A gRPC-status abort answers such a request `200` with the
//!   body `fault filter abort`.

use std::borrow::Cow;

use http::header::{CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::headers::OrderedOps;

/// What of the request shapes a local reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReplyTo {
    /// The request is gRPC (see [`is_grpc_request`]).
    pub grpc: bool,
    /// The request is a HEAD request.
    pub head: bool,
}

impl ReplyTo {
    /// For a request with `method` and `headers`.
    pub fn of(method: &str, headers: &HeaderMap) -> Self {
        ReplyTo {
            grpc: is_grpc_request(headers),
            head: method == "HEAD",
        }
    }
}

/// Whether Envoy treats a request with `headers` as gRPC (see the module docs).
pub fn is_grpc_request(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(http::header::CONTENT_TYPE).iter();
    let (Some(ct), None) = (values.next(), values.next()) else {
        return false;
    };
    let ct = ct.as_bytes();
    match ct.strip_prefix(b"application/grpc") {
        Some(rest) => rest.is_empty() || rest.starts_with(b"+"),
        None => false,
    }
}

/// The gRPC status Envoy gives a local reply of HTTP `status` (`httpToGrpcStatus`).
pub fn http_to_grpc_status(status: u16) -> u32 {
    match status {
        400 => 13,
        401 => 16,
        403 => 7,
        404 => 12,
        429 | 502..=504 => 14,
        _ => 2,
    }
}

/// A response the proxy makes itself, as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalReply<'a> {
    /// The HTTP status sent.
    pub status: u16,
    /// The `content-type`, if any.
    pub content_type: Option<&'static str>,
    /// `grpc-status`, for a gRPC request.
    pub grpc_status: Option<u32>,
    /// `grpc-message` (percent-encoded), for a gRPC request with a body text.
    pub grpc_message: Option<String>,
    /// The body sent.
    pub body: Cow<'a, [u8]>,
}

impl LocalReply<'_> {
    /// The reply's headers as Envoy builds them (`prepareLocalReply`): the `location` (of a
    /// redirect, or of a 3xx or 201 direct response) and the response header operations
    /// `ops` first (see [`modified`]), then [`finish`](Self::finish).
    pub fn headers(&self, location: Option<&str>, ops: Option<OrderedOps<'_>>) -> HeaderMap {
        self.finish(modified(location, ops))
    }

    /// The reply's headers from `h`, what the proxy put on it before (see [`modified`]):
    /// for a gRPC client, `content-type: application/grpc`, `grpc-status` unless `h` has
    /// one, and `grpc-message`; for others, `content-type: text/plain` for a body unless
    /// `h` has a content type, and no content type without a body.
    pub fn finish(&self, mut h: HeaderMap) -> HeaderMap {
        if let Some(code) = self.grpc_status {
            h.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
            let status = HeaderName::from_static("grpc-status");
            if !h.contains_key(&status) {
                h.insert(status, HeaderValue::from(code));
            }
            if let Some(m) = self
                .grpc_message
                .as_deref()
                .and_then(|m| HeaderValue::from_str(m).ok())
            {
                h.insert(HeaderName::from_static("grpc-message"), m);
            }
        } else if self.body.is_empty() {
            h.remove(CONTENT_TYPE);
        } else if let Some(ct) = self.content_type {
            if !h.contains_key(CONTENT_TYPE) {
                h.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
            }
        }
        h
    }
}

/// What Envoy puts on a local reply before it finishes it (`modify_headers`): the
/// `location`, then the response header operations `ops` of the route. Measured with Envoy
/// 1.40 (`difftest/tests/decisions.rs`): a redirect's and a direct response's own
/// operations apply; a forwarding rule's (with its destination's) apply to every local
/// reply of its requests (a fault abort, no cluster, an upstream failure), once; a fault
/// abort of a redirect or direct-response rule gets none.
pub fn modified(location: Option<&str>, ops: Option<OrderedOps<'_>>) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        h.insert(LOCATION, l);
    }
    if let Some(ops) = ops {
        ops.apply(&mut h);
    }
    h
}

/// The local reply of HTTP `status` with `body` to a request described by `to`, as Envoy
/// sends it; `grpc_status` is a gRPC status chosen by the caller (a gRPC-status abort),
/// else the status is mapped.
pub fn local_reply(
    status: u16,
    body: &[u8],
    to: ReplyTo,
    grpc_status: Option<u32>,
) -> LocalReply<'_> {
    if to.grpc {
        let text = body.strip_suffix(b"\n").unwrap_or(body);
        return LocalReply {
            status: 200,
            content_type: Some("application/grpc"),
            grpc_status: Some(grpc_status.unwrap_or_else(|| http_to_grpc_status(status))),
            grpc_message: (!text.is_empty() && !to.head).then(|| percent_encode(text)),
            body: Cow::Borrowed(&[]),
        };
    }
    LocalReply {
        status,
        content_type: (!body.is_empty()).then_some("text/plain"),
        grpc_status: None,
        grpc_message: None,
        body: Cow::Borrowed(body),
    }
}

/// Envoy's `PercentEncoding::encode` with `%` reserved: bytes outside printable ASCII, and
/// `%`, become `%XX` (upper-case hex).
fn percent_encode(text: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text {
        if !(b' '..=b'~').contains(&b) || b == b'%' {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cts: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for ct in cts {
            h.append(http::header::CONTENT_TYPE, ct.parse().unwrap());
        }
        h
    }

    /// gRPC is `application/grpc` or `application/grpc+...`, exactly one header (measured
    /// with Envoy 1.40).
    #[test]
    fn grpc_requests_are_recognized_as_envoy_does() {
        for ct in ["application/grpc", "application/grpc+proto"] {
            assert!(is_grpc_request(&headers(&[ct])), "{ct}");
        }
        for ct in [
            "application/grpc;charset=x",
            "application/grpc-web",
            "application/grpc-web+proto",
            "Application/GRPC",
            "text/plain",
        ] {
            assert!(!is_grpc_request(&headers(&[ct])), "{ct}");
        }
        assert!(!is_grpc_request(&headers(&[])));
        assert!(!is_grpc_request(&headers(&[
            "application/grpc",
            "application/grpc"
        ])));
    }

    /// A gRPC client gets HTTP 200 with the mapped status and the body as a percent-encoded
    /// message (Envoy 1.40: a 404 direct response `nope %x é` gives `grpc-status: 12`,
    /// `grpc-message: nope %25x %C3%A9`); a 200 maps to UNKNOWN.
    #[test]
    fn grpc_local_replies() {
        let grpc = ReplyTo {
            grpc: true,
            head: false,
        };
        let r = local_reply(404, "nope %x é".as_bytes(), grpc, None);
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, Some("application/grpc"));
        assert_eq!(r.grpc_status, Some(12));
        assert_eq!(r.grpc_message.as_deref(), Some("nope %25x %C3%A9"));
        assert!(r.body.is_empty());
        assert_eq!(local_reply(200, b"ok", grpc, None).grpc_status, Some(2));
        assert_eq!(local_reply(503, b"", grpc, None).grpc_message, None);
        assert_eq!(local_reply(200, b"x", grpc, Some(14)).grpc_status, Some(14));
        for (http, code) in [
            (400, 13),
            (401, 16),
            (403, 7),
            (429, 14),
            (502, 14),
            (504, 14),
            (301, 2),
            (500, 2),
        ] {
            assert_eq!(http_to_grpc_status(http), code, "{http}");
        }
    }

    /// Others get the status and body, `text/plain` when there is a body.
    #[test]
    fn plain_local_replies() {
        let r = local_reply(503, b"down", ReplyTo::default(), None);
        assert_eq!((r.status, r.content_type), (503, Some("text/plain")));
        assert_eq!(&*r.body, b"down");
        assert_eq!(
            local_reply(404, b"", ReplyTo::default(), None).content_type,
            None
        );
    }
}
