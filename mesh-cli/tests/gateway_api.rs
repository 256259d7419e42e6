//! `meshctl` on Gateway API input: `route --gateway NS/NAME` for a Gateway API Gateway (the
//! URL's port picks the listener), `route` as a sidecar for mesh routes (GAMMA), and
//! `validate` with the conditions a controller would write into status.

mod common;

use common::{code, config, json, meshctl, stderr, stdout};
use serde_json::{Value, json};

const CONFIG: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web-v1, namespace: infra}
spec: {selector: {app: web, version: v1}, ports: [{name: http, port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-v2, namespace: infra}
spec: {selector: {app: web, version: v2}, ports: [{name: http, port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: apps}
spec: {selector: {app: echo}, ports: [{name: http, port: 80}, {name: alt, port: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - {name: http, port: 80, protocol: HTTP}
  - name: shop
    port: 8080
    protocol: HTTP
    hostname: "*.example.com"
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: http}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-route, value: web}]}
    - type: RequestMirror
      requestMirror:
        backendRef: {name: web-v2, port: 8080}
        fraction: {numerator: 1, denominator: 4}
    timeouts: {request: 10s, backendRequest: 2s}
    backendRefs:
    - name: web-v1
      port: 8080
      weight: 3
      filters:
      - type: ResponseHeaderModifier
        responseHeaderModifier: {add: [{name: x-backend, value: v1}]}
    - {name: web-v2, port: 8080, weight: 1}
  - matches: [{path: {type: Exact, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {hostname: new.example.org}
  - matches: [{path: {type: PathPrefix, value: /broken}}]
    backendRefs: [{name: missing, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /cors}}]
    filters:
    - type: CORS
      cors: {allowOrigins: ["https://app.example"], allowMethods: [GET], maxAge: 60}
    backendRefs: [{name: web-v1, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: infra}
spec:
  parentRefs: [{name: gw, port: 8080}]
  hostnames: [shop.example.com]
  rules:
  - backendRefs: [{name: web-v2, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: grpc, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [grpc.example.com]
  rules:
  - matches: [{method: {service: echo.Echo, method: Hello}}]
    backendRefs: [{name: web-v1, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo-mesh, namespace: apps}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
  rules:
  - filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: {set: [{name: x-mesh, value: "yes"}]}
    backendRefs: [{name: echo, port: 80}]
"#;

fn route(file: &std::path::Path, args: &[&str]) -> Value {
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

const V1: &str = "web-v1.infra.svc.cluster.local";
const V2: &str = "web-v2.infra.svc.cluster.local";

/// The `name: value` pairs of the operations of `kind` (`set`, `add`) in a list of header
/// operations as `meshctl route -o json` prints it (`[{op, name, value}]`, in order).
fn ops(list: &Value, kind: &str) -> Value {
    let mut out = serde_json::Map::new();
    for o in list.as_array().into_iter().flatten() {
        if o["op"] == kind {
            out.insert(
                o["name"].as_str().unwrap_or("").to_owned(),
                o["value"].clone(),
            );
        }
    }
    Value::Object(out)
}

/// A Gateway API rule: path-separated prefix rewrite, request header set, the chosen
/// backendRef's filter in the response operations, weights, a mirror with its fraction as
/// a percentage, `timeouts.request` as the timeout and `timeouts.backendRequest` as the
/// per-try timeout; the resource is named with its kind.
#[test]
fn gateway_api_rule_in_json() {
    let (_dir, file) = config("gwapi-rule", CONFIG);
    let j = route(
        &file,
        &["--gateway", "infra/gw", "http://example.com/api/items?x=1"],
    );
    assert_eq!(j["outcome"], "route", "{j:#}");
    assert_eq!(j["resource"], "HTTPRoute infra/web");
    assert_eq!(j["virtualService"], "infra/web");
    assert_eq!(
        j["destination"],
        json!({"host": V1, "subset": null, "port": 8080})
    );
    assert_eq!(j["weights"][0]["weight"], 75.0);
    assert_eq!(j["weights"][1]["host"], V2);
    assert_eq!(j["weights"][1]["weight"], 25.0);
    assert_eq!(j["path"], "/v2/items?x=1");
    assert_eq!(j["authority"], "example.com");
    assert_eq!(ops(&j["requestHeaders"], "set"), json!({"x-route": "web"}));
    assert_eq!(
        ops(&j["responseHeaders"], "add"),
        json!({"x-backend": "v1"})
    );
    assert_eq!(j["timeout"], "10s");
    assert_eq!(j["retries"]["perTryTimeout"], "2s");
    assert_eq!(
        j["mirrors"],
        json!([{"host": V2, "subset": null, "port": 8080, "percent": 25.0}])
    );
    // `/apiary` is not under the path-separated prefix `/api`.
    let j = route(
        &file,
        &["--gateway", "infra/gw", "http://example.com/apiary"],
    );
    assert_eq!(j["outcome"], "noRoute");
}

/// The URL's port picks the listener: port 8080 serves only `*.example.com` hosts.
#[test]
fn url_port_picks_the_listener() {
    let (_dir, file) = config("gwapi-port", CONFIG);
    let j = route(
        &file,
        &["--gateway", "infra/gw", "http://shop.example.com:8080/"],
    );
    assert_eq!(j["resource"], "HTTPRoute infra/shop");
    assert_eq!(j["destination"]["host"], V2);
    let j = route(&file, &["--gateway", "infra/gw", "http://other.org:8080/"]);
    assert_eq!(j["outcome"], "noRoute");
    let j = route(
        &file,
        &[
            "--gateway",
            "infra/gw",
            "-H",
            "Host: shop.example.com",
            "http://example.com/api",
        ],
    );
    assert_eq!(j["resource"], "HTTPRoute infra/web");
}

/// A redirect is 302 with an absolute Location; an unresolved backend answers 500 as a
/// direct response.
#[test]
fn redirect_and_unresolved_backend() {
    let (_dir, file) = config("gwapi-redirect", CONFIG);
    let j = route(
        &file,
        &["--gateway", "infra/gw", "http://example.com/old?q=1"],
    );
    assert_eq!(j["outcome"], "redirect");
    assert_eq!(j["status"], 302);
    assert_eq!(j["location"], "http://new.example.org/old?q=1");
    let j = route(
        &file,
        &["--gateway", "infra/gw", "http://example.com/broken"],
    );
    assert_eq!(j["outcome"], "directResponse");
    assert_eq!(j["status"], 500);
}

/// A CORS preflight is a direct response with the `access-control-*` headers; a routed
/// request from the allowed origin carries `access-control-allow-origin`.
#[test]
fn cors_preflight_is_a_direct_response() {
    let (_dir, file) = config("gwapi-cors", CONFIG);
    let j = route(
        &file,
        &[
            "--gateway",
            "infra/gw",
            "-X",
            "OPTIONS",
            "-H",
            "Origin: https://app.example",
            "-H",
            "Access-Control-Request-Method: GET",
            "http://example.com/cors",
        ],
    );
    assert_eq!(j["outcome"], "directResponse", "{j:#}");
    assert_eq!(j["status"], 200);
    let set = &ops(&j["responseHeaders"], "set");
    assert_eq!(set["access-control-allow-origin"], "https://app.example");
    assert_eq!(set["access-control-allow-methods"], "GET");
    assert_eq!(set["access-control-max-age"], "60");
    let j = route(
        &file,
        &[
            "--gateway",
            "infra/gw",
            "-H",
            "Origin: https://app.example",
            "http://example.com/cors",
        ],
    );
    assert_eq!(j["outcome"], "route");
    assert_eq!(
        ops(&j["responseHeaders"], "set")["access-control-allow-origin"],
        "https://app.example"
    );
}

/// gRPC: `POST /<service>/<Method>` with `application/grpc` matches a GRPCRoute; another
/// method is `noRoute`.
#[test]
fn grpc_requests() {
    let (_dir, file) = config("gwapi-grpc", CONFIG);
    let grpc = |path: &str| {
        route(
            &file,
            &[
                "--gateway",
                "infra/gw",
                "-X",
                "POST",
                "-H",
                "content-type: application/grpc",
                &format!("http://grpc.example.com{path}"),
            ],
        )
    };
    let j = grpc("/echo.Echo/Hello");
    assert_eq!(j["resource"], "GRPCRoute infra/grpc");
    assert_eq!(j["destination"]["host"], V1);
    assert_eq!(grpc("/echo.Echo/Other")["outcome"], "noRoute");
}

/// Without `--gateway`, `--namespace`/`--labels` is a sidecar: a mesh route (parentRef a
/// Service, port 80) applies to requests to that Service on port 80; port 8080 takes the
/// Service's default route.
#[test]
fn sidecar_mesh_routes() {
    let (_dir, file) = config("gwapi-mesh", CONFIG);
    let j = route(
        &file,
        &[
            "--namespace",
            "apps",
            "--labels",
            "app=client",
            "http://echo/",
        ],
    );
    assert_eq!(j["resource"], "HTTPRoute apps/echo-mesh");
    assert_eq!(ops(&j["responseHeaders"], "set"), json!({"x-mesh": "yes"}));
    let j = route(&file, &["--namespace", "apps", "http://echo:8080/"]);
    assert_eq!(j["outcome"], "route");
    assert_eq!(j["resource"], Value::Null);
    assert_eq!(j["destination"]["host"], "echo.apps.svc.cluster.local");
    assert_eq!(j["destination"]["port"], 8080);
}

/// `validate` reports a CRD violation as an error (exit 1) and the status a controller
/// would write as warnings coded with the condition (exit 0 when there is nothing else).
#[test]
fn validate_reports_crd_errors_and_conditions() {
    let (_dir, file) = config("gwapi-validate", CONFIG);
    let f = file.display().to_string();
    let o = meshctl(&["validate", &f]);
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}{}", stderr(&o));
    assert!(
        out.contains("HTTPRoute infra/web  spec.rules[2].backendRefs[0]: [ResolvedRefs=False] BackendNotFound: Service infra/missing is not in the input"),
        "{out}"
    );
    let bad = CONFIG.replace("type: Exact, value: /old", "type: Exact, value: old");
    let (_dir2, file2) = config("gwapi-validate-bad", &bad);
    let o = meshctl(&["validate", &file2.display().to_string()]);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    assert!(
        out.contains("spec.rules[1].matches[0].path: Invalid value: \"object\": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"),
        "{out}"
    );
}
