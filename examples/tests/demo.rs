//! The README's main job: the demo runs to completion with `--once` and reports a 90/10
//! split, the header override, mirrored copies, injected faults and retries. Each figure is
//! read back as a number and checked against what the bundled configuration implies, so a
//! demo that stopped mirroring, injecting or retrying fails here.

use std::process::Command;

/// The numbers on the first report line that contains `label`, in order.
fn numbers(stdout: &str, label: &str) -> Vec<f64> {
    let line = stdout
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no line with {label:?} in:\n{stdout}"));
    line.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|t| t.trim_matches('.').parse().ok())
        .collect()
}

/// The demo exits 0 and its report reflects the bundled configuration: the override sends
/// every `x-canary: always` request to v2; the split sends about 10 % to v2; every request
/// of the split rule that was not aborted is mirrored once (`mirrorPercentage: 100`); about
/// 2 % of the split's requests are aborted with 503 `FI`, and the clients see exactly those;
/// every 503 of the flaky v1 is retried (`retryOn: 5xx`, 3 attempts) or reaches the client.
#[test]
fn demo_runs_once_and_reports_the_canary() {
    let out = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--once", "--requests", "600"])
        .output()
        .expect("demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert_eq!(
        numbers(&stdout, "requests sent"),
        [600.0, 600.0],
        "{stdout}"
    );

    // 30 requests carry x-canary: always and all go to v2.
    // "x-canary: always override  30 of 30 went to v2 (rule canary-override)"
    assert_eq!(
        numbers(&stdout, "x-canary: always override")[..2],
        [30.0, 30.0]
    );

    // "90/10 split (rule split)  v1 A, v2 B of T: P% to the canary"
    let split = numbers(&stdout, "90/10 split");
    let (v1, v2, split_total, pct) = (split[3], split[5], split[6], split[7]);
    assert_eq!(split_total, 570.0, "{stdout}");
    assert!((5.0..=15.0).contains(&pct), "{split:?}");

    // "injected faults (503, flag FI)  F (2% ...)": F aborted requests, and exactly F
    // clients saw `fault filter abort`.
    let faults = numbers(&stdout, "injected faults")[1];
    assert!((1.0..=40.0).contains(&faults), "{faults}: {stdout}");
    let aborted_answers = numbers(&stdout, "HTTP 503 fault filter abort")[1];
    assert_eq!(aborted_answers, faults, "{stdout}");
    // "retries  N (v1 failed K requests on purpose; clients saw S of them)"
    let retries = numbers(&stdout, "retries  ");
    let (attempted, failed, seen) = (retries[0], retries[2], retries[3]);
    // Every split request is answered by v1, by v2, by the fault, or (retries exhausted or
    // denied by the retry budget) with v1's 503.
    assert_eq!(v1 + v2 + faults + seen, split_total, "{stdout}");

    // "mirrored copies to v2  M sent (v2 received R: P primary + C copies)": one copy per
    // split request that reached an upstream (aborted ones never do).
    let mirrors = numbers(&stdout, "mirrored copies to v2");
    assert_eq!(mirrors[1], split_total - faults, "{stdout}");
    assert!(mirrors[5] <= mirrors[1], "{stdout}");

    // Each 503 of v1 is either retried or (retries exhausted, or denied by the retry
    // budget) seen by the client; a retry that fails again is another failure.
    assert!(failed > 0.0 && attempted > 0.0, "{stdout}");
    assert_eq!(attempted + seen, failed, "{stdout}");
    assert!(
        seen <= failed / 4.0,
        "most failures are retried away: {stdout}"
    );

    assert!(stdout.contains("istio_requests_total"), "{stdout}");
}
