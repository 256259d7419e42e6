//! HTTP hygiene before routing and after the upstream: what Envoy 1.40's HTTP/1 codec and
//! connection manager, as Istio configures them, refuse, strip or answer themselves. It is
//! the layer's, so that every embedding (mesh-proxy, an axum app) gets it.
//!
//! Each rule was measured on Envoy 1.40.0 with Istio's listener settings (the runs are in
//! `mesh-proxy/tests/envoy_edge.rs`, which checks the same inputs through Envoy and
//! mesh-proxy):
//!
//! - HTTP/1.0 (and 0.9) requests get `426 Upgrade Required`, `DPE`, `connection: close`
//!   unless [`Options::accept_http_10`](crate::Options::accept_http_10) is set (Envoy's
//!   `accept_http_10`, off in Istio's listeners).
//! - HTTP/1 methods are case-sensitive and from a fixed list
//!   ([`mesh_match::ENVOY_HTTP1_METHODS`]): `delete`,
//!   `Delete`, `FOO`, a 10 000-byte method get `400 Bad Request`, flag `DPE`, and
//!   `connection: close`. HTTP/2 requests are not checked (Envoy forwards any method there).
//! - `Connection` (HTTP/1): ten or more tokens, or naming `x-forwarded-for`,
//!   `x-forwarded-proto` or `x-forwarded-host`, or naming `te` with a `TE` of 256 bytes or
//!   more: `400`, `DPE`. Naming `host`: `400` with an empty body (the Host is gone). The
//!   headers it names are removed, as are `Connection`, `Keep-Alive`, `Proxy-Connection`
//!   and `Upgrade`; `TE` is kept only as `te: trailers`, when one of its values is exactly
//!   `trailers`.
//! - The control headers a client could steer Envoy's router or identity with
//!   ([`ENVOY_CONTROL_HEADERS`]: `x-envoy-retry-on`, `x-envoy-max-retries`,
//!   `x-envoy-upstream-rq-timeout-ms`, ...) are removed; other `x-envoy-*` headers pass.
//! - Upgrades and `CONNECT` are decided in one place, [`classify_upgrade`].
//! - `OPTIONS *` gets `404` with an empty body; `*` or an authority alone as the target of
//!   another method gets `400`, `DPE`. `QUERY` without `Content-Type` gets `400`, empty.
//! - Responses: the upstream's `Connection`, `Keep-Alive`, `Proxy-Connection` and `Upgrade`
//!   never reach the client (headers the upstream's `Connection` names do: Envoy 1.40 passes
//!   them on).

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, StatusCode, Version};

use crate::flags::ResponseFlags;
use crate::service::error::MeshError;

/// Request headers Envoy 1.40 removes from a client's request at the edge (measured one by
/// one): its router's and tracer's controls, and what only Envoy may set. Envoy then sets
/// `x-envoy-attempt-count` itself, as the layer does on each attempt; it also sets
/// `x-envoy-external-address` for an external client, which the layer does not.
pub(crate) const ENVOY_CONTROL_HEADERS: [&str; 23] = [
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
];

/// `Connection` with this many tokens or more is refused.
const MAX_CONNECTION_TOKENS: usize = 10;
/// A nominated `TE` this long or longer is refused.
const MAX_NOMINATED_TE: usize = 256;

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
const HTTP2_SETTINGS: HeaderName = HeaderName::from_static("http2-settings");

/// A request refused before routing: the answer, and the flag it is counted with.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) error: MeshError,
    pub(crate) flags: ResponseFlags,
}

fn refuse(
    status: StatusCode,
    body: &'static str,
    reason: &'static str,
    flags: ResponseFlags,
) -> Refusal {
    Refusal {
        error: MeshError::Refused {
            status,
            body,
            reason,
            close: flags.contains(ResponseFlags::DOWNSTREAM_PROTOCOL_ERROR),
        },
        flags,
    }
}

/// Envoy's codec error: `400 Bad Request`, `DPE`, connection closed.
fn bad_request(reason: &'static str) -> Refusal {
    refuse(
        StatusCode::BAD_REQUEST,
        "Bad Request",
        reason,
        ResponseFlags::DOWNSTREAM_PROTOCOL_ERROR,
    )
}

/// What a request asks of its connection's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Upgrade {
    /// Nothing: a stray `Upgrade` header is removed as hop-by-hop.
    None,
    /// `Upgrade: h2c`: served as plain HTTP/1.1 without `Connection`, `Upgrade` and
    /// `HTTP2-Settings`.
    H2c,
    /// `Upgrade: websocket`: enabled on Istio's listeners; `Connection` and `Upgrade` go to
    /// the upstream.
    WebSocket,
    /// Another protocol (or several, or none named): `403`, empty body.
    Unsupported,
    /// `CONNECT`: Istio's routes have no CONNECT matcher, so `404`, `NR`, nothing upstream.
    Connect,
}

/// The one place where upgrades and `CONNECT` are decided, as Envoy 1.40 with Istio's
/// `upgrade_configs: [websocket]` decides them (measured): an upgrade is asked when a
/// `Connection` token is `upgrade` and an `Upgrade` header is present.
pub(crate) fn classify_upgrade(parts: &Parts) -> Upgrade {
    if parts.method == Method::CONNECT {
        return Upgrade::Connect;
    }
    let asked = connection_tokens(&parts.headers).any(|t| t.eq_ignore_ascii_case("upgrade"));
    let Some(protocol) = parts.headers.get(header::UPGRADE) else {
        return Upgrade::None;
    };
    if !asked {
        return Upgrade::None;
    }
    let protocol = protocol.as_bytes().trim_ascii();
    if protocol.eq_ignore_ascii_case(b"h2c") {
        Upgrade::H2c
    } else if protocol.eq_ignore_ascii_case(b"websocket") {
        Upgrade::WebSocket
    } else {
        Upgrade::Unsupported
    }
}

/// The comma-separated tokens of every `Connection` header, trimmed.
fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Checks and cleans a request before routing, as Envoy's codec and connection manager do;
/// an error is the answer to send instead (and its flag).
pub(crate) fn check_request(parts: &mut Parts, accept_http_10: bool) -> Result<(), Refusal> {
    let http1 = parts.version <= Version::HTTP_11;
    if parts.version < Version::HTTP_11 && !accept_http_10 {
        return Err(refuse(
            StatusCode::UPGRADE_REQUIRED,
            "Upgrade Required",
            "HTTP/1.0, and accept_http_10 is off",
            ResponseFlags::DOWNSTREAM_PROTOCOL_ERROR,
        ));
    }
    if http1 && !mesh_match::is_envoy_http1_method(parts.method.as_str()) {
        return Err(bad_request("a method Envoy's HTTP/1 codec does not know"));
    }
    check_target(parts)?;
    check_connection(&parts.headers)?;
    let upgrade = classify_upgrade(parts);
    match upgrade {
        Upgrade::Connect => {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                "",
                "CONNECT, and no CONNECT route",
                ResponseFlags::NO_ROUTE,
            ));
        }
        Upgrade::Unsupported => {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "",
                "an upgrade to a protocol Istio does not enable",
                ResponseFlags::NONE,
            ));
        }
        Upgrade::None | Upgrade::H2c | Upgrade::WebSocket => {}
    }
    if parts.method.as_str() == "QUERY" && !parts.headers.contains_key(header::CONTENT_TYPE) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "",
            "QUERY without Content-Type",
            ResponseFlags::NONE,
        ));
    }
    strip_request_headers(&mut parts.headers, upgrade)
}

/// `*` is a target for `OPTIONS` only, and then there is nothing to route (`404`); an
/// authority alone is a target for `CONNECT` only.
fn check_target(parts: &Parts) -> Result<(), Refusal> {
    let uri = &parts.uri;
    if parts.method == Method::CONNECT {
        return Ok(());
    }
    if uri.scheme().is_none() && uri.path_and_query().is_none() {
        return Err(bad_request(
            "an authority as the target of a request that is not CONNECT",
        ));
    }
    if uri.path() == "*" {
        if parts.method == Method::OPTIONS {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                "",
                "OPTIONS *: no path to route",
                ResponseFlags::NONE,
            ));
        }
        return Err(bad_request(
            "`*` as the target of a request that is not OPTIONS",
        ));
    }
    Ok(())
}

/// Envoy's codec refuses a `Connection` header with too many tokens, or one that would
/// remove the forwarding headers, or a nominated `TE` that is too long.
fn check_connection(headers: &HeaderMap) -> Result<(), Refusal> {
    if !headers.contains_key(header::CONNECTION) {
        return Ok(());
    }
    let mut count = 0;
    for token in connection_tokens(headers) {
        count += 1;
        if count >= MAX_CONNECTION_TOKENS {
            return Err(bad_request("Connection names too many headers"));
        }
        let forwarding = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"];
        if forwarding.iter().any(|f| token.eq_ignore_ascii_case(f)) {
            return Err(bad_request("Connection names a forwarding header"));
        }
        if token.eq_ignore_ascii_case("te") {
            let te: usize = headers
                .get_all(header::TE)
                .iter()
                .map(|v| v.len() + 1)
                .sum();
            if te > MAX_NOMINATED_TE {
                return Err(bad_request("Connection names a TE that is too long"));
            }
        }
    }
    Ok(())
}

/// Whether a header name is one this module may remove from a request.
fn is_hop_or_control(name: &HeaderName) -> bool {
    let n = name.as_str();
    n.starts_with("x-envoy-")
        || *name == header::CONNECTION
        || *name == KEEP_ALIVE
        || *name == PROXY_CONNECTION
        || *name == header::UPGRADE
        || *name == header::TE
        || *name == HTTP2_SETTINGS
}

/// Removes hop-by-hop headers (and those `Connection` names) and Envoy's control headers.
/// Allocates only when `Connection` names a header.
fn strip_request_headers(headers: &mut HeaderMap, upgrade: Upgrade) -> Result<(), Refusal> {
    if !headers.keys().any(is_hop_or_control) {
        return Ok(());
    }
    // Headers the Connection tokens name, other than the ones handled below.
    let handled = ["close", "keep-alive", "upgrade", "te", "connection"];
    let named: Vec<HeaderName> = connection_tokens(headers)
        .filter(|t| !handled.iter().any(|h| t.eq_ignore_ascii_case(h)))
        .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
        .collect();
    for name in &named {
        if *name == header::HOST {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "",
                "Connection names Host, which leaves no Host",
                ResponseFlags::NONE,
            ));
        }
        if upgrade == Upgrade::WebSocket && *name == header::UPGRADE {
            continue;
        }
        headers.remove(name);
    }
    if upgrade != Upgrade::WebSocket {
        headers.remove(header::CONNECTION);
        headers.remove(header::UPGRADE);
    }
    if upgrade == Upgrade::H2c {
        headers.remove(HTTP2_SETTINGS);
    }
    headers.remove(KEEP_ALIVE);
    headers.remove(PROXY_CONNECTION);
    // TE: `trailers` or nothing.
    if headers.contains_key(header::TE) {
        let trailers = headers
            .get_all(header::TE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim() == "trailers");
        headers.remove(header::TE);
        if trailers {
            headers.insert(header::TE, HeaderValue::from_static("trailers"));
        }
    }
    for name in ENVOY_CONTROL_HEADERS {
        headers.remove(name);
    }
    Ok(())
}

/// Removes the upstream's hop-by-hop headers from its response, as Envoy does; a `101`
/// (an accepted upgrade) keeps them, for the upgrade to proceed. The upstream's HTTP
/// version is the upstream hop's too: the response leaves as HTTP/1.1 (or whatever the
/// client speaks), so that an `HTTP/1.0` upstream's body, framed by its connection's end,
/// is framed again for the client (Envoy sends it chunked).
pub(crate) fn sanitize_response<B>(response: &mut http::Response<B>) {
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        return;
    }
    *response.version_mut() = Version::HTTP_11;
    let headers = response.headers_mut();
    headers.remove(header::CONNECTION);
    headers.remove(KEEP_ALIVE);
    headers.remove(PROXY_CONNECTION);
    headers.remove(header::UPGRADE);
}

#[cfg(test)]
mod tests;
