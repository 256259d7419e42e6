//! Istio's `HTTPMatchRequest` compiled into matchers with Envoy's semantics, Istio's path
//! normalization, and the request methods Envoy's HTTP/1 codec accepts.
//!
//! Everything request-time is a pure, synchronous function of a [`RequestView`] that
//! allocates nothing (except to join the values of a repeated inline header): `uri`
//! (exact on the path without the query, prefix as a raw prefix of `:path`, regex as a
//! full match), `scheme` (the request's `:scheme`, which `x-forwarded-proto` sets),
//! `method`, `authority` (as sent, port included), `headers` and `withoutHeaders` (names
//! case-insensitive, values case-sensitive, repeated headers matched value by value but
//! for Envoy's [`inline`] headers, whose values are joined with `,`; a missing
//! `x-forwarded-proto` is the connection's scheme), `queryParams` (first occurrence, raw
//! value), `ignoreUriCase` and `port`. The selectors `sourceLabels`, `sourceNamespace` and
//! `gateways` are evaluated once per proxy through [`SourceSelector::applies_to`].
//!
//! ```
//! use mesh_match::{HttpMatch, RequestView, PathNormalization, normalize_target};
//! use mesh_model::virtual_service::{HttpMatchRequest, StringMatch};
//!
//! let mut m = HttpMatchRequest::default();
//! m.uri = Some(StringMatch::prefix("/admin"));
//! let matcher = HttpMatch::compile(&m, "default")?;
//!
//! let headers = http::HeaderMap::new();
//! // `/public/../admin` is normalized to `/admin` before matching, as Istio does.
//! let path = normalize_target("/public/../admin?x=1", PathNormalization::Base)?;
//! let view = RequestView::new("GET", "http", "shop.example.com", &path, &headers);
//! assert!(matcher.matches(&view));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

pub mod error;
pub mod gateway_api;
pub mod inline;
pub mod matcher;
pub mod method;
pub mod normalize;
pub mod program;
pub mod regex;
pub mod request;
pub mod string;

pub use error::CompileError;
pub use matcher::{Condition, Failed, HttpMatch, Source, SourceSelector};
pub use method::{ENVOY_HTTP1_METHODS, is_envoy_http1_method};
pub use normalize::{NormalizeError, PathNormalization, normalize};
pub use program::MatchProgram;
pub use regex::{FullRegex, REGEX_SIZE_LIMIT, RegexCache};
pub use request::{
    RequestView, authority_host, authority_port, forwarded_scheme, normalize_target,
};
pub use string::StringMatcher;
