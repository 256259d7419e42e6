use super::*;
use crate::{CompileOptions, Identity, RouteTable};
use mesh_match::{PathNormalization, RequestView, normalize_target};

const BASE: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: demo}
spec:
  hosts: [shop]
  http:
  - name: api
    match:
    - uri: {prefix: /api}
    rewrite: {uri: /v1/api}
    timeout: 5s
    route:
    - destination: {host: shop, subset: v1}
      weight: 90
    - destination: {host: shop, subset: v2}
      weight: 10
  - name: rest
    route:
    - destination: {host: shop, subset: v1}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop, namespace: demo}
spec:
  host: shop
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
"#;

fn table(yaml: &str) -> RouteTable {
    let r = mesh_model::load_str(yaml).expect("loads");
    RouteTable::compile(&r, &Identity::sidecar("demo"), &CompileOptions::default())
        .expect("compiles")
}

fn diff(
    a: &RouteTable,
    b: &RouteTable,
    path: &str,
    sample_a: u64,
    sample_b: u64,
) -> Vec<&'static str> {
    let headers = http::HeaderMap::new();
    let path = normalize_target(path, PathNormalization::Base).expect("path");
    let view = RequestView::new("GET", "http", "shop", &path, &headers);
    compare(&a.decide(&view, sample_a), &b.decide(&view, sample_b))
        .names()
        .collect()
}

/// The same configuration decides the same: no difference, whichever destination the
/// samples picked (the split is compared, not the pick).
#[test]
fn the_same_table_has_no_differences_whatever_the_samples() {
    let t = table(BASE);
    assert!(diff(&t, &t, "/api", 0, u64::MAX).is_empty());
    assert!(diff(&t, &table(BASE), "/other", 1, 2).is_empty());
}

/// Each part of a rule that changes is named: the split's weights as `destination`, the
/// rewrite, the timeout as `policies`; a request another rule now matches as `rule`.
#[test]
fn each_changed_part_is_named() {
    let t = table(BASE);
    let weights = table(
        &BASE
            .replace("weight: 90", "weight: 50")
            .replace("weight: 10", "weight: 50"),
    );
    assert_eq!(diff(&t, &weights, "/api", 0, 0), ["destination"]);
    assert!(diff(&t, &weights, "/other", 0, 0).is_empty());
    let rewrite = table(&BASE.replace("/v1/api", "/v2/api"));
    assert_eq!(diff(&t, &rewrite, "/api", 0, 0), ["rewrite"]);
    let timeout = table(&BASE.replace("timeout: 5s", "timeout: 1s"));
    assert_eq!(diff(&t, &timeout, "/api", 0, 0), ["policies"]);
    let prefix = table(&BASE.replace("prefix: /api", "prefix: /apx"));
    assert_eq!(
        diff(&t, &prefix, "/api", 0, 0),
        ["rule", "destination", "rewrite", "policies"]
    );
}

/// A rule that becomes a direct response changes the outcome.
#[test]
fn another_kind_of_answer_is_an_outcome_difference() {
    let t = table(BASE);
    let direct = table(&BASE.replace(
        "  - name: rest\n    route:\n    - destination: {host: shop, subset: v1}\n",
        "  - name: rest\n    directResponse: {status: 503}\n",
    ));
    assert_eq!(diff(&t, &direct, "/other", 0, 0), ["outcome"]);
}
