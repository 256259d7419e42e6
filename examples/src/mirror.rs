//! `seed-mirror`: users are served by `service2` v1 while v2 gets a copy of every request,
//! fire-and-forget: v2's answers are discarded and its slowness or failures never reach the
//! client. The copy keeps the Host (Istio 1.28+; `Options.shadow_host_suffix` appends
//! `-shadow` as older Istio did). Send `Host: service2`.

use mesh_route::Identity;
use mesh_tower::Options;

use crate::app::{App, Error, Fleet, compile};

/// `scenarios/seed-mirror.yaml`, unchanged.
pub const YAML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../scenarios/seed-mirror.yaml"
));

/// The app: a sidecar in `default` over `service2` v1 (`service2-v1`) and the mirror v2
/// (`service2-v2`).
pub fn app(options: Options) -> Result<App, Error> {
    let table = compile(YAML, &Identity::sidecar("default"))?;
    let mut fleet = Fleet::new();
    let host = "service2.default.svc.cluster.local";
    fleet.version(host, "service2-v1", "service2", "v1");
    fleet.version(host, "service2-v2", "service2", "v2");
    Ok(fleet.app(table, options))
}
