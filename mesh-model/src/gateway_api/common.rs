//! Types shared by the Gateway API kinds: references to parents and backends, header lists,
//! label selectors, and GEP-2257 durations.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::Duration;

pub(crate) fn default_gateway_group() -> String {
    super::GROUP.to_owned()
}

pub(crate) fn default_gateway_kind() -> String {
    "Gateway".to_owned()
}

pub(crate) fn default_service_kind() -> String {
    "Service".to_owned()
}

pub(crate) fn default_exact() -> String {
    "Exact".to_owned()
}

/// A reference from a route to its parent: a Gateway (optionally one listener, by
/// `sectionName` or `port`), or a Service for mesh routes (GAMMA).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParentReference {
    /// Group of the parent (default `gateway.networking.k8s.io`; `""` or `core` for a
    /// Service).
    #[serde(default = "default_gateway_group")]
    pub group: String,
    /// Kind of the parent (default `Gateway`).
    #[serde(default = "default_gateway_kind")]
    pub kind: String,
    /// Namespace of the parent; the route's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the parent.
    #[serde(default)]
    pub name: String,
    /// A listener name (Gateway) or port name (Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    /// A listener port (Gateway) or service port (Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
}

impl ParentReference {
    /// Whether the parent is a Gateway.
    pub fn is_gateway(&self) -> bool {
        self.group == super::GROUP && self.kind == "Gateway"
    }

    /// Whether the parent is a Kubernetes Service (a mesh route).
    pub fn is_service(&self) -> bool {
        (self.group.is_empty() || self.group == "core") && self.kind == "Service"
    }

    /// The parent's namespace: its own, or the route's.
    pub fn namespace_or<'a>(&'a self, route_namespace: &'a str) -> &'a str {
        self.namespace.as_deref().unwrap_or(route_namespace)
    }
}

/// A reference to a backend: by default a Service port in the route's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendObjectReference {
    /// Group (default `""`, the core group).
    #[serde(default)]
    pub group: String,
    /// Kind (default `Service`).
    #[serde(default = "default_service_kind")]
    pub kind: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Namespace; the route's own when absent (another namespace needs a ReferenceGrant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Port (required for a Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
}

impl BackendObjectReference {
    /// Whether the backend is a Kubernetes Service.
    pub fn is_service(&self) -> bool {
        (self.group.is_empty() || self.group == "core") && self.kind == "Service"
    }

    /// The backend's namespace: its own, or the route's.
    pub fn namespace_or<'a>(&'a self, route_namespace: &'a str) -> &'a str {
        self.namespace.as_deref().unwrap_or(route_namespace)
    }
}

/// A header name and value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpHeader {
    /// Name (case-insensitive).
    #[serde(default)]
    pub name: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// `RequestHeaderModifier` / `ResponseHeaderModifier`: headers to set, add and remove.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderFilter {
    /// Overwrite these headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<HttpHeader>,
    /// Append these headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<HttpHeader>,
    /// Remove these headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

/// A Kubernetes label selector.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    /// Labels that must be equal.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One set-based requirement of a [`LabelSelector`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelectorRequirement {
    /// The label key.
    #[serde(default)]
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    #[serde(default)]
    pub operator: String,
    /// Values for `In` and `NotIn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// Why a [`LabelSelector`] cannot be evaluated: what the API server's selector validation
/// rejects. Display gives its message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// `In` or `NotIn` without values.
    #[error(
        "values: Required value: must be specified when `operator` is 'In' or 'NotIn' (key {key:?})"
    )]
    ValuesRequired {
        /// The requirement's label key.
        key: String,
    },
    /// `Exists` or `DoesNotExist` with values.
    #[error(
        "values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist' (key {key:?})"
    )]
    ValuesForbidden {
        /// The requirement's label key.
        key: String,
    },
    /// An operator Kubernetes does not know.
    #[error("operator: Invalid value: {operator:?}: not a valid selector operator")]
    UnknownOperator {
        /// The operator as written.
        operator: String,
    },
}

impl LabelSelector {
    /// Whether `labels` satisfy the selector, as Kubernetes evaluates it (an empty selector
    /// selects everything). An error names an operator Kubernetes does not know, or values
    /// given where none are allowed (the API server's selector validation).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> Result<bool, SelectorError> {
        let mut all = self
            .match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v));
        for r in &self.match_expressions {
            let value = labels.get(&r.key);
            let ok = match r.operator.as_str() {
                "In" | "NotIn" if r.values.is_empty() => {
                    return Err(SelectorError::ValuesRequired { key: r.key.clone() });
                }
                "In" => value.is_some_and(|v| r.values.contains(v)),
                "NotIn" => value.is_none_or(|v| !r.values.contains(v)),
                "Exists" | "DoesNotExist" if !r.values.is_empty() => {
                    return Err(SelectorError::ValuesForbidden { key: r.key.clone() });
                }
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                other => {
                    return Err(SelectorError::UnknownOperator {
                        operator: other.to_owned(),
                    });
                }
            };
            all &= ok;
        }
        Ok(all)
    }
}

/// Parses a Gateway API duration (GEP-2257: `^([0-9]{1,5}(h|m|s|ms)){1,4}$`, e.g. `1h30m`,
/// `500ms`); `None` when the text does not follow the grammar.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut parts = 0;
    let mut total: i64 = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = i - start;
        if digits == 0 || digits > 5 {
            return None;
        }
        let n: i64 = s[start..i].parse().ok()?;
        let unit_ms: i64 = match (b.get(i), b.get(i + 1)) {
            (Some(b'm'), Some(b's')) => {
                i += 2;
                1
            }
            (Some(b'h'), _) => {
                i += 1;
                3_600_000
            }
            (Some(b'm'), _) => {
                i += 1;
                60_000
            }
            (Some(b's'), _) => {
                i += 1;
                1_000
            }
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit_ms)?)?;
        parts += 1;
        if parts > 4 {
            return None;
        }
    }
    (parts > 0).then(|| Duration::from_millis(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GEP-2257 durations: one to four `<digits><unit>` parts, units h, m, s, ms, summed.
    #[test]
    fn gep_2257_durations() {
        assert_eq!(parse_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        assert_eq!(
            parse_duration("1m1s1ms1h"),
            Some(Duration::from_millis(3_661_001))
        );
        for bad in ["", "1", "1d", "123456s", "1s1s1s1s1s", "1.5s", "-1s", "s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    /// Label selectors: matchLabels AND every expression; an empty selector selects all.
    #[test]
    fn label_selectors() {
        let labels: BTreeMap<String, String> = [("env".to_owned(), "prod".to_owned())]
            .into_iter()
            .collect();
        assert_eq!(LabelSelector::default().matches(&labels), Ok(true));
        let sel = LabelSelector {
            match_labels: labels.clone(),
            match_expressions: vec![LabelSelectorRequirement {
                key: "team".into(),
                operator: "DoesNotExist".into(),
                values: vec![],
            }],
        };
        assert_eq!(sel.matches(&labels), Ok(true));
        let sel = LabelSelector {
            match_expressions: vec![LabelSelectorRequirement {
                key: "env".into(),
                operator: "NotIn".into(),
                values: vec!["prod".into()],
            }],
            ..LabelSelector::default()
        };
        assert_eq!(sel.matches(&labels), Ok(false));
        let bad = LabelSelector {
            match_expressions: vec![LabelSelectorRequirement {
                key: "env".into(),
                operator: "Like".into(),
                values: vec![],
            }],
            ..LabelSelector::default()
        };
        assert_eq!(
            bad.matches(&labels),
            Err(SelectorError::UnknownOperator {
                operator: "Like".into()
            })
        );
        assert_eq!(
            bad.matches(&labels).unwrap_err().to_string(),
            "operator: Invalid value: \"Like\": not a valid selector operator"
        );
        for (operator, values, want) in [
            (
                "In",
                vec![],
                SelectorError::ValuesRequired { key: "env".into() },
            ),
            (
                "Exists",
                vec!["x".to_owned()],
                SelectorError::ValuesForbidden { key: "env".into() },
            ),
        ] {
            let sel = LabelSelector {
                match_expressions: vec![LabelSelectorRequirement {
                    key: "env".into(),
                    operator: operator.into(),
                    values,
                }],
                ..LabelSelector::default()
            };
            assert_eq!(sel.matches(&labels), Err(want));
        }
    }
}
