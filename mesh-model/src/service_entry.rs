//! `ServiceEntry`, field for field as `istio/api` `networking/v1alpha3/service_entry.proto`
//! defines it, with its `WorkloadEntry` endpoints.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::proto_enum::{is_default, proto_enum};

/// Adds an entry to Istio's service registry: hosts, ports, and how endpoints are found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceEntry {
    /// Hosts of the service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Virtual IPs or CIDRs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// Ports of the service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
    /// Inside or outside the mesh.
    #[serde(default, skip_serializing_if = "is_default")]
    pub location: Location,
    /// How endpoints are found.
    #[serde(default, skip_serializing_if = "is_default")]
    pub resolution: Resolution,
    /// Endpoints of the service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<WorkloadEntry>,
    /// Selects WorkloadEntries and pods as endpoints (MESH_INTERNAL only).
    #[serde(
        default,
        alias = "workload_selector",
        skip_serializing_if = "Option::is_none"
    )]
    pub workload_selector: Option<ServiceEntryWorkloadSelector>,
    /// Namespaces that can see this entry (`~` for none).
    #[serde(default, alias = "export_to", skip_serializing_if = "Vec::is_empty")]
    pub export_to: Vec<String>,
    /// Accepted subject alternative names of the endpoints.
    #[serde(
        default,
        alias = "subject_alt_names",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subject_alt_names: Vec<String>,
}

proto_enum! {
    /// Whether the service is part of the mesh.
    pub enum Location {
        /// Outside the mesh.
        MeshExternal = 0 => "MESH_EXTERNAL",
        /// Inside the mesh.
        MeshInternal = 1 => "MESH_INTERNAL",
    }
}

proto_enum! {
    /// How the proxy finds endpoints.
    pub enum Resolution {
        /// Forward to the original destination address.
        None = 0 => "NONE",
        /// Use the listed endpoints' addresses.
        Static = 1 => "STATIC",
        /// Resolve the endpoints (or the host) by DNS.
        Dns = 2 => "DNS",
        /// Resolve by DNS, use the first address only.
        DnsRoundRobin = 3 => "DNS_ROUND_ROBIN",
        /// Resolve the request's host per request (wildcard hosts).
        DynamicDns = 4 => "DYNAMIC_DNS",
    }
}

/// A port of a ServiceEntry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePort {
    /// Port number.
    #[serde(default)]
    pub number: u32,
    /// Protocol: HTTP, HTTPS, HTTP2, GRPC, MONGO, TCP, TLS.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// Port name; endpoints refer to ports by it.
    #[serde(default)]
    pub name: String,
    /// Port on the endpoint.
    #[serde(default, alias = "target_port", skip_serializing_if = "is_default")]
    pub target_port: u32,
}

/// Selects workloads by labels (ServiceEntry's `WorkloadSelector`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceEntryWorkloadSelector {
    /// Labels a workload must carry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// An endpoint: address, named ports, labels (`WorkloadEntry`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadEntry {
    /// IP address, DNS name or Unix socket.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Port name to port number on this endpoint.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, u32>,
    /// Labels, which subsets select on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Network the endpoint is in.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network: String,
    /// Locality (`region/zone/subzone`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub locality: String,
    /// Load-balancing weight.
    #[serde(default, skip_serializing_if = "is_default")]
    pub weight: u32,
    /// Service account of the workload.
    #[serde(
        default,
        alias = "service_account",
        skip_serializing_if = "String::is_empty"
    )]
    pub service_account: String,
}
