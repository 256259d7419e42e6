//! The requests `meshctl diff` decides: for every host a route table knows and every match
//! block of its rules, a request that hits the block and near-misses on each of its
//! conditions (prefix boundary, exact against longer, header present, absent or another
//! value, method, port, query), deduplicated and bounded.

use std::collections::HashSet;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use mesh_match::{Condition, PathNormalization, StringMatcher};
use mesh_route::RouteTable;
use regex_syntax::hir::{Class, Hir, HirKind};

use crate::request::Request;

/// A request being built: every field a single value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Spec {
    method: String,
    scheme: String,
    authority: String,
    port: u16,
    path: String,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
}

/// The corpus: requests in the order they were found, without duplicates, at most `max`.
#[derive(Debug)]
pub(crate) struct Corpus {
    requests: Vec<Request>,
    seen: HashSet<Spec>,
    max: usize,
    normalization: PathNormalization,
    /// Set when a request was refused because the corpus was full.
    pub(crate) overflow: bool,
}

impl Corpus {
    /// An empty corpus of at most `max` requests.
    pub(crate) fn new(max: usize, normalization: PathNormalization) -> Self {
        Corpus {
            requests: Vec::new(),
            seen: HashSet::new(),
            max,
            normalization,
            overflow: false,
        }
    }

    /// The requests.
    pub(crate) fn requests(&self) -> &[Request] {
        &self.requests
    }

    /// Adds a request built elsewhere (from a test file).
    pub(crate) fn push_request(&mut self, r: Request) {
        if self.requests.len() >= self.max {
            self.overflow = true;
            return;
        }
        self.requests.push(r);
    }

    fn push(&mut self, s: Spec) {
        if self.seen.contains(&s) {
            return;
        }
        if self.requests.len() >= self.max {
            self.overflow = true;
            return;
        }
        let Some(r) = self.build(&s) else { return };
        self.seen.insert(s);
        self.requests.push(r);
    }

    /// The request of a spec; `None` when a part cannot be sent (not a valid header value,
    /// say).
    fn build(&self, s: &Spec) -> Option<Request> {
        let method = Method::from_bytes(s.method.as_bytes()).ok()?;
        let mut target = s.path.clone();
        for (i, (k, v)) in s.query.iter().enumerate() {
            target.push(if i == 0 && !target.contains('?') {
                '?'
            } else {
                '&'
            });
            target.push_str(k);
            target.push('=');
            target.push_str(v);
        }
        target.parse::<http::uri::PathAndQuery>().ok()?;
        if !target.starts_with('/') {
            return None;
        }
        let mut headers = HeaderMap::new();
        for (k, v) in &s.headers {
            headers.append(
                HeaderName::from_bytes(k.as_bytes()).ok()?,
                HeaderValue::from_str(v).ok()?,
            );
        }
        if s.authority.is_empty() || s.authority.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return None;
        }
        Some(Request::from_parts(
            method,
            s.scheme.clone(),
            s.authority.clone(),
            s.port,
            target,
            headers,
            self.normalization,
        ))
    }

    /// Adds the requests of every match block of every virtual host of `table`, sent to
    /// each of `ports`.
    pub(crate) fn add_table(&mut self, table: &RouteTable, ports: &[u16]) {
        for vh in table.virtual_hosts() {
            for host in hosts(&vh.domains) {
                for &port in ports {
                    let base = Spec {
                        method: "GET".into(),
                        scheme: "http".into(),
                        authority: host.clone(),
                        port,
                        path: "/".into(),
                        headers: Vec::new(),
                        query: Vec::new(),
                    };
                    self.push(base.clone());
                    for e in &vh.entries {
                        if let Some(m) = &e.matcher {
                            self.add_block(&base, &m.conditions());
                        }
                        if self.overflow {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// A request that meets every condition, then near-misses of each condition.
    fn add_block(&mut self, base: &Spec, conditions: &[Condition<'_>]) {
        let mut hit = base.clone();
        for c in conditions {
            if let Some(first) = variants(c, &hit).into_iter().next() {
                hit = first;
            }
        }
        self.push(hit.clone());
        for c in conditions {
            for v in variants(c, &hit).into_iter().skip(1) {
                self.push(v);
            }
        }
    }
}

/// The hosts to send to: each domain, except the short forms of a longer one (`reviews`,
/// `reviews.ns`, `reviews.ns.svc` of `reviews.ns.svc.cluster.local`), with a wildcard's `*`
/// replaced by a label.
fn hosts(domains: &[String]) -> Vec<String> {
    domains
        .iter()
        .filter(|d| {
            d.contains('*')
                || !domains.iter().any(|o| {
                    o.len() > d.len() && o.starts_with(d.as_str()) && o.as_bytes()[d.len()] == b'.'
                })
        })
        .map(|d| match d.strip_prefix('*') {
            Some("") => "any-host.example".to_owned(),
            Some(rest) => format!("wildcard{rest}"),
            None => d.clone(),
        })
        .collect()
}

/// For one condition: first a request that meets it (from `s`), then near-misses and
/// boundary cases.
fn variants(c: &Condition<'_>, s: &Spec) -> Vec<Spec> {
    let with = |f: &dyn Fn(&mut Spec)| {
        let mut v = s.clone();
        f(&mut v);
        v
    };
    match *c {
        Condition::Uri {
            matcher,
            whole_path,
            ignore_case,
        } => {
            let values = string_variants(matcher);
            let mut out: Vec<Spec> = values
                .iter()
                .map(|p| with(&|v| v.path = as_path(p)))
                .collect();
            if let Some(first) = values.first() {
                if whole_path {
                    // Exact and regex compare the path without the query.
                    out.push(with(&|v| v.path = format!("{}?q=1", as_path(first))));
                }
                if ignore_case {
                    out.push(with(&|v| v.path = as_path(first).to_ascii_uppercase()));
                }
            }
            out
        }
        Condition::Scheme(m) => {
            let mut out: Vec<Spec> = string_variants(m)
                .into_iter()
                .filter(|x| x == "http" || x == "https")
                .map(|x| with(&|v| v.scheme = x.clone()))
                .collect();
            for other in ["http", "https"] {
                out.push(with(&|v| v.scheme = other.into()));
            }
            out
        }
        Condition::Method(m) => {
            let mut out: Vec<Spec> = string_variants(m)
                .into_iter()
                .map(|x| with(&|v| v.method = x.clone()))
                .collect();
            for other in ["GET", "POST"] {
                out.push(with(&|v| v.method = other.into()));
            }
            out
        }
        Condition::Authority(m) => {
            let mut out: Vec<Spec> = string_variants(m)
                .into_iter()
                .map(|x| with(&|v| v.authority = x.clone()))
                .collect();
            if out.is_empty() {
                out.push(s.clone());
            }
            out.push(with(&|v| v.authority = format!("{}:{}", v.authority, 8080)));
            out
        }
        Condition::Port(p) => vec![
            with(&|v| v.port = p),
            with(&|v| v.port = if p == 80 { 8080 } else { 80 }),
        ],
        Condition::Header {
            name,
            matcher,
            without,
        } => match name {
            ":authority" => variants(&Condition::Authority(matcher), s),
            ":method" => variants(&Condition::Method(matcher), s),
            ":scheme" => variants(&Condition::Scheme(matcher), s),
            ":path" => variants(
                &Condition::Uri {
                    matcher,
                    whole_path: false,
                    ignore_case: false,
                },
                s,
            ),
            _ => {
                let present: Vec<Spec> = string_variants(matcher)
                    .into_iter()
                    .map(|x| {
                        with(&|v| {
                            v.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
                            v.headers.push((name.to_ascii_lowercase(), x.clone()));
                        })
                    })
                    .collect();
                let absent = with(&|v| v.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name)));
                if without {
                    std::iter::once(absent).chain(present).collect()
                } else {
                    let mut out = present;
                    out.push(absent);
                    out
                }
            }
        },
        Condition::Query { name, matcher } => {
            let mut out: Vec<Spec> = string_variants(matcher)
                .into_iter()
                .map(|x| {
                    with(&|v| {
                        v.query.retain(|(k, _)| k != name);
                        v.query.push((name.to_owned(), x.clone()));
                    })
                })
                .collect();
            out.push(with(&|v| v.query.retain(|(k, _)| k != name)));
            out
        }
    }
}

/// A path for a value: as it is when it starts with `/`, else with `/` before it.
fn as_path(p: &str) -> String {
    if p.starts_with('/') {
        p.to_owned()
    } else {
        format!("/{p}")
    }
}

/// Values for a string condition: first one that matches, then near-misses (a prefix one
/// byte short and one byte longer, an exact value with `/` or `x` added, another value).
fn string_variants(m: &StringMatcher) -> Vec<String> {
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).ok();
    match m {
        StringMatcher::Present => vec!["1".into()],
        StringMatcher::Exact(e) => match text(e) {
            Some(e) => vec![e.clone(), format!("{e}/"), format!("{e}x"), "other".into()],
            None => Vec::new(),
        },
        StringMatcher::Prefix(p) => match text(p) {
            Some(p) => {
                let mut out = vec![p.clone(), format!("{p}x"), format!("{p}/x")];
                let mut shorter = p.clone();
                if shorter.pop().is_some() && !shorter.is_empty() {
                    out.push(shorter);
                }
                out.push("other".into());
                out
            }
            None => Vec::new(),
        },
        StringMatcher::Regex(r) => match witness(r.as_str()) {
            Some(w) if r.is_full_match(w.as_bytes()) => {
                let mut out = vec![w.clone(), format!("{w}x")];
                let mut shorter = w.clone();
                if shorter.pop().is_some() {
                    out.push(shorter);
                }
                out
            }
            _ => Vec::new(),
        },
    }
}

/// The longest text a witness may have.
const MAX_WITNESS: usize = 512;

/// A short string the regular expression matches as a whole, when one is easy to find:
/// literals as they are, the first branch of an alternation, the fewest repetitions, a
/// letter, digit or `/` from a class.
pub(crate) fn witness(pattern: &str) -> Option<String> {
    let hir = regex_syntax::ParserBuilder::new()
        .nest_limit(64)
        .build()
        .parse(pattern)
        .ok()?;
    let mut out = String::new();
    (gen_witness(&hir, &mut out) && out.len() <= MAX_WITNESS).then_some(out)
}

fn gen_witness(h: &Hir, out: &mut String) -> bool {
    if out.len() > MAX_WITNESS {
        return false;
    }
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => true,
        HirKind::Literal(l) => match std::str::from_utf8(&l.0) {
            Ok(s) => {
                out.push_str(s);
                true
            }
            Err(_) => false,
        },
        HirKind::Class(Class::Unicode(c)) => {
            let pick = "a0/-_.AZz9"
                .chars()
                .find(|ch| {
                    c.ranges()
                        .iter()
                        .any(|r| r.start() <= *ch && *ch <= r.end())
                })
                .or_else(|| {
                    c.ranges()
                        .iter()
                        .flat_map(|r| [r.start(), r.end()])
                        .find(|ch| ch.is_ascii_graphic())
                });
            match pick {
                Some(ch) => {
                    out.push(ch);
                    true
                }
                None => false,
            }
        }
        HirKind::Class(Class::Bytes(c)) => {
            let pick = b"a0/-_."
                .iter()
                .copied()
                .find(|b| c.ranges().iter().any(|r| r.start() <= *b && *b <= r.end()))
                .or_else(|| {
                    c.ranges()
                        .iter()
                        .flat_map(|r| [r.start(), r.end()])
                        .find(u8::is_ascii_graphic)
                });
            match pick {
                Some(b) => {
                    out.push(char::from(b));
                    true
                }
                None => false,
            }
        }
        HirKind::Repetition(r) => {
            // More than MAX_WITNESS copies of a non-empty part are too long anyway, and copies
            // of an empty one add nothing.
            for _ in 0..r.min.min(MAX_WITNESS as u32 + 1) {
                if !gen_witness(&r.sub, out) {
                    return false;
                }
            }
            true
        }
        HirKind::Capture(c) => gen_witness(&c.sub, out),
        HirKind::Concat(items) => items.iter().all(|i| gen_witness(i, out)),
        HirKind::Alternation(items) => {
            let start = out.len();
            for i in items {
                if gen_witness(i, out) {
                    return true;
                }
                out.truncate(start);
            }
            false
        }
    }
}

#[cfg(test)]
mod tests;
