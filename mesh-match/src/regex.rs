//! RE2-style regexes as Envoy's `safe_regex` runs them: the pattern must match the whole
//! value, `\d`, `\w`, `\s` and `\b` are ASCII as in RE2, and compiled size is bounded.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::error::CompileError;

mod bytecheck;

/// Largest compiled program accepted for one user-supplied regex, in bytes. Patterns over
/// it are a [`CompileError::Regex`] at load time, never a slow match at request time.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A compiled, fully anchored regex. Compared and hashed by its source pattern.
///
/// Clones share the compiled program and its per-thread caches (a [`RegexCache`] makes
/// every match of one pattern in a route table such a clone). Before running the regex,
/// [`is_full_match`](Self::is_full_match) rejects values that cannot match from what the
/// pattern requires of every match: a length within its bounds, and one of its literal
/// prefixes (`/r3/users/` for `/r3/users/[0-9]+`), so that a value that fails on its first
/// bytes never reaches the regex engine or its memory.
#[derive(Clone)]
pub struct FullRegex {
    source: Arc<str>,
    compiled: Arc<Compiled>,
}

struct Compiled {
    re: regex::bytes::Regex,
    filter: Prefilter,
    /// The byte checks of a simple pattern, which then decide instead of `re`.
    check: Option<bytecheck::ByteCheck>,
}

/// What every value the pattern matches has: a length in `min_len..=max_len`, and, when
/// the pattern has a small finite set of literal prefixes, one of `prefixes`.
#[derive(Debug, Default)]
struct Prefilter {
    min_len: usize,
    max_len: Option<usize>,
    prefixes: Option<Box<[Box<[u8]>]>>,
}

/// The most literal prefixes a prefilter checks; patterns with more are not prefiltered.
const MAX_PREFIXES: usize = 4;

/// The syntax tree of `pattern` as the byte regex reads it: Unicode on, UTF-8 not
/// required (the settings of `regex::bytes`); `None` when it does not parse.
fn syntax(pattern: &str) -> Option<regex_syntax::hir::Hir> {
    regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()
}

impl Prefilter {
    /// The prefilter of the pattern as compiled (the RE2 rewrite, before anchoring), read
    /// with the same syntax settings as the byte regex: Unicode on, UTF-8 not required.
    /// A pattern the parser reads otherwise gets no prefilter (the regex alone decides).
    fn of(pattern: &str) -> Prefilter {
        use regex_syntax::hir::literal::{ExtractKind, Extractor};
        let Some(hir) = syntax(pattern) else {
            return Prefilter::default();
        };
        let props = hir.properties();
        // Every match starts with one of a finite sequence's literals; more than a few are
        // reduced to what they all start with.
        let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
        let prefixes = match seq.literals() {
            Some(lits)
                if !lits.is_empty()
                    && lits.len() <= MAX_PREFIXES
                    && lits.iter().all(|l| !l.as_bytes().is_empty()) =>
            {
                Some(lits.iter().map(|l| Box::from(l.as_bytes())).collect())
            }
            Some(_) => seq
                .longest_common_prefix()
                .filter(|p| !p.is_empty())
                .map(|p| vec![Box::from(p)].into_boxed_slice()),
            None => None,
        };
        Prefilter {
            min_len: props.minimum_len().unwrap_or(0),
            max_len: props.maximum_len(),
            prefixes,
        }
    }

    /// Whether `value` may match (false only when it certainly does not).
    #[inline]
    fn admits(&self, value: &[u8]) -> bool {
        if value.len() < self.min_len || self.max_len.is_some_and(|m| value.len() > m) {
            return false;
        }
        match &self.prefixes {
            Some(p) => p.iter().any(|l| value.starts_with(l)),
            None => true,
        }
    }
}

impl FullRegex {
    /// Compiles `pattern` so that it must match an entire value.
    pub fn new(pattern: &str) -> Result<Self, CompileError> {
        let rewritten = re2_compat(pattern).map_err(|e| CompileError::Regex {
            pattern: pattern.to_owned(),
            reason: e,
        })?;
        let anchored = format!("^(?:{rewritten})$");
        let re = regex::bytes::RegexBuilder::new(&anchored)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(2 * REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| CompileError::Regex {
                pattern: pattern.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(FullRegex {
            source: pattern.into(),
            compiled: Arc::new(Compiled {
                re,
                filter: Prefilter::of(&rewritten),
                check: syntax(&anchored).and_then(|hir| bytecheck::ByteCheck::of(&hir)),
            }),
        })
    }

    /// Whether the whole of `value` matches: by byte checks for a simple pattern (an
    /// alternation of literals and repeated classes, such as `/r3/users/[0-9]+` or
    /// `^/api/.*`), else by the regex engine after the prefilter.
    #[inline]
    pub fn is_full_match(&self, value: &[u8]) -> bool {
        let c = &*self.compiled;
        match &c.check {
            Some(check) => check.matches(value),
            None => c.filter.admits(value) && c.re.is_match(value),
        }
    }

    /// The same decision without the prefilter and the byte checks: the regex engine alone
    /// (tests compare them).
    #[cfg(test)]
    pub(crate) fn is_full_match_unfiltered(&self, value: &[u8]) -> bool {
        self.compiled.re.is_match(value)
    }

    /// The prefilter and the engine, without the byte checks (tests compare them).
    #[cfg(test)]
    pub(crate) fn is_full_match_engine(&self, value: &[u8]) -> bool {
        self.compiled.filter.admits(value) && self.compiled.re.is_match(value)
    }

    /// Whether byte checks decide this pattern.
    #[cfg(test)]
    pub(crate) fn has_byte_checks(&self) -> bool {
        self.compiled.check.is_some()
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// Compiled regexes by pattern, so that every match of a route table that uses one pattern
/// shares one compiled program and its caches (and the pattern is compiled once).
#[derive(Debug, Default)]
pub struct RegexCache {
    by_pattern: std::collections::HashMap<Arc<str>, FullRegex>,
}

impl RegexCache {
    /// An empty cache.
    pub fn new() -> Self {
        RegexCache::default()
    }

    /// The compiled `pattern`: a clone of the one compiled before, else compiled now.
    pub fn get(&mut self, pattern: &str) -> Result<FullRegex, CompileError> {
        if let Some(r) = self.by_pattern.get(pattern) {
            return Ok(r.clone());
        }
        let r = FullRegex::new(pattern)?;
        self.by_pattern.insert(r.source.clone(), r.clone());
        Ok(r)
    }
}

/// Compiles an RE2-style pattern without anchors, for substitutions (`uriRegexRewrite`),
/// with the same ASCII classes and size limit as [`FullRegex`].
pub fn compile_unanchored(pattern: &str) -> Result<regex::Regex, CompileError> {
    let rewritten = re2_compat(pattern).map_err(|e| CompileError::Regex {
        pattern: pattern.to_owned(),
        reason: e,
    })?;
    regex::RegexBuilder::new(&rewritten)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(2 * REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| CompileError::Regex {
            pattern: pattern.to_owned(),
            reason: e.to_string(),
        })
}

impl fmt::Debug for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compiled")
            .field("filter", &self.filter)
            .field("check", &self.check)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for FullRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FullRegex").field(&self.source).finish()
    }
}

impl PartialEq for FullRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for FullRegex {}

impl Hash for FullRegex {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.source.hash(state);
    }
}

/// Rewrites RE2's ASCII-only Perl classes and word boundaries into their ASCII forms, since
/// Rust's are Unicode-aware: `\d` becomes `[0-9]`, `\w` `[0-9A-Za-z_]`, `\s` `[\t\n\f\r ]`,
/// `\b` `(?-u:\b)`.
pub(crate) fn re2_compat(pattern: &str) -> Result<String, String> {
    use regex_syntax::ast::{AssertionKind, Ast, ClassPerlKind, ClassSetItem, Visitor, visit};
    struct Collect {
        edits: Vec<(usize, usize, String)>,
    }
    fn perl(kind: &ClassPerlKind, negated: bool, in_class: bool) -> String {
        let body = match kind {
            ClassPerlKind::Digit => "0-9",
            ClassPerlKind::Word => "0-9A-Za-z_",
            ClassPerlKind::Space => "\\t\\n\\f\\r ",
        };
        match (negated, in_class) {
            (false, true) => body.to_owned(),
            (false, false) => format!("[{body}]"),
            (true, _) => format!("[^{body}]"),
        }
    }
    impl Visitor for Collect {
        type Output = Vec<(usize, usize, String)>;
        type Err = ();
        fn finish(self) -> Result<Self::Output, ()> {
            Ok(self.edits)
        }
        fn visit_pre(&mut self, ast: &Ast) -> Result<(), ()> {
            match ast {
                Ast::ClassPerl(c) => self.edits.push((
                    c.span.start.offset,
                    c.span.end.offset,
                    perl(&c.kind, c.negated, false),
                )),
                Ast::Assertion(a) => match a.kind {
                    AssertionKind::WordBoundary => self.edits.push((
                        a.span.start.offset,
                        a.span.end.offset,
                        "(?-u:\\b)".into(),
                    )),
                    AssertionKind::NotWordBoundary => self.edits.push((
                        a.span.start.offset,
                        a.span.end.offset,
                        "(?-u:\\B)".into(),
                    )),
                    _ => {}
                },
                _ => {}
            }
            Ok(())
        }
        fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), ()> {
            if let ClassSetItem::Perl(c) = item {
                self.edits.push((
                    c.span.start.offset,
                    c.span.end.offset,
                    perl(&c.kind, c.negated, true),
                ));
            }
            Ok(())
        }
    }
    let ast = regex_syntax::ast::parse::Parser::new()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    let mut edits = visit(&ast, Collect { edits: Vec::new() })
        .map_err(|()| "cannot rewrite regex".to_owned())?;
    if edits.is_empty() {
        return Ok(pattern.to_owned());
    }
    edits.sort_by_key(|e| e.0);
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut at = 0;
    for (start, end, text) in edits {
        if start < at {
            continue;
        }
        out.push_str(&pattern[at..start]);
        out.push_str(&text);
        at = end;
    }
    out.push_str(&pattern[at..]);
    Ok(out)
}

#[cfg(test)]
mod tests;
