//! The Kubernetes Gateway API compiled into the same [`RouteTable`](crate::RouteTable) as
//! Istio's resources, with the Gateway API's own semantics:
//!
//! - **A Gateway** (`--gateway ns/name` naming a `gateway.networking.k8s.io` Gateway): each
//!   HTTP or HTTPS listener port serves the routes attached to its listeners
//!   (`mesh_model::gateway_api::binding`: parentRefs with `sectionName` and
//!   `port`, `allowedRoutes`, hostname intersection). A request picks the port's listener
//!   with the most specific hostname that matches its host (exact, then the longest
//!   wildcard, then none), and within it the virtual host of the most specific route
//!   hostname, so routes of one listener never answer for another (listener isolation).
//! - **Precedence** ([`precedence`]): the entries of a virtual host are ordered as the spec
//!   orders matches across all its routes: exact path, then the longest prefix (regexes
//!   after prefixes, as Istio ranks them), then a method, then the most headers, then the
//!   most query parameters, then the oldest route (creationTimestamp), then `namespace/name`,
//!   then rule and match order.
//! - **Mesh routes (GAMMA)**: a route whose parentRef is a Service applies to requests to
//!   that Service from sidecars: a route in the Service's namespace (producer) to every
//!   client, a route in another namespace (consumer) only to clients in its own namespace,
//!   and consumer routes replace producer routes for those clients. A parentRef `port`
//!   limits the route to that port; requests on the Service's other ports take the
//!   Service's default route.
//!
//! Rules become [`Rule`]s through Istio's own translation (see `rules`).

mod listeners;
pub mod precedence;
mod rules;

use std::collections::BTreeMap;
use std::sync::Arc;

use mesh_match::HttpMatch;
use mesh_model::gateway_api::binding::{self, Parent, RouteRef};
use mesh_model::gateway_api::{Gateway, GrpcRoute, HttpRoute, ParentReference};
use mesh_model::{Resource, Resources};

pub(crate) use listeners::Listeners;
pub use precedence::Precedence;

use crate::destination::DrIndex;
use crate::error::Warning;
use crate::rule::{RouteEntry, Rule};
use crate::table::VirtualHost;
use rules::RuleCtx;

/// One compiled entry waiting for its place in a virtual host.
struct Pending {
    order: (Precedence, usize, usize, usize),
    entry: RouteEntry,
}

/// A compiled match: the matcher, its precedence and its index in the rule.
type CompiledMatch = (HttpMatch, Precedence, usize);

/// A route of either kind, with its compiled rules and their matches.
struct CompiledRoute<'r> {
    route: RouteRef<'r>,
    rules: Vec<(Arc<Rule>, Vec<CompiledMatch>)>,
}

fn compile_http<'r>(ctx: &mut RuleCtx<'_, 'r>, r: &'r Resource<HttpRoute>) -> CompiledRoute<'r> {
    let mut rules = Vec::new();
    for (i, rule) in r.spec.rules.iter().enumerate() {
        let prefix = match rule.matches.as_slice() {
            [m] => m.path.as_ref().filter(|p| p.kind == "PathPrefix").map(|p| {
                if p.value == "/" {
                    "/"
                } else {
                    p.value.strip_suffix('/').unwrap_or(&p.value)
                }
            }),
            _ => None,
        };
        let compiled = Arc::new(rules::http_rule(ctx, r, i, prefix));
        let mut matches = Vec::new();
        let list: Vec<Option<&mesh_model::gateway_api::HttpRouteMatch>> = if rule.matches.is_empty()
        {
            vec![None]
        } else {
            rule.matches.iter().map(Some).collect()
        };
        for (j, m) in list.into_iter().enumerate() {
            let (hm, p) = match m {
                None => (Ok(HttpMatch::any_on_port(None)), Precedence::default()),
                Some(m) => (HttpMatch::from_http_route_match(m), precedence::http(m)),
            };
            match hm {
                Ok(hm) => matches.push((hm, p, j)),
                Err(e) => ctx.warnings.push(warning(
                    r,
                    format!("spec.rules[{i}].matches[{j}]"),
                    format!("{e}; the match is dropped"),
                )),
            }
        }
        rules.push((compiled, matches));
    }
    CompiledRoute {
        route: RouteRef::http(r),
        rules,
    }
}

fn compile_grpc<'r>(ctx: &mut RuleCtx<'_, 'r>, r: &'r Resource<GrpcRoute>) -> CompiledRoute<'r> {
    let mut rules = Vec::new();
    for (i, rule) in r.spec.rules.iter().enumerate() {
        let compiled = Arc::new(rules::grpc_rule(ctx, r, i));
        let mut matches = Vec::new();
        let list: Vec<Option<&mesh_model::gateway_api::GrpcRouteMatch>> = if rule.matches.is_empty()
        {
            vec![None]
        } else {
            rule.matches.iter().map(Some).collect()
        };
        for (j, m) in list.into_iter().enumerate() {
            match HttpMatch::from_grpc_route_match(m) {
                Ok(hm) => {
                    let p = m.map_or_else(Precedence::default, precedence::grpc);
                    matches.push((hm, p, j));
                }
                Err(e) => ctx.warnings.push(warning(
                    r,
                    format!("spec.rules[{i}].matches[{j}]"),
                    format!("{e}; the match is dropped"),
                )),
            }
        }
        rules.push((compiled, matches));
    }
    CompiledRoute {
        route: RouteRef::grpc(r),
        rules,
    }
}

fn warning<S: mesh_model::resource::Spec>(
    r: &Resource<S>,
    path: String,
    message: String,
) -> Warning {
    Warning {
        resource: r.key(),
        origin: r.origin.at_path(&path).to_string(),
        path,
        kind: message.into(),
    }
}

/// The routes of the input whose parentRefs `wanted` accepts (given the parentRefs and the
/// route's namespace), in precedence order of routes (oldest first, then
/// `namespace/name`), each compiled once.
fn compile_routes<'r>(
    ctx: &mut RuleCtx<'_, 'r>,
    resources: &'r Resources,
    wanted: impl Fn(&[ParentReference], &str) -> bool,
) -> Vec<CompiledRoute<'r>> {
    let g = &resources.gateway_api;
    let mut out: Vec<CompiledRoute<'r>> = Vec::new();
    for r in &g.http_routes {
        if wanted(&r.spec.parent_refs, r.namespace()) {
            out.push(compile_http(ctx, r));
        }
    }
    for r in &g.grpc_routes {
        if wanted(&r.spec.parent_refs, r.namespace()) {
            out.push(compile_grpc(ctx, r));
        }
    }
    out.sort_by(|a, b| {
        let ka = (
            a.route.created,
            a.route.namespace,
            a.route.name,
            a.route.kind,
        );
        let kb = (
            b.route.created,
            b.route.namespace,
            b.route.name,
            b.route.kind,
        );
        ka.cmp(&kb)
    });
    out
}

/// Orders pending entries by precedence and turns them into a virtual host.
fn virtual_host(name: String, domain: String, mut pending: Vec<Pending>) -> VirtualHost {
    pending.sort_by_key(|p| p.order);
    VirtualHost {
        name,
        domains: vec![domain],
        entries: pending.into_iter().map(|p| p.entry).collect(),
        require_tls: false,
    }
}

/// The routes of a Gateway API Gateway: its virtual hosts, the listener index that finds
/// them, and what compiled with a difference.
pub(crate) fn compile_gateway(
    resources: &Resources,
    gw: &Resource<Gateway>,
    drs: &DrIndex<'_>,
) -> (Vec<VirtualHost>, Listeners, Vec<Warning>) {
    let mut warnings = Vec::new();
    for (i, l) in gw.spec.listeners.iter().enumerate() {
        let path = format!("spec.listeners[{i}]");
        match l.protocol.as_str() {
            "HTTP" => {}
            "HTTPS" => warnings.push(warning(
                gw,
                format!("{path}.tls"),
                format!("listener {:?} (HTTPS, port {}) is served as plain HTTP: terminate TLS in front of the proxy", l.name, l.port),
            )),
            p => warnings.push(warning(
                gw,
                format!("{path}.protocol"),
                format!("listener {:?} ({p}, port {}) is not served by the HTTP engine", l.name, l.port),
            )),
        }
        if let Err(c) = binding::listener_conflict(gw, l) {
            warnings.push(warning(
                gw,
                path,
                format!("{}: {}; the listener is not served", c.reason, c.message),
            ));
        }
    }
    for k in 0..gw.spec.addresses.len() {
        warnings.push(warning(
            gw,
            format!("spec.addresses[{k}]"),
            "requested addresses are not executed: the proxy listens where it is told to"
                .to_owned(),
        ));
    }
    let mut ctx = RuleCtx {
        resources,
        mesh: false,
        drs,
        warnings: &mut warnings,
    };
    let routes = compile_routes(&mut ctx, resources, |parents, ns| {
        parents
            .iter()
            .any(|p| binding::names_gateway(p, ns, gw.namespace(), gw.name()))
    });
    // (listener, hostname) -> pending entries
    let mut hosts: BTreeMap<(usize, String), Vec<Pending>> = BTreeMap::new();
    for (route_order, cr) in routes.iter().enumerate() {
        let attachments = binding::attach(resources, cr.route);
        let mut seen: Vec<(usize, String)> = Vec::new();
        for a in attachments {
            if !matches!(a.parent, Parent::Gateway(g) if std::ptr::eq(g, gw)) || a.accepted.is_err()
            {
                continue;
            }
            for l in &a.listeners {
                for h in &l.hostnames {
                    let key = (l.listener, h.clone());
                    if seen.contains(&key) {
                        continue;
                    }
                    seen.push(key.clone());
                    let slot = hosts.entry(key).or_default();
                    for (rule, matches) in &cr.rules {
                        for (m, p, j) in matches {
                            slot.push(Pending {
                                order: (*p, route_order, rule.index, *j),
                                entry: RouteEntry {
                                    rule: rule.clone(),
                                    matcher: Some(m.clone()),
                                    match_index: *j,
                                },
                            });
                        }
                    }
                }
            }
        }
    }
    let mut vhosts = Vec::new();
    let mut listeners = Listeners::default();
    for (port, indices) in binding::http_ports(gw) {
        for li in indices {
            let l = &gw.spec.listeners[li];
            if binding::listener_conflict(gw, l).is_err() {
                continue;
            }
            let slot = listeners.add_listener(port, l.hostname.as_deref().unwrap_or("*"));
            let keys: Vec<(usize, String)> =
                hosts.keys().filter(|(i, _)| *i == li).cloned().collect();
            for key in keys {
                let pending = hosts.remove(&key).unwrap_or_default();
                let name = format!("{}/{} {} {}", gw.namespace(), gw.name(), l.name, key.1);
                listeners.add_host(port, slot, &key.1, vhosts.len());
                vhosts.push(virtual_host(name, key.1, pending));
            }
        }
    }
    (vhosts, listeners, warnings)
}

/// The mesh routes (GAMMA) that apply to a sidecar in `proxy_ns`: per Service host, the
/// virtual host and its domains as the sidecar resolves them.
pub(crate) fn compile_mesh(
    resources: &Resources,
    proxy_ns: &str,
    drs: &DrIndex<'_>,
    domains: impl Fn(&str) -> Vec<String>,
) -> (Vec<VirtualHost>, Vec<Warning>) {
    let mut warnings = Vec::new();
    if resources.gateway_api.http_routes.is_empty() && resources.gateway_api.grpc_routes.is_empty()
    {
        return (Vec::new(), warnings);
    }
    let mut ctx = RuleCtx {
        resources,
        mesh: true,
        drs,
        warnings: &mut warnings,
    };
    let routes = compile_routes(&mut ctx, resources, |parents, _| {
        parents.iter().any(ParentReference::is_service)
    });
    // service (ns, name) -> (consumer entries, producer entries, ports covered: None = all)
    struct Svc {
        consumer: Vec<Pending>,
        producer: Vec<Pending>,
        consumer_ports: Option<Vec<u16>>,
        producer_ports: Option<Vec<u16>>,
    }
    let mut services: BTreeMap<(String, String), Svc> = BTreeMap::new();
    for (route_order, cr) in routes.iter().enumerate() {
        for a in binding::attach(resources, cr.route) {
            let Parent::Service {
                namespace,
                name,
                port,
            } = &a.parent
            else {
                continue;
            };
            if a.accepted.is_err() {
                continue;
            }
            let producer = cr.route.namespace == namespace;
            let svc = services
                .entry((namespace.clone(), name.clone()))
                .or_insert_with(|| Svc {
                    consumer: Vec::new(),
                    producer: Vec::new(),
                    consumer_ports: Some(Vec::new()),
                    producer_ports: Some(Vec::new()),
                });
            // A consumer route of another namespace does not apply to this client; the
            // Service still gets its virtual host (with the default route) below.
            if !producer && cr.route.namespace != proxy_ns {
                continue;
            }
            let (list, ports) = if producer {
                (&mut svc.producer, &mut svc.producer_ports)
            } else {
                (&mut svc.consumer, &mut svc.consumer_ports)
            };
            match (port, ports.as_mut()) {
                (Some(p), Some(v)) => v.push(*p),
                (None, _) => *ports = None,
                _ => {}
            }
            for (rule, matches) in &cr.rules {
                for (m, p, j) in matches {
                    let m = match port {
                        Some(port) => m.clone().with_port(*port),
                        None => m.clone(),
                    };
                    list.push(Pending {
                        order: (*p, route_order, rule.index, *j),
                        entry: RouteEntry {
                            rule: rule.clone(),
                            matcher: Some(m),
                            match_index: *j,
                        },
                    });
                }
            }
        }
    }
    let mut vhosts = Vec::new();
    for ((ns, name), svc) in services {
        let (pending, covered) = if svc.consumer.is_empty() {
            (svc.producer, svc.producer_ports)
        } else {
            (svc.consumer, svc.consumer_ports)
        };
        let host = format!("{name}.{ns}.svc.{}", mesh_model::host::CLUSTER_DOMAIN);
        let mut vh = virtual_host(
            format!("{ns}/{name} (Gateway API mesh routes)"),
            host.clone(),
            pending,
        );
        // Ports no route covers keep the Service's default route; a Service whose routes
        // all belong to other clients keeps it on every port.
        if vh.entries.is_empty() {
            vh.entries.push(RouteEntry {
                rule: Arc::new(rules::default_to_service(&ctx, &host)),
                matcher: None,
                match_index: 0,
            });
        } else if let Some(covered) = covered {
            let ports: Vec<u16> = resources
                .kubernetes
                .service_named(&ns, &name)
                .map(|s| {
                    s.ports
                        .iter()
                        .filter_map(|p| u16::try_from(p.port).ok())
                        .filter(|p| !covered.contains(p))
                        .collect()
                })
                .unwrap_or_default();
            let rule = Arc::new(rules::default_to_service(&ctx, &host));
            for p in ports {
                vh.entries.push(RouteEntry {
                    rule: rule.clone(),
                    matcher: Some(HttpMatch::any_on_port(Some(p))),
                    match_index: 0,
                });
            }
        }
        vh.domains = domains(&host);
        vhosts.push(vh);
    }
    (vhosts, warnings)
}
