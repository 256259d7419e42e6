//! The README's main job: the demo runs to completion with `--once` and reports a 90/10
//! split, the header override, mirrored copies, injected faults and retries.

use std::process::Command;

/// The demo exits 0 and its report reflects the bundled configuration.
#[test]
fn demo_runs_once_and_reports_the_canary() {
    let out = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--once", "--requests", "600"])
        .output()
        .expect("demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("600 requests sent, 600 answered"),
        "{stdout}"
    );
    // 30 requests carry x-canary: always and all go to v2.
    assert!(stdout.contains("30 of 30 went to v2"), "{stdout}");
    let split_line = stdout
        .lines()
        .find(|l| l.contains("90/10 split"))
        .expect("split line");
    let pct: f64 = split_line
        .rsplit(": ")
        .next()
        .and_then(|t| t.split('%').next())
        .and_then(|t| t.trim().parse().ok())
        .expect("percentage");
    assert!((5.0..=15.0).contains(&pct), "{split_line}");
    assert!(stdout.contains("mirrored copies to v2"), "{stdout}");
    assert!(stdout.contains("injected faults"), "{stdout}");
    assert!(stdout.contains("istio_requests_total"), "{stdout}");
}
