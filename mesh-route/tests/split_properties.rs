//! Properties of weighted splits (SPEC 2.4) and of the opt-in sticky split.

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderValue};
use mesh_match::RequestView;
use mesh_route::{CompileOptions, Decision, Identity, RouteDestination, RouteTable, Split};
use proptest::prelude::*;

fn dest(i: usize, weight: u32) -> RouteDestination {
    RouteDestination {
        host: format!("d{i}.default.svc.cluster.local"),
        subset: String::new(),
        port: None,
        weight,
        headers: Default::default(),
        subset_labels: Some(BTreeMap::new()),
        destination_rule: None,
        policy: Default::default(),
        unresolved: None,
    }
}

/// SplitMix64: a small, well-known generator for uniform `u64` samples.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// 1 to 6 weights in 0..1000, at least one non-zero when there are several.
fn weights() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(0u32..1000, 1..=6).prop_filter("a split needs a non-zero weight", |w| {
        w.len() == 1 || w.iter().any(|x| *x > 0)
    })
}

/// The share each original destination should get: weight over the sum, or everything for a
/// lone destination.
fn expected_shares(w: &[u32]) -> Vec<f64> {
    if w.len() == 1 {
        return vec![1.0];
    }
    let total: u32 = w.iter().sum();
    w.iter().map(|x| f64::from(*x) / f64::from(total)).collect()
}

/// Which original destination (by its host `d<i>`) a pick landed on.
fn original_index(split: &Split, picked: usize) -> usize {
    let host = &split.destinations()[picked].host;
    host[1..host.find('.').unwrap()].parse().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Observed shares over random samples converge to weight / sum of weights (within 2.5
    /// points over 20 000 draws, about seven standard deviations); zero-weight destinations
    /// of a multi-destination split get nothing; a lone destination gets everything,
    /// whatever its weight.
    #[test]
    fn observed_shares_converge_to_the_weights(w in weights(), seed in any::<u64>()) {
        let split = Split::new(w.iter().enumerate().map(|(i, x)| dest(i, *x)).collect());
        const N: usize = 20_000;
        let mut counts = vec![0usize; w.len()];
        let mut rng = SplitMix(seed);
        for _ in 0..N {
            let picked = split.pick(rng.next());
            prop_assert!(picked < split.destinations().len());
            counts[original_index(&split, picked)] += 1;
        }
        let want = expected_shares(&w);
        for (i, c) in counts.iter().enumerate() {
            let got = *c as f64 / N as f64;
            prop_assert!((got - want[i]).abs() < 0.025, "dest {} got {} want {} (weights {:?})", i, got, want[i], w);
            if w.len() > 1 && w[i] == 0 {
                prop_assert_eq!(*c, 0, "a zero-weight destination got traffic");
            }
        }
        // The reported share agrees with the weights too.
        for i in 0..split.destinations().len() {
            let o = original_index(&split, i);
            prop_assert!((split.share(i) / 100.0 - want[o]).abs() < 1e-9);
        }
    }

    /// Over evenly spaced samples the shares are exact to within one sample per
    /// destination: the pick is a partition of the sample space by cumulative weight.
    #[test]
    fn evenly_spaced_samples_give_exact_shares(w in weights()) {
        let split = Split::new(w.iter().enumerate().map(|(i, x)| dest(i, *x)).collect());
        const N: u64 = 4_096;
        let mut counts = vec![0u64; w.len()];
        for k in 0..N {
            let sample = k * (u64::MAX / N);
            counts[original_index(&split, split.pick(sample))] += 1;
        }
        let want = expected_shares(&w);
        for (i, c) in counts.iter().enumerate() {
            let got = *c as f64 / N as f64;
            prop_assert!((got - want[i]).abs() <= 1.5 / N as f64 + 1e-9, "dest {} got {} want {}", i, got, want[i]);
        }
    }

    /// `Split::pick` is monotonic in the sample: a larger sample never picks an earlier
    /// destination; the smallest sample picks the first and the largest the last.
    #[test]
    fn pick_is_monotonic_in_the_sample(w in weights(), mut samples in prop::collection::vec(any::<u64>(), 2..64)) {
        let split = Split::new(w.iter().enumerate().map(|(i, x)| dest(i, *x)).collect());
        samples.push(0);
        samples.push(u64::MAX);
        samples.sort_unstable();
        let picks: Vec<usize> = samples.iter().map(|s| split.pick(*s)).collect();
        for pair in picks.windows(2) {
            prop_assert!(pair[0] <= pair[1], "{:?} over {:?}", picks, samples);
        }
        prop_assert_eq!(picks[0], 0);
        prop_assert_eq!(*picks.last().unwrap(), split.destinations().len() - 1);
    }
}

/// One destination takes all traffic whatever its weight, even 0 (SPEC 2.4).
#[test]
fn a_lone_destination_takes_everything_even_with_weight_zero() {
    let split = Split::new(vec![dest(0, 0)]);
    assert!(!split.is_weighted());
    assert_eq!(split.destinations().len(), 1);
    for s in [0, 1, u64::MAX / 2, u64::MAX] {
        assert_eq!(split.pick(s), 0);
    }
    assert_eq!(split.share(0), 100.0);
}

/// With several destinations, zero-weight ones are dropped from the weighted clusters,
/// even when only one non-zero destination remains.
#[test]
fn zero_weight_destinations_are_dropped_from_a_split() {
    let split = Split::new(vec![dest(0, 0), dest(1, 7), dest(2, 0)]);
    assert!(split.is_weighted());
    assert_eq!(split.destinations().len(), 1);
    assert_eq!(split.destinations()[0].host, "d1.default.svc.cluster.local");
    assert_eq!(split.total_weight(), 7);
}

// ---------------------------------------------------------------------------------------
// Sticky splits.
// ---------------------------------------------------------------------------------------

fn sticky_yaml(weights: &[u32]) -> String {
    let mut routes = String::new();
    for (i, w) in weights.iter().enumerate() {
        routes.push_str(&format!(
            "    - destination: {{host: reviews, subset: v{i}}}\n      weight: {w}\n"
        ));
    }
    format!(
        r#"apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: default
  annotations:
    mesh-route.dev/sticky-split: "header:x-user"
spec:
  hosts: [reviews]
  http:
  - route:
{routes}"#
    )
}

/// Compiles the configuration from its text, as a separate process would.
fn compile(yaml: &str) -> RouteTable {
    let resources = mesh_model::load_str(yaml).unwrap();
    RouteTable::compile(
        &resources,
        &Identity::sidecar("default"),
        &CompileOptions::default(),
    )
    .unwrap()
}

fn subset_for(table: &RouteTable, user: Option<&str>, sample: u64) -> String {
    let mut headers = HeaderMap::new();
    if let Some(u) = user {
        headers.insert("x-user", HeaderValue::from_str(u).unwrap());
    }
    let view = RequestView::new("GET", "http", "reviews", "/", &headers);
    match table.decide(&view, sample) {
        Decision::Route { target, .. } => target.subset().to_owned(),
        other => panic!("{other:?}"),
    }
}

fn sticky_weights() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(1u32..100, 2..=4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The same key always gets the same destination, whatever the random sample, and two
    /// tables compiled separately from the same text agree (as two processes would).
    #[test]
    fn the_same_key_always_gets_the_same_destination(
        w in sticky_weights(),
        users in prop::collection::vec("[a-zA-Z0-9@._-]{1,24}", 1..40),
        samples in prop::collection::vec(any::<u64>(), 4),
    ) {
        let yaml = sticky_yaml(&w);
        let a = compile(&yaml);
        let b = compile(&yaml);
        for u in &users {
            let first = subset_for(&a, Some(u), samples[0]);
            for s in &samples {
                prop_assert_eq!(&subset_for(&a, Some(u), *s), &first, "user {}", u);
                prop_assert_eq!(&subset_for(&b, Some(u), *s), &first, "user {} across tables", u);
            }
        }
    }

    /// Many distinct keys spread over the destinations by weight (within 4 points over
    /// 3 000 keys).
    #[test]
    fn distinct_keys_spread_by_weight(w in sticky_weights(), salt in "[a-z]{0,6}") {
        let table = compile(&sticky_yaml(&w));
        const N: usize = 3_000;
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for i in 0..N {
            *counts.entry(subset_for(&table, Some(&format!("{salt}user-{i}")), 0)).or_default() += 1;
        }
        let total: u32 = w.iter().sum();
        for (i, wi) in w.iter().enumerate() {
            let got = *counts.get(&format!("v{i}")).unwrap_or(&0) as f64 / N as f64;
            let want = f64::from(*wi) / f64::from(total);
            prop_assert!((got - want).abs() < 0.04, "v{} got {} want {} ({:?})", i, got, want, counts);
        }
    }

    /// A request without the key is split by the random sample, exactly as the split itself
    /// picks.
    #[test]
    fn requests_without_the_key_fall_back_to_the_sample(
        w in sticky_weights(),
        samples in prop::collection::vec(any::<u64>(), 32),
    ) {
        let table = compile(&sticky_yaml(&w));
        let headers = HeaderMap::new();
        let view = RequestView::new("GET", "http", "reviews", "/", &headers);
        for s in samples {
            let Decision::Route { rule, index, target, .. } = table.decide(&view, s) else {
                panic!("not routed");
            };
            let split = rule.split().unwrap();
            prop_assert_eq!(index, split.pick(s));
            prop_assert_eq!(target.subset(), format!("v{}", split.pick(s)));
        }
    }
}

/// A malformed sticky annotation refuses compilation instead of being ignored.
#[test]
fn a_malformed_sticky_annotation_is_a_compile_error() {
    let yaml = sticky_yaml(&[50, 50]).replace("header:x-user", "headers:x-user");
    let resources = mesh_model::load_str(&yaml).unwrap();
    let err = RouteTable::compile(
        &resources,
        &Identity::sidecar("default"),
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("sticky"), "{err}");
}

/// The subset a request carrying `key` (in the form the annotation names) gets.
fn subset_by(table: &RouteTable, kind: &str, key: &str, sample: u64) -> String {
    let mut headers = HeaderMap::new();
    let mut path = "/".to_owned();
    let mut ip = None;
    match kind {
        "query:user" => path = format!("/?a=1&user={key}"),
        "cookie:user" => {
            headers.insert(
                "cookie",
                HeaderValue::from_str(&format!("a=b; user={key}")).unwrap(),
            );
        }
        "source-ip" => {
            let n: u32 = key.parse().unwrap();
            ip = Some(std::net::IpAddr::from(std::net::Ipv4Addr::from(
                0x0a00_0000 | n,
            )));
        }
        other => panic!("{other}"),
    }
    let mut view = RequestView::new("GET", "http", "reviews", &path, &headers);
    if let Some(ip) = ip {
        view = view.with_remote_ip(ip);
    }
    match table.decide(&view, sample) {
        Decision::Route { target, .. } => target.subset().to_owned(),
        other => panic!("{other:?}"),
    }
}

/// Sticky splits keyed by a query parameter, a cookie and the source IP: the same key gets
/// the same destination whatever the sample, and 2 000 distinct keys spread over a 50/50
/// split within 40-60 % (a key that became a constant would send every user one way).
#[test]
fn sticky_splits_by_query_cookie_and_source_ip_keep_users_and_spread_them() {
    for kind in ["query:user", "cookie:user", "source-ip"] {
        let table = compile(&sticky_yaml(&[50, 50]).replace("header:x-user", kind));
        let mut on_v0 = 0;
        for i in 0..2_000u32 {
            let key = i.to_string();
            let first = subset_by(&table, kind, &key, 0);
            for sample in [u64::MAX, 1 << 63, 12_345] {
                assert_eq!(
                    subset_by(&table, kind, &key, sample),
                    first,
                    "{kind} key {key}"
                );
            }
            on_v0 += usize::from(first == "v0");
        }
        assert!(
            (800..=1_200).contains(&on_v0),
            "{kind}: {on_v0} of 2000 keys on v0"
        );
    }
}
