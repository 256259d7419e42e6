//! The CRDs' validation, as the API server applies it to a Gateway API resource before it
//! stores it: the OpenAPI constraints of the schema (types, `required`, `enum`, `pattern`,
//! lengths, bounds, item counts, list types, `oneOf`/`anyOf`) and the
//! `x-kubernetes-validations` CEL rules, each with the API server's message and our field
//! path (`spec.rules[0].matches[0].path.value`). Defaults are applied first, as the API
//! server applies them.
//!
//! The schemas are data: `schema/*.json`, extracted from the CRDs of the release named in
//! [`CRD_SOURCE`](super::CRD_SOURCE) (see `schema/README.md`).

use std::collections::HashMap;

use serde_json::{Map, Value as Json};

use super::cel::{Env, Expr, Val};
use crate::resource::Kind;

const GATEWAYS: &str = include_str!("schema/gateways.json");
const GATEWAY_CLASSES: &str = include_str!("schema/gatewayclasses.json");
const HTTP_ROUTES: &str = include_str!("schema/httproutes.json");
const GRPC_ROUTES: &str = include_str!("schema/grpcroutes.json");
const REFERENCE_GRANTS: &str = include_str!("schema/referencegrants.json");

/// One violated constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The field path, e.g. `spec.rules[0].matches[0].path.value`.
    pub path: String,
    /// The API server's message, e.g. `Unsupported value: "Prefix": supported values:
    /// "Exact", "PathPrefix", "RegularExpression"`.
    pub message: String,
}

/// The schemas of the five kinds, parsed, with their CEL rules compiled. Build it once for a
/// batch of resources.
#[derive(Debug)]
pub struct Schemas {
    kinds: Vec<(Kind, Json)>,
    rules: HashMap<String, Result<Expr, String>>,
    /// The schemas' `pattern`s, compiled once (`None`: the pattern does not compile, and
    /// no value matches it).
    patterns: HashMap<String, Option<regex::Regex>>,
}

impl Default for Schemas {
    fn default() -> Self {
        Schemas::new()
    }
}

impl Schemas {
    /// Parses the embedded schemas and compiles their rules.
    pub fn new() -> Self {
        let mut kinds = Vec::new();
        let mut rules = HashMap::new();
        let mut patterns = HashMap::new();
        for (kind, text) in [
            (Kind::KubernetesGateway, GATEWAYS),
            (Kind::GatewayClass, GATEWAY_CLASSES),
            (Kind::HttpRoute, HTTP_ROUTES),
            (Kind::GrpcRoute, GRPC_ROUTES),
            (Kind::ReferenceGrant, REFERENCE_GRANTS),
        ] {
            // The files are part of the source tree and checked by the tests.
            let doc: Json = serde_json::from_str(text).unwrap_or(Json::Null);
            let spec = doc.get("spec").cloned().unwrap_or(Json::Null);
            collect_rules(&spec, &mut rules);
            collect_patterns(&spec, &mut patterns);
            kinds.push((kind, spec));
        }
        Schemas {
            kinds,
            rules,
            patterns,
        }
    }

    /// The number of distinct CEL rules, and those that could not be parsed (with why).
    pub fn rule_report(&self) -> (usize, Vec<(String, String)>) {
        let bad = self
            .rules
            .iter()
            .filter_map(|(r, e)| e.as_ref().err().map(|e| (r.clone(), e.clone())))
            .collect();
        (self.rules.len(), bad)
    }

    /// Validates the `spec` of a resource of `kind` (given as JSON, as the API server sees
    /// it). Kinds that are not the Gateway API's have no schema here.
    pub fn validate(&self, kind: Kind, spec: &Json) -> Vec<Violation> {
        let Some((_, schema)) = self.kinds.iter().find(|(k, _)| *k == kind) else {
            return Vec::new();
        };
        let mut value = spec.clone();
        apply_defaults(schema, &mut value);
        let mut out = Vec::new();
        self.check(schema, &value, "spec", &mut out);
        out
    }

    fn check(&self, s: &Json, v: &Json, path: &str, out: &mut Vec<Violation>) {
        if v.is_null() {
            return;
        }
        let mut push = |message: String| {
            out.push(Violation {
                path: path.to_owned(),
                message,
            })
        };
        let ty = s.get("type").and_then(Json::as_str).unwrap_or("");
        let actual = json_type(v);
        let type_ok = match ty {
            "" => true,
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            t => t == actual,
        };
        if !type_ok {
            push(format!(
                "Invalid value: \"{actual}\": {path} in body must be of type {ty}: \"{actual}\""
            ));
            return;
        }
        let mut local = Vec::new();
        value_constraints(s, v, path, &self.patterns, &mut local);
        let ok = local.is_empty();
        out.extend(local);
        match v {
            Json::Array(items) => {
                if let Some(item_schema) = s.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item_schema, item, &format!("{path}[{i}]"), out);
                    }
                }
            }
            Json::Object(map) => {
                if let Some(required) = s.get("required").and_then(Json::as_array) {
                    for r in required.iter().filter_map(Json::as_str) {
                        if map.get(r).is_none_or(Json::is_null) {
                            out.push(Violation {
                                path: format!("{path}.{r}"),
                                message: "Required value".into(),
                            });
                        }
                    }
                }
                let props = s.get("properties").and_then(Json::as_object);
                let extra = s.get("additionalProperties");
                for (k, child) in map {
                    if let Some(cs) = props.and_then(|p| p.get(k)) {
                        self.check(cs, child, &format!("{path}.{k}"), out);
                    } else if let Some(cs) = extra {
                        self.check(cs, child, &format!("{path}[{k}]"), out);
                    }
                }
            }
            _ => {}
        }
        // CEL rules of this node, when its own value constraints hold (as the API server,
        // which does not run the rules of a value that failed its schema).
        if ok {
            self.run_rules(s, v, ty, path, out);
        }
    }

    fn run_rules(&self, s: &Json, v: &Json, ty: &str, path: &str, out: &mut Vec<Violation>) {
        let Some(rules) = s.get("x-kubernetes-validations").and_then(Json::as_array) else {
            return;
        };
        let value = Val::from_json(v);
        for r in rules {
            let Some(text) = r.get("rule").and_then(Json::as_str) else {
                continue;
            };
            let message = r
                .get("message")
                .and_then(Json::as_str)
                .map_or_else(|| format!("failed rule: {text}"), str::to_owned);
            let at = match r.get("fieldPath").and_then(Json::as_str) {
                Some(fp) => format!("{path}{fp}"),
                None => path.to_owned(),
            };
            let expr = match self.rules.get(text) {
                Some(Ok(e)) => e,
                Some(Err(e)) => {
                    out.push(Violation {
                        path: at,
                        message: format!("Internal error: rule {text:?} cannot be parsed: {e}"),
                    });
                    continue;
                }
                None => continue,
            };
            if expr.is_transition_rule() {
                continue;
            }
            let mut env = Env::new(value.clone());
            match expr.eval(&mut env) {
                Ok(Val::Bool(true)) => {}
                Ok(Val::Bool(false)) => {
                    let shown = if ty.is_empty() { json_type(v) } else { ty };
                    let prefix = match r.get("reason").and_then(Json::as_str) {
                        Some("FieldValueRequired") => "Required value".to_owned(),
                        Some("FieldValueForbidden") => "Forbidden".to_owned(),
                        Some("FieldValueDuplicate") => "Duplicate value".to_owned(),
                        _ => format!("Invalid value: \"{shown}\""),
                    };
                    out.push(Violation {
                        path: at,
                        message: format!("{prefix}: {message}"),
                    });
                }
                Ok(other) => out.push(Violation {
                    path: at,
                    message: format!(
                        "Invalid value: \"{ty}\": rule {text:?} gave {other:?}, not a bool"
                    ),
                }),
                Err(e) => out.push(Violation {
                    path: at,
                    message: format!("Invalid value: \"{ty}\": rule {text:?} failed: {e}"),
                }),
            }
        }
    }
}

fn collect_patterns(s: &Json, out: &mut HashMap<String, Option<regex::Regex>>) {
    match s {
        Json::Object(m) => {
            if let Some(p) = m.get("pattern").and_then(Json::as_str) {
                out.entry(p.to_owned()).or_insert_with(|| {
                    regex::RegexBuilder::new(p).size_limit(1 << 20).build().ok()
                });
            }
            for v in m.values() {
                collect_patterns(v, out);
            }
        }
        Json::Array(a) => a.iter().for_each(|v| collect_patterns(v, out)),
        _ => {}
    }
}

fn collect_rules(s: &Json, rules: &mut HashMap<String, Result<Expr, String>>) {
    match s {
        Json::Object(m) => {
            if let Some(list) = m.get("x-kubernetes-validations").and_then(Json::as_array) {
                for r in list {
                    if let Some(text) = r.get("rule").and_then(Json::as_str) {
                        rules
                            .entry(text.to_owned())
                            .or_insert_with(|| Expr::parse(text));
                    }
                }
            }
            for v in m.values() {
                collect_rules(v, rules);
            }
        }
        Json::Array(a) => a.iter().for_each(|v| collect_rules(v, rules)),
        _ => {}
    }
}

/// Applies the schema's defaults: absent (or null) properties that have one get it.
fn apply_defaults(s: &Json, v: &mut Json) {
    match v {
        Json::Object(map) => {
            if let Some(props) = s.get("properties").and_then(Json::as_object) {
                for (k, ps) in props {
                    if map.get(k).is_none_or(Json::is_null) {
                        if let Some(d) = ps.get("default") {
                            map.insert(k.clone(), d.clone());
                        }
                    }
                    if let Some(child) = map.get_mut(k) {
                        apply_defaults(ps, child);
                    }
                }
            }
            if let Some(extra) = s.get("additionalProperties") {
                for child in map.values_mut() {
                    apply_defaults(extra, child);
                }
            }
        }
        Json::Array(items) => {
            if let Some(is) = s.get("items") {
                for item in items {
                    apply_defaults(is, item);
                }
            }
        }
        _ => {}
    }
}

fn json_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// The value as Go's `%v`/`%q` print it in the API server's messages.
fn shown(v: &Json) -> String {
    match v {
        Json::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Json::Object(m) => format!(
            "map[string]interface {{}}{{{}}}",
            m.iter()
                .map(|(k, v)| format!(
                    "{}:{}",
                    serde_json::to_string(k).unwrap_or_default(),
                    shown(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// The constraints on a value itself (not its children).
fn value_constraints(
    s: &Json,
    v: &Json,
    path: &str,
    patterns: &HashMap<String, Option<regex::Regex>>,
    out: &mut Vec<Violation>,
) {
    let mut push = |message: String| {
        out.push(Violation {
            path: path.to_owned(),
            message,
        })
    };
    let num = |k: &str| s.get(k).and_then(Json::as_i64);
    if let Some(allowed) = s.get("enum").and_then(Json::as_array) {
        if !allowed.contains(v) {
            let list: Vec<String> = allowed.iter().map(shown).collect();
            push(format!(
                "Unsupported value: {}: supported values: {}",
                shown(v),
                list.join(", ")
            ));
        }
    }
    match v {
        Json::String(text) => {
            let len = text.chars().count();
            if let Some(max) = num("maxLength")
                && len as i64 > max
            {
                push(format!("Too long: may not be more than {max} bytes"));
            }
            if let Some(min) = num("minLength")
                && (len as i64) < min
            {
                push(format!(
                    "Invalid value: {}: {path} in body should be at least {min} chars long",
                    shown(v)
                ));
            }
            if let Some(p) = s.get("pattern").and_then(Json::as_str) {
                let ok = match patterns.get(p) {
                    Some(Some(re)) => re.is_match(text),
                    Some(None) => false,
                    None => regex::RegexBuilder::new(p)
                        .size_limit(1 << 20)
                        .build()
                        .is_ok_and(|re| re.is_match(text)),
                };
                if !ok {
                    push(format!(
                        "Invalid value: {}: {path} in body should match '{p}'",
                        shown(v)
                    ));
                }
            }
            if let Some(f) = s.get("format").and_then(Json::as_str)
                && !format_ok(f, text)
            {
                push(format!(
                    "Invalid value: {}: {path} in body must be of type {f}: {}",
                    shown(v),
                    shown(v)
                ));
            }
        }
        Json::Number(n) => {
            if let (Some(max), Some(x)) = (num("maximum"), n.as_i64())
                && x > max
            {
                push(format!(
                    "Invalid value: {x}: {path} in body should be less than or equal to {max}"
                ));
            }
            if let (Some(min), Some(x)) = (num("minimum"), n.as_i64())
                && x < min
            {
                push(format!(
                    "Invalid value: {x}: {path} in body should be greater than or equal to {min}"
                ));
            }
        }
        Json::Array(items) => {
            if let Some(max) = num("maxItems")
                && items.len() as i64 > max
            {
                push(format!(
                    "Too many: {}: must have at most {max} items",
                    items.len()
                ));
            }
            if let Some(min) = num("minItems")
                && (items.len() as i64) < min
            {
                push(format!(
                    "Invalid value: {}: {path} in body should have at least {min} items",
                    items.len()
                ));
            }
            match s.get("x-kubernetes-list-type").and_then(Json::as_str) {
                Some("set") => {
                    for (i, item) in items.iter().enumerate() {
                        if items[..i].contains(item) {
                            out.push(Violation {
                                path: format!("{path}[{i}]"),
                                message: format!("Duplicate value: {}", shown(item)),
                            });
                        }
                    }
                }
                Some("map") => {
                    let keys: Vec<&str> = s
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Json::as_array)
                        .map(|k| k.iter().filter_map(Json::as_str).collect())
                        .unwrap_or_default();
                    let key_of = |item: &Json| -> Map<String, Json> {
                        keys.iter()
                            .filter_map(|k| item.get(*k).map(|v| ((*k).to_owned(), v.clone())))
                            .collect()
                    };
                    for (i, item) in items.iter().enumerate() {
                        let k = key_of(item);
                        if items[..i].iter().any(|other| key_of(other) == k) {
                            out.push(Violation {
                                path: format!("{path}[{i}]"),
                                message: format!("Duplicate value: {}", shown(&Json::Object(k))),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        Json::Object(map) => {
            if let Some(max) = num("maxProperties")
                && map.len() as i64 > max
            {
                push(format!(
                    "Too many: {}: must have at most {max} items",
                    map.len()
                ));
            }
        }
        _ => {}
    }
    if let Some(any) = s.get("anyOf").and_then(Json::as_array) {
        if !any.iter().any(|sub| sub_ok(sub, v, patterns)) {
            out.push(Violation {
                path: path.to_owned(),
                message: format!(
                    "Invalid value: {}: {path} in body must validate at least one schema (anyOf)",
                    shown(v)
                ),
            });
        }
    }
    if let Some(one) = s.get("oneOf").and_then(Json::as_array) {
        if one.iter().filter(|sub| sub_ok(sub, v, patterns)).count() != 1 {
            out.push(Violation {
                path: path.to_owned(),
                message: format!(
                    "Invalid value: {}: {path} in body must validate one and only one schema (oneOf)",
                    shown(v)
                ),
            });
        }
    }
}

/// Whether `v` satisfies a value-validation subschema (of `anyOf`, `oneOf`, `not`).
fn sub_ok(s: &Json, v: &Json, patterns: &HashMap<String, Option<regex::Regex>>) -> bool {
    let mut errs = Vec::new();
    value_constraints(s, v, "", patterns, &mut errs);
    if !errs.is_empty() {
        return false;
    }
    if let Some(not) = s.get("not")
        && sub_ok(not, v, patterns)
    {
        return false;
    }
    if let (Some(props), Json::Object(map)) = (s.get("properties").and_then(Json::as_object), v) {
        for (k, ps) in props {
            if let Some(child) = map.get(k)
                && !sub_ok(ps, child, patterns)
            {
                return false;
            }
        }
    }
    true
}

fn format_ok(format: &str, text: &str) -> bool {
    match format {
        "ipv4" => text.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => text.parse::<std::net::Ipv6Addr>().is_ok(),
        // int32 and other formats of numbers, and formats the API server does not check.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every CEL rule of the embedded CRDs parses: none is silently skipped.
    #[test]
    fn every_rule_of_the_crds_parses() {
        let s = Schemas::new();
        let (count, bad) = s.rule_report();
        assert!(count >= 70, "{count} rules");
        assert!(bad.is_empty(), "{bad:#?}");
        for (kind, schema) in &s.kinds {
            assert!(schema.is_object(), "{kind:?} schema missing");
        }
    }

    fn violations(kind: Kind, json: &str) -> Vec<Violation> {
        Schemas::new().validate(kind, &serde_json::from_str(json).unwrap())
    }

    /// OpenAPI constraints give the API server's messages at our field paths.
    #[test]
    fn openapi_constraints() {
        let v = violations(
            Kind::HttpRoute,
            r#"{"hostnames":["Foo.example.com"],"rules":[{"matches":[{"path":{"type":"Prefix","value":"/"}}]}]}"#,
        );
        assert!(
            v.iter().any(|v| v.path == "spec.hostnames[0]"
                && v.message.starts_with(
                    "Invalid value: \"Foo.example.com\": spec.hostnames[0] in body should match"
                )),
            "{v:#?}"
        );
        assert!(v.iter().any(|v| v.path == "spec.rules[0].matches[0].path.type"
            && v.message == r#"Unsupported value: "Prefix": supported values: "Exact", "PathPrefix", "RegularExpression""#), "{v:#?}");
        let v = violations(
            Kind::KubernetesGateway,
            r#"{"gatewayClassName":"x","listeners":[{"name":"a","port":70000,"protocol":"HTTP"},{"name":"a","port":80,"protocol":"HTTP"}]}"#,
        );
        assert!(v.iter().any(|v| v.path == "spec.listeners[0].port"
            && v.message == "Invalid value: 70000: spec.listeners[0].port in body should be less than or equal to 65535"), "{v:#?}");
        assert!(
            v.iter().any(|v| v.path == "spec.listeners[1]"
                && v.message == r#"Duplicate value: map[string]interface {}{"name":"a"}"#),
            "{v:#?}"
        );
    }

    /// CEL rules run with the CRD's message; defaults are applied first.
    #[test]
    fn cel_rules_with_their_messages() {
        let v = violations(
            Kind::HttpRoute,
            r#"{"rules":[{"filters":[{"type":"RequestRedirect","requestRedirect":{}}],"backendRefs":[{"name":"a","port":80}]}]}"#,
        );
        assert_eq!(
            v,
            vec![Violation {
                path: "spec.rules[0]".into(),
                message: "Invalid value: \"object\": RequestRedirect filter must not be used together with backendRefs".into()
            }]
        );
        // kind defaults to Service, so the port is required.
        let v = violations(
            Kind::HttpRoute,
            r#"{"rules":[{"backendRefs":[{"name":"a"}]}]}"#,
        );
        assert_eq!(
            v,
            vec![Violation {
                path: "spec.rules[0].backendRefs[0]".into(),
                message: "Invalid value: \"object\": Must have port for Service reference".into()
            }]
        );
        let v = violations(
            Kind::HttpRoute,
            r#"{"rules":[{"timeouts":{"request":"1s","backendRequest":"2s"}}]}"#,
        );
        assert_eq!(
            v[0].message,
            "Invalid value: \"object\": backendRequest timeout cannot be longer than request timeout"
        );
        assert!(
            violations(
                Kind::HttpRoute,
                r#"{"rules":[{"timeouts":{"request":"0s","backendRequest":"2s"}}]}"#
            )
            .is_empty()
        );
    }
}
