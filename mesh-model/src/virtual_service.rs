//! `VirtualService` and the messages it holds, field for field as
//! `istio/api` `networking/v1alpha3/virtual_service.proto` defines them.
//!
//! Proto3 scalars are plain values (absent means the default); wrapper types
//! (`UInt32Value`, `BoolValue`) and messages are `Option`s. Both the JSON (camelCase) names
//! and the proto (snake_case) names are accepted on input, as Istio's decoder accepts both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::percent::Percent;
use crate::proto_enum::{is_default, proto_enum};
use crate::vec_map::VecMap;

/// "Configuration affecting traffic routing": hosts, the gateways they apply to, and ordered
/// HTTP, TLS and TCP route rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualService {
    /// The destination hosts to which traffic is being sent (DNS names, wildcard prefixes, IPs,
    /// or short names resolved against the resource's namespace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Gateways and sidecars that apply these routes; `mesh` means all sidecars, the default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    /// Ordered HTTP route rules; the first that matches is used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpRoute>,
    /// Ordered route rules for non-terminated TLS and HTTPS traffic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<TlsRoute>,
    /// Ordered route rules for opaque TCP traffic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tcp: Vec<TcpRoute>,
    /// Namespaces that can see this VirtualService (`.` own, `*` all).
    #[serde(default, alias = "export_to", skip_serializing_if = "Vec::is_empty")]
    pub export_to: Vec<String>,
}

/// A destination service: host, optional subset, optional port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Destination {
    /// The service name from the registry (or a ServiceEntry host).
    #[serde(default)]
    pub host: String,
    /// A subset defined by a DestinationRule for the host.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subset: String,
    /// The port on the host; optional when the service exposes one port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSelector>,
}

/// One HTTP route rule. The rarer parts (redirect, direct response, delegate, rewrite,
/// retries, fault, mirror, CORS, header operations) are boxed, so that a rule that does not
/// use them stays small: a 100 000-rule VirtualService holds 100 000 of these.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRoute {
    /// A name for debugging; appears in access logs.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Match conditions, OR-ed; each block's fields are AND-ed. Empty matches everything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#match: Vec<HttpMatchRequest>,
    /// Weighted destinations to forward to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<HttpRouteDestination>,
    /// Answer with a 3xx redirect instead of forwarding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Box<HttpRedirect>>,
    /// Answer with a fixed response instead of forwarding.
    #[serde(
        default,
        alias = "direct_response",
        skip_serializing_if = "Option::is_none"
    )]
    pub direct_response: Option<Box<HttpDirectResponse>>,
    /// Hand the route over to another VirtualService.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegate: Option<Box<Delegate>>,
    /// Rewrite the path or authority before forwarding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<Box<HttpRewrite>>,
    /// Timeout for the whole request, retries included. Absent: no timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Retry policy. Absent: the mesh default policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<Box<HttpRetry>>,
    /// Fault injection applied before forwarding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Box<HttpFaultInjection>>,
    /// Mirror traffic to this destination as well (fire and forget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Box<Destination>>,
    /// Several mirror destinations, each with its own percentage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<HttpMirrorPolicy>,
    /// Deprecated integer percentage of traffic to mirror (`UInt32Value`).
    #[serde(
        default,
        alias = "mirror_percent",
        skip_serializing_if = "Option::is_none"
    )]
    pub mirror_percent: Option<u32>,
    /// Percentage of traffic mirrored by `mirror`; absent means 100%.
    #[serde(
        default,
        alias = "mirror_percentage",
        skip_serializing_if = "Option::is_none"
    )]
    pub mirror_percentage: Option<Percent>,
    /// Cross-origin resource sharing policy.
    #[serde(
        default,
        alias = "cors_policy",
        skip_serializing_if = "Option::is_none"
    )]
    pub cors_policy: Option<Box<CorsPolicy>>,
    /// Header manipulation for requests and responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Box<Headers>>,
}

/// Which VirtualService a root route delegates to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delegate {
    /// Name of the delegate VirtualService.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Namespace of the delegate; defaults to the root's.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

/// Request and response header operations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Headers {
    /// Operations on the request before forwarding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<HeaderOperations>,
    /// Operations on the response before returning it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HeaderOperations>,
}

/// `set` (overwrite), `add` (append) and `remove` operations on headers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderOperations {
    /// Overwrite these headers with the given values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
    /// Append these values to the headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub add: BTreeMap<String, String>,
    /// Remove these headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

/// A TLS route rule (SNI based); parsed and validated, not executed by the HTTP engine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsRoute {
    /// Match conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#match: Vec<TlsMatchAttributes>,
    /// Destinations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<RouteDestination>,
}

/// A TCP route rule; parsed and validated, not executed by the HTTP engine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpRoute {
    /// Match conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#match: Vec<L4MatchAttributes>,
    /// Destinations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<RouteDestination>,
}

/// Conditions on an HTTP request; all set fields must hold. The header and query maps are
/// [`VecMap`]s (sorted, as a `BTreeMap`, but only as large as their entries).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpMatchRequest {
    /// Name of the match block, appended to the route name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Path match (case-sensitive unless `ignoreUriCase`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<StringMatch>,
    /// `:scheme` match (boxed, as `method` and `authority`: most blocks have none, and a
    /// 100 000-rule VirtualService holds 100 000 blocks; read it with `as_deref()`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<Box<StringMatch>>,
    /// `:method` match (boxed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Box<StringMatch>>,
    /// `:authority` (Host) match, port included as sent (boxed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<Box<StringMatch>>,
    /// Header matches; an empty match means "present". A null one is refused (Istio:
    /// `header match NAME cannot be null`).
    #[serde(
        default,
        skip_serializing_if = "VecMap::is_empty",
        deserialize_with = "header_matches"
    )]
    pub headers: VecMap<String, StringMatch>,
    /// Restricts the match to this port of the proxy's listener.
    #[serde(default, skip_serializing_if = "is_default")]
    pub port: u32,
    /// Applies the block only to client workloads with these labels.
    #[serde(
        default,
        alias = "source_labels",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub source_labels: BTreeMap<String, String>,
    /// Overrides the VirtualService's `gateways` for this block.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    /// Query parameter matches (first occurrence, raw value).
    #[serde(
        default,
        alias = "query_params",
        skip_serializing_if = "VecMap::is_empty"
    )]
    pub query_params: VecMap<String, StringMatch>,
    /// Case-insensitive `exact` and `prefix` URI matching.
    #[serde(default, alias = "ignore_uri_case", skip_serializing_if = "is_default")]
    pub ignore_uri_case: bool,
    /// Headers that must not match. A null one is refused, as in `headers`.
    #[serde(
        default,
        alias = "without_headers",
        skip_serializing_if = "VecMap::is_empty",
        deserialize_with = "header_matches"
    )]
    pub without_headers: VecMap<String, StringMatch>,
    /// Applies the block only to client workloads in this namespace.
    #[serde(
        default,
        alias = "source_namespace",
        skip_serializing_if = "String::is_empty"
    )]
    pub source_namespace: String,
    /// Envoy statistics prefix for the route.
    #[serde(
        default,
        alias = "stat_prefix",
        skip_serializing_if = "String::is_empty"
    )]
    pub stat_prefix: String,
}

/// Reads a map of header matches, refusing a null match with Istio's message (`header match
/// x-user cannot be null`, `validateHTTPRouteMatchRequest`). Elsewhere a `key: null` entry
/// is dropped, as the API server prunes it; here that would silently widen the match (a
/// cluster drops the condition, istioctl reads an empty match), so it is an error.
fn header_matches<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<VecMap<String, StringMatch>, D::Error> {
    use serde::de::{DeserializeSeed, MapAccess, Visitor};
    use std::fmt;

    struct Matches;
    struct NotNull<'a>(&'a str);

    impl<'de> DeserializeSeed<'de> for NotNull<'_> {
        type Value = StringMatch;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<StringMatch, D::Error> {
            Option::<StringMatch>::deserialize(d)?.ok_or_else(|| {
                serde::de::Error::custom(format_args!("header match {} cannot be null", self.0))
            })
        }
    }

    impl<'de> Visitor<'de> for Matches {
        type Value = VecMap<String, StringMatch>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of header names to string matches")
        }
        fn visit_newtype_struct<D: serde::Deserializer<'de>>(
            self,
            d: D,
        ) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(name) = map.next_key::<String>()? {
                let m = map.next_value_seed(NotNull(&name))?;
                out.push((name, m));
            }
            Ok(out.into_iter().collect())
        }
    }

    d.deserialize_newtype_struct(crate::yaml::de::KEEP_NULLS, Matches)
}

/// A destination with a relative weight and per-destination header operations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteDestination {
    /// Where to send the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    /// Relative weight; a lone destination ignores it.
    #[serde(default, skip_serializing_if = "is_default")]
    pub weight: i32,
    /// Header operations applied when this destination is chosen (boxed: most
    /// destinations have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Box<Headers>>,
}

/// An L4 destination with a weight (TLS and TCP routes).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteDestination {
    /// Where to send the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    /// Relative weight.
    #[serde(default, skip_serializing_if = "is_default")]
    pub weight: i32,
}

/// L4 connection attributes for TCP routes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct L4MatchAttributes {
    /// Destination IPv4/IPv6 addresses or subnets.
    #[serde(
        default,
        alias = "destination_subnets",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub destination_subnets: Vec<String>,
    /// Port on the host being addressed.
    #[serde(default, skip_serializing_if = "is_default")]
    pub port: u32,
    /// Source subnet.
    #[serde(
        default,
        alias = "source_subnet",
        skip_serializing_if = "String::is_empty"
    )]
    pub source_subnet: String,
    /// Client workload labels.
    #[serde(
        default,
        alias = "source_labels",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub source_labels: BTreeMap<String, String>,
    /// Gateways the rule applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    /// Client namespace.
    #[serde(
        default,
        alias = "source_namespace",
        skip_serializing_if = "String::is_empty"
    )]
    pub source_namespace: String,
}

/// TLS connection attributes for TLS routes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsMatchAttributes {
    /// SNI values to match.
    #[serde(default, alias = "sni_hosts", skip_serializing_if = "Vec::is_empty")]
    pub sni_hosts: Vec<String>,
    /// Destination IPv4/IPv6 addresses or subnets.
    #[serde(
        default,
        alias = "destination_subnets",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub destination_subnets: Vec<String>,
    /// Port on the host being addressed.
    #[serde(default, skip_serializing_if = "is_default")]
    pub port: u32,
    /// Client workload labels.
    #[serde(
        default,
        alias = "source_labels",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub source_labels: BTreeMap<String, String>,
    /// Gateways the rule applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    /// Client namespace.
    #[serde(
        default,
        alias = "source_namespace",
        skip_serializing_if = "String::is_empty"
    )]
    pub source_namespace: String,
}

proto_enum! {
    /// How a redirect picks its port when `port` is not given.
    pub enum RedirectPortSelection {
        /// 80 for http, 443 for https.
        FromProtocolDefault = 0 => "FROM_PROTOCOL_DEFAULT",
        /// The port the request arrived on.
        FromRequestPort = 1 => "FROM_REQUEST_PORT",
    }
}

/// A redirect response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRedirect {
    /// Replaces the whole path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uri: String,
    /// Replaces the authority.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub authority: String,
    /// Explicit port (oneof `redirect_port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    /// Derived port (oneof `redirect_port`).
    #[serde(
        default,
        alias = "derive_port",
        skip_serializing_if = "Option::is_none"
    )]
    pub derive_port: Option<RedirectPortSelection>,
    /// Replaces the scheme.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scheme: String,
    /// Status code; 0 means 301.
    #[serde(default, alias = "redirect_code", skip_serializing_if = "is_default")]
    pub redirect_code: u32,
    /// Replaces the matched prefix.
    #[serde(
        default,
        alias = "prefix_rewrite",
        skip_serializing_if = "String::is_empty"
    )]
    pub prefix_rewrite: String,
}

/// A fixed response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpDirectResponse {
    /// HTTP status.
    #[serde(default)]
    pub status: u32,
    /// Response body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<HttpBody>,
}

/// The body of a direct response: a string, or bytes (base64 in YAML). A oneof: at most one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpBody {
    /// Inline text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<String>,
    /// Base64-encoded bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<String>,
}

/// Path and authority rewrites applied before forwarding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRewrite {
    /// Replaces the matched prefix (or the whole path for exact/regex matches).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uri: String,
    /// Replaces the Host/authority.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub authority: String,
    /// Regex substitution on the path.
    #[serde(
        default,
        alias = "uri_regex_rewrite",
        skip_serializing_if = "Option::is_none"
    )]
    pub uri_regex_rewrite: Option<RegexRewrite>,
}

/// A regex substitution: every match of `match` is replaced by `rewrite`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegexRewrite {
    /// RE2 pattern.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub r#match: String,
    /// Replacement, with `\1`-style capture references.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rewrite: String,
}

/// A string condition: one of `exact`, `prefix`, `regex` (a oneof); none set means "present"
/// where presence makes sense (headers, query parameters).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StringMatch {
    /// Exact string match. (`Box<str>`, as `prefix` and `regex`: never grown, and 8 bytes
    /// smaller than a `String`; a large VirtualService holds one or more per rule.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<Box<str>>,
    /// Prefix match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<Box<str>>,
    /// RE2 regex that must match the whole value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<Box<str>>,
}

/// The kind of a [`StringMatch`] once its oneof is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StringMatchKind<'a> {
    /// No match type: presence.
    Any,
    /// `exact`.
    Exact(&'a str),
    /// `prefix`.
    Prefix(&'a str),
    /// `regex`.
    Regex(&'a str),
}

impl StringMatch {
    /// An `exact` match.
    pub fn exact(s: impl Into<Box<str>>) -> Self {
        StringMatch {
            exact: Some(s.into()),
            ..Default::default()
        }
    }

    /// A `prefix` match.
    pub fn prefix(s: impl Into<Box<str>>) -> Self {
        StringMatch {
            prefix: Some(s.into()),
            ..Default::default()
        }
    }

    /// A `regex` match.
    pub fn regex(s: impl Into<Box<str>>) -> Self {
        StringMatch {
            regex: Some(s.into()),
            ..Default::default()
        }
    }

    /// The match type. When several are set (which load-time checks reject), `exact` wins,
    /// then `prefix`, then `regex`.
    pub fn kind(&self) -> StringMatchKind<'_> {
        match (&self.exact, &self.prefix, &self.regex) {
            (Some(e), _, _) => StringMatchKind::Exact(e),
            (None, Some(p), _) => StringMatchKind::Prefix(p),
            (None, None, Some(r)) => StringMatchKind::Regex(r),
            (None, None, None) => StringMatchKind::Any,
        }
    }

    /// How many of the oneof fields are set (valid: 0 or 1).
    pub fn set_count(&self) -> usize {
        usize::from(self.exact.is_some())
            + usize::from(self.prefix.is_some())
            + usize::from(self.regex.is_some())
    }
}

/// Retry policy for HTTP requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRetry {
    /// Number of retries; 0 disables retries.
    #[serde(default, skip_serializing_if = "is_default")]
    pub attempts: i32,
    /// Timeout per attempt.
    #[serde(
        default,
        alias = "per_try_timeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub per_try_timeout: Option<Duration>,
    /// Comma-separated retry conditions (Envoy tokens and HTTP status codes).
    #[serde(default, alias = "retry_on", skip_serializing_if = "String::is_empty")]
    pub retry_on: String,
    /// Prefer other localities for retries.
    #[serde(
        default,
        alias = "retry_remote_localities",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_remote_localities: Option<bool>,
    /// Avoid hosts already tried (default true).
    #[serde(
        default,
        alias = "retry_ignore_previous_hosts",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_ignore_previous_hosts: Option<bool>,
    /// Base interval of the exponential back-off (default 25ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Duration>,
}

proto_enum! {
    /// What to do with preflight requests whose origin does not match.
    pub enum UnmatchedPreflights {
        /// Default: forward.
        Unspecified = 0 => "UNSPECIFIED",
        /// Forward to the upstream.
        Forward = 1 => "FORWARD",
        /// Answer without forwarding.
        Ignore = 2 => "IGNORE",
    }
}

/// Cross-origin resource sharing policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorsPolicy {
    /// Deprecated exact origins; used only if `allowOrigins` is absent.
    #[serde(default, alias = "allow_origin", skip_serializing_if = "Vec::is_empty")]
    pub allow_origin: Vec<String>,
    /// Allowed origins.
    #[serde(
        default,
        alias = "allow_origins",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_origins: Option<Vec<StringMatch>>,
    /// Allowed methods.
    #[serde(
        default,
        alias = "allow_methods",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allow_methods: Vec<String>,
    /// Allowed request headers.
    #[serde(
        default,
        alias = "allow_headers",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allow_headers: Vec<String>,
    /// Headers exposed to the browser.
    #[serde(
        default,
        alias = "expose_headers",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub expose_headers: Vec<String>,
    /// How long preflight results may be cached (whole seconds).
    #[serde(default, alias = "max_age", skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Duration>,
    /// Access-Control-Allow-Credentials.
    #[serde(
        default,
        alias = "allow_credentials",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_credentials: Option<bool>,
    /// Preflights whose origin does not match.
    #[serde(
        default,
        alias = "unmatched_preflights",
        skip_serializing_if = "is_default"
    )]
    pub unmatched_preflights: UnmatchedPreflights,
}

/// Faults injected before forwarding: a delay, an abort, or both.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpFaultInjection {
    /// Delay before forwarding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Delay>,
    /// Abort with an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<Abort>,
}

/// A delay fault.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delay {
    /// Deprecated integer percentage; used when `percentage` is absent.
    #[serde(default, skip_serializing_if = "is_default")]
    pub percent: i32,
    /// Fixed delay (oneof `http_delay_type`).
    #[serde(
        default,
        alias = "fixed_delay",
        skip_serializing_if = "Option::is_none"
    )]
    pub fixed_delay: Option<Duration>,
    /// Exponential delay (oneof `http_delay_type`); Istio rejects it.
    #[serde(
        default,
        alias = "exponential_delay",
        skip_serializing_if = "Option::is_none"
    )]
    pub exponential_delay: Option<Duration>,
    /// Percentage of requests delayed; absent means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<Percent>,
}

/// An abort fault.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Abort {
    /// HTTP status to answer with (oneof `error_type`).
    #[serde(
        default,
        alias = "http_status",
        skip_serializing_if = "Option::is_none"
    )]
    pub http_status: Option<i32>,
    /// gRPC status name to answer with, e.g. `UNAVAILABLE` (oneof `error_type`).
    #[serde(
        default,
        alias = "grpc_status",
        skip_serializing_if = "Option::is_none"
    )]
    pub grpc_status: Option<String>,
    /// HTTP/2 error (oneof `error_type`); Istio rejects it.
    #[serde(
        default,
        alias = "http2_error",
        skip_serializing_if = "Option::is_none"
    )]
    pub http2_error: Option<String>,
    /// Percentage of requests aborted; absent means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<Percent>,
}

/// One mirror destination with its percentage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpMirrorPolicy {
    /// Where copies go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    /// Share of requests copied; absent means 100%.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<Percent>,
}

/// A port on a destination host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortSelector {
    /// The port number.
    #[serde(default, skip_serializing_if = "is_default")]
    pub number: u32,
}
