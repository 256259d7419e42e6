//! A configuration candidate run beside the serving table on live requests: the serving
//! decision is executed, the differences are counted per rule and part
//! (`mesh_config_candidate_diff_total`) with a bounded sample, and promotion serves the
//! candidate.

mod common;

use common::*;
use mesh_tower::rollout::candidate::{AutoPromote, SAMPLE_CAP};
use mesh_tower::{Backends, MeshLayer, Options};

fn yaml(api_timeout: &str, legacy_subset: &str) -> String {
    format!(
        r#"apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop}}
spec:
  hosts: [shop]
  http:
  - name: api
    match:
    - uri: {{prefix: /api}}
    timeout: {api_timeout}
    route:
    - destination: {{host: shop, subset: v1}}
  - name: legacy
    match:
    - uri: {{prefix: /legacy}}
    route:
    - destination: {{host: shop, subset: {legacy_subset}}}
  - name: rest
    route:
    - destination: {{host: shop, subset: v1}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: shop}}
spec:
  host: shop
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
"#
    )
}

/// A candidate that moves `/legacy` to v2 and changes `/api`'s timeout: each live request
/// is still answered by the serving table (v1), the differences are counted under the
/// rule and part they concern and nowhere else, at most `SAMPLE_CAP` examples are kept;
/// promotion then serves the candidate and stops comparing.
#[tokio::test]
async fn candidate_differences_are_counted_per_rule_then_promoted() {
    let host = fqdn("shop");
    let backends = Backends::new()
        .with(
            &host,
            Backend::ok("v1").endpoint("shop-v1", [("version", "v1")]),
        )
        .with(
            &host,
            Backend::ok("v2").endpoint("shop-v2", [("version", "v2")]),
        );
    let layer = MeshLayer::with_options(
        table(&yaml("5s", "v1"), sidecar()),
        backends,
        Options::default(),
    );
    let handle = layer.handle();
    let svc = mesh(layer);
    assert_eq!(handle.candidate(), None);
    handle.set_candidate(table(&yaml("1s", "v2"), sidecar()));
    for path in ["/legacy/a", "/api/b", "/other"] {
        for _ in 0..20 {
            let r = send(&svc, get(&format!("http://shop{path}"))).await;
            assert_eq!(r.body, "v1", "the serving table answers {path}");
        }
    }
    let report = handle.candidate().expect("a candidate runs");
    assert_eq!(report.compared, 60);
    assert_eq!(report.differing, 40);
    assert_eq!(
        report.unexpected, 0,
        "nothing is expected without AutoPromote"
    );
    assert_eq!(report.samples.len(), SAMPLE_CAP);
    let first = &report.samples[0];
    assert_eq!(first.path, "/legacy/a");
    assert_eq!(first.serving_rule, "default/shop#legacy");
    assert_eq!(first.differences, ["destination"]);
    let m = handle.metrics().rollout();
    assert_eq!(
        m.candidate_diffs("default/shop", "legacy", "destination"),
        20
    );
    assert_eq!(m.candidate_diffs("default/shop", "api", "policies"), 20);
    assert_eq!(m.candidate_diffs("default/shop", "api", "destination"), 0);
    assert_eq!(m.candidate_diffs("default/shop", "rest", "destination"), 0);
    let text = handle.metrics().encode();
    assert!(
        text.contains("mesh_config_candidate_diff_total{virtual_service=\"default/shop\",rule=\"legacy\",field=\"destination\"} 20"),
        "{text}"
    );

    assert!(handle.promote_candidate());
    assert_eq!(handle.candidate(), None);
    let r = send(&svc, get("http://shop/legacy/a")).await;
    assert_eq!(r.body, "v2", "the candidate serves once promoted");
    assert!(!handle.promote_candidate(), "nothing left to promote");
}

fn layer_with_backends(yaml: &str) -> (Mesh, mesh_tower::MeshHandle) {
    let host = fqdn("shop");
    let backends = Backends::new()
        .with(
            &host,
            Backend::ok("v1").endpoint("shop-v1", [("version", "v1")]),
        )
        .with(
            &host,
            Backend::ok("v2").endpoint("shop-v2", [("version", "v2")]),
        );
    let layer = MeshLayer::with_options(table(yaml, sidecar()), backends, Options::default());
    let handle = layer.handle();
    (mesh(layer), handle)
}

/// With automatic promotion, a candidate that differs only under the expected rule serves
/// by itself once `after` requests were compared (not before); one that differs under
/// another rule never promotes itself and reports the unexpected differences.
#[tokio::test]
async fn a_candidate_promotes_itself_when_differences_are_only_where_expected() {
    let expected = AutoPromote {
        after: 10,
        expected: vec![("default/shop".into(), "legacy".into())],
    };
    let (svc, handle) = layer_with_backends(&yaml("5s", "v1"));
    // Moves /legacy only: expected.
    handle.set_candidate_with(table(&yaml("5s", "v2"), sidecar()), expected.clone());
    for i in 0..10 {
        let r = send(&svc, get("http://shop/legacy/x")).await;
        assert_eq!(r.body, "v1", "request {i} is served before the promotion");
    }
    assert_eq!(handle.candidate(), None, "promoted after 10 requests");
    let r = send(&svc, get("http://shop/legacy/x")).await;
    assert_eq!(r.body, "v2");

    let (svc, handle) = layer_with_backends(&yaml("5s", "v1"));
    // Also changes /api's timeout: unexpected.
    handle.set_candidate_with(table(&yaml("1s", "v2"), sidecar()), expected);
    send(&svc, get("http://shop/api/x")).await;
    for _ in 0..20 {
        send(&svc, get("http://shop/legacy/x")).await;
    }
    let report = handle.candidate().expect("still a candidate");
    assert_eq!((report.compared, report.unexpected), (21, 1));
    let r = send(&svc, get("http://shop/legacy/x")).await;
    assert_eq!(r.body, "v1");
}
