//! Istio's networking resources as Rust types: `VirtualService`, `DestinationRule`,
//! `Gateway` and `ServiceEntry`, field for field as `istio/api` defines them, read from the
//! same YAML or JSON that `kubectl apply` takes, and checked with Istio's own validation
//! rules and messages.
//!
//! The crate does no I/O: it parses the text and bytes it is given ([`Loader::load_str`],
//! [`Loader::load_bytes`], with an optional file name for positions). Reading files, folders
//! and ConfigMap volumes is the `mesh-load` crate's (`mesh_load::LoadFiles`).
//!
//! ```
//! use mesh_model::{load_str, validate::validate};
//!
//! let resources = load_str(
//!     r#"
//! apiVersion: networking.istio.io/v1
//! kind: VirtualService
//! metadata: {name: reviews, namespace: bookinfo}
//! spec:
//!   hosts: [reviews]
//!   http:
//!   - route:
//!     - destination: {host: reviews, subset: v1}
//!       weight: 90
//!     - destination: {host: reviews, subset: v2}
//!       weight: 10
//! "#,
//! )?;
//! let vs = &resources.virtual_services[0];
//! assert_eq!(vs.key().to_string(), "VirtualService bookinfo/reviews");
//! assert_eq!(vs.spec.http[0].route[1].weight, 10);
//!
//! let report = validate(&resources);
//! assert!(!report.has_errors());
//! # Ok::<(), mesh_model::LoadError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

pub mod destination_rule;
pub mod duration;
pub mod gateway;
pub mod gateway_api;
pub mod host;
pub mod kubernetes;
pub mod load;
pub mod percent;
mod proto_enum;
pub mod resource;
pub mod rollout;
pub mod service_entry;
pub mod validate;
pub mod vec_map;
pub mod virtual_service;
mod yaml;

pub use destination_rule::DestinationRule;
pub use duration::Duration;
pub use gateway::Gateway;
pub use load::{
    Duplicates, ForeignDocument, Limits, LoadError, Loaded, Loader, Position, Replaced, Skipped,
    load_str,
};
pub use percent::Percent;
pub use resource::{
    AnyResource, ApiVersion, Kind, ObjectMeta, Origin, Resource, ResourceKey, Resources, Spec,
    Timestamp,
};
pub use service_entry::ServiceEntry;
pub use virtual_service::VirtualService;

/// Serializes a resource (or any model value) as YAML, as `kubectl get -o yaml` would print
/// it. Fails only for a value that does not serialize to JSON's data model (a map with
/// non-string keys, say).
pub fn to_yaml<T: serde::Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let json = serde_json::to_value(value)?;
    yaml::to_yaml_string(&json).map_err(<serde_json::Error as serde::ser::Error>::custom)
}
