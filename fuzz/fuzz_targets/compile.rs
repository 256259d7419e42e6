//! Arbitrary bytes as YAML: load, then compile a route table for a sidecar and for every
//! Gateway in the input, then decide a few fixed requests on each table that compiled.
//!
//! Properties: no panic; compile errors are errors; the decisions have the properties of
//! `mesh_fuzz::decide_and_check` (split index within the destinations, trace agrees with
//! decide) and are deterministic.
#![no_main]

use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use mesh_match::{PathNormalization, RequestView, normalize_target};
use mesh_model::Loader;
use mesh_route::{CompileOptions, Identity, RouteTable};

const PATHS: &[&str] = &["/", "/reviews/0?x=1", "/a/../admin", "//api/v1?id=7&q"];

fn requests(table: &RouteTable, headers: &HeaderMap) {
    // Fixed authorities, plus the first domain of each virtual host (so that rules are
    // reached), with and without a port.
    let mut authorities: Vec<String> = vec![
        "reviews:9080".into(),
        "UPPER.Example.COM".into(),
        "[::1]:80".into(),
    ];
    for vh in table.virtual_hosts().iter().take(4) {
        if let Some(d) = vh.domains.first() {
            let d = d.replace('*', "x");
            authorities.push(format!("{d}:80"));
            authorities.push(d);
        }
    }
    for authority in &authorities {
        for (i, raw) in PATHS.iter().enumerate() {
            let Ok(path) = normalize_target(raw, PathNormalization::Base) else {
                continue;
            };
            let (method, scheme) = [("GET", "http"), ("POST", "https")][i % 2];
            let view = RequestView::new(method, scheme, authority, &path, headers);
            let sample = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let a = mesh_fuzz::decide_and_check(table, &view, sample);
            let b = mesh_fuzz::decide_and_check(table, &view, sample);
            assert_eq!(a, b, "decide is not deterministic");
            mesh_fuzz::decide_and_check(table, &view.with_port(443), u64::MAX);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let loaded = Loader::new().load_bytes(data, None);
    if loaded.resources.virtual_services.is_empty() && loaded.resources.gateways.is_empty() {
        return;
    }
    let mut headers = HeaderMap::new();
    headers.insert("end-user", "jason".parse().unwrap());
    headers.insert("cookie", "session=1; user=jason".parse().unwrap());
    headers.append("x-tag", "a".parse().unwrap());
    headers.append("x-tag", "b".parse().unwrap());
    headers.insert("user-agent", "Mozilla/5.0 Chrome/118".parse().unwrap());

    let mut identities = vec![
        Identity::sidecar("default"),
        Identity::sidecar_with_labels("bookinfo", [("app", "productpage"), ("version", "v1")]),
    ];
    for gw in loaded.resources.gateways.iter().take(4) {
        identities.push(Identity::gateway(gw.namespace(), gw.name()));
    }
    for identity in &identities {
        let Ok(table) =
            RouteTable::compile(&loaded.resources, identity, &CompileOptions::default())
        else {
            continue;
        };
        let _ = table.warnings().iter().map(ToString::to_string).count();
        requests(&table, &headers);
    }
});
