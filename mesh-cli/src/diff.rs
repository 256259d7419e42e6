//! `meshctl diff OLD NEW`: what a configuration change does, request by request.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use mesh_model::Resources;
use mesh_route::{Identity, RouteTable};
use serde::Serialize;
use serde_json::Value;

use crate::Output;
use crate::corpus::Corpus;
use crate::input;
use crate::request::{Normalization, ProxyArgs, Request};
use crate::route;
use crate::testfile;

/// The keys of route's JSON that explain a decision rather than make it: a request whose
/// other keys are equal under both configurations has not changed. The rule's identity is
/// printed, not compared (renumbered rules that do the same are no change); `destination`
/// is the one the sample picked, `weights` hold the whole split.
const NOT_COMPARED: &[&str] = &[
    "request",
    "proxy",
    "reason",
    "notMatched",
    "virtualService",
    "rule",
    "ruleName",
    "match",
    "destination",
];

/// Arguments of `meshctl diff`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The configuration before the change: a file, a directory, or `-` for standard input.
    #[arg(value_name = "OLD")]
    old: PathBuf,
    /// The configuration after the change: a file, a directory, or `-` for standard input.
    #[arg(value_name = "NEW")]
    new: PathBuf,
    #[command(flatten)]
    proxy: ProxyArgs,
    /// Path normalization applied before matching, as meshConfig.pathNormalization sets it.
    #[arg(long, value_name = "MODE", value_enum, default_value_t = Normalization::Base)]
    path_normalization: Normalization,
    /// Also decide the requests of this routing-test file or directory (repeat the flag
    /// for several); they are decided by the proxy of the command line.
    #[arg(long, value_name = "FILE_OR_DIR")]
    tests: Vec<PathBuf>,
    /// The most requests the corpus may hold; a larger corpus is an error (exit 2).
    #[arg(long, value_name = "N", default_value_t = 500_000)]
    max_requests: usize,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// A field whose value changed.
#[derive(Debug, Serialize)]
struct FieldChange {
    field: String,
    old: Value,
    new: Value,
}

/// A request whose decision changed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Change {
    /// The request's host.
    host: String,
    /// The rule that decided it before, as a label.
    old_rule: String,
    /// The rule that decides it now.
    new_rule: String,
    /// The request line.
    request: String,
    /// The request as `meshctl route` arguments.
    command: String,
    /// What changed.
    fields: Vec<FieldChange>,
    /// The parts of the decision that changed, as a configuration candidate in the layer
    /// counts them (`mesh_route::compare`): `outcome`, `rule`, `destination`, `rewrite`,
    /// `policies`.
    parts: Vec<&'static str>,
}

/// The diff, as `--output json` prints it.
#[derive(Debug, Serialize)]
struct Report {
    /// Requests decided.
    requests: usize,
    /// Requests whose decision changed.
    changed: usize,
    /// The changes, grouped by host and rule, shortest request first.
    changes: Vec<Change>,
}

/// Runs `meshctl diff`; returns the exit status.
pub(crate) fn run(args: &Args) -> ExitCode {
    match run_inner(args) {
        Ok(code) | Err(code) => code,
    }
}

/// The ports a gateway proxy listens on for HTTP (80 for a sidecar).
fn ports(resources: &Resources, identity: &Identity) -> Vec<u16> {
    let Identity::Gateway { namespace, name } = identity else {
        return vec![80];
    };
    let mut out: Vec<u16> = resources
        .gateways
        .iter()
        .filter(|g| g.namespace() == namespace && g.name() == name)
        .flat_map(|g| &g.spec.servers)
        .filter_map(|s| s.port.as_ref())
        .filter(|p| {
            matches!(
                p.protocol.to_ascii_uppercase().as_str(),
                "HTTP" | "HTTPS" | "HTTP2" | "GRPC" | "GRPC-WEB"
            )
        })
        .filter_map(|p| u16::try_from(p.number).ok())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn run_inner(args: &Args) -> Result<ExitCode, ExitCode> {
    let ns = args.proxy.namespace();
    let identity = args.proxy.identity();
    let old = input::load_config(std::slice::from_ref(&args.old), ns, 2)?;
    let new = input::load_config(std::slice::from_ref(&args.new), ns, 2)?;
    let old_table = input::compile(&old, &identity, 2)?;
    let new_table = input::compile(&new, &identity, 2)?;
    let normalization = args.path_normalization.into();
    let mut corpus = Corpus::new(args.max_requests, normalization);
    if !args.tests.is_empty() {
        for doc in input::load_tests(&args.tests, ns)? {
            let cases = testfile::cases(&doc, normalization).map_err(|e| {
                eprintln!("meshctl: {e}");
                ExitCode::from(2)
            })?;
            for case in cases {
                for (_, r) in case.requests {
                    corpus.push_request(r);
                }
            }
        }
    }
    let mut all_ports = ports(&old, &identity);
    all_ports.extend(ports(&new, &identity));
    all_ports.sort_unstable();
    all_ports.dedup();
    corpus.add_table(&old_table, &all_ports);
    corpus.add_table(&new_table, &all_ports);
    if corpus.overflow {
        eprintln!(
            "meshctl: the request corpus exceeds --max-requests {}; raise it to diff these configurations",
            args.max_requests
        );
        return Err(ExitCode::from(2));
    }
    let mut changes: Vec<Change> = corpus
        .requests()
        .iter()
        .filter_map(|r| change(&old_table, &new_table, r))
        .collect();
    changes.sort_by(|a, b| {
        (
            &a.host,
            &a.old_rule,
            &a.new_rule,
            a.request.len(),
            &a.request,
        )
            .cmp(&(
                &b.host,
                &b.old_rule,
                &b.new_rule,
                b.request.len(),
                &b.request,
            ))
    });
    let report = Report {
        requests: corpus.requests().len(),
        changed: changes.len(),
        changes,
    };
    let mut out = std::io::stdout().lock();
    let written = match args.output {
        Output::Json => serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
        Output::Text => write_text(&mut out, &report),
    };
    if written.is_err() {
        return Err(ExitCode::from(2));
    }
    Ok(if report.changed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The request's change, if its decision differs between the tables.
fn change(old: &RouteTable, new: &RouteTable, r: &Request) -> Option<Change> {
    let a = route::explain_json(old, r, 0);
    let b = route::explain_json(new, r, 0);
    let (Value::Object(ao), Value::Object(bo)) = (&a, &b) else {
        return None;
    };
    let mut keys: Vec<&String> = ao.keys().chain(bo.keys()).collect();
    keys.sort();
    keys.dedup();
    let fields: Vec<FieldChange> = keys
        .into_iter()
        .filter(|k| !NOT_COMPARED.contains(&k.as_str()))
        .filter(|k| ao.get(*k) != bo.get(*k))
        .map(|k| FieldChange {
            field: k.clone(),
            old: ao.get(k).cloned().unwrap_or(Value::Null),
            new: bo.get(k).cloned().unwrap_or(Value::Null),
        })
        .collect();
    if fields.is_empty() {
        return None;
    }
    let parts = match r.view() {
        Ok(view) => mesh_route::compare::compare(&old.decide(&view, 0), &new.decide(&view, 0))
            .names()
            .collect(),
        Err(()) => Vec::new(),
    };
    Some(Change {
        parts,
        host: mesh_match::authority_host(&r.authority).to_ascii_lowercase(),
        old_rule: rule_label(&a),
        new_rule: rule_label(&b),
        request: r.line(),
        command: r.command_line(),
        fields,
    })
}

/// `VirtualService ns/name rule I "name" match J`, or the outcome when no rule decided.
fn rule_label(v: &Value) -> String {
    match (v["virtualService"].as_str(), v["rule"].as_u64()) {
        (Some(vs), Some(rule)) => {
            let name = v["ruleName"]
                .as_str()
                .map(|n| format!(" {n:?}"))
                .unwrap_or_default();
            format!(
                "VirtualService {vs} rule {rule}{name} match {}",
                v["match"].as_u64().unwrap_or(0)
            )
        }
        _ => match v["outcome"].as_str() {
            Some("route") => "default route (no VirtualService)".to_owned(),
            Some(o) => format!("{o} (no rule)"),
            None => "-".to_owned(),
        },
    }
}

/// A value as the text output shows it: splits as `host|subset|port share%`, strings bare,
/// the rest as compact JSON.
fn show(field: &str, v: &Value) -> String {
    match (field, v) {
        ("weights" | "mirrors", Value::Array(items)) => items
            .iter()
            .map(|w| {
                let share = w.get("weight").or_else(|| w.get("percent"));
                format!(
                    "{}|{}|{} {}%",
                    w["host"].as_str().unwrap_or(""),
                    w["subset"].as_str().unwrap_or(""),
                    w["port"],
                    share
                        .and_then(Value::as_f64)
                        .map(|p| ((p * 10_000.0).round() / 10_000.0).to_string())
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

fn write_text(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    let mut groups: BTreeMap<(&str, &str, &str), Vec<&Change>> = BTreeMap::new();
    for c in &r.changes {
        groups
            .entry((&c.host, &c.old_rule, &c.new_rule))
            .or_default()
            .push(c);
    }
    let mut host = "";
    for ((h, old_rule, new_rule), changes) in &groups {
        if *h != host {
            writeln!(out, "host {h}")?;
            host = h;
        }
        if old_rule == new_rule {
            writeln!(out, "  {old_rule}")?;
        } else {
            writeln!(out, "  {old_rule}  ->  {new_rule}")?;
        }
        for c in changes {
            writeln!(out, "    {}", c.command)?;
            for f in &c.fields {
                writeln!(
                    out,
                    "      {}: {}  ->  {}",
                    f.field,
                    show(&f.field, &f.old),
                    show(&f.field, &f.new)
                )?;
            }
        }
    }
    let hosts = groups
        .keys()
        .map(|(h, _, _)| *h)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    writeln!(
        out,
        "{} of {} requests changed ({} host{})",
        r.changed,
        r.requests,
        hosts,
        if hosts == 1 { "" } else { "s" }
    )
}
