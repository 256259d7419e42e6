//! A borrowed view of the parts of a request that matching reads.

use http::{HeaderMap, HeaderName};

use crate::normalize::{NormalizeError, PathNormalization, normalize};

/// Parsed once: a `&str` name is parsed and checked on every lookup.
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// What matching sees of a request. The path must already be normalized (see
/// [`normalize_target`]); nothing here allocates.
#[derive(Clone, Copy, Debug)]
pub struct RequestView<'a> {
    method: &'a str,
    scheme: &'a str,
    listener_scheme: &'a str,
    authority: &'a str,
    path_and_query: &'a str,
    path_len: usize,
    /// The authority without its port (a slice of it, found once here).
    host: &'a str,
    port: u16,
    headers: &'a HeaderMap,
    remote_ip: Option<std::net::IpAddr>,
}

impl<'a> RequestView<'a> {
    /// A view of a request: `authority` as sent (with any port), `path_and_query` normalized.
    ///
    /// `scheme` is the scheme of the connection the request came on (`https` when TLS was
    /// terminated for it, else `http`); the port is the authority's, or that scheme's
    /// default (443 for https, else 80). The request's `:scheme` is that scheme unless the
    /// request carries one `x-forwarded-proto` of `http` or `https` (any case), which
    /// Envoy takes as `:scheme` for a request without one (an HTTP/1.1 request in origin
    /// form; see [`forwarded_scheme`]); [`with_scheme`](Self::with_scheme) sets an explicit
    /// `:scheme` (HTTP/2, or an absolute-form target), which Envoy keeps.
    pub fn new(
        method: &'a str,
        scheme: &'a str,
        authority: &'a str,
        path_and_query: &'a str,
        headers: &'a HeaderMap,
    ) -> Self {
        let path_len = path_and_query.find('?').unwrap_or(path_and_query.len());
        let port = authority_port(authority).unwrap_or(if scheme == "https" { 443 } else { 80 });
        let host = authority_host(authority);
        RequestView {
            method,
            scheme: forwarded_scheme(headers).unwrap_or(scheme),
            listener_scheme: scheme,
            authority,
            path_and_query,
            path_len,
            host,
            port,
            headers,
            remote_ip: None,
        }
    }

    /// The same view with the client's address (for `sourceIp` hashing).
    pub fn with_remote_ip(mut self, ip: std::net::IpAddr) -> Self {
        self.remote_ip = Some(ip);
        self
    }

    /// The client's address, when known.
    pub fn remote_ip(&self) -> Option<std::net::IpAddr> {
        self.remote_ip
    }

    /// The same view with another port (the listener port, when it is not the authority's).
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// `:method`.
    #[inline]
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The same view with an explicit `:scheme` (an HTTP/2 request's, or an absolute-form
    /// target's), which Envoy keeps whatever `x-forwarded-proto` says.
    pub fn with_scheme(mut self, scheme: &'a str) -> Self {
        self.scheme = scheme;
        self
    }

    /// `:scheme` as Envoy routes on it (see [`new`](Self::new)).
    #[inline]
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// Whether the request's `x-forwarded-proto`, as Envoy holds it, is exactly `value`:
    /// Envoy sets a missing one to the connection's scheme, and joins repeated ones into
    /// one value (which then equals neither `http` nor `https`). Case-sensitive.
    pub fn forwarded_proto_is(&self, value: &str) -> bool {
        let mut values = self.headers.get_all(&X_FORWARDED_PROTO).iter();
        match (values.next(), values.next()) {
            (None, _) => self.listener_scheme == value,
            (Some(v), None) => v.as_bytes() == value.as_bytes(),
            (Some(_), Some(_)) => false,
        }
    }

    /// The scheme of the connection the request came on, as given to
    /// [`new`](Self::new): the listener's (Istio decides some redirect ports on it).
    #[inline]
    pub fn listener_scheme(&self) -> &'a str {
        self.listener_scheme
    }

    /// `:authority` as sent, port included.
    #[inline]
    pub fn authority(&self) -> &'a str {
        self.authority
    }

    /// The host of the authority, without the port.
    #[inline]
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The port the request is for.
    #[inline]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path without the query.
    #[inline]
    pub fn path(&self) -> &'a str {
        &self.path_and_query[..self.path_len]
    }

    /// The path with the query (`:path`).
    #[inline]
    pub fn path_and_query(&self) -> &'a str {
        self.path_and_query
    }

    /// The raw query string, without `?`.
    pub fn query(&self) -> Option<&'a str> {
        self.path_and_query.get(self.path_len + 1..)
    }

    /// The headers.
    #[inline]
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The raw value of the first occurrence of query parameter `name` (`?a` has value `""`).
    pub fn query_param(&self, name: &str) -> Option<&'a str> {
        self.query_param_bytes(name.as_bytes())
    }

    /// [`query_param`](Self::query_param) by the name's bytes.
    pub(crate) fn query_param_bytes(&self, name: &[u8]) -> Option<&'a str> {
        self.query()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.as_bytes() == name).then_some(v)
        })
    }
}

/// The scheme Envoy takes from `x-forwarded-proto` for a request without `:scheme`
/// (`ConnectionManagerUtility::mutateRequestHeaders`, which keeps a client's header on an
/// Istio sidecar's outbound listener): `http` or `https` when the request carries exactly
/// one such header with that value in any case; `None` otherwise (two headers are joined
/// into one invalid value by Envoy, see [`crate::inline`]). Measured with Envoy 1.40:
/// `x-forwarded-proto: HTTPS` matches `scheme: {exact: https}`; `ftp` or two headers fall
/// back to the connection's scheme.
pub fn forwarded_scheme(headers: &HeaderMap) -> Option<&'static str> {
    let mut values = headers.get_all(&X_FORWARDED_PROTO).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let v = value.as_bytes();
    if v.eq_ignore_ascii_case(b"https") {
        Some("https")
    } else if v.eq_ignore_ascii_case(b"http") {
        Some("http")
    } else {
        None
    }
}

/// The host of an authority, without the port, as Envoy finds the port
/// (`HeaderUtility::getPortStart`): everything after the last `:` is the port unless that
/// `:` is inside an IPv6 literal's brackets. `[::1]:8080` gives `[::1]`, `a.b:80` gives
/// `a.b`, and so do `a.b:` and `a.b:x` (measured with Envoy 1.40 on a gateway: Hosts
/// `bench.example.com:abc` and `bench.example.com:` select the `bench.example.com` virtual
/// host).
pub fn authority_host(authority: &str) -> &str {
    // One backward scan of the bytes (no `char` searcher): a `]` before any `:` means an
    // IPv6 literal without a port.
    for (i, b) in authority.bytes().enumerate().rev() {
        match b {
            b':' => return &authority[..i],
            b']' => return authority,
            _ => {}
        }
    }
    authority
}

/// The port of an authority, if it has one.
pub fn authority_port(authority: &str) -> Option<u16> {
    let rest = if authority.starts_with('[') {
        &authority[authority.find(']')? + 1..]
    } else {
        authority
    };
    let colon = rest.bytes().rposition(|b| b == b':')?;
    rest[colon + 1..].parse().ok()
}

/// Normalizes the path of a request target and keeps its query:
/// `/a/../b?x=1` gives `/b?x=1` under `BASE`.
pub fn normalize_target(
    path_and_query: &str,
    mode: PathNormalization,
) -> Result<std::borrow::Cow<'_, str>, NormalizeError> {
    use std::borrow::Cow;
    let (path, query) = match path_and_query.find('?') {
        Some(i) => (&path_and_query[..i], Some(&path_and_query[i..])),
        None => (path_and_query, None),
    };
    Ok(match (normalize(path, mode)?, query) {
        (Cow::Borrowed(_), _) => Cow::Borrowed(path_and_query),
        (Cow::Owned(mut p), Some(q)) => {
            p.push_str(q);
            Cow::Owned(p)
        }
        (Cow::Owned(p), None) => Cow::Owned(p),
    })
}
