//! Helpers shared by the fuzz targets: deciding a request on a compiled table, reading
//! everything a proxy reads off the decision, and checking the properties that hold for
//! every decision.
#![forbid(unsafe_code)]

use mesh_match::RequestView;
use mesh_route::{Decision, RouteTable, Target};

/// Everything observable about one decision, comparable across runs (determinism).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `route`, `redirect`, `directResponse` or `noRoute`.
    pub outcome: &'static str,
    /// The virtual host's name and the index of the entry that matched.
    pub matched: Option<(String, usize)>,
    /// Rule index in its VirtualService.
    pub rule: Option<usize>,
    /// Target host, subset and port, and the split index.
    pub target: Option<(String, String, u16, usize)>,
    /// The path and query sent upstream.
    pub upstream_path: String,
    /// The authority sent upstream.
    pub upstream_authority: String,
    /// A redirect's `Location`.
    pub location: Option<String>,
    /// The trace: one line per entry that did not match.
    pub trace: Vec<String>,
}

/// Decides `view` on `table` with `sample`, reads every derived value, and asserts the
/// properties every decision has:
///
/// - a forwarded request's split index is within the rule's destinations, and the target is
///   that destination;
/// - without a sticky key, a weighted split's index is the one the cumulative weights give
///   for `sample` (Envoy's weighted-cluster selection);
/// - the trace lists exactly the entries before the one that matched (all of them when
///   none did), so `decide` and `trace` agree on which entry matches.
pub fn decide_and_check(table: &RouteTable, view: &RequestView<'_>, sample: u64) -> Outcome {
    let decision = table.decide(view, sample);
    let trace = table.trace(view);

    let mut target = None;
    if let Decision::Route {
        rule,
        target: t,
        index,
        matched,
    } = decision
    {
        let host = t.host().into_owned();
        let port = t.port(view.port());
        match t {
            Target::Destination(d) => {
                let split = rule
                    .split()
                    .expect("a rule that forwards to a destination has a split");
                let dests = split.destinations();
                assert!(
                    index < dests.len(),
                    "split index {index} out of {} destinations",
                    dests.len()
                );
                assert!(
                    std::ptr::eq(d, &dests[index]),
                    "the target is not the destination at the split index"
                );
                if split.is_weighted() && rule.sticky.is_none() {
                    let total: u64 = dests.iter().map(|d| u64::from(d.weight)).sum();
                    assert_eq!(total, split.total_weight());
                    let r = ((u128::from(sample) * u128::from(total)) >> 64) as u64;
                    let mut below = 0u64;
                    for (i, d) in dests.iter().enumerate() {
                        let upto = below + u64::from(d.weight);
                        if i == index {
                            assert!(
                                below <= r && r < upto,
                                "sample {sample} (r={r}) picked {index}, covering [{below},{upto})"
                            );
                        }
                        below = upto;
                    }
                    let share: f64 = (0..dests.len()).map(|i| split.share(i)).sum();
                    assert!((share - 100.0).abs() < 1e-6, "shares add up to {share}");
                }
                assert!(
                    matched.is_some(),
                    "a destination route without a matched rule"
                );
            }
            Target::Passthrough { .. } => {
                assert_eq!(index, 0);
                assert!(matched.is_none());
            }
        }
        let _ = t.subset();
        let _ = t.destination().map(|d| d.traffic_policy(view.port()));
        target = Some((host, t.subset().to_owned(), port, index));
    }

    let matched = decision.matched().map(|m| {
        let position = m
            .vhost
            .entries
            .iter()
            .position(|e| std::ptr::eq(e, m.entry))
            .expect("the matched entry belongs to its virtual host");
        assert_eq!(
            trace.len(),
            position,
            "trace and decide disagree on the first matching entry"
        );
        (m.vhost.name.clone(), position)
    });
    if let Decision::NoRoute(mesh_route::NoRoute::NoRuleMatched) = decision {
        if let Ok(Some(vhost)) = table.virtual_host(view) {
            assert_eq!(
                trace.len(),
                vhost.entries.len(),
                "no rule matched, yet the trace stops early"
            );
        }
    }

    let upstream_path = decision.upstream_path(view).into_owned();
    let upstream_authority = decision.upstream_authority(view).to_owned();
    let location = decision.location(view);
    if let Decision::Redirect { .. } = decision {
        assert!(location.is_some(), "a redirect without a Location");
    }
    Outcome {
        outcome: decision.outcome(),
        matched,
        rule: decision.rule().map(|r| r.index),
        target,
        upstream_path,
        upstream_authority,
        location,
        trace: trace.into_iter().map(|(_, s)| s).collect(),
    }
}
