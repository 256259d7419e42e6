//! `seed-bookinfo-reviews-ratings`: productpage's calls to `reviews` split 25/25/50 over v1,
//! v2 and v3; each reviews version calls `ratings` through its own sidecar, and the ratings
//! VirtualService picks by the caller's labels (`sourceLabels`): reviews v3 gets ratings v2,
//! reviews v2 gets ratings v1, and reviews v1 matches no rule (404).
//!
//! `sourceLabels` is decided when a proxy's table is compiled, not per request: each
//! reviews version has its own `MeshLayer`, compiled for its own identity, as each pod has
//! its own sidecar. The app is productpage's sidecar; send `Host: reviews:9080`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;

use axum::Router;
use axum::extract::Path;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use mesh_route::Identity;
use mesh_tower::body::{self, BoxBody};
use mesh_tower::{Backends, Endpoint, MeshLayer, Options};
use tower::{ServiceBuilder, ServiceExt, service_fn};

use crate::app::{App, Error, Fleet, compile, version_backend};

/// `scenarios/seed-bookinfo-reviews-ratings.yaml`, unchanged.
pub const YAML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../scenarios/seed-bookinfo-reviews-ratings.yaml"
));

const RATINGS: &str = "ratings.bookinfo.svc.cluster.local";
const REVIEWS: &str = "reviews.bookinfo.svc.cluster.local";

/// The ratings backends, v1 and v2.
fn ratings() -> Backends {
    Backends::new()
        .with(
            RATINGS,
            Endpoint::new(
                "ratings-v1",
                [("app", "ratings"), ("version", "v1")],
                version_backend("ratings", "v1"),
            ),
        )
        .with(
            RATINGS,
            Endpoint::new(
                "ratings-v2",
                [("app", "ratings"), ("version", "v2")],
                version_backend("ratings", "v2"),
            ),
        )
}

/// reviews `version`: answers `reviews <version> -> <what ratings answered>`, calling
/// `http://ratings:9080/ratings/<id>` through its own sidecar (a `MeshLayer` compiled for
/// `app=reviews,version=<version>`).
fn reviews(version: &'static str, options: &Options) -> Result<Router, Error> {
    let identity =
        Identity::sidecar_with_labels("bookinfo", [("app", "reviews"), ("version", version)]);
    let table = compile(YAML, &identity)?;
    let nothing_else = service_fn(|_req: Request<BoxBody>| async {
        let mut r = Response::new(body::empty());
        *r.status_mut() = StatusCode::BAD_GATEWAY;
        Ok::<_, Infallible>(r)
    });
    let sidecar = ServiceBuilder::new()
        .layer(MeshLayer::with_options(table, ratings(), options.clone()))
        .service(nothing_else);
    let handler = move |Path(id): Path<String>| {
        // Boxed here, where the types are concrete: an async block holding the `Oneshot`
        // itself trips rustc's check that axum's handler future is `Send`.
        let call: Pin<Box<dyn Future<Output = Result<Response<BoxBody>, Infallible>> + Send>> =
            match Request::get(format!("http://ratings:9080/ratings/{id}")).body(body::empty()) {
                Ok(req) => Box::pin(sidecar.clone().oneshot(req)),
                Err(_) => {
                    let mut bad = Response::new(body::empty());
                    *bad.status_mut() = StatusCode::BAD_REQUEST;
                    Box::pin(std::future::ready(Ok(bad)))
                }
            };
        async move {
            let resp = match call.await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            let status = resp.status();
            let text = match resp.into_body().collect().await {
                Ok(b) => String::from_utf8_lossy(&b.to_bytes()).trim().to_owned(),
                Err(_) => String::new(),
            };
            if status.is_success() {
                format!("reviews {version} -> {text}\n")
            } else {
                format!("reviews {version} -> no ratings ({status})\n")
            }
        }
    };
    Ok(Router::new().route("/reviews/{id}", axum::routing::get(handler)))
}

/// The app: productpage's sidecar (`app=productpage,version=v1` in `bookinfo`) over reviews
/// v1, v2 and v3 (`reviews-v1`...), which call ratings v1 and v2 through their own sidecars.
pub fn app(options: Options) -> Result<App, Error> {
    let identity =
        Identity::sidecar_with_labels("bookinfo", [("app", "productpage"), ("version", "v1")]);
    let table = compile(YAML, &identity)?;
    let mut fleet = Fleet::new();
    for version in ["v1", "v2", "v3"] {
        fleet.endpoint(
            REVIEWS,
            &format!("reviews-{version}"),
            &[("app", "reviews"), ("version", version)],
            reviews(version, &options)?,
        );
    }
    Ok(fleet.app(table, options))
}
