//! Envoy's jittered exponential back-off.

use std::time::Duration;

use crate::rng::Samples;

/// The wait before the n-th retry (`retry` counts from 1): a uniform time below
/// `base * (2^n - 1)`, capped at ten times the base.
pub(crate) fn backoff(base: Duration, retry: u32, rng: &Samples) -> Duration {
    let base_ms = base.as_millis().max(1) as u64;
    let max_ms = base_ms * 10;
    let multiplier = (1u64 << retry.min(32)) - 1;
    let ceiling = multiplier.saturating_mul(base_ms);
    let ms = (rng.below(ceiling.max(1))).min(max_ms);
    Duration::from_millis(ms)
}
