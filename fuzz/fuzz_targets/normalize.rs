//! Path normalization under every mode, against a reference written here from RFC 3986
//! section 5.2.4 and the rules documented in `mesh-match/src/normalize.rs` (SPEC section 3
//! and 9, and Envoy 1.40 as measured in `mesh-match/tests/data/envoy-paths.tsv`).
//!
//! Properties: no panic; the result equals the reference's (errors included); normalizing
//! the result again gives the result (idempotence) when the path has no `;` (Envoy turns
//! `%2e%2e;` into `..;`, which a second pass shortens); for every mode but NONE the result
//! starts with `/` and has no `.` or `..` segment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_match::{NormalizeError, PathNormalization, normalize};

const MODES: [PathNormalization; 4] = [
    PathNormalization::None,
    PathNormalization::Base,
    PathNormalization::MergeSlashes,
    PathNormalization::DecodeAndMergeSlashes,
];

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// RFC 3986 section 2.3.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// What the URL canonicalizer escapes in a path: controls, space, DEL, non-ASCII, and
/// `"` `#` `<` `>` `?` `^` `` ` `` `{` `|` `}`.
fn escaped(b: u8) -> bool {
    !(0x21..0x7f).contains(&b) || b"\"#<>?^`{|}".contains(&b)
}

/// RFC 3986 section 5.2.4, literally: an input buffer consumed from the left into an
/// output buffer (the input buffer is a slice, so that the loop stays linear).
fn remove_dot_segments(path: &str) -> String {
    let mut input: &str = path;
    let mut output = String::with_capacity(path.len());
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            // A
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            // A
            input = rest;
        } else if input.starts_with("/./") {
            // B: "/./" becomes "/".
            input = &input[2..];
        } else if input == "/." {
            // B
            input = "/";
        } else if input.starts_with("/../") || input == "/.." {
            // C: "/../" becomes "/", and the last segment of the output goes with its "/".
            input = if input == "/.." { "/" } else { &input[3..] };
            match output.rfind('/') {
                Some(i) => output.truncate(i),
                None => output.clear(),
            }
        } else if input == "." || input == ".." {
            // D
            input = "";
        } else {
            // E: the first segment, with its leading "/", moves to the output.
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            output.push_str(&input[..end]);
            input = &input[end..];
        }
    }
    output
}

/// Envoy's `PathUtil::mergeSlashes`, literally: when the path has `//`, a leading `/` (if
/// it had one), the non-empty segments joined with `/`, a trailing `/` (if it had one).
fn merge_slashes(path: &str) -> String {
    if !path.contains("//") {
        return path.to_owned();
    }
    let prefix = if path.starts_with('/') { "/" } else { "" };
    let suffix = if path.ends_with('/') { "/" } else { "" };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    format!("{prefix}{}{suffix}", segments.join("/"))
}

fn reference(path: &str, mode: PathNormalization) -> Result<String, NormalizeError> {
    if path.contains('#') {
        return Err(NormalizeError::Fragment);
    }
    if mode == PathNormalization::None {
        return Ok(path.to_owned());
    }
    if !path.starts_with('/') {
        return Err(NormalizeError::NotAbsolute);
    }
    let decode_slashes = mode == PathNormalization::DecodeAndMergeSlashes;
    let merge = mode != PathNormalization::Base;

    // 1. `DECODE_AND_MERGE_SLASHES`: %2F and %5C (any case) to `/` and `\` first.
    let b = path.as_bytes();
    let mut decoded = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if decode_slashes && b[i] == b'%' && i + 2 < b.len() {
            let esc = &b[i + 1..i + 3];
            if esc.eq_ignore_ascii_case(b"2f") {
                decoded.push(b'/');
                i += 3;
                continue;
            }
            if esc.eq_ignore_ascii_case(b"5c") {
                decoded.push(b'\\');
                i += 3;
                continue;
            }
        }
        decoded.push(b[i]);
        i += 1;
    }

    // 2. Path parameters of literal dot segments go: `..;x` is `..`, `.;` is `.`.
    let decoded: Vec<u8> = decoded
        .split(|b| *b == b'/')
        .map(|seg| match seg.iter().position(|b| *b == b';') {
            Some(p) if &seg[..p] == b"." || &seg[..p] == b".." => seg[..p].to_vec(),
            _ => seg.to_vec(),
        })
        .collect::<Vec<_>>()
        .join(&b'/');

    // 3. RFC 3986 normalization as the canonicalizer does it: `\` is `/`, unreserved escapes
    //    decoded, other escapes kept as written, bytes invalid in a path escaped; `%00` and
    //    NUL are errors; a `%` that starts no escape stays, and is written `%25` when the two
    //    bytes after it (one of them decoded) now read as hex.
    let mut canon = String::with_capacity(decoded.len());
    let mut stray: Option<usize> = None;
    let mut i = 0;
    while i < decoded.len() {
        let c = decoded[i];
        match c {
            0 => return Err(NormalizeError::Nul),
            b'%' => {
                let (Some(h), Some(l)) = (
                    decoded.get(i + 1).copied().and_then(hex),
                    decoded.get(i + 2).copied().and_then(hex),
                ) else {
                    stray = Some(canon.len());
                    canon.push('%');
                    i += 1;
                    continue;
                };
                let v = h * 16 + l;
                if v == 0 {
                    return Err(NormalizeError::Nul);
                }
                if unreserved(v) {
                    canon.push(v as char);
                } else {
                    canon.push_str(std::str::from_utf8(&decoded[i..i + 3]).unwrap());
                    stray = None;
                }
                i += 3;
            }
            b'\\' => {
                canon.push('/');
                i += 1;
            }
            c if escaped(c) => {
                canon.push_str(&format!("%{c:02X}"));
                i += 1;
                stray = None;
            }
            c => {
                canon.push(c as char);
                i += 1;
            }
        }
        if let Some(p) = stray {
            let b = canon.as_bytes();
            if b.len() >= p + 3 {
                if hex(b[p + 1]).is_some() && hex(b[p + 2]).is_some() {
                    canon.replace_range(p..p + 1, "%25");
                }
                stray = None;
            }
        }
    }
    // 4. Dot segments (on the canonical text, where `.` and `%2e` are both dots).
    let mut out = remove_dot_segments(&canon);
    if out.is_empty() {
        out.push('/');
    }
    // 5. Merge slashes.
    if merge {
        out = merge_slashes(&out);
    }
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    // Mostly absolute paths; sometimes the raw text, to reach `NotAbsolute`.
    let path = if selector & 0x80 == 0 {
        format!("/{text}")
    } else {
        text.into_owned()
    };
    for mode in MODES {
        let got = normalize(&path, mode);
        let want = reference(&path, mode);
        assert_eq!(
            got.as_deref().map_err(Clone::clone),
            want.as_deref().map_err(Clone::clone),
            "{path:?} under {mode}: normalize and the reference disagree"
        );
        let Ok(out) = got else { continue };
        let again = normalize(&out, mode).expect("a normalized path normalizes again");
        if !path.contains(';') {
            assert_eq!(again, out, "{path:?} under {mode}: not idempotent");
        }
        if mode != PathNormalization::None {
            assert!(out.starts_with('/'), "{path:?} under {mode} gave {out:?}");
            for seg in out.split('/') {
                assert!(
                    seg != "." && seg != "..",
                    "{path:?} under {mode} gave {out:?} with a dot segment"
                );
            }
        }
    }
});
