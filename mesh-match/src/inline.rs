//! Envoy's inline headers: the names its header map keeps in one slot, so that a repeated
//! header (or an `add` to a present one) becomes one value joined with `,` before routing
//! sees it. A request with `user-agent: a` and `user-agent: b` is matched, and sent
//! upstream, as `user-agent: a,b`; `cookie` and custom headers stay separate values.
//!
//! The lists are Envoy 1.40's, as measured on the PyPI build with Istio's sidecar settings
//! (2026-12-05: a route matching `exact: v1` on each candidate name, a request with the
//! header twice; a response header `add` to a present header), completed from Envoy's
//! source for the names the connection manager strips before routing (hop-by-hop and
//! `x-envoy-*` control headers, where coalescing cannot be observed): the static inline
//! lists in `envoy/http/header_map.h` (`INLINE_REQ_HEADERS`, `INLINE_REQ_RESP_HEADERS`,
//! `INLINE_RESP_HEADERS`, `INLINE_RESP_HEADERS_TRAILERS`) and the custom inline headers
//! its extensions register (`RegisterCustomInlineHeader`, e.g. the CORS and cache filters).

use http::{HeaderMap, HeaderName, HeaderValue};

/// Request headers Envoy 1.40 coalesces (sorted).
pub const REQUEST: &[&str] = &[
    "accept",
    "accept-encoding",
    "access-control-request-headers",
    "access-control-request-method",
    "access-control-request-private-network",
    "authentication",
    "authorization",
    "cache-control",
    "cdn-loop",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "expect",
    "grpc-accept-encoding",
    "grpc-timeout",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "keep-alive",
    "origin",
    "pragma",
    "proxy-connection",
    "proxy-status",
    "referer",
    "te",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "via",
    "x-client-trace-id",
    "x-envoy-attempt-count",
    "x-envoy-decorator-operation",
    "x-envoy-downstream-service-cluster",
    "x-envoy-downstream-service-node",
    "x-envoy-expected-rq-timeout-ms",
    "x-envoy-external-address",
    "x-envoy-force-trace",
    "x-envoy-hedge-on-per-try-timeout",
    "x-envoy-internal",
    "x-envoy-ip-tags",
    "x-envoy-is-timeout-retry",
    "x-envoy-max-retries",
    "x-envoy-original-host",
    "x-envoy-original-path",
    "x-envoy-original-url",
    "x-envoy-retriable-header-names",
    "x-envoy-retriable-status-codes",
    "x-envoy-retry-grpc-on",
    "x-envoy-retry-on",
    "x-envoy-upstream-alt-stat-name",
    "x-envoy-upstream-rq-per-try-timeout-ms",
    "x-envoy-upstream-rq-timeout-alt-response",
    "x-envoy-upstream-rq-timeout-ms",
    "x-envoy-upstream-stream-duration-ms",
    "x-forwarded-client-cert",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-request-id",
];

/// Response headers Envoy 1.40 coalesces (sorted).
pub const RESPONSE: &[&str] = &[
    "access-control-allow-credentials",
    "access-control-allow-headers",
    "access-control-allow-methods",
    "access-control-allow-origin",
    "access-control-allow-private-network",
    "access-control-expose-headers",
    "access-control-max-age",
    "age",
    "cache-control",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "date",
    "etag",
    "expires",
    "grpc-message",
    "grpc-status",
    "keep-alive",
    "last-modified",
    "location",
    "proxy-connection",
    "proxy-status",
    "server",
    "transfer-encoding",
    "upgrade",
    "vary",
    "via",
    "x-envoy-attempt-count",
    "x-envoy-decorator-operation",
    "x-envoy-degraded",
    "x-envoy-immediate-health-check-fail",
    "x-envoy-ratelimited",
    "x-envoy-upstream-canary",
    "x-envoy-upstream-healthchecked-cluster",
    "x-envoy-upstream-service-time",
    "x-request-id",
];

/// Whether Envoy coalesces repeated values of request header `name` (lower case).
pub fn is_request_inline(name: &str) -> bool {
    REQUEST.binary_search(&name).is_ok()
}

/// Whether Envoy coalesces repeated values of response header `name` (lower case).
pub fn is_response_inline(name: &str) -> bool {
    RESPONSE.binary_search(&name).is_ok()
}

/// Appends `value` to `name` as Envoy's header map does: joined to the present value with
/// `,` when the header is `inline` and present, as a new value otherwise.
pub fn append(headers: &mut HeaderMap, name: &HeaderName, value: &HeaderValue, inline: bool) {
    if inline {
        if let Some(present) = headers.get_mut(name) {
            if let Some(joined) = join([present.as_bytes(), value.as_bytes()]) {
                *present = joined;
                return;
            }
        }
    }
    headers.append(name.clone(), value.clone());
}

/// Joins the repeated values of every inline request header into one, as Envoy's codec
/// does when it reads a request. Costs one comparison when no header is repeated.
pub fn coalesce_request(headers: &mut HeaderMap) {
    if headers.len() == headers.keys_len() {
        return;
    }
    let repeated: Vec<HeaderName> = headers
        .keys()
        .filter(|k| is_request_inline(k.as_str()) && headers.get_all(*k).iter().nth(1).is_some())
        .cloned()
        .collect();
    for name in repeated {
        if let Some(joined) = join(headers.get_all(&name).iter().map(HeaderValue::as_bytes)) {
            headers.insert(name, joined);
        }
    }
}

/// `a,b,...` as one value; `None` only if the bytes are not a valid value (never, for
/// valid parts).
fn join<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Option<HeaderValue> {
    let mut out = Vec::new();
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(p);
    }
    HeaderValue::from_bytes(&out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lists are sorted (binary search) and lower case.
    #[test]
    fn lists_are_sorted_and_lower_case() {
        for list in [REQUEST, RESPONSE] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "{list:?}");
            assert!(
                list.iter()
                    .all(|n| n.bytes().all(|b| !b.is_ascii_uppercase()))
            );
        }
    }

    /// Repeated inline request headers become one value joined with `,`, in order; custom
    /// headers and `cookie` stay separate (Envoy 1.40, measured).
    #[test]
    fn repeated_inline_request_headers_are_joined() {
        let mut h = HeaderMap::new();
        h.append("user-agent", HeaderValue::from_static("a"));
        h.append("user-agent", HeaderValue::from_static("b"));
        h.append("cookie", HeaderValue::from_static("x=1"));
        h.append("cookie", HeaderValue::from_static("y=2"));
        h.append("x-custom", HeaderValue::from_static("1"));
        h.append("x-custom", HeaderValue::from_static("2"));
        coalesce_request(&mut h);
        let all =
            |n: &str| -> Vec<&str> { h.get_all(n).iter().map(|v| v.to_str().unwrap()).collect() };
        assert_eq!(all("user-agent"), ["a,b"]);
        assert_eq!(all("cookie"), ["x=1", "y=2"]);
        assert_eq!(all("x-custom"), ["1", "2"]);
    }

    /// An `add` to a present inline header joins it; to a custom header it appends.
    #[test]
    fn append_joins_inline_headers_only() {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("x-upstream", HeaderValue::from_static("a"));
        let b = HeaderValue::from_static("b");
        append(&mut h, &HeaderName::from_static("content-type"), &b, true);
        append(&mut h, &HeaderName::from_static("x-upstream"), &b, false);
        append(&mut h, &HeaderName::from_static("cache-control"), &b, true);
        assert_eq!(h.get_all("content-type").iter().count(), 1);
        assert_eq!(h["content-type"], "application/json,b");
        assert_eq!(h.get_all("x-upstream").iter().count(), 2);
        assert_eq!(h["cache-control"], "b");
    }
}
