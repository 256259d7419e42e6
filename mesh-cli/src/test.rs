//! `meshctl test`: routing unit tests, decided exactly as `meshctl route` decides.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use mesh_model::Resources;
use mesh_route::{Identity, RouteTable};
use serde::Serialize;
use serde_json::Value;

use crate::expect::{self, Mismatch};
use crate::input;
use crate::request::{Normalization, ProxyArgs};
use crate::route;
use crate::testfile::{self, Case};

/// Output formats of `meshctl test`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TestOutput {
    /// A line per failing request, then a summary line.
    #[default]
    Text,
    /// One JSON object.
    Json,
    /// JUnit XML, one `testcase` per case.
    Junit,
}

/// Arguments of `meshctl test`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Istio resources: a file, a directory read recursively, or `-` for standard input.
    /// Repeat the flag for several. Without `-f`, the configuration is read from the test
    /// paths themselves (test documents and configuration side by side).
    #[arg(short = 'f', long = "file", value_name = "FILE_OR_DIR")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    proxy: ProxyArgs,
    /// Path normalization applied before matching, as meshConfig.pathNormalization sets it.
    #[arg(long, value_name = "MODE", value_enum, default_value_t = Normalization::Base)]
    path_normalization: Normalization,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = TestOutput::Text)]
    output: TestOutput,
    /// Report which match blocks of which rules no request of any case exercised.
    #[arg(long)]
    coverage: bool,
    /// Fail (exit 1) when fewer than PERCENT of the match blocks are exercised.
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    fail_under: Option<f64>,
    /// Test files or directories (`*.yaml`, `*.yml`, `*.json`), or `-` for standard input.
    #[arg(required = true, value_name = "TEST_FILE_OR_DIR")]
    tests: Vec<PathBuf>,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("{s:?} is not a percentage between 0 and 100")),
    }
}

/// The result of one case.
#[derive(Debug, Serialize)]
struct CaseResult {
    /// The test file.
    file: String,
    /// The case's line.
    line: usize,
    /// Its description.
    description: String,
    /// How many requests it expanded to.
    requests: usize,
    /// Whether every request passed.
    passed: bool,
    /// What failed.
    failures: Vec<Failure>,
}

/// One failed check of one request.
#[derive(Debug, Serialize)]
struct Failure {
    /// The request line.
    request: String,
    /// The request's outcome (`route`, `noRoute`, ...).
    outcome: Value,
    /// The expectation (`expect.destination`, `route`, `shares[0]`).
    check: String,
    /// `file:line` of the expectation.
    at: String,
    /// `true` when the check is negated (`expectNot`, `wantMatch: false`) and matched.
    negated: bool,
    /// The fields that differ.
    fields: Vec<FieldDiff>,
}

/// A field that differs.
#[derive(Debug, Serialize)]
struct FieldDiff {
    field: String,
    got: Value,
    want: Value,
}

impl From<Mismatch> for FieldDiff {
    fn from(m: Mismatch) -> Self {
        FieldDiff {
            field: m.field,
            got: m.got,
            want: m.want,
        }
    }
}

/// Which match blocks were exercised.
#[derive(Debug, Serialize)]
struct Coverage {
    /// Match blocks exercised.
    covered: usize,
    /// Match blocks in all.
    total: usize,
    /// `covered / total`, in percent (100 when there is none).
    percent: f64,
    /// Those no request reached.
    missed: Vec<Unit>,
}

/// A match block of a rule (a rule without `match` counts as one).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Unit {
    virtual_service: String,
    rule: usize,
    rule_name: Option<String>,
    #[serde(rename = "match")]
    match_index: usize,
    /// `file:line` of the match block.
    at: String,
    /// No proxy the tests used routes by it (another proxy's, after a catch-all, or a
    /// delegate route dropped).
    unreachable: bool,
}

/// A unit's identity: VirtualService, rule index in its own `http`, match index.
type UnitKey = (String, usize, usize);

/// The whole run, as `--output json` prints it.
#[derive(Debug, Serialize)]
struct Summary {
    passed: usize,
    failed: usize,
    requests: usize,
    cases: Vec<CaseResult>,
    coverage: Option<Coverage>,
}

/// The route tables of the proxies the cases use, compiled once each.
struct Tables<'r> {
    resources: &'r Resources,
    tables: Vec<(Identity, RouteTable)>,
}

impl Tables<'_> {
    fn get(&mut self, identity: &Identity) -> Result<usize, ExitCode> {
        if let Some(i) = self.tables.iter().position(|(id, _)| id == identity) {
            return Ok(i);
        }
        let table = input::compile(self.resources, identity, 2)?;
        self.tables.push((identity.clone(), table));
        Ok(self.tables.len() - 1)
    }
}

/// Runs `meshctl test`; returns the exit status.
pub(crate) fn run(args: &Args) -> ExitCode {
    match run_inner(args) {
        Ok(code) | Err(code) => code,
    }
}

fn run_inner(args: &Args) -> Result<ExitCode, ExitCode> {
    let namespace = args.proxy.namespace();
    let config_paths = if args.files.is_empty() {
        &args.tests
    } else {
        &args.files
    };
    let resources = input::load_config(config_paths, namespace, 2)?;
    let docs = input::load_tests(&args.tests, namespace)?;
    let mut cases: Vec<Case> = Vec::new();
    for d in &docs {
        match testfile::cases(d, args.path_normalization.into()) {
            Ok(c) => cases.extend(c),
            Err(e) => {
                eprintln!("meshctl: {e}");
                return Err(ExitCode::from(2));
            }
        }
    }
    let default_identity = args.proxy.identity();
    let mut tables = Tables {
        resources: &resources,
        tables: Vec::new(),
    };
    check_fields(&cases, &mut tables, &default_identity)?;
    let mut hits: BTreeSet<UnitKey> = BTreeSet::new();
    let mut results = Vec::new();
    let mut total_requests = 0;
    for case in &cases {
        let mut failures = Vec::new();
        let mut distribution: Vec<(Value, f64)> = Vec::new();
        for (identity, request) in &case.requests {
            let i = tables.get(identity.as_ref().unwrap_or(&default_identity))?;
            let table = &tables.tables[i].1;
            let got = route::explain_json(table, request, 0);
            for check in &case.checks {
                if let Some(mismatches) = expect::evaluate(check, &got, table, request) {
                    failures.push(Failure {
                        request: request.line(),
                        outcome: got["outcome"].clone(),
                        check: check.label.clone(),
                        at: check.origin.to_string(),
                        negated: check.negate,
                        fields: mismatches.into_iter().map(FieldDiff::from).collect(),
                    });
                }
            }
            if case.shares.is_some() {
                distribution.extend(expect::slots(&got));
            }
            if let Ok(view) = request.view()
                && let Some(m) = table.decide(&view, 0).matched()
            {
                hits.extend(unit_key(&m.entry.rule, m.entry.match_index));
            }
        }
        total_requests += case.requests.len();
        if let Some(shares) = &case.shares {
            let n = case.requests.len().max(1) as f64;
            for (i, (pattern, percent)) in shares.items.iter().enumerate() {
                let got: f64 = distribution
                    .iter()
                    .filter(|(slot, _)| expect::compare(pattern, slot, namespace).is_empty())
                    .map(|(_, p)| p)
                    .sum::<f64>()
                    / n;
                if (got - percent).abs() > shares.tolerance + 1e-9 {
                    failures.push(Failure {
                        request: format!(
                            "{} request{}",
                            case.requests.len(),
                            plural(case.requests.len())
                        ),
                        outcome: Value::Null,
                        check: format!("shares[{i}]"),
                        at: shares.origin.to_string(),
                        negated: false,
                        fields: vec![FieldDiff {
                            field: format!("shares[{i}] {pattern}"),
                            got: serde_json::json!(round(got)),
                            want: serde_json::json!(percent),
                        }],
                    });
                }
            }
        }
        results.push(CaseResult {
            file: case
                .origin
                .file
                .as_ref()
                .map_or_else(|| "<input>".to_owned(), |f| f.display().to_string()),
            line: case.origin.line,
            description: case.description.clone(),
            requests: case.requests.len(),
            passed: failures.is_empty(),
            failures,
        });
    }
    let coverage = (args.coverage || args.fail_under.is_some())
        .then(|| coverage(&resources, &tables.tables, &hits));
    let failed = results.iter().filter(|r| !r.passed).count();
    let summary = Summary {
        passed: results.len() - failed,
        failed,
        requests: total_requests,
        cases: results,
        coverage,
    };
    let mut out = std::io::stdout().lock();
    let written = match args.output {
        TestOutput::Json => serde_json::to_writer_pretty(&mut out, &summary)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
        TestOutput::Junit => out.write_all(junit(&summary).as_bytes()),
        TestOutput::Text => write_text(&mut out, &summary),
    };
    if written.is_err() {
        return Err(ExitCode::from(2));
    }
    let under = match (args.fail_under, &summary.coverage) {
        (Some(min), Some(c)) if c.percent + 1e-9 < min => {
            eprintln!(
                "meshctl: coverage {}% is under --fail-under {min}%",
                round(c.percent)
            );
            true
        }
        _ => false,
    };
    Ok(if failed > 0 || under {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Refuses (exit 2) an `expect` / `expectNot` field that `meshctl route -o json` does not
/// have: its object always holds every key, so an absent one is a misspelling.
fn check_fields(
    cases: &[Case],
    tables: &mut Tables<'_>,
    default: &Identity,
) -> Result<(), ExitCode> {
    let Some((identity, request)) = cases.iter().flat_map(|c| &c.requests).next() else {
        return Ok(());
    };
    let i = tables.get(identity.as_ref().unwrap_or(default))?;
    let sample = route::explain_json(&tables.tables[i].1, request, 0);
    for case in cases {
        for check in &case.checks {
            if let testfile::Want::Pattern(Value::Object(p)) = &check.want
                && let Some(k) = p.keys().find(|k| sample.get(k.as_str()).is_none())
            {
                eprintln!(
                    "meshctl: {}: {}: `meshctl route -o json` has no field {k:?}",
                    check.origin, check.label
                );
                return Err(ExitCode::from(2));
            }
        }
    }
    Ok(())
}

/// The unit a matched entry stands for.
fn unit_key(rule: &mesh_route::Rule, match_index: usize) -> Option<UnitKey> {
    let vs = rule.virtual_service.as_ref()?;
    Some((
        format!("{}/{}", vs.namespace, vs.name),
        rule.delegate_index.unwrap_or(rule.index),
        match_index,
    ))
}

/// Coverage over the match blocks the tested proxies route by, and the rules of the
/// configuration that none of them routes by.
fn coverage(
    resources: &Resources,
    tables: &[(Identity, RouteTable)],
    hits: &BTreeSet<UnitKey>,
) -> Coverage {
    let mut units: BTreeMap<UnitKey, bool> = BTreeMap::new();
    // Delegated rules number their match blocks after merging with the root's, so their
    // blocks cannot be matched with the delegate's own list.
    let mut delegated: BTreeSet<(String, usize)> = BTreeSet::new();
    for (_, t) in tables {
        for vh in t.virtual_hosts() {
            for e in &vh.entries {
                if let Some(k) = unit_key(&e.rule, e.match_index) {
                    if e.rule.delegate_index.is_some() {
                        delegated.insert((k.0.clone(), k.1));
                    }
                    units.insert(k, false);
                }
            }
        }
    }
    let routed: BTreeSet<(String, usize)> = units.keys().map(|(v, r, _)| (v.clone(), *r)).collect();
    let mut origins: BTreeMap<UnitKey, (Option<String>, String)> = BTreeMap::new();
    for vs in &resources.virtual_services {
        let name = format!("{}/{}", vs.namespace(), vs.name());
        for (j, rule) in vs.spec.http.iter().enumerate() {
            if rule.delegate.is_some() {
                continue;
            }
            let blocks = rule.r#match.len().max(1);
            for k in 0..blocks {
                let key = (name.clone(), j, k);
                let path = if rule.r#match.is_empty() {
                    format!("spec.http[{j}]")
                } else {
                    format!("spec.http[{j}].match[{k}]")
                };
                let rule_name = (!rule.name.is_empty()).then(|| rule.name.clone());
                origins.insert(
                    key.clone(),
                    (rule_name, vs.origin.at_path(&path).to_string()),
                );
                let rule_key = (name.clone(), j);
                if !routed.contains(&rule_key)
                    || (!delegated.contains(&rule_key) && !units.contains_key(&key))
                {
                    units.insert(key, true);
                }
            }
        }
    }
    let total = units.len();
    let covered = units.keys().filter(|k| hits.contains(*k)).count();
    let missed = units
        .iter()
        .filter(|(k, _)| !hits.contains(*k))
        .map(|((vs, rule, m), unreachable)| {
            let (rule_name, at) = origins
                .get(&(vs.clone(), *rule, *m))
                .cloned()
                .unwrap_or_default();
            Unit {
                virtual_service: vs.clone(),
                rule: *rule,
                rule_name,
                match_index: *m,
                at,
                unreachable: *unreachable,
            }
        })
        .collect();
    Coverage {
        covered,
        total,
        percent: if total == 0 {
            100.0
        } else {
            covered as f64 * 100.0 / total as f64
        },
        missed,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A percentage to two decimals.
fn round(p: f64) -> f64 {
    (p * 100.0).round() / 100.0
}

/// `VirtualService ns/name rule I "name" match J`.
fn unit_label(u: &Unit) -> String {
    let name = u
        .rule_name
        .as_ref()
        .map(|n| format!(" {n:?}"))
        .unwrap_or_default();
    format!(
        "VirtualService {} rule {}{name} match {}",
        u.virtual_service, u.rule, u.match_index
    )
}

/// `field: got X, want Y; ...` (or `want anything else` for a negated check).
fn fields_text(f: &Failure) -> String {
    f.fields
        .iter()
        .map(|d| {
            if f.negated {
                format!("{}: got {}, want anything else", d.field, d.got)
            } else {
                format!("{}: got {}, want {}", d.field, d.got, d.want)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn write_text(out: &mut impl Write, s: &Summary) -> std::io::Result<()> {
    for c in &s.cases {
        for f in &c.failures {
            let outcome = f
                .outcome
                .as_str()
                .map(|o| format!(" ({o})"))
                .unwrap_or_default();
            writeln!(
                out,
                "FAIL {}:{}: {}: {}{outcome}: {}",
                c.file,
                c.line,
                c.description,
                f.request,
                fields_text(f)
            )?;
        }
    }
    if let Some(cov) = &s.coverage {
        writeln!(
            out,
            "coverage: {} of {} match blocks exercised ({}%)",
            cov.covered,
            cov.total,
            round(cov.percent)
        )?;
        for u in &cov.missed {
            let why = if u.unreachable {
                "  (no tested proxy routes by it)"
            } else {
                ""
            };
            writeln!(out, "  not exercised: {}  ({}){why}", unit_label(u), u.at)?;
        }
    }
    writeln!(
        out,
        "{} passed, {} failed ({} request{})",
        s.passed,
        s.failed,
        s.requests,
        plural(s.requests)
    )
}

/// Escapes text for XML attributes and content.
fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // XML 1.0 admits tab, LF, CR and printable characters only.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => o.push('?'),
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML: a `testsuite` per test file, a `testcase` per case, a `failure` with the
/// differing fields of each failing request.
fn junit(s: &Summary) -> String {
    let mut files: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for c in &s.cases {
        files.entry(&c.file).or_default().push(c);
    }
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"meshctl test\" tests=\"{}\" failures=\"{}\">\n",
        s.cases.len(),
        s.failed
    ));
    for (file, cases) in files {
        let failures = cases.iter().filter(|c| !c.passed).count();
        x.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">\n",
            xml(file),
            cases.len()
        ));
        for c in cases {
            x.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\"",
                xml(&c.description),
                xml(file),
                xml(file),
                c.line
            ));
            if c.passed {
                x.push_str("/>\n");
                continue;
            }
            x.push_str(">\n");
            let first = &c.failures[0];
            let text: Vec<String> = c
                .failures
                .iter()
                .map(|f| format!("{} ({}): {}: {}", f.request, f.at, f.check, fields_text(f)))
                .collect();
            x.push_str(&format!(
                "      <failure message=\"{}\">{}</failure>\n",
                xml(&format!("{}: {}", first.check, fields_text(first))),
                xml(&text.join("\n"))
            ));
            x.push_str("    </testcase>\n");
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}
