//! `seed-ab-user-agent`: A/B by `User-Agent` behind a Gateway. Chrome goes to v1.0.0 and
//! other Mozilla browsers to v2.0.0; the regexes are full matches, so `.*Chrome.*` is needed,
//! and a real Chrome user agent (which also says "Mozilla") takes the first rule. Anything
//! else has no route (404).

use mesh_route::Identity;
use mesh_tower::Options;

use crate::app::{App, Error, Fleet, compile};
use crate::canary::on_port_80;

/// `scenarios/seed-ab-user-agent.yaml`, unchanged.
pub const YAML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../scenarios/seed-ab-user-agent.yaml"
));

/// A real Chrome user agent (it contains "Mozilla" too).
pub const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// A real Firefox user agent.
pub const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";

/// The app: the `default/http-gateway` Gateway over `my-app` v1.0.0 and v2.0.0.
pub fn app(options: Options) -> Result<App, Error> {
    let table = compile(YAML, &Identity::gateway("default", "http-gateway"))?;
    let mut fleet = Fleet::new();
    let host = "my-app.default.svc.cluster.local";
    fleet.version(host, "my-app-v1", "my-app", "v1.0.0");
    fleet.version(host, "my-app-v2", "my-app", "v2.0.0");
    Ok(fleet.app(table, on_port_80(options)))
}
