//! Validation tests: each rule has a YAML that breaks it and Istio's exact message.

pub(crate) mod support;
mod analyze;
mod virtual_service;
mod destination_rule;
mod gateway;
mod service_entry;
