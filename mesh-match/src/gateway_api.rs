//! Gateway API matches (`HTTPRouteMatch`, `GRPCRouteMatch`) compiled into [`HttpMatch`]es,
//! as Istio translates them and Envoy evaluates them:
//!
//! - `PathPrefix` is Envoy's `path_separated_prefix` on the path without the query (`/foo`
//!   matches `/foo`, `/foo/` and `/foo/bar`, not `/foobar`); a trailing `/` of the value is
//!   ignored, and the prefix `/` matches every path. `Exact` compares the path without the
//!   query; `RegularExpression` matches the whole path (RE2 syntax).
//! - Headers: names case-insensitive, values case-sensitive (`Exact`) or a whole-value
//!   regex; only the first entry of a name counts. Query parameters likewise, names
//!   case-sensitive. `method` is exact.
//! - gRPC `method`: `service` and `method` select on the `/<service>/<method>` path (exact
//!   path, service prefix `/<service>/`, or regexes), headers as for HTTP.

use mesh_model::gateway_api::{GrpcRouteMatch, HttpRouteMatch};

use crate::error::CompileError;
use crate::matcher::{
    HeaderCondition, HeaderTarget, HttpMatch, SourceSelector, UriKind, UriMatcher,
};
use crate::program::MatchProgram;
use crate::regex::FullRegex;
use crate::string::StringMatcher;

fn value_matcher(kind: &str, value: &str) -> Result<StringMatcher, CompileError> {
    match kind {
        "RegularExpression" => Ok(StringMatcher::Regex(FullRegex::new(value)?)),
        "Exact" => Ok(StringMatcher::Exact(value.as_bytes().into())),
        other => Err(CompileError::Unsupported {
            what: format!("match type {other:?}"),
        }),
    }
}

fn header(name: &str, kind: &str, value: &str) -> Result<HeaderCondition, CompileError> {
    let lower = name.to_ascii_lowercase();
    let target = match lower.as_str() {
        ":authority" | "host" => HeaderTarget::Authority,
        ":method" => HeaderTarget::Method,
        ":scheme" => HeaderTarget::Scheme,
        ":path" => HeaderTarget::Path,
        _ => HeaderTarget::Named(http::HeaderName::from_bytes(lower.as_bytes()).map_err(|_| {
            CompileError::HeaderName {
                name: name.to_owned(),
            }
        })?),
    };
    Ok(HeaderCondition::new(
        lower.into(),
        target,
        value_matcher(kind, value)?,
        false,
    ))
}

fn uri(kind: UriKind, matcher: StringMatcher) -> Option<UriMatcher> {
    Some(UriMatcher {
        kind,
        matcher,
        ignore_case: false,
    })
}

impl HttpMatch {
    /// Compiles an `HTTPRouteMatch`.
    pub fn from_http_route_match(m: &HttpRouteMatch) -> Result<Self, CompileError> {
        let uri = match &m.path {
            None => None,
            Some(p) => match p.kind.as_str() {
                "PathPrefix" => {
                    let v = if p.value == "/" {
                        "/"
                    } else {
                        p.value.strip_suffix('/').unwrap_or(&p.value)
                    };
                    if v == "/" {
                        uri(UriKind::Prefix, StringMatcher::Prefix(b"/"[..].into()))
                    } else {
                        uri(
                            UriKind::SeparatedPrefix,
                            StringMatcher::Prefix(v.as_bytes().into()),
                        )
                    }
                }
                "Exact" => uri(
                    UriKind::Exact,
                    StringMatcher::Exact(p.value.as_bytes().into()),
                ),
                "RegularExpression" => uri(
                    UriKind::Regex,
                    StringMatcher::Regex(FullRegex::new(&p.value)?),
                ),
                other => {
                    return Err(CompileError::Unsupported {
                        what: format!("path match type {other:?}"),
                    });
                }
            },
        };
        let mut headers: Vec<HeaderCondition> = Vec::new();
        for h in &m.headers {
            let c = header(&h.name, &h.kind, &h.value)?;
            if !headers.iter().any(|x| x.key == c.key) {
                headers.push(c);
            }
        }
        let mut query: Vec<(Box<str>, StringMatcher)> = Vec::new();
        for q in &m.query_params {
            if !query.iter().any(|(k, _)| **k == *q.name) {
                query.push((q.name.as_str().into(), value_matcher(&q.kind, &q.value)?));
            }
        }
        HttpMatch {
            name: String::new(),
            uri,
            scheme: None,
            method: m
                .method
                .as_ref()
                .map(|x| StringMatcher::Exact(x.as_bytes().into())),
            authority: None,
            port: None,
            headers: headers.into(),
            query: query.into(),
            selector: SourceSelector::default(),
            program: MatchProgram::default(),
        }
        .finish()
    }

    /// Compiles a `GRPCRouteMatch` (`None`: no conditions at all).
    pub fn from_grpc_route_match(m: Option<&GrpcRouteMatch>) -> Result<Self, CompileError> {
        let mut out = HttpMatch {
            name: String::new(),
            uri: None,
            scheme: None,
            method: None,
            authority: None,
            port: None,
            headers: Box::new([]),
            query: Box::new([]),
            selector: SourceSelector::default(),
            program: MatchProgram::default(),
        };
        let Some(m) = m else { return out.finish() };
        if let Some(mm) = &m.method {
            let regex = mm.kind == "RegularExpression";
            out.uri = match (mm.service.as_deref(), mm.method.as_deref(), regex) {
                (None, None, _) => {
                    return Err(CompileError::Unsupported {
                        what: "a gRPC method match without service or method".into(),
                    });
                }
                (Some(s), Some(me), false) => uri(
                    UriKind::Exact,
                    StringMatcher::Exact(format!("/{s}/{me}").into_bytes().into()),
                ),
                (Some(s), None, false) => uri(
                    UriKind::Prefix,
                    StringMatcher::Prefix(format!("/{s}/").into_bytes().into()),
                ),
                (None, Some(me), false) => uri(
                    UriKind::Regex,
                    StringMatcher::Regex(FullRegex::new(&format!(
                        "/[^/]+/{}",
                        regex_syntax_escape(me)
                    ))?),
                ),
                (Some(s), None, true) => uri(
                    UriKind::Regex,
                    StringMatcher::Regex(FullRegex::new(&format!("/{s}/.+"))?),
                ),
                (None, Some(me), true) => uri(
                    UriKind::Regex,
                    StringMatcher::Regex(FullRegex::new(&format!("/[^/]+/{me}"))?),
                ),
                (Some(s), Some(me), true) => uri(
                    UriKind::Regex,
                    StringMatcher::Regex(FullRegex::new(&format!("/{s}/{me}"))?),
                ),
            };
        }
        let mut headers: Vec<HeaderCondition> = Vec::new();
        for h in &m.headers {
            let c = header(&h.name, &h.kind, &h.value)?;
            if !headers.iter().any(|x| x.key == c.key) {
                headers.push(c);
            }
        }
        out.headers = headers.into();
        out.finish()
    }

    /// The same conditions, and the request port must be `port` (a mesh route whose
    /// parentRef names a Service port).
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self.program.set_port(port);
        self
    }

    /// A match with no condition but the request port (`None`: no condition at all).
    pub fn any_on_port(port: Option<u16>) -> Self {
        let m = HttpMatch {
            name: String::new(),
            uri: None,
            scheme: None,
            method: None,
            authority: None,
            port: None,
            headers: Box::new([]),
            query: Box::new([]),
            selector: SourceSelector::default(),
            program: MatchProgram::unconditional(),
        };
        match port {
            Some(p) => m.with_port(p),
            None => m,
        }
    }
}

/// Escapes a literal for a regex (gRPC method names are identifiers, but stay safe).
fn regex_syntax_escape(s: &str) -> String {
    regex::escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RequestView;
    use mesh_model::gateway_api::{HttpPathMatch, HttpQueryParamMatch};

    fn view_matches(m: &HttpMatch, path: &str) -> bool {
        let headers = http::HeaderMap::new();
        let view = RequestView::new("GET", "http", "example.com", path, &headers);
        m.matches(&view)
    }

    fn prefix(v: &str) -> HttpMatch {
        HttpMatch::from_http_route_match(&HttpRouteMatch {
            path: Some(HttpPathMatch {
                kind: "PathPrefix".into(),
                value: v.into(),
            }),
            ..HttpRouteMatch::default()
        })
        .unwrap()
    }

    /// The Gateway API's `PathPrefix` matches element by element on the path without the
    /// query: `/v2` matches `/v2`, `/v2/` and `/v2/x`, not `/v2example`; a trailing `/` of
    /// the value is ignored.
    #[test]
    fn path_prefix_is_path_separated() {
        let m = prefix("/v2");
        for (path, want) in [
            ("/v2", true),
            ("/v2/", true),
            ("/v2/example", true),
            ("/v2?x=1", true),
            ("/v2example", false),
            ("/", false),
        ] {
            assert_eq!(view_matches(&m, path), want, "{path}");
        }
        let m = prefix("/v2/");
        assert!(view_matches(&m, "/v2"));
        assert!(!view_matches(&m, "/v2x"));
        assert!(view_matches(&prefix("/"), "/anything"));
        assert_eq!(prefix("/v2/").uri_prefix(), Some(&b"/v2"[..]));
    }

    /// Only the first entry of a query parameter name counts.
    #[test]
    fn first_query_param_entry_wins() {
        let q = |v: &str| HttpQueryParamMatch {
            kind: "Exact".into(),
            name: "animal".into(),
            value: v.into(),
        };
        let m = HttpMatch::from_http_route_match(&HttpRouteMatch {
            query_params: vec![q("whale"), q("dolphin")],
            ..HttpRouteMatch::default()
        })
        .unwrap();
        assert!(view_matches(&m, "/?animal=whale"));
        assert!(!view_matches(&m, "/?animal=dolphin"));
    }
}
