//! A compiled `HTTPMatchRequest`: request-time conditions (AND-ed) and the config-time
//! selectors (`sourceLabels`, `sourceNamespace`, `gateways`) that decide which proxies the
//! block applies to at all.

use std::collections::BTreeMap;

use http::HeaderName;
use mesh_model::host::resolve_gateway_name;
use mesh_model::virtual_service::{HttpMatchRequest, StringMatch, StringMatchKind};

use crate::error::CompileError;
use crate::program::MatchProgram;
use crate::regex::RegexCache;
use crate::request::RequestView;
use crate::string::StringMatcher;

/// Which part of the path a URI matcher reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum UriKind {
    /// Envoy `path`: the path without the query.
    Exact,
    /// Envoy `prefix`: a raw prefix of `:path`, query included.
    Prefix,
    /// Envoy `safe_regex`: the path without the query, whole.
    Regex,
    /// Envoy `path_separated_prefix` (the Gateway API's `PathPrefix`): the path without the
    /// query equals the prefix or continues it with `/`.
    SeparatedPrefix,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct UriMatcher {
    pub(crate) kind: UriKind,
    pub(crate) matcher: StringMatcher,
    pub(crate) ignore_case: bool,
}

/// What a header condition reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum HeaderTarget {
    Named(HeaderName),
    Authority,
    Method,
    Scheme,
    Path,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct HeaderCondition {
    pub(crate) key: Box<str>,
    pub(crate) target: HeaderTarget,
    pub(crate) matcher: StringMatcher,
    /// `withoutHeaders`: the request matches when the condition does not hold.
    pub(crate) negate: bool,
    /// Envoy coalesces the header's repeated values into one (see [`crate::inline`]).
    pub(crate) inline: bool,
    /// The header is `x-forwarded-proto`, which Envoy's connection manager sets to the
    /// connection's scheme when the request has none (measured with Envoy 1.40: `headers:
    /// {x-forwarded-proto: {exact: http}}` matches a plain request without the header).
    pub(crate) forwarded_proto: bool,
}

impl HeaderCondition {
    /// A condition on `target`; whether Envoy coalesces the header's values, and whether
    /// it is `x-forwarded-proto`, follow from the header's name.
    pub(crate) fn new(
        key: Box<str>,
        target: HeaderTarget,
        matcher: StringMatcher,
        negate: bool,
    ) -> Self {
        let inline = matches!(&target, HeaderTarget::Named(n) if crate::inline::is_request_inline(n.as_str()));
        let forwarded_proto =
            matches!(&target, HeaderTarget::Named(n) if n.as_str() == "x-forwarded-proto");
        HeaderCondition {
            key,
            target,
            matcher,
            negate,
            inline,
            forwarded_proto,
        }
    }
}

/// Which condition of a match block failed, without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failed {
    /// `uri`.
    Uri,
    /// `scheme`.
    Scheme,
    /// `method`.
    Method,
    /// `authority`.
    Authority,
    /// `port`.
    Port,
    /// The n-th header condition (`headers` then `withoutHeaders`, by name).
    Header(usize),
    /// The n-th query parameter condition (by name).
    Query(usize),
}

/// A request-time condition of a match block, as a tool that builds requests from a
/// configuration reads it (`meshctl diff` makes requests that hit and that miss each one).
#[derive(Clone, Copy, Debug)]
pub enum Condition<'a> {
    /// `uri`: `whole_path` for `exact` and `regex` (the path without the query), otherwise
    /// a raw prefix of `:path` (query included).
    Uri {
        /// The condition on the value.
        matcher: &'a StringMatcher,
        /// Whether the whole path is compared (not a prefix of `:path`).
        whole_path: bool,
        /// `ignoreUriCase`.
        ignore_case: bool,
    },
    /// `scheme`.
    Scheme(&'a StringMatcher),
    /// `method`.
    Method(&'a StringMatcher),
    /// `authority` (the whole `:authority`, port included).
    Authority(&'a StringMatcher),
    /// `port`.
    Port(u16),
    /// A `headers` entry, or with `without` a `withoutHeaders` entry (the request matches
    /// when the condition does not hold). `name` is as configured, pseudo-headers
    /// (`:authority`, `:method`, `:scheme`, `:path`) included.
    Header {
        /// The header name.
        name: &'a str,
        /// The condition on its value.
        matcher: &'a StringMatcher,
        /// `withoutHeaders`.
        without: bool,
    },
    /// A `queryParams` entry.
    Query {
        /// The parameter name.
        name: &'a str,
        /// The condition on its (raw) value.
        matcher: &'a StringMatcher,
    },
}

/// The selectors of a match block that are evaluated once per proxy, not per request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SourceSelector {
    labels: BTreeMap<String, String>,
    namespace: String,
    gateways: Vec<String>,
}

/// The proxy a route table is compiled for, as selectors see it.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// The proxy's namespace.
    pub namespace: &'a str,
    /// The proxy's workload labels (empty for a gateway).
    pub labels: &'a BTreeMap<String, String>,
    /// The gateway names the proxy answers to: `mesh` for sidecars, `ns/name` for a gateway.
    pub gateway: &'a str,
}

impl SourceSelector {
    /// Whether the block applies to `source`, as Istio's `sourceMatchHTTP` decides: with
    /// match-level `gateways`, only those gateways (and labels and namespace are not
    /// looked at); otherwise `sourceLabels` must be a subset of the proxy's labels and
    /// `sourceNamespace`, when set, its namespace.
    pub fn applies_to(&self, source: &Source<'_>) -> bool {
        if !self.gateways.is_empty() {
            return self.gateways.iter().any(|g| g == source.gateway);
        }
        self.labels
            .iter()
            .all(|(k, v)| source.labels.get(k) == Some(v))
            && (self.namespace.is_empty() || self.namespace == source.namespace)
    }

    /// The resolved match-level gateways (`ns/name` or `mesh`).
    pub fn gateways(&self) -> &[String] {
        &self.gateways
    }
}

/// A compiled match block.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpMatch {
    pub(crate) name: String,
    pub(crate) uri: Option<UriMatcher>,
    pub(crate) scheme: Option<StringMatcher>,
    pub(crate) method: Option<StringMatcher>,
    pub(crate) authority: Option<StringMatcher>,
    pub(crate) port: Option<u16>,
    pub(crate) headers: Box<[HeaderCondition]>,
    pub(crate) query: Box<[(Box<str>, StringMatcher)]>,
    pub(crate) selector: SourceSelector,
    /// The request-time conditions above as one block of steps, which [`check`] runs (and
    /// which a route table copies into its own program). Built by [`finish`] from the
    /// fields above; every constructor ends with it.
    ///
    /// [`check`]: HttpMatch::check
    /// [`finish`]: HttpMatch::finish
    pub(crate) program: MatchProgram,
}

impl HttpMatch {
    /// Compiles a match block of a VirtualService in `namespace` (used to resolve gateway
    /// names).
    pub fn compile(m: &HttpMatchRequest, namespace: &str) -> Result<Self, CompileError> {
        Self::compile_cached(m, namespace, &mut RegexCache::new())
    }

    /// [`compile`](Self::compile), taking regexes from `cache`, so that the matches of one
    /// route table share one compiled program per pattern (see [`RegexCache`]).
    pub fn compile_cached(
        m: &HttpMatchRequest,
        namespace: &str,
        cache: &mut RegexCache,
    ) -> Result<Self, CompileError> {
        let uri = match &m.uri {
            None => None,
            Some(sm) => match sm.kind() {
                StringMatchKind::Any => None,
                kind => Some(UriMatcher {
                    kind: match kind {
                        StringMatchKind::Exact(_) => UriKind::Exact,
                        StringMatchKind::Prefix(_) => UriKind::Prefix,
                        _ => UriKind::Regex,
                    },
                    matcher: match kind {
                        // `regex: "*"` has no meaning for a path; compile it as a regex so
                        // that it fails loudly like Envoy's RE2 would.
                        StringMatchKind::Regex(r) => StringMatcher::Regex(cache.get(r)?),
                        _ => StringMatcher::compile_cached(sm, cache)?,
                    },
                    ignore_case: m.ignore_uri_case,
                }),
            },
        };
        let optional = |sm: Option<&StringMatch>, cache: &mut RegexCache| {
            sm.map(|sm| StringMatcher::compile_cached(sm, cache))
                .transpose()
        };
        let mut headers = Vec::new();
        for (negate, map) in [(false, &m.headers), (true, &m.without_headers)] {
            for (key, sm) in map {
                let target = header_target(key)?;
                headers.push(HeaderCondition::new(
                    key.as_str().into(),
                    target,
                    StringMatcher::compile_cached(sm, cache)?,
                    negate,
                ));
            }
        }
        let mut query = Vec::new();
        for (key, sm) in &m.query_params {
            query.push((
                key.as_str().into(),
                StringMatcher::compile_cached(sm, cache)?,
            ));
        }
        let port = match m.port {
            0 => None,
            p => Some(u16::try_from(p).map_err(|_| CompileError::Unsupported {
                what: format!("match port {p} (out of range)"),
            })?),
        };
        HttpMatch {
            name: m.name.clone(),
            uri,
            scheme: optional(m.scheme.as_deref(), cache)?,
            method: optional(m.method.as_deref(), cache)?,
            authority: optional(m.authority.as_deref(), cache)?,
            port,
            headers: headers.into(),
            query: query.into(),
            selector: SourceSelector {
                labels: m.source_labels.clone(),
                namespace: m.source_namespace.clone(),
                gateways: m
                    .gateways
                    .iter()
                    .map(|g| resolve_gateway_name(g, namespace))
                    .collect(),
            },
            program: MatchProgram::default(),
        }
        .finish()
    }

    /// Builds [`program`](Self::program) from the conditions: the last step of every
    /// constructor.
    pub(crate) fn finish(mut self) -> Result<Self, CompileError> {
        self.program = MatchProgram::of(&self)?;
        Ok(self)
    }

    /// The block's `name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The config-time selectors.
    pub fn selector(&self) -> &SourceSelector {
        &self.selector
    }

    /// The request-time conditions, in the order [`check`](Self::check) evaluates them.
    pub fn conditions(&self) -> Vec<Condition<'_>> {
        let mut out = Vec::new();
        if let Some(u) = &self.uri {
            out.push(Condition::Uri {
                matcher: &u.matcher,
                whole_path: u.kind != UriKind::Prefix,
                ignore_case: u.ignore_case,
            });
        }
        out.extend(self.scheme.as_ref().map(Condition::Scheme));
        out.extend(self.method.as_ref().map(Condition::Method));
        out.extend(self.authority.as_ref().map(Condition::Authority));
        out.extend(self.port.map(Condition::Port));
        out.extend(self.headers.iter().map(|h| Condition::Header {
            name: &h.key,
            matcher: &h.matcher,
            without: h.negate,
        }));
        out.extend(
            self.query
                .iter()
                .map(|(name, matcher)| Condition::Query { name, matcher }),
        );
        out
    }

    /// Whether this block is a catch-all as Istio's `IsCatchAllRoute` decides: no
    /// request-time condition at all, or only a `prefix: /` / `regex: .*` URI. (`prefix: ""`
    /// also matches everything, but Istio does not treat it as a catch-all.)
    pub fn is_catch_all(&self) -> bool {
        let uri_all = match &self.uri {
            None => true,
            Some(u) => match (&u.kind, &u.matcher) {
                (UriKind::Prefix, StringMatcher::Prefix(p)) => &p[..] == b"/",
                (UriKind::Regex, StringMatcher::Regex(r)) => r.as_str() == ".*",
                _ => false,
            },
        };
        uri_all
            && self.scheme.is_none()
            && self.method.is_none()
            && self.authority.is_none()
            && self.port.is_none()
            && self.headers.is_empty()
            && self.query.is_empty()
    }

    /// Whether the matched part of the path was a prefix, and which: used by
    /// `rewrite.uri`, which replaces only the matched prefix.
    pub fn uri_prefix(&self) -> Option<&[u8]> {
        match &self.uri {
            Some(UriMatcher {
                kind: UriKind::Prefix | UriKind::SeparatedPrefix,
                matcher: StringMatcher::Prefix(p),
                ..
            }) => Some(p),
            _ => None,
        }
    }

    /// Whether the URI condition is `exact` or `regex` (the whole path is rewritten).
    pub fn uri_is_whole_path(&self) -> bool {
        matches!(
            self.uri,
            Some(UriMatcher {
                kind: UriKind::Exact | UriKind::Regex,
                ..
            })
        )
    }

    /// Whether `req` satisfies every request-time condition.
    #[inline]
    pub fn matches(&self, req: &RequestView<'_>) -> bool {
        self.check(req).is_ok()
    }

    /// The first condition `req` fails, in the order uri, scheme, method, authority, port,
    /// headers, query parameters.
    pub fn check(&self, req: &RequestView<'_>) -> Result<(), Failed> {
        self.program.check(0, req)
    }

    /// A sentence saying why `req` failed `failed`, for `meshctl route`.
    pub fn explain(&self, failed: Failed, req: &RequestView<'_>) -> String {
        match failed {
            Failed::Uri => {
                let u = self.uri.as_ref();
                let kind = u.map_or(UriKind::Prefix, |u| u.kind);
                let value = if kind == UriKind::Prefix {
                    req.path_and_query()
                } else {
                    req.path()
                };
                format!(
                    "uri {}{} does not match {value:?}",
                    u.map(|u| match u.kind {
                        UriKind::SeparatedPrefix => {
                            format!("path-separated {}", u.matcher.describe())
                        }
                        _ => u.matcher.describe(),
                    })
                    .unwrap_or_default(),
                    if u.is_some_and(|u| u.ignore_case) {
                        " (ignoreUriCase)"
                    } else {
                        ""
                    }
                )
            }
            Failed::Scheme => describe_field("scheme", self.scheme.as_ref(), req.scheme()),
            Failed::Method => describe_field("method", self.method.as_ref(), req.method()),
            Failed::Authority => {
                describe_field("authority", self.authority.as_ref(), req.authority())
            }
            Failed::Port => format!(
                "port {} does not match the request port {}",
                self.port.unwrap_or_default(),
                req.port()
            ),
            Failed::Header(i) => {
                let Some(h) = self.headers.get(i) else {
                    return String::new();
                };
                let values = header_values(h, req);
                let shown = if values.is_empty() {
                    "it is absent".to_owned()
                } else {
                    let v: Vec<String> = values
                        .iter()
                        .map(|v| format!("{:?}", String::from_utf8_lossy(v)))
                        .collect();
                    format!("it is {}", v.join(", "))
                };
                if h.negate {
                    format!("withoutHeaders {} {}: {shown}", h.key, h.matcher.describe())
                } else {
                    format!("header {} {}: {shown}", h.key, h.matcher.describe())
                }
            }
            Failed::Query(i) => {
                let Some((k, m)) = self.query.get(i) else {
                    return String::new();
                };
                match req.query_param(k) {
                    None => format!("query parameter {k} {}: it is absent", m.describe()),
                    Some(v) => format!("query parameter {k} {}: it is {v:?}", m.describe()),
                }
            }
        }
    }
}

fn describe_field(field: &str, m: Option<&StringMatcher>, value: &str) -> String {
    format!(
        "{field} {} does not match {value:?}",
        m.map(|m| m.describe()).unwrap_or_default()
    )
}

fn header_target(key: &str) -> Result<HeaderTarget, CompileError> {
    Ok(match key.to_ascii_lowercase().as_str() {
        ":authority" | "host" => HeaderTarget::Authority,
        ":method" => HeaderTarget::Method,
        ":scheme" => HeaderTarget::Scheme,
        ":path" => HeaderTarget::Path,
        k if k.starts_with("@request.auth.claims") => {
            return Err(CompileError::Unsupported {
                what: format!("JWT claim routing on {key:?}"),
            });
        }
        _ => HeaderTarget::Named(HeaderName::from_bytes(key.as_bytes()).map_err(|_| {
            CompileError::HeaderName {
                name: key.to_owned(),
            }
        })?),
    })
}

fn header_values<'r>(
    h: &HeaderCondition,
    req: &RequestView<'r>,
) -> Vec<std::borrow::Cow<'r, [u8]>> {
    use std::borrow::Cow;
    match &h.target {
        HeaderTarget::Named(name)
            if h.inline && req.headers().get_all(name).iter().nth(1).is_some() =>
        {
            vec![Cow::Owned(crate::program::joined(
                req.headers().get_all(name).iter().map(|v| v.as_bytes()),
            ))]
        }
        HeaderTarget::Named(name) if h.forwarded_proto && !req.headers().contains_key(name) => {
            vec![Cow::Borrowed(req.listener_scheme().as_bytes())]
        }
        HeaderTarget::Named(name) => req
            .headers()
            .get_all(name)
            .iter()
            .map(|v| Cow::Borrowed(v.as_bytes()))
            .collect(),
        HeaderTarget::Authority => vec![Cow::Borrowed(req.authority().as_bytes())],
        HeaderTarget::Method => vec![Cow::Borrowed(req.method().as_bytes())],
        HeaderTarget::Scheme => vec![Cow::Borrowed(req.scheme().as_bytes())],
        HeaderTarget::Path => vec![Cow::Borrowed(req.path_and_query().as_bytes())],
    }
}

#[cfg(test)]
mod tests;
