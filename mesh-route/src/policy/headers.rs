//! Header operations (`headers.request` / `headers.response`), as Istio translates them:
//! `set` overwrites, `add` appends, `remove` removes; `host` and `:authority` in request
//! `set`/`add` become an authority rewrite. [`ordered`] gives the operations of a route and
//! its destination in the order Envoy applies them; the layer applies that sequence and
//! `meshctl route` prints it.
//!
//! Measured with Envoy 1.40 on Istio's translation (2026-12, recorded in
//! `difftest/tests/decisions.rs`):
//! - An operation is a list of `HeaderValueOption`s evaluated by one Envoy `HeaderParser`:
//!   every remove first, then every overwrite (`set`) in list order, then every append
//!   (`add`) in list order (`x-k: add 1, set 2` gives `2, 1`).
//! - A `set` or `add` with an empty value is skipped (Istio leaves `keep_empty_value`
//!   unset): the header keeps its value; no empty header is added.
//! - A single destination's operations are appended to the route's lists
//!   (`processDestination`), so they form one list: route and destination removes, then
//!   sets (the destination's `set` wins), then adds. A weighted destination's operations
//!   are its own list (`processWeightedDestination`), which Envoy applies before the
//!   route's: the route's `set` wins and its `remove` removes what the destination added.
//!   Two `add`s of the same value send the value twice.

use http::{HeaderMap, HeaderName, HeaderValue};
use mesh_model::virtual_service::{HeaderOperations, Headers};

/// Operations on one header map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderOps {
    /// Overwrite (or add) these.
    pub set: Vec<(HeaderName, HeaderValue)>,
    /// Append these.
    pub add: Vec<(HeaderName, HeaderValue)>,
    /// Remove these.
    pub remove: Vec<HeaderName>,
}

impl HeaderOps {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }
}

/// Which message header operations apply to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The request sent upstream.
    Request,
    /// The response sent to the client.
    Response,
}

impl Side {
    /// Whether Envoy coalesces the values of header `name` on this side (see
    /// [`mesh_match::inline`]).
    pub fn is_inline(self, name: &HeaderName) -> bool {
        match self {
            Side::Request => mesh_match::inline::is_request_inline(name.as_str()),
            Side::Response => mesh_match::inline::is_response_inline(name.as_str()),
        }
    }
}

/// One header operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderOp<'a> {
    /// Remove every value of the header.
    Remove(&'a HeaderName),
    /// Replace every value of the header with this one.
    Set(&'a HeaderName, &'a HeaderValue),
    /// Append this value.
    Add(&'a HeaderName, &'a HeaderValue),
}

impl HeaderOp<'_> {
    /// Applies the operation to the `side` headers `headers`. An `add` to a present header
    /// that Envoy keeps inline joins its value with `,` (measured with Envoy 1.40:
    /// `user-agent: a` plus an `add` of `b` is sent as `user-agent: a,b`).
    pub fn apply(&self, headers: &mut HeaderMap, side: Side) {
        match *self {
            HeaderOp::Remove(name) => {
                headers.remove(name);
            }
            HeaderOp::Set(name, value) => {
                headers.insert(name.clone(), value.clone());
            }
            HeaderOp::Add(name, value) => {
                mesh_match::inline::append(headers, name, value, side.is_inline(name));
            }
        }
    }

    /// `remove`, `set` or `add`.
    pub fn kind(&self) -> &'static str {
        match self {
            HeaderOp::Remove(_) => "remove",
            HeaderOp::Set(..) => "set",
            HeaderOp::Add(..) => "add",
        }
    }

    /// The header's name.
    pub fn name(&self) -> &HeaderName {
        match self {
            HeaderOp::Remove(n) | HeaderOp::Set(n, _) | HeaderOp::Add(n, _) => n,
        }
    }

    /// The value, for `set` and `add`.
    pub fn value(&self) -> Option<&HeaderValue> {
        match self {
            HeaderOp::Remove(_) => None,
            HeaderOp::Set(_, v) | HeaderOp::Add(_, v) => Some(v),
        }
    }
}

/// One list of operations of one kind.
#[derive(Clone, Copy, Debug)]
enum Segment<'a> {
    Remove(&'a [HeaderName]),
    Set(&'a [(HeaderName, HeaderValue)]),
    Add(&'a [(HeaderName, HeaderValue)]),
}

impl<'a> Segment<'a> {
    fn len(&self) -> usize {
        match *self {
            Segment::Remove(s) => s.len(),
            Segment::Set(s) | Segment::Add(s) => s.len(),
        }
    }

    fn get(&self, i: usize) -> Option<HeaderOp<'a>> {
        match *self {
            Segment::Remove(s) => s.get(i).map(HeaderOp::Remove),
            Segment::Set(s) => s.get(i).map(|(n, v)| HeaderOp::Set(n, v)),
            Segment::Add(s) => s.get(i).map(|(n, v)| HeaderOp::Add(n, v)),
        }
    }
}

/// The operations of a route and of its chosen destination, in the order Envoy applies
/// them (see [`ordered`]). Allocates nothing.
#[derive(Clone, Debug)]
pub struct OrderedOps<'a> {
    side: Side,
    segments: [Segment<'a>; 6],
    segment: usize,
    index: usize,
}

impl OrderedOps<'_> {
    /// Which message the operations apply to.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Whether no operation is left to apply.
    pub fn is_empty(&self) -> bool {
        let rest = self.segments.get(self.segment..).unwrap_or_default();
        rest.iter()
            .enumerate()
            .all(|(i, s)| s.len() <= if i == 0 { self.index } else { 0 })
    }

    /// Applies every operation, in order, to `headers`.
    pub fn apply(self, headers: &mut HeaderMap) {
        let side = self.side;
        for op in self {
            op.apply(headers, side);
        }
    }
}

impl<'a> Iterator for OrderedOps<'a> {
    type Item = HeaderOp<'a>;

    fn next(&mut self) -> Option<HeaderOp<'a>> {
        while let Some(segment) = self.segments.get(self.segment) {
            if let Some(op) = segment.get(self.index) {
                self.index += 1;
                return Some(op);
            }
            self.segment += 1;
            self.index = 0;
        }
        None
    }
}

const NO_OPS: &HeaderOps = &HeaderOps {
    set: Vec::new(),
    add: Vec::new(),
    remove: Vec::new(),
};

/// The `side` operations of a route (`route`) and of the destination the request goes to
/// (`destination`), in the order Envoy applies them as Istio configures it: for a single
/// destination (`weighted` false) one list, removes then sets then adds, the route's
/// before the destination's in each; for a weighted split, the destination's removes,
/// sets and adds, then the route's. The one place this order is decided: the layer
/// applies it and `meshctl route` prints it.
pub fn ordered<'a>(
    side: Side,
    route: &'a HeaderOps,
    destination: Option<&'a HeaderOps>,
    weighted: bool,
) -> OrderedOps<'a> {
    let d = destination.unwrap_or(NO_OPS);
    let segments = if weighted {
        [
            Segment::Remove(&d.remove),
            Segment::Set(&d.set),
            Segment::Add(&d.add),
            Segment::Remove(&route.remove),
            Segment::Set(&route.set),
            Segment::Add(&route.add),
        ]
    } else {
        [
            Segment::Remove(&route.remove),
            Segment::Remove(&d.remove),
            Segment::Set(&route.set),
            Segment::Set(&d.set),
            Segment::Add(&route.add),
            Segment::Add(&d.add),
        ]
    };
    OrderedOps {
        side,
        segments,
        segment: 0,
        index: 0,
    }
}

/// Request and response operations, and the authority they set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeadersPolicy {
    /// On the request.
    pub request: HeaderOps,
    /// On the response.
    pub response: HeaderOps,
    /// Authority from a `host`/`:authority` request `set` (or `add`).
    pub authority: Option<String>,
}

/// A header operation that cannot be executed as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The name is not a valid HTTP header name.
    #[error("invalid header name {0:?}")]
    Name(String),
    /// The value (after Envoy's `%%` escapes) is not a valid HTTP header value.
    #[error("invalid header value {value:?} for {name:?}")]
    Value {
        /// The header's name.
        name: String,
        /// The value as written.
        value: String,
    },
}

impl HeadersPolicy {
    /// Compiles `headers`. Errors name the header; notes say what is kept as literal text.
    pub fn compile(h: Option<&Headers>) -> Result<(Self, Vec<String>), HeaderError> {
        let mut notes = Vec::new();
        let Some(h) = h else {
            return Ok((HeadersPolicy::default(), notes));
        };
        let mut authority = None;
        let request = match &h.request {
            Some(ops) => {
                // `set` beats `add` for the authority; an empty value sets none
                // (`TranslateHeadersOperations`).
                for map in [&ops.add, &ops.set] {
                    for (k, v) in map {
                        let named =
                            k.eq_ignore_ascii_case("host") || k.eq_ignore_ascii_case(":authority");
                        if named && !v.is_empty() {
                            authority = Some(v.clone());
                        }
                    }
                }
                compile_ops(ops, true, &mut notes)?
            }
            None => HeaderOps::default(),
        };
        let response = match &h.response {
            Some(ops) => compile_ops(ops, false, &mut notes)?,
            None => HeaderOps::default(),
        };
        Ok((
            HeadersPolicy {
                request,
                response,
                authority,
            },
            notes,
        ))
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.request.is_empty() && self.response.is_empty() && self.authority.is_none()
    }
}

fn compile_ops(
    ops: &HeaderOperations,
    request: bool,
    notes: &mut Vec<String>,
) -> Result<HeaderOps, HeaderError> {
    let side = if request { "request" } else { "response" };
    let mut out = HeaderOps::default();
    let keep = |k: &str| {
        // Istio drops `host` and pseudo-headers from the lists (`dropInternal`); for requests
        // the authority is handled as a rewrite.
        !(k.starts_with(':') || (request && k.eq_ignore_ascii_case("host")))
    };
    for (list, map, op) in [
        (&mut out.set, &ops.set, "set"),
        (&mut out.add, &ops.add, "add"),
    ] {
        for (k, v) in map {
            if !keep(k) {
                continue;
            }
            if v.is_empty() {
                // Envoy skips an empty value unless `keep_empty_value` is set, which Istio
                // never sets: the header is left as it is.
                notes.push(format!(
                    "{side}.{op}[{k:?}] has an empty value and does nothing: Envoy skips empty values (Istio leaves keep_empty_value unset)"
                ));
                continue;
            }
            let name =
                HeaderName::from_bytes(k.as_bytes()).map_err(|_| HeaderError::Name(k.clone()))?;
            let value = envoy_literal(v, notes);
            let value = HeaderValue::from_str(&value).map_err(|_| HeaderError::Value {
                name: k.clone(),
                value: v.clone(),
            })?;
            list.push((name, value));
        }
    }
    for k in &ops.remove {
        if !keep(k) {
            continue;
        }
        out.remove
            .push(HeaderName::from_bytes(k.as_bytes()).map_err(|_| HeaderError::Name(k.clone()))?);
    }
    // Kept for the table's life, by every rule that has operations: no room to grow.
    out.set.shrink_to_fit();
    out.add.shrink_to_fit();
    out.remove.shrink_to_fit();
    Ok(out)
}

/// Envoy header values may hold `%VARIABLE%` formatters and `%%` escapes. `%%` becomes `%`;
/// formatters are not evaluated in-process, so they are kept literally and noted.
fn envoy_literal(v: &str, notes: &mut Vec<String>) -> String {
    if !v.contains('%') {
        return v.to_owned();
    }
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('%') {
            out.push('%');
            rest = stripped;
        } else if let Some(end) = after.find('%') {
            let var = &after[..end];
            notes.push(format!(
                "header value formatter %{var}% is not evaluated in-process; it is sent as written"
            ));
            out.push('%');
            out.push_str(var);
            out.push('%');
            rest = &after[end + 1..];
        } else {
            out.push('%');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(set: &[&str], add: &[&str], remove: &[&str]) -> HeaderOps {
        let pair = |n: &&str| {
            (
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_static("v"),
            )
        };
        HeaderOps {
            set: set.iter().map(pair).collect(),
            add: add.iter().map(pair).collect(),
            remove: remove
                .iter()
                .map(|n| HeaderName::from_bytes(n.as_bytes()).unwrap())
                .collect(),
        }
    }

    /// `is_empty` is true exactly when the iterator has nothing left, at every point of the
    /// iteration, for every place an operation can sit (route or destination; remove, set or
    /// add; single or weighted order).
    #[test]
    fn ordered_ops_are_empty_exactly_when_nothing_is_left() {
        let none = HeaderOps::default();
        let cases = [
            (ops(&[], &[], &[]), ops(&[], &[], &[])),
            (ops(&["a"], &[], &[]), none.clone()),
            (none.clone(), ops(&[], &["b"], &[])),
            (ops(&[], &[], &["c"]), ops(&["d"], &["e"], &[])),
            (none.clone(), ops(&[], &[], &["f", "g"])),
        ];
        for (route, dest) in &cases {
            for weighted in [false, true] {
                let mut it = ordered(Side::Request, route, Some(dest), weighted);
                let total = route.set.len()
                    + route.add.len()
                    + route.remove.len()
                    + dest.set.len()
                    + dest.add.len()
                    + dest.remove.len();
                for left in (0..=total).rev() {
                    assert_eq!(it.is_empty(), left == 0, "{left} left of {total}");
                    assert_eq!(it.next().is_some(), left > 0);
                }
                assert!(it.is_empty());
            }
        }
    }
}
