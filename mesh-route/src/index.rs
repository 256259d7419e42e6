//! Host lookup: exact names in a hash map, wildcard suffixes by longest suffix, then `*`.
//! Cost depends on the number of labels in the host, not on the number of hosts.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash (rustc's hasher): fast for short keys; the keys are configuration, not attacker
/// controlled table sizes, and lookups never insert.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.hash = (self.hash.rotate_left(5) ^ v).wrapping_mul(K);
        }
        for b in chunks.remainder() {
            self.hash = (self.hash.rotate_left(5) ^ u64::from(*b)).wrapping_mul(K);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Maps request hosts to virtual hosts.
#[derive(Clone, Debug, Default)]
pub(crate) struct HostIndex {
    exact: FxMap<Box<str>, usize>,
    /// Keyed by the suffix after `*` (`.example.com` for `*.example.com`).
    wildcard: FxMap<Box<str>, usize>,
    star: Option<usize>,
}

impl HostIndex {
    /// Adds a domain; the first definition of a domain wins.
    pub(crate) fn insert(&mut self, domain: &str, vhost: usize) {
        if domain == "*" {
            self.star.get_or_insert(vhost);
        } else if let Some(suffix) = domain.strip_prefix('*') {
            self.wildcard.entry(suffix.into()).or_insert(vhost);
        } else {
            self.exact.entry(domain.into()).or_insert(vhost);
        }
    }

    /// Whether the domain is already taken.
    pub(crate) fn contains(&self, domain: &str) -> bool {
        if domain == "*" {
            self.star.is_some()
        } else if let Some(suffix) = domain.strip_prefix('*') {
            self.wildcard.contains_key(suffix)
        } else {
            self.exact.contains_key(domain)
        }
    }

    /// The virtual host for a lower-case host without port.
    #[inline]
    pub(crate) fn lookup(&self, host: &str) -> Option<usize> {
        if let Some(v) = self.exact.get(host) {
            return Some(*v);
        }
        if !self.wildcard.is_empty() {
            // Longest suffix first: scan dots from the left. A wildcard never matches the
            // empty label (`*.foo.com` does not match `foo.com`).
            for (i, b) in host.bytes().enumerate() {
                if b == b'.'
                    && i > 0
                    && let Some(v) = self.wildcard.get(&host[i..])
                {
                    return Some(*v);
                }
            }
        }
        self.star
    }
}

/// The longest request host that can match, in bytes (DNS's limit for a name in text form).
/// A longer host gets no route ([`crate::NoRoute::BadHost`]) on every path, whether or not
/// it needs lower-casing.
pub const MAX_HOST_LEN: usize = 255;

/// Lower-cases `host` into `buf` when needed; hosts longer than the buffer are refused.
#[inline]
pub(crate) fn lowercase<'a>(host: &'a str, buf: &'a mut [u8; MAX_HOST_LEN]) -> Option<&'a str> {
    if !host.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(host);
    }
    let bytes = host.as_bytes();
    if bytes.len() > buf.len() {
        return None;
    }
    let out = &mut buf[..bytes.len()];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = b.to_ascii_lowercase();
    }
    std::str::from_utf8(out).ok()
}
