//! The transcribed test cases (`conformance/gateway-api/cases/*.yaml`), as serde types.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One conformance test.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Test {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub source: String,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub provisional: bool,
    #[serde(default)]
    pub manifests: Vec<String>,
    pub mode: String,
    #[serde(default)]
    pub not_applicable: Option<String>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub cases: Vec<Case>,
    #[serde(default)]
    pub weights: Vec<Weights>,
    #[serde(default)]
    pub note: Option<String>,
}

/// A route condition the test asserts.
#[derive(Debug, Deserialize)]
pub struct Condition {
    pub route: String,
    #[serde(default)]
    pub kind: Option<String>,
    pub parent: String,
    #[serde(rename = "type")]
    pub kind_of: String,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// A mesh client: the sidecar's namespace and labels.
#[derive(Clone, Debug, Deserialize)]
pub struct Client {
    pub namespace: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// An HTTP request as the suite describes it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub unfollow_redirect: bool,
}

/// A gRPC request: service, method, metadata, authority.
#[derive(Clone, Debug, Deserialize)]
pub struct Grpc {
    pub service: String,
    pub method: String,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub authority: Option<String>,
}

/// One request and what must come of it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Case {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub gateway: Option<String>,
    #[serde(default)]
    pub listener: Option<String>,
    #[serde(default)]
    pub client: Option<Client>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub scheme: Option<String>,
    #[serde(default)]
    pub request: Request,
    #[serde(default)]
    pub grpc: Option<Grpc>,
    #[serde(default)]
    pub backend_set_response_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub repeat: Option<usize>,
    /// Resources deleted before this case (the test deletes them from the cluster).
    #[serde(default)]
    pub delete: Vec<Deleted>,
    pub expect: Expect,
}

/// A resource a test deletes.
#[derive(Clone, Debug, Deserialize)]
pub struct Deleted {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// The expected outcome.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Expect {
    #[serde(default)]
    pub status: Vec<u16>,
    #[serde(default)]
    pub backend: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub request: Option<ExpectRequest>,
    #[serde(default)]
    pub redirect: Option<Redirect>,
    #[serde(default)]
    pub response: Option<ExpectResponse>,
    #[serde(default)]
    pub mirrored_to: Vec<Mirrored>,
    #[serde(default)]
    pub grpc_code: Option<String>,
    #[serde(default)]
    pub pod_prefix_from_request_header: Option<String>,
}

/// The request the backend must receive.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpectRequest {
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub absent_headers: Vec<String>,
    #[serde(default)]
    pub http_port: Option<String>,
}

/// A redirect's Location, in parts.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Redirect {
    #[serde(default)]
    pub scheme: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub port: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
}

/// Response headers.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpectResponse {
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub valid_header_values: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub absent_headers: Vec<String>,
    #[serde(default)]
    pub ignore_whitespace: bool,
}

/// A backend that must receive a mirrored copy.
#[derive(Clone, Debug, Deserialize)]
pub struct Mirrored {
    pub name: String,
    pub namespace: String,
    #[serde(default)]
    pub percent: Option<u32>,
}

/// A weighted distribution check.
#[derive(Clone, Debug, Deserialize)]
pub struct Weights {
    #[serde(default)]
    pub gateway: Option<String>,
    #[serde(default)]
    pub client: Option<Client>,
    #[serde(default)]
    pub request: Request,
    #[serde(default)]
    pub grpc: Option<Grpc>,
    pub expected: BTreeMap<String, f64>,
    pub requests: usize,
    pub tolerance: f64,
}
