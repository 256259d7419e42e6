//! What a Gateway API controller decides from the whole input, in one place for validation
//! (the conditions it would write into status, as findings) and for route compilation (which
//! listeners a route serves, under which hostnames, and where its backends are):
//!
//! - **Attachment** ([`attach`]): each parentRef of a route names a Gateway (optionally one
//!   listener by `sectionName` or `port`) or, for a mesh route, a Service. A Gateway listener
//!   takes the route when its protocol carries the route's kind (HTTP and HTTPS carry
//!   HTTPRoute and GRPCRoute), `allowedRoutes.kinds` lists the kind (when it lists any),
//!   `allowedRoutes.namespaces` admits the route's namespace (`Same`, `All`, or `Selector` on
//!   the namespace's labels), the listener is not in conflict with another on its port, and
//!   the route's hostnames intersect the listener's ([`intersect`]). The reasons are the
//!   spec's: `NoMatchingParent`, `NotAllowedByListeners`, `NoMatchingListenerHostname`,
//!   `UnsupportedValue`.
//! - **References** ([`resolve_backend`]): a backendRef is a Service (or Istio's
//!   `networking.istio.io/Hostname`, a ServiceEntry host); one in another namespace needs a
//!   ReferenceGrant there ([`reference_granted`]). The reasons are `BackendNotFound`,
//!   `RefNotPermitted`, `InvalidKind`.
//!
//! Offline, the input may not hold everything a cluster does: a Gateway named by a parentRef
//! is reported missing only when the input holds some Gateway, and a Service named by a
//! backendRef only when the input holds some Service (otherwise the reference is assumed to
//! resolve in the cluster).

use std::collections::BTreeMap;

use super::{BackendObjectReference, Gateway, GrpcRoute, HttpRoute, Listener, ParentReference};
use crate::host;
use crate::resource::{Kind, Resource, Resources, Timestamp};

/// A condition a controller would set to `False`: its type's reason and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// The reason (`NotAllowedByListeners`, `BackendNotFound`, ...).
    pub reason: &'static str,
    /// What is wrong.
    pub message: String,
}

impl Condition {
    fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Condition {
            reason,
            message: message.into(),
        }
    }
}

/// The route-kind-independent view of an HTTPRoute or GRPCRoute.
#[derive(Clone, Copy, Debug)]
pub struct RouteRef<'r> {
    /// `HTTPRoute` or `GRPCRoute`.
    pub kind: Kind,
    /// Namespace.
    pub namespace: &'r str,
    /// Name.
    pub name: &'r str,
    /// Creation time (precedence ties go to the oldest).
    pub created: Option<&'r Timestamp>,
    /// parentRefs.
    pub parent_refs: &'r [ParentReference],
    /// hostnames.
    pub hostnames: &'r [String],
}

impl<'r> RouteRef<'r> {
    /// An HTTPRoute.
    pub fn http(r: &'r Resource<HttpRoute>) -> Self {
        RouteRef {
            kind: Kind::HttpRoute,
            namespace: r.namespace(),
            name: r.name(),
            created: r.metadata.creation_timestamp.as_ref(),
            parent_refs: &r.spec.parent_refs,
            hostnames: &r.spec.hostnames,
        }
    }

    /// A GRPCRoute.
    pub fn grpc(r: &'r Resource<GrpcRoute>) -> Self {
        RouteRef {
            kind: Kind::GrpcRoute,
            namespace: r.namespace(),
            name: r.name(),
            created: r.metadata.creation_timestamp.as_ref(),
            parent_refs: &r.spec.parent_refs,
            hostnames: &r.spec.hostnames,
        }
    }
}

/// Whether every parentRef of a route names a Service: a mesh-only route.
pub fn mesh_only(parent_refs: &[ParentReference]) -> bool {
    !parent_refs.is_empty() && parent_refs.iter().all(ParentReference::is_service)
}

/// Every HTTPRoute and GRPCRoute of the input.
pub fn routes(resources: &Resources) -> impl Iterator<Item = RouteRef<'_>> {
    let g = &resources.gateway_api;
    g.http_routes
        .iter()
        .map(RouteRef::http)
        .chain(g.grpc_routes.iter().map(RouteRef::grpc))
}

/// What a parentRef names.
#[derive(Clone, Debug, PartialEq)]
pub enum Parent<'r> {
    /// A Gateway of the input.
    Gateway(&'r Resource<Gateway>),
    /// A Service (mesh route): namespace, name, and the port the parentRef names (by
    /// `port`, or by `sectionName` naming a port of the Service in the input).
    Service {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The port, when the parentRef names one.
        port: Option<u16>,
    },
    /// Nothing this engine serves (absent, or another kind).
    Other,
}

/// A listener a route attaches to, and the hostnames it serves there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachedListener {
    /// Index of the listener in the Gateway's `listeners`.
    pub listener: usize,
    /// The route's hostnames intersected with the listener's; `*` when neither has any.
    pub hostnames: Vec<String>,
}

/// The outcome of one parentRef of a route.
#[derive(Clone, Debug, PartialEq)]
pub struct Attachment<'r> {
    /// Index of the parentRef in the route.
    pub index: usize,
    /// What it names.
    pub parent: Parent<'r>,
    /// `Accepted`: `Ok` when the route attaches, else why not.
    pub accepted: Result<(), Condition>,
    /// The listeners that take the route (Gateway parents).
    pub listeners: Vec<AttachedListener>,
}

/// Whether the parentRef names the Gateway `namespace/name`.
pub fn names_gateway(
    p: &ParentReference,
    route_namespace: &str,
    namespace: &str,
    name: &str,
) -> bool {
    p.is_gateway() && p.name == name && p.namespace_or(route_namespace) == namespace
}

/// The outcome of every parentRef of `route`.
pub fn attach<'r>(resources: &'r Resources, route: RouteRef<'_>) -> Vec<Attachment<'r>> {
    route
        .parent_refs
        .iter()
        .enumerate()
        .map(|(index, p)| attach_one(resources, route, index, p))
        .collect()
}

fn attach_one<'r>(
    resources: &'r Resources,
    route: RouteRef<'_>,
    index: usize,
    p: &ParentReference,
) -> Attachment<'r> {
    let ns = p.namespace_or(route.namespace);
    let mut out = Attachment {
        index,
        parent: Parent::Other,
        accepted: Ok(()),
        listeners: Vec::new(),
    };
    if p.is_service() {
        let svc = resources.kubernetes.service_named(ns, &p.name);
        let port = match (&p.port, &p.section_name) {
            (Some(port), _) => u16::try_from(*port).ok(),
            (None, Some(section)) => svc
                .and_then(|s| s.ports.iter().find(|sp| &sp.name == section))
                .and_then(|sp| u16::try_from(sp.port).ok()),
            (None, None) => None,
        };
        if p.section_name.is_some() && port.is_none() && p.port.is_none() {
            out.accepted = Err(Condition::new(
                "NoMatchingParent",
                format!(
                    "Service {ns}/{} has no port named {:?} in the input",
                    p.name,
                    p.section_name.as_deref().unwrap_or_default()
                ),
            ));
        }
        out.parent = Parent::Service {
            namespace: ns.to_owned(),
            name: p.name.clone(),
            port,
        };
        return out;
    }
    if !p.is_gateway() {
        out.accepted = Err(Condition::new(
            "NoMatchingParent",
            format!(
                "parentRef kind {}/{} is not served (Gateway and Service parents are)",
                if p.group.is_empty() { "core" } else { &p.group },
                p.kind
            ),
        ));
        return out;
    }
    let Some(gw) = resources.gateway_api.gateway(ns, &p.name) else {
        out.accepted = Err(Condition::new(
            "NoMatchingParent",
            format!("Gateway {ns}/{} is not in the input", p.name),
        ));
        return out;
    };
    out.parent = Parent::Gateway(gw);
    let mut named = false;
    let mut allowed_any = false;
    for (i, l) in gw.spec.listeners.iter().enumerate() {
        if p.section_name.as_ref().is_some_and(|s| *s != l.name) {
            continue;
        }
        if p.port.is_some_and(|port| port != l.port) {
            continue;
        }
        named = true;
        if listener_allows(resources, gw, l, route).is_err() {
            continue;
        }
        allowed_any = true;
        let hostnames = route_hostnames_on(route.hostnames, l.hostname.as_deref());
        if !hostnames.is_empty() {
            out.listeners.push(AttachedListener {
                listener: i,
                hostnames,
            });
        }
    }
    out.accepted = if !named {
        let what = match (&p.section_name, p.port) {
            (Some(s), Some(port)) => format!("listener named {s:?} on port {port}"),
            (Some(s), None) => format!("listener named {s:?}"),
            (None, Some(port)) => format!("listener on port {port}"),
            (None, None) => "listener".to_owned(),
        };
        Err(Condition::new(
            "NoMatchingParent",
            format!("Gateway {ns}/{} has no {what}", p.name),
        ))
    } else if !allowed_any {
        Err(Condition::new(
            "NotAllowedByListeners",
            format!(
                "no listener of Gateway {ns}/{} allows a {} from namespace {}",
                p.name,
                route.kind.as_str(),
                route.namespace
            ),
        ))
    } else if out.listeners.is_empty() {
        Err(Condition::new(
            "NoMatchingListenerHostname",
            format!(
                "no hostname of the route intersects the listeners' hostnames of Gateway {ns}/{}",
                p.name
            ),
        ))
    } else {
        Ok(())
    };
    out
}

/// Whether listener `l` of `gw` takes routes of this kind from this namespace (not looking
/// at hostnames).
pub fn listener_allows(
    resources: &Resources,
    gw: &Resource<Gateway>,
    l: &Listener,
    route: RouteRef<'_>,
) -> Result<(), Condition> {
    if !matches!(l.protocol.as_str(), "HTTP" | "HTTPS") {
        return Err(Condition::new(
            "NotAllowedByListeners",
            format!(
                "listener {:?} ({}) does not carry {}",
                l.name,
                l.protocol,
                route.kind.as_str()
            ),
        ));
    }
    listener_conflict(gw, l)?;
    let kinds = &l.allowed_routes.kinds;
    if !kinds.is_empty()
        && !kinds
            .iter()
            .any(|k| k.group == super::GROUP && k.kind == route.kind.as_str())
    {
        return Err(Condition::new(
            "NotAllowedByListeners",
            format!(
                "listener {:?} does not list {} in allowedRoutes.kinds",
                l.name,
                route.kind.as_str()
            ),
        ));
    }
    let ns = &l.allowed_routes.namespaces;
    let ok = match ns.from.as_str() {
        "All" => true,
        "Same" => route.namespace == gw.namespace(),
        "Selector" => {
            let labels = resources.kubernetes.namespace_labels(route.namespace);
            ns.selector
                .as_ref()
                .map_or(Ok(true), |s| s.matches(&labels))
                .unwrap_or(false)
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Condition::new(
            "NotAllowedByListeners",
            format!(
                "listener {:?} does not allow routes from namespace {} (allowedRoutes.namespaces.from: {})",
                l.name, route.namespace, ns.from
            ),
        ))
    }
}

/// `Conflicted`: another listener on the same port speaks another protocol.
pub fn listener_conflict(gw: &Resource<Gateway>, l: &Listener) -> Result<(), Condition> {
    let other = gw
        .spec
        .listeners
        .iter()
        .find(|o| o.port == l.port && o.protocol != l.protocol);
    match other {
        Some(o) => Err(Condition::new(
            "ProtocolConflict",
            format!(
                "listener {:?} ({}) and listener {:?} ({}) share port {}",
                l.name, l.protocol, o.name, o.protocol, l.port
            ),
        )),
        None => Ok(()),
    }
}

/// The hostnames a route serves on a listener: each route hostname intersected with the
/// listener's, or the listener's own (`*` for none) when the route names none.
pub fn route_hostnames_on(route: &[String], listener: Option<&str>) -> Vec<String> {
    if route.is_empty() {
        return vec![listener.unwrap_or("*").to_ascii_lowercase()];
    }
    let mut out: Vec<String> = Vec::new();
    for h in route {
        let h = h.to_ascii_lowercase();
        let i = match listener {
            None => Some(h),
            Some(l) => intersect(&h, &l.to_ascii_lowercase()),
        };
        if let Some(i) = i
            && !out.contains(&i)
        {
            out.push(i);
        }
    }
    out
}

/// The intersection of a route hostname and a listener hostname (the Gateway API's rule):
/// the more specific of the two when one covers the other (`*.example.com` and
/// `foo.example.com` give `foo.example.com`), none otherwise.
pub fn intersect(route: &str, listener: &str) -> Option<String> {
    if host::subset_of(route, listener) {
        Some(route.to_owned())
    } else if host::subset_of(listener, route) {
        Some(listener.to_owned())
    } else {
        None
    }
}

/// Where a backendRef leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// The host: a Service's `name.namespace.svc.cluster.local`, or a Hostname backend's name.
    pub host: String,
    /// The port.
    pub port: Option<u16>,
    /// `ResolvedRefs`: why the reference does not resolve (requests for it get 500).
    pub problem: Option<Condition>,
}

/// Resolves a backendRef of a route of `route_kind` in `route_namespace`. `mesh`: the route
/// serves only mesh parents (GAMMA), where a backend in another namespace needs no
/// ReferenceGrant (as Istio enforces grants for Gateway parents only).
pub fn resolve_backend(
    resources: &Resources,
    route_kind: Kind,
    route_namespace: &str,
    b: &BackendObjectReference,
    mesh: bool,
) -> Backend {
    let ns = b.namespace_or(route_namespace);
    let port = b.port.and_then(|p| u16::try_from(p).ok());
    let mut out = Backend {
        host: String::new(),
        port,
        problem: None,
    };
    if b.is_service() {
        out.host = format!("{}.{ns}.svc.{}", b.name, host::CLUSTER_DOMAIN);
        let k = &resources.kubernetes;
        if !k.services.is_empty() && k.service_named(ns, &b.name).is_none() {
            out.problem = Some(Condition::new(
                "BackendNotFound",
                format!("Service {ns}/{} is not in the input", b.name),
            ));
        }
    } else if b.group == crate::resource::GROUP && b.kind == "Hostname" {
        out.host = b.name.to_ascii_lowercase();
        let known = resources.service_entries.iter().any(|se| {
            se.spec
                .hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&b.name))
        });
        if !known {
            out.problem = Some(Condition::new(
                "BackendNotFound",
                format!("no ServiceEntry of the input has host {:?}", b.name),
            ));
        }
        if b.namespace.is_some() {
            out.problem = Some(Condition::new(
                "InvalidKind",
                "namespace may not be set with the Hostname kind",
            ));
        }
        return out;
    } else {
        out.problem = Some(Condition::new(
            "InvalidKind",
            format!(
                "backendRef kind {}/{} is not supported (Service and networking.istio.io/Hostname are)",
                if b.group.is_empty() { "core" } else { &b.group },
                b.kind
            ),
        ));
        return out;
    }
    if ns != route_namespace
        && !mesh
        && !reference_granted(
            resources,
            route_kind,
            route_namespace,
            "",
            "Service",
            ns,
            &b.name,
        )
    {
        out.problem = Some(Condition::new(
            "RefNotPermitted",
            format!(
                "no ReferenceGrant in namespace {ns} allows {}s of namespace {route_namespace} to refer to Service {ns}/{}",
                route_kind.as_str(),
                b.name
            ),
        ));
    }
    out
}

/// Whether a ReferenceGrant in `to_namespace` lets a `from_kind` of `from_namespace` refer to
/// the `to_group`/`to_kind` object `to_name`.
pub fn reference_granted(
    resources: &Resources,
    from_kind: Kind,
    from_namespace: &str,
    to_group: &str,
    to_kind: &str,
    to_namespace: &str,
    to_name: &str,
) -> bool {
    fn core(g: &str) -> &str {
        if g == "core" { "" } else { g }
    }
    resources
        .gateway_api
        .reference_grants
        .iter()
        .filter(|g| g.namespace() == to_namespace)
        .any(|g| {
            g.spec.from.iter().any(|f| {
                f.group == super::GROUP
                    && f.kind == from_kind.as_str()
                    && f.namespace == from_namespace
            }) && g.spec.to.iter().any(|t| {
                core(&t.group) == core(to_group)
                    && t.kind == to_kind
                    && t.name.as_deref().is_none_or(|n| n == to_name)
            })
        })
}

/// The listeners of each port of a Gateway that serve HTTP (HTTP and HTTPS), by port.
pub fn http_ports(gw: &Resource<Gateway>) -> BTreeMap<u16, Vec<usize>> {
    let mut out: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for (i, l) in gw.spec.listeners.iter().enumerate() {
        if matches!(l.protocol.as_str(), "HTTP" | "HTTPS")
            && let Ok(p) = u16::try_from(l.port)
        {
            out.entry(p).or_default().push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests;
