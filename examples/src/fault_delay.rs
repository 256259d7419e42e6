//! `seed-fault-delay`: every request to `my-app` is held 7 s by the fault filter, then routed
//! to `ratings` v2 (the scenario uses the deprecated integer `percent: 100`). The delay is
//! injected before routing, so it would not count against a route timeout. Send
//! `Host: my-app`.

use mesh_route::Identity;
use mesh_tower::Options;

use crate::app::{App, Error, Fleet, compile};

/// `scenarios/seed-fault-delay.yaml`, unchanged.
pub const YAML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../scenarios/seed-fault-delay.yaml"
));

/// The app: productpage's sidecar in `default` over `ratings` v1 and v2.
pub fn app(options: Options) -> Result<App, Error> {
    let identity =
        Identity::sidecar_with_labels("default", [("app", "productpage"), ("version", "v1")]);
    let table = compile(YAML, &identity)?;
    let mut fleet = Fleet::new();
    let host = "ratings.default.svc.cluster.local";
    fleet.version(host, "ratings-v1", "ratings", "v1");
    fleet.version(host, "ratings-v2", "ratings", "v2");
    Ok(fleet.app(table, options))
}
