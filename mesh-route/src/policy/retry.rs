//! The effective retry policy of a route, with Istio's defaults applied
//! (`pilot/pkg/networking/core/route/retry/retry.go`).

use std::time::Duration;

use mesh_model::virtual_service::HttpRetry;

/// Envoy's default retry back-off base interval.
pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(25);

/// Istio's default `retry_on` (1.24 and later: no retriable status codes by default).
pub const DEFAULT_RETRY_ON: &str =
    "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

/// One `retryOn` condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetryOn {
    /// Any 5xx, and connect failures and resets.
    FiveXx,
    /// 502, 503, 504.
    GatewayError,
    /// Reset, disconnect or timeout of the upstream.
    Reset,
    /// Reset before any response byte was received.
    ResetBeforeRequest,
    /// Connection failure or connect timeout.
    ConnectFailure,
    /// 409.
    Retriable4xx,
    /// HTTP/2 REFUSED_STREAM.
    RefusedStream,
    /// The listed status codes.
    RetriableStatusCodes,
    /// Retriable headers (not executed in-process).
    RetriableHeaders,
    /// Envoy rate limiting (not executed in-process).
    EnvoyRatelimited,
    /// HTTP/3 post-connect failure (not executed in-process).
    Http3PostConnectFailure,
    /// gRPC CANCELLED (1).
    Cancelled,
    /// gRPC DEADLINE_EXCEEDED (4).
    DeadlineExceeded,
    /// gRPC INTERNAL (13).
    Internal,
    /// gRPC RESOURCE_EXHAUSTED (8).
    ResourceExhausted,
    /// gRPC UNAVAILABLE (14).
    Unavailable,
}

impl RetryOn {
    /// Parses an Envoy retry-on token.
    pub fn parse(token: &str) -> Option<RetryOn> {
        Some(match token {
            "5xx" => RetryOn::FiveXx,
            "gateway-error" => RetryOn::GatewayError,
            "reset" => RetryOn::Reset,
            "reset-before-request" => RetryOn::ResetBeforeRequest,
            "connect-failure" => RetryOn::ConnectFailure,
            "retriable-4xx" => RetryOn::Retriable4xx,
            "refused-stream" => RetryOn::RefusedStream,
            "retriable-status-codes" => RetryOn::RetriableStatusCodes,
            "retriable-headers" => RetryOn::RetriableHeaders,
            "envoy-ratelimited" => RetryOn::EnvoyRatelimited,
            "http3-post-connect-failure" => RetryOn::Http3PostConnectFailure,
            "cancelled" => RetryOn::Cancelled,
            "deadline-exceeded" => RetryOn::DeadlineExceeded,
            "internal" => RetryOn::Internal,
            "resource-exhausted" => RetryOn::ResourceExhausted,
            "unavailable" => RetryOn::Unavailable,
            _ => return None,
        })
    }

    /// The gRPC status code this condition retries on, for gRPC conditions.
    pub fn grpc_code(&self) -> Option<u32> {
        Some(match self {
            RetryOn::Cancelled => 1,
            RetryOn::DeadlineExceeded => 4,
            RetryOn::ResourceExhausted => 8,
            RetryOn::Internal => 13,
            RetryOn::Unavailable => 14,
            _ => return None,
        })
    }
}

/// The retry policy Envoy would run for a route.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 means retries are disabled.
    pub attempts: u32,
    /// Timeout of each attempt.
    pub per_try_timeout: Option<Duration>,
    /// The `retry_on` string as Envoy gets it.
    pub retry_on: String,
    /// The parsed conditions.
    pub conditions: Vec<RetryOn>,
    /// Status codes retried under `retriable-status-codes`.
    pub retriable_status_codes: Vec<u16>,
    /// Base interval of the jittered exponential back-off (max is 10 times it).
    pub backoff: Duration,
    /// Whether retries avoid hosts already tried.
    pub retry_ignore_previous_hosts: bool,
    /// Whether retries prefer other localities.
    pub retry_remote_localities: bool,
}

impl RetryPolicy {
    /// Istio's default policy, used when a route sets no `retries`.
    pub fn istio_default() -> Self {
        RetryPolicy {
            attempts: 2,
            per_try_timeout: None,
            retry_on: DEFAULT_RETRY_ON.to_owned(),
            conditions: parse_conditions(DEFAULT_RETRY_ON).0,
            retriable_status_codes: Vec::new(),
            backoff: DEFAULT_BACKOFF,
            retry_ignore_previous_hosts: true,
            retry_remote_localities: false,
        }
    }

    /// No retries (`attempts: 0`, or a `retries` block without `attempts`).
    pub fn disabled() -> Self {
        RetryPolicy {
            attempts: 0,
            per_try_timeout: None,
            retry_on: String::new(),
            conditions: Vec::new(),
            retriable_status_codes: Vec::new(),
            backoff: DEFAULT_BACKOFF,
            retry_ignore_previous_hosts: false,
            retry_remote_localities: false,
        }
    }

    /// The policy for a route's `retries` field (`None`: Istio's default).
    pub fn from_route(retries: Option<&HttpRetry>) -> Self {
        let Some(r) = retries else {
            return RetryPolicy::istio_default();
        };
        if r.attempts <= 0 {
            return RetryPolicy::disabled();
        }
        // Numeric tokens become retriable status codes; the rest stay in retry_on.
        let mut tokens = Vec::new();
        let mut codes = Vec::new();
        for t in r
            .retry_on
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            match t.parse::<u16>() {
                Ok(code) if (100..=599).contains(&code) => codes.push(code),
                _ => tokens.push(t.to_owned()),
            }
        }
        if !codes.is_empty() && !tokens.iter().any(|t| t == "retriable-status-codes") {
            tokens.push("retriable-status-codes".to_owned());
        }
        let retry_on = if tokens.is_empty() && codes.is_empty() {
            DEFAULT_RETRY_ON.to_owned()
        } else {
            tokens.join(",")
        };
        RetryPolicy {
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            per_try_timeout: r.per_try_timeout.and_then(|d| d.to_std()),
            conditions: parse_conditions(&retry_on).0,
            retry_on,
            retriable_status_codes: codes,
            backoff: r
                .backoff
                .and_then(|d| d.to_std())
                .unwrap_or(DEFAULT_BACKOFF),
            retry_ignore_previous_hosts: r.retry_ignore_previous_hosts.unwrap_or(true),
            retry_remote_localities: r.retry_remote_localities.unwrap_or(false),
        }
    }

    /// Whether a condition is part of the policy.
    pub fn has(&self, c: RetryOn) -> bool {
        self.conditions.contains(&c)
    }

    /// Whether an attempt answered with HTTP `status` (and `grpc_status`, the `grpc-status`
    /// of a trailers-only gRPC response) is retried under the policy's conditions, as
    /// Envoy's router decides (`5xx`: any 5xx; `gateway-error`: 502, 503, 504;
    /// `retriable-4xx`: 409; `retriable-status-codes`: the listed codes; the gRPC
    /// conditions: their `grpc-status`). Whether attempts are left is the caller's.
    pub fn retries_response(&self, status: u16, grpc_status: Option<u32>) -> bool {
        if self.has(RetryOn::FiveXx) && status >= 500 {
            return true;
        }
        if self.has(RetryOn::GatewayError) && matches!(status, 502..=504) {
            return true;
        }
        if self.has(RetryOn::Retriable4xx) && status == 409 {
            return true;
        }
        if self.has(RetryOn::RetriableStatusCodes) && self.retriable_status_codes.contains(&status)
        {
            return true;
        }
        grpc_status.is_some_and(|code| self.conditions.iter().any(|c| c.grpc_code() == Some(code)))
    }

    /// The `retryOn` string as a user would write it: conditions and status codes.
    pub fn retry_on_display(&self) -> String {
        let mut parts: Vec<String> = self
            .retry_on
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        parts.extend(self.retriable_status_codes.iter().map(u16::to_string));
        parts.join(",")
    }
}

/// Parses a retry-on string; returns the conditions and the tokens it did not know.
pub fn parse_conditions(s: &str) -> (Vec<RetryOn>, Vec<String>) {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for t in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match RetryOn::parse(t) {
            Some(c) => known.push(c),
            None => unknown.push(t.to_owned()),
        }
    }
    (known, unknown)
}
