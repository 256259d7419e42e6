//! Istio's routing decision, in-process: compile VirtualServices, DestinationRules,
//! Gateways and ServiceEntries into an immutable [`RouteTable`] for one proxy identity (a
//! sidecar, or a named Gateway), then [`decide`](RouteTable::decide) each request exactly as
//! Istio's Envoy would: which VirtualService and rule, which destination and subset, and every
//! policy that applies, with Istio's defaults.
//!
//! Randomness is an input: the caller passes a uniform `u64` sample for the weighted split,
//! so decisions are reproducible.
//!
//! ```
//! use mesh_match::{RequestView, PathNormalization, normalize_target};
//! use mesh_route::{CompileOptions, Decision, Identity, RouteTable};
//!
//! let resources = mesh_model::load_str(r#"
//! apiVersion: networking.istio.io/v1
//! kind: VirtualService
//! metadata: {name: reviews, namespace: bookinfo}
//! spec:
//!   hosts: [reviews]
//!   http:
//!   - match:
//!     - headers: {end-user: {exact: jason}}
//!     route:
//!     - destination: {host: reviews, subset: v2}
//!   - route:
//!     - destination: {host: reviews, subset: v1}
//! "#)?;
//! let table = RouteTable::compile(&resources, &Identity::sidecar("bookinfo"), &CompileOptions::default())?;
//!
//! let mut headers = http::HeaderMap::new();
//! headers.insert("end-user", "jason".parse()?);
//! let path = normalize_target("/reviews/0", PathNormalization::Base)?;
//! let view = RequestView::new("GET", "http", "reviews:9080", &path, &headers);
//! match table.decide(&view, 0) {
//!     Decision::Route { target, .. } => {
//!         assert_eq!(target.host(), "reviews.bookinfo.svc.cluster.local");
//!         assert_eq!(target.subset(), "v2");
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

pub mod compare;
pub mod decision;
mod delegate;
pub mod destination;
pub mod error;
pub mod gateway_api;
pub mod identity;
mod index;
pub mod policy;
pub mod rollout;
pub mod rule;
pub mod sticky;
pub mod table;
mod unexecuted;
pub mod upstream;

pub use decision::{Decision, Matched, NoRoute, Target};
pub use destination::RouteDestination;
pub use error::{CompileError, Problem, Warning};
pub use identity::Identity;
pub use index::MAX_HOST_LEN;
pub use policy::headers::Side;
pub use rule::{Action, Mirror, RouteEntry, Rule, RuleNames, Split};
pub use sticky::{STICKY_ANNOTATION, StickyKey, StickyKeyError, stable_hash};
pub use table::{CompileOptions, RouteTable, VirtualHost};
pub use upstream::{UpstreamEndpoint, UpstreamPort};

/// Host names as Istio resolves them (short names, service FQDNs, wildcards).
pub use mesh_model::host;
