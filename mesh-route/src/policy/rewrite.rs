//! `rewrite`: Envoy's `prefix_rewrite`, `regex_rewrite` and `host_rewrite_literal`.

use std::borrow::Cow;

use mesh_match::HttpMatch;
use mesh_model::virtual_service::HttpRewrite;

/// A compiled `rewrite`.
#[derive(Clone, Debug)]
pub struct Rewrite {
    /// `uri`: replaces the matched prefix, or the whole path for exact and regex matches.
    pub uri: Option<String>,
    /// `uriRegexRewrite`: every match of the pattern in the path is replaced.
    pub uri_regex: Option<(regex::Regex, String)>,
    /// `authority`.
    pub authority: Option<String>,
}

impl PartialEq for Rewrite {
    fn eq(&self, other: &Self) -> bool {
        self.uri == other.uri
            && self.authority == other.authority
            && self.uri_regex.as_ref().map(|(r, s)| (r.as_str(), s))
                == other.uri_regex.as_ref().map(|(r, s)| (r.as_str(), s))
    }
}

impl Eq for Rewrite {}

impl Rewrite {
    /// Compiles a `rewrite`.
    pub fn compile(r: &HttpRewrite) -> Result<Self, mesh_match::CompileError> {
        let uri_regex = match &r.uri_regex_rewrite {
            Some(rr) if !rr.r#match.is_empty() => Some((
                mesh_match::regex::compile_unanchored(&rr.r#match)?,
                re2_replacement(&rr.rewrite),
            )),
            _ => None,
        };
        Ok(Rewrite {
            uri: (!r.uri.is_empty()).then(|| r.uri.clone()),
            uri_regex,
            authority: (!r.authority.is_empty()).then(|| r.authority.clone()),
        })
    }

    /// The path (with query) sent upstream, given the match block that matched (`None` for
    /// a rule without matches, whose implicit match is `prefix: /`).
    pub fn path<'a>(&self, matched: Option<&HttpMatch>, path_and_query: &'a str) -> Cow<'a, str> {
        if let Some(uri) = &self.uri {
            return Cow::Owned(prefix_rewrite(matched, path_and_query, uri));
        }
        if let Some((re, replacement)) = &self.uri_regex {
            let (path, query) = match path_and_query.find('?') {
                Some(i) => (&path_and_query[..i], &path_and_query[i..]),
                None => (path_and_query, ""),
            };
            let new = re.replace_all(path, replacement.as_str());
            return Cow::Owned(format!("{new}{query}"));
        }
        Cow::Borrowed(path_and_query)
    }
}

/// Envoy's `prefix_rewrite` (of a route's `rewrite.uri` or of a redirect's
/// `prefixRewrite`) of `path_and_query`, given the match block that matched (`None` for a
/// rule without matches, whose implicit match is `prefix: /`): with a prefix match, the
/// matched prefix is replaced; with an exact or regex match, the whole path (the query is
/// kept). For a delegated rule the match is the merged one, so a root's `exact: /api` with
/// a delegate's `prefixRewrite: /new` redirects `/api?q=1` to `/new?q=1` (measured with
/// Envoy 1.40; `difftest/tests/decisions.rs`).
pub fn prefix_rewrite(matched: Option<&HttpMatch>, path_and_query: &str, new: &str) -> String {
    if matched.is_some_and(HttpMatch::uri_is_whole_path) {
        let query = path_and_query
            .find('?')
            .map_or("", |i| &path_and_query[i..]);
        return format!("{new}{query}");
    }
    let prefix_len = matched
        .and_then(HttpMatch::uri_prefix)
        .map_or(1, <[u8]>::len);
    let rest = path_and_query
        .get(prefix_len.min(path_and_query.len())..)
        .unwrap_or("");
    format!("{new}{rest}")
}

/// RE2's `\1` references to the regex crate's `${1}`; a literal `$` is escaped.
fn re2_replacement(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(d) if d.is_ascii_digit() => {
                    out.push_str("${");
                    out.push(*d);
                    out.push('}');
                    chars.next();
                }
                Some('\\') => {
                    out.push('\\');
                    chars.next();
                }
                _ => out.push('\\'),
            },
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out
}
