//! Path normalization as Istio configures Envoy (`meshConfig.pathNormalization`), applied
//! before matching so that `/a/../admin`, `/%61dmin` and (with `MERGE_SLASHES`) `//admin`
//! cannot slip past a rule written for `/admin` (CVE-2021-31920).
//!
//! Order, as Envoy applies it: decode escaped slashes (`DECODE_AND_MERGE_SLASHES` only),
//! then RFC 3986 normalization (`\` to `/`, unreserved escapes decoded, characters invalid
//! in a path escaped, dot segments removed), then merging of slashes. Only the path is
//! normalized; the query is untouched.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// Istio's `ProxyPathNormalization.NormalizationType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PathNormalization {
    /// The path is used exactly as received.
    None,
    /// RFC 3986 normalization: Istio's default (`DEFAULT` is `BASE`).
    #[default]
    Base,
    /// `BASE`, then `//` merged into `/`.
    MergeSlashes,
    /// `%2F`, `%5C` decoded first, then `MERGE_SLASHES`.
    DecodeAndMergeSlashes,
}

impl PathNormalization {
    /// The name as meshConfig spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            PathNormalization::None => "NONE",
            PathNormalization::Base => "BASE",
            PathNormalization::MergeSlashes => "MERGE_SLASHES",
            PathNormalization::DecodeAndMergeSlashes => "DECODE_AND_MERGE_SLASHES",
        }
    }
}

impl fmt::Display for PathNormalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown normalization name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown path normalization {0:?}: expected NONE, BASE, DEFAULT, MERGE_SLASHES or DECODE_AND_MERGE_SLASHES"
)]
pub struct UnknownNormalization(pub String);

impl FromStr for PathNormalization {
    type Err = UnknownNormalization;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "NONE" => PathNormalization::None,
            "BASE" | "DEFAULT" => PathNormalization::Base,
            "MERGE_SLASHES" => PathNormalization::MergeSlashes,
            "DECODE_AND_MERGE_SLASHES" => PathNormalization::DecodeAndMergeSlashes,
            other => return Err(UnknownNormalization(other.to_owned())),
        })
    }
}

/// A path that cannot be normalized; Envoy answers such requests with 400.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    /// The path does not start with `/`.
    #[error("path must start with '/'")]
    NotAbsolute,
    /// The path holds a fragment (`#`).
    #[error("path must not contain a fragment ('#')")]
    Fragment,
    /// `%00`, or a NUL byte.
    #[error("path must not contain a NUL character")]
    Nul,
    /// `%` not followed by two hex digits.
    #[error("path has an invalid percent-encoding")]
    BadEscape,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Bytes that the URL canonicalizer Envoy uses escapes in a path.
fn must_escape(b: u8) -> bool {
    b <= b' ' || b >= 0x7f || matches!(b, b'"' | b'<' | b'>' | b'`' | b'{' | b'}')
}

/// Normalizes the path part of a request target (no query) per `mode`.
///
/// Returns the input unchanged (borrowed) when there is nothing to do, which is the common
/// case, so normalization allocates only for paths that change.
pub fn normalize(path: &str, mode: PathNormalization) -> Result<Cow<'_, str>, NormalizeError> {
    if path.contains('#') {
        return Err(NormalizeError::Fragment);
    }
    if mode == PathNormalization::None {
        return Ok(Cow::Borrowed(path));
    }
    if !path.starts_with('/') {
        return Err(NormalizeError::NotAbsolute);
    }
    let merge = matches!(
        mode,
        PathNormalization::MergeSlashes | PathNormalization::DecodeAndMergeSlashes
    );
    let decode_slashes = mode == PathNormalization::DecodeAndMergeSlashes;
    if is_clean(path, merge) {
        return Ok(Cow::Borrowed(path));
    }
    // 1 and 2: escapes and characters.
    let bytes = path.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let (Some(h), Some(l)) = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(NormalizeError::BadEscape);
                };
                let decoded = h * 16 + l;
                if decoded == 0 {
                    return Err(NormalizeError::Nul);
                }
                if is_unreserved(decoded) {
                    out.push(decoded);
                } else if decode_slashes && (decoded == b'/' || decoded == b'\\') {
                    // `%2F` and `%5C` become `/` (a backslash is a slash after BASE).
                    out.push(b'/');
                } else {
                    out.extend_from_slice(&bytes[i..i + 3]);
                }
                i += 3;
            }
            b'\\' => {
                out.push(b'/');
                i += 1;
            }
            0 => return Err(NormalizeError::Nul),
            b if must_escape(b) => {
                out.extend_from_slice(format!("%{b:02X}").as_bytes());
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    // 3: dot segments.
    let mut out = remove_dot_segments(&out);
    // 4: merge slashes, as Envoy's `PathUtil::mergeSlashes` does when the path has a `//`:
    // a leading `/`, the non-empty segments joined by `/`, a trailing `/`. So a path of
    // slashes only becomes `//`, not `/` (observed on Envoy 1.40).
    if merge && out.windows(2).any(|w| w == b"//") {
        let only_slashes = out.iter().all(|b| *b == b'/');
        out.dedup_by(|a, b| *a == b'/' && *b == b'/');
        if only_slashes {
            out.push(b'/');
        }
    }
    // Everything written is ASCII: escapes were kept or produced in ASCII, and decoded
    // bytes are unreserved ASCII.
    Ok(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
}

/// Whether normalization would leave `path` unchanged.
fn is_clean(path: &str, merge: bool) -> bool {
    let b = path.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'%' | b'\\' => return false,
            c if must_escape(c) => return false,
            b'/' => {
                let next = b.get(i + 1).copied();
                if merge && next == Some(b'/') {
                    return false;
                }
                if next == Some(b'.') {
                    let after = b.get(i + 2).copied();
                    if after.is_none() || after == Some(b'/') {
                        return false;
                    }
                    if after == Some(b'.') && matches!(b.get(i + 3), None | Some(b'/')) {
                        return false;
                    }
                }
            }
            _ => {}
        }
    }
    true
}

/// RFC 3986 section 5.2.4 on a path that starts with `/`. The result starts with `/` and
/// has no `.` or `..` segment.
fn remove_dot_segments(path: &[u8]) -> Vec<u8> {
    let mut segments: Vec<&[u8]> = Vec::new();
    // Skip the leading '/', then split; a trailing '.' or '..' leaves a trailing slash.
    let body = &path[1..];
    let parts: Vec<&[u8]> = body.split(|c| *c == b'/').collect();
    let last = parts.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, seg) in parts.iter().enumerate() {
        match *seg {
            b"." => trailing_slash = i == last,
            b".." => {
                segments.pop();
                trailing_slash = i == last;
            }
            s => {
                segments.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut out = Vec::with_capacity(path.len());
    for s in &segments {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if trailing_slash || out.is_empty() {
        out.push(b'/');
    }
    out
}

#[cfg(test)]
mod tests;
