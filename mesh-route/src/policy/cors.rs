//! `corsPolicy`, compiled for Envoy's CORS filter semantics.

use mesh_match::StringMatcher;
use mesh_model::virtual_service::{CorsPolicy as CorsSpec, StringMatch, UnmatchedPreflights};

/// A compiled CORS policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CorsPolicy {
    /// Allowed origins (`allowOrigins`, or the deprecated exact `allowOrigin`).
    pub allow_origins: Vec<StringMatcher>,
    /// `Access-Control-Allow-Methods`.
    pub allow_methods: Option<String>,
    /// `Access-Control-Allow-Headers`.
    pub allow_headers: Option<String>,
    /// `Access-Control-Expose-Headers`.
    pub expose_headers: Option<String>,
    /// `Access-Control-Max-Age`, in whole seconds.
    pub max_age: Option<u64>,
    /// `Access-Control-Allow-Credentials`.
    pub allow_credentials: Option<bool>,
    /// Whether preflights from origins that do not match are forwarded upstream.
    pub forward_unmatched_preflights: bool,
}

impl CorsPolicy {
    /// Compiles a `corsPolicy`.
    pub fn compile(c: &CorsSpec) -> Result<Self, mesh_match::CompileError> {
        let origins: Vec<StringMatcher> = match &c.allow_origins {
            Some(list) => list
                .iter()
                .map(StringMatcher::compile)
                .collect::<Result<_, _>>()?,
            None => c
                .allow_origin
                .iter()
                .map(|o| StringMatcher::compile(&StringMatch::exact(o.clone())))
                .collect::<Result<_, _>>()?,
        };
        let join = |v: &Vec<String>| (!v.is_empty()).then(|| v.join(","));
        Ok(CorsPolicy {
            allow_origins: origins,
            allow_methods: join(&c.allow_methods),
            allow_headers: join(&c.allow_headers),
            expose_headers: join(&c.expose_headers),
            max_age: c
                .max_age
                .and_then(|d| u64::try_from(d.as_nanos() / 1_000_000_000).ok()),
            allow_credentials: c.allow_credentials,
            forward_unmatched_preflights: c.unmatched_preflights != UnmatchedPreflights::Ignore,
        })
    }

    /// Whether `origin` is allowed.
    pub fn allows(&self, origin: &[u8]) -> bool {
        self.allow_origins.iter().any(|m| m.matches(origin))
    }

    /// What the proxy does with a request: a preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`) from an allowed origin, or from another origin when
    /// unmatched preflights are not forwarded, is answered by the proxy (200) with
    /// [`preflight_headers`](Self::preflight_headers); a preflight from another origin that
    /// is forwarded, and every other request, goes on (and an allowed origin's response gets
    /// [`response_headers`](Self::response_headers)).
    pub fn answers_preflight(&self, method: &http::Method, headers: &http::HeaderMap) -> bool {
        let Some(origin) = headers.get(http::header::ORIGIN) else {
            return false;
        };
        let preflight = method == http::Method::OPTIONS
            && headers.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD);
        preflight && (self.allows(origin.as_bytes()) || !self.forward_unmatched_preflights)
    }

    /// The headers of the proxy's answer to a preflight (observed on Envoy 1.40): from an
    /// allowed origin, `Allow-Origin` (the origin) and `Expose-Headers`; from any origin, the
    /// policy's methods, headers, max age and credentials, where methods `*` (headers `*`)
    /// answer with the request's `Access-Control-Request-Method` (`-Headers`, empty when
    /// absent).
    pub fn preflight_headers(
        &self,
        request: &http::HeaderMap,
    ) -> Vec<(http::HeaderName, http::HeaderValue)> {
        use http::header;
        let mut out = Vec::new();
        let text = |v: &http::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
        let origin = request
            .get(header::ORIGIN)
            .filter(|o| self.allows(o.as_bytes()));
        if let Some(o) = origin {
            out.push((header::ACCESS_CONTROL_ALLOW_ORIGIN, o.clone()));
            if let Some(v) = self.expose_headers.as_deref() {
                out.push((
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    v.to_owned().into_value(),
                ));
            }
        }
        for (name, asked, value) in [
            (
                header::ACCESS_CONTROL_ALLOW_METHODS,
                header::ACCESS_CONTROL_REQUEST_METHOD,
                &self.allow_methods,
            ),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                &self.allow_headers,
            ),
        ] {
            match value.as_deref() {
                Some("*") => {
                    let echoed = request.get(asked).map(text).unwrap_or_default();
                    out.push((name, echoed.into_value()));
                }
                Some(v) => out.push((name, v.to_owned().into_value())),
                None => {}
            }
        }
        if let Some(age) = self.max_age {
            out.push((header::ACCESS_CONTROL_MAX_AGE, age.to_string().into_value()));
        }
        if self.allow_credentials == Some(true) {
            out.push((
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                http::HeaderValue::from_static("true"),
            ));
        }
        out
    }

    /// The headers added to the upstream's response to a request from an allowed `origin`:
    /// `Allow-Origin`, `Allow-Credentials` and `Expose-Headers` (none for other origins).
    pub fn response_headers(
        &self,
        request: &http::HeaderMap,
    ) -> Vec<(http::HeaderName, http::HeaderValue)> {
        use http::header;
        let mut out = Vec::new();
        let Some(origin) = request
            .get(header::ORIGIN)
            .filter(|o| self.allows(o.as_bytes()))
        else {
            return out;
        };
        out.push((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()));
        if self.allow_credentials == Some(true) {
            out.push((
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                http::HeaderValue::from_static("true"),
            ));
        }
        if let Some(v) = self.expose_headers.as_deref() {
            out.push((
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                v.to_owned().into_value(),
            ));
        }
        out
    }
}

/// A header value from policy text (validated at compile time; invalid bytes become an
/// empty value rather than a panic).
trait IntoValue {
    fn into_value(self) -> http::HeaderValue;
}

impl IntoValue for String {
    fn into_value(self) -> http::HeaderValue {
        http::HeaderValue::from_str(&self).unwrap_or_else(|_| http::HeaderValue::from_static(""))
    }
}
