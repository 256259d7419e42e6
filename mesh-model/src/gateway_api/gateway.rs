//! `Gateway`: listeners (port, protocol, hostname, TLS) and which routes may attach to them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::common::{LabelSelector, default_gateway_group};

fn default_ip_address() -> String {
    "IPAddress".to_owned()
}

fn default_same() -> String {
    "Same".to_owned()
}

fn default_none() -> String {
    "None".to_owned()
}

fn default_terminate() -> String {
    "Terminate".to_owned()
}

fn default_secret() -> String {
    "Secret".to_owned()
}

fn default_allow_valid_only() -> String {
    "AllowValidOnly".to_owned()
}

/// A Gateway: an instance of a GatewayClass with listeners.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gateway {
    /// The GatewayClass (in conformance manifests, the `{GATEWAY_CLASS_NAME}` placeholder).
    #[serde(default)]
    pub gateway_class_name: String,
    /// Listeners: each a port, protocol and optional hostname.
    #[serde(default)]
    pub listeners: Vec<Listener>,
    /// Requested addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<GatewayAddress>,
    /// Infrastructure labels, annotations and parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrastructure: Option<Infrastructure>,
    /// Which ListenerSets may attach (experimental).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_listeners: Option<AllowedListeners>,
    /// Gateway-wide TLS settings (frontend client validation, backend client certificate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<GatewayTlsConfig>,
    /// `All` or `None`: whether routes that ask for default Gateways get this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_scope: Option<String>,
}

/// One listener: where and how a Gateway accepts connections, and which routes it takes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Listener {
    /// Name, unique in the Gateway (a parentRef's `sectionName`).
    #[serde(default)]
    pub name: String,
    /// Hostname (exact or `*.` wildcard); absent matches every host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Port.
    #[serde(default)]
    pub port: i64,
    /// Protocol: `HTTP`, `HTTPS`, `TLS`, `TCP`, `UDP` or a domain-prefixed one.
    #[serde(default)]
    pub protocol: String,
    /// TLS settings (HTTPS and TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ListenerTls>,
    /// Which routes may attach (default: from the Gateway's namespace, kinds by protocol).
    #[serde(default)]
    pub allowed_routes: AllowedRoutes,
}

/// Which routes may attach to a listener.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowedRoutes {
    /// Namespaces routes may come from (default `Same`).
    #[serde(default)]
    pub namespaces: RouteNamespaces,
    /// Route kinds; empty means the kinds the protocol supports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<RouteGroupKind>,
}

/// `allowedRoutes.namespaces`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteNamespaces {
    /// `All`, `Same` (default) or `Selector`.
    #[serde(default = "default_same")]
    pub from: String,
    /// Namespace labels, for `Selector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

impl Default for RouteNamespaces {
    fn default() -> Self {
        RouteNamespaces {
            from: default_same(),
            selector: None,
        }
    }
}

/// A route kind: group and kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteGroupKind {
    /// Group (default `gateway.networking.k8s.io`).
    #[serde(default = "default_gateway_group")]
    pub group: String,
    /// Kind (`HTTPRoute`, `GRPCRoute`, ...).
    #[serde(default)]
    pub kind: String,
}

/// Listener TLS settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerTls {
    /// `Terminate` (default) or `Passthrough`.
    #[serde(default = "default_terminate")]
    pub mode: String,
    /// Certificates (Secrets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_refs: Vec<SecretObjectReference>,
    /// Implementation-specific options.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// A reference to a Secret (or another certificate kind).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretObjectReference {
    /// Group (default `""`).
    #[serde(default)]
    pub group: String,
    /// Kind (default `Secret`).
    #[serde(default = "default_secret")]
    pub kind: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Namespace; the Gateway's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A requested address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayAddress {
    /// `IPAddress` (default), `Hostname`, `NamedAddress` or domain-prefixed.
    #[serde(rename = "type", default = "default_ip_address")]
    pub kind: String,
    /// The address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `infrastructure`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Infrastructure {
    /// Labels for generated resources.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations for generated resources.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Implementation-specific parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_ref: Option<LocalParametersReference>,
}

/// A reference to parameters in the Gateway's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalParametersReference {
    /// Group.
    #[serde(default)]
    pub group: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
    /// Name.
    #[serde(default)]
    pub name: String,
}

/// `allowedListeners` (ListenerSets, experimental).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowedListeners {
    /// Namespaces ListenerSets may come from (default `None`).
    #[serde(default = "default_listener_namespaces")]
    pub namespaces: ListenerNamespaces,
}

fn default_listener_namespaces() -> ListenerNamespaces {
    ListenerNamespaces {
        from: default_none(),
        selector: None,
    }
}

/// `allowedListeners.namespaces`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerNamespaces {
    /// `All`, `Selector`, `Same` or `None` (default).
    #[serde(default = "default_none")]
    pub from: String,
    /// Namespace labels, for `Selector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// Gateway-wide TLS settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayTlsConfig {
    /// Towards backends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<GatewayBackendTls>,
    /// Towards clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend: Option<GatewayFrontendTls>,
}

/// `tls.backend`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayBackendTls {
    /// The client certificate presented to backends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_ref: Option<SecretObjectReference>,
}

/// `tls.frontend`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayFrontendTls {
    /// The default client validation.
    #[serde(default)]
    pub default: FrontendTlsDefault,
    /// Client validation per port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_port: Vec<PerPortTls>,
}

/// `tls.frontend.default` and `perPort[].tls`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FrontendTlsDefault {
    /// Client certificate validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<FrontendTlsValidation>,
}

/// Client certificate validation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FrontendTlsValidation {
    /// CA certificates.
    #[serde(default)]
    pub ca_certificate_refs: Vec<super::ParametersReference>,
    /// `AllowValidOnly` (default) or `AllowInsecureFallback`.
    #[serde(default = "default_allow_valid_only")]
    pub mode: String,
}

/// `tls.frontend.perPort[]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PerPortTls {
    /// The port.
    #[serde(default)]
    pub port: i64,
    /// Its validation.
    #[serde(default)]
    pub tls: FrontendTlsDefault,
}
