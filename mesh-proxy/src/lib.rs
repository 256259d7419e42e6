//! `mesh-proxy`: a reverse proxy driven only by Istio YAML.
//!
//! It listens for HTTP/1.1 and h2c, decides every request with the Istio resources it was
//! given (as a Gateway, or as a sidecar of a workload), and executes the decision with
//! `mesh-tower` against upstreams that come from ServiceEntry `endpoints`, so that subsets
//! select them by label exactly as in a cluster. The configuration files are watched: a
//! valid change is swapped in atomically, an invalid one is rejected with its findings
//! logged while the last good configuration keeps serving. The admin port serves
//! `/metrics` (Prometheus, Istio's metric names), `/config` and `/ready`.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

pub mod config;
pub mod listener;
pub mod proxy;
pub mod reload;

pub use config::{ConfigError, Settings, SpecJson, Summary};
pub use listener::ListenerLimits;
pub use proxy::{ReloadError, Running, StartError, start};
pub use reload::ReloadPolicy;
