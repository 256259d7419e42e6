//! Comparing an observation with the engine's prediction, field by field.
//!
//! For a weighted split the engine predicts one outcome per destination; the observation
//! is compared with the outcome of the destination it went to, and a destination outside
//! the split's positive-weight ones is itself a disagreement. So a split is checked for
//! which destinations are possible, and for everything that follows from the choice, but
//! never for the proportions (those are checked by `mesh-route`'s split properties).

use crate::generate::{Request, World};
use crate::observe::Observation;

/// One request on which a leg (Envoy or the layer) and the engine differ.
#[derive(Clone, Debug)]
pub struct Disagreement {
    /// The world's seed.
    pub seed: u64,
    /// `envoy` or `layer`.
    pub leg: &'static str,
    /// The request, as a command line.
    pub request: String,
    /// The fields that differ: `field: expected X, got Y`.
    pub diffs: Vec<String>,
    /// The engine's decision, in a few words.
    pub decision: String,
    /// The world's configuration, to reproduce it.
    pub yaml: String,
}

impl Disagreement {
    /// A disagreement of `leg` on `req` of `world`.
    pub fn new(
        world: &World,
        req: &Request,
        leg: &'static str,
        diffs: Vec<String>,
        decision: String,
    ) -> Self {
        Disagreement {
            seed: world.seed,
            leg,
            request: req.describe(),
            diffs,
            decision,
            yaml: world.yaml.clone(),
        }
    }

    /// The kinds of field that differ (`status`, `upstream_headers`, ...), for a summary.
    pub fn fields(&self) -> Vec<&str> {
        self.diffs
            .iter()
            .map(|d| d.split(':').next().unwrap_or(d))
            .collect()
    }
}

impl std::fmt::Display for Disagreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "seed {} {}: {}", self.seed, self.leg, self.request)?;
        writeln!(f, "    engine: {}", self.decision)?;
        for d in &self.diffs {
            writeln!(f, "    {d}")?;
        }
        Ok(())
    }
}

/// `Ok` when `got` is one of the `expected` outcomes; otherwise the differences from the
/// expected outcome for the same cluster (or the first).
pub fn compare(expected: &[Observation], got: &Observation) -> Result<(), Vec<String>> {
    if expected.iter().any(|e| e == got) {
        return Ok(());
    }
    let mut diffs = Vec::new();
    let closest = match expected.iter().find(|e| e.cluster == got.cluster) {
        Some(e) => e,
        None => {
            if expected.len() > 1 {
                let possible: Vec<_> = expected.iter().map(|e| e.cluster.clone()).collect();
                diffs.push(format!(
                    "cluster: expected one of {possible:?}, got {:?}",
                    got.cluster
                ));
            }
            match expected.first() {
                Some(e) => e,
                None => return Err(vec!["no prediction".into()]),
            }
        }
    };
    let mut field = |name: &str, e: String, g: String| {
        if e != g {
            diffs.push(format!("{name}: expected {e}, got {g}"));
        }
    };
    field("status", closest.status.to_string(), got.status.to_string());
    field(
        "cluster",
        format!("{:?}", closest.cluster),
        format!("{:?}", got.cluster),
    );
    field(
        "upstream_target",
        format!("{:?}", closest.upstream_target),
        format!("{:?}", got.upstream_target),
    );
    field(
        "upstream_authority",
        format!("{:?}", closest.upstream_authority),
        format!("{:?}", got.upstream_authority),
    );
    field(
        "upstream_headers",
        format!("{:?}", closest.upstream_headers),
        format!("{:?}", got.upstream_headers),
    );
    field(
        "response_headers",
        format!("{:?}", closest.response_headers),
        format!("{:?}", got.response_headers),
    );
    field(
        "body",
        format!("{:?}", closest.body),
        format!("{:?}", got.body),
    );
    field(
        "copies",
        format!("{:?}", closest.copies),
        format!("{:?}", got.copies),
    );
    Err(diffs)
}
