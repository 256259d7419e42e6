//! `HTTPRoute`: rules of matches, filters and weighted backends, attached to Gateways or (as
//! mesh routes) to Services.

use serde::{Deserialize, Serialize};

use super::common::{
    BackendObjectReference, HeaderFilter, ParentReference, default_exact, default_service_kind,
};

fn default_rules() -> Vec<HttpRouteRule> {
    vec![HttpRouteRule::default()]
}

fn default_matches() -> Vec<HttpRouteMatch> {
    vec![HttpRouteMatch::default()]
}

fn default_path() -> Option<HttpPathMatch> {
    Some(HttpPathMatch::default())
}

fn default_path_prefix() -> String {
    "PathPrefix".to_owned()
}

fn default_slash() -> String {
    "/".to_owned()
}

fn default_weight() -> i64 {
    1
}

fn default_302() -> i64 {
    302
}

fn default_100() -> i64 {
    100
}

fn default_5() -> i64 {
    5
}

fn default_cookie() -> String {
    "Cookie".to_owned()
}

fn default_session() -> String {
    "Session".to_owned()
}

/// An HTTPRoute.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRoute {
    /// Gateways (and listeners) or Services the route attaches to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<ParentReference>,
    /// Hostnames the route serves (intersected with listener hostnames); empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    /// Rules (default: one rule matching every request).
    #[serde(default = "default_rules")]
    pub rules: Vec<HttpRouteRule>,
    /// `All` or `None`: attach to default Gateways (experimental).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_default_gateways: Option<String>,
}

impl Default for HttpRoute {
    fn default() -> Self {
        HttpRoute {
            parent_refs: Vec::new(),
            hostnames: Vec::new(),
            rules: default_rules(),
            use_default_gateways: None,
        }
    }
}

/// One rule: matches (any of them), filters, backends.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteRule {
    /// Name, unique in the route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Conditions; a request matching any of them matches the rule (default: prefix `/`).
    #[serde(default = "default_matches")]
    pub matches: Vec<HttpRouteMatch>,
    /// Filters applied to matching requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<HttpRouteFilter>,
    /// Weighted backends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_refs: Vec<HttpBackendRef>,
    /// Request and backend-request timeouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<HttpRouteTimeouts>,
    /// Retries (experimental).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<HttpRouteRetry>,
    /// Session persistence (experimental).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_persistence: Option<SessionPersistence>,
}

impl Default for HttpRouteRule {
    fn default() -> Self {
        HttpRouteRule {
            name: None,
            matches: default_matches(),
            filters: Vec::new(),
            backend_refs: Vec::new(),
            timeouts: None,
            retry: None,
            session_persistence: None,
        }
    }
}

/// Conditions on one request, AND-ed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteMatch {
    /// Path (default: prefix `/`).
    #[serde(default = "default_path", skip_serializing_if = "Option::is_none")]
    pub path: Option<HttpPathMatch>,
    /// Headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HttpHeaderMatch>,
    /// Query parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query_params: Vec<HttpQueryParamMatch>,
    /// Method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

impl Default for HttpRouteMatch {
    fn default() -> Self {
        HttpRouteMatch {
            path: default_path(),
            headers: Vec::new(),
            query_params: Vec::new(),
            method: None,
        }
    }
}

/// A path condition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpPathMatch {
    /// `Exact`, `PathPrefix` (default) or `RegularExpression`.
    #[serde(rename = "type", default = "default_path_prefix")]
    pub kind: String,
    /// The value (default `/`).
    #[serde(default = "default_slash")]
    pub value: String,
}

impl Default for HttpPathMatch {
    fn default() -> Self {
        HttpPathMatch {
            kind: default_path_prefix(),
            value: default_slash(),
        }
    }
}

/// A header condition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpHeaderMatch {
    /// `Exact` (default) or `RegularExpression`.
    #[serde(rename = "type", default = "default_exact")]
    pub kind: String,
    /// Header name (case-insensitive).
    #[serde(default)]
    pub name: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// A query parameter condition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpQueryParamMatch {
    /// `Exact` (default) or `RegularExpression`.
    #[serde(rename = "type", default = "default_exact")]
    pub kind: String,
    /// Parameter name (case-sensitive).
    #[serde(default)]
    pub name: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// A filter: exactly one of its fields, the one `type` names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteFilter {
    /// `RequestHeaderModifier`, `ResponseHeaderModifier`, `RequestMirror`,
    /// `RequestRedirect`, `URLRewrite`, `CORS`, `ExternalAuth` or `ExtensionRef`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Request header operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header_modifier: Option<HeaderFilter>,
    /// Response header operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_header_modifier: Option<HeaderFilter>,
    /// A mirror.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_mirror: Option<HttpRequestMirror>,
    /// A redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_redirect: Option<HttpRequestRedirect>,
    /// A rewrite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_rewrite: Option<HttpUrlRewrite>,
    /// CORS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
    /// External authorization (experimental).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_auth: Option<ExternalAuth>,
    /// An implementation-specific filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_ref: Option<LocalObjectReference>,
}

/// A reference to an object in the route's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalObjectReference {
    /// Group.
    #[serde(default)]
    pub group: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
    /// Name.
    #[serde(default)]
    pub name: String,
}

/// `RequestMirror`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRequestMirror {
    /// Where copies go.
    #[serde(default)]
    pub backend_ref: BackendObjectReference,
    /// Share of requests mirrored, in percent (all when neither this nor `fraction` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<i64>,
    /// Share of requests mirrored, as a fraction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<MirrorFraction>,
}

/// `numerator / denominator`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MirrorFraction {
    /// Numerator.
    #[serde(default)]
    pub numerator: i64,
    /// Denominator (default 100).
    #[serde(default = "default_100")]
    pub denominator: i64,
}

/// `RequestRedirect`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRequestRedirect {
    /// `http` or `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// Host of the Location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Path of the Location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<HttpPathModifier>,
    /// Port of the Location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Status (default 302).
    #[serde(default = "default_302")]
    pub status_code: i64,
}

impl Default for HttpRequestRedirect {
    fn default() -> Self {
        HttpRequestRedirect {
            scheme: None,
            hostname: None,
            path: None,
            port: None,
            status_code: default_302(),
        }
    }
}

/// `URLRewrite`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpUrlRewrite {
    /// New Host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// New path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<HttpPathModifier>,
}

/// How a path is replaced.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpPathModifier {
    /// `ReplaceFullPath` or `ReplacePrefixMatch`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The whole new path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_full_path: Option<String>,
    /// What replaces the matched prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_prefix_match: Option<String>,
}

/// The `CORS` filter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cors {
    /// Allowed origins (`*`, exact, or with a `*.` wildcard host).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_origins: Vec<String>,
    /// Whether credentials are allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    /// Allowed methods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_methods: Vec<String>,
    /// Allowed request headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_headers: Vec<String>,
    /// Response headers exposed to the client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    /// How long a preflight may be cached, in seconds (default 5).
    #[serde(default = "default_5")]
    pub max_age: i64,
}

impl Default for Cors {
    fn default() -> Self {
        Cors {
            allow_origins: Vec::new(),
            allow_credentials: None,
            allow_methods: Vec::new(),
            allow_headers: Vec::new(),
            expose_headers: Vec::new(),
            max_age: default_5(),
        }
    }
}

/// `ExternalAuth` (experimental; read and validated, not executed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalAuth {
    /// `HTTP` or `GRPC`.
    #[serde(default)]
    pub protocol: String,
    /// The authorization service.
    #[serde(default)]
    pub backend_ref: BackendObjectReference,
    /// gRPC settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcAuthConfig>,
    /// HTTP settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpAuthConfig>,
    /// Whether the body is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_body: Option<ForwardBody>,
}

/// `externalAuth.grpc`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrpcAuthConfig {
    /// Headers sent to the service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
}

/// `externalAuth.http`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpAuthConfig {
    /// Path prefix of the check request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Headers sent to the service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    /// Headers of the service's answer copied to the request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_response_headers: Vec<String>,
}

/// `externalAuth.forwardBody`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForwardBody {
    /// Largest body sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<i64>,
}

/// A weighted backend with its own filters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpBackendRef {
    /// Group (default `""`).
    #[serde(default)]
    pub group: String,
    /// Kind (default `Service`).
    #[serde(default = "default_service_kind")]
    pub kind: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Namespace; the route's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Relative weight (default 1; 0 sends nothing).
    #[serde(default = "default_weight")]
    pub weight: i64,
    /// Filters applied when this backend is chosen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<HttpRouteFilter>,
}

impl Default for HttpBackendRef {
    fn default() -> Self {
        HttpBackendRef {
            group: String::new(),
            kind: default_service_kind(),
            name: String::new(),
            namespace: None,
            port: None,
            weight: default_weight(),
            filters: Vec::new(),
        }
    }
}

impl HttpBackendRef {
    /// The object it refers to.
    pub fn object(&self) -> BackendObjectReference {
        BackendObjectReference {
            group: self.group.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            port: self.port,
        }
    }
}

/// `timeouts`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteTimeouts {
    /// The whole request, from the Gateway's view (`0s` disables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// One attempt to a backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_request: Option<String>,
}

/// `retry` (experimental).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteRetry {
    /// Status codes to retry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<i64>,
    /// Most retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i64>,
    /// Back-off between retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<String>,
}

/// `sessionPersistence` (experimental; read and validated, not executed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionPersistence {
    /// Cookie or header name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_name: Option<String>,
    /// Absolute timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absolute_timeout: Option<String>,
    /// `Cookie` (default) or `Header`.
    #[serde(rename = "type", default = "default_cookie")]
    pub kind: String,
    /// Cookie settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_config: Option<SessionPersistenceCookie>,
}

/// `sessionPersistence.cookieConfig`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionPersistenceCookie {
    /// `Permanent` or `Session` (default).
    #[serde(default = "default_session")]
    pub lifetime_type: String,
}
