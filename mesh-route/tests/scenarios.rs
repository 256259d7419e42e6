//! Runs every scenario in the workspace's `scenarios/` folder through the engine and checks
//! each expectation (format: `scenarios/README.md`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mesh_load::LoadFiles as _;
use mesh_match::{PathNormalization, RequestView, normalize_target};
use mesh_model::Loader;
use mesh_model::validate::{Severity, validate};
use mesh_route::policy::AbortKind;
use mesh_route::{CompileOptions, Decision, Identity, RouteTable};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Scenario {
    description: String,
    identity: IdentitySpec,
    #[serde(default)]
    mesh_config: Option<MeshConfig>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MeshConfig {
    #[serde(default)]
    path_normalization: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IdentitySpec {
    #[serde(default)]
    gateway: Option<String>,
    #[serde(default)]
    sidecar: Option<SidecarSpec>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SidecarSpec {
    namespace: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    identity: Option<IdentitySpec>,
    #[serde(default)]
    request: Option<Request>,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    #[serde(default)]
    method: Option<String>,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Expect {
    outcome: Option<String>,
    virtual_service: Option<String>,
    rule: Option<usize>,
    destination: Option<DestinationSpec>,
    path: Option<String>,
    authority: Option<String>,
    status: Option<u16>,
    location: Option<String>,
    split: Option<BTreeMap<String, f64>>,
    fault: Option<FaultSpec>,
    retries: Option<RetriesSpec>,
    timeout: Option<String>,
    mirrors: Option<Vec<MirrorSpec>>,
    load: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DestinationSpec {
    host: Option<String>,
    subset: Option<String>,
    port: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FaultSpec {
    delay: Option<String>,
    delay_percent: Option<f64>,
    abort_status: Option<u16>,
    abort_percent: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RetriesSpec {
    attempts: Option<u32>,
    per_try_timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MirrorSpec {
    host: Option<String>,
    subset: Option<String>,
    percent: Option<f64>,
}

fn identity(spec: &IdentitySpec) -> Identity {
    match (&spec.gateway, &spec.sidecar) {
        (Some(g), _) => Identity::parse_gateway(g).expect("gateway identity is ns/name"),
        (None, Some(s)) => Identity::sidecar_with_labels(s.namespace.clone(), s.labels.clone()),
        (None, None) => panic!("identity needs gateway or sidecar"),
    }
}

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn dur(s: &str) -> std::time::Duration {
    mesh_model::Duration::parse(s)
        .ok()
        .and_then(|d| d.to_std())
        .expect("duration in expectation")
}

/// Runs one scenario; returns the failures.
fn run(config: &Path, expect_file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(expect_file).unwrap();
    let scenario: Scenario =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", expect_file.display()));
    let mut failures = Vec::new();
    let loaded = Loader::new().load_file(config);
    let mut load_errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
    if load_errors.is_empty() {
        let report = validate(&loaded.resources);
        load_errors.extend(
            report
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Error && f.code.is_none())
                .map(ToString::to_string),
        );
    }
    let mode = scenario
        .mesh_config
        .as_ref()
        .and_then(|m| m.path_normalization.as_deref())
        .map_or(PathNormalization::Base, |m| {
            m.parse().expect("pathNormalization")
        });
    for case in &scenario.cases {
        let name = format!("{} / {}", scenario.description, case.name);
        let mut fail = |m: String| failures.push(format!("[{name}] {m}"));
        if case.expect.load.as_deref() == Some("error") {
            let want = case.expect.error.as_deref().unwrap_or("");
            if load_errors.is_empty() {
                fail("expected the configuration to be rejected, but it loaded".into());
            } else if !load_errors.iter().any(|e| e.contains(want)) {
                fail(format!("no load error contains {want:?}: {load_errors:?}"));
            }
            continue;
        }
        if !load_errors.is_empty() {
            fail(format!("configuration rejected: {load_errors:?}"));
            continue;
        }
        let id = identity(case.identity.as_ref().unwrap_or(&scenario.identity));
        let table = match RouteTable::compile(&loaded.resources, &id, &CompileOptions::default()) {
            Ok(t) => t,
            Err(e) => {
                fail(format!("compile failed: {e}"));
                continue;
            }
        };
        let Some(req) = &case.request else {
            fail("case has no request".into());
            continue;
        };
        let uri: http::Uri = req.url.parse().expect("url");
        let scheme = uri.scheme_str().unwrap_or("http").to_owned();
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        let target = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let mut headers = http::HeaderMap::new();
        for (k, v) in &req.headers {
            headers.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        let method = req.method.clone().unwrap_or_else(|| "GET".into());
        let path = match normalize_target(&target, mode) {
            Ok(p) => p.into_owned(),
            Err(e) => {
                fail(format!("path rejected: {e}"));
                continue;
            }
        };
        let view = RequestView::new(&method, &scheme, &authority, &path, &headers);
        let decision = table.decide(&view, 0);
        let e = &case.expect;
        if let Some(o) = &e.outcome {
            if decision.outcome() != o {
                fail(format!(
                    "outcome {} != expected {o}; decision {decision:?}",
                    decision.outcome()
                ));
                continue;
            }
        }
        let rule = decision.rule();
        if let Some(vs) = &e.virtual_service {
            let got = rule
                .and_then(|r| r.virtual_service.as_ref())
                .map(|k| format!("{}/{}", k.namespace, k.name));
            if got.as_deref() != Some(vs.as_str()) {
                fail(format!("virtualService {got:?} != {vs}"));
            }
        }
        if let Some(i) = e.rule {
            let got = decision.matched().map(|m| m.rule().index);
            if got != Some(i) {
                fail(format!("rule {got:?} != {i}"));
            }
        }
        if let Some(d) = &e.destination {
            match decision {
                Decision::Route { target, .. } => {
                    if let Some(h) = &d.host {
                        if target.host() != h.as_str() {
                            fail(format!("host {} != {h}", target.host()));
                        }
                    }
                    if let Some(s) = &d.subset {
                        if target.subset() != s {
                            fail(format!("subset {} != {s}", target.subset()));
                        }
                    }
                    if let Some(p) = d.port {
                        if target.port(view.port()) != p {
                            fail(format!("port {} != {p}", target.port(view.port())));
                        }
                    }
                }
                _ => fail(format!(
                    "expected a destination, got {}",
                    decision.outcome()
                )),
            }
        }
        if let Some(p) = &e.path {
            let got = decision.upstream_path(&view);
            if got != p.as_str() {
                fail(format!("path {got} != {p}"));
            }
        }
        if let Some(a) = &e.authority {
            let got = decision.upstream_authority(&view);
            if got != a {
                fail(format!("authority {got} != {a}"));
            }
        }
        if let Some(status) = e.status {
            let got = match decision {
                Decision::Redirect { redirect, .. } => Some(redirect.code),
                Decision::DirectResponse { response, .. } => Some(response.status),
                _ => rule.and_then(|r| r.fault.abort).and_then(|a| match a.kind {
                    AbortKind::Http(s) => Some(s),
                    AbortKind::Grpc(_) => None,
                }),
            };
            if got != Some(status) {
                fail(format!("status {got:?} != {status}"));
            }
        }
        if let Some(l) = &e.location {
            let got = decision.location(&view);
            if got.as_deref() != Some(l.as_str()) {
                fail(format!("location {got:?} != {l}"));
            }
        }
        if let Some(split) = &e.split {
            // Evenly spaced samples over the whole u64 range: exact shares, no luck involved.
            const N: u64 = 10_000;
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            for i in 0..N {
                let sample = i.wrapping_mul(u64::MAX / N);
                if let Decision::Route { target, .. } = table.decide(&view, sample) {
                    let key = if target.subset().is_empty() {
                        target.host().into_owned()
                    } else {
                        target.subset().to_owned()
                    };
                    *counts.entry(key).or_default() += 1;
                }
            }
            let total: f64 = split.values().sum();
            for (k, want) in split {
                let got = *counts.get(k).unwrap_or(&0) as f64 / N as f64;
                let want = want / total;
                if (got - want).abs() > 0.01 {
                    fail(format!("split {k}: {got:.3} != {want:.3} ({counts:?})"));
                }
            }
            if counts.keys().any(|k| !split.contains_key(k)) {
                fail(format!("split has unexpected destinations: {counts:?}"));
            }
        }
        if let Some(f) = &e.fault {
            let fault = rule.map(|r| r.fault).unwrap_or_default();
            if let Some(d) = &f.delay {
                if fault.delay.map(|x| x.duration) != Some(dur(d)) {
                    fail(format!("delay {:?} != {d}", fault.delay));
                }
            }
            if let Some(p) = f.delay_percent {
                let got = fault.delay.map(|x| x.fraction.percent());
                if got != Some(p) {
                    fail(format!("delay percent {got:?} != {p}"));
                }
            }
            if let Some(s) = f.abort_status {
                if fault.abort.map(|a| a.kind) != Some(AbortKind::Http(s)) {
                    fail(format!("abort {:?} != {s}", fault.abort));
                }
            }
            if let Some(p) = f.abort_percent {
                let got = fault.abort.map(|x| x.fraction.percent());
                if got != Some(p) {
                    fail(format!("abort percent {got:?} != {p}"));
                }
            }
        }
        if let Some(r) = &e.retries {
            let policy = rule.map(|r| r.retries.clone());
            if let Some(a) = r.attempts {
                if policy.as_ref().map(|p| p.attempts) != Some(a) {
                    fail(format!(
                        "retry attempts {:?} != {a}",
                        policy.as_ref().map(|p| p.attempts)
                    ));
                }
            }
            if let Some(t) = &r.per_try_timeout {
                if policy.as_ref().and_then(|p| p.per_try_timeout) != Some(dur(t)) {
                    fail(format!("perTryTimeout != {t}"));
                }
            }
        }
        if let Some(t) = &e.timeout {
            if rule.and_then(|r| r.timeout) != Some(dur(t)) {
                fail(format!("timeout {:?} != {t}", rule.and_then(|r| r.timeout)));
            }
        }
        if let Some(ms) = &e.mirrors {
            let got = rule.map(|r| r.mirrors.clone()).unwrap_or_default();
            if got.len() != ms.len() {
                fail(format!("{} mirrors != {}", got.len(), ms.len()));
            }
            for (g, m) in got.iter().zip(ms) {
                if m.host.as_ref().is_some_and(|h| *h != g.destination.host)
                    || m.subset
                        .as_ref()
                        .is_some_and(|s| *s != g.destination.subset)
                    || m.percent.is_some_and(|p| p != g.fraction.percent())
                {
                    fail(format!("mirror {g:?} != {m:?}"));
                }
            }
        }
    }
    failures
}

/// Every scenario passes.
#[test]
fn every_scenario_passes() {
    let dir = scenarios_dir();
    let mut expects: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".expect.yaml"))
        .collect();
    expects.sort();
    assert!(expects.len() >= 12, "only {} scenarios", expects.len());
    let mut failures = Vec::new();
    for e in &expects {
        let config = PathBuf::from(e.to_string_lossy().replace(".expect.yaml", ".yaml"));
        failures.extend(run(&config, e));
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The workspace's copy of the shared seed scenarios is the same as the shared folder's
/// (when it is present, as on a developer's machine).
#[test]
fn scenarios_match_the_shared_copy() {
    let Some(shared) = envoy_harness::shared_dir("scenarios", "scenarios_match_the_shared_copy")
    else {
        return;
    };
    for entry in std::fs::read_dir(&shared).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap();
        let ours = scenarios_dir().join(name);
        assert_eq!(
            std::fs::read(&p).unwrap(),
            std::fs::read(&ours).unwrap_or_default(),
            "{} differs from the shared copy: copy ../shared/scenarios/ into scenarios/",
            ours.display()
        );
    }
}
