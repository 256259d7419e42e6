//! Where go-yaml v2's scanner (the one under sigs.k8s.io/yaml, so under `kubectl` and
//! `istioctl`) cuts the text differently from yaml-rust2's YAML 1.2 scanner. A first pass
//! over yaml-rust2's tokens finds those places; [`super::parse`] then reads the text as go-yaml
//! does:
//!
//! - In a flow collection, a `:` directly after a plain scalar and directly before `,`, `]`
//!   or `}` is part of the scalar for go-yaml (it ends a plain scalar only before a blank):
//!   `[1.2.3.4, 2001:db8::]` is two strings. YAML 1.2 reads a mapping `{2001:db8:: null}`.
//!   Such a colon is handed to the parser as [`HIDDEN_COLON`] and turned back into `:` in the
//!   scalar's text.
//! - Before `[` or `{` that colon ends the scalar and go-yaml then fails (`did not find
//!   expected ',' or ']'`); a plain scalar that starts with `:` in a flow collection is a
//!   value indicator for go-yaml (`[::1]` fails: `did not find expected node content`); a `?`
//!   inside one ends it and starts a key. These are errors here too.
//! - Anchor and alias names are letters, digits, `-` and `_`.
//! - `%YAML` other than 1.1 is an incompatible document.
//! - In a double-quoted scalar, `\/` is not an escape (YAML 1.2 added it). A stream that
//!   starts with `{` is JSON for Kubernetes (its reader checks the first character), where
//!   `\/` is an escape.

use yaml_rust2::scanner::{Scanner, TScalarStyle, TokenType};

/// Stands for a colon that go-yaml keeps inside a plain scalar while yaml-rust2 parses it.
/// U+FFFF is not a YAML printable character, so the loader never passes it in.
pub(super) const HIDDEN_COLON: char = '\u{FFFF}';

/// A place where go-yaml refuses what a YAML 1.2 reader accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Refusal {
    /// Character index of the token at fault (events from there on are not used).
    pub(super) index: usize,
    /// 1-based line.
    pub(super) line: usize,
    /// 1-based column.
    pub(super) column: usize,
    /// What go-yaml does there.
    pub(super) message: String,
}

/// What the first pass found.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// Character indexes of colons to hand to the parser as [`HIDDEN_COLON`], ascending.
    pub(super) colons: Vec<usize>,
    /// The first place go-yaml refuses, if any.
    pub(super) refusal: Option<Refusal>,
}

/// Reads `text` with yaml-rust2's scanner and finds where go-yaml v2 differs. A scanner error
/// ends the pass quietly: the parse that follows reports it.
pub(super) fn plan(text: &str) -> Plan {
    let json = is_json(text);
    let mut plan = Plan::default();
    let mut cursor = Cursor::new(text);
    let mut flow_level = 0usize;
    // The previous token, when it was a plain scalar in a flow collection: where it starts
    // (character index, line, column).
    let mut plain_before: Option<(usize, usize, usize)> = None;
    for token in Scanner::new(text.chars()) {
        let mark = token.0;
        let (index, line, column) = (mark.index(), mark.line(), mark.col() + 1);
        let refuse = |message: String| {
            Some(Refusal {
                index,
                line,
                column,
                message,
            })
        };
        let mut plain_now = None;
        let refusal = match &token.1 {
            TokenType::FlowSequenceStart | TokenType::FlowMappingStart => {
                flow_level += 1;
                None
            }
            TokenType::FlowSequenceEnd | TokenType::FlowMappingEnd => {
                flow_level = flow_level.saturating_sub(1);
                None
            }
            TokenType::VersionDirective(major, minor) if (*major, *minor) != (1, 1) => refuse(
                format!(
                    "%YAML {major}.{minor}: Kubernetes' YAML reader (go-yaml v2) reads YAML 1.1 only (found incompatible YAML document)"
                ),
            ),
            TokenType::Anchor(name) | TokenType::Alias(name)
                if !name
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') =>
            {
                refuse(format!(
                    "anchor name {:?}: Kubernetes' YAML reader (go-yaml v2) allows letters, digits, '-' and '_' only",
                    brief(name)
                ))
            }
            TokenType::Scalar(TScalarStyle::DoubleQuoted, _) if !json => {
                escaped_slash(text, cursor.seek(index)).map(|(l, c)| Refusal {
                    index,
                    line: line + l,
                    column: if l == 0 { column + c } else { c + 1 },
                    message: "\\/ is not an escape in Kubernetes' YAML reader (go-yaml v2: found unknown escape character); write / alone".into(),
                })
            }
            TokenType::Scalar(TScalarStyle::Plain, value) if flow_level > 0 => {
                plain_now = Some((index, line, column));
                if value.starts_with(':') {
                    refuse(format!(
                        "{:?}: in a flow collection Kubernetes' YAML reader (go-yaml v2) reads a leading ':' as a mapping value indicator; quote the scalar",
                        brief(value)
                    ))
                } else if value.contains('?') {
                    refuse(format!(
                        "{:?}: in a flow collection Kubernetes' YAML reader (go-yaml v2) ends a plain scalar at '?' and reads it as a key indicator; quote the scalar",
                        brief(value)
                    ))
                } else {
                    None
                }
            }
            TokenType::Value => match plain_before.take() {
                Some((start, line, column)) if flow_level > 0 => {
                    let byte = cursor.seek(index);
                    let adjacent = text[..byte]
                        .chars()
                        .next_back()
                        .is_some_and(|c| !c.is_whitespace());
                    let mut after = text[byte..].chars();
                    let colon = after.next() == Some(':');
                    match after.next().filter(|_| colon) {
                        Some(',' | ']' | '}') if adjacent => {
                            plan.colons.push(index);
                            None
                        }
                        Some(c @ ('[' | '{')) if adjacent => {
                            let from = cursor.seek(start);
                            Some(Refusal {
                                index: start,
                                line,
                                column,
                                message: format!(
                                    "\"{}:\" directly before '{c}': in a flow collection Kubernetes' YAML reader (go-yaml v2) keeps the ':' in the scalar and then finds no ',' (did not find expected ',' or ']'); put a space after the ':' or quote the scalar",
                                    brief(&text[from..byte])
                                ),
                            })
                        }
                        _ => None,
                    }
                }
                _ => None,
            },
            _ => None,
        };
        if refusal.is_some() {
            plan.refusal = refusal;
            break;
        }
        plain_before = plain_now;
    }
    plan
}

/// Whether Kubernetes reads `text` as JSON: its reader (`YAMLOrJSONDecoder`) looks for a
/// `{` first.
fn is_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// A scalar or name as quoted in a message: its first 40 characters.
fn brief(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// The position (lines after the first, column in the last line) of a `\/` in the
/// double-quoted scalar that starts at byte `start`, if it has one.
fn escaped_slash(text: &str, start: usize) -> Option<(usize, usize)> {
    let mut chars = text[start..].chars();
    if chars.next() != Some('"') {
        return None;
    }
    let (mut line, mut column) = (0, 1);
    while let Some(c) = chars.next() {
        match c {
            '"' => return None,
            '\\' => match chars.next() {
                Some('/') => return Some((line, column)),
                Some('\n') => {
                    line += 1;
                    column = 0;
                    continue;
                }
                Some(_) => column += 1,
                None => return None,
            },
            '\n' => {
                line += 1;
                column = 0;
                continue;
            }
            _ => {}
        }
        column += 1;
    }
    None
}

/// Turns character indexes (yaml-rust2's marks) into byte offsets, moving from the last one.
struct Cursor<'a> {
    text: &'a str,
    chars: usize,
    byte: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor {
            text,
            chars: 0,
            byte: 0,
        }
    }

    /// The byte offset of character `index` (the end of the text past it).
    fn seek(&mut self, index: usize) -> usize {
        while self.chars < index {
            match self.text[self.byte..].chars().next() {
                Some(c) => {
                    self.byte += c.len_utf8();
                    self.chars += 1;
                }
                None => break,
            }
        }
        while self.chars > index {
            match self.text[..self.byte].chars().next_back() {
                Some(c) => {
                    self.byte -= c.len_utf8();
                    self.chars -= 1;
                }
                None => break,
            }
        }
        self.byte
    }
}

/// `text` with the planned colons replaced by [`HIDDEN_COLON`] (a character for a
/// character, so the parser's positions stay those of `text`).
pub(super) fn hide_colons(text: &str, colons: &[usize]) -> String {
    let mut out = String::with_capacity(text.len() + 2 * colons.len());
    let mut next = colons.iter().copied().peekable();
    for (i, c) in text.chars().enumerate() {
        if next.peek() == Some(&i) {
            next.next();
            out.push(HIDDEN_COLON);
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether [`plan`] can find anything in `text`: a quick look at the bytes for what each of
/// its rules needs (a colon before a flow indicator, a colon that may start a scalar, a `?`
/// with a flow collection, an anchor name with other characters, `%YAML`, `\/`). Most
/// files have none, and skip the second pass over the text. JSON (a stream that starts
/// with `{`, which Kubernetes reads as JSON) has no plain scalars but numbers and literals,
/// no anchors and no directives: nothing to find.
pub(super) fn worth_planning(text: &str) -> bool {
    if is_json(text) {
        return false;
    }
    let b = text.as_bytes();
    let flow = b.iter().any(|c| matches!(c, b'[' | b'{'));
    if flow && b.contains(&b'?') {
        return true;
    }
    if text.contains("%YAML") || text.contains("\\/") {
        return true;
    }
    for (i, &c) in b.iter().enumerate() {
        match c {
            b':' => {
                let after = b.get(i + 1).copied();
                if matches!(after, Some(b',' | b']' | b'}' | b'[' | b'{')) {
                    return true;
                }
                let before = if i == 0 { None } else { Some(b[i - 1]) };
                let starts = before.is_none_or(|p| {
                    p.is_ascii_whitespace() || matches!(p, b'[' | b'{' | b',' | b']' | b'}' | b'?')
                });
                if starts && after.is_some_and(|a| !a.is_ascii_whitespace()) {
                    return true;
                }
            }
            // An anchor or alias starts a token: after a blank, `[`, `{` or `,`.
            b'&' | b'*'
                if i == 0
                    || b[i - 1].is_ascii_whitespace()
                    || matches!(b[i - 1], b'[' | b'{' | b',') =>
            {
                let odd = b[i + 1..]
                    .iter()
                    .take_while(|c| {
                        !c.is_ascii_whitespace() && !matches!(c, b',' | b'[' | b']' | b'{' | b'}')
                    })
                    .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_')));
                if odd {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}
