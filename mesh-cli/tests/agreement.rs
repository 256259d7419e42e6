//! `meshctl route -o json` and the layer agree on what both take from the decision: header
//! operations, the redirect `Location`, the rewritten path and the retry policy.
//!
//! `meshctl route -o json` lists the header operations in the order they are applied, and
//! the layer applies exactly that list: one function in mesh-route
//! (`Decision::header_ops`) decides the order for both. Checked here by replaying the
//! listed operations on the request (and the response) and comparing with what the
//! layer's backend received (and its client got).

mod common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use common::{config, json};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use http_body_util::BodyExt;
use mesh_route::{CompileOptions, Identity, RouteTable};
use mesh_tower::body::{self, BoxBody};
use mesh_tower::{Backends, Endpoint, MeshLayer};
use serde_json::Value;
use tower::{ServiceExt, service_fn};

/// Route and destination operations on the same headers, for a single destination and
/// for a weighted split (where Envoy applies the destination's first).
const CONFIG: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop]
  http:
  - match: [{uri: {prefix: /single}}]
    headers:
      request: {set: {x-a: route}, add: {x-b: same, x-c: "1"}, remove: [x-d]}
      response: {set: {x-r: route}, add: {x-s: route}}
    route:
    - destination: {host: shop, subset: v1}
      headers:
        request: {set: {x-a: dest, x-c: "2"}, add: {x-b: same, user-agent: more}, remove: [x-c]}
        response: {set: {x-r: dest}, remove: [x-s]}
  - match: [{uri: {prefix: /weighted}}]
    headers:
      request: {set: {x-a: route}, remove: [x-b]}
      response: {set: {x-r: route}, remove: [x-s]}
    route:
    - destination: {host: shop, subset: v1}
      weight: 100
      headers:
        request: {set: {x-a: dest}, add: {x-b: dest, x-c: dest}}
        response: {set: {x-r: dest}, add: {x-s: dest}}
    - destination: {host: shop, subset: v2}
      weight: 0
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop}
spec:
  host: shop
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
"#;

/// The request headers every case sends.
const SENT: &[(&str, &str)] = &[
    ("x-b", "client"),
    ("x-c", "client"),
    ("x-d", "client"),
    ("user-agent", "ua"),
];

/// The response headers the backend answers with.
const ANSWERED: &[(&str, &str)] = &[("x-s", "backend"), ("x-r", "backend")];

const NAMES: &[&str] = &["x-a", "x-b", "x-c", "x-d", "user-agent", "x-r", "x-s"];

fn header_map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_static(v));
    }
    h
}

/// Applies `ops` (meshctl's JSON list) to `h` as Envoy does: an `add` to a present inline
/// header joins it.
fn replay(ops: &Value, h: &mut HeaderMap, inline: fn(&str) -> bool) {
    for op in ops.as_array().expect("a list of operations") {
        let name = HeaderName::from_bytes(op["name"].as_str().unwrap().as_bytes()).unwrap();
        let value = op["value"]
            .as_str()
            .map(|v| HeaderValue::from_str(v).unwrap());
        match (op["op"].as_str().unwrap(), value) {
            ("remove", None) => {
                h.remove(&name);
            }
            ("set", Some(v)) => {
                h.insert(name, v);
            }
            ("add", Some(v)) => {
                let inline = inline(name.as_str());
                mesh_match::inline::append(h, &name, &v, inline);
            }
            other => panic!("unexpected operation {other:?}"),
        }
    }
}

fn compared(h: &HeaderMap) -> Vec<(String, Vec<String>)> {
    NAMES
        .iter()
        .map(|n| {
            let values = h
                .get_all(*n)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect();
            ((*n).to_owned(), values)
        })
        .collect()
}

/// What the layer's backend received and what its client got, for `path`.
async fn through_the_layer(path: &str) -> (HeaderMap, HeaderMap) {
    let resources = mesh_model::load_str(CONFIG).unwrap();
    let table = RouteTable::compile(
        &resources,
        &Identity::sidecar("default"),
        &CompileOptions::default(),
    )
    .unwrap();
    let seen: Arc<Mutex<Option<HeaderMap>>> = Arc::default();
    let record = seen.clone();
    let backend = service_fn(move |req: Request<BoxBody>| {
        *record.lock().unwrap() = Some(req.headers().clone());
        async move {
            let mut r = Response::new(body::empty());
            *r.headers_mut() = header_map(ANSWERED);
            Ok::<_, Infallible>(r)
        }
    });
    let host = "shop.default.svc.cluster.local";
    let backends = Backends::new()
        .with(
            host,
            Endpoint::new("v1", [("version", "v1")], backend.clone()),
        )
        .with(host, Endpoint::new("v2", [("version", "v2")], backend));
    let inner = service_fn(|_req: Request<BoxBody>| async {
        Ok::<_, Infallible>(Response::new(body::empty()))
    });
    let svc = tower::Layer::layer(&MeshLayer::new(table, backends), inner);
    let mut req = Request::get(path).header("host", "shop");
    for (k, v) in SENT {
        req = req.header(*k, *v);
    }
    let resp = svc.oneshot(req.body(body::empty()).unwrap()).await.unwrap();
    let (parts, b) = resp.into_parts();
    let _ = b.collect().await;
    let upstream = seen.lock().unwrap().take().expect("the backend was called");
    (upstream, parts.headers)
}

/// For a single destination and a weighted split: the request headers the layer sends are
/// the request's with meshctl's `requestHeaders` applied in order, and the response
/// headers its client gets are the backend's with `responseHeaders` applied in order.
#[test]
fn meshctl_lists_the_operations_the_layer_applies() {
    let (_dir, file) = config("agreement", CONFIG);
    let f = file.display().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for path in ["/single", "/weighted"] {
        let mut args = vec!["route", "-f", &f, "-o", "json"];
        let headers: Vec<String> = SENT.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        for h in &headers {
            args.extend(["-H", h.as_str()]);
        }
        let url = format!("http://shop{path}");
        args.push(&url);
        let j = json(&args);
        assert_eq!(j["outcome"], "route", "{j}");
        let mut expected_request = header_map(SENT);
        replay(
            &j["requestHeaders"],
            &mut expected_request,
            mesh_match::inline::is_request_inline,
        );
        let mut expected_response = header_map(ANSWERED);
        replay(
            &j["responseHeaders"],
            &mut expected_response,
            mesh_match::inline::is_response_inline,
        );
        let (upstream, response) = rt.block_on(through_the_layer(path));
        assert_eq!(compared(&upstream), compared(&expected_request), "{path}");
        assert_eq!(compared(&response), compared(&expected_response), "{path}");
    }
}

/// The orders themselves (measured with Envoy 1.40, see `difftest/tests/decisions.rs`):
/// one list for a single destination (removes, then sets with the destination's last,
/// then adds); the destination's list then the route's for a weighted split.
#[test]
fn meshctl_lists_operations_in_envoys_order() {
    let (_dir, file) = config("order", CONFIG);
    let f = file.display().to_string();
    let ops = |path: &str| -> Vec<String> {
        let j = json(&[
            "route",
            "-f",
            &f,
            "-o",
            "json",
            &format!("http://shop{path}"),
        ]);
        j["requestHeaders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                format!(
                    "{} {} {}",
                    o["op"].as_str().unwrap(),
                    o["name"].as_str().unwrap(),
                    o["value"].as_str().unwrap_or("")
                )
                .trim_end()
                .to_owned()
            })
            .collect()
    };
    assert_eq!(
        ops("/single"),
        [
            "remove x-d",
            "remove x-c",
            "set x-a route",
            "set x-a dest",
            "set x-c 2",
            "add x-b same",
            "add x-c 1",
            "add user-agent more",
            "add x-b same",
        ]
    );
    assert_eq!(
        ops("/weighted"),
        [
            "set x-a dest",
            "add x-b dest",
            "add x-c dest",
            "remove x-b",
            "set x-a route",
        ]
    );
}

/// A redirect, a prefix rewrite and a retry policy, for the agreement of their reports.
const ACTIONS: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop]
  http:
  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, authority: moved.example, redirectCode: 301}
  - match: [{uri: {prefix: /api/}}]
    rewrite: {uri: /v2/}
    retries: {attempts: 3, retryOn: 5xx}
    route: [{destination: {host: shop}}]
"#;

/// What the layer did with `path` under [`ACTIONS`]: the response's status and `Location`,
/// and the path and query of every attempt its backend received (it answers 503).
async fn actions_through_the_layer(path: &str) -> (u16, Option<String>, Vec<String>) {
    let resources = mesh_model::load_str(ACTIONS).unwrap();
    let table = RouteTable::compile(
        &resources,
        &Identity::sidecar("default"),
        &CompileOptions::default(),
    )
    .unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    let backend = service_fn(move |req: Request<BoxBody>| {
        let target = req.uri().path_and_query().map_or("", |p| p.as_str());
        record.lock().unwrap().push(target.to_owned());
        async move {
            let mut r = Response::new(body::empty());
            *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
            Ok::<_, Infallible>(r)
        }
    });
    let backends = Backends::new().with(
        "shop.default.svc.cluster.local",
        Endpoint::new("shop-0", [("version", "v1")], backend),
    );
    let inner = service_fn(|_req: Request<BoxBody>| async {
        Ok::<_, Infallible>(Response::new(body::empty()))
    });
    let svc = tower::Layer::layer(&MeshLayer::new(table, backends), inner);
    let req = Request::get(path).header("host", "shop");
    let resp = svc.oneshot(req.body(body::empty()).unwrap()).await.unwrap();
    let (parts, b) = resp.into_parts();
    let _ = b.collect().await;
    let location = parts
        .headers
        .get(http::header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let attempts = seen.lock().unwrap().clone();
    (parts.status.as_u16(), location, attempts)
}

/// `meshctl route` and the layer agree on what they both compute from the decision (one
/// function each in mesh-route: `Decision::location`, `Decision::upstream_path`, the rule's
/// checked `RetryPolicy`): the redirect's `Location` meshctl reports is the one the layer
/// answers; the rewritten path and query it reports is what every attempt of the layer
/// sends; the layer makes `1 + attempts` attempts (`retryOn: 5xx`, a backend answering 503).
#[test]
fn meshctl_reports_the_location_path_and_retries_the_layer_executes() {
    let (_dir, file) = config("agreement-actions", ACTIONS);
    let f = file.display().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let j = json(&["route", "-f", &f, "-o", "json", "http://shop/old/page?x=1"]);
    assert_eq!(j["outcome"], "redirect", "{j}");
    let (status, location, attempts) = rt.block_on(actions_through_the_layer("/old/page?x=1"));
    assert_eq!(status, 301);
    assert!(attempts.is_empty());
    assert_eq!(location.as_deref(), Some("http://moved.example/new?x=1"));
    assert_eq!(location.as_deref(), j["location"].as_str(), "{j}");

    let j = json(&["route", "-f", &f, "-o", "json", "http://shop/api/items?q=1"]);
    assert_eq!(j["outcome"], "route", "{j}");
    let (status, _, attempts) = rt.block_on(actions_through_the_layer("/api/items?q=1"));
    assert_eq!(status, 503);
    let reported = j["path"].as_str().expect("a path");
    assert_eq!(reported, "/v2/items?q=1");
    assert!(attempts.iter().all(|p| p == reported), "{attempts:?}");
    let retries = j["retries"]["attempts"].as_u64().expect("attempts") as usize;
    assert_eq!(retries, 3);
    assert_eq!(attempts.len(), 1 + retries, "{attempts:?}");
}
