//! A compiled `StringMatch`.

use mesh_model::virtual_service::{StringMatch, StringMatchKind};

use crate::error::CompileError;
use crate::regex::{FullRegex, RegexCache};

/// A compiled string condition, matched against raw bytes (header values need not be UTF-8).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StringMatcher {
    /// Any value: `{}` or `regex: "*"` where presence is meant.
    Present,
    /// Equal bytes.
    Exact(Box<[u8]>),
    /// Starts with.
    Prefix(Box<[u8]>),
    /// The whole value matches.
    Regex(FullRegex),
}

impl StringMatcher {
    /// Compiles a `StringMatch`; `{}` and `regex: "*"` mean presence.
    pub fn compile(m: &StringMatch) -> Result<Self, CompileError> {
        Self::compile_cached(m, &mut RegexCache::new())
    }

    /// [`compile`](Self::compile), taking regexes from `cache` (see [`RegexCache`]).
    pub fn compile_cached(m: &StringMatch, cache: &mut RegexCache) -> Result<Self, CompileError> {
        Ok(match m.kind() {
            StringMatchKind::Any => StringMatcher::Present,
            StringMatchKind::Exact(s) => StringMatcher::Exact(s.as_bytes().into()),
            StringMatchKind::Prefix(s) => StringMatcher::Prefix(s.as_bytes().into()),
            StringMatchKind::Regex("*") => StringMatcher::Present,
            StringMatchKind::Regex(r) => StringMatcher::Regex(cache.get(r)?),
        })
    }

    /// Whether `value` satisfies the condition (case-sensitive).
    #[inline]
    pub fn matches(&self, value: &[u8]) -> bool {
        match self {
            StringMatcher::Present => true,
            StringMatcher::Exact(e) => value == &e[..],
            StringMatcher::Prefix(p) => value.starts_with(p),
            StringMatcher::Regex(r) => r.is_full_match(value),
        }
    }

    /// Like [`matches`](Self::matches), ASCII case-insensitively for exact and prefix (Envoy's
    /// `case_sensitive: false`, which leaves regexes alone).
    #[inline]
    pub fn matches_ignore_case(&self, value: &[u8]) -> bool {
        match self {
            StringMatcher::Exact(e) => value.eq_ignore_ascii_case(e),
            StringMatcher::Prefix(p) => {
                value.len() >= p.len() && value[..p.len()].eq_ignore_ascii_case(p)
            }
            other => other.matches(value),
        }
    }

    /// A short description (`exact "GET"`, `prefix "/api"`, `regex ".*"`, `present`).
    pub fn describe(&self) -> String {
        match self {
            StringMatcher::Present => "present".to_owned(),
            StringMatcher::Exact(e) => format!("exact {:?}", String::from_utf8_lossy(e)),
            StringMatcher::Prefix(p) => format!("prefix {:?}", String::from_utf8_lossy(p)),
            StringMatcher::Regex(r) => format!("regex {:?}", r.as_str()),
        }
    }
}
