//! `Gateway`, field for field as `istio/api` `networking/v1alpha3/gateway.proto` defines it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::proto_enum::{is_default, proto_enum};

/// A load balancer at the edge of the mesh: the ports it listens on and the hosts it serves.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gateway {
    /// The servers (port, hosts, TLS).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<Server>,
    /// Labels of the gateway pods this configuration applies to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
}

/// One listening port and the hosts served on it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Server {
    /// The port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Port>,
    /// Address or Unix socket to bind.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bind: String,
    /// Hosts exposed, as `[namespace/]dnsName`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// TLS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ServerTlsSettings>,
    /// Default endpoint for traffic (sidecar ingress).
    #[serde(
        default,
        alias = "default_endpoint",
        skip_serializing_if = "String::is_empty"
    )]
    pub default_endpoint: String,
    /// Name of the server.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// A port and its protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Port {
    /// Port number.
    #[serde(default)]
    pub number: u32,
    /// Protocol: HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, TCP, TLS.
    #[serde(default)]
    pub protocol: String,
    /// Port name.
    #[serde(default)]
    pub name: String,
    /// Deprecated target port.
    #[serde(default, alias = "target_port", skip_serializing_if = "is_default")]
    pub target_port: u32,
}

proto_enum! {
    /// Server TLS mode.
    pub enum ServerTlsMode {
        /// Route on SNI without terminating TLS.
        Passthrough = 0 => "PASSTHROUGH",
        /// Terminate TLS.
        Simple = 1 => "SIMPLE",
        /// Terminate TLS and require client certificates.
        Mutual = 2 => "MUTUAL",
        /// SNI-based routing to mesh services without a VirtualService.
        AutoPassthrough = 3 => "AUTO_PASSTHROUGH",
        /// Istio mutual TLS.
        IstioMutual = 4 => "ISTIO_MUTUAL",
        /// Client certificates optional.
        OptionalMutual = 5 => "OPTIONAL_MUTUAL",
    }
}

proto_enum! {
    /// TLS protocol versions.
    pub enum TlsProtocol {
        /// Automatic.
        TlsAuto = 0 => "TLS_AUTO",
        /// TLS 1.0.
        Tlsv1_0 = 1 => "TLSV1_0",
        /// TLS 1.1.
        Tlsv1_1 = 2 => "TLSV1_1",
        /// TLS 1.2.
        Tlsv1_2 = 3 => "TLSV1_2",
        /// TLS 1.3.
        Tlsv1_3 = 4 => "TLSV1_3",
    }
}

/// TLS settings of a gateway server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerTlsSettings {
    /// Redirect plain HTTP to HTTPS with a 301.
    #[serde(default, alias = "https_redirect", skip_serializing_if = "is_default")]
    pub https_redirect: bool,
    /// The mode.
    #[serde(default, skip_serializing_if = "is_default")]
    pub mode: ServerTlsMode,
    /// Server certificate file.
    #[serde(
        default,
        alias = "server_certificate",
        skip_serializing_if = "String::is_empty"
    )]
    pub server_certificate: String,
    /// Private key file.
    #[serde(
        default,
        alias = "private_key",
        skip_serializing_if = "String::is_empty"
    )]
    pub private_key: String,
    /// CA certificates file.
    #[serde(
        default,
        alias = "ca_certificates",
        skip_serializing_if = "String::is_empty"
    )]
    pub ca_certificates: String,
    /// Certificate revocation list file.
    #[serde(default, alias = "ca_crl", skip_serializing_if = "String::is_empty")]
    pub ca_crl: String,
    /// Secret with the credentials.
    #[serde(
        default,
        alias = "credential_name",
        skip_serializing_if = "String::is_empty"
    )]
    pub credential_name: String,
    /// Several secrets (RSA and ECDSA).
    #[serde(
        default,
        alias = "credential_names",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub credential_names: Vec<String>,
    /// Secret with the CA certificate only.
    #[serde(
        default,
        alias = "ca_cert_credential_name",
        skip_serializing_if = "String::is_empty"
    )]
    pub ca_cert_credential_name: String,
    /// Inline certificate pairs.
    #[serde(
        default,
        alias = "tls_certificates",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tls_certificates: Vec<TlsCertificate>,
    /// Accepted client subject alternative names.
    #[serde(
        default,
        alias = "subject_alt_names",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subject_alt_names: Vec<String>,
    /// Accepted SPKI hashes.
    #[serde(
        default,
        alias = "verify_certificate_spki",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub verify_certificate_spki: Vec<String>,
    /// Accepted certificate hashes.
    #[serde(
        default,
        alias = "verify_certificate_hash",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub verify_certificate_hash: Vec<String>,
    /// Minimum TLS version.
    #[serde(
        default,
        alias = "min_protocol_version",
        skip_serializing_if = "is_default"
    )]
    pub min_protocol_version: TlsProtocol,
    /// Maximum TLS version.
    #[serde(
        default,
        alias = "max_protocol_version",
        skip_serializing_if = "is_default"
    )]
    pub max_protocol_version: TlsProtocol,
    /// Allowed cipher suites.
    #[serde(
        default,
        alias = "cipher_suites",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cipher_suites: Vec<String>,
    /// Skip client certificate verification.
    #[serde(
        default,
        alias = "insecure_skip_verify",
        skip_serializing_if = "Option::is_none"
    )]
    pub insecure_skip_verify: Option<bool>,
}

/// A certificate and key pair.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsCertificate {
    /// Certificate file.
    #[serde(
        default,
        alias = "server_certificate",
        skip_serializing_if = "String::is_empty"
    )]
    pub server_certificate: String,
    /// Key file.
    #[serde(
        default,
        alias = "private_key",
        skip_serializing_if = "String::is_empty"
    )]
    pub private_key: String,
    /// CA certificates file.
    #[serde(
        default,
        alias = "ca_certificates",
        skip_serializing_if = "String::is_empty"
    )]
    pub ca_certificates: String,
}
