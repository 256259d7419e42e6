//! `meshctl test`: the real binary on configurations and test files written to temporary
//! directories.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{REVIEWS, TempDir, code, meshctl, stderr, stdout};
use serde_json::Value;

/// Runs `meshctl` with `input` on standard input.
fn meshctl_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run meshctl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("meshctl output")
}

/// A directory with `config.yaml` (REVIEWS) and `tests.yaml` (`tests`).
fn setup(tag: &str, tests: &str) -> (TempDir, String, String) {
    let dir = TempDir::new(tag);
    let config = dir.write("config.yaml", REVIEWS).display().to_string();
    let tests = dir.write("tests.yaml", tests).display().to_string();
    (dir, config, tests)
}

fn parse_json(o: &Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

const PASSING: &str = r#"
cases:
- description: jason gets v2
  request: {authority: reviews, headers: {end-user: jason}}
  expect:
    outcome: route
    virtualService: default/reviews
    ruleName: jason
    destination: {host: reviews, subset: v2}
    fault: {delay: {fixedDelay: 7000ms, percent: 100}}
- description: /old redirects
  request: {authority: reviews, path: /old}
  expect: {outcome: redirect, status: 302, location: http://reviews/new}
"#;

/// A passing test file exits 0 and says how many cases passed.
#[test]
fn a_passing_test_file_exits_zero() {
    let (_d, config, tests) = setup("pass", PASSING);
    let o = meshctl(&["test", "-f", &config, &tests]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o).trim(), "2 passed, 0 failed (2 requests)");
}

/// A failing case exits 1 with a line naming the file and line of the case, its
/// description, the request, and each differing field with what was got and wanted.
#[test]
fn a_failing_case_names_file_line_and_field() {
    let text = PASSING.replace("subset: v2}", "subset: v1}");
    let (_d, config, tests) = setup("fail", &text);
    let o = meshctl(&["test", "-f", &config, &tests]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = stdout(&o);
    let line = out.lines().next().unwrap();
    assert_eq!(
        line,
        format!(
            "FAIL {tests}:3: jason gets v2: GET http://reviews/ (route): destination.subset: got \"v2\", want \"v1\""
        )
    );
    assert!(out.ends_with("1 passed, 1 failed (2 requests)\n"), "{out}");
}

/// Every list-valued request field multiplies the requests: 2 authorities x 3 paths x 2
/// header values = 12 requests, each checked.
#[test]
fn list_fields_expand_to_every_combination() {
    let tests = r#"
cases:
- description: split rule for everyone but jason
  request:
    authority: [reviews, reviews.default.svc.cluster.local]
    path: [/, /a, "/b?x=1"]
    headers: {end-user: [mike, ann]}
  expect: {ruleName: split}
"#;
    let (_d, config, tests) = setup("expand", tests);
    let o = meshctl(&["test", "-f", &config, &tests, "-o", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let j = parse_json(&o);
    assert_eq!(j["requests"], 12);
    assert_eq!(j["cases"][0]["requests"], 12);
    // One combination (end-user: jason) among three would fail the whole case.
    let failing = tests_text_with(&tests, "[mike, ann]", "[mike, jason, ann]");
    let o = meshctl(&["test", "-f", &config, &failing]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stdout(&o).lines().filter(|l| l.starts_with("FAIL")).count(),
        6,
        "{}",
        stdout(&o)
    );
}

/// Writes a copy of the test file with `from` replaced by `to`; returns its path.
fn tests_text_with(path: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap().replace(from, to);
    let p = format!("{path}.2.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

/// `expectNot` passes when each field it gives differs, and fails when one is equal,
/// saying that anything else was wanted.
#[test]
fn expect_not_fails_when_a_field_is_equal() {
    let tests = r#"
cases:
- description: mike never reaches the jason rule
  request: {authority: reviews, headers: {end-user: mike}}
  expectNot: {ruleName: jason}
- description: jason is not on v1
  request: {authority: reviews, headers: {end-user: jason}}
  expectNot: {destination: {subset: v2}}
"#;
    let (_d, config, tests) = setup("not", tests);
    let o = meshctl(&["test", "-f", &config, &tests]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(
        out.contains("jason is not on v1: GET http://reviews/ (route): expectNot.destination: got {\"destination\":{\"subset\":\"v2\"}}, want anything else"),
        "{out}"
    );
    assert!(out.contains("1 passed, 1 failed"), "{out}");
}

/// `shares` asserts the exact split computed from the weights (90/10 here, not sampled),
/// within `tolerance` percentage points.
#[test]
fn shares_are_exact_within_tolerance() {
    let tests = r#"
cases:
- description: the split is 90/10
  request: {authority: reviews}
  shares:
  - {destination: {subset: v1}, percent: 90}
  - {destination: {subset: v2}, percent: 10}
- description: half of the requests are jason's
  request: {authority: reviews, headers: {end-user: [jason, mike]}}
  shares:
  - {destination: {subset: v2}, percent: 55}
  - {outcome: route, percent: 100}
- description: wrong by two points
  request: {authority: reviews}
  shares: [{destination: {subset: v2}, percent: 12}]
  tolerance: 1.5
"#;
    let (_d, config, tests) = setup("shares", tests);
    let o = meshctl(&["test", "-f", &config, &tests]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(out.contains("2 passed, 1 failed"), "{out}");
    assert!(
        out.contains("wrong by two points: 1 request: shares[0] {\"destination\":{\"subset\":\"v2\"}}: got 10.0, want 12.0"),
        "{out}"
    );
}

/// `--output junit` writes JUnit XML with a testcase per case and the failure's fields.
#[test]
fn junit_output_parses_with_a_testcase_per_case() {
    let text = PASSING.replace("status: 302", "status: 301");
    let (_d, config, tests) = setup("junit", &text);
    let o = meshctl(&["test", "-f", &config, &tests, "-o", "junit"]);
    assert_eq!(code(&o), 1);
    let xml = stdout(&o);
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("2"));
    assert_eq!(root.attribute("failures"), Some("1"));
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].attribute("name"), Some("jason gets v2"));
    assert!(cases[0].children().all(|c| !c.has_tag_name("failure")));
    assert_eq!(cases[1].attribute("name"), Some("/old redirects"));
    assert_eq!(cases[1].attribute("line"), Some("11"));
    let failure = cases[1]
        .children()
        .find(|c| c.has_tag_name("failure"))
        .expect("a failure element");
    assert_eq!(
        failure.attribute("message"),
        Some("expect.status: status: got 302, want 301")
    );
    assert!(failure.text().unwrap().contains("GET http://reviews/old"));
}

/// `--coverage` lists the match blocks no request reached, with their file and line;
/// `--fail-under` fails the run when coverage is below it and passes it otherwise.
#[test]
fn coverage_lists_missed_rules_and_fail_under_gates() {
    let (_d, config, tests) = setup("coverage", PASSING);
    let o = meshctl(&["test", "-f", &config, &tests, "--coverage"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("coverage: 2 of 6 match blocks exercised (33.33%)"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  not exercised: VirtualService default/reviews rule 1 \"admin\" match 0  ({config}:19)"
        )),
        "{out}"
    );
    assert!(!out.contains("rule 0 \"jason\""), "{out}");
    let o = meshctl(&["test", "-f", &config, &tests, "--fail-under", "50"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("coverage 33.33% is under --fail-under 50%"),
        "{}",
        stderr(&o)
    );
    let o = meshctl(&["test", "-f", &config, &tests, "--fail-under", "30"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let j = parse_json(&meshctl(&[
        "test",
        "-f",
        &config,
        &tests,
        "--coverage",
        "-o",
        "json",
    ]));
    assert_eq!(j["coverage"]["covered"], 2);
    assert_eq!(j["coverage"]["missed"][0]["ruleName"], "admin");
}

/// `-f -` reads the configuration from standard input, for test, route, simulate and
/// validate alike (`kubectl get ... -o yaml | meshctl ... -f -`).
#[test]
fn configuration_from_standard_input() {
    let (_d, _config, tests) = setup("stdin", PASSING);
    let o = meshctl_stdin(&["test", "-f", "-", &tests], REVIEWS);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = meshctl_stdin(
        &["route", "-f", "-", "-o", "json", "http://reviews/old"],
        REVIEWS,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(parse_json(&o)["location"], "http://reviews/new");
    let o = meshctl_stdin(
        &["simulate", "-f", "-", "-n", "10", "http://reviews/old"],
        REVIEWS,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("redirect"));
    let o = meshctl_stdin(&["validate", "-"], REVIEWS);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Errors name standard input as the file.
    let o = meshctl_stdin(
        &["validate", "-"],
        "kind: VirtualService\napiVersion: networking.istio.io/v1\nmetadata: {name: x}\nspec: {hosts: [a], bogus: 1}\n",
    );
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("(<stdin>:4)"), "{}", stdout(&o));
    // Standard input is read once: a second `-` is an error.
    let o = meshctl_stdin(&["validate", "-", "-"], REVIEWS);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("standard input (-) can be given only once"),
        "{}",
        stderr(&o)
    );
}

/// Config folders may hold test files: loading configuration passes over test documents
/// (validate, route, test without -f), while a kind-less document that is not a test stays
/// an error.
#[test]
fn mixed_config_and_test_folders() {
    let (dir, config, _tests) = setup("mixed", PASSING);
    let folder = dir.path().display().to_string();
    let o = meshctl(&["test", &folder]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("2 passed, 0 failed"));
    let o = meshctl(&["validate", &folder, "--show-skipped"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("skipped  routing tests  ("),
        "{}",
        stdout(&o)
    );
    let o = meshctl(&["route", "-f", &folder, "http://reviews/old"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Test paths may hold configuration too: it is passed over there.
    let o = meshctl(&["test", "-f", &config, &folder]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    dir.write("other.yaml", "hosts: [x]\n");
    let o = meshctl(&["validate", &folder]);
    assert_eq!(code(&o), 1);
    assert!(
        stdout(&o).contains("Object 'Kind' is missing"),
        "{}",
        stdout(&o)
    );
    let o = meshctl(&["test", &folder]);
    assert_eq!(code(&o), 2);
}

/// Bad input exits 2 with the error: a test path that cannot be read, a test document
/// with an unknown field (named with file and line), a request that cannot be sent.
#[test]
fn bad_test_input_exits_two() {
    let (dir, config, tests) = setup("bad", PASSING);
    let missing = dir.path().join("nope.yaml").display().to_string();
    let o = meshctl(&["test", "-f", &config, &missing]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("nope.yaml"), "{}", stderr(&o));
    let typo = tests_text_with(
        &tests,
        "expect: {outcome: redirect",
        "expekt: {outcome: redirect",
    );
    let o = meshctl(&["test", "-f", &config, &typo]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains(&format!("{typo}:13: cases[1].expekt: unknown field")),
        "{}",
        stderr(&o)
    );
    let bad = tests_text_with(&tests, "path: /old", "path: old");
    let o = meshctl(&["test", "-f", &config, &bad]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("\"old\" must start with /"),
        "{}",
        stderr(&o)
    );
    // A field route's JSON does not have is a misspelling.
    let typo = tests_text_with(&tests, "status: 302", "statuss: 302");
    let o = meshctl(&["test", "-f", &config, &typo]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains(&format!(
            "{typo}:13: expect.statuss: `meshctl route -o json` has no field \"statuss\""
        )),
        "{}",
        stderr(&o)
    );
    // A configuration that does not load is bad input too.
    let broken = dir.write("broken.yaml", "kind: VirtualService\napiVersion: networking.istio.io/v1\nmetadata: {name: x}\nspec: {hosts: [a], bogus: 1}\n");
    let o = meshctl(&["test", "-f", &broken.display().to_string(), &tests]);
    assert_eq!(code(&o), 2);
}

const DELEGATING: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: shop}
spec:
  hosts: [shop.example.com]
  http:
  - match: [{uri: {prefix: /products}}]
    delegate: {name: products}
  - name: web
    match: [{uri: {prefix: /}}, {sourceLabels: {app: other}}]
    route: [{destination: {host: web}}]
  - name: after-catch-all
    match: [{uri: {prefix: /never}}]
    route: [{destination: {host: never}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: products, namespace: shop}
spec:
  http:
  - name: v2
    match: [{uri: {prefix: /products/v2}}, {headers: {x-v2: {exact: "1"}}}]
    route: [{destination: {host: products-v2}}]
  - name: rest
    route: [{destination: {host: products}}]
"#;

/// Coverage names a delegate's rules by the delegate VirtualService and their index in it,
/// and lists the match blocks no tested proxy routes by (a rule after a catch-all, a block
/// for other source labels) as such.
#[test]
fn coverage_names_delegate_rules_and_unreachable_ones() {
    let dir = TempDir::new("cov-delegate");
    let config = dir.write("config.yaml", DELEGATING).display().to_string();
    let tests = dir
        .write(
            "t.yaml",
            "proxy: {namespace: shop}\ncases:\n- request: {authority: shop.example.com, path: /products/v2/x}\n  expect: {virtualService: shop/products, ruleName: v2}\n",
        )
        .display()
        .to_string();
    let o = meshctl(&["test", "-f", &config, &tests, "--coverage", "-o", "json"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let j = parse_json(&o);
    let missed: Vec<String> = j["coverage"]["missed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            format!(
                "{} {} {} {}",
                u["virtualService"].as_str().unwrap(),
                u["rule"],
                u["match"],
                u["unreachable"]
            )
        })
        .collect();
    assert_eq!(
        missed,
        [
            "shop/products 0 1 false",
            "shop/products 1 0 false",
            "shop/root 1 0 false",
            "shop/root 1 1 true",
            "shop/root 2 0 true"
        ]
    );
    assert_eq!(j["coverage"]["covered"], 1);
    assert_eq!(j["coverage"]["total"], 6);
}
