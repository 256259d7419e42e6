//! Errors of the mesh service. Each maps to the local reply Envoy would send, with the
//! response flag Istio's metrics report.

use http::StatusCode;

use crate::BoxError;

/// Why the mesh answered instead of the upstream.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// The path could not be normalized (Envoy: 400).
    #[error("bad request path: {0}")]
    BadPath(#[from] mesh_match::NormalizeError),
    /// No route for the request (404, `NR`).
    #[error("no route")]
    NoRoute,
    /// The route timeout or the last per-try timeout expired (504, `UT`).
    #[error("upstream request timeout")]
    Timeout,
    /// The destination's subset is not defined (503, `NC`).
    #[error("cluster not found: {0}")]
    ClusterNotFound(String),
    /// No endpoint of the subset is available (503, `UH`).
    #[error("no healthy upstream")]
    NoHealthyUpstream,
    /// A connection-pool limit was reached (503, `UO`).
    #[error("upstream overflow: {0}")]
    Overflow(&'static str),
    /// The upstream failed (503: `UF` on connect failure, else `UR`/`UC`).
    #[error("upstream connect error or disconnect/reset before headers. reset reason: {reason}")]
    Upstream {
        /// `connection failure`, `remote reset`, ...
        reason: &'static str,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The request body could not be read.
    #[error("error reading the request body: {0}")]
    Body(#[source] BoxError),
    /// The request already passed this layer: its `CDN-Loop` header names this layer's id
    /// (502, as Envoy's `cdn_loop` filter answers). See [`crate::loop_detect`].
    #[error("request loop detected")]
    LoopDetected,
    /// The request's `CDN-Loop` header cannot be parsed (400, as Envoy's `cdn_loop` filter).
    #[error("invalid CDN-Loop header")]
    BadLoopHeader,
    /// No activity on the stream for the stream idle timeout (flag `SI`, body
    /// `stream timeout`): 408 and `connection: close` when the client had not sent its whole
    /// request, 504 when the upstream had not answered. See [`crate::idle`].
    #[error("stream timeout")]
    StreamIdle {
        /// Whether the client had sent its whole request (then the upstream stalled).
        request_complete: bool,
    },
    /// Refused before routing, as Envoy's HTTP/1 codec or connection manager refuses it
    /// with Istio's settings (a method Envoy does not know, a malformed `Connection`
    /// header, an upgrade Istio does not enable, `CONNECT`): Envoy's status and body.
    #[error("request refused: {reason}")]
    Refused {
        /// The status Envoy answers with.
        status: StatusCode,
        /// The body Envoy answers with (`Bad Request`, or empty).
        body: &'static str,
        /// Why, for logs.
        reason: &'static str,
        /// Envoy closes the connection after this answer (its codec errors).
        close: bool,
    },
    /// The upstream's response was malformed (502, `UPE`): a bad status line, conflicting
    /// framing, a header Envoy's codec refuses, a head over the limits.
    #[error(
        "upstream connect error or disconnect/reset before headers. reset reason: protocol error"
    )]
    UpstreamProtocol(#[source] BoxError),
}

impl MeshError {
    /// The status Envoy answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            MeshError::BadPath(_) | MeshError::Body(_) | MeshError::BadLoopHeader => {
                StatusCode::BAD_REQUEST
            }
            MeshError::LoopDetected => StatusCode::BAD_GATEWAY,
            MeshError::StreamIdle {
                request_complete: false,
            } => StatusCode::REQUEST_TIMEOUT,
            MeshError::StreamIdle {
                request_complete: true,
            } => StatusCode::GATEWAY_TIMEOUT,
            MeshError::Refused { status, .. } => *status,
            MeshError::UpstreamProtocol(_) => StatusCode::BAD_GATEWAY,
            MeshError::NoRoute => StatusCode::NOT_FOUND,
            MeshError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            MeshError::ClusterNotFound(_)
            | MeshError::NoHealthyUpstream
            | MeshError::Overflow(_)
            | MeshError::Upstream { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The body of Envoy's local reply.
    pub fn body(&self) -> String {
        match self {
            MeshError::NoRoute => String::new(),
            MeshError::Timeout => "upstream request timeout".to_owned(),
            MeshError::NoHealthyUpstream => "no healthy upstream".to_owned(),
            MeshError::Overflow(_) => {
                "upstream connect error or disconnect/reset before headers. reset reason: overflow"
                    .to_owned()
            }
            MeshError::ClusterNotFound(_) => String::new(),
            // Envoy 1.40's `path_normalization_failed` reply has no body (measured).
            MeshError::BadPath(_) => String::new(),
            MeshError::Body(_) => "Bad Request".to_owned(),
            MeshError::Refused { body, .. } => (*body).to_owned(),
            MeshError::LoopDetected => crate::loop_detect::LOOP_DETECTED_BODY.to_owned(),
            MeshError::BadLoopHeader => crate::loop_detect::BAD_HEADER_BODY.to_owned(),
            MeshError::StreamIdle { .. } => "stream timeout".to_owned(),
            other => other.to_string(),
        }
    }

    /// Whether Envoy closes the client's connection after this answer (`connection:
    /// close`): its codec errors, and an HTTP/1 connection whose request was not read to its
    /// end (a stalled client's 408, a 400 for a bad request header).
    pub fn closes_connection(&self) -> bool {
        matches!(
            self,
            MeshError::Refused { close: true, .. }
                | MeshError::StreamIdle {
                    request_complete: false
                }
                | MeshError::BadLoopHeader
        )
    }
}

/// An error of a backend that is a connection failure (retried under `connect-failure`).
/// Backends built on other clients can return it to get Envoy's treatment.
#[derive(Debug, thiserror::Error)]
#[error("connection failure: {0}")]
pub struct ConnectFailure(#[source] pub BoxError);

/// An error of a backend whose upstream answered with a malformed response (502 `UPE`, as
/// Envoy answers). Backends built on other clients can return it to get Envoy's treatment.
#[derive(Debug, thiserror::Error)]
#[error("upstream protocol error: {0}")]
pub struct ProtocolError(#[source] pub BoxError);
