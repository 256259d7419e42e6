//! The proxy a route table is compiled for.

use std::collections::BTreeMap;
use std::fmt;

/// Which proxy decides: a sidecar (the `mesh` gateway) of a workload, or a named Gateway.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Identity {
    /// A sidecar of a workload in `namespace` with `labels`.
    Sidecar {
        /// The workload's namespace.
        namespace: String,
        /// The workload's labels (matched by `sourceLabels` and DestinationRule selectors).
        labels: BTreeMap<String, String>,
    },
    /// The proxy of the Gateway `namespace/name`.
    Gateway {
        /// The Gateway's namespace.
        namespace: String,
        /// The Gateway's name.
        name: String,
    },
}

impl Identity {
    /// A sidecar in `namespace` with no labels.
    pub fn sidecar(namespace: impl Into<String>) -> Self {
        Identity::Sidecar {
            namespace: namespace.into(),
            labels: BTreeMap::new(),
        }
    }

    /// A sidecar in `namespace` with `labels`.
    pub fn sidecar_with_labels<K: Into<String>, V: Into<String>>(
        namespace: impl Into<String>,
        labels: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Identity::Sidecar {
            namespace: namespace.into(),
            labels: labels
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The Gateway `namespace/name`.
    pub fn gateway(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Identity::Gateway {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Parses `namespace/name` as a Gateway identity.
    pub fn parse_gateway(s: &str) -> Option<Self> {
        let (ns, name) = s.split_once('/')?;
        (!ns.is_empty() && !name.is_empty() && !name.contains('/'))
            .then(|| Identity::gateway(ns, name))
    }

    /// The proxy's namespace.
    pub fn namespace(&self) -> &str {
        match self {
            Identity::Sidecar { namespace, .. } | Identity::Gateway { namespace, .. } => namespace,
        }
    }

    /// The gateway name rules are selected by: `mesh`, or `namespace/name`.
    pub fn gateway_name(&self) -> String {
        match self {
            Identity::Sidecar { .. } => "mesh".to_owned(),
            Identity::Gateway { namespace, name } => format!("{namespace}/{name}"),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Sidecar { namespace, labels } => {
                write!(f, "sidecar in {namespace}")?;
                if !labels.is_empty() {
                    let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    write!(f, " ({})", l.join(","))?;
                }
                Ok(())
            }
            Identity::Gateway { namespace, name } => write!(f, "gateway {namespace}/{name}"),
        }
    }
}
