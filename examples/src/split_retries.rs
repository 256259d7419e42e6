//! `seed-split-retries`: a 90/10 split of `service2` between v1 and v2, and for requests
//! with `x-retry-test: yes` an explicit policy, `retries: {attempts: 5, perTryTimeout: 10s}`.
//!
//! Here v1 is flaky: it refuses the first two connection attempts of every request (as a
//! crash-looping pod would), and answers the third. Both rules hide that from clients: the
//! explicit policy has 5 retries, and the split rule gets Istio's default policy (2 retries
//! on `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes`).
//! Neither has `retryOn: 5xx`, so a 503 that v1 answers itself (path `/unavailable`) is
//! returned as is, never retried (Istio 1.24+). Send `Host: service2`.

use http::{Request, Response, StatusCode};
use mesh_route::Identity;
use mesh_tower::body::{self, BoxBody};
use mesh_tower::{BoxError, ConnectFailure, Options, RouteInfo};
use tower::service_fn;

use crate::app::{App, Error, Fleet, compile};

/// `scenarios/seed-split-retries.yaml`, unchanged.
pub const YAML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../scenarios/seed-split-retries.yaml"
));

/// The app: a sidecar in `default` over the flaky `service2` v1 (`service2-v1`) and v2
/// (`service2-v2`).
pub fn app(options: Options) -> Result<App, Error> {
    let table = compile(YAML, &Identity::sidecar("default"))?;
    let mut fleet = Fleet::new();
    let host = "service2.default.svc.cluster.local";
    let flaky = service_fn(move |req: Request<BoxBody>| {
        // The mesh tells each attempt its number.
        let attempt = req.extensions().get::<RouteInfo>().map_or(0, |i| i.attempt);
        async move {
            if attempt < 2 {
                return Err(BoxError::from(ConnectFailure("connection refused".into())));
            }
            let mut resp = Response::new(body::full(format!(
                "service2 v1 (answered attempt {attempt})\n"
            )));
            if req.uri().path() == "/unavailable" {
                *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            }
            Ok::<_, BoxError>(resp)
        }
    });
    fleet.endpoint(
        host,
        "service2-v1",
        &[("app", "service2"), ("version", "v1")],
        flaky,
    );
    fleet.version(host, "service2-v2", "service2", "v2");
    Ok(fleet.app(table, options))
}
