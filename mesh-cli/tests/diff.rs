//! `meshctl diff`: the real binary on two versions of a configuration.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{REVIEWS, TempDir, code, meshctl, stderr, stdout};
use serde_json::Value;

/// Writes OLD and NEW into a directory; returns it and their paths.
fn versions(tag: &str, old: &str, new: &str) -> (TempDir, String, String) {
    let dir = TempDir::new(tag);
    let o = dir.write("old.yaml", old).display().to_string();
    let n = dir.write("new.yaml", new).display().to_string();
    (dir, o, n)
}

/// `meshctl diff OLD NEW -o json`, expecting `status`.
fn diff_json(old: &str, new: &str, extra: &[&str], status: i32) -> Value {
    let mut args = vec!["diff", old, new, "-o", "json"];
    args.extend_from_slice(extra);
    let o = meshctl(&args);
    assert_eq!(code(&o), status, "{}{}", stdout(&o), stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&o)))
}

fn changes(j: &Value) -> &Vec<Value> {
    j["changes"].as_array().unwrap()
}

/// Identical configurations change nothing: exit 0, and the corpus was not empty.
#[test]
fn identical_configurations_exit_zero() {
    let (_d, old, new) = versions("same", REVIEWS, REVIEWS);
    let j = diff_json(&old, &new, &[], 0);
    assert_eq!(j["changed"], 0);
    assert!(j["requests"].as_u64().unwrap() > 20, "{j}");
    let o = meshctl(&["diff", &old, &new]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).starts_with("0 of "), "{}", stdout(&o));
    assert!(
        stdout(&o).ends_with(" requests changed (0 hosts)\n"),
        "{}",
        stdout(&o)
    );
}

/// A weight change shows, for the requests the split rule decides, the old and new shares;
/// other requests (jason's, /admin, /old ...) are unchanged.
#[test]
fn a_weight_change_shows_old_and_new_shares() {
    let new = REVIEWS
        .replace("weight: 90", "weight: 75")
        .replace("weight: 10", "weight: 25");
    let (_d, old, new) = versions("weights", REVIEWS, &new);
    let j = diff_json(&old, &new, &[], 1);
    let cs = changes(&j);
    assert!(!cs.is_empty());
    for c in cs {
        assert_eq!(
            c["oldRule"],
            "VirtualService default/reviews rule 5 \"split\" match 0"
        );
        assert_eq!(c["newRule"], c["oldRule"]);
        assert_eq!(c["fields"].as_array().unwrap().len(), 1, "{c}");
        assert_eq!(c["fields"][0]["field"], "weights");
        // Named as the layer's configuration candidate names it (mesh_route::compare).
        assert_eq!(c["parts"], serde_json::json!(["destination"]), "{c}");
        assert_eq!(c["fields"][0]["old"][0]["weight"], 90.0);
        assert_eq!(c["fields"][0]["new"][0]["weight"], 75.0);
    }
    // Shortest request first, and the text output shows the split.
    assert_eq!(
        cs[0]["request"],
        "GET http://reviews.default.svc.cluster.local/"
    );
    let o = meshctl(&["diff", &old, &new]);
    let out = stdout(&o);
    assert!(out.starts_with("host reviews.default.svc.cluster.local\n  VirtualService default/reviews rule 5 \"split\" match 0\n    http://reviews.default.svc.cluster.local/\n      weights: reviews.default.svc.cluster.local|v1|80 90%, reviews.default.svc.cluster.local|v2|80 10%  ->  reviews.default.svc.cluster.local|v1|80 75%, reviews.default.svc.cluster.local|v2|80 25%\n"), "{out}");
}

/// A match change (prefix `/admin` to exact `/admin`): the near-misses of the corpus find
/// the requests that moved (`/admin/x`, `/adminx`) and name both rules.
#[test]
fn a_match_change_finds_the_requests_that_moved() {
    let new = REVIEWS.replace("uri: {prefix: /admin}", "uri: {exact: /admin}");
    let (_d, old, new) = versions("match", REVIEWS, &new);
    let j = diff_json(&old, &new, &[], 1);
    let requests: Vec<&str> = changes(&j)
        .iter()
        .map(|c| c["request"].as_str().unwrap())
        .collect();
    assert!(
        requests.contains(&"GET http://reviews.default.svc.cluster.local/adminx"),
        "{requests:?}"
    );
    assert!(
        requests.contains(&"GET http://reviews.default.svc.cluster.local/admin/x"),
        "{requests:?}"
    );
    assert!(
        !requests.contains(&"GET http://reviews.default.svc.cluster.local/admin"),
        "{requests:?}"
    );
    let c = &changes(&j)[0];
    assert_eq!(
        c["oldRule"],
        "VirtualService default/reviews rule 1 \"admin\" match 0"
    );
    assert_eq!(
        c["newRule"],
        "VirtualService default/reviews rule 5 \"split\" match 0"
    );
    let fields: Vec<&str> = c["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"outcome") && fields.contains(&"status") && fields.contains(&"body"),
        "{fields:?}"
    );
}

/// A new rule placed first shadows an old one: every request of the old rule now gets the
/// new rule's decision.
#[test]
fn a_new_rule_shadowing_an_old_one() {
    let new = REVIEWS.replace(
        "  http:\n  - name: jason",
        "  http:\n  - name: maintenance\n    match: [{uri: {prefix: /}}]\n    directResponse: {status: 503, body: {string: down}}\n  - name: jason",
    );
    let (_d, old, new) = versions("shadow", REVIEWS, &new);
    let j = diff_json(&old, &new, &[], 1);
    let cs = changes(&j);
    // Every old rule is shadowed.
    for rule in ["jason", "admin", "old", "api", "grpc", "split"] {
        assert!(
            cs.iter().any(|c| c["oldRule"]
                .as_str()
                .unwrap()
                .contains(&format!("\"{rule}\""))),
            "{rule} {j}"
        );
    }
    assert!(
        cs.iter().all(
            |c| c["newRule"] == "VirtualService default/reviews rule 0 \"maintenance\" match 0"
        )
    );
    // The jason rule's request shows its old destination and fault turned into a 503.
    let jason = cs
        .iter()
        .find(|c| c["oldRule"].as_str().unwrap().contains("\"jason\""))
        .unwrap();
    let fields: Vec<&str> = jason["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for f in ["outcome", "weights", "fault", "status", "body"] {
        assert!(fields.contains(&f), "{f}: {fields:?}");
    }
}

const ROOT: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: shop}
spec:
  hosts: [shop.example.com]
  http:
  - match: [{uri: {prefix: /products}}]
    delegate: {name: products}
  - route: [{destination: {host: web}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: products, namespace: shop}
spec:
  http:
  - name: v2
    match: [{uri: {prefix: /products/v2}}]
    route: [{destination: {host: products-v2}}]
  - route: [{destination: {host: products}}]
"#;

/// A change in a delegate (its `/products/v2` rule now goes to another host) shows under
/// the delegate's rule, for requests under the root's match only.
#[test]
fn a_delegate_change_shows_under_the_delegate() {
    let new = ROOT.replace("host: products-v2", "host: products-next");
    let (_d, old, new) = versions("delegate", ROOT, &new);
    let j = diff_json(&old, &new, &["--namespace", "shop"], 1);
    let cs = changes(&j);
    assert!(!cs.is_empty());
    for c in cs {
        assert_eq!(c["host"], "shop.example.com");
        assert_eq!(
            c["oldRule"],
            "VirtualService shop/products rule 0 \"v2\" match 0"
        );
        assert!(
            c["request"]
                .as_str()
                .unwrap()
                .starts_with("GET http://shop.example.com/products/v2"),
            "{c}"
        );
        assert_eq!(c["fields"][0]["field"], "weights");
        assert_eq!(
            c["fields"][0]["new"][0]["host"],
            "products-next.shop.svc.cluster.local"
        );
    }
}

/// `--tests` adds the requests of routing-test files to the corpus (here a request no rule
/// of either configuration mentions), and one side may be standard input.
#[test]
fn test_requests_and_standard_input() {
    let new = REVIEWS.replace(
        "host: reviews, subset: v1}\n      weight: 90",
        "host: reviews, subset: v3}\n      weight: 90",
    );
    let (dir, old, _new) = versions("tests", REVIEWS, &new);
    let tests = dir
        .write(
            "t.yaml",
            "cases:\n- request: {authority: reviews:9080, path: /deep/path, headers: {end-user: zoe}}\n  expect: {outcome: route}\n",
        )
        .display()
        .to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(["diff", &old, "-", "-o", "json", "--tests", &tests])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(new.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let j: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        changes(&j)
            .iter()
            .any(|c| c["request"] == "GET http://reviews:9080/deep/path"),
        "{j}"
    );
}

/// Bad input exits 2: an unreadable side, an invalid configuration, a corpus over
/// `--max-requests`.
#[test]
fn bad_input_exits_two() {
    let (dir, old, new) = versions("bad", REVIEWS, REVIEWS);
    let missing = dir.path().join("missing.yaml").display().to_string();
    assert_eq!(code(&meshctl(&["diff", &old, &missing])), 2);
    let broken = dir
        .write(
            "broken.yaml",
            &REVIEWS.replace("exact: jason", "exact: jason, bogus: 1"),
        )
        .display()
        .to_string();
    assert_eq!(code(&meshctl(&["diff", &old, &broken])), 2);
    let o = meshctl(&["diff", &old, &new, "--max-requests", "5"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("exceeds --max-requests 5"),
        "{}",
        stderr(&o)
    );
}

/// The corpus is bounded by the configuration: for 1 000 hosts with three match blocks
/// each, it holds a few requests per block and host, and the diff of a change to one host
/// finds exactly that host's requests. (Time is measured, not asserted: see the README.)
#[test]
fn a_thousand_hosts_diff_with_a_bounded_corpus() {
    let config = thousand_hosts(None);
    let changed = thousand_hosts(Some(500));
    let (_d, old, new) = versions("thousand", &config, &changed);
    let j = diff_json(&old, &new, &[], 1);
    let requests = j["requests"].as_u64().unwrap();
    assert!((10_000..=40_000).contains(&requests), "{requests}");
    assert!(
        changes(&j)
            .iter()
            .all(|c| c["host"] == "svc500.example.com"),
        "{j}"
    );
    assert!(j["changed"].as_u64().unwrap() >= 3);
}

/// 1 000 VirtualServices, each for its own host, with a header rule, a prefix rule and a
/// split; `changed` gets a different split.
pub(crate) fn thousand_hosts(changed: Option<usize>) -> String {
    let mut s = String::new();
    for i in 0..1000 {
        let w = if changed == Some(i) { 50 } else { 90 };
        s.push_str(&format!(
            "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs{i}}}\nspec:\n  hosts: [svc{i}.example.com]\n  http:\n  - match: [{{headers: {{x-user: {{exact: beta}}}}}}]\n    route: [{{destination: {{host: svc{i}, subset: beta}}}}]\n  - match: [{{uri: {{prefix: /api/}}, method: {{exact: POST}}}}]\n    route: [{{destination: {{host: api{i}}}}}]\n  - route:\n    - {{destination: {{host: svc{i}, subset: v1}}, weight: {w}}}\n    - {{destination: {{host: svc{i}, subset: v2}}, weight: {}}}\n",
            100 - w
        ));
    }
    s
}
