//! `meshctl validate`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use mesh_model::Duplicates;
use mesh_model::validate::{Severity, validate};

use crate::Output;
use crate::input;
use crate::report::{self, Row};

/// Arguments of `meshctl validate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Files or directories (`*.yaml`, `*.yml`, `*.json`, recursively), or `-` for standard
    /// input. Routing-test documents (`cases:`, `testCases:`) are not configuration and are
    /// passed over.
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
    /// Accept a resource given more than once (by default an error): `last-wins` keeps the
    /// last, as `kubectl apply` of the files in order would, and warns for each one replaced.
    #[arg(long, value_enum, value_name = "RULE")]
    allow_duplicates: Option<AllowDuplicates>,
}

/// What `--allow-duplicates` does.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum AllowDuplicates {
    /// The last one of each name is kept.
    LastWins,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let duplicates = match args.allow_duplicates {
        None => Duplicates::Refuse,
        Some(AllowDuplicates::LastWins) => Duplicates::LastWins,
    };
    let loaded = input::load(
        &input::loader(&args.namespace).with_duplicates(duplicates),
        &args.paths,
    );
    let mut rows = Vec::new();
    let mut unreadable = false;
    for e in &loaded.errors {
        match Row::from_load_error(e) {
            Some(row) => rows.push(row),
            None => {
                eprintln!("meshctl: {e}");
                unreadable = true;
            }
        }
    }
    if unreadable {
        return ExitCode::from(2);
    }
    rows.extend(loaded.replaced.iter().map(Row::from_replaced));
    rows.extend(
        validate(&loaded.resources)
            .findings
            .into_iter()
            .map(Row::from_finding),
    );
    report::sort(&mut rows);
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
                writeln!(out, "{r}")?;
            }
            if args.show_skipped {
                for s in &loaded.skipped {
                    writeln!(
                        out,
                        "skipped  {} {}/{}  (neither an Istio networking nor a Gateway API resource read here)  ({})",
                        s.kind, s.namespace, s.name, s.origin
                    )?;
                }
                for d in &loaded.foreign {
                    writeln!(out, "skipped  routing tests  ({})", d.origin)?;
                }
            }
            let resources = loaded.resources.len();
            let skipped = loaded.skipped.len();
            writeln!(
                out,
                "{errors} error{}, {warnings} warning{} in {resources} resource{}{}",
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
