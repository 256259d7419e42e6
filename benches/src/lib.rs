//! Shared fixtures for the criterion benchmarks in `benches/`: a bookinfo-like configuration
//! for a sidecar and for an ingress gateway, a generator of large synthetic tables, the
//! requests the benchmarks decide (built once, outside the measured loops), and the
//! hand-written routing functions used as baselines.
//!
//! Nothing here reads files at run time: the YAML is embedded.
#![forbid(unsafe_code)]

pub mod layer;

use std::fmt::Write as _;

use http::{HeaderMap, HeaderName, HeaderValue};
use mesh_match::RequestView;
use mesh_model::Resources;
use mesh_route::{CompileOptions, Decision, Identity, NoRoute, RouteTable, Target};

/// The namespace of the bookinfo fixture.
pub const BOOKINFO_NS: &str = "bookinfo";

/// Bookinfo as a sidecar of `productpage-v1` sees it: VirtualServices for productpage,
/// reviews (a header match on `end-user: jason`, then a 25/25/50 split), ratings (a fault
/// for jason, then a delay fault for a share of everyone) and details (a 50/50 split with
/// retries and a timeout), and the DestinationRules with their subsets (after Istio's
/// `samples/bookinfo/networking`).
pub const BOOKINFO_YAML: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: productpage, namespace: bookinfo}
spec:
  hosts: [productpage]
  http:
  - route:
    - destination: {host: productpage, subset: v1}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match:
    - headers:
        end-user: {exact: jason}
    route:
    - destination: {host: reviews, subset: v2}
  - name: split
    route:
    - destination: {host: reviews, subset: v1}
      weight: 25
    - destination: {host: reviews, subset: v2}
      weight: 25
    - destination: {host: reviews, subset: v3}
      weight: 50
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: bookinfo}
spec:
  hosts: [ratings]
  http:
  - match:
    - headers:
        end-user: {exact: jason}
    fault:
      abort:
        percentage: {value: 100.0}
        httpStatus: 500
    route:
    - destination: {host: ratings, subset: v1}
  - fault:
      delay:
        percentage: {value: 10.0}
        fixedDelay: 7s
    route:
    - destination: {host: ratings, subset: v1}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details, namespace: bookinfo}
spec:
  hosts: [details]
  http:
  - timeout: 10s
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,reset"}
    route:
    - destination: {host: details, subset: v1}
      weight: 50
    - destination: {host: details, subset: v2}
      weight: 50
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: productpage, namespace: bookinfo}
spec:
  host: productpage
  subsets:
  - name: v1
    labels: {version: v1}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
  - name: v3
    labels: {version: v3}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: bookinfo}
spec:
  host: ratings
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
  - name: v2-mysql
    labels: {version: v2-mysql}
  - name: v2-mysql-vm
    labels: {version: v2-mysql-vm}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details, namespace: bookinfo}
spec:
  host: details
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
"#;

/// The bookinfo ingress: `bookinfo-gateway` on port 8080 for every host, and the
/// `bookinfo` VirtualService bound to it (the five URI matches of Istio's sample).
pub const GATEWAY_YAML: &str = r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: bookinfo}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: bookinfo}
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http:
  - match:
    - uri: {exact: /productpage}
    - uri: {prefix: /static}
    - uri: {exact: /login}
    - uri: {exact: /logout}
    - uri: {prefix: /api/v1/products}
    route:
    - destination:
        host: productpage
        port: {number: 9080}
"#;

/// The layer benchmark's configuration (`benches/layer.rs`, and the allocation count in
/// `tests/alloc.rs`): `x-canary: always` goes to v2, everything else is split 90/10 between
/// v1 and v2 of `shop` in namespace `demo`.
pub const LAYER_YAML: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: demo}
spec:
  hosts: [shop]
  http:
  - match:
    - headers: {x-canary: {exact: always}}
    route:
    - destination: {host: shop, subset: v2}
  - route:
    - destination: {host: shop, subset: v1}
      weight: 90
    - destination: {host: shop, subset: v2}
      weight: 10
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

/// The layer benchmark's table: [`LAYER_YAML`] for a sidecar in `demo`.
pub fn layer_table() -> RouteTable {
    compile(&load(LAYER_YAML), &Identity::sidecar("demo"))
}

/// The sidecar identity the bookinfo table is compiled for (`productpage-v1`).
pub fn bookinfo_identity() -> Identity {
    Identity::sidecar_with_labels(BOOKINFO_NS, [("app", "productpage"), ("version", "v1")])
}

/// The gateway identity the gateway table is compiled for.
pub fn gateway_identity() -> Identity {
    Identity::gateway(BOOKINFO_NS, "bookinfo-gateway")
}

/// Loads YAML that is known to be valid.
pub fn load(yaml: &str) -> Resources {
    mesh_model::load_str(yaml).expect("fixture YAML loads")
}

/// Compiles resources that are known to compile.
pub fn compile(resources: &Resources, identity: &Identity) -> RouteTable {
    RouteTable::compile(resources, identity, &CompileOptions::default()).expect("fixture compiles")
}

/// The compiled bookinfo sidecar table.
pub fn bookinfo_table() -> RouteTable {
    compile(&load(BOOKINFO_YAML), &bookinfo_identity())
}

/// The compiled bookinfo gateway table.
pub fn gateway_table() -> RouteTable {
    compile(&load(GATEWAY_YAML), &gateway_identity())
}

/// An owned request; [`view`](Req::view) borrows it as the matcher sees it. Built once per
/// benchmark, so that building views and header maps is not what is measured.
#[derive(Clone, Debug)]
pub struct Req {
    /// `:method`.
    pub method: &'static str,
    /// `:scheme`.
    pub scheme: &'static str,
    /// `:authority`, port included.
    pub authority: String,
    /// `:path`, already normalized.
    pub path: String,
    /// Headers.
    pub headers: HeaderMap,
    /// The listener port, when it is not the authority's.
    pub port: Option<u16>,
}

/// Headers every fixture request carries, as a browser behind Envoy sends them.
pub(crate) const COMMON_HEADERS: [(&str, &str); 7] = [
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101",
    ),
    ("accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"),
    ("accept-encoding", "gzip, deflate, br"),
    ("x-request-id", "3f1c8d2e-6a0b-4c57-9f2e-1b7d5e4a9c10"),
    ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
    ("x-b3-spanid", "e457b5a2e4d86bd1"),
    ("x-forwarded-proto", "http"),
];

impl Req {
    /// A GET with the common headers plus `extra`.
    pub fn get(authority: &str, path: &str, extra: &[(&str, &str)]) -> Self {
        let mut headers = HeaderMap::new();
        for (k, v) in COMMON_HEADERS.iter().chain(extra) {
            headers.append(
                HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                HeaderValue::from_str(v).expect("header value"),
            );
        }
        Req {
            method: "GET",
            scheme: "http",
            authority: authority.to_owned(),
            path: path.to_owned(),
            headers,
            port: None,
        }
    }

    /// The same request on listener port `port`.
    pub fn on_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// The view the route table decides on.
    pub fn view(&self) -> RequestView<'_> {
        let v = RequestView::new(
            self.method,
            self.scheme,
            &self.authority,
            &self.path,
            &self.headers,
        );
        match self.port {
            Some(p) => v.with_port(p),
            None => v,
        }
    }
}

/// A named request of the bookinfo benchmarks.
#[derive(Clone, Debug)]
pub struct Case {
    /// The benchmark id.
    pub name: &'static str,
    /// The request.
    pub req: Req,
    /// The split sample passed to `decide`.
    pub sample: u64,
}

/// A split sample that falls in the last quarter of `[0, 2^64)` (reviews v3, details v2).
pub const SAMPLE: u64 = 0xC000_0000_0000_0001;

/// The sidecar requests: a header-matched rule, a header miss then a 3-way split, a fault
/// rule, a 50/50 split, and a host no VirtualService claims (passthrough).
pub fn bookinfo_cases() -> Vec<Case> {
    vec![
        Case {
            name: "header_match",
            req: Req::get("reviews:9080", "/reviews/0", &[("end-user", "jason")]),
            sample: SAMPLE,
        },
        Case {
            name: "weighted_split",
            req: Req::get("reviews:9080", "/reviews/0", &[("end-user", "alice")]),
            sample: SAMPLE,
        },
        Case {
            name: "fault_rule",
            req: Req::get("ratings:9080", "/ratings/0", &[("end-user", "jason")]),
            sample: SAMPLE,
        },
        Case {
            name: "split_50_50",
            req: Req::get("details.bookinfo.svc.cluster.local:9080", "/details/0", &[]),
            sample: SAMPLE,
        },
        Case {
            name: "passthrough",
            req: Req::get("httpbin.org", "/get?show_env=1", &[]),
            sample: SAMPLE,
        },
    ]
}

/// The gateway requests: a hit on the fourth match block, and a path no rule matches (404,
/// after trying all five blocks).
pub fn gateway_cases() -> Vec<Case> {
    vec![
        Case {
            name: "gateway_hit",
            req: Req::get("bookinfo.example.com", "/logout", &[]).on_port(8080),
            sample: SAMPLE,
        },
        Case {
            name: "gateway_no_route",
            req: Req::get("bookinfo.example.com", "/admin/secrets", &[]).on_port(8080),
            sample: SAMPLE,
        },
    ]
}

/// What the hand-written router answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hand {
    /// Forward to this route.
    Route(&'static HandRoute),
    /// No route for the host: forward to the host itself.
    Passthrough,
    /// 404.
    NoRoute,
}

/// A hand-written route: where to, and the policy a developer would attach.
#[derive(Debug, PartialEq, Eq)]
pub struct HandRoute {
    /// Destination host (FQDN).
    pub host: &'static str,
    /// Subset.
    pub subset: &'static str,
    /// Fault abort status, if any.
    pub abort: Option<u16>,
}

macro_rules! hand_route {
    ($name:ident, $host:literal, $subset:literal, $abort:expr) => {
        static $name: HandRoute = HandRoute {
            host: $host,
            subset: $subset,
            abort: $abort,
        };
    };
}
hand_route!(
    PRODUCTPAGE_V1,
    "productpage.bookinfo.svc.cluster.local",
    "v1",
    None
);
hand_route!(REVIEWS_V1, "reviews.bookinfo.svc.cluster.local", "v1", None);
hand_route!(REVIEWS_V2, "reviews.bookinfo.svc.cluster.local", "v2", None);
hand_route!(REVIEWS_V3, "reviews.bookinfo.svc.cluster.local", "v3", None);
hand_route!(
    RATINGS_ABORT,
    "ratings.bookinfo.svc.cluster.local",
    "v1",
    Some(500)
);
hand_route!(RATINGS_V1, "ratings.bookinfo.svc.cluster.local", "v1", None);
hand_route!(DETAILS_V1, "details.bookinfo.svc.cluster.local", "v1", None);
hand_route!(DETAILS_V2, "details.bookinfo.svc.cluster.local", "v2", None);
hand_route!(
    PRODUCTPAGE_9080,
    "productpage.bookinfo.svc.cluster.local",
    "",
    None
);

const END_USER: HeaderName = HeaderName::from_static("end-user");
const X_TENANT: HeaderName = HeaderName::from_static("x-tenant");

/// `sample` scaled to `[0, total)`, as the split does it.
#[inline]
fn scale(sample: u64, total: u64) -> u64 {
    ((u128::from(sample) * u128::from(total)) >> 64) as u64
}

/// Which bookinfo service a sidecar host names, in any of its Kubernetes DNS forms.
#[inline]
fn bookinfo_service(host: &str) -> Option<&str> {
    let (name, rest) = host.split_once('.').unwrap_or((host, ""));
    matches!(
        rest,
        "" | "bookinfo" | "bookinfo.svc" | "bookinfo.svc.cluster.local"
    )
    .then_some(name)
}

/// The bookinfo sidecar routes, hand-written: what a developer would code instead of a
/// route table (a `match` on the host, then an if-chain on the header, then the split).
#[inline]
pub fn bookinfo_baseline(req: &RequestView<'_>, sample: u64) -> Hand {
    let jason = || {
        req.headers()
            .get(END_USER)
            .is_some_and(|v| v.as_bytes() == b"jason")
    };
    match bookinfo_service(req.host()) {
        Some("productpage") => Hand::Route(&PRODUCTPAGE_V1),
        Some("reviews") => Hand::Route(if jason() {
            &REVIEWS_V2
        } else {
            match scale(sample, 100) {
                0..25 => &REVIEWS_V1,
                25..50 => &REVIEWS_V2,
                _ => &REVIEWS_V3,
            }
        }),
        Some("ratings") => Hand::Route(if jason() { &RATINGS_ABORT } else { &RATINGS_V1 }),
        Some("details") => Hand::Route(if scale(sample, 100) < 50 {
            &DETAILS_V1
        } else {
            &DETAILS_V2
        }),
        _ => Hand::Passthrough,
    }
}

/// The bookinfo gateway routes, hand-written.
#[inline]
pub fn gateway_baseline(req: &RequestView<'_>) -> Hand {
    if req.port() != 8080 {
        return Hand::NoRoute;
    }
    let path = req.path();
    if path == "/productpage"
        || req.path_and_query().starts_with("/static")
        || path == "/login"
        || path == "/logout"
        || req.path_and_query().starts_with("/api/v1/products")
    {
        Hand::Route(&PRODUCTPAGE_9080)
    } else {
        Hand::NoRoute
    }
}

/// What `decision` means in the baseline's terms, to check that both agree.
pub fn as_hand(decision: &Decision<'_>) -> Result<(String, String, Option<u16>), &'static str> {
    match decision {
        Decision::Route {
            target: Target::Destination(d),
            rule,
            ..
        } => {
            let abort = rule.fault.abort.and_then(|a| match a.kind {
                mesh_route::policy::AbortKind::Http(s) => Some(s),
                mesh_route::policy::AbortKind::Grpc(_) => None,
            });
            Ok((d.host.clone(), d.subset.clone(), abort))
        }
        Decision::Route {
            target: Target::Passthrough { .. },
            ..
        } => Err("passthrough"),
        Decision::NoRoute(_) => Err("noRoute"),
        _ => Err("other"),
    }
}

/// The namespace of the generated tables.
pub const GEN_NS: &str = "gen";

/// The number of rules of each generated VirtualService.
pub const GEN_RULES: usize = 10;

/// The kind of condition rule `j` of a generated VirtualService has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenKind {
    /// `uri: {prefix: /api/v<j>/}`.
    Prefix,
    /// `uri: {exact: /items/<j>}`.
    Exact,
    /// `headers: {x-tenant: {exact: t<j>}}`.
    Header,
    /// `uri: {regex: "/r<j>/users/[0-9]+"}`.
    Regex,
}

/// The kind of rule `j`: prefix, exact, header, regex, repeating.
pub fn gen_kind(j: usize) -> GenKind {
    [
        GenKind::Prefix,
        GenKind::Exact,
        GenKind::Header,
        GenKind::Regex,
    ][j % 4]
}

/// The host name of generated service `i`.
pub fn gen_host(i: usize) -> String {
    format!("svc-{i}")
}

/// `hosts` VirtualServices in namespace `gen`, one per host `svc-<i>`, each with `rules`
/// rules in the order of [`gen_kind`] and no catch-all; rule `j` routes to port `8000 + j`.
pub fn generated_yaml(hosts: usize, rules: usize) -> String {
    generated_yaml_range(0..hosts, rules)
}

/// The VirtualServices of hosts `range` of [`generated_yaml`].
pub fn generated_yaml_range(range: std::ops::Range<usize>, rules: usize) -> String {
    let mut y = String::with_capacity(range.len() * (200 + rules * 110));
    for i in range {
        let h = gen_host(i);
        let _ = write!(
            y,
            "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n\
             metadata: {{name: {h}, namespace: {GEN_NS}}}\nspec:\n  hosts: [{h}]\n  http:\n"
        );
        for j in 0..rules {
            let m = match gen_kind(j) {
                GenKind::Prefix => format!("{{uri: {{prefix: /api/v{j}/}}}}"),
                GenKind::Exact => format!("{{uri: {{exact: /items/{j}}}}}"),
                GenKind::Header => format!("{{headers: {{x-tenant: {{exact: t{j}}}}}}}"),
                GenKind::Regex => format!("{{uri: {{regex: \"/r{j}/users/[0-9]+\"}}}}"),
            };
            let _ = writeln!(
                y,
                "  - match: [{m}]\n    route: [{{destination: {{host: {h}, port: {{number: {}}}}}}}]",
                8000 + j
            );
        }
    }
    y
}

/// The sidecar identity of the generated tables.
pub fn gen_identity() -> Identity {
    Identity::sidecar(GEN_NS)
}

/// Loads and compiles a generated table of `hosts` hosts with `rules` rules each.
pub fn generated_table(hosts: usize, rules: usize) -> RouteTable {
    // Loaded in chunks: one document list per chunk keeps the YAML parser's memory small.
    let mut resources = Resources::default();
    let chunk = 1000;
    let mut start = 0;
    while start < hosts {
        let n = chunk.min(hosts - start);
        let mut part = load(&generated_yaml_range(start..start + n, rules));
        resources
            .virtual_services
            .append(&mut part.virtual_services);
        start += n;
    }
    compile(&resources, &gen_identity())
}

/// The request that hits rule `j` of host `i` (the other headers are the common ones plus
/// `x-tenant: acme`, so header rules before it compare a value and fail).
pub fn gen_request(i: usize, j: usize) -> Req {
    let host = format!("{}:8080", gen_host(i));
    match gen_kind(j) {
        GenKind::Prefix => Req::get(
            &host,
            &format!("/api/v{j}/orders/17?limit=5"),
            &[("x-tenant", "acme")],
        ),
        GenKind::Exact => Req::get(&host, &format!("/items/{j}"), &[("x-tenant", "acme")]),
        GenKind::Header => Req::get(&host, "/other", &[("x-tenant", &format!("t{j}"))]),
        GenKind::Regex => Req::get(
            &host,
            &format!("/r{j}/users/12345"),
            &[("x-tenant", "acme")],
        ),
    }
}

/// Whether the benchmark binary runs in criterion's test mode (`cargo test --benches`, or
/// `cargo bench -- --test`): each benchmark then runs once, so the benchmarks use smaller
/// tables to keep unoptimised test builds fast. Mirrors criterion's own rule: without
/// `--bench`, or with `--test`.
pub fn criterion_test_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--test")
}

/// A small, fixed pseudo-random sequence (SplitMix64), so runs are reproducible.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `[0, n)`.
    pub fn below(&mut self, n: usize) -> usize {
        scale(self.next_u64(), n as u64) as usize
    }
}

/// `n` requests to random hosts of a `hosts`-host table, each hitting a random rule.
pub fn random_gen_requests(hosts: usize, rules: usize, n: usize, seed: u64) -> Vec<Req> {
    let mut rng = SplitMix(seed);
    (0..n)
        .map(|_| {
            let i = rng.below(hosts);
            let j = rng.below(rules);
            gen_request(i, j)
        })
        .collect()
}

#[inline]
fn digits(s: Option<&str>) -> bool {
    s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

/// The generated routes, hand-written: parse the host's number (the cheapest possible host
/// lookup, no hashing), then an if-chain over the ten rules, with the regexes hand-coded as
/// byte checks. Returns `(host index, rule index)`.
#[inline]
pub fn generated_baseline(req: &RequestView<'_>, hosts: usize) -> Option<(usize, usize)> {
    let host = req.host();
    let rest = host.strip_prefix("svc-")?;
    let (num, suffix) = rest.split_at(rest.find('.').unwrap_or(rest.len()));
    if !matches!(suffix, "" | ".gen" | ".gen.svc" | ".gen.svc.cluster.local") {
        return None;
    }
    let i: usize = num.parse().ok()?;
    if i >= hosts {
        return None;
    }
    let pq = req.path_and_query();
    let path = req.path();
    let tenant = |t: &[u8]| {
        req.headers()
            .get(X_TENANT)
            .is_some_and(|v| v.as_bytes() == t)
    };
    let rule = if pq.starts_with("/api/v0/") {
        0
    } else if path == "/items/1" {
        1
    } else if tenant(b"t2") {
        2
    } else if digits(path.strip_prefix("/r3/users/")) {
        3
    } else if pq.starts_with("/api/v4/") {
        4
    } else if path == "/items/5" {
        5
    } else if tenant(b"t6") {
        6
    } else if digits(path.strip_prefix("/r7/users/")) {
        7
    } else if pq.starts_with("/api/v8/") {
        8
    } else if path == "/items/9" {
        9
    } else {
        return None;
    };
    Some((i, rule))
}

/// What `decision` on a generated table means in the baseline's terms.
pub fn as_gen(decision: &Decision<'_>) -> Option<(usize, usize)> {
    let m = decision.matched()?;
    let name = m.vhost.name.strip_prefix("gen/svc-")?;
    Some((name.parse().ok()?, m.rule().index))
}

/// Whether a decision is a 404 for lack of a matching rule.
pub fn is_no_rule(decision: &Decision<'_>) -> bool {
    matches!(decision, Decision::NoRoute(NoRoute::NoRuleMatched))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookinfo_baseline_agrees_with_decide() {
        let table = bookinfo_table();
        for case in bookinfo_cases() {
            let view = case.req.view();
            let d = table.decide(&view, case.sample);
            let h = bookinfo_baseline(&view, case.sample);
            match (as_hand(&d), h) {
                (Ok((host, subset, abort)), Hand::Route(r)) => {
                    assert_eq!(
                        (host.as_str(), subset.as_str(), abort),
                        (r.host, r.subset, r.abort),
                        "{}",
                        case.name
                    );
                }
                (Err("passthrough"), Hand::Passthrough) => {}
                other => panic!("{}: {other:?}", case.name),
            }
        }
        // Every share of the splits agrees too.
        let mut rng = SplitMix(7);
        for case in bookinfo_cases() {
            for _ in 0..1000 {
                let s = rng.next_u64();
                let view = case.req.view();
                let d = table.decide(&view, s);
                if let (Ok((host, subset, _)), Hand::Route(r)) =
                    (as_hand(&d), bookinfo_baseline(&view, s))
                {
                    assert_eq!((host.as_str(), subset.as_str()), (r.host, r.subset));
                }
            }
        }
    }

    #[test]
    fn gateway_baseline_agrees_with_decide() {
        let table = gateway_table();
        let cases = gateway_cases();
        let hit = cases[0].req.view();
        let d = table.decide(&hit, 0);
        let (host, _, _) = as_hand(&d).expect("route");
        assert_eq!(gateway_baseline(&hit), Hand::Route(&PRODUCTPAGE_9080));
        assert_eq!(host, PRODUCTPAGE_9080.host);
        let miss = cases[1].req.view();
        assert!(is_no_rule(&table.decide(&miss, 0)));
        assert_eq!(gateway_baseline(&miss), Hand::NoRoute);
    }

    #[test]
    fn generated_baseline_agrees_with_decide() {
        let hosts = 50;
        let table = generated_table(hosts, GEN_RULES);
        assert_eq!(table.virtual_hosts().len(), hosts);
        for i in [0, 1, hosts - 1] {
            for j in 0..GEN_RULES {
                let r = gen_request(i, j);
                let view = r.view();
                let d = table.decide(&view, 0);
                assert_eq!(as_gen(&d), Some((i, j)), "host {i} rule {j}");
                assert_eq!(generated_baseline(&view, hosts), Some((i, j)));
            }
        }
        for r in random_gen_requests(hosts, GEN_RULES, 200, 1) {
            let view = r.view();
            assert_eq!(
                as_gen(&table.decide(&view, 0)),
                generated_baseline(&view, hosts)
            );
        }
        let miss = Req::get("svc-3:8080", "/nothing", &[]);
        assert!(is_no_rule(&table.decide(&miss.view(), 0)));
        assert_eq!(generated_baseline(&miss.view(), hosts), None);
    }
}
