//! Istio's `Percent` message, a double in `[0, 100]`.

use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

/// `Percent { value: double }` as used by `mirrorPercentage`, `mirrors[].percentage` and the
/// fault `percentage` fields. Compared and hashed by bit pattern so that it is `Eq` and `Hash`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Percent {
    /// The percentage, `0.0..=100.0`.
    #[serde(default)]
    pub value: f64,
}

impl Percent {
    /// A percentage of `value`.
    pub const fn new(value: f64) -> Self {
        Percent { value }
    }

    /// The share in millionths, truncated as Istio translates it for Envoy
    /// (`uint32(value * 10000)` over a denominator of one million).
    pub fn per_million(&self) -> u32 {
        per_million(self.value)
    }
}

/// `uint32(value * 10000)` with Go's saturation for out-of-range values removed: negative and
/// NaN give 0, values over 100 give one million.
pub(crate) fn per_million(value: f64) -> u32 {
    if value.is_nan() || value <= 0.0 {
        0
    } else {
        (value * 10_000.0).min(1_000_000.0) as u32
    }
}

impl PartialEq for Percent {
    fn eq(&self, other: &Self) -> bool {
        self.value.to_bits() == other.value.to_bits()
    }
}

impl Eq for Percent {}

impl Hash for Percent {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.to_bits().hash(state);
    }
}

/// A `google.protobuf.DoubleValue` field (`warmup.minimumPercent`, `retryBudget.percent`),
/// compared by bit pattern so that configuration types can be `Eq`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Double(pub f64);

impl PartialEq for Double {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Double {}

impl Hash for Double {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}
