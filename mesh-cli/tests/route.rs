//! `meshctl route`: the real binary on configurations written to a temporary directory.

mod common;

use common::{REVIEWS, code, config, json, meshctl, stderr, stdout};
use serde_json::{Value, json};

/// `route -f FILE -o json ARGS...`.
fn route_json(file: &std::path::Path, args: &[&str]) -> Value {
    let mut all = vec![
        "route".to_owned(),
        "-f".to_owned(),
        file.display().to_string(),
        "-o".to_owned(),
        "json".to_owned(),
    ];
    all.extend(args.iter().map(|s| (*s).to_owned()));
    json(&all)
}

const V1: &str = "reviews.default.svc.cluster.local";

/// A header match picks its rule; without the header the request falls through to the
/// split.
#[test]
fn header_match_picks_the_right_rule() {
    let (_dir, file) = config("header", REVIEWS);
    let j = route_json(&file, &["-H", "end-user: jason", "http://reviews:9080/x"]);
    assert_eq!(j["outcome"], "route");
    assert_eq!(j["virtualService"], "default/reviews");
    assert_eq!(j["rule"], 0);
    assert_eq!(j["ruleName"], "jason");
    assert_eq!(j["match"], 0);
    assert_eq!(
        j["destination"],
        json!({"host": V1, "subset": "v2", "port": 9080})
    );
    assert_eq!(j["notMatched"], json!([]));

    let j = route_json(&file, &["-H", "end-user: mike", "http://reviews:9080/x"]);
    assert_eq!(j["rule"], 5);
    assert_eq!(j["ruleName"], "split");
    assert_eq!(j["notMatched"][0]["rule"], 0);
    assert_eq!(
        j["notMatched"][0]["reason"],
        "header end-user exact \"jason\": it is \"mike\""
    );
    assert_eq!(j["notMatched"].as_array().unwrap().len(), 5);
}

/// The text output names the matched rule and the first failed condition of each earlier
/// rule.
#[test]
fn text_names_the_failed_condition_of_earlier_rules() {
    let (_dir, file) = config("text", REVIEWS);
    let f = file.display().to_string();
    let o = meshctl(&["route", "-f", &f, "http://reviews/old"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("outcome:") && out.contains("redirect"),
        "{out}"
    );
    assert!(
        out.contains("VirtualService default/reviews, rule 2 \"old\", match 0"),
        "{out}"
    );
    assert!(
        out.contains("rule 0 \"jason\", match 0: header end-user exact \"jason\": it is absent"),
        "{out}"
    );
    assert!(
        out.contains("rule 1 \"admin\", match 0: uri prefix \"/admin\" does not match \"/old\""),
        "{out}"
    );
    assert!(out.contains("http://reviews/new"), "{out}");
}

/// A weighted split reports every destination with its share; the sample picks one; the
/// retries are Istio's default when the rule sets none.
#[test]
fn json_weighted_split_and_default_retries() {
    let (_dir, file) = config("split", REVIEWS);
    let j = route_json(&file, &["http://reviews/"]);
    assert_eq!(j["outcome"], "route");
    assert_eq!(
        j["weights"],
        json!([
            {"host": V1, "subset": "v1", "port": 80, "weight": 90.0},
            {"host": V1, "subset": "v2", "port": 80, "weight": 10.0},
        ])
    );
    assert_eq!(j["destination"]["subset"], "v1");
    assert_eq!(j["retries"]["attempts"], 2);
    assert_eq!(j["retries"]["perTryTimeout"], Value::Null);
    assert!(
        j["retries"]["retryOn"]
            .as_str()
            .unwrap()
            .contains("connect-failure")
    );
    for key in ["timeout", "fault", "status", "location", "body", "reason"] {
        assert_eq!(j[key], Value::Null, "{key}");
    }
    assert_eq!(j["mirrors"], json!([]));
    assert_eq!(j["requestHeaders"], json!([]));
    assert_eq!(j["path"], "/");
    assert_eq!(j["authority"], "reviews");

    let last = u64::MAX.to_string();
    let j = route_json(&file, &["--sample", &last, "http://reviews/"]);
    assert_eq!(j["destination"]["subset"], "v2");
}

/// Every key is present in every outcome.
#[test]
fn json_keys_are_always_present() {
    let (_dir, file) = config("keys", REVIEWS);
    let keys = [
        "request",
        "proxy",
        "outcome",
        "reason",
        "virtualService",
        "resource",
        "rule",
        "ruleName",
        "match",
        "notMatched",
        "destination",
        "weights",
        "path",
        "authority",
        "status",
        "grpcStatus",
        "grpcMessage",
        "location",
        "body",
        "fault",
        "retries",
        "timeout",
        "mirrors",
        "requestHeaders",
        "responseHeaders",
    ];
    for url in [
        "http://reviews/",
        "http://reviews/old",
        "http://reviews/admin",
        "http://reviews/a%00",
    ] {
        let j = route_json(&file, &[url]);
        let obj = j.as_object().unwrap();
        for k in keys {
            assert!(obj.contains_key(k), "{url}: {k} missing");
        }
        assert_eq!(obj.len(), keys.len(), "{url}: {obj:?}");
    }
}

/// A single destination has weight 100; `retries: {attempts: 0}` disables retries; the
/// fault's delay and abort are reported with their percentages.
#[test]
fn json_fault_and_disabled_retries() {
    let (_dir, file) = config("fault", REVIEWS);
    let j = route_json(&file, &["-H", "end-user: jason", "http://reviews/"]);
    assert_eq!(
        j["weights"],
        json!([{"host": V1, "subset": "v2", "port": 80, "weight": 100.0}])
    );
    assert_eq!(
        j["retries"],
        json!({"attempts": 0, "perTryTimeout": null, "retryOn": null})
    );
    assert_eq!(
        j["fault"],
        json!({
            "delay": {"fixedDelay": "7s", "percent": 100.0},
            "abort": {"httpStatus": 503, "percent": 50.0, "reply": {
                "status": 503, "grpcStatus": null, "grpcMessage": null, "body": "fault filter abort"
            }},
        })
    );
    // A gRPC-status abort answers a plain request 200 with a plain body, and a gRPC
    // request 200 with grpc-status (Envoy 1.40, measured).
    let j = route_json(&file, &["http://reviews/grpc"]);
    assert_eq!(
        j["fault"],
        json!({"delay": null, "abort": {"grpcStatus": "UNAVAILABLE", "percent": 10.0, "reply": {
            "status": 200, "grpcStatus": null, "grpcMessage": null, "body": "fault filter abort"
        }}})
    );
    let j = route_json(
        &file,
        &[
            "-H",
            "content-type: application/grpc",
            "http://reviews/grpc",
        ],
    );
    assert_eq!(
        j["fault"]["abort"]["reply"],
        json!({"status": 200, "grpcStatus": 14, "grpcMessage": "fault filter abort", "body": ""})
    );
}

/// Rewrite, timeout, explicit retries, a mirror with its percentage and header operations.
#[test]
fn json_rewrite_mirror_timeout_headers() {
    let (_dir, file) = config("rewrite", REVIEWS);
    let j = route_json(&file, &["http://reviews:9080/api/a?q=1"]);
    assert_eq!(j["rule"], 3);
    assert_eq!(j["path"], "/v1/a?q=1");
    assert_eq!(j["authority"], "reviews:9080");
    assert_eq!(j["timeout"], "0.5s");
    assert_eq!(
        j["retries"],
        json!({"attempts": 5, "perTryTimeout": "2s", "retryOn": "5xx,retriable-status-codes,503"})
    );
    assert_eq!(
        j["mirrors"],
        json!([{"host": V1, "subset": "v3", "port": 9080, "percent": 25.0}])
    );
    assert_eq!(
        j["requestHeaders"],
        json!([
            {"op": "remove", "name": "x-debug", "value": null},
            {"op": "set", "name": "x-a", "value": "b"},
        ])
    );
    assert_eq!(
        j["responseHeaders"],
        json!([{"op": "add", "name": "x-r", "value": "1"}])
    );
}

/// A redirect's status and location; a direct response's status and body.
#[test]
fn json_redirect_and_direct_response() {
    let (_dir, file) = config("redirect", REVIEWS);
    let j = route_json(&file, &["http://reviews/old?x=1"]);
    assert_eq!(j["outcome"], "redirect");
    assert_eq!(j["status"], 302);
    assert_eq!(j["location"], "http://reviews/new?x=1");
    assert_eq!(j["destination"], Value::Null);
    assert_eq!(j["retries"], Value::Null);

    let j = route_json(&file, &["http://reviews/admin/users"]);
    assert_eq!(j["outcome"], "directResponse");
    assert_eq!(j["ruleName"], "admin");
    assert_eq!(j["status"], 403);
    assert_eq!(j["body"], "forbidden");
    assert_eq!(j["weights"], Value::Null);
}

const GATEWAY: &str = r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*/shop.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: web}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/gw]
  http:
  - route:
    - destination: {host: shop.web.svc.cluster.local, port: {number: 8080}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - name: frontend
    match:
    - sourceLabels: {app: frontend}
    route:
    - destination: {host: ratings, subset: v2}
  - route:
    - destination: {host: ratings, subset: v1}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
"#;

/// `--gateway` decides as the Gateway: its VirtualService routes, other hosts get no route,
/// and the sidecar does not see the Gateway's VirtualService.
#[test]
fn gateway_identity() {
    let (_dir, file) = config("gateway", GATEWAY);
    let gw = ["--gateway", "istio-system/gw"];
    let j = route_json(&file, &[gw[0], gw[1], "http://shop.example.com/x"]);
    assert_eq!(j["outcome"], "route");
    assert_eq!(j["proxy"], "gateway istio-system/gw");
    assert_eq!(j["virtualService"], "web/shop");
    assert_eq!(
        j["destination"],
        json!({"host": "shop.web.svc.cluster.local", "subset": null, "port": 8080})
    );
    let j = route_json(&file, &[gw[0], gw[1], "http://other.example.com/x"]);
    assert_eq!(j["outcome"], "noRoute");
    assert_eq!(j["status"], 404);
    assert!(j["reason"].as_str().unwrap().contains("other.example.com"));

    // The sidecar has no route for the gateway's host: Istio's default route.
    let j = route_json(&file, &["http://shop.example.com/x"]);
    assert_eq!(j["outcome"], "route");
    assert_eq!(j["virtualService"], Value::Null);
    assert_eq!(j["destination"]["host"], "shop.example.com");
}

/// `--labels` make `sourceLabels` match.
#[test]
fn labels_select_source_labels_matches() {
    let (_dir, file) = config("labels", GATEWAY);
    let j = route_json(
        &file,
        &["--labels", "app=frontend,version=v1", "http://ratings/"],
    );
    assert_eq!(j["proxy"], "sidecar in default (app=frontend,version=v1)");
    assert_eq!(j["ruleName"], "frontend");
    assert_eq!(j["destination"]["subset"], "v2");
    let j = route_json(&file, &["--labels", "app=backend", "http://ratings/"]);
    assert_eq!(j["rule"], 1);
    assert_eq!(j["destination"]["subset"], "v1");
    let j = route_json(&file, &["http://ratings/"]);
    assert_eq!(j["destination"]["subset"], "v1");
}

/// `//admin` slips past a `/admin` prefix under BASE, not under MERGE_SLASHES.
#[test]
fn path_normalization_changes_the_decision() {
    let (_dir, file) = config("normalize", REVIEWS);
    let j = route_json(&file, &["http://reviews//admin"]);
    assert_eq!(j["outcome"], "route");
    assert_eq!(j["ruleName"], "split");
    assert_eq!(j["path"], "//admin");
    let j = route_json(
        &file,
        &[
            "--path-normalization",
            "MERGE_SLASHES",
            "http://reviews//admin",
        ],
    );
    assert_eq!(j["outcome"], "directResponse");
    assert_eq!(j["ruleName"], "admin");
    // BASE removes dot segments.
    let j = route_json(&file, &["http://reviews/x/../admin"]);
    assert_eq!(j["outcome"], "directResponse");
}

/// A method Envoy's HTTP/1 codec does not accept (methods are case-sensitive tokens from
/// a fixed list) is rejected with 400, as Envoy 1.40 answers `delete` or `FOO`; `DELETE`
/// and `PURGE` are routed.
#[test]
fn unknown_http1_method_is_rejected() {
    let (_dir, file) = config("method", REVIEWS);
    for m in ["delete", "FOO", "M-SEARCH"] {
        let j = route_json(&file, &["-X", m, "http://reviews/"]);
        assert_eq!(j["outcome"], "rejected", "{m}: {j}");
        assert_eq!(j["status"], 400);
        assert!(j["reason"].as_str().unwrap().contains("method"), "{j}");
    }
    for m in ["DELETE", "PURGE"] {
        let j = route_json(&file, &["-X", m, "http://reviews/"]);
        assert_ne!(j["outcome"], "rejected", "{m}: {j}");
    }
}

/// A path Envoy cannot normalize (an escaped NUL) is rejected with 400: exit 0, outcome
/// `rejected`. A `%` that starts no escape is not an error: Envoy 1.40 forwards `/a%zz`.
#[test]
fn unnormalizable_path_is_rejected() {
    let (_dir, file) = config("rejected", REVIEWS);
    let j = route_json(&file, &["http://reviews/a%00"]);
    assert_eq!(j["outcome"], "rejected");
    assert_eq!(j["status"], 400);
    assert!(
        j["reason"].as_str().unwrap().contains("NUL character"),
        "{j}"
    );
    assert_eq!(j["destination"], Value::Null);
    let j = route_json(&file, &["http://reviews/a%zz"]);
    assert_ne!(j["outcome"], "rejected", "{j}");
    let f = file.display().to_string();
    let o = meshctl(&["route", "-f", &f, "http://reviews/a%00"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("rejected"), "{}", stdout(&o));
}

/// A `Host` header replaces the URL's authority, as with curl; `-X` sets the method.
#[test]
fn host_header_and_method() {
    let (_dir, file) = config("host", REVIEWS);
    let j = route_json(
        &file,
        &[
            "-X",
            "POST",
            "-H",
            "Host: reviews",
            "http://10.0.0.1:9080/api/x",
        ],
    );
    assert_eq!(j["request"], "POST http://reviews/api/x");
    assert_eq!(j["ruleName"], "api");
    assert_eq!(j["authority"], "reviews");
    assert_eq!(j["destination"]["port"], 9080);
}

/// Exit status 1 for configuration errors, printed to stderr as `meshctl validate` does.
#[test]
fn configuration_errors_exit_1() {
    let (dir, _) = config("errors", REVIEWS);
    let bad = dir.write(
        "bad.yaml",
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad}
spec:
  hosts: [bad]
  http:
  - route:
    - destination: {host: bad}
      weight: -5
"#,
    );
    let schema = dir.write(
        "schema.yaml",
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: s}\nspec:\n  hosts: [s]\n  htttp: []\n",
    );
    for (file, want) in [
        (
            &bad,
            "error    VirtualService default/bad  spec.http[0].route[0].weight: ",
        ),
        (
            &schema,
            "error    VirtualService default/s  spec.htttp: unknown field",
        ),
    ] {
        let f = file.display().to_string();
        for cmd in ["route", "simulate"] {
            let o = meshctl(&[cmd, "-f", &f, "http://bad/"]);
            assert_eq!(code(&o), 1, "{cmd} {f}: {}", stderr(&o));
            assert!(stderr(&o).contains(want), "{}", stderr(&o));
            assert!(stdout(&o).is_empty());
        }
    }
    // A directory with a bad file in it fails as a whole.
    let d = dir.path().display().to_string();
    assert_eq!(code(&meshctl(&["route", "-f", &d, "http://reviews/"])), 1);
    // A gateway that is not in the configuration is a compile error.
    let good = dir.path().join("config.yaml").display().to_string();
    let o = meshctl(&["route", "-f", &good, "--gateway", "a/b", "http://reviews/"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("Gateway a/b"), "{}", stderr(&o));
}

/// Exit status 2 for bad arguments and unreadable input; 0 for every decision.
#[test]
fn exit_codes() {
    let (dir, file) = config("exit", REVIEWS);
    let f = file.display().to_string();
    let missing = dir.path().join("missing.yaml").display().to_string();
    for args in [
        vec!["route", "-f", &missing, "http://reviews/"],
        vec!["route", "-f", &f, "/no-scheme"],
        vec!["route", "-f", &f, "reviews/x"],
        vec!["route", "-f", &f, "ftp://reviews/x"],
        vec!["route", "http://reviews/"],
        vec!["route", "-f", &f, "--gateway", "nons", "http://reviews/"],
        vec![
            "route",
            "-f",
            &f,
            "--gateway",
            "a/b",
            "--namespace",
            "x",
            "http://reviews/",
        ],
        vec!["route", "-f", &f, "--labels", "novalue", "http://reviews/"],
        vec!["route", "-f", &f, "-H", "no-colon", "http://reviews/"],
        vec![
            "route",
            "-f",
            &f,
            "--path-normalization",
            "FOO",
            "http://reviews/",
        ],
        vec!["route", "-f", &f, "--sample", "-1", "http://reviews/"],
        vec!["route", "-f", &f, "-o", "yaml", "http://reviews/"],
    ] {
        let o = meshctl(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
    }
    for url in [
        "http://reviews/",
        "http://reviews/old",
        "http://nothing.example.com/",
    ] {
        assert_eq!(code(&meshctl(&["route", "-f", &f, url])), 0, "{url}");
    }
    let o = meshctl(&["route", "-f", &f, "--gateway", "a/b", "http://reviews/"]);
    assert_eq!(code(&o), 1);
}
