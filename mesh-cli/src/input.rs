//! Reading what every command reads: configuration from files, directories or standard
//! input (`-`), with routing-test documents recognised and set aside, and the configuration
//! checked as `meshctl validate` checks it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mesh_load::LoadFiles as _;
use mesh_model::validate::{Severity, validate};
use mesh_model::{LoadError, Loaded, Loader, Resources};
use mesh_route::{CompileOptions, Identity, RouteTable};

use crate::report::{self, Row};

/// The path that names standard input.
pub(crate) const STDIN: &str = "-";

/// Whether a document without `kind` is a routing-test document rather than configuration:
/// istio-config-validator's (`testCases:`) or `meshctl test`'s own (`cases:`).
pub(crate) fn is_test_document(top_level_keys: &[&str]) -> bool {
    top_level_keys
        .iter()
        .any(|k| *k == "testCases" || *k == "cases")
}

/// The loader every command uses: resources without a namespace go to `namespace`, and test
/// documents are set aside (in [`Loaded::foreign`]).
pub(crate) fn loader(namespace: &str) -> Loader {
    Loader::new()
        .with_default_namespace(namespace)
        .with_foreign_documents(is_test_document)
}

/// Loads files, directories and `-` (standard input, which can be read once per run).
pub(crate) fn load(loader: &Loader, paths: &[PathBuf]) -> Loaded {
    let mut out = Loaded::default();
    for p in paths {
        let one = if p.as_os_str() == STDIN {
            load_stdin(loader)
        } else {
            loader.load_paths(&[p])
        };
        out.merge(one);
    }
    // Each path was checked on its own; a resource given in two of them is a duplicate too.
    out.check_duplicates(loader.duplicates());
    out
}

/// Reads standard input, at most the loader's input limit (one byte more, so that the
/// loader reports the limit).
fn load_stdin(loader: &Loader) -> Loaded {
    static READ: AtomicBool = AtomicBool::new(false);
    let name = Path::new("<stdin>");
    let mut out = Loaded::default();
    if READ.swap(true, Ordering::SeqCst) {
        out.errors.push(LoadError::Io {
            path: name.to_path_buf(),
            source: std::io::Error::other("standard input (-) can be given only once"),
        });
        return out;
    }
    let limit = loader.limits().max_input_bytes as u64 + 1;
    let mut bytes = Vec::new();
    if let Err(source) = std::io::stdin().lock().take(limit).read_to_end(&mut bytes) {
        out.errors.push(LoadError::Io {
            path: name.to_path_buf(),
            source,
        });
        return out;
    }
    loader.load_bytes(&bytes, Some(Arc::new(name.to_path_buf())))
}

/// Prints the load errors that mean the input could not be read at all; returns whether
/// there were any.
fn unreadable(loaded: &Loaded) -> bool {
    let mut any = false;
    for e in &loaded.errors {
        if Row::from_load_error(e).is_none() {
            eprintln!("meshctl: {e}");
            any = true;
        }
    }
    any
}

/// Loads the configuration and checks it as Istio's webhook would.
///
/// Errors are printed to stderr; the error value is the exit status: 2 when input could not
/// be read, `invalid` when the configuration has errors (load errors, validation errors
/// without an analyzer code).
pub(crate) fn load_config(
    paths: &[PathBuf],
    namespace: &str,
    invalid: u8,
) -> Result<Resources, ExitCode> {
    let loaded = load(&loader(namespace), paths);
    if unreadable(&loaded) {
        return Err(ExitCode::from(2));
    }
    let mut rows: Vec<Row> = loaded
        .errors
        .iter()
        .filter_map(Row::from_load_error)
        .collect();
    if rows.is_empty() {
        // Analyzer findings (with a code) need the whole cluster to be meaningful; Istio
        // accepts the resources regardless, so they do not stop a decision.
        rows.extend(
            validate(&loaded.resources)
                .findings
                .into_iter()
                .filter(|f| f.severity == Severity::Error && f.code.is_none())
                .map(Row::from_finding),
        );
    }
    if !rows.is_empty() {
        report::sort(&mut rows);
        for r in &rows {
            eprintln!("{r}");
        }
        return Err(ExitCode::from(invalid));
    }
    Ok(loaded.resources)
}

/// Compiles the route table of `identity`; compile errors and warnings are printed to
/// stderr, and an error is the exit status `invalid`.
pub(crate) fn compile(
    resources: &Resources,
    identity: &Identity,
    invalid: u8,
) -> Result<RouteTable, ExitCode> {
    match RouteTable::compile(resources, identity, &CompileOptions::default()) {
        Ok(t) => {
            for w in t.warnings() {
                eprintln!("{}", Row::from_problem(Severity::Warning, w));
            }
            Ok(t)
        }
        Err(e) => {
            for p in &e.problems {
                eprintln!("{}", Row::from_problem(Severity::Error, p));
            }
            Err(ExitCode::from(invalid))
        }
    }
}

/// Loads routing-test documents from files and directories (`-` for standard input).
///
/// Documents with a `kind` are configuration (given with `-f`) and are passed over; a
/// document without a `kind` that is no test document, and any file that cannot be read or
/// parsed, is an error, printed; the error value is exit status 2.
pub(crate) fn load_tests(
    paths: &[PathBuf],
    namespace: &str,
) -> Result<Vec<mesh_model::ForeignDocument>, ExitCode> {
    let loaded = load(&loader(namespace), paths);
    if unreadable(&loaded) {
        return Err(ExitCode::from(2));
    }
    let mut rows: Vec<Row> = loaded
        .errors
        .iter()
        .filter(|e| !matches!(e, LoadError::Schema { kind, .. } if !kind.is_empty()))
        .filter_map(Row::from_load_error)
        .collect();
    if !rows.is_empty() {
        report::sort(&mut rows);
        for r in &rows {
            eprintln!("{r}");
        }
        return Err(ExitCode::from(2));
    }
    if loaded.foreign.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        eprintln!(
            "meshctl: no test documents (`cases:` or `testCases:`) in {}",
            names.join(", ")
        );
        return Err(ExitCode::from(2));
    }
    Ok(loaded.foreign)
}
