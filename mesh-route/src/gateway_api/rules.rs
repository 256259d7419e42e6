//! HTTPRoute and GRPCRoute rules compiled into [`Rule`]s. Each filter is translated into the
//! Istio field that istiod's Gateway API conversion (`pilot/pkg/config/kube/gateway`
//! `conversion.go`) produces and compiled by the same code as a VirtualService's, so that a
//! behaviour has one implementation: `RequestHeaderModifier`/`ResponseHeaderModifier` are
//! `headers`, `RequestRedirect` is `redirect` (port derived from the request's listener, or
//! the scheme's default when a scheme is set), `URLRewrite` is `rewrite` (`ReplacePrefixMatch`
//! a prefix rewrite, or for `/` a regex that keeps the rest of the path; `ReplaceFullPath` a
//! regex rewrite of the whole path), `CORS` is `corsPolicy` (unmatched preflights are not
//! forwarded), `RequestMirror` a mirror (all requests, `percent`, or `fraction`), `timeouts`
//! the route timeout and the per-try timeout, `retry` the retry policy.
//!
//! Backends: weight-0 backends are dropped; a rule whose weights sum to 0 (or that has no
//! backendRefs and no redirect) answers 500; a backendRef that does not resolve stays in the
//! split and answers 500 for its share, as Envoy's `cluster_not_found_response_code` does for
//! Istio. Filters the engine cannot run (`ExtensionRef`, `ExternalAuth`, and any filter but
//! the header modifiers on a backendRef) make the rule answer 500, as the spec requires of a
//! filter that cannot be applied, with a warning.

use std::collections::BTreeMap;
use std::sync::Arc;

use mesh_model::gateway_api::binding::{self, Backend};
use mesh_model::gateway_api::{
    BackendObjectReference, Cors, GrpcRoute, GrpcRouteRule, HeaderFilter, HttpPathModifier,
    HttpRequestMirror, HttpRequestRedirect, HttpRoute, HttpRouteFilter, HttpRouteRule,
    HttpUrlRewrite, parse_duration,
};
use mesh_model::virtual_service::{
    CorsPolicy as CorsSpec, HeaderOperations, Headers, HttpRedirect, HttpRetry, HttpRewrite,
    RedirectPortSelection, RegexRewrite, StringMatch, UnmatchedPreflights,
};
use mesh_model::{Resource, Resources};

use crate::destination::{DrIndex, RouteDestination};
use crate::error::Warning;
use crate::policy::{
    CorsPolicy, DirectResponse, FaultPolicy, Fraction, HeadersPolicy, PolicySet, Redirect,
    RetryPolicy, Rewrite,
};
use crate::rule::{Action, Mirror, Rule, RuleNames, Split};

/// What rules are compiled with.
pub(crate) struct RuleCtx<'a, 'r> {
    pub(crate) resources: &'r Resources,
    /// Compiling for sidecars (GAMMA): backends of other namespaces need no ReferenceGrant.
    pub(crate) mesh: bool,
    pub(crate) drs: &'a DrIndex<'r>,
    pub(crate) warnings: &'a mut Vec<Warning>,
}

impl RuleCtx<'_, '_> {
    fn warn<S: mesh_model::resource::Spec>(
        &mut self,
        r: &Resource<S>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) {
        let path = path.into();
        self.warnings.push(Warning {
            resource: r.key(),
            origin: r.origin.at_path(&path).to_string(),
            path,
            kind: message.into().into(),
        });
    }

    /// A destination for a resolved backend.
    fn destination(&self, b: &Backend, weight: u32, headers: HeadersPolicy) -> RouteDestination {
        let rule = self.drs.lookup(&b.host);
        let policy = PolicySet::new(rule.as_ref().and_then(|r| r.traffic_policy), None, b.port);
        RouteDestination {
            host: b.host.clone(),
            subset: String::new(),
            port: b.port,
            weight,
            headers,
            subset_labels: Some(BTreeMap::new()),
            destination_rule: rule.map(|r| r.key),
            policy,
            unresolved: b.problem.as_ref().map(|_| internal_error()),
        }
    }
}

/// The 500 of a backend that does not resolve, or of a rule that cannot be served: Istio
/// routes it to a cluster that does not exist with `cluster_not_found_response_code:
/// INTERNAL_SERVER_ERROR`, and Envoy 1.40 answers `500` with `content-length: 0` (measured:
/// a route to `outbound|8080||missing.infra.svc.cluster.local` so configured).
pub(crate) fn internal_error() -> DirectResponse {
    DirectResponse {
        status: 500,
        body: Arc::from(&b""[..]),
    }
}

/// Istio's translation of a header modifier (`createHeadersFilter`): names lower-cased, the
/// first entry of a name kept.
fn header_ops(f: &HeaderFilter) -> HeaderOperations {
    let to_map = |list: &[mesh_model::gateway_api::HttpHeader]| {
        let mut m = BTreeMap::new();
        for h in list {
            m.entry(h.name.to_ascii_lowercase())
                .or_insert_with(|| h.value.clone());
        }
        m
    };
    HeaderOperations {
        set: to_map(&f.set),
        add: to_map(&f.add),
        remove: f.remove.clone(),
    }
}

/// Compiles request and response header modifiers into a [`HeadersPolicy`].
fn headers_policy(
    request: Option<&HeaderFilter>,
    response: Option<&HeaderFilter>,
) -> Result<(HeadersPolicy, Vec<String>), crate::policy::headers::HeaderError> {
    if request.is_none() && response.is_none() {
        return Ok((HeadersPolicy::default(), Vec::new()));
    }
    HeadersPolicy::compile(Some(&Headers {
        request: request.map(header_ops),
        response: response.map(header_ops),
    }))
}

/// Istio's `createRedirectFilter`.
pub(crate) fn redirect_spec(f: &HttpRequestRedirect) -> HttpRedirect {
    let (uri, prefix_rewrite) = match f.path.as_ref() {
        Some(HttpPathModifier {
            kind,
            replace_full_path: Some(p),
            ..
        }) if kind == "ReplaceFullPath" => (p.clone(), String::new()),
        Some(HttpPathModifier {
            kind,
            replace_prefix_match: Some(p),
            ..
        }) if kind == "ReplacePrefixMatch" => (String::new(), p.clone()),
        _ => (String::new(), String::new()),
    };
    let (port, derive_port) = match f.port {
        Some(p) => (u32::try_from(p).ok(), None),
        None if f.scheme.is_some() => (None, Some(RedirectPortSelection::FromProtocolDefault)),
        None => (None, Some(RedirectPortSelection::FromRequestPort)),
    };
    HttpRedirect {
        uri,
        authority: f.hostname.clone().unwrap_or_default(),
        port,
        derive_port,
        scheme: f.scheme.clone().unwrap_or_default(),
        redirect_code: u32::try_from(f.status_code).unwrap_or(302),
        prefix_rewrite,
    }
}

/// Istio's `createRewriteFilter`, with the `/` prefix replacement Istio's route builder
/// emits as a regex (`^<prefix>(/?)(.*)` to `/\2`), given the rule's path prefix.
pub(crate) fn rewrite_spec(f: &HttpUrlRewrite, matched_prefix: Option<&str>) -> HttpRewrite {
    let mut out = HttpRewrite {
        authority: f.hostname.clone().unwrap_or_default(),
        ..HttpRewrite::default()
    };
    match f.path.as_ref() {
        Some(HttpPathModifier {
            kind,
            replace_prefix_match: Some(p),
            ..
        }) if kind == "ReplacePrefixMatch" => {
            let trimmed = p.trim_end_matches('/');
            match (trimmed.is_empty(), matched_prefix) {
                (true, Some(prefix)) if prefix != "/" => {
                    out.uri_regex_rewrite = Some(RegexRewrite {
                        r#match: format!("^{}(/?)(.*)", regex::escape(prefix)),
                        rewrite: r"/\2".to_owned(),
                    });
                }
                (true, _) => out.uri = "/".to_owned(),
                (false, _) => out.uri = trimmed.to_owned(),
            }
        }
        Some(HttpPathModifier {
            kind,
            replace_full_path: Some(p),
            ..
        }) if kind == "ReplaceFullPath" => {
            out.uri_regex_rewrite = Some(RegexRewrite {
                r#match: "/.*".to_owned(),
                rewrite: p.clone(),
            });
        }
        _ => {}
    }
    out
}

/// Istio's `createCorsFilter`: `*` allows any origin of the form `scheme://host[:port]`, an
/// origin without `*` is exact, one ending in `*` a prefix, any other wildcard a regex;
/// unmatched preflights are answered, not forwarded.
pub(crate) fn cors_spec(f: &Cors) -> CorsSpec {
    let mut origins = Vec::new();
    for o in &f.allow_origins {
        if o.is_empty() {
            continue;
        }
        if o == "*" {
            origins.push(StringMatch::regex(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s?#]+$"));
        } else if !o.contains('*') {
            origins.push(StringMatch::exact(o.clone()));
        } else if o.matches('*').count() == 1 && o.ends_with('*') {
            origins.push(StringMatch::prefix(o.trim_end_matches('*')));
        } else {
            let pattern = regex::escape(o).replace(r"\*", ".*");
            origins.push(StringMatch::regex(format!("^{pattern}$")));
        }
    }
    CorsSpec {
        allow_origins: Some(origins),
        allow_methods: f.allow_methods.clone(),
        allow_headers: f.allow_headers.clone(),
        expose_headers: f.expose_headers.clone(),
        max_age: (f.max_age > 0).then(|| mesh_model::Duration::from_secs(f.max_age)),
        allow_credentials: f.allow_credentials.filter(|c| *c),
        unmatched_preflights: UnmatchedPreflights::Ignore,
        ..CorsSpec::default()
    }
}

/// The mirror fraction: all requests, `percent`, or `numerator/denominator` (as Istio's
/// `Percent`, truncated to millionths).
fn mirror_fraction(m: &HttpRequestMirror) -> Fraction {
    match (&m.fraction, m.percent) {
        (Some(f), _) if f.denominator > 0 => {
            Fraction::from_percent(100.0 * f.numerator as f64 / f.denominator as f64)
        }
        (_, Some(p)) => Fraction::from_percent(p as f64),
        _ => Fraction::ALL,
    }
}

/// A backendRef as the rule sees it.
struct BackendIn<'f> {
    object: BackendObjectReference,
    weight: i64,
    /// (request, response) header modifiers, and filters that cannot run at this level.
    request: Option<&'f HeaderFilter>,
    response: Option<&'f HeaderFilter>,
    unsupported: Vec<(usize, String)>,
}

impl<'f> BackendIn<'f> {
    /// Reads a backendRef's filters, each as (kind, request modifier, response modifier):
    /// header modifiers run at this level, any other kind is kept as unsupported.
    fn read(
        object: BackendObjectReference,
        weight: i64,
        filters: impl Iterator<Item = (&'f str, Option<&'f HeaderFilter>, Option<&'f HeaderFilter>)>,
    ) -> Self {
        let mut bi = BackendIn {
            object,
            weight,
            request: None,
            response: None,
            unsupported: Vec::new(),
        };
        for (k, (kind, request, response)) in filters.enumerate() {
            match kind {
                "RequestHeaderModifier" => bi.request = request,
                "ResponseHeaderModifier" => bi.response = response,
                other => bi.unsupported.push((k, other.to_owned())),
            }
        }
        bi
    }
}

/// Everything of a rule but its matches, in kind-independent form.
#[derive(Default)]
struct RuleIn<'f> {
    name: Option<&'f str>,
    request: Option<&'f HeaderFilter>,
    response: Option<&'f HeaderFilter>,
    redirect: Option<(usize, &'f HttpRequestRedirect)>,
    rewrite: Option<(usize, &'f HttpUrlRewrite)>,
    cors: Option<(usize, &'f Cors)>,
    mirrors: Vec<(usize, &'f HttpRequestMirror)>,
    unsupported: Vec<(usize, String)>,
    backends: Vec<BackendIn<'f>>,
    timeout: Option<mesh_model::Duration>,
    per_try_timeout: Option<mesh_model::Duration>,
    retry: Option<HttpRetry>,
    session_persistence: bool,
}

fn http_rule_in(rule: &HttpRouteRule) -> RuleIn<'_> {
    let mut r = RuleIn {
        name: rule.name.as_deref(),
        session_persistence: rule.session_persistence.is_some(),
        ..RuleIn::default()
    };
    for (i, f) in rule.filters.iter().enumerate() {
        read_http_filter(&mut r, i, f);
    }
    for b in &rule.backend_refs {
        let filters = b.filters.iter().map(|f| {
            (
                f.kind.as_str(),
                f.request_header_modifier.as_ref(),
                f.response_header_modifier.as_ref(),
            )
        });
        r.backends
            .push(BackendIn::read(b.object(), b.weight, filters));
    }
    if let Some(t) = &rule.timeouts {
        let request = t.request.as_deref().and_then(parse_duration);
        let backend = t.backend_request.as_deref().and_then(parse_duration);
        r.timeout = request.filter(|d| *d != mesh_model::Duration::ZERO);
        r.per_try_timeout = backend.filter(|d| *d != mesh_model::Duration::ZERO);
    }
    if let Some(rt) = &rule.retry {
        let mut retry_on = vec![
            "connect-failure".to_owned(),
            "refused-stream".to_owned(),
            "unavailable".to_owned(),
            "cancelled".to_owned(),
        ];
        retry_on.extend(rt.codes.iter().map(i64::to_string));
        let attempts = i32::try_from(rt.attempts.unwrap_or(2)).unwrap_or(i32::MAX);
        r.retry = Some(HttpRetry {
            attempts,
            retry_on: if attempts == 0 {
                String::new()
            } else {
                retry_on.join(",")
            },
            backoff: rt.backoff.as_deref().and_then(parse_duration),
            ..HttpRetry::default()
        });
    }
    r
}

fn read_http_filter<'f>(r: &mut RuleIn<'f>, i: usize, f: &'f HttpRouteFilter) {
    match f.kind.as_str() {
        "RequestHeaderModifier" => r.request = f.request_header_modifier.as_ref(),
        "ResponseHeaderModifier" => r.response = f.response_header_modifier.as_ref(),
        "RequestRedirect" => r.redirect = f.request_redirect.as_ref().map(|x| (i, x)),
        "URLRewrite" => r.rewrite = f.url_rewrite.as_ref().map(|x| (i, x)),
        "CORS" => r.cors = f.cors.as_ref().map(|x| (i, x)),
        "RequestMirror" => {
            if let Some(m) = &f.request_mirror {
                r.mirrors.push((i, m));
            }
        }
        other => r.unsupported.push((i, other.to_owned())),
    }
}

fn grpc_rule_in(rule: &GrpcRouteRule) -> RuleIn<'_> {
    let mut r = RuleIn {
        name: rule.name.as_deref(),
        session_persistence: rule.session_persistence.is_some(),
        ..RuleIn::default()
    };
    for (i, f) in rule.filters.iter().enumerate() {
        match f.kind.as_str() {
            "RequestHeaderModifier" => r.request = f.request_header_modifier.as_ref(),
            "ResponseHeaderModifier" => r.response = f.response_header_modifier.as_ref(),
            "RequestMirror" => {
                if let Some(m) = &f.request_mirror {
                    r.mirrors.push((i, m));
                }
            }
            other => r.unsupported.push((i, other.to_owned())),
        }
    }
    for b in &rule.backend_refs {
        let filters = b.filters.iter().map(|f| {
            (
                f.kind.as_str(),
                f.request_header_modifier.as_ref(),
                f.response_header_modifier.as_ref(),
            )
        });
        r.backends
            .push(BackendIn::read(b.object(), b.weight, filters));
    }
    r
}

/// Compiles rule `index` of an HTTPRoute; `prefix` is the path prefix of its single
/// `PathPrefix` match, if it has one (for `ReplacePrefixMatch`).
pub(crate) fn http_rule(
    ctx: &mut RuleCtx<'_, '_>,
    route: &Resource<HttpRoute>,
    index: usize,
    prefix: Option<&str>,
) -> Rule {
    let rule = &route.spec.rules[index];
    compile(ctx, route, index, http_rule_in(rule), prefix)
}

/// Compiles rule `index` of a GRPCRoute.
pub(crate) fn grpc_rule(
    ctx: &mut RuleCtx<'_, '_>,
    route: &Resource<GrpcRoute>,
    index: usize,
) -> Rule {
    let rule = &route.spec.rules[index];
    compile(ctx, route, index, grpc_rule_in(rule), None)
}

fn compile<S: mesh_model::resource::Spec>(
    ctx: &mut RuleCtx<'_, '_>,
    route: &Resource<S>,
    index: usize,
    r: RuleIn<'_>,
    prefix: Option<&str>,
) -> Rule {
    let path = format!("spec.rules[{index}]");
    let key = route.key();
    let mut fail: Option<String> = None;
    if r.session_persistence {
        ctx.warn(
            route,
            format!("{path}.sessionPersistence"),
            "session persistence is not executed: requests are balanced as if it were absent",
        );
    }
    for (i, kind) in &r.unsupported {
        ctx.warn(
            route,
            format!("{path}.filters[{i}]"),
            format!("filter type {kind} is not executed; requests this rule matches are answered 500, as the Gateway API requires for a filter that cannot be applied"),
        );
        fail.get_or_insert_with(|| kind.clone());
    }
    let (headers, notes) = match headers_policy(r.request, r.response) {
        Ok(h) => h,
        Err(e) => {
            ctx.warn(
                route,
                format!("{path}.filters"),
                format!("{e}; requests this rule matches are answered 500"),
            );
            fail.get_or_insert(e.to_string());
            (HeadersPolicy::default(), Vec::new())
        }
    };
    for n in notes {
        ctx.warn(route, format!("{path}.filters"), n);
    }
    let rewrite = r.rewrite.and_then(
        |(i, rw)| match Rewrite::compile(&rewrite_spec(rw, prefix)) {
            Ok(x) => Some(x),
            Err(e) => {
                ctx.warn(
                    route,
                    format!("{path}.filters[{i}].urlRewrite"),
                    e.to_string(),
                );
                None
            }
        },
    );
    let cors = r
        .cors
        .and_then(|(i, c)| match CorsPolicy::compile(&cors_spec(c)) {
            Ok(x) => Some(x),
            Err(e) => {
                ctx.warn(route, format!("{path}.filters[{i}].cors"), e.to_string());
                None
            }
        });
    let mut mirrors = Vec::new();
    for (i, m) in &r.mirrors {
        let b = binding::resolve_backend(
            ctx.resources,
            S::KIND,
            route.namespace(),
            &m.backend_ref,
            ctx.mesh,
        );
        if let Some(c) = &b.problem {
            ctx.warn(
                route,
                format!("{path}.filters[{i}].requestMirror.backendRef"),
                format!("{}: {}; the mirror is dropped", c.reason, c.message),
            );
            continue;
        }
        let fraction = mirror_fraction(m);
        if !fraction.is_zero() {
            mirrors.push(Mirror {
                destination: ctx.destination(&b, 0, HeadersPolicy::default()),
                fraction,
            });
        }
    }
    let mut retries = match &r.retry {
        Some(rt) => RetryPolicy::from_route(Some(rt)),
        None => RetryPolicy::istio_default(),
    };
    if let Some(t) = r.per_try_timeout {
        retries.per_try_timeout = t.to_std();
    }
    let action = if fail.is_some() {
        Action::DirectResponse(internal_error())
    } else if let Some((i, rd)) = r.redirect {
        match Redirect::compile(&redirect_spec(rd)) {
            Some(x) => Action::Redirect(x),
            None => {
                ctx.warn(
                    route,
                    format!("{path}.filters[{i}].requestRedirect.statusCode"),
                    format!(
                        "status code {} cannot be served; requests are answered 500",
                        rd.status_code
                    ),
                );
                Action::DirectResponse(internal_error())
            }
        }
    } else if r.backends.iter().map(|b| b.weight.max(0)).sum::<i64>() == 0 {
        Action::DirectResponse(internal_error())
    } else {
        let mut dests = Vec::new();
        for (j, b) in r.backends.iter().enumerate() {
            if b.weight <= 0 {
                continue;
            }
            let resolved = binding::resolve_backend(
                ctx.resources,
                S::KIND,
                route.namespace(),
                &b.object,
                ctx.mesh,
            );
            if let Some(c) = &resolved.problem {
                ctx.warn(
                    route,
                    format!("{path}.backendRefs[{j}]"),
                    format!(
                        "{}: {}; requests for this backend are answered 500",
                        c.reason, c.message
                    ),
                );
            }
            let (h, notes) = match headers_policy(b.request, b.response) {
                Ok(h) => h,
                Err(e) => {
                    ctx.warn(
                        route,
                        format!("{path}.backendRefs[{j}].filters"),
                        e.to_string(),
                    );
                    (HeadersPolicy::default(), Vec::new())
                }
            };
            for n in notes {
                ctx.warn(route, format!("{path}.backendRefs[{j}].filters"), n);
            }
            let mut d = ctx.destination(&resolved, u32::try_from(b.weight).unwrap_or(u32::MAX), h);
            for (k, kind) in &b.unsupported {
                ctx.warn(
                    route,
                    format!("{path}.backendRefs[{j}].filters[{k}]"),
                    format!("filter type {kind} is not executed on a backendRef; requests for this backend are answered 500"),
                );
                d.unresolved = Some(internal_error());
            }
            dests.push(d);
        }
        Action::Route(Split::new(dests))
    };
    let name = r.name.unwrap_or_default();
    Rule {
        virtual_service: Some(key.clone()),
        index,
        name: name.to_owned(),
        action,
        rewrite,
        timeout: r.timeout.and_then(|d| d.to_std()),
        retries,
        fault: FaultPolicy::default(),
        mirrors,
        cors,
        headers,
        sticky: None,
        names: RuleNames::new(Some(&key), name),
        delegate_index: None,
    }
}

/// The rule of a mesh route's default entry: the Service itself, on the request's port.
pub(crate) fn default_to_service(ctx: &RuleCtx<'_, '_>, host: &str) -> Rule {
    let b = Backend {
        host: host.to_owned(),
        port: None,
        problem: None,
    };
    let d = ctx.destination(&b, 1, HeadersPolicy::default());
    Rule {
        virtual_service: None,
        index: 0,
        name: String::new(),
        action: Action::Route(Split::new(vec![d])),
        rewrite: None,
        timeout: None,
        retries: RetryPolicy::istio_default(),
        fault: FaultPolicy::default(),
        mirrors: Vec::new(),
        cors: None,
        headers: HeadersPolicy::default(),
        sticky: None,
        names: RuleNames::default(),
        delegate_index: None,
    }
}
