use super::*;
use crate::{CompileOptions, Decision, Identity, Target};
use mesh_match::{PathNormalization, RequestView, normalize_target};
use mesh_model::rollout::DestinationRef;
use mesh_model::{Duration, Percent};
use proptest::prelude::*;

fn spec(step_weight: u32, max_weight: u32) -> Rollout {
    Rollout {
        stable: DestinationRef {
            host: "shop".into(),
            subset: "v1".into(),
        },
        canary: DestinationRef {
            host: "shop".into(),
            subset: "v2".into(),
        },
        step_weight,
        max_weight,
        interval: Duration::from_secs(30),
        min_requests: 50,
        success_rate: Percent::new(99.0),
        max_latency: Some(Duration::from_millis(500)),
    }
}

fn stats(requests: u64, failures: u64, p99_ms: u64) -> IntervalStats {
    IntervalStats {
        requests,
        failures,
        p99: Some(std::time::Duration::from_millis(p99_ms)),
    }
}

const HEALTHY: IntervalStats = IntervalStats {
    requests: 100,
    failures: 0,
    p99: Some(std::time::Duration::from_millis(10)),
};

/// A healthy interval adds `stepWeight`; reaching `maxWeight` is `Promoted`, after exactly
/// `maxWeight / stepWeight` intervals from weight 0 (the first unjudged: a canary at 0 gets
/// no traffic).
#[test]
fn healthy_intervals_step_up_to_promotion() {
    let s = spec(10, 100);
    let mut at = start(&s, 0);
    assert_eq!((at.weight, at.state), (0, State::Progressing));
    let mut intervals = 0;
    while at.state != State::Promoted {
        at = step(&s, at.weight, at.state, &HEALTHY);
        intervals += 1;
        assert!(intervals <= 10, "{at:?}");
    }
    assert_eq!(intervals, 10);
    assert_eq!(at.weight, 100);
}

/// A `maxWeight` that is not a multiple of `stepWeight` caps the last step.
#[test]
fn last_step_is_capped_at_max_weight() {
    let s = spec(30, 50);
    let at = step(&s, 30, State::Progressing, &HEALTHY);
    assert_eq!((at.weight, at.state), (50, State::Promoted));
}

/// The rollout starts at the written weight; one at or over `maxWeight` is promoted at once.
#[test]
fn starts_at_the_written_weight() {
    assert_eq!(start(&spec(10, 100), 20).weight, 20);
    let s = start(&spec(10, 50), 60);
    assert_eq!((s.weight, s.state), (50, State::Promoted));
}

/// Fewer canary requests than `minRequests` is neither a step nor a breach, even when they
/// all failed: the weight stays and the state says why.
#[test]
fn too_little_traffic_waits() {
    let s = spec(10, 100);
    let at = step(&s, 20, State::Progressing, &stats(49, 49, 9000));
    assert_eq!((at.weight, at.state), (20, State::WaitingForTraffic));
    assert_eq!(at.verdict, Verdict::TooFewRequests { requests: 49 });
    // And the next interval with enough traffic steps again.
    let at = step(&s, at.weight, at.state, &HEALTHY);
    assert_eq!((at.weight, at.state), (30, State::Progressing));
}

/// A success rate under `successRate` (5xx or local failures) sets the canary to 0 and
/// stops the rollout; exactly at the threshold is healthy.
#[test]
fn failure_rate_breach_rolls_back() {
    let s = spec(10, 100);
    let at = step(&s, 40, State::Progressing, &stats(100, 1, 10));
    assert_eq!(
        (at.weight, at.state),
        (50, State::Progressing),
        "99% is enough"
    );
    let at = step(&s, 40, State::Progressing, &stats(100, 2, 10));
    assert_eq!((at.weight, at.state), (0, State::RolledBack));
    assert_eq!(at.verdict, Verdict::SuccessRate { percent: 98.0 });
}

/// An interval of `n` requests tolerates `floor(n * (100 - successRate) / 100)` failures:
/// 50 requests at `successRate: 99` tolerate none, 100 tolerate one (README's bound).
#[test]
fn an_interval_tolerates_its_share_of_failures_only() {
    let s = spec(10, 100);
    let at = step(&s, 40, State::Progressing, &stats(50, 1, 10));
    assert_eq!(at.state, State::RolledBack);
    let at = step(&s, 40, State::Progressing, &stats(100, 1, 10));
    assert_eq!(at.state, State::Progressing);
}

/// A p99 over `maxLatency` rolls back; equal to it is healthy; no `maxLatency`, no judgement.
#[test]
fn latency_breach_rolls_back() {
    let s = spec(10, 100);
    let at = step(&s, 40, State::Progressing, &stats(100, 0, 500));
    assert_eq!(at.state, State::Progressing);
    let at = step(&s, 40, State::Progressing, &stats(100, 0, 501));
    assert_eq!((at.weight, at.state), (0, State::RolledBack));
    let unjudged = Rollout {
        max_latency: None,
        ..spec(10, 100)
    };
    let at = step(&unjudged, 40, State::Progressing, &stats(100, 0, 60_000));
    assert_eq!(at.state, State::Progressing);
}

/// Promoted and rolled back are final: nothing moves them.
#[test]
fn final_states_do_not_move() {
    let s = spec(10, 100);
    let at = step(&s, 0, State::RolledBack, &HEALTHY);
    assert_eq!((at.weight, at.state), (0, State::RolledBack));
    let at = step(&s, 100, State::Promoted, &stats(100, 100, 9000));
    assert_eq!((at.weight, at.state), (100, State::Promoted));
}

fn any_stats() -> impl Strategy<Value = IntervalStats> {
    (0u64..200, 0u64..250, proptest::option::of(0u64..1000)).prop_map(|(r, f, p)| IntervalStats {
        requests: r,
        failures: f,
        p99: p.map(std::time::Duration::from_millis),
    })
}

proptest! {
    /// Whatever the intervals: the weight stays in `0..=maxWeight`, it never shrinks but to
    /// 0 on a rollback, a rollback is final at 0, a promotion final at `maxWeight`, and
    /// waiting keeps the weight.
    #[test]
    fn weights_stay_bounded_and_monotone_while_healthy(
        step_weight in 1u32..=100,
        max_weight in 1u32..=100,
        written in 0u32..=100,
        intervals in proptest::collection::vec(any_stats(), 0..40),
    ) {
        let s = spec(step_weight, max_weight);
        let mut at = start(&s, written);
        prop_assert!(at.weight <= max_weight);
        for st in &intervals {
            let next = step(&s, at.weight, at.state, st);
            prop_assert!(next.weight <= max_weight);
            match next.state {
                State::RolledBack => prop_assert_eq!(next.weight, 0),
                State::Promoted => prop_assert_eq!(next.weight, max_weight),
                State::WaitingForTraffic => prop_assert_eq!(next.weight, at.weight),
                State::Progressing => prop_assert!(next.weight > at.weight),
            }
            if at.state.is_final() {
                prop_assert_eq!((next.weight, next.state), (at.weight, at.state));
            }
            at = next;
        }
    }

    /// The stable destination gets the rest of the pair's written weight; other
    /// destinations keep theirs; the split's total never changes.
    #[test]
    fn stable_gets_the_rest(weight in 0u32..=120) {
        let table = compile(SHOP);
        let site = &table.rollouts()[0];
        let w = site.weighted(weight);
        prop_assert_eq!(w[site.canary].weight, weight.min(100));
        prop_assert_eq!(w[site.stable].weight + w[site.canary].weight, 100);
        prop_assert_eq!(w.iter().map(|d| d.weight).sum::<u32>(), 100);
    }
}

const SHOP: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
  namespace: demo
  annotations:
    mesh-route.dev/sticky-split: header:x-user
    mesh-route.dev/rollout: |
      stable: {host: shop, subset: v1}
      canary: {host: shop, subset: v2}
      stepWeight: 10
      interval: 1s
spec:
  hosts: [shop]
  http:
  - name: split
    route:
    - destination: {host: shop, subset: v1}
      weight: 100
    - destination: {host: shop, subset: v2}
      weight: 0
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop, namespace: demo}
spec:
  host: shop
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
"#;

fn compile(yaml: &str) -> RouteTable {
    let resources = mesh_model::load_str(yaml).expect("loads");
    RouteTable::compile(
        &resources,
        &Identity::sidecar("demo"),
        &CompileOptions::default(),
    )
    .expect("compiles")
}

fn subset_for(table: &RouteTable, user: &str) -> String {
    let mut headers = http::HeaderMap::new();
    headers.insert("x-user", user.parse().expect("header"));
    let path = normalize_target("/", PathNormalization::Base).expect("path");
    let view = RequestView::new("GET", "http", "shop", &path, &headers);
    match table.decide(&view, 0) {
        Decision::Route {
            target: Target::Destination(d),
            ..
        } => d.subset.clone(),
        other => panic!("{other:?}"),
    }
}

/// The compiled table knows the rule its rollout steps, with the written destinations
/// (the canary's weight 0 included, which the split itself drops).
#[test]
fn the_table_lists_the_stepped_rule() {
    let table = compile(SHOP);
    let [site] = table.rollouts() else {
        panic!("{:?}", table.rollouts())
    };
    assert_eq!(site.index, 0);
    assert_eq!(site.canary().host, "shop.demo.svc.cluster.local");
    assert_eq!(site.canary().subset, "v2");
    assert_eq!(site.written_weight(), 0);
    assert_eq!(site.stable().weight, 100);
    assert_eq!(site.names.rule.as_ref(), "split");
}

/// A table derived with canary weights splits with them; everything else is the same.
#[test]
fn derived_table_splits_with_the_canary_weight() {
    let table = compile(SHOP);
    let rule = |t: &RouteTable| t.virtual_hosts()[0].entries[0].rule.clone();
    let written = rule(&table);
    assert_eq!(written.split().expect("split").destinations().len(), 1);
    let derived = table.with_canary_weights(&[30]);
    let r = rule(&derived);
    let split = r.split().expect("split");
    assert_eq!(split.share(1), 30.0);
    assert_eq!(split.destinations()[1].subset, "v2");
    assert_eq!(r.names, written.names);
    assert_eq!(r.sticky, written.sticky);
    // Back to 0: the canary leaves the split again.
    let r = rule(&table.with_canary_weights(&[0]));
    assert_eq!(r.split().expect("split").destinations().len(), 1);
}

/// With a sticky split, a user on the canary stays there while the canary's weight grows:
/// the canary's share of the samples only widens.
#[test]
fn sticky_users_stay_on_the_growing_canary() {
    let table = compile(SHOP);
    let users: Vec<String> = (0..300).map(|i| format!("user-{i}")).collect();
    let mut on_canary = vec![false; users.len()];
    for weight in (0..=100).step_by(10) {
        let derived = table.with_canary_weights(&[weight]);
        let mut count = 0;
        for (i, u) in users.iter().enumerate() {
            let canary = subset_for(&derived, u) == "v2";
            assert!(
                !on_canary[i] || canary,
                "{u} left the canary at weight {weight}"
            );
            on_canary[i] = canary;
            count += usize::from(canary);
        }
        // The shares still follow the weights (roughly: 300 users).
        let expected = users.len() * weight as usize / 100;
        assert!(count.abs_diff(expected) <= 45, "{count} vs {expected}");
    }
    assert!(on_canary.iter().all(|c| *c));
}

/// A reload that leaves the rule and the annotation as they were is the same rollout; a
/// change to either is another.
#[test]
fn same_rollout_across_an_unrelated_reload_only() {
    let a = compile(SHOP);
    let unrelated = compile(&format!(
        "{SHOP}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: other, namespace: demo}}\nspec:\n  hosts: [other]\n  http:\n  - route:\n    - destination: {{host: other}}\n"
    ));
    assert!(a.rollouts()[0].same_as(&unrelated.rollouts()[0]));
    let step_changed = compile(&SHOP.replace("stepWeight: 10", "stepWeight: 20"));
    assert!(!a.rollouts()[0].same_as(&step_changed.rollouts()[0]));
    let rule_changed = compile(
        &SHOP
            .replace("weight: 0", "weight: 10")
            .replace("weight: 100", "weight: 90"),
    );
    assert!(!a.rollouts()[0].same_as(&rule_changed.rollouts()[0]));
}

/// A rule with a third destination: the rollout moves weight between the stable and the
/// canary destination only; the third keeps its written weight.
#[test]
fn other_destinations_keep_their_weight() {
    let yaml = SHOP
        .replace(
            "      interval: 1s",
            "      interval: 1s\n      maxWeight: 50",
        )
        .replace("      weight: 100", "      weight: 40")
        .replace(
            "      weight: 0\n",
            "      weight: 10\n    - destination: {host: shop, subset: v3}\n      weight: 50\n",
        )
        .replace(
            "  - {name: v2, labels: {version: v2}}",
            "  - {name: v2, labels: {version: v2}}\n  - {name: v3, labels: {version: v3}}",
        );
    let table = compile(&yaml);
    let site = &table.rollouts()[0];
    let weights: Vec<u32> = site.weighted(30).iter().map(|d| d.weight).collect();
    assert_eq!(weights, [20, 30, 50]);
    let weights: Vec<u32> = site.weighted(50).iter().map(|d| d.weight).collect();
    assert_eq!(weights, [0, 50, 50]);
}
