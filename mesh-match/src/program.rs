//! Match blocks laid out for matching many of them in a row: every request-time condition
//! is a fixed-size step, the steps of consecutive blocks are consecutive, and every literal
//! they compare with is in one byte array in the same order. A route table keeps the blocks
//! of one virtual host together, so deciding a request reads a few contiguous lines of
//! memory rather than following pointers per condition; the conditions are evaluated here
//! only (an [`HttpMatch`] checks its own block with the same code).
//!
//! Regexes keep their [`FullRegex`] prefilter: a literal prefix and length bounds are
//! checked before the regex engine runs.

use std::ops::Range;

use http::{HeaderName, HeaderValue};

use crate::error::CompileError;
use crate::matcher::{Failed, HeaderTarget, HttpMatch, UriKind};
use crate::regex::FullRegex;
use crate::request::RequestView;
use crate::string::StringMatcher;

/// A range of [`MatchProgram::bytes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Lit {
    start: u32,
    len: u32,
}

/// The field of the match block a step comes from (what [`Failed`] names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Field {
    Uri,
    Scheme,
    Method,
    Authority,
    Port,
    Header,
    Query,
}

/// What a step reads from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Value {
    /// The path without the query.
    Path,
    /// `:path`, query included.
    PathAndQuery,
    Scheme,
    Method,
    Authority,
    /// Holds when the request port is this one (the step's test is not used).
    Port(u16),
    /// A request header, by its index in [`MatchProgram::names`], with Envoy's header
    /// semantics (see `header_holds`).
    Header(u32),
    /// The first query parameter of this name; absent fails.
    Query(Lit),
}

/// How a step compares the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Test {
    Present,
    Exact(Lit),
    Prefix(Lit),
    /// ASCII case-insensitive (`ignoreUriCase`).
    ExactNoCase(Lit),
    PrefixNoCase(Lit),
    /// Envoy's `path_separated_prefix`: equal, or followed by `/`.
    SeparatedPrefix(Lit),
    /// A full match of the regex at this index of [`MatchProgram::regexes`].
    Regex(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Step {
    field: Field,
    value: Value,
    test: Test,
    /// `withoutHeaders`: the step holds when the condition does not.
    negate: bool,
    /// Envoy joins the header's repeated values into one (see [`crate::inline`]).
    inline: bool,
    /// The header is `x-forwarded-proto`, which Envoy sets to the connection's scheme when
    /// the request has none.
    forwarded_proto: bool,
}

/// Match blocks as consecutive fixed-size steps over one pool of literals (see the module
/// documentation). Blocks are numbered from 0 in the order they were pushed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MatchProgram {
    steps: Vec<Step>,
    /// Block `i` is `steps[starts[i]..starts[i + 1]]`.
    starts: Vec<u32>,
    bytes: Vec<u8>,
    regexes: Vec<FullRegex>,
    names: Vec<HeaderName>,
}

impl MatchProgram {
    /// An empty program.
    pub fn new() -> Self {
        MatchProgram {
            starts: vec![0],
            ..Default::default()
        }
    }

    /// One block without conditions (the program of a match block without any).
    pub(crate) fn unconditional() -> Self {
        MatchProgram {
            starts: vec![0, 0],
            ..Default::default()
        }
    }

    /// The number of blocks.
    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Whether there is no block.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the conditions of `m` as the next block (`None`: a block without
    /// conditions, which every request satisfies), and returns its number.
    pub fn push(&mut self, m: Option<&HttpMatch>) -> Result<usize, CompileError> {
        if self.starts.is_empty() {
            self.starts.push(0);
        }
        if let Some(m) = m {
            let from = &m.program;
            for step in &from.steps {
                let value = match step.value {
                    Value::Header(i) => Value::Header(self.name(&from.names[i as usize])?),
                    Value::Query(l) => Value::Query(self.add_lit(from.lit(l))?),
                    other => other,
                };
                let test = match step.test {
                    Test::Present => Test::Present,
                    Test::Exact(l) => Test::Exact(self.add_lit(from.lit(l))?),
                    Test::Prefix(l) => Test::Prefix(self.add_lit(from.lit(l))?),
                    Test::ExactNoCase(l) => Test::ExactNoCase(self.add_lit(from.lit(l))?),
                    Test::PrefixNoCase(l) => Test::PrefixNoCase(self.add_lit(from.lit(l))?),
                    Test::SeparatedPrefix(l) => Test::SeparatedPrefix(self.add_lit(from.lit(l))?),
                    Test::Regex(i) => Test::Regex(self.regex(&from.regexes[i as usize])?),
                };
                self.steps.push(Step {
                    value,
                    test,
                    ..*step
                });
            }
        }
        self.starts.push(index(self.steps.len())?);
        Ok(self.len() - 1)
    }

    /// The number of steps (conditions) of all blocks: the first step of the next block
    /// pushed.
    pub fn steps_len(&self) -> usize {
        self.steps.len()
    }

    /// The number of literal bytes of all blocks: where the next block's literals start.
    pub fn literals_len(&self) -> usize {
        self.bytes.len()
    }

    /// Starts reading step `step` and literal byte `lit` into the cache, without waiting
    /// for them (the loads' values are not used): when the caller knows where the blocks
    /// it is about to match are (see [`Self::steps_len`] and [`Self::literals_len`]
    /// before they were pushed), these cache misses then overlap with the caller's other
    /// reads instead of following them. Out-of-range places are ignored. A hint: the
    /// answer of every method is the same without it.
    #[inline]
    pub fn prefetch(&self, step: usize, lit: usize) {
        let s = self.steps.get(step).map_or(0, |s| u64::from(s.negate));
        let b = self.bytes.get(lit).map_or(0, |b| u64::from(*b));
        std::hint::black_box(s ^ b);
    }

    /// Whether `req` satisfies every condition of block `block`.
    #[inline]
    pub fn matches(&self, block: usize, req: &RequestView<'_>) -> bool {
        let mut seen = Lookups::new(req);
        self.steps(block)
            .iter()
            .all(|s| self.holds(s, req, &mut seen))
    }

    /// The first block of `blocks` that `req` satisfies. Each header name is looked up in
    /// the request once, however many blocks read it.
    ///
    /// The blocks' bounds are read once each (one slice of `starts` for the range), and
    /// the steps read the request only for the fields they test: the path and the headers
    /// here, the rarer fields one call away (`holds_other`), so that a walk
    /// over header and URI conditions sets up nothing else.
    #[inline]
    pub fn first_match(&self, blocks: Range<usize>, req: &RequestView<'_>) -> Option<usize> {
        let starts = self.starts.get(blocks.start..blocks.end.checked_add(1)?)?;
        let (first, ends) = starts.split_first()?;
        let mut seen = Lookups::new(req);
        let mut from = *first as usize;
        for (k, end) in ends.iter().enumerate() {
            let end = *end as usize;
            let steps = self.steps.get(from..end)?;
            if steps.iter().all(|s| self.holds(s, req, &mut seen)) {
                return Some(blocks.start + k);
            }
            from = end;
        }
        None
    }

    /// The first of the consecutive steps `steps` that `req` satisfies, each step taken as
    /// a block of its own. Over a run of blocks of one condition each, whose steps are
    /// `steps` (see [`Self::steps_len`] before and after they were pushed), the answer is
    /// the step of the block [`Self::first_match`] gives, without reading the blocks'
    /// bounds. A header name read by consecutive blocks is looked up once (the usual case:
    /// blocks of one condition that test one header for several values).
    #[inline]
    pub fn first_holding_step(&self, steps: Range<usize>, req: &RequestView<'_>) -> Option<usize> {
        let run = self.steps.get(steps.clone())?;
        let mut seen = Last::new(req);
        run.iter()
            .position(|s| self.holds(s, req, &mut seen))
            .map(|i| steps.start + i)
    }

    /// The first condition of block `block` that `req` fails, in the block's order (uri,
    /// scheme, method, authority, port, headers, query parameters).
    pub(crate) fn check(&self, block: usize, req: &RequestView<'_>) -> Result<(), Failed> {
        let (mut header, mut query) = (0, 0);
        let mut seen = Lookups::new(req);
        for s in self.steps(block) {
            let failed = match s.field {
                Field::Uri => Failed::Uri,
                Field::Scheme => Failed::Scheme,
                Field::Method => Failed::Method,
                Field::Authority => Failed::Authority,
                Field::Port => Failed::Port,
                Field::Header => {
                    header += 1;
                    Failed::Header(header - 1)
                }
                Field::Query => {
                    query += 1;
                    Failed::Query(query - 1)
                }
            };
            if !self.holds(s, req, &mut seen) {
                return Err(failed);
            }
        }
        Ok(())
    }

    /// The program of one match block's conditions: the block's own (see
    /// [`HttpMatch::check`]).
    pub(crate) fn of(m: &HttpMatch) -> Result<MatchProgram, CompileError> {
        let mut p = MatchProgram::new();
        if let Some(u) = &m.uri {
            let value = match u.kind {
                UriKind::Prefix => Value::PathAndQuery,
                UriKind::Exact | UriKind::Regex | UriKind::SeparatedPrefix => Value::Path,
            };
            let test = match (&u.matcher, u.kind, u.ignore_case) {
                (StringMatcher::Prefix(b), UriKind::SeparatedPrefix, _) => {
                    Test::SeparatedPrefix(p.add_lit(b)?)
                }
                (StringMatcher::Exact(b), k, true) if k != UriKind::SeparatedPrefix => {
                    Test::ExactNoCase(p.add_lit(b)?)
                }
                (StringMatcher::Prefix(b), k, true) if k != UriKind::SeparatedPrefix => {
                    Test::PrefixNoCase(p.add_lit(b)?)
                }
                (other, _, _) => p.add_test(other)?,
            };
            p.step(Field::Uri, value, test);
        }
        for (field, value, m) in [
            (Field::Scheme, Value::Scheme, &m.scheme),
            (Field::Method, Value::Method, &m.method),
            (Field::Authority, Value::Authority, &m.authority),
        ] {
            if let Some(m) = m {
                let test = p.add_test(m)?;
                p.step(field, value, test);
            }
        }
        if let Some(port) = m.port {
            p.step(Field::Port, Value::Port(port), Test::Present);
        }
        for h in &m.headers {
            let value = match &h.target {
                HeaderTarget::Named(n) => Value::Header(p.name(n)?),
                HeaderTarget::Authority => Value::Authority,
                HeaderTarget::Method => Value::Method,
                HeaderTarget::Scheme => Value::Scheme,
                HeaderTarget::Path => Value::PathAndQuery,
            };
            let test = p.add_test(&h.matcher)?;
            p.steps.push(Step {
                field: Field::Header,
                value,
                test,
                negate: h.negate,
                inline: h.inline,
                forwarded_proto: h.forwarded_proto,
            });
        }
        for (name, m) in &m.query {
            let value = Value::Query(p.add_lit(name.as_bytes())?);
            let test = p.add_test(m)?;
            p.step(Field::Query, value, test);
        }
        p.starts.push(index(p.steps.len())?);
        Ok(p)
    }

    /// Block 0 with its port condition set to `port` (in the place [`Self::of`] gives it).
    pub(crate) fn set_port(&mut self, port: u16) {
        let port_step = Step {
            field: Field::Port,
            value: Value::Port(port),
            test: Test::Present,
            negate: false,
            inline: false,
            forwarded_proto: false,
        };
        let end = self.starts[1] as usize;
        match self.steps[..end]
            .iter()
            .position(|s| s.field == Field::Port)
        {
            Some(i) => self.steps[i] = port_step,
            None => {
                let at = self.steps[..end]
                    .iter()
                    .position(|s| matches!(s.field, Field::Header | Field::Query))
                    .unwrap_or(end);
                self.steps.insert(at, port_step);
                for s in &mut self.starts[1..] {
                    *s += 1;
                }
            }
        }
    }

    fn step(&mut self, field: Field, value: Value, test: Test) {
        self.steps.push(Step {
            field,
            value,
            test,
            negate: false,
            inline: false,
            forwarded_proto: false,
        });
    }

    fn add_test(&mut self, m: &StringMatcher) -> Result<Test, CompileError> {
        Ok(match m {
            StringMatcher::Present => Test::Present,
            StringMatcher::Exact(b) => Test::Exact(self.add_lit(b)?),
            StringMatcher::Prefix(b) => Test::Prefix(self.add_lit(b)?),
            StringMatcher::Regex(r) => Test::Regex(self.regex(r)?),
        })
    }

    /// Appends a literal to the pool.
    fn add_lit(&mut self, b: &[u8]) -> Result<Lit, CompileError> {
        let start = index(self.bytes.len())?;
        let len = index(b.len())?;
        index(self.bytes.len() + b.len())?;
        self.bytes.extend_from_slice(b);
        Ok(Lit { start, len })
    }

    /// The index of `r` in the pool, shared with the steps of the same pattern before it.
    fn regex(&mut self, r: &FullRegex) -> Result<u32, CompileError> {
        match self.regexes.iter().rposition(|x| x == r) {
            Some(i) => index(i),
            None => {
                self.regexes.push(r.clone());
                index(self.regexes.len() - 1)
            }
        }
    }

    /// The index of header name `n` in the pool.
    fn name(&mut self, n: &HeaderName) -> Result<u32, CompileError> {
        match self.names.iter().rposition(|x| x == n) {
            Some(i) => index(i),
            None => {
                self.names.push(n.clone());
                index(self.names.len() - 1)
            }
        }
    }

    #[inline]
    fn steps(&self, block: usize) -> &[Step] {
        let (start, end) = (self.starts[block] as usize, self.starts[block + 1] as usize);
        &self.steps[start..end]
    }

    #[inline]
    fn lit(&self, l: Lit) -> &[u8] {
        // In `usize` the end cannot wrap below the start: one bounds check.
        let start = l.start as usize;
        &self.bytes[start..start + l.len as usize]
    }

    /// Whether step `s` holds for `req`: header and path conditions inline, the others one
    /// call away.
    #[inline(always)]
    fn holds<'r>(&self, s: &Step, req: &RequestView<'r>, seen: &mut impl Seen<'r>) -> bool {
        match s.value {
            Value::Header(i) => {
                let Some(name) = self.names.get(i as usize) else {
                    return false;
                };
                self.header_holds(s, seen.get(i, name), name, req)
            }
            Value::Path => self.test(s.test, req.path().as_bytes()) != s.negate,
            Value::PathAndQuery => self.test(s.test, req.path_and_query().as_bytes()) != s.negate,
            _ => self.holds_other(s, req),
        }
    }

    /// [`Self::holds`] for the conditions on other fields than the path and the headers.
    #[inline(never)]
    fn holds_other(&self, s: &Step, req: &RequestView<'_>) -> bool {
        let value = match s.value {
            Value::Path => req.path(),
            Value::PathAndQuery => req.path_and_query(),
            Value::Scheme => req.scheme(),
            Value::Method => req.method(),
            Value::Authority => req.authority(),
            Value::Port(p) => return p == req.port(),
            Value::Header(i) => {
                let name = &self.names[i as usize];
                let found = Lookups::new(req).get(i, name);
                return self.header_holds(s, found, name, req);
            }
            Value::Query(name) => {
                return req
                    .query_param_bytes(self.lit(name))
                    .is_some_and(|v| self.test(s.test, v.as_bytes()));
            }
        };
        self.test(s.test, value.as_bytes()) != s.negate
    }

    /// Whether `value` passes `test` (case-sensitive unless the test says otherwise). The
    /// literal comparisons are inlined in every step; the rest is one call.
    #[inline(always)]
    fn test(&self, test: Test, value: &[u8]) -> bool {
        match test {
            Test::Present => true,
            Test::Exact(l) => value.len() == l.len as usize && same(value, self.lit(l)),
            Test::Prefix(l) => {
                let n = l.len as usize;
                value.len() >= n && same(&value[..n], self.lit(l))
            }
            other => self.test_other(other, value),
        }
    }

    #[inline(never)]
    fn test_other(&self, test: Test, value: &[u8]) -> bool {
        match test {
            Test::Present => true,
            Test::Exact(l) => value == self.lit(l),
            Test::Prefix(l) => value.starts_with(self.lit(l)),
            Test::ExactNoCase(l) => value.eq_ignore_ascii_case(self.lit(l)),
            Test::PrefixNoCase(l) => {
                let p = self.lit(l);
                value.len() >= p.len() && value[..p.len()].eq_ignore_ascii_case(p)
            }
            Test::SeparatedPrefix(l) => {
                let n = l.len as usize;
                value.len() >= n
                    && same(&value[..n], self.lit(l))
                    && (value.len() == n || value[n] == b'/')
            }
            Test::Regex(i) => self.regexes[i as usize].is_full_match(value),
        }
    }

    /// Envoy's header matcher as Istio configures it (observed on Envoy 1.40): each value
    /// of a repeated header is matched on its own and any match counts, except for the
    /// inline headers Envoy joins into one value before routing (`user-agent: a` and
    /// `user-agent: b` are matched as `a,b`; see [`crate::inline`]); `withoutHeaders`
    /// treats a missing header as empty before inverting, except for presence, which
    /// inverts to absence; a missing `x-forwarded-proto` is the connection's scheme.
    #[inline(always)]
    fn header_holds(
        &self,
        s: &Step,
        found: Found<'_>,
        name: &HeaderName,
        req: &RequestView<'_>,
    ) -> bool {
        let any = match (found, s.test) {
            (Found::One(v), Test::Exact(l)) => {
                let v = v.as_bytes();
                v.len() == l.len as usize && same(v, self.lit(l))
            }
            (Found::One(_), Test::Present) => true,
            (Found::One(v), t) => self.test(t, v.as_bytes()),
            (found, _) => return self.header_rare(s, found, name, req),
        };
        any != s.negate
    }

    /// [`Self::header_holds`] for a header the request lacks or repeats.
    #[inline(never)]
    fn header_rare(
        &self,
        s: &Step,
        found: Found<'_>,
        name: &HeaderName,
        req: &RequestView<'_>,
    ) -> bool {
        let any = match (found, s.test) {
            (Found::None, test) => {
                if s.forwarded_proto {
                    // Envoy sets a missing `x-forwarded-proto` to the connection's scheme
                    // before routing.
                    return self.test(test, req.listener_scheme().as_bytes()) != s.negate;
                }
                // A missing header is empty for withoutHeaders, and never matches for
                // headers.
                match test {
                    Test::Present => false,
                    t => s.negate && self.test(t, b""),
                }
            }
            (_, Test::Present) => true,
            (Found::One(v), t) => self.test(t, v.as_bytes()),
            (Found::Many, t) => {
                let all = req.headers().get_all(name);
                if s.inline {
                    // Envoy holds one joined value for a repeated inline header
                    // (allocates only for such a request).
                    self.test(t, &joined(all.iter().map(|v| v.as_bytes())))
                } else {
                    all.iter().any(|v| self.test(t, v.as_bytes()))
                }
            }
        };
        any != s.negate
    }
}

/// The header names of a program looked up in one request so far, so that blocks reading
/// the same header do not look it up again (the header map's hash and probe cost more than
/// most conditions). Holds the first [`Lookups::SLOTS`] names looked up; others are looked
/// up each time. Small to set up: a request whose host reads no header pays a few stores.
struct Lookups<'r> {
    headers: &'r http::HeaderMap,
    names: [u32; Lookups::SLOTS],
    /// The first value of each name looked up (`None`: the request has none).
    values: [Option<&'r HeaderValue>; Lookups::SLOTS],
    /// Bit `k`: name `k` has several values.
    many: u8,
    len: u8,
}

/// Where the steps of one walk over blocks find the header values looked up before.
trait Seen<'r> {
    /// The values of header `name`, the program's name number `i`.
    fn get(&mut self, i: u32, name: &HeaderName) -> Found<'r>;
}

impl<'r> Seen<'r> for Lookups<'r> {
    #[inline]
    fn get(&mut self, i: u32, name: &HeaderName) -> Found<'r> {
        Lookups::get(self, i, name)
    }
}

/// The last header name looked up and what the request has of it: for walks over blocks
/// of one condition each, which set up nothing more.
struct Last<'r> {
    headers: &'r http::HeaderMap,
    name: u32,
    found: Found<'r>,
}

impl<'r> Last<'r> {
    #[inline]
    fn new(req: &RequestView<'r>) -> Self {
        Last {
            headers: req.headers(),
            name: u32::MAX,
            found: Found::None,
        }
    }
}

impl<'r> Seen<'r> for Last<'r> {
    #[inline(always)]
    fn get(&mut self, i: u32, name: &HeaderName) -> Found<'r> {
        if self.name != i {
            self.found = found(self.headers, name);
            self.name = i;
        }
        self.found
    }
}

/// What `headers` has of `name`.
#[inline(never)]
fn found<'r>(headers: &'r http::HeaderMap, name: &HeaderName) -> Found<'r> {
    let mut values = headers.get_all(name).into_iter();
    // The iterator knows whether it holds exactly one value before it is advanced (an upper
    // bound of one). Were it to say less, "several" is read again from the map and
    // matched value by value, which gives the same answer for one value.
    let exactly_one = values.size_hint() == (1, Some(1));
    match values.next() {
        None => Found::None,
        Some(v) if exactly_one => Found::One(v),
        Some(_) => Found::Many,
    }
}

/// What a request has of one header name.
#[derive(Clone, Copy, Debug)]
enum Found<'r> {
    None,
    One(&'r HeaderValue),
    /// Two values or more (read again from the map when needed: rare).
    Many,
}

impl<'r> Lookups<'r> {
    const SLOTS: usize = 4;

    #[inline]
    fn new(req: &RequestView<'r>) -> Self {
        Lookups {
            headers: req.headers(),
            names: [0; Lookups::SLOTS],
            values: [None; Lookups::SLOTS],
            many: 0,
            len: 0,
        }
    }

    /// The values of header `name`, the program's name number `i`.
    #[inline]
    fn get(&mut self, i: u32, name: &HeaderName) -> Found<'r> {
        let len = usize::from(self.len).min(Lookups::SLOTS);
        for k in 0..len {
            if self.names[k] == i {
                return match self.values[k] {
                    _ if self.many & (1 << k) != 0 => Found::Many,
                    Some(v) => Found::One(v),
                    None => Found::None,
                };
            }
        }
        let mut values = self.headers.get_all(name).into_iter();
        let first = values.next();
        let many = first.is_some() && values.next().is_some();
        if len < Lookups::SLOTS {
            self.names[len] = i;
            self.values[len] = first;
            self.many |= u8::from(many) << len;
            self.len += 1;
        }
        match first {
            _ if many => Found::Many,
            Some(v) => Found::One(v),
            None => Found::None,
        }
    }
}

/// Whether `a` and `b`, of the same length, are equal: compared a word at a time without a
/// call for up to 16 bytes (literals and the values they are compared with are short).
#[inline(always)]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    debug_assert_eq!(n, b.len());
    if n > 16 || n != b.len() {
        return a == b;
    }
    if n >= 8 {
        return word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8);
    }
    if n >= 4 {
        return half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4);
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

#[inline]
fn word(s: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[i..i + 8]);
    u64::from_ne_bytes(w)
}

#[inline]
fn half(s: &[u8], i: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[i..i + 4]);
    u32::from_ne_bytes(w)
}

/// The values joined with `,`, as Envoy's header map holds a repeated inline header.
pub(crate) fn joined<'v>(values: impl Iterator<Item = &'v [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(v);
    }
    out
}

/// A length or index as a program stores it: at most `u32::MAX` (4 GiB of literals, 4
/// billion steps), far beyond any configuration the loader accepts.
fn index(n: usize) -> Result<u32, CompileError> {
    u32::try_from(n).map_err(|_| CompileError::Unsupported {
        what: "match conditions of more than 4 GiB in one route table".into(),
    })
}

#[cfg(test)]
mod tests;
