//! Istio resources to an Envoy bootstrap, as istiod configures a sidecar's outbound HTTP
//! listener on port 80 (`pilot/pkg/networking/core/route/route.go`: `TranslateRoute`,
//! `TranslateRouteMatch`, `TranslateHeadersOperations`, `ApplyRedirect`,
//! `ApplyDirectResponse`, `applyHTTPRouteDestination`, `processDestination`,
//! `processWeightedDestination`, `TranslateFault`, `MirrorPercent`; `route/retry/retry.go`:
//! `ConvertPolicy`; `pilot/pkg/model/virtualservice.go`: `MergeHTTPRoutes` for delegates;
//! `listener_builder.go` for the connection manager), written independently of the engine
//! so that the two can disagree.
//!
//! It translates what the generator produces and refuses everything else with a
//! [`TranslateError`] naming the field: Gateways, ServiceEntries, CORS, TCP/TLS routes,
//! `exportTo`, source selectors, JWT claims, DestinationRule traffic policies, wildcard or
//! unknown hosts, services with other ports than 80, locality retries, exponential delays,
//! HTTP/2 aborts, redirect codes istiod cannot translate, sticky splits.
//!
//! Clusters are `outbound|80|SUBSET|HOST`, one per service and per subset its
//! DestinationRule defines; each gets its own loopback upstream, so that the upstream that
//! answers names the cluster.

use std::collections::{BTreeMap, BTreeSet};

use mesh_model::Resources;
use mesh_model::host::resolve_short_name;
use mesh_model::virtual_service::{
    Destination, HeaderOperations, Headers, HttpFaultInjection, HttpMatchRequest, HttpRetry,
    HttpRoute, StringMatch, StringMatchKind, VirtualService,
};
use serde_json::{Value, json};

/// Why a configuration is not translated.
#[derive(Debug, thiserror::Error)]
#[error("not translated: {what}")]
pub struct TranslateError {
    /// What, with the resource and field.
    pub what: String,
}

fn refuse<T>(what: impl Into<String>) -> Result<T, TranslateError> {
    Err(TranslateError { what: what.into() })
}

/// The listener port istiod builds the routes for.
const LISTENER_PORT: u32 = 80;

/// A translated configuration: the HTTP connection manager's route configuration and the
/// clusters it may name.
#[derive(Clone, Debug)]
pub struct Translation {
    /// The route configuration (`route_config`), as JSON.
    pub route_config: Value,
    /// Every cluster that exists, by name.
    pub clusters: Vec<String>,
}

/// The cluster name of a destination (`model.BuildSubsetKey`).
pub fn cluster_name(subset: &str, host: &str, port: u16) -> String {
    format!("outbound|{port}|{subset}|{host}")
}

/// Translates `resources` for a sidecar in `namespace` (no labels).
pub fn translate(resources: &Resources, namespace: &str) -> Result<Translation, TranslateError> {
    if !resources.gateways.is_empty() {
        return refuse("Gateway resources (only a sidecar is translated)");
    }
    if !resources.service_entries.is_empty() {
        return refuse("ServiceEntry resources (services are Kubernetes Services)");
    }
    let mut services = BTreeSet::new();
    for s in &resources.kubernetes.services {
        match s.ports.as_slice() {
            [p] if p.port == LISTENER_PORT => {}
            _ => {
                return refuse(format!(
                    "Service {}/{}: ports other than one port 80",
                    s.namespace, s.name
                ));
            }
        }
        services.insert(s.fqdn());
    }
    let mut subsets: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for dr in &resources.destination_rules {
        let key = format!("DestinationRule {}/{}", dr.namespace(), dr.name());
        if dr.spec.traffic_policy.is_some() {
            return refuse(format!("{key}: spec.trafficPolicy"));
        }
        if !dr.spec.export_to.is_empty() {
            return refuse(format!("{key}: spec.exportTo"));
        }
        if dr.spec.workload_selector.is_some() {
            return refuse(format!("{key}: spec.workloadSelector"));
        }
        let host = resolve_short_name(&dr.spec.host, dr.namespace());
        if !services.contains(&host) {
            return refuse(format!("{key}: host {host} is not a Service"));
        }
        if subsets.contains_key(&host) {
            return refuse(format!("{key}: a second DestinationRule for {host}"));
        }
        let mut names = Vec::new();
        for s in &dr.spec.subsets {
            if s.traffic_policy.is_some() {
                return refuse(format!("{key}: subset {} trafficPolicy", s.name));
            }
            names.push(s.name.clone());
        }
        subsets.insert(host, names);
    }
    let mut clusters = Vec::new();
    for h in &services {
        clusters.push(cluster_name("", h, 80));
        for s in subsets.get(h).into_iter().flatten() {
            clusters.push(cluster_name(s, h, 80));
        }
    }
    let t = Translator {
        resources,
        services: &services,
    };
    let mut vhosts = Vec::new();
    let mut claimed = BTreeSet::new();
    let mut roots: Vec<&mesh_model::Resource<VirtualService>> = resources
        .virtual_services
        .iter()
        .filter(|v| !v.spec.hosts.is_empty())
        .collect();
    roots.sort_by(|a, b| a.name().cmp(b.name()));
    for vs in roots {
        let key = format!("VirtualService {}/{}", vs.namespace(), vs.name());
        if vs.namespace() != namespace {
            return refuse(format!("{key}: another namespace"));
        }
        if !vs.metadata.annotations.is_empty() {
            return refuse(format!("{key}: metadata.annotations"));
        }
        if !vs.spec.gateways.iter().all(|g| g == "mesh") {
            return refuse(format!("{key}: spec.gateways"));
        }
        if !vs.spec.tcp.is_empty() || !vs.spec.tls.is_empty() {
            return refuse(format!("{key}: tcp or tls routes"));
        }
        if !vs.spec.export_to.is_empty() {
            return refuse(format!("{key}: spec.exportTo"));
        }
        let mut domains = Vec::new();
        for h in &vs.spec.hosts {
            let fqdn = resolve_short_name(h, vs.namespace());
            if !services.contains(&fqdn) {
                return refuse(format!("{key}: host {h} is not a Service"));
            }
            if !claimed.insert(fqdn.clone()) {
                return refuse(format!("{key}: host {fqdn} of two VirtualServices"));
            }
            domains.extend(sidecar_domains(&fqdn, namespace));
        }
        let routes = t.routes(vs)?;
        vhosts.push(json!({
            "name": format!("{}:80", vs.spec.hosts[0]),
            "domains": domains,
            "include_request_attempt_count": true,
            "routes": routes,
        }));
    }
    // Services without a VirtualService: Istio's default route to the service.
    for h in &services {
        if claimed.contains(h) {
            continue;
        }
        vhosts.push(json!({
            "name": format!("{h}:80"),
            "domains": sidecar_domains(h, namespace),
            "include_request_attempt_count": true,
            "routes": [{
                "name": "default",
                "match": {"prefix": "/"},
                "route": {
                    "cluster": cluster_name("", h, 80),
                    "timeout": "0s",
                    "retry_policy": retry_policy(None)?,
                },
            }],
        }));
    }
    Ok(Translation {
        route_config: json!({
            "name": "80",
            "validate_clusters": false,
            "virtual_hosts": vhosts,
        }),
        clusters,
    })
}

/// The domains of a service's virtual host on a sidecar in `namespace`
/// (`generateVirtualHostDomains`): the FQDN and its shorter forms, with and without port.
fn sidecar_domains(fqdn: &str, namespace: &str) -> Vec<String> {
    let mut forms = vec![fqdn.to_owned()];
    if let Some((name, ns)) = mesh_model::host::split_service_fqdn(fqdn) {
        forms.push(format!("{name}.{ns}.svc"));
        forms.push(format!("{name}.{ns}"));
        if ns == namespace {
            forms.push(name.to_owned());
        }
    }
    let mut out = Vec::new();
    for f in forms {
        out.push(format!("{f}:80"));
        out.push(f);
    }
    out
}

struct Translator<'r> {
    resources: &'r Resources,
    services: &'r BTreeSet<String>,
}

impl Translator<'_> {
    /// The Envoy routes of a VirtualService, delegates merged (`BuildHTTPRoutesForVirtualService`).
    fn routes(
        &self,
        vs: &mesh_model::Resource<VirtualService>,
    ) -> Result<Vec<Value>, TranslateError> {
        let key = format!("VirtualService {}/{}", vs.namespace(), vs.name());
        let mut http: Vec<HttpRoute> = Vec::new();
        for (i, r) in vs.spec.http.iter().enumerate() {
            match &r.delegate {
                None => http.push(r.clone()),
                Some(d) => {
                    let ns = if d.namespace.is_empty() {
                        vs.namespace()
                    } else {
                        d.namespace.as_str()
                    };
                    let Some(dvs) = self.resources.virtual_services.iter().find(|x| {
                        x.namespace() == ns && x.name() == d.name && x.spec.hosts.is_empty()
                    }) else {
                        return refuse(format!(
                            "{key}: spec.http[{i}].delegate names no delegate VirtualService"
                        ));
                    };
                    if !dvs.spec.export_to.is_empty() {
                        return refuse(format!(
                            "delegate {}/{}: spec.exportTo",
                            dvs.namespace(),
                            dvs.name()
                        ));
                    }
                    http.extend(merge_http_routes(r, &dvs.spec.http));
                }
            }
        }
        let mut out = Vec::new();
        for (i, r) in http.iter().enumerate() {
            let path = format!("{key}: spec.http[{i}]");
            if r.r#match.is_empty() {
                out.push(self.route(r, None, &path)?);
                break;
            }
            let mut catch_all = false;
            for m in &r.r#match {
                if m.port != 0 && m.port != LISTENER_PORT {
                    continue;
                }
                let route = self.route(r, Some(m), &path)?;
                catch_all = is_catch_all(&route);
                out.push(route);
                if catch_all {
                    break;
                }
            }
            if catch_all {
                break;
            }
        }
        Ok(out)
    }

    /// `TranslateRoute`.
    fn route(
        &self,
        r: &HttpRoute,
        m: Option<&HttpMatchRequest>,
        path: &str,
    ) -> Result<Value, TranslateError> {
        if r.cors_policy.is_some() {
            return refuse(format!("{path}.corsPolicy"));
        }
        let mut name = r.name.clone();
        if let Some(m) = m.filter(|m| !m.name.is_empty()) {
            name = format!("{name}.{}", m.name);
        }
        let mut out = serde_json::Map::new();
        out.insert("name".into(), json!(name));
        out.insert("match".into(), route_match(m, path)?);
        if let Some(m) = m.filter(|m| !m.stat_prefix.is_empty()) {
            out.insert("stat_prefix".into(), json!(m.stat_prefix));
        }
        let mut lists = HeaderLists::default();
        let mut authority = String::new();
        if let Some(h) = &r.headers {
            authority = lists.extend(h);
        }
        if let Some(redirect) = &r.redirect {
            out.insert("redirect".into(), redirect_action(redirect, path)?);
        } else if let Some(d) = &r.direct_response {
            let mut action = json!({"status": d.status});
            if let Some(b) = &d.body {
                if let Some(s) = &b.string {
                    action["body"] = json!({"inline_string": s});
                } else if let Some(bytes) = &b.bytes {
                    action["body"] = json!({"inline_bytes": bytes});
                }
            }
            out.insert("direct_response".into(), action);
        } else {
            out.insert(
                "route".into(),
                self.route_action(r, &mut lists, authority, path)?,
            );
        }
        lists.write(&mut out);
        if let Some(f) = &r.fault {
            out.insert(
                "typed_per_filter_config".into(),
                json!({"envoy.filters.http.fault": fault(f, path)?}),
            );
        }
        Ok(Value::Object(out))
    }

    /// `applyHTTPRouteDestination`.
    fn route_action(
        &self,
        r: &HttpRoute,
        lists: &mut HeaderLists,
        mut authority: String,
        path: &str,
    ) -> Result<Value, TranslateError> {
        let mut action = serde_json::Map::new();
        action.insert(
            "timeout".into(),
            json!(r.timeout.map_or("0s".to_owned(), |t| t.to_string())),
        );
        if let Some(rw) = &r.rewrite {
            if let Some(rr) = &rw.uri_regex_rewrite {
                action.insert(
                    "regex_rewrite".into(),
                    json!({"pattern": {"regex": rr.r#match}, "substitution": rr.rewrite}),
                );
            } else if !rw.uri.is_empty() {
                action.insert("prefix_rewrite".into(), json!(rw.uri));
            }
            if !rw.authority.is_empty() {
                authority = rw.authority.clone();
            }
        }
        let mut host_rewrite = (!authority.is_empty()).then_some(authority);
        let mut mirrors = Vec::new();
        if let Some(m) = &r.mirror {
            let fraction = match (&r.mirror_percentage, r.mirror_percent) {
                (Some(p), _) if p.value > 0.0 => Some(million(p.value)),
                (Some(_), _) => None,
                (None, Some(n)) if n > 0 => Some(json!({"numerator": n, "denominator": "HUNDRED"})),
                (None, Some(_)) => None,
                (None, None) => Some(json!({"numerator": 100, "denominator": "HUNDRED"})),
            };
            if let Some(f) = fraction {
                mirrors.push(mirror_policy(
                    &self.mirror_cluster(m, &format!("{path}.mirror"))?,
                    f,
                ));
            }
        }
        for (j, mp) in r.mirrors.iter().enumerate() {
            let Some(d) = &mp.destination else { continue };
            let fraction = match &mp.percentage {
                Some(p) if p.value > 0.0 => Some(million(p.value)),
                Some(_) => None,
                None => Some(json!({"numerator": 100, "denominator": "HUNDRED"})),
            };
            if let Some(f) = fraction {
                mirrors.push(mirror_policy(
                    &self.mirror_cluster(d, &format!("{path}.mirrors[{j}]"))?,
                    f,
                ));
            }
        }
        if !mirrors.is_empty() {
            action.insert("request_mirror_policies".into(), json!(mirrors));
        }
        if r.route.len() == 1 {
            let rd = &r.route[0];
            let Some(d) = &rd.destination else {
                return refuse(format!("{path}.route[0]: no destination"));
            };
            action.insert(
                "cluster".into(),
                json!(self.cluster(d, &format!("{path}.route[0]"))?),
            );
            if let Some(h) = &rd.headers {
                let a = lists.extend(h);
                if !a.is_empty() && host_rewrite.is_none() {
                    host_rewrite = Some(a);
                }
            }
        } else {
            let mut weighted = Vec::new();
            for (j, rd) in r.route.iter().enumerate() {
                if rd.weight == 0 {
                    continue;
                }
                let Some(d) = &rd.destination else {
                    return refuse(format!("{path}.route[{j}]: no destination"));
                };
                let mut cw = serde_json::Map::new();
                cw.insert(
                    "name".into(),
                    json!(self.cluster(d, &format!("{path}.route[{j}]"))?),
                );
                cw.insert("weight".into(), json!(rd.weight));
                if let Some(h) = &rd.headers {
                    let mut own = HeaderLists::default();
                    let a = own.extend(h);
                    own.write(&mut cw);
                    if !a.is_empty() {
                        cw.insert("host_rewrite_literal".into(), json!(a));
                    }
                }
                weighted.push(Value::Object(cw));
            }
            action.insert("weighted_clusters".into(), json!({"clusters": weighted}));
        }
        if let Some(a) = host_rewrite {
            action.insert("host_rewrite_literal".into(), json!(a));
        }
        if let Some(p) = retry_policy(r.retries.as_deref())? {
            action.insert("retry_policy".into(), p);
        }
        Ok(Value::Object(action))
    }

    /// `GetDestinationCluster`: the destination's port, else the service's only port.
    fn cluster(&self, d: &Destination, path: &str) -> Result<String, TranslateError> {
        let host = resolve_short_name(&d.host, crate::generate::NAMESPACE);
        if !self.services.contains(&host) {
            return refuse(format!("{path}: host {} is not a Service", d.host));
        }
        self.cluster_of(d, &host, path)
    }

    /// The cluster of a mirror: for a host no Service declares, istiod names the cluster
    /// all the same (`outbound|LISTENER_PORT||HOST`), and no cluster bears that name.
    fn mirror_cluster(&self, d: &Destination, path: &str) -> Result<String, TranslateError> {
        let host = resolve_short_name(&d.host, crate::generate::NAMESPACE);
        self.cluster_of(d, &host, path)
    }

    fn cluster_of(
        &self,
        d: &Destination,
        host: &str,
        path: &str,
    ) -> Result<String, TranslateError> {
        let port = d.port.as_ref().map_or(80, |p| p.number);
        if port != 80 {
            return refuse(format!("{path}: port {port}"));
        }
        Ok(cluster_name(&d.subset, host, 80))
    }
}

fn million(percent: f64) -> Value {
    json!({"numerator": (percent * 10000.0) as u32, "denominator": "MILLION"})
}

/// `TranslateRequestMirrorPolicy` (Istio 1.28+: no `-shadow` suffix).
fn mirror_policy(cluster: &str, fraction: Value) -> Value {
    json!({
        "cluster": cluster,
        "runtime_fraction": {"default_value": fraction},
        "trace_sampled": false,
        "disable_shadow_host_suffix_append": true,
    })
}

/// `IsCatchAllRoute`.
fn is_catch_all(route: &Value) -> bool {
    let m = &route["match"];
    let path_all = m.get("prefix").and_then(Value::as_str) == Some("/")
        || m.pointer("/safe_regex/regex").and_then(Value::as_str) == Some(".*");
    path_all && m.get("headers").is_none() && m.get("query_parameters").is_none()
}

/// The Envoy string matcher of a StringMatch (`ConvertToEnvoyMatch`).
fn string_matcher(sm: &StringMatch) -> Option<Value> {
    match sm.kind() {
        StringMatchKind::Exact(e) => Some(json!({"exact": e})),
        StringMatchKind::Prefix(p) => Some(json!({"prefix": p})),
        StringMatchKind::Regex(r) => Some(json!({"safe_regex": {"regex": r}})),
        StringMatchKind::Any => None,
    }
}

/// `canBeConvertedToPresentMatch`.
fn is_presence(sm: &StringMatch) -> bool {
    matches!(sm.kind(), StringMatchKind::Any) || matches!(sm.kind(), StringMatchKind::Regex("*"))
}

/// `translateHeaderMatch`.
fn header_matcher(name: &str, sm: &StringMatch) -> Value {
    if is_presence(sm) {
        return json!({"name": name, "present_match": true});
    }
    match string_matcher(sm) {
        Some(m) => json!({"name": name, "string_match": m}),
        None => json!({"name": name}),
    }
}

/// `TranslateRouteMatch`.
fn route_match(m: Option<&HttpMatchRequest>, path: &str) -> Result<Value, TranslateError> {
    let mut out = serde_json::Map::new();
    out.insert("prefix".into(), json!("/"));
    let Some(m) = m else {
        return Ok(Value::Object(out));
    };
    if !m.source_labels.is_empty() || !m.source_namespace.is_empty() || !m.gateways.is_empty() {
        return refuse(format!(
            "{path}.match: sourceLabels, sourceNamespace or gateways"
        ));
    }
    let mut headers = Vec::new();
    for (name, sm) in &m.headers {
        if name.starts_with("@request.auth.claims") {
            return refuse(format!("{path}.match.headers: JWT claims"));
        }
        headers.push(header_matcher(name, sm));
    }
    for (name, sm) in &m.without_headers {
        if name.starts_with("@request.auth.claims") {
            return refuse(format!("{path}.match.withoutHeaders: JWT claims"));
        }
        let mut h = header_matcher(name, sm);
        h["invert_match"] = json!(true);
        if !is_presence(sm) {
            h["treat_missing_header_as_empty"] = json!(true);
        }
        headers.push(h);
    }
    headers.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    if let Some(uri) = &m.uri {
        match uri.kind() {
            StringMatchKind::Exact(e) => {
                out.remove("prefix");
                out.insert("path".into(), json!(e));
            }
            StringMatchKind::Prefix(p) => {
                out.insert("prefix".into(), json!(p));
            }
            StringMatchKind::Regex(r) => {
                out.remove("prefix");
                out.insert("safe_regex".into(), json!({"regex": r}));
            }
            StringMatchKind::Any => {}
        }
    }
    out.insert("case_sensitive".into(), json!(!m.ignore_uri_case));
    for (pseudo, sm) in [
        (":method", &m.method),
        (":authority", &m.authority),
        (":scheme", &m.scheme),
    ] {
        if let Some(sm) = sm {
            headers.push(header_matcher(pseudo, sm));
        }
    }
    if !headers.is_empty() {
        out.insert("headers".into(), json!(headers));
    }
    let mut query = Vec::new();
    for (name, sm) in &m.query_params {
        if is_presence(sm) {
            query.push(json!({"name": name, "present_match": true}));
        } else if let Some(s) = string_matcher(sm) {
            query.push(json!({"name": name, "string_match": s}));
        } else {
            query.push(json!({"name": name}));
        }
    }
    if !query.is_empty() {
        out.insert("query_parameters".into(), json!(query));
    }
    Ok(Value::Object(out))
}

/// `ApplyRedirect` for a sidecar (not TLS) on port 80.
fn redirect_action(
    r: &mesh_model::virtual_service::HttpRedirect,
    path: &str,
) -> Result<Value, TranslateError> {
    let mut a = serde_json::Map::new();
    if !r.authority.is_empty() {
        a.insert("host_redirect".into(), json!(r.authority));
    }
    if !r.prefix_rewrite.is_empty() {
        a.insert("prefix_rewrite".into(), json!(r.prefix_rewrite));
    } else if !r.uri.is_empty() {
        a.insert("path_redirect".into(), json!(r.uri));
    }
    if !r.scheme.is_empty() {
        a.insert("scheme_redirect".into(), json!(r.scheme));
    }
    let mut port = 0;
    if let Some(p) = r.port {
        port = p;
    } else if r.derive_port
        == Some(mesh_model::virtual_service::RedirectPortSelection::FromRequestPort)
    {
        port = LISTENER_PORT;
    }
    if r.port.is_some() || r.derive_port.is_some() {
        let scheme = if r.scheme.is_empty() {
            "http"
        } else {
            r.scheme.as_str()
        };
        if (port == 80 && scheme == "http") || (port == 443 && scheme == "https") {
            port = 0;
        }
    }
    if port != 0 {
        a.insert("port_redirect".into(), json!(port));
    }
    let code = match r.redirect_code {
        0 | 301 => "MOVED_PERMANENTLY",
        302 => "FOUND",
        303 => "SEE_OTHER",
        307 => "TEMPORARY_REDIRECT",
        308 => "PERMANENT_REDIRECT",
        c => {
            return refuse(format!(
                "{path}.redirect.redirectCode {c} (istiod emits a route without an action)"
            ));
        }
    };
    a.insert("response_code".into(), json!(code));
    Ok(Value::Object(a))
}

/// `TranslateFault`.
fn fault(f: &HttpFaultInjection, path: &str) -> Result<Value, TranslateError> {
    let mut out = serde_json::Map::new();
    out.insert(
        "@type".into(),
        json!("type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"),
    );
    if let Some(d) = &f.delay {
        if d.exponential_delay.is_some() {
            return refuse(format!("{path}.fault.delay.exponentialDelay"));
        }
        let percentage = match &d.percentage {
            Some(p) => million(p.value),
            None => json!({"numerator": d.percent, "denominator": "HUNDRED"}),
        };
        if let Some(fd) = d.fixed_delay {
            out.insert(
                "delay".into(),
                json!({"fixed_delay": fd.to_string(), "percentage": percentage}),
            );
        }
    }
    if let Some(a) = &f.abort {
        if a.http2_error.is_some() {
            return refuse(format!("{path}.fault.abort.http2Error"));
        }
        let mut abort = serde_json::Map::new();
        if let Some(p) = &a.percentage {
            abort.insert("percentage".into(), million(p.value));
        }
        if let Some(s) = a.http_status {
            abort.insert("http_status".into(), json!(s));
        } else if let Some(g) = &a.grpc_status {
            let Some(code) = mesh_route::policy::fault::GRPC_STATUS
                .iter()
                .position(|n| n == g)
            else {
                return refuse(format!("{path}.fault.abort.grpcStatus {g}"));
            };
            abort.insert("grpc_status".into(), json!(code));
        } else {
            return refuse(format!("{path}.fault.abort without an error type"));
        }
        out.insert("abort".into(), Value::Object(abort));
    }
    Ok(Value::Object(out))
}

/// `ConvertPolicy` (no consistent hash): `None` disables retries.
fn retry_policy(r: Option<&HttpRetry>) -> Result<Option<Value>, TranslateError> {
    const DEFAULT_ON: &str =
        "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";
    let previous_hosts = json!([{
        "name": "envoy.retry_host_predicates.previous_hosts",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"},
    }]);
    let Some(r) = r else {
        return Ok(Some(json!({
            "retry_on": DEFAULT_ON,
            "num_retries": 2,
            "retry_host_predicate": previous_hosts,
            "host_selection_retry_max_attempts": 5,
        })));
    };
    if r.attempts <= 0 {
        return Ok(None);
    }
    if r.retry_remote_localities == Some(true) {
        return refuse("retries.retryRemoteLocalities");
    }
    let mut out = serde_json::Map::new();
    out.insert("num_retries".into(), json!(r.attempts));
    out.insert("host_selection_retry_max_attempts".into(), json!(5));
    let mut retry_on = DEFAULT_ON.to_owned();
    let mut codes: Vec<u32> = Vec::new();
    if !r.retry_on.is_empty() {
        let mut tokens = Vec::new();
        for part in r
            .retry_on
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match part.parse::<u32>() {
                Ok(c) if go_status_text(c) => codes.push(c),
                _ => tokens.push(part.to_owned()),
            }
        }
        retry_on = tokens.join(",");
        if !codes.is_empty() && !retry_on.contains("retriable-status-codes") {
            retry_on.push_str(",retriable-status-codes");
        }
    }
    out.insert("retry_on".into(), json!(retry_on));
    if !codes.is_empty() {
        out.insert("retriable_status_codes".into(), json!(codes));
    }
    if let Some(t) = r.per_try_timeout {
        out.insert("per_try_timeout".into(), json!(t.to_string()));
    }
    if r.retry_ignore_previous_hosts != Some(false) {
        out.insert("retry_host_predicate".into(), previous_hosts);
    }
    if let Some(b) = r.backoff {
        out.insert(
            "retry_back_off".into(),
            json!({"base_interval": b.to_string()}),
        );
    }
    Ok(Some(Value::Object(out)))
}

/// Whether Go's `http.StatusText` knows `code`.
fn go_status_text(code: u32) -> bool {
    matches!(
        code,
        100..=103 | 200..=208 | 226 | 300..=305 | 307 | 308 | 400..=418 | 421..=426 | 428 | 429 | 431 | 451 | 500..=508 | 510 | 511
    )
}

/// Route-level header operation lists (`TranslateHeadersOperations`, appended to by a
/// single destination's).
#[derive(Default)]
struct HeaderLists {
    request_add: Vec<Value>,
    request_remove: Vec<String>,
    response_add: Vec<Value>,
    response_remove: Vec<String>,
}

fn is_internal(k: &str) -> bool {
    k.starts_with(':') || k.eq_ignore_ascii_case("host")
}

fn is_authority(k: &str) -> bool {
    k.eq_ignore_ascii_case(":authority") || k.eq_ignore_ascii_case("host")
}

/// `translateAppendHeaders`: options sorted by key; the authority named, if any.
fn append_options(map: &BTreeMap<String, String>, append: bool) -> (Vec<Value>, String) {
    let mut authority = String::new();
    let mut out = Vec::new();
    for (k, v) in map {
        if is_authority(k) {
            authority = v.clone();
        }
        if is_internal(k) {
            continue;
        }
        out.push(json!({
            "header": {"key": k, "value": v},
            "append_action": if append { "APPEND_IF_EXISTS_OR_ADD" } else { "OVERWRITE_IF_EXISTS_OR_ADD" },
        }));
    }
    (out, authority)
}

impl HeaderLists {
    /// Appends `h`'s operations; returns the authority they set (`set` over `add`).
    fn extend(&mut self, h: &Headers) -> String {
        let empty = HeaderOperations::default();
        let req = h.request.as_ref().unwrap_or(&empty);
        let resp = h.response.as_ref().unwrap_or(&empty);
        let (set, set_authority) = append_options(&req.set, false);
        let (add, add_authority) = append_options(&req.add, true);
        self.request_add.extend(set);
        self.request_add.extend(add);
        self.request_remove
            .extend(req.remove.iter().filter(|k| !is_internal(k)).cloned());
        let (set, _) = append_options(&resp.set, false);
        let (add, _) = append_options(&resp.add, true);
        self.response_add.extend(set);
        self.response_add.extend(add);
        self.response_remove
            .extend(resp.remove.iter().filter(|k| !is_internal(k)).cloned());
        if set_authority.is_empty() {
            add_authority
        } else {
            set_authority
        }
    }

    fn write(self, out: &mut serde_json::Map<String, Value>) {
        if !self.request_add.is_empty() {
            out.insert("request_headers_to_add".into(), json!(self.request_add));
        }
        if !self.request_remove.is_empty() {
            out.insert(
                "request_headers_to_remove".into(),
                json!(self.request_remove),
            );
        }
        if !self.response_add.is_empty() {
            out.insert("response_headers_to_add".into(), json!(self.response_add));
        }
        if !self.response_remove.is_empty() {
            out.insert(
                "response_headers_to_remove".into(),
                json!(self.response_remove),
            );
        }
    }
}

/// `MergeHTTPRoutes`: each delegate route under the root route, or dropped on a conflict.
///
/// This is istiod's merge transcribed a second time, on purpose, beside mesh-route's
/// (`mesh-route/src/delegate.rs`): this module plays istiod, and an oracle that called the
/// code it checks could never see that code's mistakes. Both follow istiod's
/// `hasConflict`/`mergeHTTPMatchRequest` function by function (this one in Go's
/// `GetExact()` style), so they look alike; a change to one is a change of reading that the
/// other must be checked against, not a refactoring to share.
fn merge_http_routes(root: &HttpRoute, delegate: &[HttpRoute]) -> Vec<HttpRoute> {
    delegate
        .iter()
        .filter_map(|d| merge_http_route(root, d))
        .collect()
}

fn join_names(root: &str, leaf: &str) -> String {
    if leaf.is_empty() {
        root.to_owned()
    } else if root.is_empty() {
        leaf.to_owned()
    } else {
        format!("{root}-{leaf}")
    }
}

fn merge_http_route(root: &HttpRoute, leaf: &HttpRoute) -> Option<HttpRoute> {
    let mut d = leaf.clone();
    d.r#match = merge_match_requests(&root.r#match, &leaf.r#match)?;
    d.name = join_names(&root.name, &leaf.name);
    d.rewrite = d.rewrite.or_else(|| root.rewrite.clone());
    d.direct_response = d.direct_response.or_else(|| root.direct_response.clone());
    d.timeout = d.timeout.or(root.timeout);
    d.retries = d.retries.or_else(|| root.retries.clone());
    d.fault = d.fault.or_else(|| root.fault.clone());
    d.mirror = d.mirror.or_else(|| root.mirror.clone());
    d.mirror_percent = d.mirror_percent.or(root.mirror_percent);
    d.mirror_percentage = d.mirror_percentage.or(root.mirror_percentage);
    d.cors_policy = d.cors_policy.or_else(|| root.cors_policy.clone());
    if d.mirrors.is_empty() {
        d.mirrors = root.mirrors.clone();
    }
    d.headers = d.headers.or_else(|| root.headers.clone());
    Some(d)
}

fn merge_match_requests(
    root: &[HttpMatchRequest],
    leaf: &[HttpMatchRequest],
) -> Option<Vec<HttpMatchRequest>> {
    if root.is_empty() {
        return Some(leaf.to_vec());
    }
    if leaf.is_empty() {
        return Some(root.to_vec());
    }
    let mut out = Vec::new();
    for l in leaf {
        let mut found = false;
        for r in root {
            if has_conflict(r, l) {
                continue;
            }
            out.push(merge_match_request(r, l));
            found = true;
        }
        if !found {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

fn merge_map<M, V>(root: &M, leaf: &M) -> M
where
    M: Clone + Extend<(String, V)>,
    for<'a> &'a M: IntoIterator<Item = (&'a String, &'a V)>,
    V: Clone + 'static,
{
    let mut out = root.clone();
    out.extend(leaf.into_iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

fn merge_match_request(root: &HttpMatchRequest, leaf: &HttpMatchRequest) -> HttpMatchRequest {
    let mut out = leaf.clone();
    out.name = join_names(&root.name, &leaf.name);
    out.uri = out.uri.or_else(|| root.uri.clone());
    out.scheme = out.scheme.or_else(|| root.scheme.clone());
    out.method = out.method.or_else(|| root.method.clone());
    out.authority = out.authority.or_else(|| root.authority.clone());
    out.headers = merge_map(&root.headers, &leaf.headers);
    out.without_headers = merge_map(&root.without_headers, &leaf.without_headers);
    out.query_params = merge_map(&root.query_params, &leaf.query_params);
    if out.port == 0 {
        out.port = root.port;
    }
    out.source_labels = merge_map(&root.source_labels, &leaf.source_labels);
    if out.source_namespace.is_empty() {
        out.source_namespace = root.source_namespace.clone();
    }
    if out.gateways.is_empty() {
        out.gateways = root.gateways.clone();
    }
    if out.stat_prefix.is_empty() {
        out.stat_prefix = root.stat_prefix.clone();
    }
    out
}

fn has_conflict(root: &HttpMatchRequest, leaf: &HttpMatchRequest) -> bool {
    let pairs = [
        (root.uri.as_ref(), leaf.uri.as_ref()),
        (root.scheme.as_deref(), leaf.scheme.as_deref()),
        (root.method.as_deref(), leaf.method.as_deref()),
        (root.authority.as_deref(), leaf.authority.as_deref()),
    ];
    if pairs.iter().any(|(r, l)| string_match_conflict(*r, *l)) {
        return true;
    }
    for (rm, lm) in [
        (&root.headers, &leaf.headers),
        (&root.without_headers, &leaf.without_headers),
        (&root.query_params, &leaf.query_params),
    ] {
        if lm
            .iter()
            .any(|(k, l)| string_match_conflict(rm.get(k), Some(l)))
        {
            return true;
        }
    }
    if root.ignore_uri_case != leaf.ignore_uri_case {
        return true;
    }
    if root.port > 0 && leaf.port > 0 && root.port != leaf.port {
        return true;
    }
    if !root.source_namespace.is_empty() && leaf.source_namespace != root.source_namespace {
        return true;
    }
    if leaf
        .source_labels
        .iter()
        .any(|(k, v)| root.source_labels.get(k).is_some_and(|rv| rv != v))
    {
        return true;
    }
    if !root.gateways.is_empty() && !leaf.gateways.is_empty() {
        if root.gateways.len() < leaf.gateways.len() {
            return true;
        }
        if leaf.gateways.iter().any(|g| !root.gateways.contains(g)) {
            return true;
        }
    }
    false
}

/// Go's `GetExact()`-style access: the value, empty when the field is another kind.
fn get(field: &Option<Box<str>>) -> &str {
    field.as_deref().unwrap_or("")
}

fn string_match_conflict(root: Option<&StringMatch>, leaf: Option<&StringMatch>) -> bool {
    let (Some(root), Some(leaf)) = (root, leaf) else {
        return false;
    };
    if !get(&root.regex).is_empty()
        && (!get(&leaf.regex).is_empty()
            || !get(&leaf.prefix).is_empty()
            || !get(&leaf.exact).is_empty())
    {
        return true;
    }
    if !get(&leaf.regex).is_empty()
        && (!get(&root.regex).is_empty()
            || !get(&root.prefix).is_empty()
            || !get(&root.exact).is_empty())
    {
        return true;
    }
    let exact = get(&root.exact);
    if !exact.is_empty() {
        if !get(&leaf.prefix).is_empty() {
            return true;
        }
        return get(&leaf.exact) != exact;
    }
    let prefix = get(&root.prefix);
    if !prefix.is_empty() {
        if !get(&leaf.prefix).is_empty() {
            return !get(&leaf.prefix).starts_with(prefix);
        }
        if !get(&leaf.exact).is_empty() {
            return !get(&leaf.exact).starts_with(prefix);
        }
    }
    true
}

/// The sidecar's outbound connection manager on port 80 as istiod writes it
/// (`buildSidecarOutboundHTTPListenerOpts`, `buildHTTPConnectionManager`): HTTP/1.1 and
/// HTTP/2 (`AUTO`), `use_remote_address: false` (so a client's `x-forwarded-proto` is
/// kept), `normalize_path` with escaped slashes kept (meshConfig's default `BASE`),
/// websocket upgrades, no stream idle timeout, uuid request ids, `server_name:
/// istio-envoy`, and the filters Envoy has of Istio's chain: gRPC stats, fault, CORS,
/// router. Left out: `istio.metadata_exchange`, `istio.alpn`, `istio.stats` (not in stock
/// Envoy; they do not route), access logs and tracing.
pub fn bootstrap(t: &Translation, ports: &BTreeMap<String, u16>) -> String {
    let hcm = json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "outbound_0.0.0.0_80",
        "codec_type": "AUTO",
        "use_remote_address": false,
        "normalize_path": true,
        "path_with_escaped_slashes_action": "KEEP_UNCHANGED",
        "stream_idle_timeout": "0s",
        "server_name": "istio-envoy",
        "upgrade_configs": [{"upgrade_type": "websocket"}],
        "request_id_extension": {"typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig",
            "use_request_id_for_trace_sampling": true,
        }},
        "http_filters": [
            {"name": "envoy.filters.http.grpc_stats", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig",
                "emit_filter_state": true,
                "stats_for_all_methods": false,
            }},
            {"name": "envoy.filters.http.fault", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"}},
            {"name": "envoy.filters.http.cors", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"}},
            {"name": "envoy.filters.http.router", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}},
        ],
        "route_config": t.route_config,
    });
    let clusters: Vec<Value> = t
        .clusters
        .iter()
        .map(|name| {
            let port = ports.get(name).copied().unwrap_or(1);
            json!({
                "name": name,
                "type": "STATIC",
                "connect_timeout": "10s",
                "lb_policy": "LEAST_REQUEST",
                "circuit_breakers": {"thresholds": [{
                    "max_connections": 4294967295u64,
                    "max_pending_requests": 4294967295u64,
                    "max_requests": 4294967295u64,
                    "max_retries": 4294967295u64,
                }]},
                "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{
                    "endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}},
                }]}]},
            })
        })
        .collect();
    let bootstrap = json!({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": [{
                "name": "0.0.0.0_80",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": hcm,
                }]}],
            }],
            "clusters": clusters,
        },
    });
    serde_json::to_string_pretty(&bootstrap).unwrap_or_default()
}
