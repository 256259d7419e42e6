//! `meshctl validate`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use mesh_model::validate::{Severity, validate};
use mesh_model::{LoadError, Loader};
use serde::Serialize;

use crate::Output;

/// Arguments of `meshctl validate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Files or directories (`*.yaml`, `*.yml`, `*.json`, recursively).
    #[arg(required = true, value_name = "FILE_OR_DIR")]
    paths: Vec<PathBuf>,
    /// Namespace of resources that do not name one.
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// List the non-Istio objects that were skipped.
    #[arg(long)]
    show_skipped: bool,
}

/// One row of output.
#[derive(Debug, Serialize)]
struct Row {
    severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    kind: String,
    namespace: String,
    name: String,
    path: String,
    message: String,
    file: Option<String>,
    line: Option<usize>,
    #[serde(skip)]
    document: usize,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let loaded = Loader::new()
        .with_default_namespace(args.namespace.clone())
        .load_paths(&args.paths);
    let mut rows = Vec::new();
    let mut unreadable = false;
    for e in &loaded.errors {
        match e {
            LoadError::Io { .. } => {
                eprintln!("meshctl: {e}");
                unreadable = true;
            }
            LoadError::Syntax { position, message } | LoadError::Limit { position, message } => {
                rows.push(Row {
                    severity: Severity::Error,
                    code: None,
                    kind: String::new(),
                    namespace: String::new(),
                    name: String::new(),
                    path: String::new(),
                    message: message.clone(),
                    file: position.file.as_ref().map(|f| f.display().to_string()),
                    line: (position.line > 0).then_some(position.line),
                    document: position.document,
                });
            }
            LoadError::Schema {
                position,
                kind,
                namespace,
                name,
                path,
                message,
            } => rows.push(Row {
                severity: Severity::Error,
                code: None,
                kind: kind.clone(),
                namespace: namespace.clone(),
                name: name.clone(),
                path: path.clone(),
                message: message.clone(),
                file: position.file.as_ref().map(|f| f.display().to_string()),
                line: (position.line > 0).then_some(position.line),
                document: position.document,
            }),
        }
    }
    if unreadable {
        return ExitCode::from(2);
    }
    let report = validate(&loaded.resources);
    for f in report.findings {
        rows.push(Row {
            severity: f.severity,
            code: f.code,
            kind: f.resource.kind.to_string(),
            namespace: f.resource.namespace,
            name: f.resource.name,
            path: f.path,
            message: f.message,
            file: f.origin.file.as_ref().map(|p| p.display().to_string()),
            line: (f.origin.line > 0).then_some(f.origin.line),
            document: f.origin.document,
        });
    }
    rows.sort_by(|a, b| (&a.file, a.document, a.line).cmp(&(&b.file, b.document, b.line)));
    let errors = rows
        .iter()
        .filter(|r| r.severity == Severity::Error)
        .count();
    let warnings = rows
        .iter()
        .filter(|r| r.severity == Severity::Warning)
        .count();
    let mut out = std::io::stdout().lock();
    let written = match args.output {
        Output::Json => serde_json::to_writer_pretty(&mut out, &rows)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
        Output::Text => (|| {
            for r in &rows {
                writeln!(out, "{}", text_line(r))?;
            }
            if args.show_skipped {
                for s in &loaded.skipped {
                    writeln!(
                        out,
                        "skipped  {} {}/{}  (not an Istio networking resource)  ({})",
                        s.kind, s.namespace, s.name, s.origin
                    )?;
                }
            }
            let resources = loaded.resources.len();
            let skipped = loaded.skipped.len();
            writeln!(
                out,
                "{errors} error{}, {warnings} warning{} in {resources} Istio resource{}{}",
                plural(errors),
                plural(warnings),
                plural(resources),
                if skipped > 0 {
                    format!(
                        " ({skipped} other Kubernetes object{} skipped)",
                        plural(skipped)
                    )
                } else {
                    String::new()
                }
            )
        })(),
    };
    if written.is_err() {
        return ExitCode::from(2);
    }
    if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn text_line(r: &Row) -> String {
    let resource = if r.kind.is_empty() {
        "-".to_owned()
    } else if r.name.is_empty() {
        format!("{} {}/<no name>", r.kind, r.namespace)
    } else {
        format!("{} {}/{}", r.kind, r.namespace, r.name)
    };
    let path = if r.path.is_empty() {
        String::new()
    } else {
        format!("{}: ", r.path)
    };
    let code = r.code.map(|c| format!("[{c}] ")).unwrap_or_default();
    let location = match (&r.file, r.line) {
        (Some(f), Some(l)) => format!("{f}:{l}"),
        (Some(f), None) => f.clone(),
        (None, Some(l)) => format!("<input>:{l}"),
        (None, None) => "<input>".to_owned(),
    };
    format!(
        "{:<7}  {resource}  {path}{code}{}  ({location})",
        r.severity.to_string(),
        r.message
    )
}
