//! `meshctl route`: what the proxy does with one request, and why.

use std::io::Write;
use std::process::ExitCode;

use mesh_match::RequestView;
use mesh_route::policy::fault::GRPC_STATUS;
use mesh_route::policy::{AbortKind, FaultPolicy, LocalReply, OrderedOps, ReplyTo, RetryPolicy};
use mesh_route::{Decision, NoRoute, RouteEntry, RouteTable, Rule, Side};
use serde::Serialize;

use crate::Output;
use crate::request::{Destination, Request, RequestArgs, prepare};

/// Arguments of `meshctl route`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    request: RequestArgs,
    /// The uniform random draw that picks the destination of a weighted split: the split
    /// takes the destination whose cumulative share covers N / 2^64 (0 picks the first).
    #[arg(long, value_name = "N", default_value_t = 0)]
    sample: u64,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// The decision, as `meshctl route` reports it. Keys that do not apply are `null`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Report {
    /// The request line as given.
    request: String,
    /// Path and query as sent (for the text output).
    #[serde(skip)]
    sent_path: String,
    /// The proxy that decided.
    proxy: String,
    /// `route`, `redirect`, `directResponse`, `noRoute` or `rejected`.
    outcome: &'static str,
    /// Why, when the outcome needs explaining.
    reason: Option<String>,
    /// `ns/name` of the VirtualService (or Gateway API route) of the matched rule.
    virtual_service: Option<String>,
    /// `Kind ns/name` of the resource of the matched rule: `VirtualService reviews/web`,
    /// `HTTPRoute infra/matching`, `GRPCRoute infra/echo`.
    resource: Option<String>,
    /// Index of the matched rule in the VirtualService's `http` list.
    rule: Option<usize>,
    /// Name of the matched rule.
    rule_name: Option<String>,
    /// Index of the match block that matched.
    #[serde(rename = "match")]
    match_index: Option<usize>,
    /// The earlier match blocks and the first condition each failed.
    not_matched: Vec<NotMatched>,
    /// Where the request is forwarded.
    destination: Option<Destination>,
    /// Every destination of the split and its share.
    weights: Option<Vec<Weight>>,
    /// Path and query sent upstream.
    path: Option<String>,
    /// Authority sent upstream.
    authority: Option<String>,
    /// HTTP status of a response the proxy makes itself (200 for a gRPC request, which
    /// gets `grpcStatus`).
    status: Option<u16>,
    /// `grpc-status` of a response the proxy makes itself to a gRPC request.
    grpc_status: Option<u32>,
    /// `grpc-message` of a response the proxy makes itself to a gRPC request.
    grpc_message: Option<String>,
    /// `Location` of a redirect.
    location: Option<String>,
    /// Body of a direct response.
    body: Option<String>,
    /// Faults of the matched rule.
    fault: Option<Fault>,
    /// Effective retry policy.
    retries: Option<Retries>,
    /// Route timeout.
    timeout: Option<String>,
    /// Mirrors that fire.
    mirrors: Option<Vec<MirrorOut>>,
    /// Request header operations, in the order they are applied.
    request_headers: Option<Vec<HeaderOpOut>>,
    /// Response header operations, in the order they are applied.
    response_headers: Option<Vec<HeaderOpOut>>,
}

/// A match block before the one that matched.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NotMatched {
    /// `ns/name` of the rule's VirtualService (or Gateway API route).
    virtual_service: Option<String>,
    /// `Kind ns/name` of the rule's resource.
    resource: Option<String>,
    /// Index of the rule.
    rule: usize,
    /// Name of the rule.
    rule_name: Option<String>,
    /// Index of the match block.
    #[serde(rename = "match")]
    match_index: usize,
    /// The first condition the request failed.
    reason: String,
}

/// One destination of a split.
#[derive(Debug, Serialize)]
struct Weight {
    #[serde(flatten)]
    destination: Destination,
    /// Share of traffic, in percent.
    weight: f64,
}

/// The faults of a rule, with their effective percentages.
#[derive(Debug, Serialize)]
pub(crate) struct Fault {
    /// The delay, if any.
    delay: Option<Delay>,
    /// The abort, if any.
    abort: Option<Abort>,
}

#[derive(Debug, Serialize)]
/// A fixed delay.
#[serde(rename_all = "camelCase")]
struct Delay {
    /// The duration, as Istio writes it.
    fixed_delay: String,
    /// Share of requests delayed, in percent.
    percent: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
/// An abort: exactly one of `httpStatus` and `grpcStatus` is written.
struct Abort {
    /// HTTP status.
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<u16>,
    /// gRPC status name (`UNAVAILABLE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    grpc_status: Option<String>,
    /// Share of requests aborted, in percent.
    percent: f64,
    /// What an aborted request is answered.
    reply: ReplyOut,
}

/// A response the proxy makes itself.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReplyOut {
    /// HTTP status.
    status: u16,
    /// `grpc-status`, to a gRPC request.
    grpc_status: Option<u32>,
    /// `grpc-message`, to a gRPC request.
    grpc_message: Option<String>,
    /// Body text.
    body: String,
}

impl ReplyOut {
    fn of(r: &LocalReply<'_>) -> Self {
        ReplyOut {
            status: r.status,
            grpc_status: r.grpc_status,
            grpc_message: r.grpc_message.clone(),
            body: String::from_utf8_lossy(&r.body).into_owned(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
/// The effective retry policy.
struct Retries {
    /// Retries after the first attempt; 0 when disabled.
    attempts: u32,
    /// Timeout of each attempt.
    per_try_timeout: Option<String>,
    /// Retry conditions and status codes, `null` when disabled.
    retry_on: Option<String>,
}

/// A mirror that fires.
#[derive(Debug, Serialize)]
struct MirrorOut {
    /// Where copies go.
    #[serde(flatten)]
    destination: Destination,
    /// Share of requests copied, in percent.
    percent: f64,
}

/// One header operation, in the order they are applied.
#[derive(Debug, Serialize)]
pub(crate) struct HeaderOpOut {
    /// `remove`, `set` or `add`.
    pub(crate) op: &'static str,
    /// The header.
    pub(crate) name: String,
    /// The value; `null` for `remove`.
    pub(crate) value: Option<String>,
}

impl HeaderOpOut {
    /// The operations of `ops`, in order (the sequence the layer applies).
    pub(crate) fn list(ops: OrderedOps<'_>) -> Vec<HeaderOpOut> {
        ops.map(|op| HeaderOpOut {
            op: op.kind(),
            name: op.name().to_string(),
            value: op
                .value()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        })
        .collect()
    }

    /// A `set` the proxy itself makes (CORS headers).
    fn set(name: &str, value: &http::HeaderValue) -> HeaderOpOut {
        HeaderOpOut {
            op: "set",
            name: name.to_owned(),
            value: Some(String::from_utf8_lossy(value.as_bytes()).into_owned()),
        }
    }
}

/// Runs `meshctl route`: prints the decision; returns the exit status.
pub(crate) fn run(args: &Args) -> ExitCode {
    let prepared = match prepare(&args.request) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let report = explain(&prepared.table, &prepared.request, args.sample);
    let mut out = std::io::stdout().lock();
    let written = match args.output {
        Output::Json => serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
        Output::Text => write_text(&mut out, &report),
    };
    if written.is_err() {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

/// `ns/name` of the VirtualService (or Gateway API route) a rule comes from.
fn vs_name(rule: &Rule) -> Option<String> {
    rule.virtual_service
        .as_ref()
        .map(|k| format!("{}/{}", k.namespace, k.name))
}

/// `Kind ns/name` of the resource a rule comes from.
fn resource_name(rule: &Rule) -> Option<String> {
    rule.virtual_service
        .as_ref()
        .map(|k| format!("{} {}/{}", k.kind.as_str(), k.namespace, k.name))
}

/// `None` for an empty string.
fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// The decision as `meshctl route -o json` prints it: what `meshctl test` compares and
/// `meshctl diff` diffs.
pub(crate) fn explain_json(
    table: &RouteTable,
    request: &Request,
    sample: u64,
) -> serde_json::Value {
    serde_json::to_value(explain(table, request, sample)).unwrap_or_default()
}

/// Decides the request and describes the decision.
pub(crate) fn explain(table: &RouteTable, request: &Request, sample: u64) -> Report {
    let mut report = Report {
        request: request.line(),
        sent_path: request.target.clone(),
        proxy: table.identity().to_string(),
        outcome: "rejected",
        reason: None,
        virtual_service: None,
        resource: None,
        rule: None,
        rule_name: None,
        match_index: None,
        not_matched: Vec::new(),
        destination: None,
        weights: None,
        path: None,
        authority: None,
        status: None,
        grpc_status: None,
        grpc_message: None,
        location: None,
        body: None,
        fault: None,
        retries: None,
        timeout: None,
        mirrors: None,
        request_headers: None,
        response_headers: None,
    };
    let view = match request.view() {
        Ok(v) => v,
        Err(_) => {
            report.reason = request.rejection();
            report.status = Some(400);
            return report;
        }
    };
    let decision = table.decide(&view, sample);
    let to = ReplyTo::of(view.method(), view.headers());
    report.outcome = decision.outcome();
    if let Some(m) = decision.matched() {
        let rule = m.rule();
        report.virtual_service = vs_name(rule);
        report.resource = resource_name(rule);
        report.rule = Some(rule.index);
        report.rule_name = non_empty(&rule.name);
        report.match_index = Some(m.entry.match_index);
        report.fault = fault(&rule.fault, to);
    }
    if let Some(reply) = decision.local_reply(to) {
        report.status = Some(reply.status);
        report.grpc_status = reply.grpc_status;
        report.grpc_message = reply.grpc_message.clone();
    }
    let traced = decision.matched().is_some()
        || matches!(decision, Decision::NoRoute(NoRoute::NoRuleMatched));
    if traced {
        report.not_matched = table
            .trace(&view)
            .into_iter()
            .map(|(entry, reason)| not_matched(entry, reason))
            .collect();
    }
    match decision {
        // A CORS preflight the proxy answers itself.
        Decision::Route { rule, .. }
            if rule
                .cors
                .as_ref()
                .is_some_and(|c| c.answers_preflight(&request.method, &request.headers)) =>
        {
            report.outcome = "directResponse";
            report.status = Some(200);
            report.body = Some(String::new());
            report.reason = Some("a CORS preflight: the proxy answers it".to_owned());
            let h: Vec<HeaderOpOut> = rule
                .cors
                .iter()
                .flat_map(|c| c.preflight_headers(&request.headers))
                .map(|(k, v)| HeaderOpOut::set(k.as_str(), &v))
                .collect();
            report.response_headers = Some(h);
        }
        Decision::Route {
            matched,
            rule,
            target,
            ..
        } => {
            report.destination = Destination::of(&decision, &view);
            report.weights = Some(weights(rule, &view, report.destination.clone()));
            report.path = Some(decision.upstream_path(&view).into_owned());
            report.authority = Some(decision.upstream_authority(&view).to_owned());
            report.retries = Some(retries(&rule.retries));
            report.timeout = rule
                .timeout
                .map(|t| mesh_model::Duration::from(t).to_string());
            report.mirrors = Some(
                rule.mirrors
                    .iter()
                    .map(|m| MirrorOut {
                        destination: Destination::new(
                            &m.destination.host,
                            &m.destination.subset,
                            m.destination.port_for(view.port()),
                        ),
                        percent: m.fraction.percent(),
                    })
                    .collect(),
            );
            let dest = target.destination();
            report.request_headers = Some(HeaderOpOut::list(decision.header_ops(Side::Request)));
            let mut response = HeaderOpOut::list(decision.header_ops(Side::Response));
            // CORS headers the proxy adds to the upstream's response, after the rule's.
            if let Some(c) = &rule.cors {
                response.extend(
                    c.response_headers(&request.headers)
                        .into_iter()
                        .map(|(k, v)| HeaderOpOut::set(k.as_str(), &v)),
                );
            }
            report.response_headers = Some(response);
            if matched.is_none() {
                report.reason = Some(format!(
                    "no VirtualService for host {:?}: Istio's default route to the host itself",
                    view.host()
                ));
            } else if let Some(d) = dest.filter(|d| d.subset_labels.is_none()) {
                report.reason = Some(format!(
                    "subset {:?} of {} is not defined by any DestinationRule: Envoy answers 503 (no cluster)",
                    d.subset, d.host
                ));
            }
        }
        Decision::Redirect { matched, .. } => {
            report.location = decision.location(&view);
            report.response_headers = Some(HeaderOpOut::list(decision.header_ops(Side::Response)));
            if matched.is_none() {
                report.reason = Some(
                    "the Gateway server redirects plain HTTP to https (tls.httpsRedirect)".into(),
                );
            }
            report.reason = report.reason.take().or_else(|| aborted_first(&decision));
        }
        Decision::DirectResponse { matched, response } => {
            report.location = decision.location(&view);
            report.body = Some(String::from_utf8_lossy(&response.body).into_owned());
            report.response_headers = Some(HeaderOpOut::list(decision.header_ops(Side::Response)));
            report.reason = aborted_first(&decision);
            let gateway_api = matched
                .rule()
                .virtual_service
                .as_ref()
                .is_some_and(|k| k.kind.is_gateway_api());
            if gateway_api && response.status == 500 && report.reason.is_none() {
                report.reason = Some(
                    "Gateway API: the rule's backend does not resolve (or the rule has no backend with weight, or a filter that cannot run): 500".to_owned(),
                );
            }
        }
        Decision::NoRoute(why) => {
            report.reason = Some(match why {
                NoRoute::NoVirtualHost => format!(
                    "no virtual host for {:?} on port {} at this proxy",
                    view.host(),
                    view.port()
                ),
                NoRoute::NoRuleMatched => {
                    "the host has routes, but none of them matches the request".to_owned()
                }
                NoRoute::BadHost => format!("{:?} is not a valid host name", view.host()),
            });
        }
    }
    report
}

/// An entry that did not match, and why.
fn not_matched(entry: &RouteEntry, reason: String) -> NotMatched {
    NotMatched {
        virtual_service: vs_name(&entry.rule),
        resource: resource_name(&entry.rule),
        rule: entry.rule.index,
        rule_name: non_empty(&entry.rule.name),
        match_index: entry.match_index,
        reason,
    }
}

/// The destinations of the split with their shares; the target alone for a default route.
fn weights(rule: &Rule, view: &RequestView<'_>, chosen: Option<Destination>) -> Vec<Weight> {
    match rule.split() {
        Some(split) if !split.destinations().is_empty() => split
            .destinations()
            .iter()
            .enumerate()
            .map(|(i, d)| Weight {
                destination: Destination::new(&d.host, &d.subset, d.port_for(view.port())),
                weight: split.share(i),
            })
            .collect(),
        // A default route has no split: all traffic goes to the target.
        _ => chosen
            .map(|destination| Weight {
                destination,
                weight: 100.0,
            })
            .into_iter()
            .collect(),
    }
}

/// For a redirect or a direct response whose rule also aborts (a delegate under a root with
/// a fault), that the abort comes first.
fn aborted_first(decision: &Decision<'_>) -> Option<String> {
    let abort = decision.matched()?.rule().fault.abort?;
    Some(format!(
        "the rule's fault aborts {} of requests first (Envoy's fault filter runs before the router); the others get this {}",
        percent(abort.fraction.percent()),
        decision.outcome()
    ))
}

/// The faults, `None` when there are none; `to` describes the request (what an abort
/// answers it).
pub(crate) fn fault(f: &FaultPolicy, to: ReplyTo) -> Option<Fault> {
    if f.is_empty() {
        return None;
    }
    Some(Fault {
        delay: f.delay.map(|d| Delay {
            fixed_delay: mesh_model::Duration::from(d.duration).to_string(),
            percent: d.fraction.percent(),
        }),
        abort: f.abort.map(|a| {
            let (http_status, grpc_status) = match a.kind {
                AbortKind::Http(s) => (Some(s), None),
                AbortKind::Grpc(c) => (
                    None,
                    Some(
                        usize::try_from(c)
                            .ok()
                            .and_then(|i| GRPC_STATUS.get(i))
                            .map_or_else(|| c.to_string(), |n| (*n).to_owned()),
                    ),
                ),
            };
            Abort {
                http_status,
                grpc_status,
                percent: a.fraction.percent(),
                reply: ReplyOut::of(&a.kind.reply(to)),
            }
        }),
    })
}

/// The effective retry policy.
fn retries(r: &RetryPolicy) -> Retries {
    Retries {
        attempts: r.attempts,
        per_try_timeout: r
            .per_try_timeout
            .map(|t| mesh_model::Duration::from(t).to_string()),
        retry_on: (r.attempts > 0)
            .then(|| r.retry_on_display())
            .filter(|s| !s.is_empty()),
    }
}

/// A percentage without float noise: `90`, `33.3333`.
fn percent(p: f64) -> String {
    format!("{}%", (p * 10_000.0).round() / 10_000.0)
}

/// `[Kind ns/name, ]rule I[ "name"], match J`.
fn rule_label(resource: Option<&str>, rule: usize, name: Option<&str>, m: usize) -> String {
    let mut s = String::new();
    if let Some(r) = resource {
        s.push_str(&format!("{r}, "));
    }
    s.push_str(&format!("rule {rule}"));
    if let Some(n) = name {
        s.push_str(&format!(" {n:?}"));
    }
    s.push_str(&format!(", match {m}"));
    s
}

/// `remove k; set k: v; add k: v`, in the order applied.
fn headers_text(ops: &[HeaderOpOut]) -> String {
    ops.iter()
        .map(|o| match &o.value {
            Some(v) => format!("{} {}: {v}", o.op, o.name),
            None => format!("{} {}", o.op, o.name),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The text output: one `label: value` line per fact.
fn write_text(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    const W: usize = 17;
    let mut line = |label: &str, value: &str| {
        let label = if label.is_empty() {
            String::new()
        } else {
            format!("{label}:")
        };
        writeln!(out, "{label:<W$} {value}")
    };
    line("request", &r.request)?;
    line("proxy", &r.proxy)?;
    line("outcome", r.outcome)?;
    if let (Some(rule), Some(m)) = (r.rule, r.match_index) {
        line(
            "matched",
            &rule_label(r.resource.as_deref(), rule, r.rule_name.as_deref(), m),
        )?;
    }
    for (i, n) in r.not_matched.iter().enumerate() {
        // The VirtualService is named when it differs from the matched rule's.
        let vs = n
            .resource
            .as_deref()
            .filter(|v| r.resource.as_deref() != Some(*v));
        let label = rule_label(vs, n.rule, n.rule_name.as_deref(), n.match_index);
        line(
            if i == 0 { "not matched" } else { "" },
            &format!("{label}: {}", n.reason),
        )?;
    }
    if let Some(reason) = &r.reason {
        line("reason", reason)?;
    }
    if let Some(d) = &r.destination {
        let subset = d
            .subset
            .as_ref()
            .map(|s| format!(", subset {s}"))
            .unwrap_or_default();
        line(
            "destination",
            &format!("{}{subset}, port {}", d.host, d.port),
        )?;
    }
    if let Some(ws) = r.weights.as_ref().filter(|w| w.len() > 1) {
        for (i, w) in ws.iter().enumerate() {
            let chosen = if r.destination.as_ref() == Some(&w.destination) {
                "  <- this sample"
            } else {
                ""
            };
            line(
                if i == 0 { "split" } else { "" },
                &format!("{:>9}  {}{chosen}", percent(w.weight), w.destination),
            )?;
        }
    }
    if let Some(p) = &r.path {
        let sent = &r.sent_path;
        if p == sent {
            line("path", p)?;
        } else {
            line("path", &format!("{p}  (sent as {sent})"))?;
        }
    }
    if let Some(a) = &r.authority {
        line("authority", a)?;
    }
    if let Some(s) = r.status {
        line("status", &s.to_string())?;
    }
    if let Some(g) = r.grpc_status {
        let name = usize::try_from(g)
            .ok()
            .and_then(|i| GRPC_STATUS.get(i))
            .copied()
            .unwrap_or("");
        let message = r
            .grpc_message
            .as_deref()
            .map(|m| format!(", grpc-message {m:?}"))
            .unwrap_or_default();
        line("grpc-status", &format!("{g} {name}{message}"))?;
    }
    if let Some(l) = &r.location {
        line("location", l)?;
    }
    if let Some(b) = &r.body {
        line("body", &format!("{b:?}"))?;
    }
    if r.outcome == "route" {
        line("timeout", r.timeout.as_deref().unwrap_or("none"))?;
    }
    if let Some(rt) = &r.retries {
        let text = if rt.attempts == 0 {
            "disabled".to_owned()
        } else {
            format!(
                "{} attempt{} on {}, per-try timeout {}",
                rt.attempts,
                if rt.attempts == 1 { "" } else { "s" },
                rt.retry_on.as_deref().unwrap_or("-"),
                rt.per_try_timeout.as_deref().unwrap_or("none")
            )
        };
        line("retries", &text)?;
    }
    if let Some(f) = &r.fault {
        let mut parts = Vec::new();
        if let Some(d) = &f.delay {
            parts.push(format!(
                "delay {} for {} of requests",
                d.fixed_delay,
                percent(d.percent)
            ));
        }
        if let Some(a) = &f.abort {
            let what = match (&a.http_status, &a.grpc_status) {
                (Some(s), _) => format!("HTTP {s}"),
                (None, Some(g)) => format!("gRPC {g}"),
                (None, None) => String::new(),
            };
            parts.push(format!(
                "abort with {what} for {} of requests",
                percent(a.percent)
            ));
        }
        line("fault", &parts.join("; "))?;
    }
    if let Some(ms) = r.mirrors.as_ref().filter(|m| !m.is_empty()) {
        for (i, m) in ms.iter().enumerate() {
            line(
                if i == 0 { "mirrors" } else { "" },
                &format!("{} of requests to {}", percent(m.percent), m.destination),
            )?;
        }
    }
    if let Some(h) = r.request_headers.as_ref().filter(|h| !h.is_empty()) {
        line("request headers", &headers_text(h))?;
    }
    if let Some(h) = r.response_headers.as_ref().filter(|h| !h.is_empty()) {
        line("response headers", &headers_text(h))?;
    }
    Ok(())
}
