//! Arbitrary requests against a fixed set of route tables compiled once from the scenarios
//! (and `tables/kitchen-sink.yaml`, which has regexes, rewrites, redirects and a delegate).
//!
//! Properties: `decide` never panics, nor does anything read off the decision
//! (`upstream_path`, `upstream_authority`, `location`, `target.host()`, `trace`); the same
//! request decided twice gives the same outcome; a weighted split's index is within its
//! destinations and is the one the weights give for the sample; `trace` agrees with
//! `decide` on the first matching entry (see `mesh_fuzz::decide_and_check`).
#![no_main]

use std::net::IpAddr;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use mesh_match::{PathNormalization, RequestView, normalize_target};
use mesh_route::{CompileOptions, Identity, RouteTable};

struct Table {
    table: RouteTable,
    /// Hosts that reach the table's virtual hosts (wildcards filled in).
    hosts: Vec<String>,
}

fn sidecar(ns: &str) -> Identity {
    Identity::sidecar(ns)
}

fn productpage(ns: &str) -> Identity {
    Identity::sidecar_with_labels(ns, [("app", "productpage"), ("version", "v1")])
}

fn tables() -> &'static [Table] {
    static TABLES: OnceLock<Vec<Table>> = OnceLock::new();
    TABLES.get_or_init(|| {
        let sources: Vec<(&str, &str, Identity)> = vec![
            (
                "seed-canary-gateway",
                include_str!("../../scenarios/seed-canary-gateway.yaml"),
                Identity::gateway("default", "http-gateway"),
            ),
            (
                "seed-bookinfo-reviews-ratings",
                include_str!("../../scenarios/seed-bookinfo-reviews-ratings.yaml"),
                productpage("bookinfo"),
            ),
            (
                "seed-cookie-user",
                include_str!("../../scenarios/seed-cookie-user.yaml"),
                productpage("default"),
            ),
            (
                "seed-ab-user-agent",
                include_str!("../../scenarios/seed-ab-user-agent.yaml"),
                Identity::gateway("default", "http-gateway"),
            ),
            (
                "rewrite",
                include_str!("../../scenarios/rewrite.yaml"),
                sidecar("default"),
            ),
            (
                "redirect-and-direct",
                include_str!("../../scenarios/redirect-and-direct.yaml"),
                sidecar("default"),
            ),
            (
                "delegate",
                include_str!("../../scenarios/delegate.yaml"),
                sidecar("frontend"),
            ),
            (
                "weighted-splits",
                include_str!("../../scenarios/weighted-splits.yaml"),
                sidecar("shop"),
            ),
            (
                "gateway-server-hosts",
                include_str!("../../scenarios/gateway-server-hosts.yaml"),
                Identity::gateway("istio-system", "edge"),
            ),
            (
                "hosts",
                include_str!("../../scenarios/hosts.yaml"),
                sidecar("web"),
            ),
            (
                "kitchen-sink",
                include_str!("../tables/kitchen-sink.yaml"),
                sidecar("default"),
            ),
        ];
        sources
            .into_iter()
            .map(|(name, yaml, identity)| {
                let resources = mesh_model::load_str(yaml)
                    .unwrap_or_else(|e| panic!("{name} does not load: {e}"));
                let table = RouteTable::compile(&resources, &identity, &CompileOptions::default())
                    .unwrap_or_else(|e| panic!("{name} does not compile: {e}"));
                let mut hosts: Vec<String> = table
                    .virtual_hosts()
                    .iter()
                    .flat_map(|vh| vh.domains.iter())
                    .map(|d| d.replace('*', "w"))
                    .collect();
                hosts.sort();
                hosts.dedup();
                Table { table, hosts }
            })
            .collect()
    })
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
const SCHEMES: &[&str] = &["http", "https"];
const PREFIXES: &[&str] = &[
    "",
    "/",
    "/items/",
    "/shop/",
    "/shop/cart",
    "/split",
    "/old/",
    "/go",
    "/ff",
    "/Jason",
    "/exact",
    "/products",
    "/reviews",
    "/common",
    "/service/",
    "/LEGACY",
    "/docs/",
    "/search",
    "/moved",
    "/secure",
    "/alt-port",
    "/same-port",
    "/productpage",
];
const HEADER_NAMES: &[&str] = &[
    "end-user",
    "cookie",
    "user-agent",
    "x-beta",
    "x-block",
    "x-go",
    "x-tag",
    "host",
];

#[derive(Arbitrary, Debug)]
enum Pick {
    Known(u8),
    Raw(String),
}

impl Pick {
    fn get<'a>(&'a self, known: &'a [impl AsRef<str>]) -> &'a str {
        match self {
            Pick::Known(i) if !known.is_empty() => known[usize::from(*i) % known.len()].as_ref(),
            Pick::Known(_) => "",
            Pick::Raw(s) => s,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    table: u8,
    normalization: u8,
    method: Pick,
    scheme: Pick,
    host: Pick,
    authority_port: Option<u16>,
    prefix: u8,
    path: String,
    query: Option<String>,
    headers: Vec<(Pick, Vec<u8>)>,
    listener_port: Option<u16>,
    remote_ip: Option<IpAddr>,
    sample: u64,
}

const MODES: [PathNormalization; 4] = [
    PathNormalization::None,
    PathNormalization::Base,
    PathNormalization::MergeSlashes,
    PathNormalization::DecodeAndMergeSlashes,
];

fuzz_target!(|input: Input| {
    let tables = tables();
    let t = &tables[usize::from(input.table) % tables.len()];

    let method = input.method.get(METHODS);
    if http::Method::from_bytes(method.as_bytes()).is_err() {
        return;
    }
    let scheme = input.scheme.get(SCHEMES);
    if http::uri::Scheme::try_from(scheme).is_err() {
        return;
    }
    let mut authority = input.host.get(&t.hosts).to_owned();
    if let Some(p) = input.authority_port {
        authority.push(':');
        authority.push_str(&p.to_string());
    }
    // The authority comes from the URI or the Host header (which must be visible ASCII).
    if HeaderValue::from_str(&authority)
        .ok()
        .and_then(|v| v.to_str().ok().map(|_| ()))
        .is_none()
    {
        return;
    }

    let mut target = String::new();
    target.push_str(PREFIXES[usize::from(input.prefix) % PREFIXES.len()]);
    target.push_str(&input.path);
    if let Some(q) = &input.query {
        target.push('?');
        target.push_str(q);
    }
    // Only what `http` accepts as a request target reaches routing.
    if http::uri::PathAndQuery::try_from(target.as_str()).is_err() {
        return;
    }
    let mode = MODES[usize::from(input.normalization) % MODES.len()];
    let Ok(path) = normalize_target(&target, mode) else {
        return;
    };

    let mut headers = HeaderMap::new();
    for (name, value) in &input.headers {
        let Ok(name) = HeaderName::from_bytes(name.get(HEADER_NAMES).as_bytes()) else {
            continue;
        };
        let Ok(value) = HeaderValue::from_bytes(value) else {
            continue;
        };
        headers.append(name, value);
    }

    let mut view = RequestView::new(method, scheme, &authority, &path, &headers);
    if let Some(p) = input.listener_port {
        view = view.with_port(p);
    }
    if let Some(ip) = input.remote_ip {
        view = view.with_remote_ip(ip);
    }
    let first = mesh_fuzz::decide_and_check(&t.table, &view, input.sample);
    let second = mesh_fuzz::decide_and_check(&t.table, &view, input.sample);
    assert_eq!(first, second, "decide is not deterministic");
});
