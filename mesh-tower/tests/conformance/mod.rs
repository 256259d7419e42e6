//! An offline runner of the Gateway API conformance suite's routing tests: the manifests of
//! a test are loaded unchanged, compiled for the Gateway (or the mesh client's sidecar) the
//! test sends to, and every request goes through the real layer ([`mesh_tower::MeshLayer`])
//! to in-process echo backends that behave as the suite's `echo-basic` server: they answer
//! with the request they saw as JSON (path with query, Host, method, headers, namespace,
//! pod), honour `?delay=`, and set the response headers `X-Echo-Set-Header` asks for. The
//! comparison is the suite's own (`CompareRoundTrip` for Gateways, `compareRequest` for
//! mesh clients), including its defaults.

#![allow(dead_code, unreachable_pub)]

pub mod data;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use data::{Case, Client, Expect, Test};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use mesh_load::LoadFiles as _;
use mesh_model::Resources;
use mesh_route::{CompileOptions, Identity, RouteTable};
use mesh_tower::body::{self, BoxBody};
use mesh_tower::{Backends, Endpoint, MeshLayer, MeshService, Options};
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceExt, service_fn};

/// The data directory.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/gateway-api")
}

/// Every test of the data directory, by name.
pub fn tests() -> Vec<Test> {
    let mut out = Vec::new();
    let dir = data_dir().join("cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the cases directory")
        .map(|e| e.expect("an entry").path())
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("a case file");
        let t: Test =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        out.push(t);
    }
    out
}

/// The inner service of a layer (requests to hosts no resource knows, such as pod IPs).
type Inner = BoxCloneSyncService<Request<BoxBody>, Response<BoxBody>, Infallible>;

/// A pod of an echo Deployment.
#[derive(Clone, Debug)]
struct Pod {
    name: String,
    namespace: String,
    ip: String,
    labels: BTreeMap<String, String>,
}

/// One request an echo pod received.
#[derive(Clone, Debug)]
pub struct Logged {
    pub pod: String,
    pub namespace: String,
    pub path: String,
}

/// The resources of one test and the echo pods of its Deployments.
pub struct World {
    pub resources: Resources,
    pods: Vec<Pod>,
    pub log: Arc<Mutex<Vec<Logged>>>,
}

/// Loads the base manifests (and the mesh ones in mesh mode) and the test's own.
pub fn world(t: &Test) -> Result<World, String> {
    let dir = data_dir();
    let mut paths = vec![dir.join("base/manifests.yaml")];
    if t.mode == "mesh" {
        paths.push(dir.join("mesh/manifests.yaml"));
    }
    for m in &t.manifests {
        paths.push(dir.join(m));
    }
    let loaded = mesh_model::Loader::new().load_paths(&paths);
    if let Some(e) = loaded.errors.first() {
        return Err(format!("the manifests do not load: {e}"));
    }
    let report = mesh_model::validate::validate(&loaded.resources);
    if let Some(e) = report.errors().next() {
        return Err(format!("the manifests do not validate: {e}"));
    }
    let resources = loaded.resources;
    let mut pods = Vec::new();
    for (i, w) in resources
        .kubernetes
        .workloads
        .iter()
        .filter(|w| w.kind == "Deployment")
        .enumerate()
    {
        pods.push(Pod {
            name: format!("{}-7c9d5b-x{i}", w.name),
            namespace: w.namespace.clone(),
            ip: format!("10.244.{}.{}", i / 200, 10 + i % 200),
            labels: w.pod_labels.clone(),
        });
    }
    Ok(World {
        resources,
        pods,
        log: Arc::new(Mutex::new(Vec::new())),
    })
}

/// An echo pod as a tower service: answers with the request it saw, as `echo-basic` does.
fn echo(pod: Pod, log: Arc<Mutex<Vec<Logged>>>) -> Inner {
    BoxCloneSyncService::new(service_fn(move |req: Request<BoxBody>| {
        let pod = pod.clone();
        let log = log.clone();
        async move {
            let path = req
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            if let Ok(mut l) = log.lock() {
                l.push(Logged {
                    pod: pod.name.clone(),
                    namespace: pod.namespace.clone(),
                    path: path.clone(),
                });
            }
            if let Some(d) = query_param(&path, "delay").and_then(go_duration) {
                tokio::time::sleep(d).await;
            }
            let host = req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
                .or_else(|| req.uri().authority().map(|a| a.to_string()))
                .unwrap_or_default();
            let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (k, v) in req.headers() {
                if k == http::header::HOST {
                    continue;
                }
                headers
                    .entry(canonical(k.as_str()))
                    .or_default()
                    .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
            }
            let body = serde_json::json!({
                "path": path,
                "host": host,
                "method": req.method().as_str(),
                "headers": headers,
                "namespace": pod.namespace,
                "pod": pod.name,
            });
            let mut resp = Response::new(body::full(Bytes::from(body.to_string())));
            let h = resp.headers_mut();
            for set in req.headers().get_all("x-echo-set-header") {
                for kv in String::from_utf8_lossy(set.as_bytes()).split(',') {
                    let Some((name, value)) = kv.trim().split_once(':') else {
                        continue;
                    };
                    let (Ok(name), Ok(value)) = (
                        http::HeaderName::from_bytes(name.as_bytes()),
                        HeaderValue::from_str(value.trim()),
                    ) else {
                        continue;
                    };
                    match h.get(&name).cloned() {
                        Some(old) => {
                            let joined = format!(
                                "{},{}",
                                String::from_utf8_lossy(old.as_bytes()),
                                value.to_str().unwrap_or_default()
                            );
                            if let Ok(v) = HeaderValue::from_str(&joined) {
                                h.insert(name, v);
                            }
                        }
                        None => {
                            h.insert(name, value);
                        }
                    }
                }
            }
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if req
                .headers()
                .get(http::header::CONTENT_TYPE)
                .is_some_and(|c| c.as_bytes().starts_with(b"application/grpc"))
            {
                h.insert("grpc-status", HeaderValue::from_static("0"));
            }
            Ok::<_, Infallible>(resp)
        }
    }))
}

/// `X-Header-Set` as Go's `http.CanonicalHeaderKey` writes it.
fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

fn query_param<'a>(path: &'a str, key: &str) -> Option<&'a str> {
    let q = path.split_once('?')?.1;
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn go_duration(s: &str) -> Option<Duration> {
    mesh_model::Duration::parse(s).ok().and_then(|d| d.to_std())
}

impl World {
    /// Backends: every Service of the input, with the echo pods its selector selects.
    fn backends(&self) -> Backends {
        let mut b = Backends::new();
        for s in &self.resources.kubernetes.services {
            if s.selector.is_empty() {
                continue;
            }
            for p in self.pods.iter().filter(|p| {
                p.namespace == s.namespace
                    && s.selector.iter().all(|(k, v)| p.labels.get(k) == Some(v))
            }) {
                b.add(
                    &s.fqdn(),
                    Endpoint::new(
                        p.name.clone(),
                        p.labels.clone(),
                        echo(p.clone(), self.log.clone()),
                    ),
                );
            }
        }
        b
    }

    /// The inner service: requests to a pod IP reach that pod; anything else is 502.
    fn inner(&self) -> Inner {
        let pods: Vec<(Pod, Inner)> = self
            .pods
            .iter()
            .map(|p| (p.clone(), echo(p.clone(), self.log.clone())))
            .collect();
        BoxCloneSyncService::new(service_fn(move |req: Request<BoxBody>| {
            let host = req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(|h| mesh_match::authority_host(h).to_owned())
                .unwrap_or_default();
            let pod = pods
                .iter()
                .find(|(p, _)| p.ip == host)
                .map(|(_, s)| s.clone());
            // Boxed where the types are concrete (rust-lang/rust#102211).
            let fut: std::pin::Pin<
                Box<dyn Future<Output = Result<Response<BoxBody>, Infallible>> + Send>,
            > = match pod {
                Some(s) => Box::pin(s.oneshot(req)),
                None => Box::pin(async {
                    let mut r = Response::new(body::full("no such host"));
                    *r.status_mut() = StatusCode::BAD_GATEWAY;
                    Ok(r)
                }),
            };
            fut
        }))
    }

    /// The IP of the first pod of a Deployment.
    fn pod_ip(&self, deployment: &str) -> String {
        self.pods
            .iter()
            .find(|p| p.name.starts_with(&format!("{deployment}-7c9d5b")))
            .map(|p| p.ip.clone())
            .unwrap_or_default()
    }

    /// The service that plays a proxy: a Gateway on a port, or a mesh client's sidecar.
    pub fn proxy(
        &self,
        identity: &Identity,
        port: Option<u16>,
        deleted: &[data::Deleted],
    ) -> Result<Proxy, String> {
        let mut resources = self.resources.clone();
        for d in deleted {
            let keep = |ns: &str, name: &str| !(ns == d.namespace && name == d.name);
            match d.kind.as_str() {
                "ReferenceGrant" => resources
                    .gateway_api
                    .reference_grants
                    .retain(|g| keep(g.namespace(), g.name())),
                "HTTPRoute" => resources
                    .gateway_api
                    .http_routes
                    .retain(|g| keep(g.namespace(), g.name())),
                other => return Err(format!("deleting a {other} is not supported")),
            }
        }
        let table = RouteTable::compile(&resources, identity, &CompileOptions::default())
            .map_err(|e| e.to_string())?;
        let options = Options {
            listener_port: port,
            seed: Some(7),
            ..Options::default()
        };
        let layer = MeshLayer::with_options(table, self.backends(), options);
        Ok(Proxy {
            svc: layer.layer(self.inner()),
        })
    }
}

/// A layer around the inner service.
#[derive(Clone)]
pub struct Proxy {
    svc: MeshService<Inner>,
}

/// What came back, and the request the echo saw (empty unless the answer was an echo).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub captured: Captured,
}

/// The request an echo pod reported.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Captured {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub headers: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub pod: String,
}

impl Proxy {
    /// Sends a request and reads the reply.
    pub async fn send(&self, req: Request<BoxBody>) -> Reply {
        let method = req.method().as_str().to_owned();
        let resp = match self.svc.clone().oneshot(req).await {
            Ok(r) => r,
            Err(e) => match e {},
        };
        let (parts, b) = resp.into_parts();
        let bytes = b.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
        let json = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|c| c == "application/json");
        let captured = if json {
            serde_json::from_slice(&bytes).unwrap_or_default()
        } else {
            Captured {
                method,
                ..Captured::default()
            }
        };
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            captured,
        }
    }
}

/// The address the suite's Gateways get (TEST-NET-1): requests without a Host carry it.
pub const GATEWAY_ADDRESS: &str = "192.0.2.10";

/// The listener port of a case: its own, else the Host's port, else the scheme's default.
pub fn case_port(c: &Case) -> u16 {
    if let Some(p) = c.port {
        return p;
    }
    if let Some(h) = &c.request.host
        && let Some(p) = mesh_match::authority_port(h)
    {
        return p;
    }
    if c.scheme.as_deref() == Some("https") {
        443
    } else {
        80
    }
}

/// Builds the request of a case, as the suite's client sends it (a mesh client's `grpc`
/// protocol calls the Istio echo's `proto.EchoTestService/Echo`).
pub fn http_request(w: &World, c: &Case, port: u16) -> Request<BoxBody> {
    if c.request.protocol.as_deref() == Some("grpc") {
        let g = data::Grpc {
            service: "proto.EchoTestService".into(),
            method: "Echo".into(),
            metadata: BTreeMap::new(),
            authority: c.request.host.clone(),
        };
        return grpc_request(&g, port);
    }
    let scheme = c.scheme.as_deref().unwrap_or("http");
    let host = match &c.request.host {
        Some(h) if !h.is_empty() => substitute(w, h),
        _ if c.client.is_some() => "echo".to_owned(),
        _ if (scheme == "http" && port == 80) || (scheme == "https" && port == 443) => {
            GATEWAY_ADDRESS.to_owned()
        }
        _ => format!("{GATEWAY_ADDRESS}:{port}"),
    };
    let path = c.request.path.clone().unwrap_or_else(|| "/".to_owned());
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    let uri = if scheme == "https" {
        format!("https://{host}{path}")
    } else {
        path
    };
    let method = c.request.method.as_deref().unwrap_or("GET");
    let mut b = Request::builder().method(method).uri(uri);
    let mut host_header = host.clone();
    for (k, v) in &c.request.headers {
        if k.eq_ignore_ascii_case("host") {
            host_header = v.clone();
            continue;
        }
        b = b.header(k.as_str(), v.as_str());
    }
    b = b.header(http::header::HOST, host_header);
    let set: Vec<String> = c
        .backend_set_response_headers
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    b = b.header("X-Echo-Set-Header", set.join(","));
    let body = match &c.request.body {
        Some(s) => body::full(Bytes::from(s.clone())),
        None => body::empty(),
    };
    b.body(body).expect("a valid request")
}

/// Builds a gRPC request (`POST /<service>/<method>`, `application/grpc`).
pub fn grpc_request(g: &data::Grpc, port: u16) -> Request<BoxBody> {
    let host = match &g.authority {
        Some(a) => a.clone(),
        None if port == 80 => GATEWAY_ADDRESS.to_owned(),
        None => format!("{GATEWAY_ADDRESS}:{port}"),
    };
    let mut b = Request::builder()
        .method("POST")
        .uri(format!("/{}/{}", g.service, g.method))
        .header(http::header::HOST, host)
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header("te", "trailers");
    for (k, v) in &g.metadata {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(body::empty()).expect("a valid request")
}

fn substitute(w: &World, s: &str) -> String {
    let mut out = s.to_owned();
    while let Some(start) = out.find("{POD_IP:") {
        let Some(end) = out[start..].find('}') else {
            break;
        };
        let dep = out[start + 8..start + end].to_owned();
        out.replace_range(start..start + end + 1, &w.pod_ip(&dep));
    }
    out
}

/// The gRPC status of a reply: `grpc-status`, else the HTTP status mapped as gRPC clients
/// map it (404 is UNIMPLEMENTED, 429/502/503/504 UNAVAILABLE, ...).
pub fn grpc_code(r: &Reply) -> &'static str {
    if let Some(s) = r.headers.get("grpc-status").and_then(|v| v.to_str().ok()) {
        return match s {
            "0" => "OK",
            "1" => "Canceled",
            "2" => "Unknown",
            "4" => "DeadlineExceeded",
            "5" => "NotFound",
            "7" => "PermissionDenied",
            "12" => "Unimplemented",
            "13" => "Internal",
            "14" => "Unavailable",
            "16" => "Unauthenticated",
            _ => "Unknown",
        };
    }
    match r.status {
        400 => "Internal",
        401 => "Unauthenticated",
        403 => "PermissionDenied",
        404 => "Unimplemented",
        429 | 502 | 503 | 504 => "Unavailable",
        _ => "Unknown",
    }
}

fn header_joined(h: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<String> = h
        .get_all(name.to_ascii_lowercase().as_str())
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// The suite's `CompareRoundTrip` (Gateway requests).
pub fn compare_gateway(c: &Case, r: &Reply) -> Result<(), String> {
    let e = &c.expect;
    let codes = if e.status.is_empty() {
        vec![200]
    } else {
        e.status.clone()
    };
    if !codes.contains(&r.status) {
        return Err(format!(
            "expected status one of {codes:?}, got {}",
            r.status
        ));
    }
    if r.status == 200 || r.status == 204 {
        let default = data::ExpectRequest {
            host: c.request.host.clone(),
            method: c.request.method.clone(),
            path: c.request.path.clone(),
            headers: if c.request.headers.is_empty() {
                None
            } else {
                Some(c.request.headers.clone())
            },
            ..data::ExpectRequest::default()
        };
        let want = e.request.as_ref().unwrap_or(&default);
        let cap = &r.captured;
        if let Some(h) = want.host.as_deref().filter(|h| !h.is_empty())
            && h != cap.host
        {
            return Err(format!("expected host {h}, got {}", cap.host));
        }
        let path = want.path.clone().unwrap_or_default();
        if path != cap.path {
            return Err(format!("expected path {path:?}, got {:?}", cap.path));
        }
        let method = want
            .method
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "GET".into());
        if method != cap.method {
            return Err(format!("expected method {method}, got {}", cap.method));
        }
        let ns = e.namespace.clone().unwrap_or_default();
        if ns != cap.namespace {
            return Err(format!(
                "expected namespace {ns:?}, got {:?}",
                cap.namespace
            ));
        }
        let lower: BTreeMap<String, &Vec<String>> = cap
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        if let Some(hs) = &want.headers {
            for (k, v) in hs {
                match lower.get(&k.to_ascii_lowercase()) {
                    None => return Err(format!("expected request header {k} to be set")),
                    Some(got) if got.join(",") != *v => {
                        return Err(format!(
                            "expected request header {k}: {v}, got {}",
                            got.join(",")
                        ));
                    }
                    _ => {}
                }
            }
        }
        if let Some(resp) = &e.response {
            check_response_headers(resp, &r.headers)?;
        }
        for k in &want.absent_headers {
            if lower.contains_key(&k.to_ascii_lowercase()) {
                return Err(format!("expected request header {k} to be absent"));
            }
        }
        let backend = e.backend.clone().unwrap_or_default();
        if !cap.pod.starts_with(&backend) {
            return Err(format!("expected pod {backend}*, got {:?}", cap.pod));
        }
    } else if (300..400).contains(&r.status) {
        let Some(want) = &e.redirect else {
            return Ok(());
        };
        let loc = r
            .headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or("a redirect without Location")?;
        let (scheme, rest) = loc.split_once("://").ok_or("a relative Location")?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let path = path.split('?').next().unwrap_or("");
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (h, p),
            _ => (authority, ""),
        };
        let want_host = want.host.clone().unwrap_or_else(|| host.to_owned());
        if want_host != host {
            return Err(format!(
                "expected redirect host {want_host:?}, got {host:?} ({loc})"
            ));
        }
        match want.port.as_deref() {
            None | Some("") => {
                if scheme == "http" && !matches!(port, "" | "80") {
                    return Err(format!("expected port 80 or none, got {port:?} ({loc})"));
                }
                if scheme == "https" && !matches!(port, "" | "443") {
                    return Err(format!("expected port 443 or none, got {port:?} ({loc})"));
                }
            }
            Some(p) if p != port => {
                return Err(format!(
                    "expected redirect port {p:?}, got {port:?} ({loc})"
                ));
            }
            _ => {}
        }
        let want_scheme = want
            .scheme
            .clone()
            .unwrap_or_else(|| c.scheme.clone().unwrap_or_else(|| "http".into()));
        if want_scheme != scheme {
            return Err(format!(
                "expected redirect scheme {want_scheme}, got {scheme} ({loc})"
            ));
        }
        let req_path = c.request.path.clone().unwrap_or_else(|| "/".into());
        let want_path = want
            .path
            .clone()
            .unwrap_or_else(|| req_path.split('?').next().unwrap_or("/").to_owned());
        if want_path != path {
            return Err(format!(
                "expected redirect path {want_path:?}, got {path:?} ({loc})"
            ));
        }
    }
    Ok(())
}

fn check_response_headers(resp: &data::ExpectResponse, h: &HeaderMap) -> Result<(), String> {
    let strip = |s: &str| {
        if resp.ignore_whitespace {
            s.replace(' ', "")
        } else {
            s.to_owned()
        }
    };
    for (k, vals) in &resp.valid_header_values {
        let got = header_joined(h, k).ok_or_else(|| format!("expected response header {k}"))?;
        if !vals.iter().any(|v| strip(v) == strip(&got)) {
            return Err(format!(
                "expected response header {k} one of {vals:?}, got {got:?}"
            ));
        }
    }
    for (k, v) in &resp.headers {
        let got = header_joined(h, k).ok_or_else(|| format!("expected response header {k}"))?;
        if strip(v) != strip(&got) {
            return Err(format!("expected response header {k}: {v:?}, got {got:?}"));
        }
    }
    for k in &resp.absent_headers {
        if h.contains_key(k.to_ascii_lowercase().as_str()) {
            return Err(format!("expected response header {k} to be absent"));
        }
    }
    Ok(())
}

/// The suite's mesh `compareRequest` (requests from a mesh client).
pub fn compare_mesh(c: &Case, r: &Reply) -> Result<(), String> {
    let e = &c.expect;
    let codes = if e.status.is_empty() {
        vec![200]
    } else {
        e.status.clone()
    };
    if !codes.contains(&r.status) {
        return Err(format!(
            "expected status one of {codes:?}, got {}",
            r.status
        ));
    }
    let lower: BTreeMap<String, &Vec<String>> = r
        .captured
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    if let Some(want) = &e.request {
        if let Some(hs) = &want.headers {
            for (k, v) in hs {
                match lower.get(&k.to_ascii_lowercase()) {
                    None => return Err(format!("expected request header {k} to be set")),
                    Some(got) if got.join(",") != *v => {
                        return Err(format!(
                            "expected request header {k}: {v}, got {}",
                            got.join(",")
                        ));
                    }
                    _ => {}
                }
            }
        }
        for k in &want.absent_headers {
            if lower.contains_key(&k.to_ascii_lowercase()) {
                return Err(format!("expected request header {k} to be absent"));
            }
        }
    }
    if let Some(resp) = &e.response {
        for k in &resp.absent_headers {
            if r.headers.contains_key(k.to_ascii_lowercase().as_str()) {
                return Err(format!("expected response header {k} to be absent"));
            }
        }
        for (k, v) in &resp.headers {
            let got = r
                .headers
                .get(k.to_ascii_lowercase().as_str())
                .and_then(|x| x.to_str().ok())
                .unwrap_or("");
            if got != v {
                return Err(format!("expected response header {k}: {v:?}, got {got:?}"));
            }
        }
    }
    let backend = e.backend.clone().unwrap_or_default();
    if !r.captured.pod.starts_with(&backend) {
        return Err(format!("expected pod {backend}*, got {:?}", r.captured.pod));
    }
    Ok(())
}

/// The gRPC comparison: the code, and for OK the backend and namespace.
pub fn compare_grpc(e: &Expect, r: &Reply) -> Result<(), String> {
    let want = e.grpc_code.as_deref().unwrap_or("OK");
    let got = grpc_code(r);
    if want != got {
        return Err(format!(
            "expected gRPC code {want}, got {got} (HTTP {})",
            r.status
        ));
    }
    if got == "OK" {
        let backend = e.backend.clone().unwrap_or_default();
        if !r.captured.pod.starts_with(&backend) {
            return Err(format!("expected pod {backend}*, got {:?}", r.captured.pod));
        }
        let ns = e.namespace.clone().unwrap_or_default();
        if ns != r.captured.namespace {
            return Err(format!(
                "expected namespace {ns:?}, got {:?}",
                r.captured.namespace
            ));
        }
    }
    Ok(())
}

/// The identity of a client.
pub fn sidecar(c: &Client) -> Identity {
    Identity::Sidecar {
        namespace: c.namespace.clone(),
        labels: c.labels.clone(),
    }
}
