//! `seed-cookie-user`: the user whose cookie says `user=jason` sees reviews v2, everyone
//! else v1 (Bookinfo's regex `^(.*?;)?(user=jason)(;.*)?$`, a full match: a browser-style
//! `theme=dark; user=jason`, with a space, does not match it). The app is the sidecar of
//! `productpage` v1 in `default`; send `Host: reviews`.

use mesh_route::Identity;
use mesh_tower::Options;

use crate::app::{App, Error, Fleet, compile};

/// `scenarios/seed-cookie-user.yaml`, unchanged.
pub const YAML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../scenarios/seed-cookie-user.yaml"
));

/// The app: productpage's sidecar over `reviews` v1 and v2.
pub fn app(options: Options) -> Result<App, Error> {
    let identity =
        Identity::sidecar_with_labels("default", [("app", "productpage"), ("version", "v1")]);
    let table = compile(YAML, &identity)?;
    let mut fleet = Fleet::new();
    let host = "reviews.default.svc.cluster.local";
    fleet.version(host, "reviews-v1", "reviews", "v1");
    fleet.version(host, "reviews-v2", "reviews", "v2");
    Ok(fleet.app(table, options))
}
