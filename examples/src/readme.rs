//! The README's Rust snippets, verbatim, inside functions that compile and run
//! (`tests/readme.rs` checks that every `rust` block of README.md appears here line for line,
//! so that the README cannot drift from code that builds).

use std::error::Error;

#[rustfmt::skip]
/// README "mesh-model: read and validate", on `dir` (the README loads `istio/`).
pub fn read_and_validate(dir: &std::path::Path) -> usize {
    std::env::set_current_dir(dir).ok();
    // README begin
    let loaded = mesh_model::Loader::new().load_paths(&["istio/"]);
    for e in &loaded.errors { eprintln!("{e}"); }          // file:line:col, resource, field path
    let report = mesh_model::validate::validate(&loaded.resources);
    for f in &report.findings { println!("{f}"); }         // Istio's messages, with codes for analyzers
    // README end
    loaded.resources.virtual_services.len()
}

#[rustfmt::skip]
#[allow(unused_variables, clippy::needless_borrow)] // the snippet's match arms are placeholders
/// README "mesh-route: decide", on `resources`: the host and subset the request to
/// `reviews:9080/reviews/0` goes to.
pub fn decide(resources: &mesh_model::Resources) -> Result<(String, String), Box<dyn Error>> {
    use mesh_match::{PathNormalization, RequestView, normalize_target};
    use mesh_route::{CompileOptions, Decision, Identity, RouteTable};
    use rand::RngExt;
    let mut rng = rand::rng();
    let headers = http::HeaderMap::new();
    let mut out = (String::new(), String::new());
    // README begin
    let table = RouteTable::compile(&resources, &Identity::sidecar("bookinfo"), &CompileOptions::default())?;
    let path = normalize_target("/reviews/0", PathNormalization::Base)?;
    let view = RequestView::new("GET", "http", "reviews:9080", &path, &headers);
    match table.decide(&view, rng.random()) {
        Decision::Route { target, rule, .. } => { /* target.host(), target.subset(), rule.retries, ... */ }
        Decision::Redirect { .. } | Decision::DirectResponse { .. } | Decision::NoRoute(_) => {}
    }
    // README end
    if let Decision::Route { target, rule, .. } = table.decide(&view, 0) {
        let _ = &rule.retries;
        out = (target.host().into_owned(), target.subset().to_owned());
    }
    Ok(out)
}

#[rustfmt::skip]
/// README "mesh-tower: the layer": the app and the handle, for `table`.
pub fn layer(table: mesh_route::RouteTable) -> (axum::Router, mesh_tower::MeshHandle) {
    use mesh_tower::{Backends, Endpoint, MeshLayer};
    let v1_router = axum::Router::new().fallback(|| async { "v1" });
    let v2_router = axum::Router::new().fallback(|| async { "v2" });
    let passthrough = || async { "passthrough" };
    // README begin
    let layer = MeshLayer::new(table, Backends::new()
        .with("shop.demo.svc.cluster.local", Endpoint::new("v1", [("version", "v1")], v1_router))
        .with("shop.demo.svc.cluster.local", Endpoint::new("v2", [("version", "v2")], v2_router)));
    let handle = layer.handle();                       // swap_table(), metrics().encode()
    let app = axum::Router::new().fallback(passthrough).layer(layer);
    // README end
    (app, handle)
}
