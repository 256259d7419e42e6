//! `redirect`, as Istio translates it (`ApplyRedirect`) and Envoy builds the `Location`.

use mesh_match::{HttpMatch, RequestView};
use mesh_model::virtual_service::{HttpRedirect, RedirectPortSelection};

/// How the redirect's path is built.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RedirectPath {
    /// The request's path and query.
    Keep,
    /// `uri`: the whole path; the request's query is kept unless the value has one.
    Replace(String),
    /// `prefixRewrite`: the matched prefix is replaced, or the whole path when the match
    /// (after a delegate merge) is exact or regex.
    PrefixRewrite(String),
}

/// A compiled redirect.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Redirect {
    /// Status: 301 (default), 302, 303, 307 or 308.
    pub code: u16,
    /// New scheme.
    pub scheme: Option<String>,
    /// New authority (host).
    pub authority: Option<String>,
    /// `port`, as configured. Istio leaves 80 with http and 443 with https out of Envoy's
    /// config, so those do not replace the Host's own port (see [`Redirect::location`]).
    pub port: Option<u16>,
    /// `derivePort: FROM_REQUEST_PORT`: the request's (listener's) port.
    pub port_from_request: bool,
    /// Envoy's `require_tls` redirect (a Gateway server's `tls.httpsRedirect`): `https://`,
    /// then the Host exactly as sent (port and case kept), then the path and query.
    pub require_tls: bool,
    /// Path.
    pub path: RedirectPath,
}

impl Redirect {
    /// Compiles a redirect; `None` for a code Istio cannot translate (istiod then emits a
    /// route without an action, which Envoy rejects).
    pub fn compile(r: &HttpRedirect) -> Option<Self> {
        let code = match r.redirect_code {
            0 | 301 => 301,
            c @ (302 | 303 | 307 | 308) => c as u16,
            _ => return None,
        };
        let path = if !r.prefix_rewrite.is_empty() {
            RedirectPath::PrefixRewrite(r.prefix_rewrite.clone())
        } else if !r.uri.is_empty() {
            RedirectPath::Replace(r.uri.clone())
        } else {
            RedirectPath::Keep
        };
        let (port, port_from_request) = match (r.port, r.derive_port) {
            (Some(p), _) => (u16::try_from(p).ok(), false),
            (None, Some(RedirectPortSelection::FromRequestPort)) => (None, true),
            _ => (None, false),
        };
        Some(Redirect {
            code,
            scheme: (!r.scheme.is_empty()).then(|| r.scheme.clone()),
            authority: (!r.authority.is_empty()).then(|| r.authority.clone()),
            port,
            port_from_request,
            require_tls: false,
            path,
        })
    }

    /// An `https` redirect of the whole URL (a Gateway server's `tls.httpsRedirect`).
    pub fn https() -> Self {
        Redirect {
            code: 301,
            scheme: Some("https".to_owned()),
            authority: None,
            port: None,
            port_from_request: false,
            require_tls: true,
            path: RedirectPath::Keep,
        }
    }

    /// The `Location` for `req`, given the match block that matched.
    ///
    /// The port follows Istio's translation and Envoy's `newUri` (observed on Envoy 1.40):
    /// Istio passes `port` (or, for `FROM_REQUEST_PORT`, the listener's port) unless it is
    /// 80 with http or 443 with https (the redirect's scheme, else the listener's); with a
    /// port, Envoy replaces the Host's port; without one, it keeps the Host as sent except
    /// that a scheme change drops the old scheme's default port (`:80` for http, `:443` for
    /// https). An `authority` replaces the Host verbatim. Without a `scheme`, the request's
    /// `:scheme` is kept, which Envoy takes from `x-forwarded-proto` (see
    /// [`RequestView::new`]).
    pub fn location(&self, req: &RequestView<'_>, matched: Option<&HttpMatch>) -> String {
        let pq = req.path_and_query();
        if self.require_tls {
            // Envoy's `createSslRedirectPath`.
            return format!("https://{}{pq}", req.authority());
        }
        // Istio drops 80/443 at config time, from the listener's TLS (`ApplyRedirect`).
        let listener_scheme = if req.listener_scheme() == "https" {
            "https"
        } else {
            "http"
        };
        let port = match (self.port, self.port_from_request) {
            (Some(p), _) => Some(p),
            (None, true) => Some(req.port()),
            (None, false) => None,
        }
        .filter(|p| {
            let s = self.scheme.as_deref().unwrap_or(listener_scheme);
            !matches!((p, s), (80, "http") | (443, "https"))
        });
        let scheme = self.scheme.as_deref().unwrap_or(req.scheme());
        let host = match &self.authority {
            Some(a) => a.as_str(),
            None => request_host(req.authority(), scheme, req, port.is_some()),
        };
        let path = match &self.path {
            RedirectPath::Keep => pq.to_owned(),
            RedirectPath::Replace(uri) => {
                if uri.contains('?') {
                    uri.clone()
                } else {
                    let query = pq.find('?').map_or("", |i| &pq[i..]);
                    format!("{uri}{query}")
                }
            }
            RedirectPath::PrefixRewrite(new) => super::rewrite::prefix_rewrite(matched, pq, new),
        };
        let slash = if path.starts_with('/') { "" } else { "/" };
        match port {
            Some(p) => format!("{scheme}://{host}:{p}{slash}{path}"),
            None => format!("{scheme}://{host}{slash}{path}"),
        }
    }
}

/// The Host of the Location when the redirect sets no authority (Envoy's
/// `processRequestHost`): the request's Host, without its port when the redirect sets a
/// port, or when the scheme changes and the port is the old scheme's default. The old
/// scheme is the request's `x-forwarded-proto` as Envoy holds it (compared exactly: two
/// headers joined, or `HTTPS`, are neither `http` nor `https`), measured with Envoy 1.40.
fn request_host<'a>(
    authority: &'a str,
    new_scheme: &str,
    req: &RequestView<'_>,
    new_port: bool,
) -> &'a str {
    let host_end = if authority.starts_with('[') {
        authority.rfind("]:").map(|i| i + 1)
    } else {
        authority.rfind(':')
    };
    let Some(end) = host_end else {
        return authority;
    };
    let port = &authority[end..];
    let mut remove = new_port;
    if !req.forwarded_proto_is(new_scheme) {
        remove |= req.forwarded_proto_is("https") && port == ":443";
        remove |= req.forwarded_proto_is("http") && port == ":80";
    }
    if remove { &authority[..end] } else { authority }
}
