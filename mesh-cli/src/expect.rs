//! Comparing a decision, as `meshctl route -o json` prints it, with what a test expects.
//!
//! A pattern is compared generically: an object compares only the keys it gives, a list
//! compares length and each element, numbers compare as numbers, durations as durations
//! (`1s` = `1000ms`) and a `host` may be a short name (completed as Istio completes it, in
//! the namespace of the matched VirtualService). istio-config-validator's expectations are
//! translated into such patterns first, with Istio's functions (the same ones the decision
//! uses) applied to the request.

use mesh_model::host::resolve_short_name;
use mesh_model::virtual_service::HeaderOperations;
use mesh_route::RouteTable;
use mesh_route::policy::{FaultPolicy, Redirect, ReplyTo, Rewrite};
use serde_json::{Map, Value, json};

use crate::request::Request;
use crate::testfile::{Check, Want};

/// A field whose value differs from the expectation.
#[derive(Debug, Clone)]
pub(crate) struct Mismatch {
    /// The field path in route's JSON (`destination.subset`).
    pub(crate) field: String,
    /// What the decision has.
    pub(crate) got: Value,
    /// What the test wants.
    pub(crate) want: Value,
}

/// The namespace short host names of an expectation resolve in: the matched
/// VirtualService's, else the proxy's.
pub(crate) fn namespace_of(got: &Value, table: &RouteTable) -> String {
    got["virtualService"]
        .as_str()
        .and_then(|vs| vs.split_once('/'))
        .map_or_else(
            || table.identity().namespace().to_owned(),
            |(ns, _)| ns.to_owned(),
        )
}

/// Compares `got` with the pattern `want`; returns every differing field.
pub(crate) fn compare(want: &Value, got: &Value, namespace: &str) -> Vec<Mismatch> {
    let mut out = Vec::new();
    walk(want, got, "", "", namespace, &mut out);
    out
}

fn walk(want: &Value, got: &Value, path: &str, key: &str, ns: &str, out: &mut Vec<Mismatch>) {
    let differ = |out: &mut Vec<Mismatch>| {
        out.push(Mismatch {
            field: path.to_owned(),
            got: got.clone(),
            want: want.clone(),
        })
    };
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(wv, g.get(k).unwrap_or(&Value::Null), &p, k, ns, out);
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                walk(wv, gv, &format!("{path}[{i}]"), key, ns, out);
            }
        }
        (Value::Number(w), Value::Number(g)) => {
            let (w, g) = (
                w.as_f64().unwrap_or(f64::NAN),
                g.as_f64().unwrap_or(f64::NAN),
            );
            if (w - g).abs() > 1e-9 * w.abs().max(1.0) {
                differ(out);
            }
        }
        (Value::String(w), Value::String(g)) => {
            let same = w == g
                || (key == "host" && resolve_short_name(w, ns) == *g)
                || matches!(
                    (w.parse::<mesh_model::Duration>(), g.parse::<mesh_model::Duration>()),
                    (Ok(a), Ok(b)) if a == b
                );
            if !same {
                differ(out);
            }
        }
        (w, g) if w == g => {}
        _ => differ(out),
    }
}

/// The outcome of one check on one request: `None` when it passes.
pub(crate) fn evaluate(
    check: &Check,
    got: &Value,
    table: &RouteTable,
    request: &Request,
) -> Option<Vec<Mismatch>> {
    let ns = namespace_of(got, table);
    let want = pattern(&check.want, got, table, request, &ns);
    let mismatches = compare(&want, got, &ns);
    match (check.negate, mismatches.is_empty()) {
        (false, true) | (true, false) => None,
        (false, false) => Some(mismatches),
        // Every field matched, which `expectNot` / `wantMatch: false` forbids.
        (true, true) => Some(vec![Mismatch {
            field: check.label.clone(),
            got: want.clone(),
            want: Value::Null,
        }]),
    }
}

/// The pattern a check stands for, for this request.
fn pattern(want: &Want, got: &Value, table: &RouteTable, request: &Request, ns: &str) -> Value {
    let view = request.view().ok();
    // The match block that matched: rewrites and redirects depend on it.
    let decision = view.as_ref().map(|v| table.decide(v, 0));
    let matcher = decision
        .as_ref()
        .and_then(|d| d.matched())
        .and_then(|m| m.matcher());
    match want {
        Want::Pattern(p) => p.clone(),
        Want::IcvRoute(ds) => {
            let weights: Vec<Value> = ds
                .iter()
                .map(|d| {
                    let mut o = Map::new();
                    if let Some(dest) = &d.destination {
                        o.insert("host".into(), json!(resolve_short_name(&dest.host, ns)));
                        if !dest.subset.is_empty() {
                            o.insert("subset".into(), json!(dest.subset));
                        }
                        if let Some(p) = dest.port.as_ref().filter(|p| p.number != 0) {
                            o.insert("port".into(), json!(p.number));
                        }
                    }
                    if d.weight != 0 {
                        o.insert("weight".into(), json!(d.weight));
                    }
                    Value::Object(o)
                })
                .collect();
            json!({ "weights": weights })
        }
        Want::IcvRewrite(rw) => {
            let mut o = Map::new();
            if let Ok(compiled) = Rewrite::compile(rw) {
                if !rw.uri.is_empty() || rw.uri_regex_rewrite.is_some() {
                    let pq = view.as_ref().map_or("", |v| v.path_and_query());
                    o.insert("path".into(), json!(compiled.path(matcher, pq)));
                }
                if let Some(a) = &compiled.authority {
                    o.insert("authority".into(), json!(a));
                }
            }
            Value::Object(o)
        }
        Want::IcvRedirect(r) => {
            let mut o = Map::new();
            o.insert("outcome".into(), json!("redirect"));
            if let (Some(rd), Some(v)) = (Redirect::compile(r), &view) {
                o.insert("location".into(), json!(rd.location(v, matcher)));
                if r.redirect_code != 0 {
                    o.insert("status".into(), json!(rd.code));
                }
            }
            Value::Object(o)
        }
        Want::IcvFault(f) => {
            let (policy, _) = FaultPolicy::from_route(f);
            let to = ReplyTo::of(request.method.as_str(), &request.headers);
            let mut fault =
                serde_json::to_value(crate::route::fault(&policy, to)).unwrap_or_default();
            if let Value::Object(o) = &mut fault {
                // Only what the test gives is compared.
                if f.delay.is_none() {
                    o.remove("delay");
                }
                if f.abort.is_none() {
                    o.remove("abort");
                }
            }
            json!({ "fault": fault })
        }
        Want::IcvHeaders(h) => {
            let mut o = Map::new();
            if let Some(r) = &h.request {
                o.insert(
                    "requestHeaders".into(),
                    header_ops(r, &got["requestHeaders"]),
                );
            }
            if let Some(r) = &h.response {
                o.insert(
                    "responseHeaders".into(),
                    header_ops(r, &got["responseHeaders"]),
                );
            }
            Value::Object(o)
        }
        Want::IcvDelegate(d) => {
            let ns = if d.namespace.is_empty() {
                got["virtualService"]
                    .as_str()
                    .and_then(|v| v.split_once('/'))
                    .map_or(ns, |(n, _)| n)
            } else {
                &d.namespace
            };
            json!({ "virtualService": format!("{ns}/{}", d.name) })
        }
    }
}

/// Header operations as a pattern over `requestHeaders` / `responseHeaders`, the list of
/// operations Envoy applies (`[{op, name, value}]`, route and destination level together, in
/// order): every operation the test gives must be in it, whatever else is. The pattern is
/// the decision's own list when all are (so nothing differs), else the operations wanted
/// (reported against what the decision has). The one place that knows how route's JSON
/// writes header operations.
fn header_ops(ops: &HeaderOperations, got: &Value) -> Value {
    let op = |kind: &str, name: &str, value: Option<&str>| json!({"op": kind, "name": name.to_ascii_lowercase(), "value": value});
    let wanted: Vec<Value> = ops
        .remove
        .iter()
        .map(|n| op("remove", n, None))
        .chain(ops.set.iter().map(|(n, v)| op("set", n, Some(v))))
        .chain(ops.add.iter().map(|(n, v)| op("add", n, Some(v))))
        .collect();
    let present = |w: &Value| {
        got.as_array().is_some_and(|have| {
            have.iter().any(|g| {
                g["op"] == w["op"]
                    && g["value"] == w["value"]
                    && g["name"].as_str().is_some_and(|n| {
                        Some(n.to_ascii_lowercase().as_str()) == w["name"].as_str()
                    })
            })
        })
    };
    if wanted.iter().all(present) {
        got.clone()
    } else {
        Value::Array(wanted)
    }
}

/// What one request contributes to a case's distribution: `{outcome, destination}` slots
/// with their percent of the request's traffic (the split's exact shares for a route).
pub(crate) fn slots(got: &Value) -> Vec<(Value, f64)> {
    match got["weights"].as_array() {
        Some(ws) if got["outcome"] == "route" => ws
            .iter()
            .map(|w| {
                (
                    json!({"outcome": "route", "destination": {
                        "host": w["host"], "subset": w["subset"], "port": w["port"]}}),
                    w["weight"].as_f64().unwrap_or(0.0),
                )
            })
            .collect(),
        _ => vec![(
            json!({"outcome": got["outcome"], "destination": null}),
            100.0,
        )],
    }
}

#[cfg(test)]
mod tests;
