//! Header operations of one level: `remove` runs before `set` and `add`, as Envoy's header
//! parser evaluates them (removals first, then additions). Measured 2026-12-05 with Envoy
//! 1.40 on a route with `request_headers_to_add` x-a (OVERWRITE_IF_EXISTS_OR_ADD) and x-b
//! (APPEND_IF_EXISTS_OR_ADD), `request_headers_to_remove: [x-a, x-b]`, and the same shape
//! for response headers: a client's `x-a: client`, `x-b: client` reach the upstream as
//! `x-a: set`, `x-b: added` only; the upstream's `x-r` reaches the client as `x-r: set`.

mod common;

use common::*;
use http::StatusCode;
use mesh_tower::{Backends, MeshLayer};

/// A header both removed and set (or added) at the same level is sent with the configured
/// value only: the removal cannot undo the set, and the client's value is gone.
#[tokio::test]
async fn remove_runs_before_set_and_add() {
    let yaml = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - headers:
      request:
        set: {x-a: set}
        add: {x-b: added}
        remove: [x-a, x-b]
      response:
        set: {x-r: set}
        remove: [x-r]
    route:
    - destination: {host: reviews}
"#;
    let backend = Backend::ok("reviews").header("x-r", "upstream");
    let svc = mesh(MeshLayer::new(
        table(yaml, sidecar()),
        Backends::new().with(&fqdn("reviews"), backend.endpoint("reviews-1", [])),
    ));
    let r = send(
        &svc,
        get_with("http://reviews/", &[("x-a", "client"), ("x-b", "client")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let seen = &backend.seen()[0];
    let all = |name: &str| -> Vec<String> {
        seen.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(all("x-a"), ["set"]);
    assert_eq!(all("x-b"), ["added"]);
    let responses: Vec<_> = r.headers.get_all("x-r").iter().collect();
    assert_eq!(responses, ["set"]);
}
