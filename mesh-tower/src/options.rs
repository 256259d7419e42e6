//! Settings of the layer. Every buffer has a cap here, and the docs say what happens past it.

use mesh_match::PathNormalization;

/// A retry budget: retries in flight to a destination may not exceed `percent` of the
/// requests in flight to it, but `min_concurrency` retries are always allowed (Envoy's
/// `retry_budget`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryBudget {
    /// Share of active requests that may be retries.
    pub percent: f64,
    /// Retries always allowed.
    pub min_concurrency: u32,
}

impl RetryBudget {
    /// Envoy's defaults: 20%, at least 3.
    pub const DEFAULT: RetryBudget = RetryBudget {
        percent: 20.0,
        min_concurrency: 3,
    };
}

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
    /// The retry budget used when a destination's DestinationRule sets none (default
    /// [`RetryBudget::DEFAULT`]). `None` removes the bound, as in Istio, where a failing
    /// backend can get up to `1 + attempts` times its load.
    pub default_retry_budget: Option<RetryBudget>,
    /// Path normalization before matching (default `BASE`, Istio's default).
    pub path_normalization: PathNormalization,
    /// The port requests are matched and routed as (a Gateway server's port, or a
    /// sidecar's listener); default: the port of the request's authority.
    pub listener_port: Option<u16>,
    /// Seed of the layer's random samples (splits, fault and mirror percentages, load
    /// balancing); default: from the clock.
    pub seed: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            body_limit: 64 * 1024,
            mirror_queue: 1024,
            shadow_host_suffix: false,
            default_retry_budget: Some(RetryBudget::DEFAULT),
            path_normalization: PathNormalization::Base,
            listener_port: None,
            seed: None,
        }
    }
}
