//! Loop detection: a request that already passed this layer is refused.
//!
//! The mark is the `CDN-Loop` header of RFC 8586, as Envoy's `cdn_loop` HTTP filter uses
//! it: every request the layer forwards leaves with the layer's id appended to `CDN-Loop`,
//! and a request that arrives with that id already in the header has come round in a loop.
//! It is answered as Envoy's filter answers (measured with Envoy 1.40, `cdn_loop` filter
//! with `max_allowed_occurrences: 0`):
//!
//! - the id already present: `502` with body `The server has detected a loop between
//!   CDNs.` (nothing goes upstream);
//! - a `CDN-Loop` header that is not a list of `cdn-id [; parameters]`: `400` with body
//!   `Invalid CDN-Loop header in request.` and `connection: close`.
//!
//! `CDN-Loop` is end-to-end (proxies keep it), so a loop through other proxies, or through
//! a load balancer back to another replica given the same id, is caught too. The id is
//! [`Options::cdn_loop_id`](crate::Options::cdn_loop_id), by default unique to each layer,
//! so that a chain of different layers (a gateway in front of an app that embeds the
//! layer) is not mistaken for a loop.

use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderValue;
use http::header::HeaderMap;

use crate::service::error::MeshError;

/// The header.
pub const CDN_LOOP: http::HeaderName = http::HeaderName::from_static("cdn-loop");

/// The body of the 502 for a loop (Envoy's `cdn_loop` filter's text).
pub const LOOP_DETECTED_BODY: &str = "The server has detected a loop between CDNs.";

/// The body of the 400 for an unreadable `CDN-Loop` header (Envoy's text).
pub const BAD_HEADER_BODY: &str = "Invalid CDN-Loop header in request.";

/// This layer's id, ready to append.
#[derive(Clone, Debug)]
pub(crate) struct LoopId {
    id: String,
    value: HeaderValue,
}

impl LoopId {
    /// The configured id, or one unique to this layer. An id that is not a token (RFC 9110)
    /// is replaced by a unique one, with a warning: it could never be found again.
    pub(crate) fn new(configured: Option<&str>) -> LoopId {
        let id = match configured {
            Some(id) if is_token(id) => id.to_owned(),
            Some(id) => {
                tracing::warn!(
                    id,
                    "cdn_loop_id is not a token; a unique id is used instead"
                );
                unique_id()
            }
            None => unique_id(),
        };
        let value = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("mesh"));
        LoopId { id, value }
    }

    /// The id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Refuses a request whose `CDN-Loop` names this layer, else appends the id to it.
    pub(crate) fn check_and_mark(&self, headers: &mut HeaderMap) -> Result<(), MeshError> {
        // One lookup for the usual request without the header.
        if let http::header::Entry::Vacant(e) = headers.entry(CDN_LOOP) {
            e.insert(self.value.clone());
            return Ok(());
        }
        let mut joined = Vec::new();
        for v in headers.get_all(&CDN_LOOP) {
            if occurrences(v.as_bytes(), self.id.as_bytes())? > 0 {
                return Err(MeshError::LoopDetected);
            }
            if !joined.is_empty() {
                joined.extend_from_slice(b", ");
            }
            joined.extend_from_slice(v.as_bytes());
        }
        joined.extend_from_slice(b", ");
        joined.extend_from_slice(self.id.as_bytes());
        let value = HeaderValue::from_bytes(&joined).map_err(|_| MeshError::BadLoopHeader)?;
        headers.insert(CDN_LOOP, value);
        Ok(())
    }
}

/// `mesh-` and 16 hex digits, from the process id, the clock and a counter: unique to each
/// layer of the process and, with high probability, across processes and hosts.
fn unique_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static N: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(N.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    format!("mesh-{:016x}", h.finish())
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// How often `id` appears as a `cdn-id` in the list `value`; an error for a value that is
/// not a list of `cdn-id *( OWS ";" OWS parameter )` (RFC 8586: a cdn-id is a host with an
/// optional port, or a token; empty list elements are allowed, as in every HTTP list).
fn occurrences(value: &[u8], id: &[u8]) -> Result<usize, MeshError> {
    let mut n = 0;
    for element in value.split(|b| *b == b',') {
        let mut parts = element.split(|b| *b == b';');
        let cdn_id = trim(parts.next().unwrap_or_default());
        if cdn_id.is_empty() {
            if parts.next().is_some() {
                return Err(MeshError::BadLoopHeader);
            }
            continue;
        }
        let host_char = |b: &u8| is_tchar(*b) || b"[]:".contains(b);
        if !cdn_id.iter().all(host_char) {
            return Err(MeshError::BadLoopHeader);
        }
        for param in parts {
            let param = trim(param);
            let (name, value) = match param.iter().position(|b| *b == b'=') {
                Some(i) => (&param[..i], Some(&param[i + 1..])),
                None => (param, None),
            };
            let value_ok = value.is_none_or(|v| {
                v.iter().all(|b| is_tchar(*b))
                    || (v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"')
            });
            if name.is_empty() || !name.iter().all(|b| is_tchar(*b)) || !value_ok {
                return Err(MeshError::BadLoopHeader);
            }
        }
        if cdn_id == id {
            n += 1;
        }
    }
    Ok(n)
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests;
