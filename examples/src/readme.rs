//! The README's Rust snippets, verbatim, inside functions that compile and run
//! (`tests/readme.rs` checks that every `rust` block of README.md appears here line for line,
//! so that the README cannot drift from code that builds).

use std::error::Error;

#[rustfmt::skip]
/// README "mesh-model and mesh-load: read and validate", on `dir` (the README loads `istio/`).
pub fn read_and_validate(dir: &std::path::Path) -> usize {
    std::env::set_current_dir(dir).ok();
    // README begin
    use mesh_load::LoadFiles as _;                         // files and folders; mesh-model parses text
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
/// README "mesh: the layer in one expression", run in `dir` (the README loads `istio/`):
/// the app, the handle, and the warnings.
pub fn layer(dir: &std::path::Path) -> Result<(axum::Router, mesh::Handle, usize), Box<dyn Error>> {
    use mesh::{Endpoint, Mesh};
    std::env::set_current_dir(dir)?;
    let v1_router = axum::Router::new().fallback(|| async { "v1" });
    let v2_router = axum::Router::new().fallback(|| async { "v2" });
    let passthrough = || async { "passthrough" };
    // README begin
    let mesh = Mesh::sidecar("demo")                     // or Mesh::gateway("istio-system", "gw")
        .path("istio/")                                  // and/or .yaml(text): files, folders, strings
        .backend("shop", Endpoint::new("v1", [("version", "v1")], v1_router))
        .backend("shop", Endpoint::new("v2", [("version", "v2")], v2_router))
        .build()?;                                       // every error: file:line, resource, field path
    for w in mesh.warnings() { eprintln!("{w}"); }      // e.g. a backend no route reaches (misspelled?)
    let handle = mesh.handle();                          // reload(config), reload_yaml(text), metrics()
    let app = axum::Router::new()
        .fallback(passthrough)
        .layer(mesh)
        .route("/metrics", mesh::metrics::handler(handle.clone()));  // feature "axum"
    // README end
    let warnings = handle.table().warnings().len();
    Ok((app, handle, warnings))
}
