//! `meshctl simulate`: the distribution of decisions for many copies of one request.

use std::io::Write;
use std::process::ExitCode;

use mesh_route::Decision;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use crate::Output;
use crate::request::{Destination, RequestArgs, prepare};

/// The most requests one run may send.
const MAX_REQUESTS: u64 = 100_000_000;

/// Arguments of `meshctl simulate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    request: RequestArgs,
    /// How many requests to send (at most 100000000).
    #[arg(short = 'n', long = "requests", value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=MAX_REQUESTS))]
    requests: u64,
    /// Seed of the random draws (a seeded `StdRng`); the same seed gives the same output.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// The distribution, as printed.
#[derive(Debug, Serialize)]
struct Distribution {
    /// Requests sent.
    total: u64,
    /// The seed.
    seed: u64,
    /// Outcomes and destinations, by count (most first).
    outcomes: Vec<Row>,
}

/// One outcome (and destination) and how often it happened.
#[derive(Debug, Serialize)]
struct Row {
    /// `route`, `redirect`, `directResponse`, `noRoute` or `rejected`.
    outcome: &'static str,
    /// Where the request went; `null` unless the outcome is `route`.
    destination: Option<Destination>,
    /// How many requests.
    count: u64,
    /// `count / total`.
    fraction: f64,
}

/// Runs `meshctl simulate`: prints the distribution; returns the exit status.
pub(crate) fn run(args: &Args) -> ExitCode {
    let prepared = match prepare(&args.request) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (table, request) = (&prepared.table, &prepared.request);
    let n = args.requests;
    let mut rows: Vec<Row> = Vec::new();
    match request.view() {
        Err(_) => {
            eprintln!(
                "meshctl: every request is rejected: {}",
                request.rejection().unwrap_or_default()
            );
            rows.push(Row {
                outcome: "rejected",
                destination: None,
                count: n,
                fraction: 1.0,
            });
        }
        Ok(view) => {
            let mut rng = StdRng::seed_from_u64(args.seed);
            // Matching does not depend on the sample, so the decisions differ only in the
            // outcome and the split's index: tally by those, keep one decision of each.
            let mut tally: Vec<((&'static str, usize), Decision<'_>, u64)> = Vec::new();
            for _ in 0..n {
                let d = table.decide(&view, rng.random::<u64>());
                let key = match d {
                    Decision::Route { index, .. } => ("route", index),
                    other => (other.outcome(), 0),
                };
                match tally.iter_mut().find(|(k, _, _)| *k == key) {
                    Some((_, _, count)) => *count += 1,
                    None => tally.push((key, d, 1)),
                }
            }
            for (_, d, count) in tally {
                let outcome = d.outcome();
                let destination = Destination::of(&d, &view);
                match rows
                    .iter_mut()
                    .find(|r| r.outcome == outcome && r.destination == destination)
                {
                    Some(r) => r.count += count,
                    None => rows.push(Row {
                        outcome,
                        destination,
                        count,
                        fraction: 0.0,
                    }),
                }
            }
            for r in &mut rows {
                r.fraction = r.count as f64 / n as f64;
            }
            rows.sort_by(|a, b| {
                b.count
                    .cmp(&a.count)
                    .then(a.outcome.cmp(b.outcome))
                    .then_with(|| a.destination.cmp(&b.destination))
            });
        }
    }
    let dist = Distribution {
        total: n,
        seed: args.seed,
        outcomes: rows,
    };
    let mut out = std::io::stdout().lock();
    let written = match args.output {
        Output::Json => serde_json::to_writer_pretty(&mut out, &dist)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
        Output::Text => write_text(
            &mut out,
            &dist,
            &request.line(),
            &table.identity().to_string(),
        ),
    };
    if written.is_err() {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

/// The text output: a header line, then a table.
fn write_text(
    out: &mut impl Write,
    d: &Distribution,
    request: &str,
    proxy: &str,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{} requests (seed {}): {request}  ({proxy})",
        d.total, d.seed
    )?;
    let width = d.total.to_string().len().max(5);
    writeln!(
        out,
        "{:>width$}  {:>8}  {:<14}  DESTINATION",
        "COUNT", "FRACTION", "OUTCOME"
    )?;
    for r in &d.outcomes {
        writeln!(
            out,
            "{:>width$}  {:>7.3}%  {:<14}  {}",
            r.count,
            r.fraction * 100.0,
            r.outcome,
            r.destination
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string)
        )?;
    }
    Ok(())
}
