//! Helpers for validation tests.

use crate::load::Loader;
use crate::validate::{Finding, Severity, validate};

/// Loads `yaml` (which must load) and validates it.
pub(crate) fn findings(yaml: &str) -> Vec<Finding> {
    let loaded = Loader::new().load_str(yaml, None);
    assert!(loaded.errors.is_empty(), "load errors: {:?}", loaded.errors);
    validate(&loaded.resources).findings
}

/// Asserts that validating `yaml` yields a finding of `severity` at `path` with exactly
/// `message`.
#[track_caller]
pub(crate) fn assert_finding(yaml: &str, severity: Severity, path: &str, message: &str) {
    let all = findings(yaml);
    assert!(
        all.iter()
            .any(|f| f.severity == severity && f.path == path && f.message == message),
        "expected {severity} at {path:?}: {message:?}\ngot:\n{}",
        all.iter()
            .map(|f| format!("  {f}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Asserts that validating `yaml` yields no error.
#[track_caller]
pub(crate) fn assert_no_errors(yaml: &str) {
    let all = findings(yaml);
    let errors: Vec<_> = all
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "unexpected errors:\n{errors:#?}");
}
