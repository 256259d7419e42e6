//! The Gateway API resources: the CRDs' validation (errors: the API server would reject the
//! resource), and the conditions a controller would write into status (warnings with the
//! condition as their code: `Accepted=False`, `ResolvedRefs=False`, `Conflicted=True`).

use super::{Finding, Severity, Sink, validate_metadata};
use crate::gateway_api::binding::{self, Parent, RouteRef};
use crate::gateway_api::schema::Schemas;
use crate::gateway_api::{BackendObjectReference, HttpRouteFilter};
use crate::resource::{Kind, Resource, Resources, Spec};

/// `Accepted=False` on a route's parentRef or a Gateway's listener.
const ACCEPTED: &str = "Accepted=False";
/// `ResolvedRefs=False`: a reference that does not resolve.
const RESOLVED_REFS: &str = "ResolvedRefs=False";
/// `Conflicted=True` on a listener.
const CONFLICTED: &str = "Conflicted=True";

/// The CRD validation of one resource.
pub(crate) fn validate_one<S: Spec>(schemas: &Schemas, r: &Resource<S>) -> Vec<Finding> {
    let mut sink = Sink::new(r);
    validate_metadata(&mut sink, S::KIND, r.name());
    match serde_json::to_value(&r.spec) {
        Ok(json) => {
            for v in schemas.validate(S::KIND, &json) {
                sink.error(v.path, v.message);
            }
        }
        Err(e) => sink.error("spec", format!("cannot be encoded for validation: {e}")),
    }
    sink.finish()
}

/// The CRD validation of every Gateway API resource.
pub(crate) fn validate_all(resources: &Resources) -> Vec<Finding> {
    let g = &resources.gateway_api;
    if g.is_empty() {
        return Vec::new();
    }
    let schemas = Schemas::new();
    let mut out = Vec::new();
    for r in &g.gateways {
        out.extend(validate_one(&schemas, r));
    }
    for r in &g.gateway_classes {
        out.extend(validate_one(&schemas, r));
    }
    for r in &g.http_routes {
        out.extend(validate_one(&schemas, r));
    }
    for r in &g.grpc_routes {
        out.extend(validate_one(&schemas, r));
    }
    for r in &g.reference_grants {
        out.extend(validate_one(&schemas, r));
    }
    out
}

fn condition(sink: &mut Sink<'_>, code: &'static str, path: String, c: &binding::Condition) {
    sink.push(
        Severity::Warning,
        Some(code),
        path,
        format!("{}: {}", c.reason, c.message),
    );
}

/// The status conditions a controller would set, as findings.
pub(crate) fn status(resources: &Resources) -> Vec<Finding> {
    let g = &resources.gateway_api;
    let mut out = Vec::new();
    for gw in &g.gateways {
        let mut sink = Sink::new(gw);
        gateway_status(resources, gw, &mut sink);
        out.extend(sink.finish());
    }
    for r in &g.http_routes {
        let mut sink = Sink::new(r);
        parent_status(resources, RouteRef::http(r), &mut sink);
        for (i, rule) in r.spec.rules.iter().enumerate() {
            for (j, b) in rule.backend_refs.iter().enumerate() {
                let path = format!("spec.rules[{i}].backendRefs[{j}]");
                backend_status(resources, r, &b.object(), path.clone(), &mut sink);
                filters_status(
                    resources,
                    r,
                    &b.filters,
                    &format!("{path}.filters"),
                    &mut sink,
                );
            }
            filters_status(
                resources,
                r,
                &rule.filters,
                &format!("spec.rules[{i}].filters"),
                &mut sink,
            );
        }
        out.extend(sink.finish());
    }
    for r in &g.grpc_routes {
        let mut sink = Sink::new(r);
        parent_status(resources, RouteRef::grpc(r), &mut sink);
        for (i, rule) in r.spec.rules.iter().enumerate() {
            for (j, b) in rule.backend_refs.iter().enumerate() {
                let path = format!("spec.rules[{i}].backendRefs[{j}]");
                backend_status(resources, r, &b.object(), path, &mut sink);
            }
            for (k, f) in rule.filters.iter().enumerate() {
                if let Some(m) = &f.request_mirror {
                    let path = format!("spec.rules[{i}].filters[{k}].requestMirror.backendRef");
                    backend_status(resources, r, &m.backend_ref, path, &mut sink);
                }
            }
        }
        out.extend(sink.finish());
    }
    out
}

fn parent_status(resources: &Resources, route: RouteRef<'_>, sink: &mut Sink<'_>) {
    let any_gateway = !resources.gateway_api.gateways.is_empty();
    for a in binding::attach(resources, route) {
        let Err(c) = &a.accepted else { continue };
        // A Gateway the input does not hold may be in the cluster: reported only when the
        // input holds Gateways at all.
        if matches!(a.parent, Parent::Other) && c.reason == "NoMatchingParent" && !any_gateway {
            let p = &route.parent_refs[a.index];
            if p.is_gateway() {
                continue;
            }
        }
        condition(sink, ACCEPTED, format!("spec.parentRefs[{}]", a.index), c);
    }
}

fn backend_status<S: Spec>(
    resources: &Resources,
    r: &Resource<S>,
    b: &BackendObjectReference,
    path: String,
    sink: &mut Sink<'_>,
) {
    let mesh = match S::KIND {
        Kind::HttpRoute => resources
            .gateway_api
            .http_routes
            .iter()
            .find(|x| x.namespace() == r.namespace() && x.name() == r.name())
            .is_some_and(|x| binding::mesh_only(&x.spec.parent_refs)),
        _ => resources
            .gateway_api
            .grpc_routes
            .iter()
            .find(|x| x.namespace() == r.namespace() && x.name() == r.name())
            .is_some_and(|x| binding::mesh_only(&x.spec.parent_refs)),
    };
    let resolved = binding::resolve_backend(resources, S::KIND, r.namespace(), b, mesh);
    if let Some(c) = &resolved.problem {
        condition(sink, RESOLVED_REFS, path, c);
    }
}

fn filters_status(
    resources: &Resources,
    r: &Resource<crate::gateway_api::HttpRoute>,
    filters: &[HttpRouteFilter],
    path: &str,
    sink: &mut Sink<'_>,
) {
    for (k, f) in filters.iter().enumerate() {
        if let Some(m) = &f.request_mirror {
            let p = format!("{path}[{k}].requestMirror.backendRef");
            backend_status(resources, r, &m.backend_ref, p, sink);
        }
    }
}

fn gateway_status(
    resources: &Resources,
    gw: &Resource<crate::gateway_api::Gateway>,
    sink: &mut Sink<'_>,
) {
    for (i, l) in gw.spec.listeners.iter().enumerate() {
        let path = format!("spec.listeners[{i}]");
        let supported = matches!(
            l.protocol.as_str(),
            "HTTP" | "HTTPS" | "TLS" | "TCP" | "UDP"
        );
        if !supported {
            condition(
                sink,
                ACCEPTED,
                format!("{path}.protocol"),
                &binding::Condition {
                    reason: "UnsupportedProtocol",
                    message: format!("protocol {:?} is not supported", l.protocol),
                },
            );
            continue;
        }
        if let Err(c) = binding::listener_conflict(gw, l) {
            condition(sink, CONFLICTED, path.clone(), &c);
        }
        let carried: &[&str] = match l.protocol.as_str() {
            "HTTP" | "HTTPS" => &["HTTPRoute", "GRPCRoute"],
            "TLS" => &["TLSRoute"],
            "TCP" => &["TCPRoute"],
            _ => &["UDPRoute"],
        };
        for (j, k) in l.allowed_routes.kinds.iter().enumerate() {
            if k.group != crate::gateway_api::GROUP || !carried.contains(&k.kind.as_str()) {
                condition(
                    sink,
                    RESOLVED_REFS,
                    format!("{path}.allowedRoutes.kinds[{j}]"),
                    &binding::Condition {
                        reason: "InvalidRouteKinds",
                        message: format!(
                            "{}/{} is not a route kind a {} listener carries",
                            k.group, k.kind, l.protocol
                        ),
                    },
                );
            }
        }
        if let Some(tls) = &l.tls {
            for (j, c) in tls.certificate_refs.iter().enumerate() {
                let ns = c.namespace.as_deref().unwrap_or(gw.namespace());
                if ns != gw.namespace()
                    && !binding::reference_granted(
                        resources,
                        Kind::KubernetesGateway,
                        gw.namespace(),
                        &c.group,
                        &c.kind,
                        ns,
                        &c.name,
                    )
                {
                    condition(
                        sink,
                        RESOLVED_REFS,
                        format!("{path}.tls.certificateRefs[{j}]"),
                        &binding::Condition {
                            reason: "RefNotPermitted",
                            message: format!(
                                "no ReferenceGrant in namespace {ns} allows Gateways of namespace {} to refer to {} {ns}/{}",
                                gw.namespace(),
                                c.kind,
                                c.name
                            ),
                        },
                    );
                }
            }
        }
    }
}
