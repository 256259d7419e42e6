//! `meshctl`: check and explain Istio traffic configuration offline.
//!
//! - `meshctl validate FILE_OR_DIR...` reports what Istio's validation and `istioctl analyze`
//!   would say about the resources, with the file and line of each finding.
//! - `meshctl route -f FILE_OR_DIR URL` says what a proxy does with one request, and why.
//! - `meshctl simulate -f FILE_OR_DIR URL` sends many copies of a request through the
//!   decision and prints the distribution of outcomes and destinations.
//! - `meshctl test [-f FILE_OR_DIR] TESTS...` runs routing unit tests (its own format and
//!   istio-config-validator's) with pass/fail exit codes, text, JSON or JUnit output.
//! - `meshctl diff OLD NEW` decides a corpus of requests built from both configurations
//!   with both, and prints the requests whose decision changed.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
// The doc comments of the commands are their `--help` texts, which show JSON shapes such as
// `[name]`; they are not links.
#![allow(rustdoc::broken_intra_doc_links)]

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod corpus;
mod diff;
mod expect;
mod input;
mod report;
mod request;
mod route;
mod simulate;
mod test;
mod testfile;
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
    /// Validate Istio resources as Istio's webhook and `istioctl analyze` would, and Gateway
    /// API resources as their CRDs and a controller's status conditions would.
    ///
    /// Exit status: 0 when there are no errors, 1 when there are, 2 when input could not be
    /// read.
    Validate(validate::Args),
    /// Show what a proxy does with one request, and why.
    ///
    /// Prints the rule that matched (VirtualService, rule index and name, match block) and,
    /// for each earlier match block, the first condition the request failed; then the
    /// destination(s), the path and authority sent upstream, and every policy with Istio's
    /// defaults applied.
    ///
    /// The proxy is a sidecar in --namespace (with --labels), or the Gateway --gateway.
    /// Before matching, the path is normalized as --path-normalization says. A path that
    /// cannot be normalized is answered 400 by Envoy: the outcome is then `rejected`, with
    /// the reason. A URL fragment (#...) is not part of the request, as with curl.
    ///
    /// JSON output: one object whose keys are always all present. A key that does not apply
    /// to the outcome, or a policy that is not configured, is null.
    ///   outcome          route | redirect | directResponse | noRoute | rejected
    ///   reason           why, for noRoute, rejected, a default route, an undefined subset
    ///   request, proxy   the request line and the proxy that decided
    ///   virtualService   "ns/name" of the matched rule; rule, ruleName, match: its index
    ///                    in `http`, its name, the index of its match block that matched
    ///   notMatched       [{virtualService, rule, ruleName, match, reason}] earlier blocks
    ///   destination      {host, subset, port}; subset is null when there is none
    ///   weights          [{host, subset, port, weight}], weight the share in percent
    ///                    (100 for a single destination)
    ///   path, authority  as sent upstream (after normalization and rewrite)
    ///   status           HTTP status of a redirect, a direct response, noRoute (404) or
    ///                    rejected (400); 200 when the request is gRPC (content-type
    ///                    application/grpc[+...]), which Envoy answers with grpcStatus
    ///   grpcStatus,      grpc-status (Envoy's HTTP-to-gRPC mapping) and grpc-message of
    ///   grpcMessage      that reply to a gRPC request; null otherwise
    ///   location         of a redirect, or of a 3xx or 201 direct response (the request URL)
    ///   body             of a direct response
    ///   fault            {delay: {fixedDelay, percent}, abort: {httpStatus | grpcStatus,
    ///                    percent, reply: {status, grpcStatus, grpcMessage, body}}}, the
    ///                    effective percentages and what an aborted request is answered;
    ///                    delay or abort null if unset. An abort comes before the rule's
    ///                    redirect or direct response (reason says so)
    ///   retries          {attempts, perTryTimeout, retryOn}, effective after Istio's
    ///                    defaults (attempts 0 and retryOn null when disabled)
    ///   timeout          route timeout (null: none, Istio's default)
    ///   mirrors          [{host, subset, port, percent}], only mirrors that fire
    ///   requestHeaders,  [{op: remove | set | add, name, value}] in the order Envoy applies
    ///   responseHeaders  them (value null for remove): for a single destination the
    ///                    removes, sets and adds of the rule then the destination; for a
    ///                    weighted split the destination's, then the rule's. Empty values
    ///                    are left out (Envoy skips them)
    /// Durations are strings as Istio writes them ("7s", "0.5s"). destination, weights,
    /// path, authority, retries, timeout, mirrors and requestHeaders apply to `route`
    /// only; responseHeaders to route, redirect and directResponse; fault to any outcome
    /// with a matched rule.
    ///
    /// Exit status: 0 when a decision was made (noRoute and rejected included); 1 when the
    /// configuration has errors (load errors, errors for which Istio rejects a resource,
    /// compile errors; printed to stderr as `meshctl validate` prints them); 2 on bad
    /// arguments or unreadable input.
    #[command(
        verbatim_doc_comment,
        about = "Show what a proxy does with one request, and why"
    )]
    Route(route::Args),
    /// Send many copies of one request through the decision and print the distribution.
    ///
    /// Each copy gets a uniform random sample from a StdRng seeded with --seed, which picks
    /// the destination of a weighted split: the same seed gives the same output. Faults and
    /// mirrors are not drawn (`meshctl route` shows their percentages).
    ///
    /// Text output: a table sorted by count (most first), destinations as host|subset|port.
    /// JSON output: {total, seed, outcomes: [{outcome, destination, count, fraction}]}, in
    /// the same order; destination is {host, subset, port} (subset null when none) for
    /// `route`, null for other outcomes. When Envoy rejects the path, every copy is
    /// `rejected`.
    ///
    /// Exit status: as for `meshctl route`.
    #[command(
        verbatim_doc_comment,
        about = "Send many copies of one request through the decision and print the distribution"
    )]
    Simulate(simulate::Args),
    /// Run routing unit tests: requests and what `meshctl route` must say about them.
    ///
    /// Test documents are YAML or JSON, in files or directories (which may also hold the
    /// configuration: without -f, it is read from the test paths). Two formats:
    ///
    ///   cases:                               meshctl's own (see the README)
    ///   - description: canary header goes to v2
    ///     request: {authority: shop.example.com, path: /, headers: {x-canary: always}}
    ///     expect: {outcome: route, destination: {subset: v2}}
    ///
    ///   testCases: [...]                     istio-config-validator's, unchanged
    ///
    /// Any request field may be a list: a case sends every combination. `expect` compares
    /// only the fields it gives, over the JSON of `meshctl route -o json`; each field of
    /// `expectNot` must differ; `shares` asserts the exact split of traffic.
    ///
    /// Text output: a line per failing request, `FAIL file:line: description: request:
    /// field: got X, want Y`, then `N passed, M failed (R requests)`.
    ///
    /// Exit status: 0 when every case passes (and coverage is at least --fail-under); 1
    /// when a case fails or coverage is under it; 2 on bad input (unreadable or invalid
    /// configuration, a test document that cannot be read).
    #[command(
        verbatim_doc_comment,
        about = "Run routing unit tests (meshctl's format and istio-config-validator's)"
    )]
    Test(test::Args),
    /// Show what a configuration change does: the requests whose decision changed.
    ///
    /// OLD and NEW are each a file, a directory, or `-` (standard input, for one of them).
    /// A corpus of requests is built from both: for every host of every virtual host and
    /// every match block of every rule, a request that hits the block and near-misses on
    /// each of its conditions (prefix boundary, exact against longer, header present,
    /// absent or another value, method, port, query), plus the requests of --tests. Each
    /// is decided with both configurations as `meshctl route` decides it (sample 0), and
    /// compared on every key of route's JSON except the explanation (request, proxy,
    /// reason, notMatched), the rule's identity and the sampled destination (the split is
    /// in weights).
    ///
    /// Text output: changes grouped by host and by old -> new rule, shortest request
    /// first, each as `meshctl route` arguments with `field: old -> new` lines; then
    /// `N of M requests changed (H hosts)`. JSON: {requests, changed, changes: [{host,
    /// oldRule, newRule, request, command, fields: [{field, old, new}]}]}.
    ///
    /// Exit status: 0 when nothing changed, 1 when something did (as diff), 2 on bad input
    /// (unreadable or invalid configuration, a corpus over --max-requests).
    #[command(
        verbatim_doc_comment,
        about = "Show the requests whose decision a configuration change changes"
    )]
    Diff(diff::Args),
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
        Command::Route(args) => route::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Diff(args) => diff::run(&args),
    }
}
