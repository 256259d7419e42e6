//! What `meshctl route` and `meshctl simulate` share: the flags that name the configuration,
//! the proxy that decides and the request; loading and compiling the configuration, with
//! errors reported as `meshctl validate` reports them; and the request built from the flags.

use std::path::PathBuf;
use std::process::ExitCode;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use mesh_match::{NormalizeError, PathNormalization, RequestView, normalize_target};
use mesh_route::{Identity, RouteTable};
use serde::Serialize;

use crate::input;

/// The configuration, the proxy and the request (flattened into each command's arguments).
#[derive(Debug, clap::Args)]
pub(crate) struct RequestArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    proxy: ProxyArgs,
    #[command(flatten)]
    shape: ShapeArgs,
    /// The request: scheme, authority (with any port) and path with query, exactly as sent,
    /// e.g. `http://reviews.bookinfo:9080/reviews/0?x=1`.
    #[arg(value_name = "URL", value_parser = parse_url)]
    url: Uri,
}

/// The configuration (`-f`), for the commands that decide requests.
#[derive(Debug, clap::Args)]
pub(crate) struct ConfigArgs {
    /// Istio resources: a file, a directory read recursively (`*.yaml`, `*.yml`, `*.json`),
    /// or `-` for standard input (`kubectl get vs,dr,gw,se -A -o yaml | meshctl ... -f -`).
    /// Repeat the flag for several. Routing-test documents (`cases:`, `testCases:`) in
    /// them are not configuration and are passed over.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE_OR_DIR",
        required = true
    )]
    pub(crate) files: Vec<PathBuf>,
}

/// The proxy that decides.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ProxyArgs {
    /// Decide as the proxy of this Gateway (`namespace/name`, which must be in the
    /// configuration) instead of a sidecar. Resources that name no namespace are then in
    /// `default`.
    #[arg(long, value_name = "NS/NAME", value_parser = parse_gateway,
          conflicts_with_all = ["namespace", "labels"])]
    gateway: Option<Identity>,
    /// Namespace of the sidecar that decides; also the namespace of resources that name
    /// none.
    #[arg(long, value_name = "NS", default_value = "default")]
    namespace: String,
    /// Labels of the sidecar's workload (matched by `sourceLabels` and DestinationRule
    /// `workloadSelector`), comma-separated; may be repeated.
    #[arg(long, value_name = "K=V,...", value_delimiter = ',', value_parser = parse_label)]
    labels: Vec<(String, String)>,
}

impl ProxyArgs {
    /// The proxy's identity.
    pub(crate) fn identity(&self) -> Identity {
        match &self.gateway {
            Some(g) => g.clone(),
            None => Identity::sidecar_with_labels(self.namespace.clone(), self.labels.clone()),
        }
    }

    /// The namespace of resources that name none.
    pub(crate) fn namespace(&self) -> &str {
        &self.namespace
    }
}

/// The request's method, headers and path normalization.
#[derive(Debug, clap::Args)]
pub(crate) struct ShapeArgs {
    /// HTTP method.
    #[arg(
        short = 'X',
        long = "request",
        value_name = "METHOD",
        default_value = "GET",
        value_parser = parse_method
    )]
    method: Method,
    /// A request header, `Name: value`; may be repeated. A `Host` header replaces the URL's
    /// authority (as with curl); the port stays the URL's.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Path normalization applied before matching, as meshConfig.pathNormalization sets it.
    #[arg(long, value_name = "MODE", value_enum, default_value_t = Normalization::Base)]
    pub(crate) path_normalization: Normalization,
}

/// Istio's `meshConfig.pathNormalization`, as the command line spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Normalization {
    /// The path is used exactly as received.
    #[value(name = "NONE")]
    None,
    /// RFC 3986: `\` to `/`, unreserved escapes decoded, dot segments removed (Istio's
    /// default).
    #[value(name = "BASE", alias = "DEFAULT")]
    Base,
    /// BASE, then `//` merged into `/`.
    #[value(name = "MERGE_SLASHES")]
    MergeSlashes,
    /// `%2F` and `%5C` decoded, then MERGE_SLASHES.
    #[value(name = "DECODE_AND_MERGE_SLASHES")]
    DecodeAndMergeSlashes,
}

impl From<Normalization> for PathNormalization {
    fn from(n: Normalization) -> Self {
        match n {
            Normalization::None => PathNormalization::None,
            Normalization::Base => PathNormalization::Base,
            Normalization::MergeSlashes => PathNormalization::MergeSlashes,
            Normalization::DecodeAndMergeSlashes => PathNormalization::DecodeAndMergeSlashes,
        }
    }
}

/// `--gateway`: `namespace/name`.
fn parse_gateway(s: &str) -> Result<Identity, String> {
    Identity::parse_gateway(s).ok_or_else(|| format!("{s:?} is not namespace/name"))
}

/// One `--labels` item: `key=value`.
fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!("{s:?} is not key=value")),
    }
}

/// `-X`: an HTTP method token.
fn parse_method(s: &str) -> Result<Method, String> {
    Method::from_bytes(s.as_bytes()).map_err(|_| format!("{s:?} is not an HTTP method"))
}

/// `-H`: `Name: value` (`:authority: value` is the `Host` header).
fn parse_header(s: &str) -> Result<(HeaderName, HeaderValue), String> {
    // `:authority: x` names a pseudo-header; split after its leading colon.
    let split = if let Some(rest) = s.strip_prefix(':') {
        rest.split_once(':').map(|(k, v)| (&s[..k.len() + 1], v))
    } else {
        s.split_once(':')
    };
    let Some((name, value)) = split else {
        return Err(format!("{s:?} is not `Name: value`"));
    };
    let name = name.trim();
    let name = if name.eq_ignore_ascii_case(":authority") {
        http::header::HOST
    } else {
        HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("{name:?} is not a valid header name"))?
    };
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("{:?} is not a valid header value", value.trim()))?;
    Ok((name, value))
}

/// The URL: http or https, with an authority.
fn parse_url(s: &str) -> Result<Uri, String> {
    let uri: Uri = s.parse().map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(a)) if !a.host().is_empty() => Ok(uri),
        (Some(other), Some(_)) if other != "http" && other != "https" => Err(format!(
            "{s:?}: the scheme must be http or https, not {other:?}"
        )),
        _ => Err(format!(
            "{s:?} needs a scheme and an authority, e.g. http://reviews:9080/path"
        )),
    }
}

/// The request a command decides, owned so that views of it can be borrowed.
#[derive(Debug)]
pub(crate) struct Request {
    /// `:method`.
    pub(crate) method: Method,
    /// `:scheme`.
    pub(crate) scheme: String,
    /// `:authority` as sent (the URL's, or the `Host` header's).
    pub(crate) authority: String,
    /// The port the request is sent to (the URL's, or the scheme's default).
    pub(crate) port: u16,
    /// Path and query exactly as sent.
    pub(crate) target: String,
    /// The path and query after normalization, or why Envoy rejects it (400).
    pub(crate) normalized: Result<String, NormalizeError>,
    /// The normalization applied.
    pub(crate) normalization: PathNormalization,
    /// Request headers (without `Host`, which is the authority).
    pub(crate) headers: HeaderMap,
}

impl Request {
    /// The request the flags describe.
    fn new(args: &RequestArgs) -> Request {
        let scheme = args.url.scheme_str().unwrap_or("http").to_owned();
        let url_authority = args.url.authority().map_or("", |a| a.as_str());
        let port = args
            .url
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        let target = args
            .url
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let mut headers = HeaderMap::new();
        let mut authority = url_authority.to_owned();
        for (name, value) in &args.shape.headers {
            if name == http::header::HOST {
                authority = String::from_utf8_lossy(value.as_bytes()).into_owned();
            } else {
                headers.append(name.clone(), value.clone());
            }
        }
        Request::from_parts(
            args.shape.method.clone(),
            scheme,
            authority,
            port,
            target,
            headers,
            args.shape.path_normalization.into(),
        )
    }

    /// A request from its parts; the path is normalized here, as Envoy does on receipt.
    pub(crate) fn from_parts(
        method: Method,
        scheme: String,
        authority: String,
        port: u16,
        target: String,
        headers: HeaderMap,
        normalization: PathNormalization,
    ) -> Request {
        let normalized = normalize_target(&target, normalization).map(|p| p.into_owned());
        Request {
            method,
            scheme,
            authority,
            port,
            target,
            normalized,
            normalization,
            headers,
        }
    }

    /// The view that matching reads, or `Err` when Envoy refuses the request before
    /// routing (see [`Request::rejection`]): a method its HTTP/1 codec does not know, or a
    /// path it cannot normalize.
    pub(crate) fn view(&self) -> Result<RequestView<'_>, ()> {
        if !mesh_match::is_envoy_http1_method(self.method.as_str()) {
            return Err(());
        }
        let path = self.normalized.as_ref().map_err(|_| ())?;
        Ok(RequestView::new(
            self.method.as_str(),
            &self.scheme,
            &self.authority,
            path,
            &self.headers,
        )
        .with_port(self.port))
    }

    /// The request line as the user gave it: `GET http://authority/path?query`.
    pub(crate) fn line(&self) -> String {
        format!(
            "{} {}://{}{}",
            self.method, self.scheme, self.authority, self.target
        )
    }

    /// The request as `meshctl route` arguments: `-X METHOD -H 'name: value'... URL`, with
    /// the port in the URL when the authority does not say it.
    pub(crate) fn command_line(&self) -> String {
        let mut s = String::new();
        if self.method != Method::GET {
            s.push_str(&format!("-X {} ", self.method));
        }
        for (k, v) in &self.headers {
            s.push_str(&format!(
                "-H '{k}: {}' ",
                String::from_utf8_lossy(v.as_bytes())
            ));
        }
        let default = if self.scheme == "https" { 443 } else { 80 };
        let explicit = mesh_match::authority_port(&self.authority).is_some();
        if explicit || self.port == default {
            s.push_str(&format!(
                "{}://{}{}",
                self.scheme, self.authority, self.target
            ));
        } else {
            s.push_str(&format!(
                "-H 'Host: {}' {}://{}:{}{}",
                self.authority,
                self.scheme,
                mesh_match::authority_host(&self.authority),
                self.port,
                self.target
            ));
        }
        s
    }

    /// Why Envoy rejects the request, as a sentence, when it does.
    pub(crate) fn rejection(&self) -> Option<String> {
        if !mesh_match::is_envoy_http1_method(self.method.as_str()) {
            return Some(format!(
                "Envoy answers 400 Bad Request (flag DPE): its HTTP/1 codec does not accept the method {:?} (methods are case-sensitive tokens from a fixed list)",
                self.method.as_str()
            ));
        }
        self.normalized.as_ref().err().map(|e| {
            format!(
                "Envoy answers 400 Bad Request: {e} (path {:?}, normalization {})",
                self.target, self.normalization
            )
        })
    }
}

/// A compiled table and the request to decide.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The routes of the proxy.
    pub(crate) table: RouteTable,
    /// The request.
    pub(crate) request: Request,
}

/// Loads and compiles the configuration for the proxy, and builds the request.
///
/// Errors are printed to stderr; the error value is the exit status: 2 when input could not
/// be read, 1 when the configuration has errors (load errors, validation errors without an
/// analyzer code, compile errors). Compile warnings are printed to stderr too.
pub(crate) fn prepare(args: &RequestArgs) -> Result<Prepared, ExitCode> {
    let resources = input::load_config(&args.config.files, &args.proxy.namespace, 1)?;
    let table = input::compile(&resources, &args.proxy.identity(), 1)?;
    Ok(Prepared {
        table,
        request: Request::new(args),
    })
}

/// A destination as the JSON output names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Destination {
    /// Fully qualified host.
    pub(crate) host: String,
    /// Subset; `null` for none.
    pub(crate) subset: Option<String>,
    /// Port connected to.
    pub(crate) port: u16,
}

impl Destination {
    /// From a host, a subset (empty for none) and a port.
    pub(crate) fn new(host: &str, subset: &str, port: u16) -> Self {
        Destination {
            host: host.to_owned(),
            subset: (!subset.is_empty()).then(|| subset.to_owned()),
            port,
        }
    }

    /// The destination a decision forwards to, if it forwards.
    pub(crate) fn of(decision: &mesh_route::Decision<'_>, view: &RequestView<'_>) -> Option<Self> {
        match decision {
            mesh_route::Decision::Route { target, .. } => Some(Destination::new(
                &target.host(),
                target.subset(),
                target.port(view.port()),
            )),
            _ => None,
        }
    }
}

impl std::fmt::Display for Destination {
    /// `host|subset|port` (the subset empty when there is none).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}|{}|{}",
            self.host,
            self.subset.as_deref().unwrap_or(""),
            self.port
        )
    }
}
