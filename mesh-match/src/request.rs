//! A borrowed view of the parts of a request that matching reads.

use http::HeaderMap;

use crate::normalize::{NormalizeError, PathNormalization, normalize};

/// What matching sees of a request. The path must already be normalized (see
/// [`normalize_target`]); nothing here allocates.
#[derive(Clone, Copy, Debug)]
pub struct RequestView<'a> {
    method: &'a str,
    scheme: &'a str,
    authority: &'a str,
    path_and_query: &'a str,
    path_len: usize,
    host_len: usize,
    port: u16,
    headers: &'a HeaderMap,
    remote_ip: Option<std::net::IpAddr>,
}

impl<'a> RequestView<'a> {
    /// A view of a request: `authority` as sent (with any port), `path_and_query` normalized.
    /// The port is the authority's, or the scheme's default (443 for https, else 80).
    pub fn new(
        method: &'a str,
        scheme: &'a str,
        authority: &'a str,
        path_and_query: &'a str,
        headers: &'a HeaderMap,
    ) -> Self {
        let path_len = path_and_query.find('?').unwrap_or(path_and_query.len());
        let port = authority_port(authority).unwrap_or(if scheme == "https" { 443 } else { 80 });
        let host_len = authority_host(authority).len();
        RequestView {
            method,
            scheme,
            authority,
            path_and_query,
            path_len,
            host_len,
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
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// `:scheme`.
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// `:authority` as sent, port included.
    pub fn authority(&self) -> &'a str {
        self.authority
    }

    /// The host of the authority, without the port.
    pub fn host(&self) -> &'a str {
        &self.authority[..self.host_len]
    }

    /// The port the request is for.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path without the query.
    pub fn path(&self) -> &'a str {
        &self.path_and_query[..self.path_len]
    }

    /// The path with the query (`:path`).
    pub fn path_and_query(&self) -> &'a str {
        self.path_and_query
    }

    /// The raw query string, without `?`.
    pub fn query(&self) -> Option<&'a str> {
        self.path_and_query.get(self.path_len + 1..)
    }

    /// The headers.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The raw value of the first occurrence of query parameter `name` (`?a` has value `""`).
    pub fn query_param(&self, name: &str) -> Option<&'a str> {
        self.query()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }
}

/// The host part of an authority (`[::1]:8080` gives `[::1]`, `a.b:80` gives `a.b`).
pub fn authority_host(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(i) => &authority[..=i],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    }
}

/// The port of an authority, if it has one.
pub fn authority_port(authority: &str) -> Option<u16> {
    let rest = if authority.starts_with('[') {
        &authority[authority.find(']')? + 1..]
    } else {
        authority
    };
    let (_, p) = rest.rsplit_once(':')?;
    p.parse().ok()
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
