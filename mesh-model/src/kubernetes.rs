//! What the loader keeps of the Kubernetes objects it skips: Services (hosts, ports and their
//! `appProtocol`), Namespaces (labels) and workloads (pod labels). The analyzers use them to
//! check references the way `istioctl analyze` does against a cluster, and the Gateway API
//! resolves backendRefs and `allowedRoutes` namespace selectors with them, when the input
//! includes them.

use std::collections::BTreeMap;

use crate::resource::Origin;

/// A Kubernetes `Service`: its name, namespace, ports and pod selector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubeService {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Ports.
    pub ports: Vec<KubeServicePort>,
    /// Pod selector.
    pub selector: BTreeMap<String, String>,
    /// Where it was read from.
    pub origin: Origin,
}

impl KubeService {
    /// `name.namespace.svc.cluster.local`.
    pub fn fqdn(&self) -> String {
        format!(
            "{}.{}.svc.{}",
            self.name,
            self.namespace,
            crate::host::CLUSTER_DOMAIN
        )
    }
}

/// A port of a Kubernetes Service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubeServicePort {
    /// Port number.
    pub port: u32,
    /// Port name.
    pub name: String,
    /// Protocol (`TCP` by default).
    pub protocol: String,
    /// `appProtocol` (e.g. `kubernetes.io/h2c`, `kubernetes.io/ws`, `http`), when set.
    pub app_protocol: Option<String>,
}

/// A Kubernetes `Namespace` and its labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubeNamespace {
    /// Name.
    pub name: String,
    /// Labels (the API server's `kubernetes.io/metadata.name` label included).
    pub labels: BTreeMap<String, String>,
    /// Where it was read from.
    pub origin: Origin,
}

/// A workload (Pod, or the pod template of a Deployment, StatefulSet, DaemonSet, ReplicaSet
/// or Job): where its pods run and their labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Workload {
    /// The Kubernetes kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels of its pods.
    pub pod_labels: BTreeMap<String, String>,
    /// Where it was read from.
    pub origin: Origin,
}

/// The Kubernetes objects found beside the Istio resources.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kubernetes {
    /// Services.
    pub services: Vec<KubeService>,
    /// Namespaces.
    pub namespaces: Vec<KubeNamespace>,
    /// Workloads.
    pub workloads: Vec<Workload>,
}

impl Kubernetes {
    /// The Service whose FQDN is `host`.
    pub fn service(&self, host: &str) -> Option<&KubeService> {
        let (name, ns) = crate::host::split_service_fqdn(host)?;
        self.services
            .iter()
            .find(|s| s.name == name && s.namespace == ns)
    }

    /// The Service `namespace/name`.
    pub fn service_named(&self, namespace: &str, name: &str) -> Option<&KubeService> {
        self.services
            .iter()
            .find(|s| s.name == name && s.namespace == namespace)
    }

    /// The labels of namespace `name`: those of its `Namespace` object when the input holds
    /// one, else only the `kubernetes.io/metadata.name` label the API server sets on every
    /// namespace.
    pub fn namespace_labels(&self, name: &str) -> BTreeMap<String, String> {
        let mut labels = self
            .namespaces
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.labels.clone())
            .unwrap_or_default();
        labels.insert(METADATA_NAME_LABEL.to_owned(), name.to_owned());
        labels
    }
}

/// The label the API server puts on every namespace, holding its name.
pub const METADATA_NAME_LABEL: &str = "kubernetes.io/metadata.name";
