//! RE2-style regexes as Envoy's `safe_regex` runs them: the pattern must match the whole
//! value, `\d`, `\w`, `\s` and `\b` are ASCII as in RE2, and compiled size is bounded.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::error::CompileError;

/// Largest compiled program accepted for one user-supplied regex, in bytes. Patterns over
/// it are a [`CompileError::Regex`] at load time, never a slow match at request time.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A compiled, fully anchored regex. Compared and hashed by its source pattern.
#[derive(Clone)]
pub struct FullRegex {
    source: Arc<str>,
    re: regex::bytes::Regex,
}

impl FullRegex {
    /// Compiles `pattern` so that it must match an entire value.
    pub fn new(pattern: &str) -> Result<Self, CompileError> {
        let rewritten = re2_compat(pattern).map_err(|e| CompileError::Regex {
            pattern: pattern.to_owned(),
            reason: e,
        })?;
        let re = regex::bytes::RegexBuilder::new(&format!("^(?:{rewritten})$"))
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(2 * REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| CompileError::Regex {
                pattern: pattern.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(FullRegex {
            source: pattern.into(),
            re,
        })
    }

    /// Whether the whole of `value` matches.
    pub fn is_full_match(&self, value: &[u8]) -> bool {
        self.re.is_match(value)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
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
