//! The differential test in CI: generated worlds (fixed seeds) through a real Envoy
//! configured as istiod configures a sidecar, through the mesh-tower layer, and through
//! the engine's prediction (what `meshctl route` decides); every compared request must
//! agree. Long runs: `SEED=.. WORLDS=.. SIZE=.. cargo run -p difftest`.

use envoy_harness::Envoy;

/// Seeds and size: 10 worlds of 40 requests (400 requests, about 15 s on 2 cores).
const SEEDS: std::ops::Range<u64> = 1..11;
const SIZE: usize = 40;

/// Envoy and the layer agree with the engine on every request of the CI worlds; most
/// worlds are translated (the generator stays within what the translator knows), and the
/// requests exercise forwarding, local replies, splits, mirrors and retries.
#[test]
fn envoy_the_layer_and_the_engine_agree_on_generated_worlds() {
    let Some(bin) =
        Envoy::binary_or_skip("envoy_the_layer_and_the_engine_agree_on_generated_worlds")
    else {
        return;
    };
    let lab = difftest::Lab::new();
    let mut summary = difftest::Summary::default();
    for seed in SEEDS {
        let world = difftest::generate::world(seed, SIZE);
        summary.add(difftest::run_world(&lab, &bin, &world).expect("Envoy runs the translation"));
    }
    eprint!("{summary}");
    let shown: Vec<String> = summary
        .disagreements
        .iter()
        .take(10)
        .map(|d| d.to_string())
        .collect();
    assert!(
        summary.disagreements.is_empty(),
        "{summary}{}",
        shown.join("")
    );
    assert!(summary.skipped.len() <= 1, "skipped: {:?}", summary.skipped);
    assert!(summary.compared >= 350, "{summary}");
    for what in [
        "forwarded",
        "answered by the proxy",
        "weighted split",
        "mirrored",
        "retried",
        "gRPC local reply",
        "location",
    ] {
        assert!(
            summary.exercised.get(what).is_some_and(|n| *n > 0),
            "{what} never exercised: {summary}"
        );
    }
}
