//! Compiling resources into an immutable [`RouteTable`] for one proxy, and deciding requests.

use std::collections::BTreeMap;
use std::sync::Arc;

use mesh_match::{HttpMatch, MatchProgram, RegexCache, RequestView, Source};
use mesh_model::host::{resolve_gateway_name, resolve_short_name, split_service_fqdn};
use mesh_model::validate::{Severity, validate_resource};
use mesh_model::virtual_service::{Destination, HttpRoute, VirtualService};
use mesh_model::{AnyResource, Resource, ResourceKey, Resources};

use crate::decision::{Decision, Matched, NoRoute, Target};
use crate::delegate::merge_route;
use crate::destination::{DrIndex, Registry, RouteDestination, visible};
use crate::error::{CompileError, Problem, ProblemKind, Warning};
use crate::identity::Identity;
use crate::index::{Hint, HostIndex, MAX_HOST_LEN, Shape};
use crate::policy::{
    CorsPolicy, DirectResponse, FaultPolicy, Fraction, HeadersPolicy, PolicySet, Redirect,
    RetryPolicy, Rewrite,
};
use crate::rollout::RolloutSite;
use crate::rule::{Action, Mirror, RouteEntry, Rule, Split};
use crate::sticky::{STICKY_ANNOTATION, StickyKey};

/// Settings for [`RouteTable::compile`].
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Sticky splits for every VirtualService that does not set the annotation itself
    /// (beyond Istio; off by default).
    pub sticky: Option<StickyKey>,
}

/// A virtual host: the domains it answers and its ordered route entries.
#[derive(Clone, Debug)]
pub struct VirtualHost {
    /// A readable name: the VirtualService (`ns/name`), or the domain at a gateway.
    pub name: String,
    /// Domains (hosts) it answers.
    pub domains: Vec<String>,
    /// Route entries, first match wins.
    pub entries: Vec<RouteEntry>,
    /// Plain-HTTP requests get a 301 to https (Gateway `tls.httpsRedirect`).
    pub require_tls: bool,
}

#[derive(Clone, Debug)]
enum Listeners {
    Sidecar(HostIndex),
    Gateway(Vec<(u16, HostIndex)>),
    /// A Gateway API Gateway: listeners by port, then hostname.
    GatewayApi(crate::gateway_api::Listeners),
}

/// The routes of one proxy, compiled from Istio resources. Immutable; share it behind an
/// `Arc` and swap it whole on reload.
#[derive(Clone, Debug)]
pub struct RouteTable {
    identity: Identity,
    vhosts: Vec<VirtualHost>,
    listeners: Listeners,
    /// Sidecars: the domains of the declared services (Kubernetes Services and
    /// ServiceEntries), to the service's FQDN in `service_hosts`, for hosts without a
    /// VirtualService (Istio's default virtual host of each service).
    services: HostIndex,
    service_hosts: Vec<String>,
    default_rule: Rule,
    https_redirect: Redirect,
    warnings: Vec<Warning>,
    /// The rules of the automated canaries (`mesh-route.dev/rollout`), in table order.
    rollouts: Arc<[RolloutSite]>,
    /// The match blocks of every virtual host's entries, laid out for `decide`.
    layout: Option<Layout>,
    /// The ServiceEntry endpoints of the configuration.
    upstream: Vec<crate::upstream::UpstreamEndpoint>,
}

/// The route entries' match blocks as one [`MatchProgram`], virtual host after virtual
/// host, each host's blocks consecutive and in the order of its entries: deciding a
/// request reads its host's blocks and their literals from a few contiguous lines of
/// memory. Built once, when the table is compiled.
///
/// Where each host's blocks are is its [`Hint`], which the host index keeps with the
/// host's domains: a lookup gives at once the addresses of the host's steps, literals and
/// [`Out`]s, whose cache misses (on a large table, a random host's are all misses) then
/// overlap instead of following one another.
#[derive(Clone, Debug)]
struct Layout {
    program: MatchProgram,
    /// Each virtual host's place in `program` and `outs`.
    hints: Vec<Hint>,
    /// What each block decides, by block.
    outs: Vec<Out>,
}

/// The rule of one route entry, by block of the layout, so that deciding reads the rule
/// pointer next to its neighbours' rather than through the entry.
#[derive(Clone, Debug)]
struct Out {
    rule: Arc<Rule>,
    /// The rule's destinations when it forwards to a single one that resolves: the
    /// decision is that destination, without reading the rule or the destination.
    single: Option<Arc<[RouteDestination]>>,
}

impl Out {
    fn of(rule: &Arc<Rule>) -> Out {
        let single = rule
            .split()
            .map(Split::shared_destinations)
            .filter(|d| d.len() == 1 && d[0].unresolved.is_none())
            .cloned();
        Out {
            rule: rule.clone(),
            single,
        }
    }
}

impl Layout {
    /// Lays out `vhosts`; `None` only for tables whose match literals exceed what a
    /// program holds (4 GiB), whose entries are then matched one by one.
    fn new(vhosts: &[VirtualHost]) -> Option<Layout> {
        let mut program = MatchProgram::new();
        let mut hints = Vec::with_capacity(vhosts.len());
        for vh in vhosts {
            let block = u32::try_from(program.len()).ok()?;
            let step = u32::try_from(program.steps_len()).ok()?;
            let lit = u32::try_from(program.literals_len()).ok()?;
            let n = vh.entries.len();
            let mut shape = Shape::OneStep { last_empty: false };
            for (i, e) in vh.entries.iter().enumerate() {
                let before = program.steps_len();
                program.push(e.matcher.as_ref()).ok()?;
                let conditions = program.steps_len() - before;
                shape = match (shape, conditions) {
                    (_, 0) if i == 0 => Shape::FirstUnconditional,
                    (Shape::OneStep { .. }, 1) => shape,
                    (Shape::OneStep { .. }, 0) if i + 1 == n => Shape::OneStep { last_empty: true },
                    (Shape::FirstUnconditional, _) => shape,
                    _ => Shape::General,
                };
            }
            hints.push(Hint::new(block, n, step, lit, shape)?);
        }
        Some(Layout {
            program,
            hints,
            outs: Self::outs(vhosts),
        })
    }

    fn outs(vhosts: &[VirtualHost]) -> Vec<Out> {
        vhosts
            .iter()
            .flat_map(|v| &v.entries)
            .map(|e| Out::of(&e.rule))
            .collect()
    }

    /// The number of route entries from which [`Self::first_match`] starts a host's reads
    /// ahead: tables of fewer (a few tens of KiB of layout) stay in the first-level cache
    /// when used, where the reads ahead would cost instructions and save no wait.
    const PREFETCH_FROM: usize = 1024;

    /// The hint of virtual host `vhost`.
    fn hint(&self, vhost: usize) -> Hint {
        self.hints.get(vhost).copied().unwrap_or_default()
    }

    /// The first entry of the virtual host at `hint` that `req` matches: its index among
    /// the host's entries, and its [`Out`].
    #[inline]
    fn first_match(&self, hint: Hint, req: &RequestView<'_>) -> Option<(usize, &Out)> {
        let start = hint.block as usize;
        if hint.first_unconditional() {
            // The host's first route matches every request: nothing to read ahead or match.
            return Some((0, self.outs.get(start)?));
        }
        let end = start + hint.blocks() as usize;
        if self.outs.len() >= Self::PREFETCH_FROM {
            // Start the host's first reads together (see the type's documentation): the
            // first line of its steps, of its literals and of its outs. Reading every line
            // of a host ahead (five of steps, two of literals, three of outs) measured
            // slower: more misses in flight than the matching needs first.
            self.program.prefetch(hint.step as usize, hint.lit as usize);
            std::hint::black_box(self.outs.get(start).is_some_and(|o| o.single.is_some()));
        }
        let b = match hint.one_step() {
            // One condition a block (the last may have none): the host's steps are its
            // blocks, and no block bounds are read.
            Some(last_empty) => {
                let first = hint.step as usize;
                let steps = end - start - usize::from(last_empty);
                match self.program.first_holding_step(first..first + steps, req) {
                    Some(s) => start + (s - first),
                    None if last_empty => end - 1,
                    None => return None,
                }
            }
            None => self.program.first_match(start..end, req)?,
        };
        Some((b - start, self.outs.get(b)?))
    }
}

fn problem(
    key: &ResourceKey,
    origin: &mesh_model::Origin,
    path: impl Into<String>,
    kind: impl Into<ProblemKind>,
) -> Problem {
    let path = path.into();
    Problem {
        resource: key.clone(),
        origin: origin.at_path(&path).to_string(),
        path,
        kind: kind.into(),
    }
}

struct Ctx<'r> {
    identity: &'r Identity,
    labels: BTreeMap<String, String>,
    gateway_name: String,
    drs: DrIndex<'r>,
    registry: Registry,
    options: &'r CompileOptions,
    problems: Vec<Problem>,
    warnings: Vec<Warning>,
    rollouts: Vec<RolloutSite>,
    /// One compiled regex per pattern for the whole table (shared programs and caches).
    regexes: RegexCache,
}

impl<'r> Ctx<'r> {
    fn source(&self) -> Source<'_> {
        Source {
            namespace: self.identity.namespace(),
            labels: &self.labels,
            gateway: &self.gateway_name,
        }
    }

    fn destination(
        &mut self,
        d: &Destination,
        namespace: &str,
        weight: i32,
        headers: HeadersPolicy,
    ) -> RouteDestination {
        let host = resolve_short_name(&d.host, namespace);
        let explicit = d
            .port
            .as_ref()
            .and_then(|p| u16::try_from(p.number).ok())
            .filter(|p| *p != 0);
        let port = explicit.or_else(|| self.registry.single_port(&host));
        let rule = self.drs.lookup(&host);
        let subset = rule
            .as_ref()
            .and_then(|r| r.subsets.iter().find(|s| s.name == d.subset).copied());
        let subset_labels = if d.subset.is_empty() {
            Some(BTreeMap::new())
        } else {
            subset.map(|s| s.labels.clone())
        };
        let policy = PolicySet::new(
            rule.as_ref().and_then(|r| r.traffic_policy),
            if d.subset.is_empty() { None } else { subset },
            port,
        );
        RouteDestination {
            host,
            subset: d.subset.clone(),
            port,
            weight: u32::try_from(weight).unwrap_or(0),
            headers,
            subset_labels,
            destination_rule: rule.map(|r| r.key),
            policy,
            unresolved: None,
        }
    }
}

fn vs_sort_key<'a>(
    vs: &'a Resource<VirtualService>,
    proxy_ns: &str,
) -> (u8, Option<&'a mesh_model::Timestamp>, &'a str, &'a str) {
    let e = &vs.spec.export_to;
    // Istio indexes `.` and the VirtualService's own namespace named explicitly alike, as
    // private to that namespace (`initVirtualServices`); `*` makes it public whatever else
    // is listed.
    let public = e.is_empty() || e.iter().any(|x| x == "*");
    let group =
        if !public && vs.namespace() == proxy_ns && e.iter().any(|x| x == "." || x == proxy_ns) {
            0
        } else if !public && e.iter().any(|x| x == proxy_ns) {
            1
        } else {
            2
        };
    (
        group,
        vs.metadata.creation_timestamp.as_ref(),
        vs.name(),
        vs.namespace(),
    )
}

impl RouteTable {
    /// Compiles `resources` for the proxy `identity`.
    ///
    /// Resources that Istio would reject (validation errors), and constructs that cannot be
    /// executed, are errors: nothing is silently dropped. What compiles but differs from a
    /// real mesh is reported by [`warnings`](Self::warnings).
    pub fn compile(
        resources: &Resources,
        identity: &Identity,
        options: &CompileOptions,
    ) -> Result<RouteTable, CompileError> {
        let mut problems = Vec::new();
        let all = resources
            .virtual_services
            .iter()
            .cloned()
            .map(AnyResource::VirtualService)
            .chain(
                resources
                    .destination_rules
                    .iter()
                    .cloned()
                    .map(AnyResource::DestinationRule),
            )
            .chain(resources.gateways.iter().cloned().map(AnyResource::Gateway))
            .chain(
                resources
                    .service_entries
                    .iter()
                    .cloned()
                    .map(AnyResource::ServiceEntry),
            );
        // Gateway API resources the API server would reject (their CRDs' validation).
        for f in mesh_model::validate::validate_gateway_api(resources) {
            if f.severity == Severity::Error {
                problems.push(Problem::from(f));
            }
        }
        for r in all {
            for f in validate_resource(&r) {
                if f.severity == Severity::Error {
                    problems.push(Problem::from(f));
                }
            }
        }
        if !problems.is_empty() {
            return Err(CompileError { problems });
        }
        let (labels, gateway) = match identity {
            Identity::Sidecar { labels, .. } => (labels.clone(), None),
            Identity::Gateway { namespace, name } => {
                let gw = resources
                    .gateways
                    .iter()
                    .find(|g| g.namespace() == namespace && g.name() == name);
                match gw {
                    Some(g) => (g.spec.selector.clone(), Some(g)),
                    None if resources.gateway_api.gateway(namespace, name).is_some() => {
                        return Ok(Self::compile_gateway_api(resources, identity));
                    }
                    None => {
                        return Err(CompileError {
                            problems: vec![Problem {
                                resource: ResourceKey {
                                    kind: mesh_model::Kind::Gateway,
                                    namespace: namespace.clone(),
                                    name: name.clone(),
                                },
                                path: String::new(),
                                kind: ProblemKind::MissingGateway,
                                origin: String::new(),
                            }],
                        });
                    }
                }
            }
        };
        let mut ctx = Ctx {
            identity,
            labels,
            gateway_name: identity.gateway_name(),
            drs: DrIndex::new(resources, identity),
            registry: Registry::new(resources),
            options,
            problems: Vec::new(),
            warnings: Vec::new(),
            rollouts: Vec::new(),
            regexes: RegexCache::new(),
        };
        // The VirtualServices this proxy sees, in Istio's order.
        let proxy_ns = match identity {
            Identity::Sidecar { namespace, .. } => namespace.as_str(),
            Identity::Gateway { namespace, .. } => namespace.as_str(),
        };
        let mut vss: Vec<&Resource<VirtualService>> = resources
            .virtual_services
            .iter()
            .filter(|vs| !vs.spec.hosts.is_empty())
            .filter(|vs| visible(&vs.spec.export_to, vs.namespace(), proxy_ns))
            .filter(|vs| {
                let gws: Vec<String> = if vs.spec.gateways.is_empty() {
                    vec!["mesh".to_owned()]
                } else {
                    vs.spec
                        .gateways
                        .iter()
                        .map(|g| resolve_gateway_name(g, vs.namespace()))
                        .collect()
                };
                gws.contains(&ctx.gateway_name)
            })
            .collect();
        vss.sort_by(|a, b| vs_sort_key(a, proxy_ns).cmp(&vs_sort_key(b, proxy_ns)));

        let mut compiled: Vec<(&Resource<VirtualService>, Vec<RouteEntry>)> = Vec::new();
        for vs in &vss {
            let entries = compile_vs(&mut ctx, vs, resources);
            compiled.push((vs, entries));
        }
        if !ctx.problems.is_empty() {
            return Err(CompileError {
                problems: ctx.problems,
            });
        }
        // What is read but not executed, for the resources this proxy uses.
        for dr in ctx.drs.rules() {
            for (path, message) in crate::unexecuted::destination_rule(&dr.spec) {
                ctx.warnings
                    .push(problem(&dr.key(), &dr.origin, path, message));
            }
        }
        if let Some(gw) = gateway {
            for (path, message) in crate::unexecuted::gateway(&gw.spec) {
                ctx.warnings
                    .push(problem(&gw.key(), &gw.origin, path, message));
            }
        }
        let mut vhosts = Vec::new();
        let listeners = match gateway {
            None => {
                let mut index = HostIndex::default();
                for (vs, entries) in compiled {
                    let mut domains = Vec::new();
                    for h in &vs.spec.hosts {
                        let fqdn = resolve_short_name(h, vs.namespace());
                        for d in sidecar_domains(&fqdn, proxy_ns) {
                            if !index.contains(&d) && !domains.contains(&d) {
                                domains.push(d);
                            }
                        }
                    }
                    if domains.is_empty() {
                        continue;
                    }
                    let i = vhosts.len();
                    for d in &domains {
                        index.insert(d, i);
                    }
                    vhosts.push(VirtualHost {
                        name: format!("{}/{}", vs.namespace(), vs.name()),
                        domains,
                        entries,
                        require_tls: false,
                    });
                }
                // Gateway API mesh routes (GAMMA), for the hosts no VirtualService claims.
                let (mesh, warnings) =
                    crate::gateway_api::compile_mesh(resources, proxy_ns, &ctx.drs, |fqdn| {
                        sidecar_domains(fqdn, proxy_ns)
                    });
                ctx.warnings.extend(warnings);
                for mut vh in mesh {
                    vh.domains.retain(|d| !index.contains(d));
                    if vh.domains.is_empty() {
                        ctx.warnings.push(Problem {
                            resource: ResourceKey {
                                kind: mesh_model::Kind::HttpRoute,
                                namespace: proxy_ns.to_owned(),
                                name: vh.name.clone(),
                            },
                            path: String::new(),
                            kind: "a VirtualService already routes this Service's host on sidecars; its Gateway API mesh routes are not applied".into(),
                            origin: String::new(),
                        });
                        continue;
                    }
                    let i = vhosts.len();
                    for d in &vh.domains {
                        index.insert(d, i);
                    }
                    vhosts.push(vh);
                }
                Listeners::Sidecar(index)
            }
            Some(gw) => {
                let mut ports: Vec<(u16, HostIndex)> = Vec::new();
                // domain per port -> vhost index
                let mut by_port: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
                // Which VirtualServices each virtual host already holds.
                let mut holds: Vec<Vec<usize>> = Vec::new();
                for server in &gw.spec.servers {
                    let Some(port) = server.port.as_ref() else {
                        continue;
                    };
                    let Ok(number) = u16::try_from(port.number) else {
                        continue;
                    };
                    let protocol = port.protocol.to_ascii_uppercase();
                    let http = matches!(
                        protocol.as_str(),
                        "HTTP" | "HTTPS" | "HTTP2" | "GRPC" | "GRPC-WEB"
                    );
                    if !http {
                        ctx.warnings.push(problem(&gw.key(), &gw.origin, "spec.servers", format!("server port {number} ({protocol}) is not HTTP; it is not served by the HTTP engine")));
                        continue;
                    }
                    if protocol == "HTTPS"
                        && server.tls.as_ref().is_some_and(|t| {
                            t.mode == mesh_model::gateway::ServerTlsMode::Passthrough
                        })
                    {
                        continue;
                    }
                    let require_tls = server.tls.as_ref().is_some_and(|t| t.https_redirect);
                    let slot = by_port.entry(number).or_default();
                    for (vs_index, (vs, entries)) in compiled.iter().enumerate() {
                        for h in &vs.spec.hosts {
                            let vs_host = resolve_short_name(h, vs.namespace());
                            for sh in &server.hosts {
                                let (ns, dns) = sh.split_once('/').unwrap_or(("*", sh.as_str()));
                                let allowed = ns == "*"
                                    || (ns == "." && vs.namespace() == gw.namespace())
                                    || ns == vs.namespace();
                                if !allowed {
                                    continue;
                                }
                                let dns = dns.to_ascii_lowercase();
                                let domain = if mesh_model::host::subset_of(&vs_host, &dns) {
                                    vs_host.clone()
                                } else if mesh_model::host::subset_of(&dns, &vs_host) {
                                    dns.clone()
                                } else {
                                    continue;
                                };
                                let existing = slot.iter().copied().find(|i| {
                                    vhosts
                                        .get(*i)
                                        .is_some_and(|v: &VirtualHost| v.domains[0] == domain)
                                });
                                let i = match existing {
                                    Some(i) => i,
                                    None => {
                                        vhosts.push(VirtualHost {
                                            name: domain.clone(),
                                            domains: vec![domain.clone()],
                                            entries: Vec::new(),
                                            require_tls,
                                        });
                                        holds.push(Vec::new());
                                        slot.push(vhosts.len() - 1);
                                        vhosts.len() - 1
                                    }
                                };
                                if !holds[i].contains(&vs_index) {
                                    holds[i].push(vs_index);
                                    vhosts[i].entries.extend(entries.iter().cloned());
                                }
                            }
                        }
                    }
                }
                // Merged VirtualServices: catch-all routes move to the end (stable).
                for vh in &mut vhosts {
                    let (mut rest, catch_all): (Vec<_>, Vec<_>) =
                        vh.entries.drain(..).partition(|e| !e.is_catch_all());
                    rest.extend(catch_all);
                    vh.entries = rest;
                }
                for (port, list) in by_port {
                    let mut index = HostIndex::default();
                    for i in list {
                        index.insert(&vhosts[i].domains[0].clone(), i);
                    }
                    ports.push((port, index));
                }
                Listeners::Gateway(ports)
            }
        };
        let mut services = HostIndex::default();
        let mut service_hosts: Vec<String> = Vec::new();
        if gateway.is_none() {
            let mut hosts: Vec<&str> = ctx.registry.hosts().collect();
            hosts.sort_unstable();
            for h in hosts {
                let fqdn = h.to_ascii_lowercase();
                if mesh_model::host::is_wildcard(&fqdn) {
                    continue;
                }
                for d in sidecar_domains(&fqdn, proxy_ns) {
                    services.insert(&d, service_hosts.len());
                }
                service_hosts.push(fqdn);
            }
        }
        let mut table = RouteTable {
            identity: identity.clone(),
            layout: Layout::new(&vhosts),
            vhosts,
            listeners,
            services,
            service_hosts,
            default_rule: default_rule(),
            https_redirect: Redirect::https(),
            warnings: ctx.warnings,
            rollouts: ctx.rollouts.into(),
            upstream: crate::upstream::upstream_endpoints(resources),
        };
        table.set_hints();
        Ok(table)
    }

    /// The table of a Gateway API Gateway (the identity names one, and no Istio Gateway has
    /// its name).
    fn compile_gateway_api(resources: &Resources, identity: &Identity) -> RouteTable {
        let (namespace, name) = match identity {
            Identity::Gateway { namespace, name } => (namespace.as_str(), name.as_str()),
            Identity::Sidecar { namespace, .. } => (namespace.as_str(), ""),
        };
        let drs = DrIndex::new(resources, identity);
        let (vhosts, listeners, mut warnings) = match resources.gateway_api.gateway(namespace, name)
        {
            Some(gw) => crate::gateway_api::compile_gateway(resources, gw, &drs),
            None => Default::default(),
        };
        for dr in drs.rules() {
            for (path, message) in crate::unexecuted::destination_rule(&dr.spec) {
                warnings.push(problem(&dr.key(), &dr.origin, path, message));
            }
        }
        // Istio also serves VirtualServices bound to a Gateway API Gateway by name; this
        // engine serves the Gateway's routes only.
        let gateway_name = identity.gateway_name();
        for vs in &resources.virtual_services {
            for (i, g) in vs.spec.gateways.iter().enumerate() {
                if resolve_gateway_name(g, vs.namespace()) == gateway_name {
                    warnings.push(problem(
                        &vs.key(),
                        &vs.origin,
                        format!("spec.gateways[{i}]"),
                        format!("the VirtualService is bound to the Gateway API Gateway {gateway_name}, whose table serves its HTTPRoutes and GRPCRoutes only: the VirtualService's routes are not executed there"),
                    ));
                }
            }
        }
        RouteTable {
            identity: identity.clone(),
            layout: Layout::new(&vhosts),
            vhosts,
            listeners: Listeners::GatewayApi(listeners),
            default_rule: default_rule(),
            https_redirect: Redirect::https(),
            warnings,
            rollouts: Arc::from([]),
            // Gateways route by their listeners; declared services only serve sidecars.
            services: HostIndex::default(),
            service_hosts: Vec::new(),
            upstream: crate::upstream::upstream_endpoints(resources),
        }
    }

    /// The proxy this table is for.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The virtual hosts.
    pub fn virtual_hosts(&self) -> &[VirtualHost] {
        &self.vhosts
    }

    /// What compiled but behaves differently from a real mesh, or is not executed.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The rules stepped by automated canaries (`mesh-route.dev/rollout`), in the order of
    /// the virtual hosts; see [`crate::rollout`].
    pub fn rollouts(&self) -> &[RolloutSite] {
        &self.rollouts
    }

    /// A copy of the table in which every rule for which `f` answers `Some` is replaced by
    /// that rule (the same `Arc` for every entry `f` maps to it).
    pub(crate) fn map_rules(
        &self,
        mut f: impl FnMut(&Arc<Rule>) -> Option<Arc<Rule>>,
    ) -> RouteTable {
        let mut out = self.clone();
        for vhost in &mut out.vhosts {
            for entry in &mut vhost.entries {
                if let Some(new) = f(&entry.rule) {
                    entry.rule = new;
                }
            }
        }
        if let Some(layout) = &mut out.layout {
            layout.outs = Layout::outs(&out.vhosts);
        }
        out
    }

    /// Every host a request can be forwarded (or mirrored) to by this table, fully
    /// qualified as [`Target::host`] gives it, sorted: the destinations of its routes and
    /// mirrors, and the declared services a sidecar's default routes go to.
    pub fn destination_hosts(&self) -> std::collections::BTreeSet<&str> {
        let mut hosts = std::collections::BTreeSet::new();
        for entry in self.vhosts.iter().flat_map(|v| &v.entries) {
            let rule = &entry.rule;
            if let Some(split) = rule.split() {
                hosts.extend(split.destinations().iter().map(|d| d.host.as_str()));
            }
            hosts.extend(rule.mirrors.iter().map(|m| m.destination.host.as_str()));
        }
        hosts.extend(self.service_hosts.iter().map(String::as_str));
        hosts
    }

    /// The endpoints of the configuration's ServiceEntries (see
    /// [`upstream_endpoints`](crate::upstream::upstream_endpoints)).
    pub fn upstream_endpoints(&self) -> &[crate::upstream::UpstreamEndpoint] {
        &self.upstream
    }

    /// The virtual host that answers `req`, if any.
    /// A host longer than [`MAX_HOST_LEN`] bytes is [`NoRoute::BadHost`], whatever its case
    /// and whatever VirtualService would match it.
    pub fn virtual_host(&self, req: &RequestView<'_>) -> Result<Option<&VirtualHost>, NoRoute> {
        Ok(self.vhost_index(req)?.map(|i| &self.vhosts[i]))
    }

    /// The index of the virtual host that answers `req` (see [`virtual_host`]). The
    /// host's case does not matter: the index folds it as it hashes and compares.
    ///
    /// [`virtual_host`]: Self::virtual_host
    #[inline]
    fn vhost_index(&self, req: &RequestView<'_>) -> Result<Option<usize>, NoRoute> {
        Ok(self.vhost_hinted(req)?.map(|(i, _)| i))
    }

    /// [`Self::vhost_index`] and the host's [`Hint`].
    #[inline(always)]
    fn vhost_hinted(&self, req: &RequestView<'_>) -> Result<Option<(usize, &Hint)>, NoRoute> {
        let host = req.host();
        if host.len() > MAX_HOST_LEN {
            return Err(NoRoute::BadHost);
        }
        Ok(self.lookup(req, host))
    }

    #[inline(always)]
    fn lookup(&self, req: &RequestView<'_>, host: &str) -> Option<(usize, &Hint)> {
        let index = match &self.listeners {
            Listeners::Sidecar(index) => index,
            Listeners::Gateway(ports) => match ports.iter().find(|(p, _)| *p == req.port()) {
                Some((_, index)) => index,
                None => return None,
            },
            Listeners::GatewayApi(l) => {
                let i = l.lookup(req.port(), host)?;
                let hint = self.layout.as_ref().and_then(|l| l.hints.get(i));
                return Some((i, hint.unwrap_or(&Hint::EMPTY)));
            }
        };
        index.lookup_hinted(host)
    }

    /// Gives every host index of the table its hosts' [`Hint`]s.
    fn set_hints(&mut self) {
        let Some(layout) = &self.layout else { return };
        match &mut self.listeners {
            Listeners::Sidecar(index) => index.set_hints(|v| layout.hint(v)),
            Listeners::Gateway(ports) => {
                for (_, index) in ports {
                    index.set_hints(|v| layout.hint(v));
                }
            }
            Listeners::GatewayApi(_) => {}
        }
    }

    /// The FQDN of the declared service a sidecar's request host names (`beta.default` is
    /// `beta.default.svc.cluster.local` when that Service is declared), as Istio's default
    /// virtual host of each service answers its short forms.
    fn service_host(&self, host: &str) -> Option<&str> {
        self.services
            .lookup(host)
            .and_then(|i| self.service_hosts.get(i))
            .map(String::as_str)
    }

    /// Decides what to do with `req`. `sample` is a uniform random draw that picks the
    /// destination of a weighted split (unless the rule is sticky and the request carries
    /// its key). Allocates nothing, but to match a repeated inline header (see
    /// [`mesh_match::inline`]).
    pub fn decide<'a>(&'a self, req: &RequestView<'a>, sample: u64) -> Decision<'a> {
        let host = req.host();
        if host.len() > MAX_HOST_LEN {
            return Decision::NoRoute(NoRoute::BadHost);
        }
        let Some((index, &hint)) = self.lookup(req, host) else {
            return self.no_virtual_host(req);
        };
        let Some(vhost) = self.vhosts.get(index) else {
            return Decision::NoRoute(NoRoute::NoVirtualHost);
        };
        if vhost.require_tls && req.scheme() != "https" {
            return Decision::Redirect {
                matched: None,
                redirect: &self.https_redirect,
            };
        }
        let found = match &self.layout {
            Some(layout) => layout.first_match(hint, req).and_then(|(k, out)| {
                Some((vhost.entries.get(k)?, &*out.rule, out.single.as_deref()))
            }),
            None => vhost
                .entries
                .iter()
                .find(|e| e.matcher.as_ref().is_none_or(|m| m.matches(req)))
                .map(|entry| (entry, &*entry.rule, None)),
        };
        let Some((entry, rule, single)) = found else {
            return Decision::NoRoute(NoRoute::NoRuleMatched);
        };
        let matched = Matched { vhost, entry };
        if let Some([d]) = single {
            // One destination that resolves (see `Out`): no split to draw from.
            return Decision::Route {
                matched: Some(matched),
                rule,
                target: Target::Destination(d),
                index: 0,
            };
        }
        Self::act(matched, rule, req, sample)
    }

    /// What `rule` does with `req`, which `matched` matched (see [`Self::decide`]).
    #[inline]
    fn act<'a>(
        matched: Matched<'a>,
        rule: &'a Rule,
        req: &RequestView<'a>,
        sample: u64,
    ) -> Decision<'a> {
        match &rule.action {
            Action::Route(split) => {
                let sample = match &rule.sticky {
                    Some(k) => k.sample(req).unwrap_or(sample),
                    None => sample,
                };
                let index = split.pick(sample);
                match split.destinations().get(index) {
                    // A Gateway API backendRef that does not resolve: 500 for its share.
                    Some(d) => match &d.unresolved {
                        Some(response) => Decision::DirectResponse { matched, response },
                        None => Decision::Route {
                            matched: Some(matched),
                            rule,
                            target: Target::Destination(d),
                            index,
                        },
                    },
                    None => Decision::NoRoute(NoRoute::NoRuleMatched),
                }
            }
            Action::Redirect(r) => Decision::Redirect {
                matched: Some(matched),
                redirect: r,
            },
            Action::DirectResponse(d) => Decision::DirectResponse {
                matched,
                response: d,
            },
        }
    }

    /// The decision for a request whose host no virtual host answers: a sidecar's
    /// passthrough (to the declared service the host names, or to the host itself), a
    /// gateway's 404.
    #[inline]
    fn no_virtual_host<'a>(&'a self, req: &RequestView<'a>) -> Decision<'a> {
        match &self.identity {
            Identity::Sidecar { namespace, .. } => Decision::Route {
                matched: None,
                rule: &self.default_rule,
                target: Target::Passthrough {
                    host: self.service_host(req.host()).unwrap_or(req.host()),
                    namespace,
                },
                index: 0,
            },
            Identity::Gateway { .. } => Decision::NoRoute(NoRoute::NoVirtualHost),
        }
    }

    /// For each entry of the virtual host before the one that matched (or all, when none
    /// did): the entry and the first condition the request failed, as a sentence.
    pub fn trace<'a>(&'a self, req: &RequestView<'a>) -> Vec<(&'a RouteEntry, String)> {
        let Ok(Some(vhost)) = self.virtual_host(req) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in &vhost.entries {
            match &e.matcher {
                None => break,
                Some(m) => match m.check(req) {
                    Ok(()) => break,
                    Err(failed) => out.push((e, m.explain(failed, req))),
                },
            }
        }
        out
    }
}

fn default_rule() -> Rule {
    Rule {
        virtual_service: None,
        index: 0,
        name: String::new(),
        delegate_index: None,
        action: Action::Route(Split::new(Vec::new())),
        rewrite: None,
        timeout: None,
        retries: RetryPolicy::istio_default(),
        fault: FaultPolicy::default(),
        mirrors: Vec::new(),
        cors: None,
        headers: HeadersPolicy::default(),
        sticky: None,
        names: crate::rule::RuleNames::default(),
    }
}

/// The domains a sidecar answers for a VirtualService host: for a Kubernetes service FQDN,
/// the short forms Kubernetes DNS resolves (`name` only from the service's own namespace);
/// otherwise the host itself.
fn sidecar_domains(fqdn: &str, proxy_ns: &str) -> Vec<String> {
    match split_service_fqdn(fqdn) {
        Some((name, ns)) => {
            let mut d = vec![
                fqdn.to_owned(),
                format!("{name}.{ns}.svc"),
                format!("{name}.{ns}"),
            ];
            if ns == proxy_ns {
                d.push(name.to_owned());
            }
            d
        }
        None => vec![fqdn.to_owned()],
    }
}

/// The routes of one VirtualService for this proxy: delegates merged, match blocks that do
/// not apply to the proxy pruned, and routes after a catch-all dropped.
fn compile_vs(
    ctx: &mut Ctx<'_>,
    vs: &Resource<VirtualService>,
    resources: &Resources,
) -> Vec<RouteEntry> {
    let sticky = match vs.metadata.annotations.get(STICKY_ANNOTATION) {
        Some(v) => match v.parse::<StickyKey>() {
            Ok(k) => Some(k),
            Err(e) => {
                ctx.problems.push(problem(
                    &vs.key(),
                    &vs.origin,
                    format!("metadata.annotations[{STICKY_ANNOTATION:?}]"),
                    ProblemKind::Sticky(e),
                ));
                None
            }
        },
        None => ctx.options.sticky.clone(),
    };
    if !vs.spec.tcp.is_empty() || !vs.spec.tls.is_empty() {
        ctx.warnings.push(problem(
            &vs.key(),
            &vs.origin,
            "spec",
            "tcp and tls routes are not executed by the HTTP engine",
        ));
    }
    // (route, namespace its hosts resolve against, index in the root, owning VS, index in
    // the delegate)
    let mut routes: Vec<(HttpRoute, String, usize, ResourceKey, Option<usize>)> = Vec::new();
    for (i, r) in vs.spec.http.iter().enumerate() {
        match &r.delegate {
            None => routes.push((r.clone(), vs.namespace().to_owned(), i, vs.key(), None)),
            Some(d) => {
                let ns = if d.namespace.is_empty() {
                    vs.namespace()
                } else {
                    &d.namespace
                };
                let delegate = resources
                    .virtual_services
                    .iter()
                    .find(|x| x.namespace() == ns && x.name() == d.name && x.spec.hosts.is_empty())
                    .filter(|x| visible(&x.spec.export_to, x.namespace(), vs.namespace()));
                match delegate {
                    None => ctx.warnings.push(problem(
                        &vs.key(),
                        &vs.origin,
                        format!("spec.http[{i}].delegate"),
                        format!("delegate VirtualService {ns}/{} is not found or not exported to {}; the route is skipped, as Istio skips it", d.name, vs.namespace()),
                    )),
                    Some(dvs) => {
                        // Istio resolves short names in every VirtualService before merging
                        // (`initVirtualServices`): what the delegate inherits from the root
                        // keeps the root's namespace.
                        let root = resolve_mirror_hosts(r, vs.namespace());
                        for (j, leaf) in dvs.spec.http.iter().enumerate() {
                            match merge_route(&root, leaf) {
                                Some(m) => routes.push((m, dvs.namespace().to_owned(), i, dvs.key(), Some(j))),
                                None => ctx.warnings.push(problem(
                                    &dvs.key(),
                                    &dvs.origin,
                                    format!("spec.http[{j}].match"),
                                    format!("the matches conflict with root route {}/{} spec.http[{i}]; the delegate route does not take effect", vs.namespace(), vs.name()),
                                )),
                            }
                        }
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for (route, ns, index, owner, delegate_index) in routes {
        let Some(mut rule) = compile_rule(ctx, &route, &ns, index, &owner, vs, sticky.clone())
        else {
            continue;
        };
        rule.delegate_index = delegate_index;
        if delegate_index.is_none() {
            if let Some(site) = rollout_site(ctx, vs, &route, &ns, index, &rule) {
                ctx.rollouts.push(site);
            }
        }
        let rule = Arc::new(rule);
        let path = format!("spec.http[{index}]");
        if route.r#match.is_empty() {
            out.push(RouteEntry {
                rule,
                matcher: None,
                match_index: 0,
            });
            // A rule without matches is a catch-all: later rules are unreachable.
            break;
        }
        let mut catch_all = false;
        for (j, m) in route.r#match.iter().enumerate() {
            let compiled = match HttpMatch::compile_cached(m, vs.namespace(), &mut ctx.regexes) {
                Ok(c) => c,
                Err(e) => {
                    ctx.problems
                        .push(problem(&owner, &vs.origin, format!("{path}.match[{j}]"), e));
                    continue;
                }
            };
            if !compiled.selector().applies_to(&ctx.source()) {
                continue;
            }
            catch_all |= compiled.is_catch_all();
            out.push(RouteEntry {
                rule: rule.clone(),
                matcher: Some(compiled),
                match_index: j,
            });
            if catch_all {
                break;
            }
        }
        if catch_all {
            break;
        }
    }
    // The entries become the virtual host's, kept for the table's life: no room to grow.
    out.shrink_to_fit();
    out
}

/// The rollout site of rule `index` of `vs` (`route`, compiled as `rule`), when the
/// VirtualService's `mesh-route.dev/rollout` annotation steps it.
fn rollout_site(
    ctx: &mut Ctx<'_>,
    vs: &Resource<VirtualService>,
    route: &HttpRoute,
    ns: &str,
    index: usize,
    rule: &Rule,
) -> Option<RolloutSite> {
    use mesh_model::rollout::{ROLLOUT_ANNOTATION, parse};
    let text = vs.metadata.annotations.get(ROLLOUT_ANNOTATION)?;
    // Validation reported a bad annotation already; compiling stops there.
    let spec = parse(text).ok()?;
    let positions = spec.positions(route, ns);
    let (stable, canary) = positions.pair()?;
    // Only a forwarding rule has weights to move.
    rule.split()?;
    // The written destinations, zero weights included (the compiled split drops them).
    let mut written = Vec::new();
    let (mut stable_at, mut canary_at) = (None, None);
    for (j, rd) in route.route.iter().enumerate() {
        let Some(d) = &rd.destination else { continue };
        let headers = HeadersPolicy::compile(rd.headers.as_deref()).ok()?.0;
        if j == stable {
            stable_at = Some(written.len());
        }
        if j == canary {
            canary_at = Some(written.len());
        }
        written.push(ctx.destination(d, ns, rd.weight, headers));
    }
    Some(RolloutSite {
        virtual_service: vs.key(),
        index,
        names: rule.names.clone(),
        spec: Arc::new(spec),
        source: route.clone(),
        written,
        stable: stable_at?,
        canary: canary_at?,
    })
}

/// A copy of `route` whose `mirror` and `mirrors` hosts are fully qualified against
/// `namespace` (the only hosts a delegating root route can carry).
fn resolve_mirror_hosts(route: &HttpRoute, namespace: &str) -> HttpRoute {
    let mut out = route.clone();
    if let Some(m) = &mut out.mirror {
        m.host = resolve_short_name(&m.host, namespace);
    }
    for m in &mut out.mirrors {
        if let Some(d) = &mut m.destination {
            d.host = resolve_short_name(&d.host, namespace);
        }
    }
    out
}

fn compile_rule(
    ctx: &mut Ctx<'_>,
    r: &HttpRoute,
    ns: &str,
    index: usize,
    owner: &ResourceKey,
    vs: &Resource<VirtualService>,
    sticky: Option<StickyKey>,
) -> Option<Rule> {
    let path = format!("spec.http[{index}]");
    let fail = |ctx: &mut Ctx<'_>, field: &str, msg: ProblemKind| {
        ctx.problems
            .push(problem(owner, &vs.origin, format!("{path}.{field}"), msg));
    };
    let (headers, notes) = match HeadersPolicy::compile(r.headers.as_deref()) {
        Ok(h) => h,
        Err(e) => {
            fail(ctx, "headers", ProblemKind::Headers(e));
            return None;
        }
    };
    for n in notes {
        ctx.warnings
            .push(problem(owner, &vs.origin, format!("{path}.headers"), n));
    }
    let action = if let Some(redirect) = &r.redirect {
        match Redirect::compile(redirect) {
            Some(rd) => Action::Redirect(rd),
            None => {
                fail(
                    ctx,
                    "redirect.redirectCode",
                    ProblemKind::RedirectCode(redirect.redirect_code),
                );
                return None;
            }
        }
    } else if let Some(dr) = &r.direct_response {
        match DirectResponse::compile(dr) {
            Ok(d) => Action::DirectResponse(d),
            Err(e) => {
                fail(ctx, "directResponse", ProblemKind::DirectResponse(e));
                return None;
            }
        }
    } else {
        let mut dests = Vec::new();
        for (j, rd) in r.route.iter().enumerate() {
            let Some(d) = &rd.destination else { continue };
            let (h, notes) = match HeadersPolicy::compile(rd.headers.as_deref()) {
                Ok(h) => h,
                Err(e) => {
                    fail(ctx, &format!("route[{j}].headers"), ProblemKind::Headers(e));
                    return None;
                }
            };
            for n in notes {
                ctx.warnings.push(problem(
                    owner,
                    &vs.origin,
                    format!("{path}.route[{j}].headers"),
                    n,
                ));
            }
            dests.push(ctx.destination(d, ns, rd.weight, h));
        }
        Action::Route(Split::new(dests))
    };
    let rewrite = match r.rewrite.as_deref().map(Rewrite::compile).transpose() {
        Ok(rw) => rw,
        Err(e) => {
            fail(ctx, "rewrite", e.into());
            return None;
        }
    };
    let cors = match r
        .cors_policy
        .as_deref()
        .map(CorsPolicy::compile)
        .transpose()
    {
        Ok(c) => c,
        Err(e) => {
            fail(ctx, "corsPolicy", e.into());
            return None;
        }
    };
    let fault = match &r.fault {
        Some(f) => {
            let (fp, notes) = FaultPolicy::from_route(f);
            for n in notes {
                ctx.warnings
                    .push(problem(owner, &vs.origin, format!("{path}.fault"), n));
            }
            fp
        }
        None => FaultPolicy::default(),
    };
    // Mirrors: `mirror` with mirrorPercentage / mirrorPercent / 100%, and `mirrors`.
    let mut mirrors = Vec::new();
    if r.redirect.is_none() && r.direct_response.is_none() {
        let mut candidates = Vec::new();
        if let Some(m) = r.mirror.as_deref() {
            let fraction = match (&r.mirror_percentage, r.mirror_percent) {
                (Some(p), _) => Fraction::from_percent(p.value),
                (None, Some(n)) => Fraction::from_int(n),
                (None, None) => Fraction::ALL,
            };
            candidates.push(("mirror".to_owned(), m, fraction));
        }
        for (j, mp) in r.mirrors.iter().enumerate() {
            let Some(d) = &mp.destination else { continue };
            let fraction = mp
                .percentage
                .map_or(Fraction::ALL, |p| Fraction::from_percent(p.value));
            candidates.push((format!("mirrors[{j}].destination"), d, fraction));
        }
        for (field, d, fraction) in candidates {
            if fraction.is_zero() {
                continue;
            }
            let destination = ctx.destination(d, ns, 0, HeadersPolicy::default());
            // Envoy looks the mirror's cluster up per request and sends no copy when there
            // is none (measured with Envoy 1.40): a subset no DestinationRule defines.
            if destination.subset_labels.is_none() {
                ctx.warnings.push(problem(
                    owner,
                    &vs.origin,
                    format!("{path}.{field}.subset"),
                    format!(
                        "subset {:?} of {} is not defined by any DestinationRule: Envoy has no cluster for it and sends no copy",
                        destination.subset, destination.host
                    ),
                ));
                continue;
            }
            // A host the configuration's registry does not declare has no cluster either
            // (istiod names `outbound|PORT||HOST`, which no cluster bears). Without any
            // declared service the registry is unknown, and the copy is sent.
            if !ctx.registry.is_empty() && !ctx.registry.knows(&destination.host) {
                ctx.warnings.push(problem(
                    owner,
                    &vs.origin,
                    format!("{path}.{field}.host"),
                    format!(
                        "{} is not a host of any Service or ServiceEntry of the configuration: Envoy has no cluster for it and sends no copy",
                        destination.host
                    ),
                ));
                continue;
            }
            mirrors.push(Mirror {
                destination,
                fraction,
            });
        }
        // A rule keeps its mirrors for the table's life: no room for more (a `Vec` grown
        // by one push has room for four, about 1.6 KB per rule).
        mirrors.shrink_to_fit();
    }
    Some(Rule {
        virtual_service: Some(owner.clone()),
        index,
        name: r.name.clone(),
        delegate_index: None,
        action,
        rewrite,
        timeout: r.timeout.and_then(|d| d.to_std()),
        retries: {
            for (p, m) in crate::unexecuted::http_route(r, &path) {
                ctx.warnings.push(problem(owner, &vs.origin, p, m));
            }
            RetryPolicy::from_route(r.retries.as_deref())
        },
        fault,
        mirrors,
        cors,
        headers,
        sticky,
        names: crate::rule::RuleNames::new(Some(owner), &r.name),
    })
}
