//! What a compiled table keeps for its life: no room to grow in what it holds, and one value
//! where many destinations would each hold an equal one. On the race's table of 10 000 rules
//! with policies (benches/README.md, "The race at real concurrency"), the room left by
//! building with `push` was about 30 MB and the per-destination default policies 4 MB.

use std::sync::Arc;

use mesh_route::{CompileOptions, Identity, RouteTable};

const YAML: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc, namespace: gen}
spec:
  hosts: [svc]
  http:
  - match: [{uri: {prefix: /a}}]
    route: [{destination: {host: svc, port: {number: 8000}}}]
    mirror: {host: mirror, port: {number: 80}}
    mirrorPercentage: {value: 10.0}
    headers:
      request:
        set: {x-route: a}
        add: {x-added: "yes"}
        remove: [x-drop]
      response:
        set: {x-policy: "on"}
        remove: [x-noise]
  - match: [{uri: {prefix: /b}}]
    route: [{destination: {host: svc, port: {number: 8001}}}]
    mirror: {host: mirror, port: {number: 80}}
  - route: [{destination: {host: other, port: {number: 8002}}}]
"#;

fn table() -> RouteTable {
    let resources = mesh_model::load_str(YAML).expect("loads");
    RouteTable::compile(
        &resources,
        &Identity::sidecar("gen"),
        &CompileOptions::default(),
    )
    .expect("compiles")
}

/// A rule's mirrors, its header operations and a virtual host's route entries are held
/// without spare capacity (a `Vec` grown by one `push` keeps room for four).
#[test]
fn compiled_rules_keep_no_room_to_grow() {
    let table = table();
    let vhost = &table.virtual_hosts()[0];
    assert_eq!(vhost.entries.len(), 3);
    assert_eq!(vhost.entries.capacity(), vhost.entries.len());
    for entry in &vhost.entries {
        let rule = &entry.rule;
        assert_eq!(rule.mirrors.capacity(), rule.mirrors.len());
        for ops in [&rule.headers.request, &rule.headers.response] {
            assert_eq!(ops.set.capacity(), ops.set.len());
            assert_eq!(ops.add.capacity(), ops.add.len());
            assert_eq!(ops.remove.capacity(), ops.remove.len());
        }
    }
    let first = &vhost.entries[0].rule;
    assert_eq!(first.mirrors.len(), 1);
    assert_eq!(
        (
            first.headers.request.set.len(),
            first.headers.request.add.len()
        ),
        (1, 1)
    );
    assert_eq!(first.headers.response.remove.len(), 1);
}

/// Destinations (routes and mirrors) without a DestinationRule policy share one checked
/// cluster policy, Istio's defaults, rather than holding one each.
#[test]
fn destinations_without_a_policy_share_one_cluster_policy() {
    let table = table();
    let entries = &table.virtual_hosts()[0].entries;
    let mut policies = Vec::new();
    for entry in entries {
        let rule = &entry.rule;
        for d in rule.split().expect("forwards").destinations() {
            policies.push(d.cluster_policy(80).clone());
        }
        for m in &rule.mirrors {
            policies.push(m.destination.cluster_policy(80).clone());
        }
    }
    assert_eq!(policies.len(), 5);
    assert_eq!(*policies[0], mesh_route::policy::ClusterPolicy::new(None));
    for p in &policies {
        assert!(Arc::ptr_eq(p, &policies[0]));
    }
}
