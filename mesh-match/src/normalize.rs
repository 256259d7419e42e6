//! Path normalization as Istio configures Envoy (`meshConfig.pathNormalization`), applied
//! before matching so that `/a/../admin`, `/%61dmin`, `/public/..;/admin` and (with
//! `MERGE_SLASHES`) `//admin` cannot slip past a rule written for `/admin` (CVE-2021-31920,
//! CVE-2026-73511).
//!
//! The steps and their order are Envoy 1.40's (`ConnectionManagerUtility::maybeNormalizePath`
//! and `PathUtil`), measured on a real Envoy 1.40.0 with every target of
//! `mesh-match/tests/data/envoy-paths.tsv` under each mode:
//!
//! 1. `DECODE_AND_MERGE_SLASHES` only: `%2F` becomes `/` and `%5C` becomes `\` (any case).
//! 2. Path parameters are cut from dot segments: a segment (between literal `/`s) whose text
//!    before its first `;` is `.` or `..` keeps only that text, so `/public/..;x/admin` is
//!    `/public/../admin` (Envoy 1.40's fix for the servlet `..;` bypass). Only literal dots
//!    count: `%2e%2e;` is left alone here and becomes `..;` in step 3, which Envoy forwards.
//! 3. RFC 3986 normalization by the URL canonicalizer Envoy embeds (Chromium's, in the version
//!    Envoy 1.40 links): `\` is a slash, unreserved escapes (`%61`, `%7E`, `%2e`) are decoded,
//!    other escapes are kept as written, bytes that may not appear in a path are escaped
//!    (`"` `<` `>` `^` `` ` `` `{` `|` `}`, controls, space, DEL, non-ASCII), a `%` that starts
//!    no escape is kept, and an escape that only appears once an inner escape is decoded
//!    (`%%30%30`) has its `%` written `%25`. Dot segments are removed and never climb above
//!    the root. `%00` and NUL are errors (Envoy: 400).
//! 4. `MERGE_SLASHES` and `DECODE_AND_MERGE_SLASHES`: runs of `/` become one.
//!
//! Only the path is normalized; the query is untouched. The result is not always a fixed
//! point, exactly as in Envoy: `/a/%2e%2e;/b` gives `/a/..;/b`, which a second pass would
//! shorten to `/b`.

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
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Characters an escape of which the canonicalizer decodes (RFC 3986's unreserved set).
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Bytes the canonicalizer escapes when they appear unescaped in a path.
fn must_escape(b: u8) -> bool {
    b <= b' '
        || b >= 0x7f
        || matches!(
            b,
            b'"' | b'#' | b'<' | b'>' | b'?' | b'^' | b'`' | b'{' | b'|' | b'}'
        )
}

fn is_slash(b: u8) -> bool {
    b == b'/' || b == b'\\'
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
    if is_clean(path.as_bytes(), merge) {
        return Ok(Cow::Borrowed(path));
    }
    let mut bytes = Cow::Borrowed(path.as_bytes());
    if mode == PathNormalization::DecodeAndMergeSlashes {
        bytes = Cow::Owned(unescape_slashes(&bytes));
    }
    let bytes = strip_dot_segment_parameters(&bytes);
    let mut out = canonicalize(&bytes)?;
    if merge {
        merge_slashes(&mut out);
    }
    // Everything written is ASCII: escapes are kept or produced in ASCII, and decoded bytes
    // are unreserved ASCII.
    Ok(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
}

/// Whether normalization would leave `path` unchanged: no escape, backslash or byte to
/// escape, no dot segment (with or without parameters) and, when merging, no `//`.
fn is_clean(path: &[u8], merge: bool) -> bool {
    if path
        .iter()
        .any(|&b| b == b'%' || b == b'\\' || must_escape(b))
    {
        return false;
    }
    if merge && path.windows(2).any(|w| w == b"//") {
        return false;
    }
    !path.split(|b| *b == b'/').any(|segment| {
        let name = segment.split(|b| *b == b';').next().unwrap_or(segment);
        name == b"." || name == b".."
    })
}

/// Step 1 of `DECODE_AND_MERGE_SLASHES`: `%2F` to `/`, `%5C` to `\`, in any case.
fn unescape_slashes(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    let mut i = 0;
    while i < path.len() {
        if path[i] == b'%' && i + 2 < path.len() {
            let escape = &path[i + 1..i + 3];
            if escape.eq_ignore_ascii_case(b"2f") {
                out.push(b'/');
                i += 3;
                continue;
            }
            if escape.eq_ignore_ascii_case(b"5c") {
                out.push(b'\\');
                i += 3;
                continue;
            }
        }
        out.push(path[i]);
        i += 1;
    }
    out
}

/// Step 2: a segment whose text before its first `;` is `.` or `..` loses the parameters.
fn strip_dot_segment_parameters(path: &[u8]) -> Cow<'_, [u8]> {
    if !path.contains(&b';') {
        return Cow::Borrowed(path);
    }
    let mut out = Vec::with_capacity(path.len());
    for (k, segment) in path.split(|b| *b == b'/').enumerate() {
        if k > 0 {
            out.push(b'/');
        }
        let kept = match segment.iter().position(|b| *b == b';') {
            Some(p) if matches!(&segment[..p], b"." | b"..") => &segment[..p],
            _ => segment,
        };
        out.extend_from_slice(kept);
    }
    Cow::Owned(out)
}

/// `%` followed by two hex digits at `i`: the byte it encodes.
fn decode_escape(input: &[u8], i: usize) -> Option<u8> {
    let h = hex(*input.get(i + 1)?)?;
    let l = hex(*input.get(i + 2)?)?;
    Some(h * 16 + l)
}

/// A dot at `i`, literal or escaped: its length in the input (1 or 3).
fn dot_at(input: &[u8], i: usize) -> Option<usize> {
    match input.get(i..)? {
        [b'.', ..] => Some(1),
        [b'%', b'2', b'e' | b'E', ..] => Some(3),
        _ => None,
    }
}

/// What a dot that follows a slash means, and how many input bytes after it belong to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dot {
    /// Part of a name (`.hidden`, `..a`).
    Name,
    /// `.` : the current directory.
    Current(usize),
    /// `..` : the parent directory.
    Parent(usize),
}

/// Classifies the dot whose text ends at `after`.
fn classify_after_dot(input: &[u8], after: usize) -> Dot {
    match input.get(after) {
        None => return Dot::Current(0),
        Some(&b) if is_slash(b) => return Dot::Current(1),
        Some(_) => {}
    }
    if let Some(second) = dot_at(input, after) {
        match input.get(after + second) {
            None => return Dot::Parent(second),
            Some(&b) if is_slash(b) => return Dot::Parent(second + 1),
            Some(_) => {}
        }
    }
    Dot::Name
}

/// Drops the last segment of `out`, which ends with `/`, keeping its leading `/`; never
/// goes above the root.
fn back_up_to_previous_slash(out: &mut Vec<u8>) {
    let Some(mut i) = out.len().checked_sub(1) else {
        return;
    };
    if i == 0 {
        return;
    }
    i -= 1;
    while i > 0 && out[i] != b'/' {
        i -= 1;
    }
    out.truncate(i + 1);
}

/// After an escape was decoded within two bytes of an earlier `%` that started no escape:
/// if that `%` now starts a valid escape (`%%30%30` would read `%00`), it is written `%25`,
/// so that normalizing cannot produce an escape the client did not send. `next` is the
/// input position after the decoded escape.
fn escape_nested_percent(input: &[u8], next: usize, percent: usize, out: &mut Vec<u8>) {
    let len = out.len();
    let appended = percent + 2 == len;
    if appended {
        // `%c` so far: look at the next input byte too.
        match input.get(next) {
            Some(&b) if b < 0x80 => out.push(b),
            _ => return,
        }
    }
    let forms_escape = out.len() == percent + 3
        && out[percent] == b'%'
        && hex(out[percent + 1]).is_some()
        && hex(out[percent + 2]).is_some();
    out.truncate(len);
    if forms_escape {
        out.splice(percent + 1..percent + 1, *b"25");
    }
}

/// Step 3: the canonicalizer's path rules on a path that starts with `/`.
fn canonicalize(input: &[u8]) -> Result<Vec<u8>, NormalizeError> {
    let mut out: Vec<u8> = Vec::with_capacity(input.len() + 8);
    // Where the last `%` that started no escape was written.
    let mut stray_percent: Option<usize> = None;
    let mut i = 0;
    while i < input.len() {
        if let Some(dot_len) = dot_at(input, i) {
            if out.last() == Some(&b'/') {
                match classify_after_dot(input, i + dot_len) {
                    Dot::Name => {
                        out.push(b'.');
                        i += dot_len;
                    }
                    Dot::Current(consumed) => i += dot_len + consumed,
                    Dot::Parent(consumed) => {
                        back_up_to_previous_slash(&mut out);
                        // A stray `%` in the dropped segment is gone with it.
                        stray_percent = stray_percent.filter(|p| *p < out.len());
                        i += dot_len + consumed;
                    }
                }
            } else {
                out.push(b'.');
                i += dot_len;
            }
            continue;
        }
        match input[i] {
            b'\\' => {
                out.push(b'/');
                i += 1;
            }
            b'%' => match decode_escape(input, i) {
                Some(0) => return Err(NormalizeError::Nul),
                Some(v) if is_unreserved(v) => {
                    out.push(v);
                    if let Some(p) = stray_percent.filter(|p| p + 3 >= out.len()) {
                        escape_nested_percent(input, i + 3, p, &mut out);
                    }
                    i += 3;
                }
                Some(_) => {
                    // Kept exactly as written, hex case included.
                    out.extend_from_slice(&input[i..i + 3]);
                    i += 3;
                }
                None => {
                    stray_percent = Some(out.len());
                    out.push(b'%');
                    i += 1;
                }
            },
            0 => return Err(NormalizeError::Nul),
            b if must_escape(b) => {
                out.push(b'%');
                out.extend_from_slice(format!("{b:02X}").as_bytes());
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    Ok(out)
}

/// Step 4, as Envoy's `PathUtil::mergeSlashes` does when the path has a `//`: a leading
/// `/`, the non-empty segments joined by `/`, a trailing `/`. So a path of slashes only
/// becomes `//`, not `/` (observed on Envoy 1.40).
fn merge_slashes(out: &mut Vec<u8>) {
    if !out.windows(2).any(|w| w == b"//") {
        return;
    }
    let only_slashes = out.iter().all(|b| *b == b'/');
    out.dedup_by(|a, b| *a == b'/' && *b == b'/');
    if only_slashes {
        out.push(b'/');
    }
}

#[cfg(test)]
mod tests;
