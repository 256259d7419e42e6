//! `redirect`, as Istio translates it (`ApplyRedirect`) and Envoy builds the `Location`.

use mesh_match::{HttpMatch, RequestView, authority_host, authority_port};
use mesh_model::virtual_service::{HttpRedirect, RedirectPortSelection};

/// How the redirect's path is built.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RedirectPath {
    /// The request's path and query.
    Keep,
    /// `uri`: the whole path; the request's query is kept unless the value has one.
    Replace(String),
    /// `prefixRewrite`: the matched prefix is replaced.
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
    /// New port; `Some(0)` is never stored (default ports are dropped).
    pub port: Option<u16>,
    /// `derivePort: FROM_REQUEST_PORT`: the request's port.
    pub port_from_request: bool,
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
            path: RedirectPath::Keep,
        }
    }

    /// The `Location` for `req`, given the match block that matched.
    pub fn location(&self, req: &RequestView<'_>, matched: Option<&HttpMatch>) -> String {
        let scheme = self.scheme.as_deref().unwrap_or(req.scheme());
        let scheme_changed = scheme != req.scheme();
        let source = self.authority.as_deref().unwrap_or(req.authority());
        let host = authority_host(source);
        let explicit = match (self.port, self.port_from_request) {
            (Some(p), _) => Some(p),
            (None, true) => Some(req.port()),
            (None, false) => None,
        };
        let mut port = explicit.or_else(|| authority_port(source));
        let default = |s: &str, p: u16| (s == "http" && p == 80) || (s == "https" && p == 443);
        if let Some(p) = port {
            let drop_old = explicit.is_none() && scheme_changed && default(req.scheme(), p);
            if default(scheme, p) || drop_old {
                port = None;
            }
        }
        let pq = req.path_and_query();
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
            RedirectPath::PrefixRewrite(new) => {
                let len = matched
                    .and_then(HttpMatch::uri_prefix)
                    .map_or(1, <[u8]>::len);
                format!("{new}{}", pq.get(len.min(pq.len())..).unwrap_or(""))
            }
        };
        match port {
            Some(p) => format!("{scheme}://{host}:{p}{path}"),
            None => format!("{scheme}://{host}{path}"),
        }
    }
}
