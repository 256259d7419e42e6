//! Validation tests: each rule has a YAML that breaks it and Istio's exact message.

mod analyze;
mod destination_rule;
mod gateway;
mod service_entry;
pub(crate) mod support;
mod virtual_service;
