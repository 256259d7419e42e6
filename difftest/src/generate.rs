//! A seeded generator of worlds: Kubernetes Services, DestinationRules and VirtualServices
//! (with delegates) for a sidecar in `default`, and requests aimed at their rules.
//!
//! Everything random comes from one `StdRng` seeded by the caller, so a seed names a world.
//! Choices stay where a comparison is deterministic: fault and mirror percentages are 0 or
//! 100 (or absent), delays are 1 ms. Weighted splits are generated with any weights; the
//! comparison follows the destination Envoy (or the layer) picked, and checks that it is
//! one of the positive-weight destinations (see [`crate::compare`]).
//!
//! The resources cover every `HTTPMatchRequest` field a sidecar evaluates per request
//! (`uri` exact/prefix/regex, `scheme`, `method`, `authority`, `headers`,
//! `withoutHeaders`, `queryParams`, `ignoreUriCase`, `port`, `name`), rewrites (`uri`,
//! `uriRegexRewrite`, `authority`), redirects, direct responses, header operations at both
//! levels (with empty values and the `host` header), weights, `mirror`/`mirrors`, faults
//! (HTTP and gRPC aborts, delays), delegates and retries on status codes.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

/// The namespace of every resource and of the sidecar.
pub const NAMESPACE: &str = "default";

/// The services of every world: name and the subsets its DestinationRule defines.
pub const SERVICES: &[(&str, &[&str])] =
    &[("alpha", &["v1", "v2"]), ("beta", &["v1"]), ("gamma", &[])];

/// The port of every service.
pub const PORT: u16 = 80;

/// The request header carrying a request's id, which upstreams record (never matched or
/// operated on by generated configurations).
pub const ID_HEADER: &str = "x-difftest-id";

/// Header names requests carry and matches read.
pub const REQUEST_HEADERS: &[&str] = &[
    "x-user",
    "x-tag",
    "user-agent",
    "accept",
    "cookie",
    "authorization",
    "x-forwarded-proto",
];

/// Header names request operations write.
pub const REQUEST_OP_HEADERS: &[&str] = &[
    "x-user",
    "x-tag",
    "x-added",
    "user-agent",
    "accept",
    "cookie",
];

/// Header names response operations write.
pub const RESPONSE_OP_HEADERS: &[&str] = &[
    "x-resp",
    "x-tag",
    "content-type",
    "x-upstream",
    "cache-control",
];

const HEADER_VALUES: &[&str] = &[
    "jason",
    "a",
    "b",
    "Chrome",
    "v1",
    "a,b",
    "beta-tester",
    "x y",
];
const PATH_VALUES: &[&str] = &["/api", "/api/", "/reviews", "/static", "/Api", "/r"];
const PATH_REGEXES: &[&str] = &["/api/v[0-9]+", "/reviews/.*", ".*css", "/[a-z]+"];
const REQUEST_PATHS: &[&str] = &[
    "/",
    "/api",
    "/api/",
    "/api/v1",
    "/api/v12/x",
    "/apiary",
    "/API/v1",
    "/reviews",
    "/reviews/1",
    "/Reviews/2",
    "/static/a.css",
    "/r",
    "/grpc.Svc/Call",
    "/a/../api/v1",
    "/%61pi/v2",
    "//api",
    "/static/./b.css",
    "/api%2Fv1",
    "/api/%2e%2e/reviews",
    "/reviews/a%20b",
];
const QUERIES: &[&str] = &[
    "",
    "",
    "",
    "?q=1",
    "?q=2&q=1",
    "?flag",
    "?debug=true",
    "?q=1&debug=false",
    "?q=a%20b",
];
const BODIES: &[&str] = &["", "ok", "denied", "nope %x é", "{\"a\":1}", "moved"];

/// A generated request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Method.
    pub method: String,
    /// The Host header as sent.
    pub authority: String,
    /// Path and query as sent.
    pub target: String,
    /// Headers (repeats allowed), in order.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// `METHOD http://authority/target` and the headers, for reports.
    pub fn describe(&self) -> String {
        let mut s = format!("{} http://{}{}", self.method, self.authority, self.target);
        for (k, v) in &self.headers {
            s.push_str(&format!(" -H '{k}: {v}'"));
        }
        s
    }
}

/// A generated world: the configuration (as YAML text, as Kubernetes would read it) and
/// the requests to send.
#[derive(Clone, Debug)]
pub struct World {
    /// The seed it was generated from.
    pub seed: u64,
    /// Every resource, as multi-document YAML (each document is JSON, which is YAML).
    pub yaml: String,
    /// The requests.
    pub requests: Vec<Request>,
}

/// Generates the world of `seed` with `requests` requests.
pub fn world(seed: u64, requests: usize) -> World {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
        paths: Vec::new(),
        header_values: Vec::new(),
        targets: Vec::new(),
    };
    let mut docs = Vec::new();
    for (name, _) in SERVICES {
        docs.push(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"ports": [{"name": "http", "port": PORT, "protocol": "TCP"}], "selector": {"app": name}},
        }));
    }
    for (name, subsets) in SERVICES {
        if subsets.is_empty() {
            continue;
        }
        let subsets: Vec<Value> = subsets
            .iter()
            .map(|s| json!({"name": s, "labels": {*s: "on"}}))
            .collect();
        docs.push(json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"host": name, "subsets": subsets},
        }));
    }
    let mut delegates = 0;
    for (name, _) in SERVICES {
        if !g.chance(0.85) {
            continue;
        }
        let n_rules = g.rng.random_range(1..=4);
        let mut http = Vec::new();
        for i in 0..n_rules {
            let last = i + 1 == n_rules;
            if g.chance(0.15) {
                delegates += 1;
                let dname = format!("{name}-d{delegates}");
                let root = g.root_route(&dname);
                let leaves: Vec<Value> = (0..g.rng.random_range(1..=3))
                    .map(|_| g.route(name, root.get("match")))
                    .collect();
                for leaf in &leaves {
                    g.aim(name, root.get("match"), leaf.get("match"));
                }
                docs.push(json!({
                    "apiVersion": "networking.istio.io/v1",
                    "kind": "VirtualService",
                    "metadata": {"name": dname, "namespace": NAMESPACE},
                    "spec": {"http": leaves},
                }));
                http.push(root);
            } else {
                let mut r = g.route(name, None);
                if last && g.chance(0.4) {
                    if let Some(o) = r.as_object_mut() {
                        o.remove("match");
                    }
                }
                g.aim(name, None, r.get("match"));
                http.push(r);
            }
        }
        let host = if g.chance(0.5) {
            (*name).to_owned()
        } else {
            format!("{name}.{NAMESPACE}.svc.cluster.local")
        };
        docs.push(json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"hosts": [host], "http": http},
        }));
    }
    let yaml = docs
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n---\n");
    let requests = (0..requests).map(|_| g.request()).collect();
    World {
        seed,
        yaml,
        requests,
    }
}

struct Gen {
    rng: StdRng,
    /// Paths the configuration names, to aim requests at.
    paths: Vec<String>,
    /// Header values the configuration names.
    header_values: Vec<(String, String)>,
    /// Match blocks of each service's rules (a delegate's laid over its root's), to build
    /// requests that satisfy them.
    targets: Vec<(&'static str, serde_json::Map<String, Value>)>,
}

/// An example that a generated regex matches in full.
fn regex_example(regex: &str) -> &'static str {
    match regex {
        "/api/v[0-9]+" => "/api/v2",
        "/reviews/.*" => "/reviews/x",
        ".*css" => "/static/a.css",
        "/[a-z]+" => "/abc",
        "a|b" => "b",
        ".*Chrome.*" => "Mozilla Chrome 1",
        "[a-z]+" => "abc",
        "[0-9]+" => "7",
        "GET|PUT" => "PUT",
        "alpha(:80)?" => "alpha:80",
        _ => "x",
    }
}

impl Gen {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    fn string_match(&mut self, values: &[&str], regexes: &[&str], allow_empty: bool) -> Value {
        match self.rng.random_range(0..10) {
            0..=4 => json!({"exact": self.pick(values)}),
            5..=6 => {
                let v = *self.pick::<&str>(values);
                let cut = self.rng.random_range(1..=v.len().max(1));
                json!({"prefix": v.get(..cut).unwrap_or(v)})
            }
            7..=8 => json!({"regex": self.pick(regexes)}),
            _ if allow_empty => json!({}),
            _ => json!({"exact": self.pick(values)}),
        }
    }

    fn match_block(&mut self) -> Value {
        let mut m = serde_json::Map::new();
        let n = self.rng.random_range(1..=3);
        for _ in 0..n {
            match self.rng.random_range(0..11) {
                0..=2 => {
                    let uri = match self.rng.random_range(0..3) {
                        0 => json!({"exact": self.pick(PATH_VALUES)}),
                        1 => json!({"prefix": self.pick(PATH_VALUES)}),
                        _ => json!({"regex": self.pick(PATH_REGEXES)}),
                    };
                    for v in uri.as_object().into_iter().flat_map(|o| o.values()) {
                        if let Some(s) = v.as_str() {
                            self.paths.push(s.to_owned());
                        }
                    }
                    if uri.get("regex").is_none() && self.chance(0.3) {
                        m.insert("ignoreUriCase".into(), json!(true));
                    }
                    m.insert("uri".into(), uri);
                }
                3 => {
                    m.insert(
                        "scheme".into(),
                        json!({"exact": self.pick(&["http", "https"])}),
                    );
                }
                4 => {
                    let method = match self.rng.random_range(0..3) {
                        0 => json!({"exact": "GET"}),
                        1 => json!({"exact": "POST"}),
                        _ => json!({"regex": "GET|PUT"}),
                    };
                    m.insert("method".into(), method);
                }
                5 => {
                    let a = self.string_match(
                        &[
                            "alpha",
                            "alpha:80",
                            "beta",
                            "alpha.default.svc.cluster.local",
                        ],
                        &["alpha(:80)?", "[a-z]+"],
                        false,
                    );
                    m.insert("authority".into(), a);
                }
                6..=7 => {
                    let name = (*self.pick(REQUEST_HEADERS)).to_owned();
                    let sm = if name == "x-forwarded-proto" {
                        json!({"exact": self.pick(&["http", "https"])})
                    } else {
                        self.string_match(HEADER_VALUES, &["a|b", ".*Chrome.*", "[a-z]+"], true)
                    };
                    if let Some(v) = sm.get("exact").and_then(Value::as_str) {
                        self.header_values.push((name.clone(), v.to_owned()));
                    }
                    m.entry("headers")
                        .or_insert_with(|| json!({}))
                        .as_object_mut()
                        .map(|h| h.insert(name, sm));
                }
                8 => {
                    let name = (*self.pick(REQUEST_HEADERS)).to_owned();
                    let sm = self.string_match(HEADER_VALUES, &["a|b", "[a-z]+"], true);
                    m.entry("withoutHeaders")
                        .or_insert_with(|| json!({}))
                        .as_object_mut()
                        .map(|h| h.insert(name, sm));
                }
                9 => {
                    let (name, sm) = match self.rng.random_range(0..4) {
                        0 => ("q", json!({"exact": "1"})),
                        1 => ("q", json!({"regex": "[0-9]+"})),
                        2 => ("debug", json!({"exact": "true"})),
                        _ => ("flag", json!({})),
                    };
                    m.entry("queryParams")
                        .or_insert_with(|| json!({}))
                        .as_object_mut()
                        .map(|h| h.insert(name.to_owned(), sm));
                }
                _ => {
                    m.insert("port".into(), json!(if self.chance(0.8) { 80 } else { 81 }));
                }
            }
        }
        if self.chance(0.3) {
            m.insert(
                "name".into(),
                json!(format!("m{}", self.rng.random_range(0..9))),
            );
        }
        Value::Object(m)
    }

    fn matches(&mut self) -> Vec<Value> {
        (0..self.rng.random_range(1..=2))
            .map(|_| self.match_block())
            .collect()
    }

    fn destination(&mut self, host: &str) -> Value {
        let host = if self.chance(0.75) {
            host.to_owned()
        } else {
            (*self.pick(&["alpha", "beta", "gamma"])).to_owned()
        };
        let defined: &[&str] = SERVICES
            .iter()
            .find(|(n, _)| *n == host)
            .map_or(&[], |(_, subsets)| *subsets);
        let subset = match self.rng.random_range(0..20) {
            0..=8 => "",
            9..=17 if !defined.is_empty() => *self.pick(defined),
            9..=17 => "",
            // A subset no DestinationRule defines: Envoy has no cluster for it.
            _ => *self.pick(&["v2", "v3"]),
        };
        let mut d = json!({"host": host});
        if !subset.is_empty() {
            d["subset"] = json!(subset);
        }
        if self.chance(0.2) {
            d["port"] = json!({"number": PORT});
        }
        d
    }

    fn header_ops(&mut self, names: &[&str], allow_host: bool) -> Value {
        let mut ops = serde_json::Map::new();
        for op in ["set", "add"] {
            if self.chance(0.5) {
                let mut map = serde_json::Map::new();
                for _ in 0..self.rng.random_range(1..=2) {
                    let name = (*self.pick(names)).to_owned();
                    let value = if self.chance(0.15) {
                        String::new()
                    } else {
                        format!("{op}-{}", self.rng.random_range(0..3))
                    };
                    map.insert(name, json!(value));
                }
                ops.insert(op.into(), Value::Object(map));
            }
        }
        if allow_host && self.chance(0.1) {
            let (op, name) = *self.pick(&[("set", "host"), ("set", ":authority"), ("add", "host")]);
            ops.entry(op)
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .map(|m| m.insert(name.into(), json!("rewritten.example")));
        }
        if self.chance(0.4) {
            let removes: Vec<&str> = (0..self.rng.random_range(1..=2))
                .map(|_| *self.pick(names))
                .collect();
            ops.insert("remove".into(), json!(removes));
        }
        Value::Object(ops)
    }

    fn headers(&mut self, allow_host: bool) -> Value {
        let mut h = serde_json::Map::new();
        if self.chance(0.6) {
            h.insert(
                "request".into(),
                self.header_ops(REQUEST_OP_HEADERS, allow_host),
            );
        }
        if self.chance(0.5) {
            h.insert(
                "response".into(),
                self.header_ops(RESPONSE_OP_HEADERS, false),
            );
        }
        Value::Object(h)
    }

    fn fault(&mut self) -> Value {
        let percentage = |g: &mut Gen| -> Option<Value> {
            match g.rng.random_range(0..5) {
                0 => None,
                1 => Some(json!({"value": 0})),
                _ => Some(json!({"value": 100})),
            }
        };
        let mut f = serde_json::Map::new();
        if self.chance(0.2) {
            let mut d = json!({"fixedDelay": "0.001s"});
            if let Some(p) = percentage(self) {
                d["percentage"] = p;
            }
            f.insert("delay".into(), d);
        }
        if f.is_empty() || self.chance(0.8) {
            let mut a = if self.chance(0.6) {
                json!({"httpStatus": *self.pick(&[400, 403, 404, 418, 500, 503])})
            } else {
                json!({"grpcStatus": *self.pick(&["UNAVAILABLE", "NOT_FOUND", "PERMISSION_DENIED"])})
            };
            if let Some(p) = percentage(self) {
                a["percentage"] = p;
            }
            f.insert("abort".into(), a);
        }
        Value::Object(f)
    }

    /// A mirror destination: sometimes a host no Service declares.
    fn mirror_destination(&mut self, host: &str) -> Value {
        if self.chance(0.1) {
            json!({"host": "delta"})
        } else {
            self.destination(host)
        }
    }

    fn mirror_fields(&mut self, r: &mut serde_json::Map<String, Value>, host: &str) {
        if self.chance(0.5) {
            r.insert("mirror".into(), self.mirror_destination(host));
            match self.rng.random_range(0..4) {
                0 => {
                    r.insert("mirrorPercentage".into(), json!({"value": 0}));
                }
                1 => {
                    r.insert("mirrorPercentage".into(), json!({"value": 100}));
                }
                _ => {}
            }
        } else {
            let list: Vec<Value> = (0..self.rng.random_range(1..=2))
                .map(|_| {
                    let mut m = json!({"destination": self.mirror_destination(host)});
                    if self.chance(0.3) {
                        m["percentage"] = json!({"value": if self.chance(0.5) { 0 } else { 100 }});
                    }
                    m
                })
                .collect();
            r.insert("mirrors".into(), json!(list));
        }
    }

    fn retries(&mut self) -> Value {
        if self.chance(0.2) {
            return json!({"attempts": 0});
        }
        let mut r = json!({"attempts": self.rng.random_range(1..=2)});
        if self.chance(0.8) {
            r["retryOn"] = json!(*self.pick(&[
                "503",
                "5xx",
                "gateway-error",
                "retriable-status-codes,503",
                "connect-failure",
                "500,503"
            ]));
        }
        if self.chance(0.3) {
            r["perTryTimeout"] = json!("5s");
        }
        r
    }

    /// A route of `host`'s VirtualService (or, with `root_matches`, of a delegate under a
    /// root route with those matches).
    fn route(&mut self, host: &str, root_matches: Option<&Value>) -> Value {
        let mut r = serde_json::Map::new();
        if self.chance(0.3) {
            r.insert(
                "name".into(),
                json!(format!("r{}", self.rng.random_range(0..9))),
            );
        }
        let mut matches = if self.chance(0.85) {
            self.matches()
        } else {
            Vec::new()
        };
        // Under a root route, often narrow one of the root's own matches, so that the
        // merge keeps the route.
        if let Some(Value::Array(roots)) = root_matches {
            if !roots.is_empty() && self.chance(0.5) {
                let mut m = roots[self.rng.random_range(0..roots.len())].clone();
                if let Some(Value::String(p)) = m.pointer("/uri/prefix").cloned() {
                    m["uri"] = json!({"prefix": format!("{p}{}", self.pick(&["", "v1", "/x"]))});
                }
                matches = vec![m];
            }
        }
        if !matches.is_empty() {
            r.insert("match".into(), json!(matches));
        }
        let all_prefix = matches
            .iter()
            .all(|m| m.get("uri").is_none_or(|u| u.get("prefix").is_some()));
        match self.rng.random_range(0..20) {
            0..=2 => {
                let mut red = serde_json::Map::new();
                let mut any = false;
                if self.chance(0.4) {
                    if all_prefix && self.chance(0.5) {
                        red.insert(
                            "prefixRewrite".into(),
                            json!(*self.pick(&["/new", "/", "/v2/"])),
                        );
                    } else {
                        red.insert("uri".into(), json!(*self.pick(&["/moved", "/x?y=1"])));
                    }
                    any = true;
                }
                if self.chance(0.4) {
                    red.insert(
                        "authority".into(),
                        json!(*self.pick(&["other.example", "alpha:8080"])),
                    );
                    any = true;
                }
                if self.chance(0.3) {
                    red.insert("scheme".into(), json!(*self.pick(&["http", "https"])));
                    any = true;
                }
                match self.rng.random_range(0..6) {
                    0 => {
                        red.insert("port".into(), json!(*self.pick(&[80, 443, 8443])));
                        any = true;
                    }
                    1 => {
                        red.insert("derivePort".into(), json!("FROM_REQUEST_PORT"));
                        any = true;
                    }
                    _ => {}
                }
                if !any {
                    red.insert("uri".into(), json!("/moved"));
                }
                if self.chance(0.5) {
                    red.insert(
                        "redirectCode".into(),
                        json!(*self.pick(&[301, 302, 303, 307, 308])),
                    );
                }
                r.insert("redirect".into(), Value::Object(red));
                if self.chance(0.3) {
                    r.insert("headers".into(), self.headers(false));
                }
            }
            3..=5 => {
                let mut d = json!({"status": *self.pick(&[200, 201, 204, 301, 302, 307, 400, 403, 404, 418, 503])});
                if self.chance(0.1) {
                    // `bytes` bodies are base64, as protobuf JSON writes them.
                    d["body"] = json!({"bytes": *self.pick(&["aGVsbG8=", "AAEC", ""])});
                } else if self.chance(0.7) {
                    d["body"] = json!({"string": *self.pick(BODIES)});
                }
                r.insert("directResponse".into(), d);
                if self.chance(0.3) {
                    r.insert("headers".into(), self.headers(false));
                }
            }
            _ => {
                let n = match self.rng.random_range(0..10) {
                    0..=5 => 1,
                    6..=8 => 2,
                    _ => 3,
                };
                let dests: Vec<Value> = (0..n)
                    .map(|_| {
                        let mut d = json!({"destination": self.destination(host)});
                        if n > 1 || self.chance(0.2) {
                            d["weight"] = json!(*self.pick(&[0, 0, 100, 100, 50, 30, 1]));
                        }
                        if self.chance(0.25) {
                            d["headers"] = self.headers(false);
                        }
                        d
                    })
                    .collect();
                // Istio rejects a split whose weights are all zero.
                let mut dests = dests;
                if n > 1 && dests.iter().all(|d| d["weight"] == json!(0)) {
                    dests[0]["weight"] = json!(100);
                }
                r.insert("route".into(), json!(dests));
                let authority_in_headers;
                if self.chance(0.35) {
                    let h = self.headers(true);
                    authority_in_headers = [
                        "/request/set/host",
                        "/request/set/:authority",
                        "/request/add/host",
                    ]
                    .iter()
                    .any(|p| h.pointer(p).is_some());
                    r.insert("headers".into(), h);
                } else {
                    authority_in_headers = false;
                }
                if self.chance(0.25) {
                    let mut rw = serde_json::Map::new();
                    if self.chance(0.3) {
                        rw.insert(
                            "uriRegexRewrite".into(),
                            json!({"match": "^/api/(.*)", "rewrite": "/v2/\\1"}),
                        );
                    } else if self.chance(0.8) {
                        rw.insert("uri".into(), json!(*self.pick(&["/", "/v2", "/new/"])));
                    }
                    if (rw.is_empty() || self.chance(0.3)) && !authority_in_headers {
                        rw.insert("authority".into(), json!("rewritten.example"));
                    }
                    if !rw.is_empty() {
                        r.insert("rewrite".into(), Value::Object(rw));
                    }
                }
                if self.chance(0.35) {
                    self.mirror_fields(&mut r, host);
                }
                if self.chance(0.4) {
                    r.insert("retries".into(), self.retries());
                }
                if self.chance(0.1) {
                    r.insert("timeout".into(), json!("10s"));
                }
            }
        }
        if r.get("redirect").is_none() && r.get("directResponse").is_none() && self.chance(0.15) {
            r.insert("fault".into(), self.fault());
        }
        Value::Object(r)
    }

    /// A root route delegating to `delegate`, with what a root may carry.
    fn root_route(&mut self, delegate: &str) -> Value {
        let mut r = serde_json::Map::new();
        if self.chance(0.3) {
            r.insert("name".into(), json!("root"));
        }
        if self.chance(0.8) {
            let uri = match self.rng.random_range(0..3) {
                0 => json!({"exact": "/api"}),
                1 => json!({"prefix": *self.pick(&["/api", "/reviews", "/"])}),
                _ => json!({"regex": "/api/v[0-9]+"}),
            };
            if let Some(s) = uri
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(Value::as_str)
            {
                self.paths.push(s.to_owned());
            }
            let mut m = json!({"uri": uri});
            if self.chance(0.3) {
                m["headers"] = json!({"x-user": {"exact": "jason"}});
                self.header_values.push(("x-user".into(), "jason".into()));
            }
            r.insert("match".into(), json!([m]));
        }
        r.insert(
            "delegate".into(),
            json!({"name": delegate, "namespace": NAMESPACE}),
        );
        if self.chance(0.3) {
            r.insert("fault".into(), self.fault());
        }
        if self.chance(0.3) {
            r.insert("headers".into(), self.headers(false));
        }
        if self.chance(0.2) {
            r.insert("retries".into(), self.retries());
        }
        if self.chance(0.15) {
            r.insert("rewrite".into(), json!({"uri": "/inner/"}));
        }
        Value::Object(r)
    }

    /// Records the match blocks of a rule of service `name` (laid over its root's, for a
    /// delegate's) as targets for requests.
    fn aim(&mut self, name: &'static str, root: Option<&Value>, own: Option<&Value>) {
        let blocks = |v: Option<&Value>| -> Vec<serde_json::Map<String, Value>> {
            v.and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|m| m.as_object().cloned()).collect())
                .unwrap_or_default()
        };
        let (roots, owns) = (blocks(root), blocks(own));
        let mut out = Vec::new();
        match (roots.is_empty(), owns.is_empty()) {
            (_, true) => out.extend(roots.iter().cloned()),
            (true, false) => out.extend(owns.iter().cloned()),
            (false, false) => {
                for r in &roots {
                    for o in &owns {
                        let mut m = r.clone();
                        for (k, v) in o {
                            match (m.get_mut(k), v) {
                                (Some(Value::Object(into)), Value::Object(from))
                                    if k != "uri" && k != "method" =>
                                {
                                    into.extend(from.clone());
                                }
                                _ => {
                                    m.insert(k.clone(), v.clone());
                                }
                            }
                        }
                        out.push(m);
                    }
                }
            }
        }
        if out.is_empty() {
            out.push(serde_json::Map::new());
        }
        for m in out {
            self.targets.push((name, m));
        }
    }

    /// A request that satisfies a recorded match block, as far as a request can.
    fn aimed_request(&mut self) -> Option<Request> {
        if self.targets.is_empty() {
            return None;
        }
        let (name, m) = self.targets[self.rng.random_range(0..self.targets.len())].clone();
        let mut req = Request {
            method: "GET".into(),
            authority: name.to_owned(),
            target: "/".into(),
            headers: Vec::new(),
        };
        let example = |sm: &Value, g: &mut Gen| -> Option<String> {
            if let Some(e) = sm.get("exact").and_then(Value::as_str) {
                Some(e.to_owned())
            } else if let Some(p) = sm.get("prefix").and_then(Value::as_str) {
                Some(format!("{p}{}", g.pick(&["", "x", "/1"])))
            } else {
                sm.get("regex")
                    .and_then(Value::as_str)
                    .map(|r| regex_example(r).to_owned())
            }
        };
        if let Some(uri) = m.get("uri") {
            let mut p = example(uri, self).unwrap_or_else(|| "/".into());
            if m.get("ignoreUriCase") == Some(&json!(true)) && self.chance(0.5) {
                p = p.to_uppercase();
            }
            req.target = p;
        }
        if let Some(method) = m.get("method") {
            req.method = example(method, self).unwrap_or_else(|| "GET".into());
        }
        if let Some(a) = m.get("authority").and_then(|a| example(a, self)) {
            // Only a name of the same service reaches its rules; others would be hosts no
            // registry knows (Envoy's passthrough), or no valid host at all.
            let fqdn = format!("{name}.{NAMESPACE}.svc.cluster.local");
            let host = a.strip_suffix(":80").unwrap_or(&a);
            if host == name || host == fqdn {
                req.authority = a;
            }
        }
        if m.get("scheme").and_then(|s| s.get("exact")) == Some(&json!("https")) {
            req.headers
                .push(("x-forwarded-proto".into(), "https".into()));
        }
        if let Some(Value::Object(h)) = m.get("headers") {
            for (k, sm) in h {
                let v = if sm.as_object().is_some_and(|o| o.is_empty()) {
                    Some("any".to_owned())
                } else {
                    example(sm, self)
                };
                // HTTP/1.1 parsers (Envoy's, hyper's) strip the whitespace around a value:
                // only values without it can be sent as they are.
                if let Some(v) = v.filter(|v| !v.is_empty() && v.trim() == v) {
                    req.headers.push((k.clone(), v));
                }
            }
        }
        let mut query = Vec::new();
        if let Some(Value::Object(q)) = m.get("queryParams") {
            for (k, sm) in q {
                if sm.as_object().is_some_and(|o| o.is_empty()) {
                    query.push(k.clone());
                } else if let Some(v) = example(sm, self) {
                    query.push(format!("{k}={v}"));
                }
            }
        }
        if !query.is_empty() {
            req.target = format!("{}?{}", req.target, query.join("&"));
        }
        Some(req)
    }

    fn request(&mut self) -> Request {
        if self.chance(0.5) {
            if let Some(mut req) = self.aimed_request() {
                self.decorate(&mut req.headers);
                return req;
            }
        }
        let (name, _) = *self.pick(SERVICES);
        let authority = match self.rng.random_range(0..6) {
            0 => format!("{name}.{NAMESPACE}.svc.cluster.local"),
            1 => format!("{name}:{PORT}"),
            2 => format!("{name}.{NAMESPACE}"),
            3 => name.to_uppercase(),
            _ => name.to_owned(),
        };
        let method =
            (*self.pick(&["GET", "GET", "GET", "POST", "PUT", "DELETE", "OPTIONS"])).to_owned();
        let mut path = if !self.paths.is_empty() && self.chance(0.6) {
            let p = self.paths[self.rng.random_range(0..self.paths.len())].clone();
            let p = if p.starts_with('/') && !p.contains(['[', '*', '(', '|']) {
                p
            } else {
                (*self.pick(REQUEST_PATHS)).to_owned()
            };
            let suffix = *self.pick(&["", "", "/v1", "/1", "x"]);
            format!("{p}{suffix}")
        } else {
            (*self.pick(REQUEST_PATHS)).to_owned()
        };
        if self.chance(0.1) {
            path = path.to_uppercase();
        }
        let target = format!("{path}{}", self.pick(QUERIES));
        let mut headers = Vec::new();
        for _ in 0..self.rng.random_range(0..=3) {
            if !self.header_values.is_empty() && self.chance(0.6) {
                let (k, v) =
                    self.header_values[self.rng.random_range(0..self.header_values.len())].clone();
                headers.push((k, v));
            } else {
                let k = (*self.pick(REQUEST_HEADERS)).to_owned();
                let v = if k == "x-forwarded-proto" {
                    (*self.pick(&["https", "http", "HTTPS", "ftp"])).to_owned()
                } else {
                    (*self.pick(HEADER_VALUES)).to_owned()
                };
                headers.push((k, v));
            }
        }
        self.decorate(&mut headers);
        Request {
            method,
            authority,
            target,
            headers,
        }
    }

    /// Adds what any request may carry: a repeated header, a gRPC content type, the
    /// status the echo upstream should answer.
    fn decorate(&mut self, headers: &mut Vec<(String, String)>) {
        // Repeated headers: custom headers stay separate values, inline ones are joined.
        if !headers.is_empty() && self.chance(0.15) {
            let (k, _) = headers[0].clone();
            headers.push((k, (*self.pick(HEADER_VALUES)).to_owned()));
        }
        if self.chance(0.12) {
            headers.push((
                "content-type".into(),
                (*self.pick(&[
                    "application/grpc",
                    "application/grpc",
                    "application/grpc+proto",
                    "application/json",
                ]))
                .to_owned(),
            ));
        }
        if self.chance(0.2) {
            headers.push((
                envoy_harness::STATUS_HEADER.into(),
                (*self.pick(&["503", "500", "502"])).to_owned(),
            ));
        }
    }
}
