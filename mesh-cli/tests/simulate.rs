//! `meshctl simulate`: the real binary on configurations written to a temporary directory.

mod common;

use common::{REVIEWS, code, config, json, meshctl, stderr, stdout};
use serde_json::{Value, json};

const V1: &str = "reviews.default.svc.cluster.local";

fn simulate(file: &std::path::Path, args: &[&str]) -> Value {
    let f = file.display().to_string();
    let mut all = vec!["simulate", "-f", &f, "-o", "json"];
    all.extend_from_slice(args);
    json(&all)
}

/// A 90/10 split comes out 90/10 within 0.01 over 100000 requests.
#[test]
fn split_fractions() {
    let (_dir, file) = config("sim-split", REVIEWS);
    let j = simulate(&file, &["-n", "100000", "--seed", "7", "http://reviews/"]);
    assert_eq!(j["total"], 100_000);
    let outcomes = j["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 2, "{j}");
    let v1 = &outcomes[0];
    let v2 = &outcomes[1];
    assert_eq!(
        v1["destination"],
        json!({"host": V1, "subset": "v1", "port": 80})
    );
    assert_eq!(
        v2["destination"],
        json!({"host": V1, "subset": "v2", "port": 80})
    );
    assert!((v1["fraction"].as_f64().unwrap() - 0.9).abs() < 0.01, "{j}");
    assert!((v2["fraction"].as_f64().unwrap() - 0.1).abs() < 0.01, "{j}");
}

/// The JSON shape: total, seed, and outcomes sorted by count with counts that add up.
#[test]
fn json_shape() {
    let (_dir, file) = config("sim-shape", REVIEWS);
    let j = simulate(&file, &["-n", "1000", "http://reviews/"]);
    let obj = j.as_object().unwrap();
    assert_eq!(
        obj.keys().collect::<Vec<_>>(),
        ["outcomes", "seed", "total"],
        "{j}"
    );
    assert_eq!(j["seed"], 0);
    let outcomes = j["outcomes"].as_array().unwrap();
    let mut sum = 0;
    let mut last = u64::MAX;
    for o in outcomes {
        let keys: Vec<&String> = o.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["count", "destination", "fraction", "outcome"]);
        assert_eq!(o["outcome"], "route");
        let count = o["count"].as_u64().unwrap();
        assert!(count <= last, "sorted by count: {j}");
        last = count;
        sum += count;
        assert_eq!(o["fraction"].as_f64().unwrap(), count as f64 / 1000.0);
    }
    assert_eq!(sum, 1000);

    // Outcomes other than `route` have a null destination.
    let j = simulate(&file, &["-n", "10", "http://reviews/old"]);
    assert_eq!(
        j["outcomes"],
        json!([{"outcome": "redirect", "destination": null, "count": 10, "fraction": 1.0}])
    );
    let j = simulate(&file, &["-n", "10", "http://reviews/a%00"]);
    assert_eq!(j["outcomes"][0]["outcome"], "rejected");
    assert_eq!(j["outcomes"][0]["destination"], Value::Null);
}

/// The same seed gives the same output; another seed gives other counts.
#[test]
fn same_seed_same_output() {
    let (_dir, file) = config("sim-seed", REVIEWS);
    let f = file.display().to_string();
    let run = |seed: &str, output: &str| {
        let o = meshctl(&[
            "simulate",
            "-f",
            &f,
            "-n",
            "20000",
            "--seed",
            seed,
            "-o",
            output,
            "http://reviews/",
        ]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        stdout(&o)
    };
    assert_eq!(run("42", "json"), run("42", "json"));
    assert_eq!(run("42", "text"), run("42", "text"));
    assert_ne!(run("42", "json"), run("43", "json"));
}

/// The text output is a table sorted by count, most first.
#[test]
fn text_table() {
    let (_dir, file) = config("sim-text", REVIEWS);
    let f = file.display().to_string();
    let o = meshctl(&["simulate", "-f", &f, "-n", "5000", "http://reviews/"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("5000 requests (seed 0)"), "{out}");
    assert!(
        lines[1].contains("COUNT") && lines[1].contains("DESTINATION"),
        "{out}"
    );
    assert!(lines[2].ends_with(&format!("{V1}|v1|80")), "{out}");
    assert!(lines[3].ends_with(&format!("{V1}|v2|80")), "{out}");
    let count = |l: &str| l.split_whitespace().next().unwrap().parse::<u64>().unwrap();
    assert!(count(lines[2]) > count(lines[3]));
    assert_eq!(count(lines[2]) + count(lines[3]), 5000);
}

/// `-n` is capped at 100000000 and must be at least 1.
#[test]
fn request_count_limits() {
    let (_dir, file) = config("sim-cap", REVIEWS);
    let f = file.display().to_string();
    for n in ["0", "100000001", "-3"] {
        let o = meshctl(&["simulate", "-f", &f, "-n", n, "http://reviews/"]);
        assert_eq!(code(&o), 2, "-n {n}");
    }
}
