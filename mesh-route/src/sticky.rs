//! Sticky splits: beyond Istio, as an explicit opt-in. The split's sample is a stable hash of
//! a request key, so one user stays on one version across requests and replicas while the
//! shares still follow the weights.
//!
//! The hash is FNV-1a (64-bit, offset basis `0xcbf29ce484222325`, prime `0x100000001b3`) of
//! the key's bytes, finished with SplitMix64's mixer; it is fixed and will not change between
//! releases or processes.

use std::fmt;
use std::str::FromStr;

use http::HeaderName;
use mesh_match::RequestView;

/// The VirtualService annotation that turns a sticky split on:
/// `header:<name>`, `cookie:<name>`, `query:<name>` or `source-ip`.
pub const STICKY_ANNOTATION: &str = "mesh-route.dev/sticky-split";

/// What a sticky split hashes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StickyKey {
    /// A request header's value.
    Header(HeaderName),
    /// A cookie's value.
    Cookie(String),
    /// A query parameter's raw value.
    Query(String),
    /// The client's IP address.
    SourceIp,
}

impl fmt::Display for StickyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StickyKey::Header(h) => write!(f, "header:{h}"),
            StickyKey::Cookie(c) => write!(f, "cookie:{c}"),
            StickyKey::Query(q) => write!(f, "query:{q}"),
            StickyKey::SourceIp => f.write_str("source-ip"),
        }
    }
}

/// The sticky-split annotation's value is not a sticky key. Display gives the message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{value:?} is not a sticky key: use header:<name>, cookie:<name>, query:<name> or source-ip"
)]
pub struct StickyKeyError {
    /// The value as written.
    pub value: String,
}

impl FromStr for StickyKey {
    type Err = StickyKeyError;
    fn from_str(s: &str) -> Result<Self, StickyKeyError> {
        let bad = || StickyKeyError {
            value: s.to_owned(),
        };
        if s == "source-ip" {
            return Ok(StickyKey::SourceIp);
        }
        let (kind, name) = s.split_once(':').ok_or_else(bad)?;
        if name.is_empty() {
            return Err(bad());
        }
        Ok(match kind {
            "header" => {
                StickyKey::Header(HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?)
            }
            "cookie" => StickyKey::Cookie(name.to_owned()),
            "query" => StickyKey::Query(name.to_owned()),
            _ => return Err(bad()),
        })
    }
}

/// The stable 64-bit hash used for sticky splits.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // SplitMix64 finalizer, so that similar keys spread over the whole range.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The value of cookie `name` in the request's `Cookie` headers (`;`-separated pairs).
pub fn cookie<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// The stable hash of an IP address (of its octets).
pub fn hash_ip(ip: std::net::IpAddr) -> u64 {
    match ip {
        std::net::IpAddr::V4(v4) => stable_hash(&v4.octets()),
        std::net::IpAddr::V6(v6) => stable_hash(&v6.octets()),
    }
}

impl StickyKey {
    /// The hash of the key in `req`, or `None` when the request does not carry it.
    pub fn sample(&self, req: &RequestView<'_>) -> Option<u64> {
        match self {
            StickyKey::Header(name) => req.headers().get(name).map(|v| stable_hash(v.as_bytes())),
            StickyKey::Query(name) => req.query_param(name).map(|v| stable_hash(v.as_bytes())),
            StickyKey::Cookie(name) => {
                cookie(req.headers(), name).map(|v| stable_hash(v.as_bytes()))
            }
            StickyKey::SourceIp => req.remote_ip().map(hash_ip),
        }
    }
}
