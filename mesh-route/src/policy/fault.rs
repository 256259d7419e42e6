//! Fault injection as Istio translates it for Envoy's fault filter (`TranslateFault`).

use std::time::Duration;

use mesh_model::virtual_service::HttpFaultInjection;

use super::percent::Fraction;

/// A delay before forwarding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DelayFault {
    /// How long.
    pub duration: Duration,
    /// Which share of requests (absent percentage: none).
    pub fraction: Fraction,
}

/// What an abort answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AbortKind {
    /// An HTTP status, body `fault filter abort`.
    Http(u16),
    /// A gRPC status: HTTP 200 with `grpc-status` (trailers-only).
    Grpc(u32),
}

impl AbortKind {
    /// The local reply the abort sends (Envoy's fault filter: body `fault filter abort`;
    /// a gRPC status is sent as HTTP 200, with `grpc-status` to a gRPC client and as a
    /// plain body to others; see [`mod@super::local_reply`]).
    pub fn reply(&self, to: super::ReplyTo) -> super::LocalReply<'static> {
        const BODY: &[u8] = b"fault filter abort";
        match *self {
            AbortKind::Http(status) => super::local_reply(status, BODY, to, None),
            AbortKind::Grpc(code) => super::local_reply(200, BODY, to, Some(code)),
        }
    }
}

/// An abort instead of forwarding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AbortFault {
    /// The error.
    pub kind: AbortKind,
    /// Which share of requests (absent percentage: none).
    pub fraction: Fraction,
}

/// The faults of a route. Delay and abort are independent; the delay comes first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FaultPolicy {
    /// Delay, if configured with a fixed delay.
    pub delay: Option<DelayFault>,
    /// Abort, if configured with an HTTP or gRPC status.
    pub abort: Option<AbortFault>,
}

/// gRPC status names, by code.
pub const GRPC_STATUS: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

impl FaultPolicy {
    /// Translates a route's `fault`. Delays other than `fixedDelay` and aborts without an
    /// HTTP or gRPC status are dropped, as Istio drops them; the returned notes say so.
    pub fn from_route(f: &HttpFaultInjection) -> (Self, Vec<String>) {
        let mut notes = Vec::new();
        let delay = f.delay.as_ref().and_then(|d| {
            let fraction = match (&d.percentage, d.percent) {
                (Some(p), _) => Fraction::from_percent(p.value),
                (None, n) => Fraction::from_int(u32::try_from(n).unwrap_or(0)),
            };
            match d.fixed_delay {
                Some(duration) => Some(DelayFault {
                    duration: duration.to_std().unwrap_or_default(),
                    fraction,
                }),
                None => {
                    notes.push("fault.delay without fixedDelay is not applied (Istio supports fixedDelay only)".to_owned());
                    None
                }
            }
        });
        let abort = f.abort.as_ref().and_then(|a| {
            let fraction = a
                .percentage
                .map_or(Fraction::NONE, |p| Fraction::from_percent(p.value));
            let kind = if let Some(s) = a.http_status {
                u16::try_from(s).ok().map(AbortKind::Http)
            } else if let Some(g) = &a.grpc_status {
                GRPC_STATUS
                    .iter()
                    .position(|n| n == g)
                    .map(|c| AbortKind::Grpc(c as u32))
            } else {
                None
            };
            if kind.is_none() {
                notes.push(
                    "fault.abort without a usable httpStatus or grpcStatus is not applied"
                        .to_owned(),
                );
            }
            kind.map(|kind| AbortFault { kind, fraction })
        });
        (FaultPolicy { delay, abort }, notes)
    }

    /// Whether neither a delay nor an abort is configured.
    pub fn is_empty(&self) -> bool {
        self.delay.is_none() && self.abort.is_none()
    }
}
