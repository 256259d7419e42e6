//! Kubernetes objects: `apiVersion`, `kind`, `metadata` around an Istio `spec`, and where each
//! one was read from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::destination_rule::DestinationRule;
use crate::gateway::Gateway;
use crate::service_entry::ServiceEntry;
use crate::virtual_service::VirtualService;

/// The API group of Istio's networking resources.
pub const GROUP: &str = "networking.istio.io";

/// The kinds this workspace reads: the four Istio networking kinds, and the Gateway API's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    /// `VirtualService`.
    VirtualService,
    /// `DestinationRule`.
    DestinationRule,
    /// `Gateway` (of `networking.istio.io`, not the Gateway API's).
    Gateway,
    /// `ServiceEntry`.
    ServiceEntry,
    /// The Gateway API's `Gateway` (`gateway.networking.k8s.io`).
    KubernetesGateway,
    /// `GatewayClass` (`gateway.networking.k8s.io`).
    GatewayClass,
    /// `HTTPRoute` (`gateway.networking.k8s.io`).
    HttpRoute,
    /// `GRPCRoute` (`gateway.networking.k8s.io`).
    GrpcRoute,
    /// `ReferenceGrant` (`gateway.networking.k8s.io`).
    ReferenceGrant,
}

impl Kind {
    /// The kind as written in YAML (`Gateway` for both Gateways).
    pub const fn as_str(&self) -> &'static str {
        match self {
            Kind::VirtualService => "VirtualService",
            Kind::DestinationRule => "DestinationRule",
            Kind::Gateway | Kind::KubernetesGateway => "Gateway",
            Kind::ServiceEntry => "ServiceEntry",
            Kind::GatewayClass => "GatewayClass",
            Kind::HttpRoute => "HTTPRoute",
            Kind::GrpcRoute => "GRPCRoute",
            Kind::ReferenceGrant => "ReferenceGrant",
        }
    }

    /// The API group of the kind.
    pub const fn group(&self) -> &'static str {
        match self {
            Kind::VirtualService | Kind::DestinationRule | Kind::Gateway | Kind::ServiceEntry => {
                GROUP
            }
            _ => crate::gateway_api::GROUP,
        }
    }

    /// Whether the kind is one of the Gateway API's.
    pub const fn is_gateway_api(&self) -> bool {
        matches!(
            self,
            Kind::KubernetesGateway
                | Kind::GatewayClass
                | Kind::HttpRoute
                | Kind::GrpcRoute
                | Kind::ReferenceGrant
        )
    }

    /// The Gateway API kind with this name.
    pub fn from_gateway_api_name(s: &str) -> Option<Kind> {
        Some(match s {
            "Gateway" => Kind::KubernetesGateway,
            "GatewayClass" => Kind::GatewayClass,
            "HTTPRoute" => Kind::HttpRoute,
            "GRPCRoute" => Kind::GrpcRoute,
            "ReferenceGrant" => Kind::ReferenceGrant,
            _ => return None,
        })
    }

    /// The Istio kind with this name.
    pub fn from_name(s: &str) -> Option<Kind> {
        Some(match s {
            "VirtualService" => Kind::VirtualService,
            "DestinationRule" => Kind::DestinationRule,
            "Gateway" => Kind::Gateway,
            "ServiceEntry" => Kind::ServiceEntry,
            _ => return None,
        })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The two Gateways are told apart as kubectl does, by the group.
        match self {
            Kind::KubernetesGateway => f.write_str("Gateway.gateway.networking.k8s.io"),
            k => f.write_str(k.as_str()),
        }
    }
}

/// The served versions of `networking.istio.io` (all three carry the same schema) and of
/// `gateway.networking.k8s.io`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiVersion {
    /// `networking.istio.io/v1alpha3`.
    V1Alpha3,
    /// `networking.istio.io/v1beta1`.
    V1Beta1,
    /// `networking.istio.io/v1`.
    #[default]
    V1,
    /// `gateway.networking.k8s.io/v1beta1`.
    GatewayV1Beta1,
    /// `gateway.networking.k8s.io/v1`.
    GatewayV1,
}

impl ApiVersion {
    /// The full `apiVersion` string.
    pub const fn as_str(&self) -> &'static str {
        match self {
            ApiVersion::V1Alpha3 => "networking.istio.io/v1alpha3",
            ApiVersion::V1Beta1 => "networking.istio.io/v1beta1",
            ApiVersion::V1 => "networking.istio.io/v1",
            ApiVersion::GatewayV1Beta1 => "gateway.networking.k8s.io/v1beta1",
            ApiVersion::GatewayV1 => "gateway.networking.k8s.io/v1",
        }
    }

    /// Parses a full `apiVersion` string of `networking.istio.io`.
    pub fn parse(s: &str) -> Option<ApiVersion> {
        Some(match s {
            "networking.istio.io/v1alpha3" => ApiVersion::V1Alpha3,
            "networking.istio.io/v1beta1" => ApiVersion::V1Beta1,
            "networking.istio.io/v1" => ApiVersion::V1,
            _ => return None,
        })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An RFC 3339 timestamp (`creationTimestamp`), ordered by the instant it names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Timestamp {
    text: String,
    unix_nanos: i128,
}

impl Timestamp {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let unix_nanos = parse_rfc3339(text)?;
        Some(Timestamp {
            text: text.to_owned(),
            unix_nanos,
        })
    }

    /// The timestamp as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(&self) -> i128 {
        self.unix_nanos
    }
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.unix_nanos
            .cmp(&other.unix_nanos)
            .then_with(|| self.text.cmp(&other.text))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format_args!(
                "{text:?} is not an RFC 3339 timestamp such as 2024-01-31T12:00:00Z"
            ))
        })
    }
}

fn parse_rfc3339(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: i128 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() {
            return None;
        }
        let mut padded: String = digits.chars().take(9).collect();
        while padded.len() < 9 {
            padded.push('0');
        }
        nanos = padded.parse().ok()?;
    }
    let offset_secs: i64 = match s.get(i..)? {
        "Z" | "z" => 0,
        rest if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            if rest.as_bytes()[3] != b':' {
                return None;
            }
            let h = num(i + 1..i + 3)?;
            let m = num(i + 4..i + 6)?;
            let v = h * 3600 + m * 60;
            if rest.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

/// Kubernetes object metadata: the fields this workspace uses. Other metadata fields that
/// `kubectl get -o yaml` prints (`uid`, `managedFields`, ...) are accepted and dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Object name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Namespace; the loader fills in its default namespace when absent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Creation time; Istio orders resources by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<Timestamp>,
    /// Resource version, when read from a cluster.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// Generation, when read from a cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
}

/// Where a resource (or a finding about it) comes from.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The file, if the input was a file.
    pub file: Option<Arc<PathBuf>>,
    /// Index of the YAML document in the file (0-based).
    pub document: usize,
    /// 1-based line where the resource starts (0 when unknown).
    pub line: usize,
    /// Lines of the resource's fields, by path, when it was read from text.
    pub(crate) positions: Option<Arc<PositionIndex>>,
}

/// Lines of the fields of a resource, keyed by a hash of the field path
/// (`spec.http[0].route`): 12 bytes an entry, sorted by key, so that large inputs stay small
/// in memory (a 100 000-rule VirtualService has 1.4 million fields). A field on the line of
/// the nearest ancestor that is indexed is left out (see [`Origin::at_path`]).
#[derive(Debug, Default)]
pub(crate) struct PositionIndex {
    keys: Box<[u64]>,
    lines: Box<[u32]>,
}

impl PositionIndex {
    /// The index of `(key, line)` pairs; of pairs with one key, the last one counts.
    pub(crate) fn new(mut pairs: Vec<(u64, u32)>) -> Self {
        // Stable: among equal keys, the last pushed stays last.
        pairs.sort_by_key(|(k, _)| *k);
        let mut keys = Vec::with_capacity(pairs.len());
        let mut lines = Vec::with_capacity(pairs.len());
        for (i, (k, l)) in pairs.iter().enumerate() {
            if pairs.get(i + 1).is_some_and(|(next, _)| next == k) {
                continue;
            }
            keys.push(*k);
            lines.push(*l);
        }
        PositionIndex {
            keys: keys.into(),
            lines: lines.into(),
        }
    }

    /// The number of fields indexed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The line of the field whose path has key `key`.
    pub(crate) fn line(&self, key: u64) -> Option<u32> {
        let i = self.keys.binary_search(&key).ok()?;
        self.lines.get(i).copied()
    }

    /// The key of a path.
    pub(crate) fn key(path: &str) -> u64 {
        // FNV-1a: stable and cheap; collisions between paths of one resource are
        // astronomically unlikely and would only misplace a line number.
        Self::extend(0xcbf2_9ce4_8422_2325_u64, path.as_bytes())
    }

    /// The key of a path from the key of its prefix: `extend(key(a), b) == key(a + b)`,
    /// so that indexing a tree hashes each segment once rather than every whole path.
    pub(crate) fn extend(key: u64, bytes: &[u8]) -> u64 {
        bytes.iter().fold(key, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
}

impl Origin {
    /// The origin of `path` inside the resource: the same file and document, at the line of
    /// the deepest part of `path` that exists in the input.
    pub fn at_path(&self, path: &str) -> Origin {
        let mut line = self.line;
        if let Some(index) = &self.positions {
            let mut p = path;
            loop {
                if let Some(l) = index.line(PositionIndex::key(p)) {
                    line = l as usize;
                    break;
                }
                match p.rfind(['.', '[']) {
                    Some(i) => p = &p[..i],
                    None => break,
                }
            }
        }
        Origin {
            file: self.file.clone(),
            document: self.document,
            line,
            positions: None,
        }
    }

    fn sort_key(&self) -> (Option<&PathBuf>, usize, usize) {
        (self.file.as_deref(), self.document, self.line)
    }
}

impl PartialEq for Origin {
    fn eq(&self, other: &Self) -> bool {
        self.sort_key() == other.sort_key()
    }
}

impl Eq for Origin {}

impl std::hash::Hash for Origin {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.sort_key().hash(state);
    }
}

impl PartialOrd for Origin {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Origin {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self
            .file
            .as_deref()
            .map_or_else(|| "<input>".to_owned(), |p| p.display().to_string());
        if self.line > 0 {
            write!(f, "{file}:{}", self.line)
        } else {
            f.write_str(&file)
        }
    }
}

/// A spec type: the `spec` of one of the kinds.
pub trait Spec: Clone + fmt::Debug + PartialEq + Serialize + DeserializeOwned {
    /// The kind whose spec this is.
    const KIND: Kind;
}

impl Spec for VirtualService {
    const KIND: Kind = Kind::VirtualService;
}
impl Spec for DestinationRule {
    const KIND: Kind = Kind::DestinationRule;
}
impl Spec for Gateway {
    const KIND: Kind = Kind::Gateway;
}
impl Spec for ServiceEntry {
    const KIND: Kind = Kind::ServiceEntry;
}
impl Spec for crate::gateway_api::Gateway {
    const KIND: Kind = Kind::KubernetesGateway;
}
impl Spec for crate::gateway_api::GatewayClass {
    const KIND: Kind = Kind::GatewayClass;
}
impl Spec for crate::gateway_api::HttpRoute {
    const KIND: Kind = Kind::HttpRoute;
}
impl Spec for crate::gateway_api::GrpcRoute {
    const KIND: Kind = Kind::GrpcRoute;
}
impl Spec for crate::gateway_api::ReferenceGrant {
    const KIND: Kind = Kind::ReferenceGrant;
}

/// A Kubernetes object holding an Istio spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource<S> {
    /// The `apiVersion` it was written with.
    pub api_version: ApiVersion,
    /// Its metadata.
    pub metadata: ObjectMeta,
    /// The Istio spec.
    pub spec: S,
    /// Where it was read from.
    pub origin: Origin,
}

impl<S: Spec> Resource<S> {
    /// A resource named `namespace/name` with `spec`, as `networking.istio.io/v1` (or
    /// `gateway.networking.k8s.io/v1` for a Gateway API kind).
    pub fn new(namespace: &str, name: &str, spec: S) -> Self {
        Resource {
            api_version: if S::KIND.is_gateway_api() {
                ApiVersion::GatewayV1
            } else {
                ApiVersion::V1
            },
            metadata: ObjectMeta {
                name: name.to_owned(),
                namespace: namespace.to_owned(),
                ..ObjectMeta::default()
            },
            spec,
            origin: Origin::default(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        S::KIND
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.metadata.namespace
    }

    /// `Kind namespace/name`, as errors name a resource.
    pub fn key(&self) -> ResourceKey {
        ResourceKey {
            kind: S::KIND,
            namespace: self.metadata.namespace.clone(),
            name: self.metadata.name.clone(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireOut<'a, S> {
    api_version: &'static str,
    kind: &'static str,
    metadata: &'a ObjectMeta,
    spec: &'a S,
}

impl<S: Spec> Serialize for Resource<S> {
    fn serialize<Se: serde::Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        WireOut {
            api_version: self.api_version.as_str(),
            kind: S::KIND.as_str(),
            metadata: &self.metadata,
            spec: &self.spec,
        }
        .serialize(s)
    }
}

/// Names a resource: `Kind namespace/name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    /// Kind.
    pub kind: Kind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// Any of the kinds.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // built once per loaded document, never in a hot path
pub enum AnyResource {
    /// A VirtualService.
    VirtualService(Resource<VirtualService>),
    /// A DestinationRule.
    DestinationRule(Resource<DestinationRule>),
    /// A Gateway.
    Gateway(Resource<Gateway>),
    /// A ServiceEntry.
    ServiceEntry(Resource<ServiceEntry>),
    /// A Gateway API Gateway.
    KubernetesGateway(Resource<crate::gateway_api::Gateway>),
    /// A GatewayClass.
    GatewayClass(Resource<crate::gateway_api::GatewayClass>),
    /// An HTTPRoute.
    HttpRoute(Resource<crate::gateway_api::HttpRoute>),
    /// A GRPCRoute.
    GrpcRoute(Resource<crate::gateway_api::GrpcRoute>),
    /// A ReferenceGrant.
    ReferenceGrant(Resource<crate::gateway_api::ReferenceGrant>),
}

/// A set of resources, one list per kind, each in input order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resources {
    /// VirtualServices.
    pub virtual_services: Vec<Resource<VirtualService>>,
    /// DestinationRules.
    pub destination_rules: Vec<Resource<DestinationRule>>,
    /// Gateways.
    pub gateways: Vec<Resource<Gateway>>,
    /// ServiceEntries.
    pub service_entries: Vec<Resource<ServiceEntry>>,
    /// The Gateway API resources.
    pub gateway_api: crate::gateway_api::GatewayApi,
    /// Kubernetes Services, Namespaces and workloads read beside them.
    pub kubernetes: crate::kubernetes::Kubernetes,
}

impl Resources {
    /// Adds a resource to the list of its kind.
    pub fn push(&mut self, r: AnyResource) {
        match r {
            AnyResource::VirtualService(r) => self.virtual_services.push(r),
            AnyResource::DestinationRule(r) => self.destination_rules.push(r),
            AnyResource::Gateway(r) => self.gateways.push(r),
            AnyResource::ServiceEntry(r) => self.service_entries.push(r),
            AnyResource::KubernetesGateway(r) => self.gateway_api.gateways.push(r),
            AnyResource::GatewayClass(r) => self.gateway_api.gateway_classes.push(r),
            AnyResource::HttpRoute(r) => self.gateway_api.http_routes.push(r),
            AnyResource::GrpcRoute(r) => self.gateway_api.grpc_routes.push(r),
            AnyResource::ReferenceGrant(r) => self.gateway_api.reference_grants.push(r),
        }
    }

    /// Adds every resource of `other`.
    pub fn extend(&mut self, other: Resources) {
        self.virtual_services.extend(other.virtual_services);
        self.destination_rules.extend(other.destination_rules);
        self.gateways.extend(other.gateways);
        self.service_entries.extend(other.service_entries);
        self.gateway_api.extend(other.gateway_api);
        self.kubernetes.services.extend(other.kubernetes.services);
        self.kubernetes
            .namespaces
            .extend(other.kubernetes.namespaces);
        self.kubernetes.workloads.extend(other.kubernetes.workloads);
    }

    /// The number of resources (Istio's and the Gateway API's).
    pub fn len(&self) -> usize {
        self.virtual_services.len()
            + self.destination_rules.len()
            + self.gateways.len()
            + self.service_entries.len()
            + self.gateway_api.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
