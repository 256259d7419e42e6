//! Routing-test documents: `meshctl test`'s own format (`cases:`) and
//! istio-config-validator's (`testCases:`), read into cases whose requests are expanded and
//! whose expectations are patterns over the JSON that `meshctl route -o json` prints.
//!
//! Our format:
//!
//! ```yaml
//! proxy: {namespace: shop, labels: {app: web}}    # or {gateway: ns/name}; optional
//! cases:
//! - description: the canary header goes to v2
//!   request:                       # any field may be a list: every combination is sent
//!     authority: shop.example.com  # required
//!     method: GET                  # default GET
//!     scheme: http                 # default http
//!     path: /                      # default /
//!     port: 80                     # default: the authority's port, else 80 (443 for https)
//!     headers: {x-canary: always}  # a value may be a list
//!     query: {q: x}                # appended to the path; a value may be a list
//!     source: {namespace: shop, labels: {app: web}}   # the sidecar the request leaves
//!   expect: {outcome: route, destination: {subset: v2}}  # only the given fields
//!   expectNot: {destination: {subset: v1}}               # each field given must differ
//!   shares: [{destination: {subset: v2}, percent: 10}]   # exact, from the weights
//!   tolerance: 0.5                                        # percentage points for shares
//! ```

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use mesh_match::PathNormalization;
use mesh_model::virtual_service::{
    Delegate, Headers, HttpFaultInjection, HttpRedirect, HttpRewrite, HttpRouteDestination,
};
use mesh_model::{ForeignDocument, Origin};
use mesh_route::Identity;
use serde_json::{Map, Value};

use crate::request::Request;

/// The most requests one case may expand to.
pub(crate) const MAX_REQUESTS_PER_CASE: usize = 10_000;

/// A test case: requests and what is expected of each.
#[derive(Debug)]
pub(crate) struct Case {
    /// Where the case starts (`file:line`).
    pub(crate) origin: Origin,
    /// Its description (or `case N`).
    pub(crate) description: String,
    /// The requests, with the proxy that decides each (`None`: the command line's).
    pub(crate) requests: Vec<(Option<Identity>, Request)>,
    /// What is checked of every request.
    pub(crate) checks: Vec<Check>,
    /// The distribution asserted over all the requests, if any.
    pub(crate) shares: Option<Shares>,
}

/// One expectation: a pattern over route's JSON (only the keys it gives are compared).
#[derive(Debug)]
pub(crate) struct Check {
    /// The field of the test file (`expect.destination`, `route`), for messages.
    pub(crate) label: String,
    /// Where it is written.
    pub(crate) origin: Origin,
    /// What is expected.
    pub(crate) want: Want,
    /// `expectNot` / `wantMatch: false`: the check passes when the pattern does not match.
    pub(crate) negate: bool,
}

/// What a check expects.
#[derive(Debug)]
pub(crate) enum Want {
    /// A pattern over route's JSON.
    Pattern(Value),
    /// istio-config-validator's `route`: the destinations of the matched rule, in order.
    IcvRoute(Vec<HttpRouteDestination>),
    /// istio-config-validator's `rewrite`: the path and authority sent upstream are those
    /// this rewrite gives for the request.
    IcvRewrite(HttpRewrite),
    /// istio-config-validator's `redirect`: the redirect this gives for the request.
    IcvRedirect(HttpRedirect),
    /// istio-config-validator's `fault`.
    IcvFault(HttpFaultInjection),
    /// istio-config-validator's `headers`.
    IcvHeaders(Headers),
    /// istio-config-validator's `delegate`: the rule comes from this delegate.
    IcvDelegate(Delegate),
}

/// A distribution over the requests of a case.
#[derive(Debug)]
pub(crate) struct Shares {
    /// Patterns over `{outcome, destination}` and the percent of traffic each should get.
    pub(crate) items: Vec<(Value, f64)>,
    /// Allowed difference, in percentage points.
    pub(crate) tolerance: f64,
    /// Where it is written.
    pub(crate) origin: Origin,
}

/// A problem with a test document: where and what.
#[derive(Debug)]
pub(crate) struct TestFileError {
    /// `file:line`.
    pub(crate) origin: Origin,
    /// The field path in the document.
    pub(crate) path: String,
    /// What is wrong.
    pub(crate) message: String,
}

impl std::fmt::Display for TestFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.origin, self.path, self.message)
    }
}

/// Reads the cases of one test document.
pub(crate) fn cases(
    doc: &ForeignDocument,
    normalization: PathNormalization,
) -> Result<Vec<Case>, TestFileError> {
    let err = |path: &str, message: String| TestFileError {
        origin: doc.origin.at_path(path),
        path: path.to_owned(),
        message,
    };
    let Some(top) = doc.value.as_object() else {
        return Err(err("", "a test document must be a mapping".into()));
    };
    let ctx = Ctx { doc, normalization };
    if top.contains_key("testCases") {
        if let Some(k) = top.keys().find(|k| *k != "testCases") {
            return Err(err(
                k,
                "unknown field (an istio-config-validator document has only `testCases`)".into(),
            ));
        }
        return list(&doc.value["testCases"], "testCases", &err)?
            .iter()
            .enumerate()
            .map(|(i, c)| ctx.icv_case(c, &format!("testCases[{i}]"), i))
            .collect();
    }
    for k in top.keys() {
        if k != "cases" && k != "proxy" {
            return Err(err(k, "unknown field (expected `proxy` or `cases`)".into()));
        }
    }
    let proxy = match top.get("proxy") {
        Some(p) => Some(ctx.proxy(p, "proxy")?),
        None => None,
    };
    list(&doc.value["cases"], "cases", &err)?
        .iter()
        .enumerate()
        .map(|(i, c)| ctx.case(c, &format!("cases[{i}]"), i, proxy.as_ref()))
        .collect()
}

fn list<'v>(
    v: &'v Value,
    path: &str,
    err: &dyn Fn(&str, String) -> TestFileError,
) -> Result<&'v Vec<Value>, TestFileError> {
    v.as_array()
        .ok_or_else(|| err(path, "must be a list".into()))
}

/// One value or a list of alternatives.
fn alternatives(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

struct Ctx<'d> {
    doc: &'d ForeignDocument,
    normalization: PathNormalization,
}

/// One request before expansion into a [`Request`]: every field already a single value.
#[derive(Clone, Debug, Default)]
struct Spec {
    method: String,
    scheme: String,
    authority: String,
    path: String,
    port: Option<u16>,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    source: Option<(String, BTreeMap<String, String>)>,
}

impl Ctx<'_> {
    fn err(&self, path: &str, message: impl Into<String>) -> TestFileError {
        TestFileError {
            origin: self.doc.origin.at_path(path),
            path: path.to_owned(),
            message: message.into(),
        }
    }

    fn string(&self, v: &Value, path: &str) -> Result<String, TestFileError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(self.err(path, "must be a string")),
        }
    }

    fn object<'v>(
        &self,
        v: &'v Value,
        path: &str,
    ) -> Result<&'v Map<String, Value>, TestFileError> {
        v.as_object()
            .ok_or_else(|| self.err(path, "must be a mapping"))
    }

    fn string_map(&self, v: &Value, path: &str) -> Result<BTreeMap<String, String>, TestFileError> {
        self.object(v, path)?
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.string(v, &format!("{path}.{k}"))?)))
            .collect()
    }

    /// `proxy: {namespace, labels}` or `{gateway: ns/name}`.
    fn proxy(&self, v: &Value, path: &str) -> Result<Identity, TestFileError> {
        let o = self.object(v, path)?;
        for k in o.keys() {
            if !matches!(k.as_str(), "namespace" | "labels" | "gateway") {
                return Err(self.err(
                    &format!("{path}.{k}"),
                    "unknown field (expected namespace, labels or gateway)",
                ));
            }
        }
        if let Some(g) = o.get("gateway") {
            if o.contains_key("namespace") || o.contains_key("labels") {
                return Err(self.err(
                    path,
                    "a gateway proxy has no namespace or labels of its own",
                ));
            }
            let g = self.string(g, &format!("{path}.gateway"))?;
            return Identity::parse_gateway(&g).ok_or_else(|| {
                self.err(
                    &format!("{path}.gateway"),
                    format!("{g:?} is not namespace/name"),
                )
            });
        }
        let ns = match o.get("namespace") {
            Some(n) => self.string(n, &format!("{path}.namespace"))?,
            None => "default".to_owned(),
        };
        let labels = match o.get("labels") {
            Some(l) => self.string_map(l, &format!("{path}.labels"))?,
            None => BTreeMap::new(),
        };
        Ok(Identity::sidecar_with_labels(ns, labels))
    }

    fn case(
        &self,
        v: &Value,
        path: &str,
        index: usize,
        proxy: Option<&Identity>,
    ) -> Result<Case, TestFileError> {
        let o = self.object(v, path)?;
        for k in o.keys() {
            if !matches!(
                k.as_str(),
                "description"
                    | "proxy"
                    | "request"
                    | "expect"
                    | "expectNot"
                    | "shares"
                    | "tolerance"
            ) {
                return Err(self.err(
                    &format!("{path}.{k}"),
                    "unknown field (expected description, proxy, request, expect, expectNot, shares or tolerance)",
                ));
            }
        }
        let description = match o.get("description") {
            Some(d) => self.string(d, &format!("{path}.description"))?,
            None => format!("case {index}"),
        };
        let proxy = match o.get("proxy") {
            Some(p) => Some(self.proxy(p, &format!("{path}.proxy"))?),
            None => proxy.cloned(),
        };
        let rpath = format!("{path}.request");
        let request = o
            .get("request")
            .ok_or_else(|| self.err(path, "a case needs a `request`"))?;
        let specs = self.expand(request, &rpath)?;
        let mut requests = Vec::with_capacity(specs.len());
        for spec in specs {
            let identity = match (&spec.source, &proxy) {
                (Some(_), Some(Identity::Gateway { .. })) => {
                    return Err(self.err(
                        &format!("{rpath}.source"),
                        "a request through a gateway has no source sidecar",
                    ));
                }
                (Some((ns, labels)), _) => {
                    Some(Identity::sidecar_with_labels(ns.clone(), labels.clone()))
                }
                (None, p) => p.clone(),
            };
            requests.push((identity, self.request(&spec, &rpath)?));
        }
        let mut checks = Vec::new();
        for (key, negate) in [("expect", false), ("expectNot", true)] {
            let Some(e) = o.get(key) else { continue };
            let epath = format!("{path}.{key}");
            for (field, want) in self.object(e, &epath)? {
                checks.push(Check {
                    label: format!("{key}.{field}"),
                    origin: self.doc.origin.at_path(&format!("{epath}.{field}")),
                    want: Want::Pattern(Value::Object(Map::from_iter([(
                        field.clone(),
                        want.clone(),
                    )]))),
                    negate,
                });
            }
        }
        let shares = match o.get("shares") {
            None => {
                if o.contains_key("tolerance") {
                    return Err(self.err(
                        &format!("{path}.tolerance"),
                        "`tolerance` applies to `shares`, which the case does not have",
                    ));
                }
                None
            }
            Some(s) => {
                let spath = format!("{path}.shares");
                let mut items = Vec::new();
                for (i, item) in s
                    .as_array()
                    .ok_or_else(|| self.err(&spath, "must be a list"))?
                    .iter()
                    .enumerate()
                {
                    let ipath = format!("{spath}[{i}]");
                    let mut item = self.object(item, &ipath)?.clone();
                    let percent = item
                        .remove("percent")
                        .and_then(|p| p.as_f64())
                        .ok_or_else(|| self.err(&ipath, "needs `percent`, a number"))?;
                    for k in item.keys() {
                        if k != "outcome" && k != "destination" {
                            return Err(self.err(
                                &format!("{ipath}.{k}"),
                                "unknown field (expected outcome, destination, percent)",
                            ));
                        }
                    }
                    items.push((Value::Object(item), percent));
                }
                let tolerance = match o.get("tolerance") {
                    None => 0.0,
                    Some(t) => t.as_f64().filter(|t| *t >= 0.0).ok_or_else(|| {
                        self.err(
                            &format!("{path}.tolerance"),
                            "must be a number of percentage points, 0 or more",
                        )
                    })?,
                };
                Some(Shares {
                    items,
                    tolerance,
                    origin: self.doc.origin.at_path(&spath),
                })
            }
        };
        if checks.is_empty() && shares.is_none() {
            return Err(self.err(path, "a case needs `expect`, `expectNot` or `shares`"));
        }
        Ok(Case {
            origin: self.doc.origin.at_path(path),
            description,
            requests,
            checks,
            shares,
        })
    }

    /// Every combination of the request's list-valued fields.
    fn expand(&self, v: &Value, path: &str) -> Result<Vec<Spec>, TestFileError> {
        let o = self.object(v, path)?;
        let mut specs = vec![Spec {
            method: "GET".into(),
            scheme: "http".into(),
            path: "/".into(),
            ..Spec::default()
        }];
        let mut seen_authority = false;
        for (k, v) in o {
            let fpath = format!("{path}.{k}");
            let grow = |specs: Vec<Spec>,
                        f: &dyn Fn(&mut Spec, &Value) -> Result<(), TestFileError>,
                        values: Vec<&Value>|
             -> Result<Vec<Spec>, TestFileError> {
                if values.is_empty() {
                    return Err(self.err(&fpath, "an empty list sends no request"));
                }
                if specs.len().saturating_mul(values.len()) > MAX_REQUESTS_PER_CASE {
                    return Err(self.err(
                        &fpath,
                        format!("the case expands to more than {MAX_REQUESTS_PER_CASE} requests"),
                    ));
                }
                let mut out = Vec::with_capacity(specs.len() * values.len());
                for s in &specs {
                    for v in &values {
                        let mut s = s.clone();
                        f(&mut s, v)?;
                        out.push(s);
                    }
                }
                Ok(out)
            };
            specs = match k.as_str() {
                "method" => grow(specs, &|s, v| { s.method = self.string(v, &fpath)?; Ok(()) }, alternatives(v))?,
                "scheme" => grow(specs, &|s, v| { s.scheme = self.string(v, &fpath)?; Ok(()) }, alternatives(v))?,
                "authority" => {
                    seen_authority = true;
                    grow(specs, &|s, v| { s.authority = self.string(v, &fpath)?; Ok(()) }, alternatives(v))?
                }
                "path" => grow(specs, &|s, v| { s.path = self.string(v, &fpath)?; Ok(()) }, alternatives(v))?,
                "port" => grow(specs, &|s, v| {
                    s.port = Some(v.as_u64().and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0)
                        .ok_or_else(|| self.err(&fpath, "must be a port number"))?);
                    Ok(())
                }, alternatives(v))?,
                "source" => grow(specs, &|s, v| {
                    let o = self.object(v, &fpath)?;
                    for k in o.keys() {
                        if k != "namespace" && k != "labels" {
                            return Err(self.err(&format!("{fpath}.{k}"), "unknown field (expected namespace or labels)"));
                        }
                    }
                    let ns = match o.get("namespace") { Some(n) => self.string(n, &fpath)?, None => "default".into() };
                    let labels = match o.get("labels") { Some(l) => self.string_map(l, &fpath)?, None => BTreeMap::new() };
                    s.source = Some((ns, labels));
                    Ok(())
                }, alternatives(v))?,
                "headers" | "query" => {
                    let is_query = k == "query";
                    for (name, values) in self.object(v, &fpath)? {
                        let npath = format!("{fpath}.{name}");
                        specs = grow(specs, &|s, v| {
                            let value = self.string(v, &npath)?;
                            if is_query { s.query.push((name.clone(), value)) } else { s.headers.push((name.clone(), value)) }
                            Ok(())
                        }, alternatives(values))?;
                    }
                    specs
                }
                _ => return Err(self.err(&fpath, "unknown field (expected method, scheme, authority, path, port, headers, query or source)")),
            };
        }
        if !seen_authority {
            return Err(self.err(path, "a request needs an `authority`"));
        }
        Ok(specs)
    }

    /// The request a spec describes.
    fn request(&self, s: &Spec, path: &str) -> Result<Request, TestFileError> {
        let method = Method::from_bytes(s.method.as_bytes()).map_err(|_| {
            self.err(
                &format!("{path}.method"),
                format!("{:?} is not an HTTP method", s.method),
            )
        })?;
        if s.scheme != "http" && s.scheme != "https" {
            return Err(self.err(
                &format!("{path}.scheme"),
                format!("{:?}: the scheme must be http or https", s.scheme),
            ));
        }
        if s.authority.is_empty()
            || s.authority
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(self.err(
                &format!("{path}.authority"),
                format!("{:?} is not an authority", s.authority),
            ));
        }
        let mut target = s.path.clone();
        if !target.starts_with('/') {
            return Err(self.err(
                &format!("{path}.path"),
                format!("{target:?} must start with /"),
            ));
        }
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
        if target
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(self.err(
                &format!("{path}.path"),
                format!("{target:?}: a request target has no spaces or control characters"),
            ));
        }
        let mut headers = HeaderMap::new();
        let mut authority = s.authority.clone();
        for (k, v) in &s.headers {
            let hpath = format!("{path}.headers.{k}");
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| self.err(&hpath, format!("{k:?} is not a header name")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| self.err(&hpath, format!("{v:?} is not a header value")))?;
            if name == http::header::HOST {
                authority = v.clone();
            } else {
                headers.append(name, value);
            }
        }
        let default_port = if s.scheme == "https" { 443 } else { 80 };
        let port = s
            .port
            .or_else(|| mesh_match::authority_port(&authority))
            .unwrap_or(default_port);
        Ok(Request::from_parts(
            method,
            s.scheme.clone(),
            authority,
            port,
            target,
            headers,
            self.normalization,
        ))
    }

    /// An istio-config-validator test case.
    fn icv_case(&self, v: &Value, path: &str, index: usize) -> Result<Case, TestFileError> {
        let o = self.object(v, path)?;
        let known = [
            "description",
            "wantMatch",
            "request",
            "route",
            "redirect",
            "rewrite",
            "fault",
            "headers",
            "delegate",
        ];
        if let Some(k) = o.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(self.err(
                &format!("{path}.{k}"),
                format!(
                    "unknown field (istio-config-validator's are {})",
                    known.join(", ")
                ),
            ));
        }
        let description = match o.get("description") {
            Some(d) => self.string(d, &format!("{path}.description"))?,
            None => format!("test case {index}"),
        };
        // ICV reads a missing wantMatch as false (Go's zero value).
        let negate = match o.get("wantMatch") {
            None => true,
            Some(Value::Bool(b)) => !b,
            Some(_) => return Err(self.err(&format!("{path}.wantMatch"), "must be true or false")),
        };
        let rpath = format!("{path}.request");
        let r = self.object(
            o.get("request")
                .ok_or_else(|| self.err(path, "a test case needs a `request`"))?,
            &rpath,
        )?;
        let mut request = Map::new();
        for (k, v) in r {
            let ours = match k.as_str() {
                "authority" => "authority",
                "method" => "method",
                "uri" => "path",
                "headers" => "headers",
                _ => return Err(self.err(
                    &format!("{rpath}.{k}"),
                    "unknown field (istio-config-validator's are authority, method, uri, headers)",
                )),
            };
            if k != "headers" && v.as_array().is_some_and(Vec::is_empty) {
                return Err(self.err(
                    &format!("{rpath}.{k}"),
                    "is empty (istio-config-validator requires at least one)",
                ));
            }
            request.insert(ours.to_owned(), v.clone());
        }
        for required in ["authority", "method", "path"] {
            if !request.contains_key(required) {
                let name = if required == "path" { "uri" } else { required };
                return Err(self.err(
                    &rpath,
                    format!("`{name}` is required (istio-config-validator requires it)"),
                ));
            }
        }
        let specs = self.expand(&Value::Object(request), &rpath)?;
        let requests = specs
            .iter()
            .map(|s| Ok((None, self.request(s, &rpath)?)))
            .collect::<Result<Vec<_>, TestFileError>>()?;
        let mut checks = Vec::new();
        for field in [
            "route", "rewrite", "redirect", "fault", "headers", "delegate",
        ] {
            let Some(v) = o.get(field) else { continue };
            if v.is_null() {
                continue;
            }
            let fpath = format!("{path}.{field}");
            let bad = |e: serde_json::Error| self.err(&fpath, format!("not an Istio {field}: {e}"));
            let want = match field {
                "route" => {
                    let ds: Vec<HttpRouteDestination> =
                        serde_json::from_value(v.clone()).map_err(bad)?;
                    if let Some(i) = ds.iter().position(|d| d.headers.is_some()) {
                        return Err(self.err(&format!("{fpath}[{i}].headers"), "per-destination header operations are not compared; assert `headers:` (the operations Envoy applies, route and destination together)"));
                    }
                    Want::IcvRoute(ds)
                }
                "rewrite" => Want::IcvRewrite(serde_json::from_value(v.clone()).map_err(bad)?),
                "redirect" => {
                    let r: HttpRedirect = serde_json::from_value(v.clone()).map_err(bad)?;
                    if mesh_route::policy::Redirect::compile(&r).is_none() {
                        return Err(self.err(
                            &fpath,
                            format!("redirectCode {} is not one Istio supports", r.redirect_code),
                        ));
                    }
                    Want::IcvRedirect(r)
                }
                "fault" => Want::IcvFault(serde_json::from_value(v.clone()).map_err(bad)?),
                "headers" => Want::IcvHeaders(serde_json::from_value(v.clone()).map_err(bad)?),
                _ => Want::IcvDelegate(serde_json::from_value(v.clone()).map_err(bad)?),
            };
            checks.push(Check {
                label: field.to_owned(),
                origin: self.doc.origin.at_path(&fpath),
                want,
                negate,
            });
        }
        // A case without any of them passes as soon as its requests are decided, as there.
        Ok(Case {
            origin: self.doc.origin.at_path(path),
            description,
            requests,
            checks,
            shares: None,
        })
    }
}

#[cfg(test)]
mod tests;
