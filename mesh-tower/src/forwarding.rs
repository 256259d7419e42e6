//! The request headers Envoy's connection manager sets on every request before it is
//! routed, as istiod configures it (measured with Envoy 1.40, clients on loopback):
//!
//! - **A sidecar** (`use_remote_address: false`): `x-forwarded-proto: http` when the request
//!   has none, and a UUID `x-request-id` when it has none; `x-forwarded-for` and a client's
//!   `x-request-id` are passed on as they came.
//! - **A gateway** (`use_remote_address: true`; no address counts as internal, since istiod
//!   leaves `internal_address_config` unset, so every client is external):
//!   `x-forwarded-proto` set to `http` (the connection's scheme, whatever the client sent),
//!   the client's address appended to `x-forwarded-for` (`9.9.9.9, 8.8.8.8` becomes
//!   `9.9.9.9, 8.8.8.8,ADDR`; repeated headers are joined with `,` first) and set as
//!   `x-envoy-external-address`, and a new UUID `x-request-id` replacing the client's.
//!
//! Routing sees them, as in Envoy (its connection manager sets them before its router
//! runs), and every attempt and mirrored copy carries the same values. The client's address
//! is the request's [`ClientAddr`](crate::ClientAddr); without one, nothing is appended and
//! no `x-envoy-external-address` is set. One difference: for a client on loopback, Envoy
//! appends the host's own (first non-loopback) address to `x-forwarded-for`; the layer
//! appends the client's.

use std::net::IpAddr;

use http::HeaderValue;
use http::header::{HeaderMap, HeaderName};

use crate::rng::Samples;

/// `x-forwarded-for`.
const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `x-forwarded-proto`.
const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `x-envoy-external-address`.
const EXTERNAL_ADDRESS: HeaderName = HeaderName::from_static("x-envoy-external-address");
/// `x-request-id`.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Sets the connection manager's request headers on `headers`: a gateway's when `gateway`,
/// else a sidecar's; `client` is the client's address, if known; `ids` draws request ids.
pub(crate) fn set_request_headers(
    headers: &mut HeaderMap,
    gateway: bool,
    client: Option<IpAddr>,
    ids: &Samples,
) {
    let http = HeaderValue::from_static("http");
    if !gateway {
        if !headers.contains_key(&FORWARDED_PROTO) {
            headers.insert(FORWARDED_PROTO, http);
        }
        if !headers.contains_key(&REQUEST_ID) {
            headers.insert(REQUEST_ID, request_id(ids));
        }
        return;
    }
    headers.insert(FORWARDED_PROTO, http);
    if let Some(ip) = client {
        let address = ip.to_string();
        let mut joined = Vec::new();
        for v in headers.get_all(&FORWARDED_FOR) {
            joined.extend_from_slice(v.as_bytes());
            joined.push(b',');
        }
        joined.extend_from_slice(address.as_bytes());
        // Shared bytes, as the request id's.
        if let Ok(v) = HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(joined)) {
            headers.insert(FORWARDED_FOR, v);
        }
        if let Ok(v) = HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(address)) {
            headers.insert(EXTERNAL_ADDRESS, v);
        }
    }
    headers.insert(REQUEST_ID, request_id(ids));
}

/// A random (version 4) UUID, lower-case, as Envoy's request ids are. Its bytes are shared
/// (`Bytes::from_owner`), so that each attempt's copy of the header counts a reference
/// instead of copying them.
fn request_id(ids: &Samples) -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    /// Where each of the 16 bytes' two digits go in `8-4-4-4-12`.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&ids.next_u64().to_be_bytes());
    bytes[8..].copy_from_slice(&ids.next_u64().to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut text = [b'-'; 36];
    for (b, at) in bytes.iter().zip(AT) {
        text[at] = HEX[usize::from(b >> 4)];
        text[at + 1] = HEX[usize::from(b & 0x0f)];
    }
    HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(text))
        .unwrap_or(HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn is_uuid_v4(v: &HeaderValue) -> bool {
        let s = v.to_str().unwrap_or("");
        let parts: Vec<&str> = s.split('-').collect();
        parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
            && s.bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && parts[2].starts_with('4')
            && matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b')
    }

    /// A sidecar adds `x-forwarded-proto: http` and a UUID `x-request-id` only where the
    /// request has none, and leaves `x-forwarded-for` alone.
    #[test]
    fn a_sidecar_fills_in_what_is_missing() {
        let ids = Samples::new(1);
        let mut h = headers(&[("x-forwarded-for", "9.9.9.9")]);
        set_request_headers(&mut h, false, Some([10, 0, 0, 1].into()), &ids);
        assert_eq!(h["x-forwarded-proto"], "http");
        assert!(is_uuid_v4(&h["x-request-id"]), "{:?}", h["x-request-id"]);
        assert_eq!(h["x-forwarded-for"], "9.9.9.9");
        assert!(!h.contains_key("x-envoy-external-address"));
        let mut h = headers(&[("x-forwarded-proto", "https"), ("x-request-id", "abc")]);
        set_request_headers(&mut h, false, None, &ids);
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-request-id"], "abc");
    }

    /// A gateway overwrites `x-forwarded-proto` and `x-request-id`, and appends the client
    /// to `x-forwarded-for` (repeated headers joined with `,`, no space added).
    #[test]
    fn a_gateway_treats_every_client_as_external() {
        let ids = Samples::new(2);
        let mut h = headers(&[
            ("x-forwarded-proto", "https"),
            ("x-request-id", "abc"),
            ("x-forwarded-for", "1.1.1.1, 8.8.8.8"),
            ("x-forwarded-for", "2.2.2.2"),
        ]);
        set_request_headers(&mut h, true, Some([203, 0, 113, 7].into()), &ids);
        assert_eq!(h["x-forwarded-proto"], "http");
        assert!(is_uuid_v4(&h["x-request-id"]));
        assert_eq!(
            h.get_all("x-forwarded-for").iter().collect::<Vec<_>>(),
            ["1.1.1.1, 8.8.8.8,2.2.2.2,203.0.113.7"]
        );
        assert_eq!(h["x-envoy-external-address"], "203.0.113.7");
        let mut h = HeaderMap::new();
        set_request_headers(&mut h, true, Some("::1".parse().expect("an address")), &ids);
        assert_eq!(h["x-forwarded-for"], "::1");
    }

    /// Request ids differ from one request to the next.
    #[test]
    fn request_ids_are_fresh() {
        let ids = Samples::new(3);
        let a = request_id(&ids);
        let b = request_id(&ids);
        assert!(is_uuid_v4(&a) && is_uuid_v4(&b));
        assert_ne!(a, b);
    }
}
