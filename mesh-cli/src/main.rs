//! `meshctl`: check and explain Istio traffic configuration offline.
//!
//! - `meshctl validate FILE_OR_DIR...` reports what Istio's validation and `istioctl analyze`
//!   would say about the resources, with the file and line of each finding.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod validate;

/// Check and explain Istio traffic configuration offline.
#[derive(Debug, Parser)]
#[command(name = "meshctl", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate Istio resources as Istio's webhook and `istioctl analyze` would.
    ///
    /// Exit status: 0 when there are no errors, 1 when there are, 2 when input could not be
    /// read.
    Validate(validate::Args),
}

/// Output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// Human-readable lines.
    #[default]
    Text,
    /// JSON.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate(args) => validate::run(&args),
    }
}
