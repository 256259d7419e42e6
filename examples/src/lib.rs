//! Runnable examples of `mesh-tower`: each seed scenario's Istio YAML, unchanged (read from
//! `scenarios/` at compile time), served in-process by an axum app whose `MeshLayer` routes
//! to in-process backends that answer with their name and version.
//!
//! Each module builds one app; `src/bin/` serves each on 127.0.0.1 (`PORT`, default any
//! free port) and prints a `curl` line; `tests/` drives each through real HTTP.
//!
//! | module | scenario | binary | shows |
//! |---|---|---|---|
//! | [`canary`] | `seed-canary-gateway`, `seed-weather-canary` | `canary-gateway`, `weather-canary` | a 90/10 split behind a Gateway |
//! | [`ab_user_agent`] | `seed-ab-user-agent` | `ab-user-agent` | A/B by `User-Agent` regex |
//! | [`cookie_user`] | `seed-cookie-user` | `cookie-user` | one user (by cookie) sees v2 |
//! | [`mirror`] | `seed-mirror` | `mirror` | every request shadowed to v2 |
//! | [`fault_delay`] | `seed-fault-delay` | `fault-delay` | a 7 s injected delay |
//! | [`split_retries`] | `seed-split-retries` | `split-retries` | retries against a flaky backend, and a 90/10 split |
//! | [`bookinfo`] | `seed-bookinfo-reviews-ratings` | `bookinfo` | reviews 25/25/50, ratings by the caller's labels |
//!
//! [`readme`] holds the README's Rust snippets, compiled and run by `tests/readme.rs`.
//!
//! `cargo run -p examples --bin canary-gateway` prints its address and `curl` lines to try.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

pub mod ab_user_agent;
pub mod app;
pub mod bookinfo;
pub mod canary;
pub mod cookie_user;
pub mod fault_delay;
pub mod mirror;
pub mod readme;
pub mod serve;
pub mod split_retries;

pub use app::{App, Error};
