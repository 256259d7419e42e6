//! The Gateway API conformance suite's HTTP and gRPC routing tests (kubernetes-sigs/gateway-api
//! v1.6.1, transcribed in `conformance/gateway-api/`), run offline through the layer: every
//! core test must pass, and the results must be the ones the README's conformance table
//! publishes (`UPDATE_CONFORMANCE=1` rewrites the table from a run).

mod conformance;

use std::collections::BTreeMap;

use conformance::data::{Case, Test};
use conformance::{World, case_port, compare_gateway, compare_grpc, compare_mesh, sidecar};
use mesh_model::Kind;
use mesh_model::gateway_api::binding;
use mesh_route::Identity;

/// The suite's core features; a test is core when all its features are.
const CORE: &[&str] = &[
    "Gateway",
    "HTTPRoute",
    "ReferenceGrant",
    "GRPCRoute",
    "Mesh",
];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Passed(usize),
    Failed(String),
    NotApplicable(String),
}

fn is_core(t: &Test) -> bool {
    t.features.iter().all(|f| CORE.contains(&f.as_str()))
}

fn split(nn: &str) -> (&str, &str) {
    nn.split_once('/').unwrap_or(("", nn))
}

/// The route conditions a test asserts, from the same binding a controller's status would
/// be computed from.
fn check_conditions(w: &World, t: &Test) -> Result<(), String> {
    let r = &w.resources;
    for c in &t.conditions {
        let (ns, name) = split(&c.route);
        let kind = c.kind.as_deref().unwrap_or("HTTPRoute");
        let route = match kind {
            "GRPCRoute" => r
                .gateway_api
                .grpc_routes
                .iter()
                .find(|x| x.namespace() == ns && x.name() == name)
                .map(binding::RouteRef::grpc),
            _ => r
                .gateway_api
                .http_routes
                .iter()
                .find(|x| x.namespace() == ns && x.name() == name)
                .map(binding::RouteRef::http),
        };
        let Some(route) = route else {
            // A Gateway named where a route is expected (a test that only waits for it).
            continue;
        };
        let (pns, pname) = split(&c.parent);
        let attachments: Vec<_> = binding::attach(r, route)
            .into_iter()
            .filter(|a| {
                let p = &route.parent_refs[a.index];
                p.name == pname && p.namespace_or(route.namespace) == pns
            })
            .collect();
        let want_true = c.status == "True";
        match c.kind_of.as_str() {
            "Accepted" => {
                let ok = !attachments.is_empty() && attachments.iter().all(|a| a.accepted.is_ok());
                if want_true && !ok {
                    return Err(format!(
                        "{} must be Accepted by {}: {:?}",
                        c.route,
                        c.parent,
                        attachments.iter().map(|a| &a.accepted).collect::<Vec<_>>()
                    ));
                }
                if !want_true {
                    let reasons: Vec<&str> = attachments
                        .iter()
                        .filter_map(|a| a.accepted.as_ref().err().map(|e| e.reason))
                        .collect();
                    let hit = match &c.reason {
                        Some(reason) if !reason.is_empty() => reasons.contains(&reason.as_str()),
                        _ => !reasons.is_empty(),
                    };
                    if !hit {
                        return Err(format!(
                            "{} must not be Accepted by {} ({:?}), got {reasons:?}",
                            c.route, c.parent, c.reason
                        ));
                    }
                }
            }
            "ResolvedRefs" => {
                let problems = backend_problems(w, kind, ns, name);
                if want_true && !problems.is_empty() {
                    return Err(format!("{} must resolve its refs: {problems:?}", c.route));
                }
                if !want_true {
                    let hit = match &c.reason {
                        Some(reason) if !reason.is_empty() => problems.iter().any(|p| p == reason),
                        _ => !problems.is_empty(),
                    };
                    if !hit {
                        return Err(format!(
                            "{} must have ResolvedRefs=False {:?}, got {problems:?}",
                            c.route, c.reason
                        ));
                    }
                }
            }
            other => return Err(format!("unknown condition type {other}")),
        }
    }
    Ok(())
}

fn backend_problems(w: &World, kind: &str, ns: &str, name: &str) -> Vec<String> {
    let r = &w.resources;
    let mut refs = Vec::new();
    let mut mesh = false;
    let k = if kind == "GRPCRoute" {
        Kind::GrpcRoute
    } else {
        Kind::HttpRoute
    };
    if let Some(route) = r
        .gateway_api
        .http_routes
        .iter()
        .find(|x| kind != "GRPCRoute" && x.namespace() == ns && x.name() == name)
    {
        mesh = binding::mesh_only(&route.spec.parent_refs);
        for rule in &route.spec.rules {
            refs.extend(rule.backend_refs.iter().map(|b| b.object()));
            refs.extend(
                rule.filters
                    .iter()
                    .filter_map(|f| f.request_mirror.as_ref())
                    .map(|m| m.backend_ref.clone()),
            );
        }
    }
    if let Some(route) = r
        .gateway_api
        .grpc_routes
        .iter()
        .find(|x| kind == "GRPCRoute" && x.namespace() == ns && x.name() == name)
    {
        mesh = binding::mesh_only(&route.spec.parent_refs);
        for rule in &route.spec.rules {
            refs.extend(rule.backend_refs.iter().map(|b| b.object()));
        }
    }
    refs.iter()
        .filter_map(|b| {
            binding::resolve_backend(r, k, ns, b, mesh)
                .problem
                .map(|p| p.reason.to_owned())
        })
        .collect()
}

fn identity(c: &Case) -> Identity {
    match (&c.gateway, &c.client) {
        (_, Some(client)) => sidecar(client),
        (Some(g), None) => {
            let (ns, name) = split(g);
            Identity::gateway(ns, name)
        }
        (None, None) => Identity::gateway("gateway-conformance-infra", "same-namespace"),
    }
}

/// The proxies of one test, built once per identity, port and deleted resources.
type Proxies = BTreeMap<String, conformance::Proxy>;

fn proxy_for(w: &World, proxies: &mut Proxies, c: &Case) -> Result<conformance::Proxy, String> {
    let port = case_port(c);
    let mesh = c.client.is_some();
    let id = identity(c);
    let key = format!(
        "{id} {port} {mesh} {:?}",
        c.delete.iter().map(|d| &d.name).collect::<Vec<_>>()
    );
    if let Some(p) = proxies.get(&key) {
        return Ok(p.clone());
    }
    let p = w.proxy(&id, if mesh { None } else { Some(port) }, &c.delete)?;
    proxies.insert(key, p.clone());
    Ok(p)
}

async fn run_case(w: &World, proxies: &mut Proxies, c: &Case) -> Result<(), String> {
    let port = case_port(c);
    let mesh = c.client.is_some();
    let proxy = proxy_for(w, proxies, c)?;
    for _ in 0..c.repeat.unwrap_or(1) {
        let before = w.log.lock().map(|l| l.len()).unwrap_or(0);
        if let Some(g) = &c.grpc {
            let reply = proxy.send(conformance::grpc_request(g, port)).await;
            compare_grpc(&c.expect, &reply)?;
            continue;
        }
        let reply = proxy.send(conformance::http_request(w, c, port)).await;
        if mesh {
            compare_mesh(c, &reply)?;
        } else {
            compare_gateway(c, &reply)?;
        }
        if let Some(h) = &c.expect.pod_prefix_from_request_header {
            let got = reply
                .captured
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(h))
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            if got.len() != 1 || !reply.captured.pod.starts_with(&got[0]) {
                return Err(format!(
                    "header {h} {got:?} does not name pod {}",
                    reply.captured.pod
                ));
            }
        }
        for m in &c.expect.mirrored_to {
            let path = c.request.path.clone().unwrap_or_else(|| "/".into());
            let mut seen = false;
            for _ in 0..200 {
                seen = w
                    .log
                    .lock()
                    .map(|l| {
                        l[before..].iter().any(|e| {
                            e.pod.starts_with(&m.name)
                                && e.namespace == m.namespace
                                && e.path == path
                        })
                    })
                    .unwrap_or(false);
                if seen {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            if !seen {
                return Err(format!(
                    "no mirrored copy of {path} reached {}/{}",
                    m.namespace, m.name
                ));
            }
        }
    }
    Ok(())
}

fn backend_name(pod: &str) -> String {
    let parts: Vec<&str> = pod.split('-').collect();
    if parts.len() < 3 {
        return pod.to_owned();
    }
    parts[..parts.len() - 2].join("-")
}

async fn run_weights(
    w: &World,
    proxies: &mut Proxies,
    wt: &conformance::data::Weights,
) -> Result<(), String> {
    let case = Case {
        name: None,
        gateway: wt.gateway.clone(),
        listener: None,
        client: wt.client.clone(),
        port: None,
        scheme: None,
        request: wt.request.clone(),
        grpc: wt.grpc.clone(),
        backend_set_response_headers: BTreeMap::new(),
        repeat: None,
        delete: Vec::new(),
        expect: Default::default(),
    };
    let port = case_port(&case);
    let proxy = proxy_for(w, proxies, &case)?;
    let mut seen: BTreeMap<String, f64> = BTreeMap::new();
    for i in 0..wt.requests {
        let mut c = case.clone();
        c.request.headers.insert("X-Jitter".into(), format!("{i}"));
        let reply = match &c.grpc {
            Some(g) => proxy.send(conformance::grpc_request(g, port)).await,
            None => proxy.send(conformance::http_request(w, &c, port)).await,
        };
        if reply.status != 200 {
            return Err(format!("request {i} got {}", reply.status));
        }
        let b = backend_name(&reply.captured.pod);
        if !wt.expected.contains_key(&b) {
            return Err(format!("request {i} reached an unexpected backend {b:?}"));
        }
        *seen.entry(b).or_default() += 1.0;
    }
    for (b, want) in &wt.expected {
        let got = seen.get(b).copied().unwrap_or(0.0) / wt.requests as f64;
        if (got - want).abs() > wt.tolerance {
            return Err(format!(
                "backend {b} got {got:.3} of the traffic, want {want} (+/-{})",
                wt.tolerance
            ));
        }
    }
    Ok(())
}

async fn run(t: &Test) -> Outcome {
    if let Some(reason) = &t.not_applicable {
        return Outcome::NotApplicable(reason.clone());
    }
    let w = match conformance::world(t) {
        Ok(w) => w,
        Err(e) => return Outcome::Failed(e),
    };
    if let Err(e) = check_conditions(&w, t) {
        return Outcome::Failed(e);
    }
    let mut proxies = Proxies::new();
    let mut n = 0;
    for (i, c) in t.cases.iter().enumerate() {
        if let Err(e) = run_case(&w, &mut proxies, c).await {
            let name = c.name.clone().unwrap_or_else(|| {
                format!(
                    "{} {}",
                    c.request.host.clone().unwrap_or_default(),
                    c.request.path.clone().unwrap_or_default()
                )
            });
            return Outcome::Failed(format!("case {i} ({name}): {e}"));
        }
        n += 1;
    }
    for wt in &t.weights {
        if let Err(e) = run_weights(&w, &mut proxies, wt).await {
            return Outcome::Failed(format!("weights: {e}"));
        }
        n += 1;
    }
    Outcome::Passed(n)
}

/// The conformance table, as the README publishes it.
fn table(results: &[(Test, Outcome)]) -> String {
    let mut out = String::new();
    out.push_str("| test | features | level | result |\n|---|---|---|---|\n");
    for (t, o) in results {
        let level = if is_core(t) { "core" } else { "extended" };
        let result = match o {
            Outcome::Passed(n) => match (n, t.conditions.len()) {
                (0, k) => format!("passed ({k} route conditions)"),
                (1, 0) => "passed (1 case)".to_owned(),
                (n, 0) => format!("passed ({n} cases)"),
                (n, k) => format!("passed ({n} cases, {k} route conditions)"),
            },
            Outcome::Failed(e) => format!("failed: {}", e.replace('|', "\\|")),
            Outcome::NotApplicable(r) => format!("not applicable: {r}"),
        };
        let prov = if t.provisional { " (provisional)" } else { "" };
        out.push_str(&format!(
            "| {}{prov} | {} | {level} | {result} |\n",
            t.name,
            t.features.join(", ")
        ));
    }
    out
}

fn summary(results: &[(Test, Outcome)]) -> String {
    let count = |core: bool, f: fn(&Outcome) -> bool| {
        results
            .iter()
            .filter(|(t, o)| is_core(t) == core && f(o))
            .count()
    };
    let passed = |o: &Outcome| matches!(o, Outcome::Passed(_));
    let failed = |o: &Outcome| matches!(o, Outcome::Failed(_));
    let na = |o: &Outcome| matches!(o, Outcome::NotApplicable(_));
    let cases: usize = results
        .iter()
        .map(|(_, o)| if let Outcome::Passed(n) = o { *n } else { 0 })
        .sum();
    format!(
        "Core: {} passed, {} failed, {} not applicable. Extended: {} passed, {} failed, {} not applicable. {cases} request cases passed.\n",
        count(true, passed),
        count(true, failed),
        count(true, na),
        count(false, passed),
        count(false, failed),
        count(false, na),
    )
}

const BEGIN: &str =
    "<!-- conformance table: begin (generated by mesh-tower/tests/gateway_api_conformance.rs) -->";
const END: &str = "<!-- conformance table: end -->";

/// Every HTTP and gRPC routing test of the suite runs offline; every core test passes; the
/// README's conformance table is the result of this run.
#[tokio::test(start_paused = true)]
async fn gateway_api_conformance_suite() {
    let mut results = Vec::new();
    for t in conformance::tests() {
        let o = run(&t).await;
        results.push((t, o));
    }
    let text = format!("{}\n{}", summary(&results), table(&results));
    println!("{text}");
    let core_failures: Vec<String> = results
        .iter()
        .filter(|(t, o)| is_core(t) && matches!(o, Outcome::Failed(_)))
        .map(|(t, o)| format!("{}: {o:?}", t.name))
        .collect();
    let readme_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("the README");
    let (Some(b), Some(e)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md has no conformance table markers");
    };
    let current = &readme[b + BEGIN.len()..e];
    let wanted = format!("\n{text}");
    if std::env::var_os("UPDATE_CONFORMANCE").is_some() {
        let updated = format!("{}{}{}{}", &readme[..b], BEGIN, wanted, &readme[e..]);
        std::fs::write(&readme_path, updated).expect("README written");
    } else {
        assert_eq!(
            current, wanted,
            "the README's conformance table differs from this run (UPDATE_CONFORMANCE=1 rewrites it)"
        );
    }
    assert!(
        core_failures.is_empty(),
        "core tests failed:\n{}",
        core_failures.join("\n")
    );
}
