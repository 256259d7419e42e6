//! A differential test of the engine against a real Envoy.
//!
//! - [`generate`]: seeded worlds of Kubernetes Services, DestinationRules and
//!   VirtualServices (with delegates), and requests aimed at their rules.
//! - [`translate`]: those resources to an Envoy bootstrap as istiod translates them for a
//!   sidecar; anything else is refused, never guessed.
//! - [`predict`]: the engine's answer (what `meshctl route` decides), as an observation.
//! - [`run`]: one world through a real Envoy and through the mesh-tower layer, each in
//!   front of one loopback echo upstream per cluster (`envoy-harness`).
//! - [`mod@observe`] and [`compare`]: what a client and the upstreams saw, and the comparison
//!   field by field: status, cluster, upstream path, authority and headers, response
//!   headers (location, gRPC status), local-reply body, copies per cluster (attempts and
//!   mirrors).
//!
//! `cargo test -p difftest` runs a CI-sized set (fixed seeds); `cargo run -p difftest`
//! runs `WORLDS` worlds of `SIZE` requests from `SEED` (see `src/bin/difftest.rs`).
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

pub mod compare;
pub mod generate;
pub mod observe;
pub mod predict;
pub mod run;
pub mod translate;

pub use compare::Disagreement;
pub use run::{Case, Lab, Ran, WorldReport, observe, run_world};

/// The totals of several worlds.
#[derive(Debug, Default)]
pub struct Summary {
    /// Worlds run.
    pub worlds: usize,
    /// Worlds skipped, with why (Istio rejects them, or the translator refuses them).
    pub skipped: Vec<(u64, String)>,
    /// Requests compared.
    pub compared: usize,
    /// Requests not compared because their outcome is random, with why.
    pub unpredictable: usize,
    /// Requests where Envoy agrees with the engine.
    pub envoy_agree: usize,
    /// Requests where the layer agrees with the engine.
    pub layer_agree: usize,
    /// Every disagreement.
    pub disagreements: Vec<Disagreement>,
    /// How many compared requests exercised what.
    pub exercised: std::collections::BTreeMap<&'static str, usize>,
}

impl Summary {
    /// Adds a world's report.
    pub fn add(&mut self, r: WorldReport) {
        match r.skipped {
            Some(why) => self.skipped.push((r.seed, why)),
            None => {
                self.worlds += 1;
                self.compared += r.compared;
                self.unpredictable += r.unpredictable.len();
                self.envoy_agree += r.envoy_agree;
                self.layer_agree += r.layer_agree;
                self.disagreements.extend(r.disagreements);
                for (k, n) in r.exercised {
                    *self.exercised.entry(k).or_default() += n;
                }
            }
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} worlds ({} skipped), {} requests compared ({} not predictable): Envoy agrees with the engine on {}, the layer on {}",
            self.worlds,
            self.skipped.len(),
            self.compared,
            self.unpredictable,
            self.envoy_agree,
            self.layer_agree
        )?;
        let exercised: Vec<String> = self
            .exercised
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        writeln!(f, "exercised: {}", exercised.join(", "))?;
        let mut by_field: std::collections::BTreeMap<String, usize> = Default::default();
        for d in &self.disagreements {
            for field in d.fields() {
                *by_field.entry(format!("{} {field}", d.leg)).or_default() += 1;
            }
        }
        for (k, n) in by_field {
            writeln!(f, "  {k}: {n}")?;
        }
        Ok(())
    }
}
