//! How an upstream failed, as Envoy classifies it: the response flag and local reply each
//! failure gets, and the framing rules a response must keep to be passed on.
//!
//! Measured on Envoy 1.40.0 with Istio's HTTP/1.1 upstream settings (see
//! `mesh-proxy/tests/envoy_edge.rs`): a response with a bad status line (`HTTP/1.1 2OO`,
//! `FOO 200`, a status under 100), two `Content-Length`s (equal or not, or `2, 2`), a
//! `Content-Length` with `Transfer-Encoding`, a transfer coding other than `chunked`, a NUL
//! or control byte or a space before the colon in a header, a header without a colon, more
//! than 100 headers or a head over 60 KiB gets `502` with body `upstream connect error or
//! disconnect/reset before headers. reset reason: protocol error`, flag `UPE`. A connection
//! closed before any byte of the response gets `503`, `reset reason: connection
//! termination`, flag `UC`. A response cut after its head is passed on as far as it came,
//! then the client's connection is closed, and the request is counted with `UPE`
//! ([`crate::completion`]).

use http::Response;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};

use crate::BoxError;
use crate::service::error::{ConnectFailure, ProtocolError};

/// How an attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No connection (503 `UF`).
    Connect,
    /// The connection broke while the request was sent or the head awaited (503 `UR`).
    Reset,
    /// The upstream closed the connection without answering (503 `UC`).
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    Termination,
    /// The response broke HTTP's rules (502 `UPE`).
    Protocol,
    /// The per-try timeout expired (504 `UT`).
    PerTryTimeout,
    /// The endpoint has no such service port (the client's `NoSuchPort`): no cluster
    /// (503 `NC`).
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    NoCluster,
}

/// The failure an error of a backend stands for: [`ConnectFailure`] and [`ProtocolError`]
/// as they say, and the errors of hyper's client by what hyper reports; anything else is a
/// reset.
pub(crate) fn classify(e: &BoxError) -> Failure {
    if e.is::<crate::timeout::Elapsed>() {
        return Failure::PerTryTimeout;
    }
    if e.downcast_ref::<ConnectFailure>().is_some() {
        return Failure::Connect;
    }
    if e.downcast_ref::<ProtocolError>().is_some() {
        return Failure::Protocol;
    }
    #[cfg(feature = "client")]
    if e.downcast_ref::<crate::client::NoSuchPort>().is_some() {
        return Failure::NoCluster;
    }
    #[cfg(feature = "client")]
    if let Some(f) = classify_hyper(e) {
        return f;
    }
    Failure::Reset
}

/// Errors of hyper's client: a connect error, a response hyper could not parse (a
/// protocol error), or a connection closed before a complete response head.
#[cfg(feature = "client")]
fn classify_hyper(e: &BoxError) -> Option<Failure> {
    let client = e.downcast_ref::<hyper_util::client::legacy::Error>()?;
    if client.is_connect() {
        return Some(Failure::Connect);
    }
    let mut source = std::error::Error::source(client);
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            // `is_parse` covers every parse error (a head too large too; hyper's
            // `is_parse_too_large` exists only with its server, which the layer leaves out).
            if h.is_parse() || h.is_parse_status() {
                return Some(Failure::Protocol);
            }
            if h.is_incomplete_message() {
                return Some(Failure::Termination);
            }
            return None;
        }
        source = s.source();
    }
    None
}

/// The framing rules of a response head that Envoy's codec enforces and hyper's client
/// does not: one `Content-Length`, of digits only; no `Content-Length` with
/// `Transfer-Encoding`; `chunked` as the only (last) transfer coding. A response that
/// breaks one is an upstream protocol error.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) fn check_framing<B>(response: &Response<B>) -> Result<(), ProtocolError> {
    let h = response.headers();
    let mut lengths = h.get_all(CONTENT_LENGTH).iter();
    let length = lengths.next();
    if lengths.next().is_some() {
        return Err(protocol("two Content-Length headers"));
    }
    if let Some(v) = length {
        if v.is_empty() || !v.as_bytes().iter().all(u8::is_ascii_digit) {
            return Err(protocol("a Content-Length that is not a number"));
        }
    }
    let mut codings = h.get_all(TRANSFER_ENCODING).iter().peekable();
    if codings.peek().is_some() {
        if length.is_some() {
            return Err(protocol("Content-Length with Transfer-Encoding"));
        }
        let last = codings
            .last()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim);
        if !last.is_some_and(|c| c.eq_ignore_ascii_case("chunked")) {
            return Err(protocol("a transfer coding other than chunked"));
        }
    }
    Ok(())
}

#[cfg_attr(not(feature = "client"), allow(dead_code))]
fn protocol(what: &'static str) -> ProtocolError {
    ProtocolError(what.into())
}

#[cfg(test)]
mod tests;
