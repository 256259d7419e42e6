//! The engine's answer for a request: what `meshctl route` decides (`RouteTable::decide`
//! and the `Decision`'s functions for the path, authority, header operations, location and
//! local replies), turned into the [`Observation`] a client and the upstreams would see.

use http::{HeaderMap, HeaderName, HeaderValue};
use mesh_match::{PathNormalization, RequestView, normalize_target};
use mesh_route::policy::{LocalReply, ReplyTo};
use mesh_route::{Decision, RouteTable, Side, Target};

use crate::generate::{ID_HEADER, PORT, Request};
use crate::observe::{COMPARED_REQUEST_HEADERS, COMPARED_RESPONSE_HEADERS, Observation, compared};
use crate::translate::cluster_name;

/// Why a request's outcome cannot be predicted exactly (so it is not compared).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unpredictable(pub String);

/// The request's headers as Envoy's codec holds them (inline headers joined), with the id.
pub fn request_headers(req: &Request, id: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in &req.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.append(k, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert(ID_HEADER, v);
    }
    mesh_match::inline::coalesce_request(&mut h);
    h
}

/// Every outcome the engine allows for `req`: one, or one per destination a weighted split
/// may pick (in the split's order).
pub fn predict(
    table: &RouteTable,
    req: &Request,
    id: &str,
) -> Result<Vec<Observation>, Unpredictable> {
    let headers = request_headers(req, id);
    let path = normalize_target(&req.target, PathNormalization::Base)
        .map_err(|e| Unpredictable(format!("path {:?} is rejected ({e})", req.target)))?;
    let view = RequestView::new(&req.method, "http", &req.authority, &path, &headers);
    let first = table.decide(&view, 0);
    let samples: Vec<u64> = match first.rule().and_then(|r| r.split()) {
        Some(split) if split.is_weighted() => (0..split.destinations().len())
            .filter_map(|i| sample_for(split, i))
            .collect(),
        _ => vec![0],
    };
    samples
        .into_iter()
        .map(|s| outcome(&table.decide(&view, s), &view, &headers, req))
        .collect()
}

/// The engine's decision for `req` in a few words, for reports: the outcome, the rule and
/// the destination.
pub fn describe(table: &RouteTable, req: &Request) -> String {
    let headers = request_headers(req, "");
    let Ok(path) = normalize_target(&req.target, PathNormalization::Base) else {
        return "rejected path".into();
    };
    let view = RequestView::new(&req.method, "http", &req.authority, &path, &headers);
    let d = table.decide(&view, 0);
    let mut s = d.outcome().to_owned();
    if let Some(m) = d.matched() {
        let r = m.rule();
        let vs = r
            .virtual_service
            .as_ref()
            .map(|k| k.name.as_str())
            .unwrap_or("-");
        s.push_str(&format!(
            " by {vs} rule {} {:?} match {}",
            r.index, r.name, m.entry.match_index
        ));
        if r.fault.abort.is_some() {
            s.push_str(&format!(" (abort {:?})", r.fault.abort));
        }
    }
    if let Decision::Route { target, .. } = d {
        s.push_str(&format!(" to {}|{}", target.host(), target.subset()));
    }
    s
}

/// A sample that makes `split` pick destination `i`.
fn sample_for(split: &mesh_route::Split, i: usize) -> Option<u64> {
    let total = u128::from(split.total_weight());
    let before: u64 = split.destinations()[..i]
        .iter()
        .map(|d| u64::from(d.weight))
        .sum();
    let s = ((u128::from(before) << 64).div_ceil(total)).min(u128::from(u64::MAX)) as u64;
    (split.pick(s) == i).then_some(s)
}

fn reply_observation(
    reply: &LocalReply<'_>,
    location: Option<&str>,
    ops: Option<mesh_route::policy::OrderedOps<'_>>,
) -> Observation {
    let h = reply.headers(location, ops);
    Observation {
        status: reply.status,
        response_headers: compared(header_pairs(&h), COMPARED_RESPONSE_HEADERS),
        body: Some(String::from_utf8_lossy(&reply.body).into_owned()),
        ..Observation::default()
    }
}

fn header_pairs(h: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    h.iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
}

fn outcome(
    decision: &Decision<'_>,
    view: &RequestView<'_>,
    headers: &HeaderMap,
    req: &Request,
) -> Result<Observation, Unpredictable> {
    let to = ReplyTo::of(&req.method, headers);
    // The local replies of a forwarding rule's requests carry its response operations.
    let route_ops =
        matches!(decision, Decision::Route { .. }).then(|| decision.header_ops(Side::Response));
    if let Some(rule) = decision.rule() {
        if let Some(d) = rule.fault.delay {
            if !d.fraction.is_zero() && d.fraction.percent() < 100.0 {
                return Err(Unpredictable("a delay of a fraction of requests".into()));
            }
        }
        if let Some(a) = rule.fault.abort {
            if a.fraction.percent() >= 100.0 {
                return Ok(reply_observation(&a.kind.reply(to), None, route_ops));
            }
            if !a.fraction.is_zero() {
                return Err(Unpredictable("an abort of a fraction of requests".into()));
            }
        }
    }
    let Decision::Route { rule, target, .. } = *decision else {
        let reply = decision
            .local_reply(to)
            .ok_or_else(|| Unpredictable("no local reply".into()))?;
        let location = decision.location(view);
        return Ok(reply_observation(
            &reply,
            location.as_deref(),
            Some(decision.header_ops(Side::Response)),
        ));
    };
    let port = target.port(PORT);
    let host = target.host();
    if let Target::Destination(d) = target {
        if d.subset_labels.is_none() {
            // No cluster: Envoy's 503 with an empty body (`NC`).
            return Ok(reply_observation(
                &mesh_route::policy::local_reply(503, &[], to, None),
                None,
                route_ops,
            ));
        }
    }
    let cluster = cluster_name(target.subset(), &host, port);
    let status = req
        .headers
        .iter()
        .rev()
        .find(|(k, _)| k == envoy_harness::STATUS_HEADER)
        .and_then(|(_, v)| v.parse::<u16>().ok())
        .filter(|s| (200..=599).contains(s))
        .unwrap_or(200);
    let retried = rule.retries.attempts > 0 && rule.retries.retries_response(status, None);
    let attempts = if retried {
        1 + rule.retries.attempts as usize
    } else {
        1
    };
    let mut up = headers.clone();
    decision.header_ops(Side::Request).apply(&mut up);
    // The upstream's answer is that of the last attempt.
    up.insert("x-envoy-attempt-count", HeaderValue::from(attempts));
    let mut resp = HeaderMap::new();
    resp.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&cluster) {
        resp.insert("x-upstream", v);
    }
    decision.header_ops(Side::Response).apply(&mut resp);
    let mut copies = std::collections::BTreeMap::new();
    copies.insert(cluster.clone(), attempts);
    for m in &rule.mirrors {
        if m.fraction.percent() < 100.0 {
            return Err(Unpredictable("a mirror of a fraction of requests".into()));
        }
        let d = &m.destination;
        *copies
            .entry(cluster_name(&d.subset, &d.host, d.port_for(PORT)))
            .or_insert(0) += 1;
    }
    Ok(Observation {
        status,
        cluster: Some(cluster),
        upstream_target: Some(decision.upstream_path(view).into_owned()),
        upstream_authority: Some(decision.upstream_authority(view).to_owned()),
        upstream_headers: compared(header_pairs(&up), COMPARED_REQUEST_HEADERS),
        response_headers: compared(header_pairs(&resp), COMPARED_RESPONSE_HEADERS),
        body: None,
        copies,
    })
}
