//! Automated canaries (`mesh-route.dev/rollout`) executed by the layer, on tokio's paused
//! clock: steps on healthy intervals, rollback within one interval of a breach, waiting on
//! too little traffic, sticky users kept on a growing canary, state across reloads, and the
//! metrics, state and callbacks that report them.

mod common;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use http::StatusCode;
use mesh_route::rollout::State;
use mesh_tower::rollout::RolloutEvent;
use mesh_tower::{Backends, MeshHandle, MeshLayer, Options};

const INTERVAL: Duration = Duration::from_secs(10);
const CANARY: &str = "outbound|80|v2|shop.default.svc.cluster.local";
const STABLE: &str = "outbound|80|v1|shop.default.svc.cluster.local";

/// The canary answers 200 (`OK`), 500 (`FAIL`) or 200 after 800 ms (`SLOW`).
const OK: u8 = 0;
const FAIL: u8 = 1;
const SLOW: u8 = 2;

fn yaml(annotation: &str, canary_weight: u32) -> String {
    let indented: String = annotation.lines().map(|l| format!("      {l}\n")).collect();
    format!(
        r#"apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
  annotations:
    mesh-route.dev/sticky-split: header:x-user
    mesh-route.dev/rollout: |
{indented}spec:
  hosts: [shop]
  http:
  - name: split
    route:
    - destination: {{host: shop, subset: v1, port: {{number: 80}}}}
      weight: {}
    - destination: {{host: shop, subset: v2, port: {{number: 80}}}}
      weight: {canary_weight}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: shop}}
spec:
  host: shop
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
"#,
        100 - canary_weight
    )
}

const SPEC: &str = "stable: {host: shop, subset: v1}
canary: {host: shop, subset: v2}
stepWeight: 25
interval: 10s
minRequests: 20
successRate: 99
maxLatency: 500ms";

struct Setup {
    svc: Mesh,
    handle: MeshHandle,
    mode: Arc<AtomicU8>,
    events: Arc<Mutex<Vec<RolloutEvent>>>,
}

fn setup(spec: &str, canary_weight: u32) -> Setup {
    let mode = Arc::new(AtomicU8::new(OK));
    let m = mode.clone();
    let v2 = Backend::with("v2", move |_, _| match m.load(Ordering::SeqCst) {
        FAIL => Outcome::Status(StatusCode::INTERNAL_SERVER_ERROR, "v2".into()),
        SLOW => Outcome::After(Duration::from_millis(800), StatusCode::OK, "v2".into()),
        _ => Outcome::Status(StatusCode::OK, "v2".into()),
    });
    let host = fqdn("shop");
    let backends = Backends::new()
        .with(
            &host,
            Backend::ok("v1").endpoint("shop-v1", [("version", "v1")]),
        )
        .with(&host, v2.endpoint("shop-v2", [("version", "v2")]));
    let layer = MeshLayer::with_options(
        table(&yaml(spec, canary_weight), sidecar()),
        backends,
        Options {
            seed: Some(7),
            ..Options::default()
        },
    );
    let handle = layer.handle();
    let events = Arc::new(Mutex::new(Vec::new()));
    let e = events.clone();
    handle.on_rollout(move |ev| e.lock().expect("not poisoned").push(ev.clone()));
    Setup {
        svc: mesh(layer),
        handle,
        mode,
        events,
    }
}

impl Setup {
    /// Sends `n` requests at once (user `i` for request `i`); the bodies (`v1`, `v2`) by user.
    async fn traffic(&self, n: usize) -> Vec<String> {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            let req = get_with("http://shop/", &[("x-user", &format!("user-{i}"))]);
            let call = send(&self.svc, req);
            set.spawn(async move { (i, call.await) });
        }
        let mut out = vec![String::new(); n];
        while let Some(done) = set.join_next().await {
            let (i, r) = done.expect("the request task ends");
            out[i] = r.body;
        }
        out
    }

    fn status(&self) -> (u32, State) {
        let s = &self.handle.rollouts()[0];
        (s.weight, s.state)
    }

    fn metric_weight(&self, destination: &str) -> i64 {
        self.handle
            .metrics()
            .rollout()
            .weight("default/shop", "split", destination)
    }
}

/// Lets an interval pass: the test's requests run mid-interval, the driver steps at its end.
async fn next_interval() {
    tokio::time::sleep(INTERVAL).await;
}

/// Starting between two interval ends, so that the test never races the driver.
async fn mid_interval() {
    tokio::time::sleep(INTERVAL / 2).await;
}

/// From weight 0, a healthy canary is promoted in exactly `maxWeight / stepWeight` = 4
/// intervals (the first unjudged: a canary at 0 gets no traffic), one step per interval;
/// the weights show in `mesh_rollout_weight` (stable gets the rest), the state in
/// `mesh_rollout_state`, every step in the callback and `mesh_rollout_transitions_total`;
/// all traffic then goes to the canary.
#[tokio::test(start_paused = true)]
async fn a_healthy_canary_is_promoted_in_max_over_step_intervals() {
    let s = setup(SPEC, 0);
    assert_eq!(s.status(), (0, State::Progressing));
    mid_interval().await;
    for (k, expected) in [25, 50, 75, 100].into_iter().enumerate() {
        let bodies = s.traffic(200).await;
        let on_canary = bodies.iter().filter(|b| *b == "v2").count();
        if k == 0 {
            assert_eq!(on_canary, 0, "weight 0 sends nothing to the canary");
        } else {
            assert!(on_canary >= 20, "interval {k}: {on_canary} canary requests");
        }
        next_interval().await;
        let state = if expected == 100 {
            State::Promoted
        } else {
            State::Progressing
        };
        assert_eq!(s.status(), (expected, state), "after interval {}", k + 1);
        assert_eq!(s.metric_weight(CANARY), i64::from(expected));
        assert_eq!(s.metric_weight(STABLE), i64::from(100 - expected));
    }
    let bodies = s.traffic(100).await;
    assert!(bodies.iter().all(|b| b == "v2"));
    let m = s.handle.metrics().rollout();
    assert_eq!(m.state("default/shop", "split"), 1);
    assert_eq!(m.transitions("default/shop", "split"), 4);
    let text = s.handle.metrics().encode();
    assert!(
        text.contains(&format!(
            "mesh_rollout_weight{{virtual_service=\"default/shop\",rule=\"split\",destination=\"{CANARY}\"}} 100"
        )),
        "{text}"
    );
    assert!(text.contains(
        "mesh_rollout_transitions_total{virtual_service=\"default/shop\",rule=\"split\"} 4"
    ));
    // Promoted is final: more intervals change nothing.
    next_interval().await;
    assert_eq!(s.status(), (100, State::Promoted));
    let events = s.events.lock().expect("not poisoned");
    let weights: Vec<u32> = events.iter().map(|e| e.status.weight).collect();
    // The start happened when the layer was built, before the callback was registered.
    assert_eq!(weights, [25, 50, 75, 100], "one event per step");
}

/// A canary whose 5xx rate breaches `successRate` is rolled back at the end of the interval
/// in which it failed: weight 0, `RolledBack` (state 2), and no request reaches it after.
#[tokio::test(start_paused = true)]
async fn a_failing_canary_is_rolled_back_within_one_interval() {
    let s = setup(SPEC, 25);
    mid_interval().await;
    s.traffic(200).await;
    next_interval().await;
    assert_eq!(s.status(), (50, State::Progressing));
    s.mode.store(FAIL, Ordering::SeqCst);
    s.traffic(200).await;
    next_interval().await;
    assert_eq!(s.status(), (0, State::RolledBack));
    assert_eq!(s.metric_weight(CANARY), 0);
    assert_eq!(s.metric_weight(STABLE), 100);
    assert_eq!(
        s.handle.metrics().rollout().state("default/shop", "split"),
        2
    );
    let bodies = s.traffic(200).await;
    assert!(bodies.iter().all(|b| b == "v1"));
    let last = s
        .events
        .lock()
        .expect("not poisoned")
        .last()
        .cloned()
        .expect("events");
    assert!(last.stats.failures >= 20, "{:?}", last.stats);
    assert!(
        last.verdict.to_string().contains("success rate"),
        "{}",
        last.verdict
    );
}

/// A canary whose p99 latency goes over `maxLatency` is rolled back at the end of that
/// interval, measured on the layer's own clock.
#[tokio::test(start_paused = true)]
async fn a_slow_canary_is_rolled_back_within_one_interval() {
    let s = setup(SPEC, 25);
    mid_interval().await;
    s.mode.store(SLOW, Ordering::SeqCst);
    // All at once: the slow answers take 800 ms of the interval's 10 s.
    s.traffic(200).await;
    next_interval().await;
    assert_eq!(s.status(), (0, State::RolledBack));
    let last = s
        .events
        .lock()
        .expect("not poisoned")
        .last()
        .cloned()
        .expect("events");
    assert_eq!(last.stats.failures, 0);
    let p99 = last.stats.p99.expect("p99").as_nanos();
    assert!((800_000_000..=900_000_000).contains(&p99), "{p99}");
}

/// Fewer canary requests than `minRequests` in an interval is neither a step nor a breach:
/// the weight stays and the state is `WaitingForTraffic` (3), even when they all failed;
/// enough traffic steps again.
#[tokio::test(start_paused = true)]
async fn too_little_traffic_waits() {
    let s = setup(SPEC, 25);
    mid_interval().await;
    s.mode.store(FAIL, Ordering::SeqCst);
    s.traffic(20).await; // about 5 canary requests
    next_interval().await;
    assert_eq!(s.status(), (25, State::WaitingForTraffic));
    assert_eq!(
        s.handle.metrics().rollout().state("default/shop", "split"),
        3
    );
    next_interval().await;
    assert_eq!(
        s.status(),
        (25, State::WaitingForTraffic),
        "no traffic at all"
    );
    s.mode.store(OK, Ordering::SeqCst);
    s.traffic(200).await;
    next_interval().await;
    assert_eq!(s.status(), (50, State::Progressing));
}

/// With a sticky split, a user the canary served keeps being served by it at every step
/// up to the promotion.
#[tokio::test(start_paused = true)]
async fn sticky_users_never_leave_the_growing_canary() {
    let s = setup(SPEC, 0);
    mid_interval().await;
    let mut on_canary = [false; 200];
    for _ in 0..5 {
        let bodies = s.traffic(200).await;
        for (i, b) in bodies.iter().enumerate() {
            assert!(!on_canary[i] || b == "v2", "user-{i} left the canary");
            on_canary[i] = b == "v2";
        }
        next_interval().await;
    }
    assert_eq!(s.status(), (100, State::Promoted));
    assert!(on_canary.iter().all(|c| *c));
}

/// A reload that does not change the rule or the annotation keeps the rollout's weight,
/// state and interval count; one that changes the annotation restarts from the written
/// weights.
#[tokio::test(start_paused = true)]
async fn state_is_kept_across_an_unrelated_reload_and_reset_by_a_related_one() {
    let s = setup(SPEC, 25);
    mid_interval().await;
    s.traffic(200).await;
    next_interval().await;
    assert_eq!(s.status(), (50, State::Progressing));
    let unrelated = format!(
        "{}---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: other}}\nspec:\n  hosts: [other]\n  http:\n  - route:\n    - destination: {{host: other}}\n",
        yaml(SPEC, 25)
    );
    s.handle.swap_table(table(&unrelated, sidecar()));
    assert_eq!(s.status(), (50, State::Progressing));
    assert_eq!(s.handle.rollouts()[0].intervals, 1);
    // And it keeps stepping on its own timing.
    s.traffic(200).await;
    next_interval().await;
    assert_eq!(s.status(), (75, State::Progressing));
    let related = yaml(&SPEC.replace("stepWeight: 25", "stepWeight: 5"), 25);
    s.handle.swap_table(table(&related, sidecar()));
    assert_eq!(s.status(), (25, State::Progressing));
    assert_eq!(s.handle.rollouts()[0].intervals, 0);
    assert_eq!(s.metric_weight(CANARY), 25);
}

/// A layer built outside a tokio runtime cannot start its interval driver then; its first
/// request on a runtime starts it, and the rollout steps as usual.
#[test]
fn a_layer_built_outside_a_runtime_steps_once_it_serves() {
    let s = setup(SPEC, 25);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        mid_interval().await;
        s.traffic(200).await;
        next_interval().await;
        assert_eq!(s.status(), (50, State::Progressing));
    });
}
