//! Header operations (`headers.request` / `headers.response`), as Istio translates them:
//! `set` overwrites, `add` appends, `remove` removes; `host` and `:authority` in request
//! `set`/`add` become an authority rewrite; Envoy removes before it adds.

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

    /// Applies the operations: removes, then sets, then adds (Envoy's order).
    pub fn apply(&self, headers: &mut HeaderMap) {
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.add {
            headers.append(name.clone(), value.clone());
        }
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

impl HeadersPolicy {
    /// Compiles `headers`. Errors name the header; notes say what is kept as literal text.
    pub fn compile(h: Option<&Headers>) -> Result<(Self, Vec<String>), String> {
        let mut notes = Vec::new();
        let Some(h) = h else {
            return Ok((HeadersPolicy::default(), notes));
        };
        let mut authority = None;
        let request = match &h.request {
            Some(ops) => {
                // `set` beats `add` for the authority.
                for map in [&ops.add, &ops.set] {
                    for (k, v) in map {
                        if k.eq_ignore_ascii_case("host") || k.eq_ignore_ascii_case(":authority") {
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
) -> Result<HeaderOps, String> {
    let mut out = HeaderOps::default();
    let keep = |k: &str| {
        // Istio drops `host` and pseudo-headers from the lists (`dropInternal`); for requests
        // the authority is handled as a rewrite.
        !(k.starts_with(':') || (request && k.eq_ignore_ascii_case("host")))
    };
    for (list, map) in [(&mut out.set, &ops.set), (&mut out.add, &ops.add)] {
        for (k, v) in map {
            if !keep(k) {
                continue;
            }
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("invalid header name {k:?}"))?;
            let value = envoy_literal(v, notes);
            let value = HeaderValue::from_str(&value)
                .map_err(|_| format!("invalid header value {v:?} for {k:?}"))?;
            list.push((name, value));
        }
    }
    for k in &ops.remove {
        if !keep(k) {
            continue;
        }
        out.remove.push(
            HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("invalid header name {k:?}"))?,
        );
    }
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
