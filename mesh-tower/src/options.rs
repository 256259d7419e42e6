//! Settings of the layer. Every buffer has a cap here, and the docs say what happens past it.

use std::time::Duration;

use mesh_match::PathNormalization;

pub use mesh_route::policy::RetryBudget;

/// Settings of a [`MeshLayer`](crate::MeshLayer).
#[derive(Clone, Debug)]
pub struct Options {
    /// Request bodies that may be retried or mirrored are buffered up to this many bytes
    /// (default 64 KiB). A larger body streams to the primary once: it is neither retried
    /// nor mirrored, and `mesh_request_bodies{result="streamed"}` counts it.
    pub body_limit: usize,
    /// Mirrored copies in flight at most (default 1024). Copies past it are dropped and
    /// counted (`mesh_mirror_requests{result="dropped"}`); the primary never waits.
    pub mirror_queue: usize,
    /// Append `-shadow` to the Host of mirrored requests, as Istio 1.27 and earlier did
    /// (default false: Host is kept, as in Istio 1.28+).
    pub shadow_host_suffix: bool,
    /// The retry budget used when a destination's DestinationRule sets neither
    /// `retryBudget` nor `connectionPool.http.maxRetries` (default `None`: no bound, as in
    /// Istio, whose clusters get the circuit breaker `max_retries: 4294967295` and no
    /// `retry_budget` unless the DestinationRule sets them, so that a failing backend can
    /// get up to `1 + attempts` times its load). `Some(`[`RetryBudget::DEFAULT`]`)` is
    /// Envoy's own budget: retries in flight at most 20 % of the requests in flight, at
    /// least 3; past it a retry is not attempted (flag `UO`).
    pub default_retry_budget: Option<RetryBudget>,
    /// Path normalization before matching (default `BASE`, Istio's default).
    pub path_normalization: PathNormalization,
    /// The port requests are matched and routed as (a Gateway server's port, or a
    /// sidecar's listener); default: the port of the request's authority.
    pub listener_port: Option<u16>,
    /// Seed of the layer's random samples (splits, fault and mirror percentages, load
    /// balancing); default: from the clock.
    pub seed: Option<u64>,
    /// The stream idle timeout (default 300 s, Envoy's `stream_idle_timeout`): when nothing
    /// moves on a request for this long (no request body data from the client, no response
    /// head or body data from the upstream) the layer gives up on it with flag `SI`: 408
    /// `stream timeout` with `connection: close` when the client had not sent its whole
    /// request, 504 `stream timeout` when the upstream had not answered, a response body
    /// that stalls this long is cut (the client's connection is closed; counted `SI`), and
    /// a websocket tunnel where neither side sends anything this long is closed (counted
    /// `101 SI`). `None`
    /// disables it (Istio's sidecar default, `0s`; Istio's EDGE profile for gateways uses
    /// 300 s), which leaves every wait unbounded.
    pub stream_idle_timeout: Option<Duration>,
    /// The id this layer appends to the `CDN-Loop` header of every request it forwards
    /// (RFC 8586, as Envoy's `cdn_loop` filter); a request that arrives with this id
    /// already in it has passed this layer before and is answered 502 (see
    /// [`loop_detect`](crate::loop_detect)). Default: an id unique to this layer
    /// (`mesh-` and 16 hex digits), so that a chain of different layers is not a loop.
    /// Give every replica of one deployment the same id to detect loops through a load
    /// balancer in front of them.
    pub cdn_loop_id: Option<String>,
    /// Serve HTTP/1.0 requests (default false, as Envoy's `accept_http_10`, which Istio
    /// turns on only for proxies with the `HTTP10` metadata or `PILOT_HTTP10`): when false,
    /// an HTTP/1.0 request gets `426 Upgrade Required`, flag `DPE`, `connection: close`,
    /// and nothing goes upstream.
    pub accept_http_10: bool,
    /// Whether the inner service is the upstream of routes whose destination host has no
    /// registered endpoints while the layer has no backends at all (default true: an app
    /// that registers nothing serves every route itself). When false, such a route gets
    /// Envoy's answer for a cluster without endpoints, 503 `no healthy upstream`, flag `UH`,
    /// as it does whenever other hosts have backends. mesh-proxy sets it false: its inner
    /// service is not an upstream.
    pub inner_serves_unregistered: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            body_limit: 64 * 1024,
            mirror_queue: 1024,
            shadow_host_suffix: false,
            default_retry_budget: None,
            path_normalization: PathNormalization::Base,
            listener_port: None,
            seed: None,
            stream_idle_timeout: Some(Duration::from_secs(300)),
            cdn_loop_id: None,
            accept_http_10: false,
            inner_serves_unregistered: true,
        }
    }
}
