//! Which request methods Envoy's HTTP/1 codec accepts.
//!
//! Envoy 1.40 (its balsa parser, as Istio leaves it: no `allow_custom_methods`) accepts a
//! fixed list of method tokens, compared exactly: `delete`, `Delete`, `FOO`, `M-SEARCH` or a
//! 10 000-byte token get `400 Bad Request` before routing (measured; the list is balsa's,
//! with `QUERY`, which 1.40 accepts). Over HTTP/2 Envoy forwards any method token.

/// The methods Envoy 1.40's HTTP/1 codec accepts, exactly as written.
pub const ENVOY_HTTP1_METHODS: [&str; 35] = [
    "ACL",
    "BIND",
    "CHECKOUT",
    "CONNECT",
    "COPY",
    "DELETE",
    "GET",
    "HEAD",
    "LINK",
    "LOCK",
    "MERGE",
    "MKACTIVITY",
    "MKCALENDAR",
    "MKCOL",
    "MOVE",
    "MSEARCH",
    "NOTIFY",
    "OPTIONS",
    "PATCH",
    "POST",
    "PROPFIND",
    "PROPPATCH",
    "PURGE",
    "PUT",
    "QUERY",
    "REBIND",
    "REPORT",
    "SEARCH",
    "SOURCE",
    "SUBSCRIBE",
    "TRACE",
    "UNBIND",
    "UNLINK",
    "UNLOCK",
    "UNSUBSCRIBE",
];

/// Whether Envoy's HTTP/1 codec accepts `method` (case-sensitive).
pub fn is_envoy_http1_method(method: &str) -> bool {
    ENVOY_HTTP1_METHODS.contains(&method)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Methods are case-sensitive tokens from the list; `MSEARCH` is, `M-SEARCH` is not.
    #[test]
    fn methods_are_exact_tokens_from_envoys_list() {
        for m in ["GET", "DELETE", "PURGE", "MSEARCH", "QUERY", "PROPFIND"] {
            assert!(is_envoy_http1_method(m), "{m}");
        }
        for m in ["delete", "Delete", "FOO", "M-SEARCH", "PRI", "", "GET "] {
            assert!(!is_envoy_http1_method(m), "{m:?}");
        }
    }
}
