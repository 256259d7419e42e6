//! Envoy's `FractionalPercent`, as Istio translates percentages.

use std::fmt;

/// Denominator of a [`Fraction`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Denominator {
    /// Out of 100 (Istio's deprecated integer percentages).
    Hundred,
    /// Out of 1 000 000 (Istio's `Percent` doubles, `uint32(value * 10000)`).
    Million,
}

impl Denominator {
    /// The denominator's value.
    pub const fn value(&self) -> u32 {
        match self {
            Denominator::Hundred => 100,
            Denominator::Million => 1_000_000,
        }
    }
}

/// A fraction of requests, exactly as Envoy evaluates it: a request is selected when a
/// uniform draw in `[0, denominator)` is below `numerator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fraction {
    /// Numerator.
    pub numerator: u32,
    /// Denominator.
    pub denominator: Denominator,
}

impl Fraction {
    /// Every request.
    pub const ALL: Fraction = Fraction {
        numerator: 100,
        denominator: Denominator::Hundred,
    };

    /// No request.
    pub const NONE: Fraction = Fraction {
        numerator: 0,
        denominator: Denominator::Hundred,
    };

    /// From Istio's `Percent.value` (truncated to millionths, as Istio does).
    pub fn from_percent(value: f64) -> Self {
        Fraction {
            numerator: mesh_model::Percent::new(value).per_million(),
            denominator: Denominator::Million,
        }
    }

    /// From a deprecated integer percentage.
    pub fn from_int(percent: u32) -> Self {
        Fraction {
            numerator: percent.min(100),
            denominator: Denominator::Hundred,
        }
    }

    /// Whether the fraction selects nothing.
    pub fn is_zero(&self) -> bool {
        self.numerator == 0
    }

    /// The share as a percentage (`50.0` for half).
    pub fn percent(&self) -> f64 {
        f64::from(self.numerator) * 100.0 / f64::from(self.denominator.value())
    }

    /// Whether a request with uniform random `sample` is selected: `sample % denominator <
    /// numerator`, Envoy's `featureEnabled`.
    pub fn selects(&self, sample: u64) -> bool {
        (sample % u64::from(self.denominator.value())) < u64::from(self.numerator)
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.percent())
    }
}
