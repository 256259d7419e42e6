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
}
