//! `seed-canary-gateway` and `seed-weather-canary`: a 90/10 canary behind an ingress
//! Gateway. The Gateway serves port 80 for any host, so the app matches requests as arriving
//! on port 80 (`Options.listener_port`), whatever port it really listens on.
//!
//! In `seed-canary-gateway` the rule matches the prefix `/my-app` and rewrites it to `/`, so
//! `/my-app/orders` reaches the backend as `//orders` (Istio's known quirk); other paths get
//! 404 (there is no default rule).

use mesh_route::Identity;
use mesh_tower::Options;

use crate::app::{App, Error, Fleet, compile};

/// `scenarios/seed-canary-gateway.yaml`, unchanged.
pub const CANARY_YAML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../scenarios/seed-canary-gateway.yaml"
));

/// `scenarios/seed-weather-canary.yaml`, unchanged.
pub const WEATHER_YAML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../scenarios/seed-weather-canary.yaml"
));

/// Matches requests as arriving on the Gateway server's port 80, unless told otherwise.
pub(crate) fn on_port_80(options: Options) -> Options {
    Options {
        listener_port: options.listener_port.or(Some(80)),
        ..options
    }
}

/// The `my-app` canary: the `default/http-gateway` Gateway, 90% to `my-app` v1.0.0 and 10%
/// to v2.0.0 under `/my-app`.
pub fn my_app(options: Options) -> Result<App, Error> {
    let table = compile(CANARY_YAML, &Identity::gateway("default", "http-gateway"))?;
    let mut fleet = Fleet::new();
    let host = "my-app.default.svc.cluster.local";
    fleet.version(host, "my-app-v1", "my-app", "v1.0.0");
    fleet.version(host, "my-app-v2", "my-app", "v2.0.0");
    Ok(fleet.app(table, on_port_80(options)))
}

/// The weather canary: the `default/weather-gateway` Gateway, 90% to `weather-service` v1
/// and 10% to v2, for every path.
pub fn weather(options: Options) -> Result<App, Error> {
    let table = compile(
        WEATHER_YAML,
        &Identity::gateway("default", "weather-gateway"),
    )?;
    let mut fleet = Fleet::new();
    let host = "weather-service.default.svc.cluster.local";
    fleet.version(host, "weather-v1", "weather-service", "v1");
    fleet.version(host, "weather-v2", "weather-service", "v2");
    Ok(fleet.app(table, on_port_80(options)))
}
