//! Istio's validation rules for the four networking kinds, with Istio's own message texts,
//! and the cross-resource checks of `istioctl analyze` that need no cluster; for the Gateway
//! API kinds, the CRDs' validation (errors) and the status conditions a controller would
//! write (warnings coded `Accepted=False`, `ResolvedRefs=False`, `Conflicted=True`).
//!
//! Rules come from `istio/istio` `pkg/config/validation` (`validation.go`,
//! `virtualservice.go`, `agent/validation.go`) and the analyzers of
//! `pkg/config/analysis/analyzers`. Each finding names the resource, the field path and the
//! line it was read from; severities are Istio's (an error rejects the resource, a warning
//! is accepted and printed).

use std::fmt;

use serde::Serialize;

use crate::resource::{Kind, Origin, ResourceKey, Resources};

mod analyze;
pub(crate) mod common;
mod destination_rule;
mod gateway;
mod gateway_api;
mod service_entry;
mod virtual_service;

pub use analyze::analyze;

use crate::gateway_api::schema::Schemas;

/// How serious a finding is, as Istio classes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Istio rejects the resource (or `istioctl analyze` reports an error).
    Error,
    /// Accepted, but probably not what was meant.
    Warning,
    /// Informational (`istioctl analyze` Info level).
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// One problem found in one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Error, warning or info.
    pub severity: Severity,
    /// The `istioctl analyze` code (`IST0101`, ...) for cross-resource checks.
    pub code: Option<&'static str>,
    /// The resource.
    pub resource: ResourceKey,
    /// Field path inside the resource, e.g. `spec.http[1].route[0].weight`.
    pub path: String,
    /// Istio's message.
    pub message: String,
    /// File and line of the field.
    pub origin: Origin,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<7}  {}  ", self.severity, self.resource)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        if let Some(code) = self.code {
            write!(f, "{code} ")?;
        }
        write!(f, "{}  ({})", self.message, self.origin)
    }
}

/// All findings for a set of resources, in the order of the resources.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The findings.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }
}

/// Validates every resource with Istio's per-resource rules, then runs the cross-resource
/// analyzers.
pub fn validate(resources: &Resources) -> Report {
    let mut findings = Vec::new();
    for r in &resources.virtual_services {
        findings.extend(virtual_service::validate(r));
    }
    for r in &resources.destination_rules {
        findings.extend(destination_rule::validate(r));
    }
    for r in &resources.gateways {
        findings.extend(gateway::validate(r));
    }
    for r in &resources.service_entries {
        findings.extend(service_entry::validate(r));
    }
    findings.extend(gateway_api::validate_all(resources));
    findings.extend(analyze(resources));
    findings.extend(gateway_api::status(resources));
    Report { findings }
}

/// The CRD validation of every Gateway API resource of `resources` (the errors the API
/// server would reject them with; no status conditions).
pub fn validate_gateway_api(resources: &Resources) -> Vec<Finding> {
    gateway_api::validate_all(resources)
}

/// Validates one resource of any kind with Istio's per-resource rules, or a Gateway API
/// resource with its CRD's (no analyzers).
pub fn validate_resource(r: &crate::resource::AnyResource) -> Vec<Finding> {
    use crate::resource::AnyResource;
    match r {
        AnyResource::VirtualService(r) => virtual_service::validate(r),
        AnyResource::DestinationRule(r) => destination_rule::validate(r),
        AnyResource::Gateway(r) => gateway::validate(r),
        AnyResource::ServiceEntry(r) => service_entry::validate(r),
        AnyResource::KubernetesGateway(r) => gateway_api::validate_one(&Schemas::new(), r),
        AnyResource::GatewayClass(r) => gateway_api::validate_one(&Schemas::new(), r),
        AnyResource::HttpRoute(r) => gateway_api::validate_one(&Schemas::new(), r),
        AnyResource::GrpcRoute(r) => gateway_api::validate_one(&Schemas::new(), r),
        AnyResource::ReferenceGrant(r) => gateway_api::validate_one(&Schemas::new(), r),
    }
}

/// Collects findings for one resource; paths are relative to the resource root.
#[derive(Debug)]
pub(crate) struct Sink<'a> {
    key: ResourceKey,
    origin: &'a Origin,
    findings: Vec<Finding>,
}

impl<'a> Sink<'a> {
    pub(crate) fn new<S: crate::resource::Spec>(r: &'a crate::resource::Resource<S>) -> Self {
        Sink {
            key: r.key(),
            origin: &r.origin,
            findings: Vec::new(),
        }
    }

    /// Records a finding.
    pub(crate) fn push(
        &mut self,
        severity: Severity,
        code: Option<&'static str>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) {
        let path = path.into();
        self.findings.push(Finding {
            severity,
            code,
            origin: self.origin.at_path(&path),
            resource: self.key.clone(),
            path,
            message: message.into(),
        });
    }

    /// Records an error.
    pub(crate) fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Error, None, path, message);
    }

    /// Records a warning.
    pub(crate) fn warning(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Warning, None, path, message);
    }

    /// Records the error of a check, if it failed.
    pub(crate) fn check(&mut self, path: impl Into<String>, result: Result<(), String>) {
        if let Err(m) = result {
            self.error(path, m);
        }
    }

    /// Records every error of a check.
    pub(crate) fn check_all(&mut self, path: &str, errors: Vec<String>) {
        for m in errors {
            self.error(path, m);
        }
    }

    /// The findings.
    pub(crate) fn finish(self) -> Vec<Finding> {
        self.findings
    }

    /// The resource's namespace.
    pub(crate) fn namespace(&self) -> &str {
        &self.key.namespace
    }
}

/// Validates `metadata.name` as the API server would: required, and a DNS-1123 subdomain.
pub(crate) fn validate_metadata(sink: &mut Sink<'_>, kind: Kind, name: &str) {
    if name.is_empty() {
        sink.error(
            "metadata.name",
            format!("{kind} must have a name (metadata.name: Required value)"),
        );
    } else if !common::is_dns1123_subdomain(name) {
        sink.error(
            "metadata.name",
            format!(
                "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            ),
        );
    }
}

#[cfg(test)]
mod tests;
