//! Simple regexes decided by byte checks instead of the regex engine: a full match of an
//! alternation (at most [`MAX_BRANCHES`] after distributing inner alternations) of
//! sequences of literals and repeated character classes, such as `/r3/users/[0-9]+`,
//! `^/api/.*`, `GET|POST`, `[a-z]{2,8}`, `/api/[^/]+/items` or `alpha(:80)?` (an optional
//! group is the alternation of nothing and the group).
//!
//! Compiled from the same syntax tree the regex engine compiles (the anchored,
//! RE2-rewritten pattern, parsed with the engine's settings: Unicode on, UTF-8 not
//! required), so both give the same answer on every value; a pattern outside this shape,
//! or where matching left to right could be wrong, is left to the engine. Each sequence is
//! matched left to right in one pass, each repetition taking as many bytes as it can: that
//! is exact only when what follows a repetition of variable length cannot start with a
//! byte the repetition takes, which compilation checks (`[a-z]+[0-9]` is accepted,
//! `[a-z]+b` is not).
//!
//! Classes of ASCII characters (and `(?-u:...)` byte classes) are byte sets. A Unicode
//! class that holds every non-ASCII character (`.`, `[^/]`) takes one character at a time:
//! an ASCII byte of its set, or a whole valid UTF-8 sequence, as the engine's UTF-8
//! automaton does; other Unicode classes are left to the engine.

use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// The most sequences a pattern may expand to (`(a|b)(c|d)` is four).
const MAX_BRANCHES: usize = 16;

/// The most items in one sequence.
const MAX_ITEMS: usize = 32;

/// A pattern decided by byte checks (see the module documentation).
#[derive(Debug)]
pub(crate) struct ByteCheck {
    branches: Box<[Seq]>,
}

#[derive(Debug)]
struct Seq {
    items: Box<[Item]>,
}

/// A set of bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ByteSet([u64; 4]);

impl ByteSet {
    #[inline]
    fn has(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] >> (b & 63) & 1 == 1
    }

    fn add_range(&mut self, lo: u8, hi: u8) {
        for b in lo..=hi {
            self.0[usize::from(b >> 6)] |= 1 << (b & 63);
        }
    }

    fn disjoint(&self, other: &ByteSet) -> bool {
        self.0.iter().zip(other.0).all(|(a, b)| a & b == 0)
    }

    fn non_ascii() -> ByteSet {
        let mut s = ByteSet::default();
        s.add_range(0x80, 0xFF);
        s
    }

    fn union(mut self, other: &ByteSet) -> ByteSet {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
        self
    }
}

#[derive(Debug)]
enum Item {
    /// These bytes.
    Lit(Box<[u8]>),
    /// `min..=max` bytes of the set, as many as there are.
    Bytes { set: ByteSet, min: u32, max: u32 },
    /// `min..=max` characters, each an ASCII byte of `ascii` or a valid UTF-8 encoded
    /// non-ASCII character, as many as there are.
    Utf8 { ascii: ByteSet, min: u32, max: u32 },
}

impl Item {
    /// The fewest bytes the item takes (zero only for a repetition that may be empty).
    fn min(&self) -> u32 {
        match self {
            Item::Lit(l) => u32::from(!l.is_empty()),
            Item::Bytes { min, .. } | Item::Utf8 { min, .. } => *min,
        }
    }

    fn variable(&self) -> bool {
        match self {
            Item::Lit(_) => false,
            Item::Bytes { min, max, .. } | Item::Utf8 { min, max, .. } => min != max,
        }
    }

    /// The bytes a match of the item can start with.
    fn first(&self) -> ByteSet {
        match self {
            Item::Lit(l) => {
                let mut s = ByteSet::default();
                if let Some(b) = l.first() {
                    s.add_range(*b, *b);
                }
                s
            }
            Item::Bytes { set, .. } => *set,
            Item::Utf8 { ascii, .. } => ascii.union(&ByteSet::non_ascii()),
        }
    }
}

impl ByteCheck {
    /// The byte checks of the syntax tree of an anchored pattern (`^(?:...)$`), or `None`
    /// when the pattern is not of the simple shape.
    pub(crate) fn of(hir: &Hir) -> Option<ByteCheck> {
        let branches = expand(hir)?;
        let branches = branches
            .iter()
            .map(|leaves| Seq::of(leaves))
            .collect::<Option<Box<[Seq]>>>()?;
        Some(ByteCheck { branches })
    }

    /// Whether the whole of `value` matches.
    #[inline]
    pub(crate) fn matches(&self, value: &[u8]) -> bool {
        self.branches.iter().any(|s| s.matches(value))
    }
}

/// The alternatives of `hir` as sequences of leaves (literals, classes, repetitions and
/// assertions), inner alternations distributed; `None` past [`MAX_BRANCHES`].
fn expand(hir: &Hir) -> Option<Vec<Vec<&Hir>>> {
    Some(match hir.kind() {
        HirKind::Empty => vec![Vec::new()],
        // `x?` of more than one character is the alternation of nothing and `x` (for
        // whether a value matches in full, which of the two is preferred does not matter).
        HirKind::Repetition(r) if r.min == 0 && r.max == Some(1) && !single(&r.sub) => {
            let mut out = vec![Vec::new()];
            out.extend(expand(&r.sub)?);
            if out.len() > MAX_BRANCHES {
                return None;
            }
            out
        }
        HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) | HirKind::Repetition(_) => {
            vec![vec![hir]]
        }
        HirKind::Capture(c) => expand(&c.sub)?,
        HirKind::Concat(subs) => {
            let mut out: Vec<Vec<&Hir>> = vec![Vec::new()];
            for sub in subs {
                let alternatives = expand(sub)?;
                if out.len() * alternatives.len() > MAX_BRANCHES {
                    return None;
                }
                let mut next = Vec::with_capacity(out.len() * alternatives.len());
                for head in &out {
                    for tail in &alternatives {
                        next.push(head.iter().chain(tail).copied().collect());
                    }
                }
                out = next;
            }
            out
        }
        HirKind::Alternation(subs) => {
            let mut out = Vec::new();
            for sub in subs {
                out.extend(expand(sub)?);
                if out.len() > MAX_BRANCHES {
                    return None;
                }
            }
            out
        }
    })
}

/// Whether `hir` is one class or one byte (what a repetition item repeats).
fn single(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Capture(c) => single(&c.sub),
        HirKind::Class(_) => true,
        HirKind::Literal(l) => l.0.len() == 1,
        _ => false,
    }
}

/// What a class is as items see it: a byte set (ASCII or byte classes), or the ASCII part
/// of a Unicode class that holds every non-ASCII character; `None` for other classes.
fn class(c: &Class) -> Option<(ByteSet, bool)> {
    let mut set = ByteSet::default();
    match c {
        Class::Bytes(b) => {
            for r in b.ranges() {
                set.add_range(r.start(), r.end());
            }
            Some((set, false))
        }
        Class::Unicode(u) => {
            // The non-ASCII characters must be all of them or none (surrogates are not
            // characters: a gap there is no gap).
            let mut next = 0x80u32;
            let mut any_non_ascii = false;
            for r in u.ranges() {
                let (start, end) = (u32::from(r.start()), u32::from(r.end()));
                if start < 0x80 {
                    let hi = end.min(0x7F) as u8;
                    set.add_range(start as u8, hi);
                }
                if end >= 0x80 {
                    any_non_ascii = true;
                    let start = start.max(0x80);
                    if start != next && !(next == 0xD800 && start == 0xE000) {
                        return None;
                    }
                    next = end + 1;
                }
            }
            match (any_non_ascii, next) {
                (false, _) => Some((set, false)),
                (true, 0x11_0000) => Some((set, true)),
                (true, _) => None,
            }
        }
    }
}

impl Seq {
    fn of(leaves: &[&Hir]) -> Option<Seq> {
        let mut items: Vec<Item> = Vec::new();
        let mut ended = false;
        for leaf in leaves {
            // Assertions: the start only before anything, the end only after everything
            // (where they always hold); anywhere else, the engine decides.
            if let HirKind::Look(look) = leaf.kind() {
                match look {
                    Look::Start if items.is_empty() => continue,
                    Look::End => {
                        ended = true;
                        continue;
                    }
                    _ => return None,
                }
            }
            if ended {
                return None;
            }
            let item = match leaf.kind() {
                HirKind::Literal(l) => Item::Lit(l.0.clone()),
                HirKind::Class(c) => one(c, 1, 1)?,
                HirKind::Repetition(r) => {
                    let max = r.max.unwrap_or(u32::MAX);
                    if max == 0 {
                        continue;
                    }
                    let mut sub = &*r.sub;
                    while let HirKind::Capture(c) = sub.kind() {
                        sub = &c.sub;
                    }
                    if !single(sub) {
                        return None;
                    }
                    match sub.kind() {
                        HirKind::Class(c) => one(c, r.min, max)?,
                        HirKind::Literal(l) if l.0.len() == 1 => {
                            let mut set = ByteSet::default();
                            set.add_range(l.0[0], l.0[0]);
                            Item::Bytes {
                                set,
                                min: r.min,
                                max,
                            }
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            };
            match (items.last_mut(), item) {
                (Some(Item::Lit(a)), Item::Lit(b)) => {
                    let mut joined = a.to_vec();
                    joined.extend_from_slice(&b);
                    *a = joined.into();
                }
                (_, item) => items.push(item),
            }
            if items.len() > MAX_ITEMS {
                return None;
            }
        }
        // Taking as much as possible is exact only when nothing that may come next can
        // start with a byte the repetition takes.
        for (i, item) in items.iter().enumerate() {
            if !item.variable() {
                continue;
            }
            let taken = item.first();
            for next in &items[i + 1..] {
                if !next.first().disjoint(&taken) {
                    return None;
                }
                if next.min() > 0 {
                    break;
                }
            }
        }
        Some(Seq {
            items: items.into(),
        })
    }

    #[inline]
    fn matches(&self, value: &[u8]) -> bool {
        let mut at = 0;
        for item in &*self.items {
            let rest = &value[at..];
            match item {
                Item::Lit(l) => {
                    if rest.len() < l.len() || !crate::program::same(&rest[..l.len()], l) {
                        return false;
                    }
                    at += l.len();
                }
                Item::Bytes { set, min, max } => {
                    let cap = rest.len().min(*max as usize);
                    let n = rest[..cap].iter().position(|b| !set.has(*b)).unwrap_or(cap);
                    if n < *min as usize {
                        return false;
                    }
                    at += n;
                }
                Item::Utf8 { ascii, min, max } => {
                    let (bytes, chars) = utf8_run(rest, ascii, *max);
                    if chars < *min {
                        return false;
                    }
                    at += bytes;
                }
            }
        }
        at == value.len()
    }
}

/// The item of a class repeated `min..=max` times.
fn one(c: &Class, min: u32, max: u32) -> Option<Item> {
    let (set, utf8) = class(c)?;
    Some(if utf8 {
        Item::Utf8 {
            ascii: set,
            min,
            max,
        }
    } else {
        Item::Bytes { set, min, max }
    })
}

/// The longest start of `s` of at most `max` characters, each an ASCII byte of `ascii` or
/// a valid UTF-8 encoded non-ASCII character: its length in bytes and in characters.
#[inline]
fn utf8_run(s: &[u8], ascii: &ByteSet, max: u32) -> (usize, u32) {
    let (mut at, mut chars) = (0, 0u32);
    while chars < max && at < s.len() {
        let b = s[at];
        let len = match b {
            0x00..=0x7F if ascii.has(b) => 1,
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => break,
        };
        if len > 1
            && s.get(at..at + len)
                .is_none_or(|c| std::str::from_utf8(c).is_err())
        {
            break;
        }
        at += len;
        chars += 1;
    }
    (at, chars)
}
