//! README.md's Rust snippets compile and run: each ```rust block of the README appears, line
//! for line (leading blanks aside), between `// README begin` and `// README end` in
//! `examples/src/readme.rs`, which this crate compiles; and the functions holding them give
//! the answers the README describes.

use tower::ServiceExt;

/// The lines of each ```rust block of README.md, trimmed.
fn readme_blocks() -> Vec<Vec<String>> {
    let readme = include_str!("../../README.md");
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in readme.lines() {
        match (&mut current, line.trim()) {
            (None, "```rust") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(b), l) => b.push(l.to_owned()),
            (None, _) => {}
        }
    }
    blocks
}

/// The lines between each `// README begin` / `// README end` pair of src/readme.rs.
fn compiled_blocks() -> Vec<Vec<String>> {
    let source = include_str!("../src/readme.rs");
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in source.lines().map(str::trim) {
        match (&mut current, line) {
            (None, "// README begin") => current = Some(Vec::new()),
            (Some(_), "// README end") => blocks.extend(current.take()),
            (Some(b), l) => b.push(l.to_owned()),
            (None, _) => {}
        }
    }
    blocks
}

/// Every Rust snippet of the README is one of the compiled blocks, and every compiled block
/// is still in the README.
#[test]
fn every_readme_snippet_is_compiled() {
    let readme = readme_blocks();
    let compiled = compiled_blocks();
    assert!(!readme.is_empty(), "README.md has no rust block");
    for block in &readme {
        assert!(
            compiled.contains(block),
            "README snippet not in examples/src/readme.rs (update it there too):\n{}",
            block.join("\n")
        );
    }
    for block in &compiled {
        assert!(
            readme.contains(block),
            "examples/src/readme.rs holds a snippet the README no longer has:\n{}",
            block.join("\n")
        );
    }
}

/// The snippets that read `istio/` change the working directory: one at a time.
static CWD: std::sync::Mutex<()> = std::sync::Mutex::new(());

const BOOKINFO: &str = "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v2}}]
";

/// The read-and-validate snippet loads `istio/` relative to the working directory.
#[test]
fn the_model_snippet_loads_a_folder() {
    let dir = std::env::temp_dir().join(format!("readme-snippet-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("istio")).expect("temp dir");
    std::fs::write(dir.join("istio/vs.yaml"), BOOKINFO).expect("write");
    let count = {
        let _cwd = CWD.lock().unwrap_or_else(|p| p.into_inner());
        examples::readme::read_and_validate(&dir)
    };
    assert_eq!(count, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The decide snippet routes `reviews:9080/reviews/0` by the VirtualService.
#[test]
fn the_route_snippet_decides() {
    let resources = mesh_model::load_str(BOOKINFO).expect("loads");
    let (host, subset) = examples::readme::decide(&resources).expect("compiles and decides");
    assert_eq!(
        (host.as_str(), subset.as_str()),
        ("reviews.bookinfo.svc.cluster.local", "v2")
    );
}

/// The layer snippet, on a folder holding shop's VirtualService and DestinationRule,
/// serves the subset's endpoint, other hosts from the inner router, and the metrics.
#[tokio::test]
async fn the_layer_snippet_routes() {
    let dir = std::env::temp_dir().join(format!("readme-layer-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("istio")).expect("temp dir");
    std::fs::write(
        dir.join("istio/shop.yaml"),
        "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop]
  http:
  - route: [{destination: {host: shop, subset: v2}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop}
spec:
  host: shop
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
",
    )
    .expect("write");
    let built = {
        let _cwd = CWD.lock().unwrap_or_else(|p| p.into_inner());
        examples::readme::layer(&dir)
    };
    let (app, handle, warnings) = built.expect("builds");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(warnings, 0);
    for (host, path, want) in [
        ("shop", "/", "v2"),
        ("elsewhere.example.com", "/", "passthrough"),
    ] {
        let req = http::Request::get(format!("http://{host}{path}"))
            .body(axum::body::Body::empty())
            .expect("request");
        let resp = app.clone().oneshot(req).await.expect("infallible");
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(&body[..], want.as_bytes(), "{host}");
    }
    let req = http::Request::get("http://admin/metrics")
        .body(axum::body::Body::empty())
        .expect("request");
    let resp = app.oneshot(req).await.expect("infallible");
    assert_eq!(
        resp.headers().get("content-type").map(|v| v.as_bytes()),
        Some(mesh::metrics::CONTENT_TYPE.as_bytes())
    );
    assert!(handle.metrics().encode().contains("istio_requests_total"));
}
