//! Retries, timeouts, the retry budget and request-body buffering, as Envoy runs them for an
//! Istio route (SPEC 2.5, 2.7). Time is tokio's paused clock: long timeouts cost nothing.

mod common;

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use mesh_tower::{Backends, MeshLayer, Options, body};
use tokio::time::Instant;

const DR: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc}
spec:
  host: svc
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
"#;

/// A VirtualService for `svc` routing to v1 with `policy` (YAML lines of the rule, indented
/// by four spaces), e.g. `retries: {attempts: 3, retryOn: 5xx}`.
fn vs(policy: &str) -> String {
    format!(
        r#"{DR}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: svc}}
spec:
  hosts: [svc]
  http:
  - route:
    - destination: {{host: svc, subset: v1}}
{policy}
"#
    )
}

fn setup(policy: &str, v1: &Backend, options: Options) -> (Mesh, mesh_tower::MeshHandle) {
    let t = table(&vs(policy), sidecar());
    let backends = Backends::new().with(&fqdn("svc"), v1.endpoint("svc-v1", [("version", "v1")]));
    let layer = MeshLayer::with_options(
        t,
        backends,
        Options {
            seed: Some(11),
            ..options
        },
    );
    let handle = layer.handle();
    (mesh(layer), handle)
}

/// A layer with a fixed seed. Which of two concurrent requests wins a retry budget's one slot
/// depends on the jittered back-off (Envoy's, which can be 0 ms and free the slot at once), so
/// tests that count budget denials fix the samples to be reproducible.
fn seeded(t: mesh_route::RouteTable, backends: Backends) -> MeshLayer {
    MeshLayer::with_options(
        t,
        backends,
        Options {
            seed: Some(11),
            ..Options::default()
        },
    )
}

fn status(code: u16, text: &str) -> Outcome {
    Outcome::Status(
        StatusCode::from_u16(code).expect("a status"),
        text.to_owned(),
    )
}

/// `retries: {attempts: 3, retryOn: 5xx}`: a backend that fails its first two calls with
/// 503 answers the third; the client sees only the success.
#[tokio::test(start_paused = true)]
async fn a_backend_failing_twice_succeeds_on_the_third_attempt() {
    let v1 = Backend::with("v1", |n, _| {
        if n % 3 < 2 {
            status(503, "flaky")
        } else {
            status(200, "v1")
        }
    });
    let (svc, handle) = setup(
        "    retries: {attempts: 3, retryOn: 5xx}",
        &v1,
        Options::default(),
    );
    for i in 1..=5 {
        let r = send(&svc, get("http://svc/")).await;
        assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "v1"));
        assert_eq!(v1.calls(), 3 * i);
    }
    assert_eq!(
        handle
            .metrics()
            .outcome(mesh_tower::metrics::Event::RetryAttempted),
        10
    );
    // Every attempt carries its number for the backend to see.
    let attempts: Vec<u32> = v1
        .seen()
        .iter()
        .take(3)
        .map(|s| s.info.as_ref().expect("route info").attempt)
        .collect();
    assert_eq!(attempts, [0, 1, 2]);
    // And Envoy's header says it too (measured with Envoy 1.40: `1`, `2`, ...).
    let counts: Vec<String> = v1
        .seen()
        .iter()
        .take(3)
        .map(|s| s.header("x-envoy-attempt-count").to_owned())
        .collect();
    assert_eq!(counts, ["1", "2", "3"]);
}

/// Without a `retries` block Istio's default applies (2 retries on `connect-failure,
/// refused-stream,unavailable,cancelled,retriable-status-codes` with no codes since 1.24): a
/// connection failure is retried, a 503 is not.
#[tokio::test(start_paused = true)]
async fn default_policy_retries_connect_failures_but_not_503() {
    let refusing = Backend::with("v1", |n, _| {
        if n == 0 {
            Outcome::ConnectFailure
        } else {
            status(200, "v1")
        }
    });
    let (svc, _) = setup("", &refusing, Options::default());
    let r = send(&svc, get("http://svc/")).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "v1"));
    assert_eq!(refusing.calls(), 2);

    let unavailable = Backend::with("v1", |_, _| status(503, "busy"));
    let (svc, _) = setup("", &unavailable, Options::default());
    let r = send(&svc, get("http://svc/")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body, "busy", "the upstream's own 503 is passed through");
    assert_eq!(unavailable.calls(), 1);
}

/// The default policy's `unavailable` retries a gRPC UNAVAILABLE (status 14 in the headers
/// of a trailers-only response).
#[tokio::test(start_paused = true)]
async fn default_policy_retries_grpc_unavailable() {
    let grpc = Backend::with("v1", |n, _| {
        if n == 0 {
            status(200, "")
        } else {
            status(200, "ok")
        }
    });
    // Only the first answer carries grpc-status 14: a wrapper adds it.
    let first = grpc.clone();
    let t = table(&vs(""), sidecar());
    let ep = mesh_tower::Endpoint::new(
        "svc-v1",
        [("version", "v1")],
        tower::service_fn(move |req: Request<body::BoxBody>| {
            let calls = first.calls();
            let call: Pin<Box<dyn Future<Output = _> + Send>> =
                Box::pin(tower::ServiceExt::oneshot(first.service(), req));
            async move {
                let mut resp = call.await?;
                if calls == 0 {
                    resp.headers_mut()
                        .insert("grpc-status", http::HeaderValue::from_static("14"));
                }
                Ok::<_, mesh_tower::BoxError>(resp)
            }
        }),
    );
    let svc = mesh(MeshLayer::new(t, Backends::new().with(&fqdn("svc"), ep)));
    let r = send(&svc, get("http://svc/")).await;
    assert_eq!(r.body, "ok");
    assert_eq!(grpc.calls(), 2);
}

/// `attempts: 0` disables retries: neither a connection failure nor a 503 is retried, and the
/// connection failure becomes a 503 local reply (`UF`).
#[tokio::test(start_paused = true)]
async fn attempts_zero_does_not_retry() {
    let refusing = Backend::with("v1", |_, _| Outcome::ConnectFailure);
    let (svc, handle) = setup("    retries: {attempts: 0}", &refusing, Options::default());
    let r = send(&svc, get("http://svc/")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.body.contains("connection failure"), "{}", r.body);
    assert_eq!(refusing.calls(), 1);
    let m = handle.metrics().encode();
    assert_eq!(requests_total(&m, &[("response_flags", "UF")]), 1, "{m}");

    let unavailable = Backend::with("v1", |_, _| status(503, "busy"));
    let (svc, _) = setup(
        "    retries: {attempts: 0}",
        &unavailable,
        Options::default(),
    );
    assert_eq!(
        send(&svc, get("http://svc/")).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(unavailable.calls(), 1);
}

/// Numeric `retryOn` tokens become `retriable-status-codes`: `retryOn: "503"` retries 503
/// only, not 500.
#[tokio::test(start_paused = true)]
async fn numeric_retry_on_retries_only_those_codes() {
    let b503 = Backend::with("v1", |n, _| {
        if n == 0 {
            status(503, "")
        } else {
            status(200, "v1")
        }
    });
    let (svc, _) = setup(
        "    retries: {attempts: 2, retryOn: \"503\"}",
        &b503,
        Options::default(),
    );
    assert_eq!(send(&svc, get("http://svc/")).await.status, StatusCode::OK);
    assert_eq!(b503.calls(), 2);

    let b500 = Backend::with("v1", |n, _| {
        if n == 0 {
            status(500, "")
        } else {
            status(200, "v1")
        }
    });
    let (svc, _) = setup(
        "    retries: {attempts: 2, retryOn: \"503\"}",
        &b500,
        Options::default(),
    );
    assert_eq!(
        send(&svc, get("http://svc/")).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(b500.calls(), 1);
}

/// Retries avoid the hosts already tried (Istio's `retryIgnorePreviousHosts` defaults to
/// true): with one bad and one good endpoint and a single retry, every request succeeds.
#[tokio::test(start_paused = true)]
async fn retries_go_to_another_endpoint() {
    let bad = Backend::with("bad", |_, _| status(503, "bad"));
    let good = Backend::ok("good");
    let t = table(&vs("    retries: {attempts: 1, retryOn: 5xx}"), sidecar());
    let backends = Backends::new()
        .with(&fqdn("svc"), bad.endpoint("svc-v1-a", [("version", "v1")]))
        .with(&fqdn("svc"), good.endpoint("svc-v1-b", [("version", "v1")]));
    let svc = mesh(MeshLayer::with_options(
        t,
        backends,
        Options {
            seed: Some(3),
            ..Options::default()
        },
    ));
    for _ in 0..50 {
        assert_eq!(send(&svc, get("http://svc/")).await.body, "good");
    }
    assert!(
        bad.calls() > 0,
        "the bad endpoint was picked first sometimes"
    );
    assert_eq!(good.calls(), 50);
}

/// `perTryTimeout` bounds each attempt; under `5xx` a timed-out attempt is retried, and the
/// retry's success is returned.
#[tokio::test(start_paused = true)]
async fn per_try_timeout_then_success_on_retry() {
    let v1 = Backend::with("v1", |n, _| {
        if n == 0 {
            Outcome::Hang
        } else {
            status(200, "v1")
        }
    });
    let (svc, _) = setup(
        "    retries: {attempts: 2, perTryTimeout: 100ms, retryOn: 5xx}",
        &v1,
        Options::default(),
    );
    let started = Instant::now();
    let r = send(&svc, get("http://svc/")).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "v1"));
    let took = started.elapsed();
    // 100 ms per-try timeout, then a back-off below 25 ms.
    assert!(
        took >= Duration::from_millis(100) && took <= Duration::from_millis(125),
        "{took:?}"
    );
    assert_eq!(v1.calls(), 2);
}

/// A per-try timeout is retried only under `5xx`, `gateway-error` or `reset`: under
/// `connect-failure` alone the first timeout is final, a 504 `upstream request timeout`.
#[tokio::test(start_paused = true)]
async fn per_try_timeout_is_not_retried_under_connect_failure() {
    let v1 = Backend::with("v1", |_, _| Outcome::Hang);
    let (svc, _) = setup(
        "    retries: {attempts: 3, perTryTimeout: 100ms, retryOn: connect-failure}",
        &v1,
        Options::default(),
    );
    let r = send(&svc, get("http://svc/")).await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(r.body, "upstream request timeout");
    assert_eq!(v1.calls(), 1);
}

/// The route `timeout` expires with a 504 `upstream request timeout` (`UT`).
#[tokio::test(start_paused = true)]
async fn route_timeout_gives_504() {
    let v1 = Backend::with("v1", |_, _| {
        Outcome::After(Duration::from_secs(30), StatusCode::OK, "late".into())
    });
    let (svc, handle) = setup("    timeout: 2s", &v1, Options::default());
    let started = Instant::now();
    let r = send(&svc, get("http://svc/")).await;
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(r.body, "upstream request timeout");
    assert_eq!(r.header("content-type"), "text/plain");
    let m = handle.metrics().encode();
    assert_eq!(
        requests_total(&m, &[("response_code", "504"), ("response_flags", "UT")]),
        1,
        "{m}"
    );
}

/// The route timeout spans every attempt: 250 ms with a 100 ms per-try timeout leaves room
/// for two or three attempts of a hung backend, not six.
#[tokio::test(start_paused = true)]
async fn route_timeout_spans_retries() {
    let v1 = Backend::with("v1", |_, _| Outcome::Hang);
    let (svc, _) = setup(
        "    timeout: 250ms\n    retries: {attempts: 5, perTryTimeout: 100ms, retryOn: 5xx}",
        &v1,
        Options::default(),
    );
    let started = Instant::now();
    let r = send(&svc, get("http://svc/")).await;
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
    assert!((2..=3).contains(&v1.calls()), "{}", v1.calls());
}

/// Runs `n` concurrent requests against an always-503 backend (10 ms per answer) under
/// `retries: {attempts: 5, retryOn: 5xx}`; returns the backend's request count.
async fn storm(n: usize, budget: Option<mesh_tower::RetryBudget>) -> usize {
    let v1 = Backend::with("v1", |_, _| {
        Outcome::After(
            Duration::from_millis(10),
            StatusCode::SERVICE_UNAVAILABLE,
            String::new(),
        )
    });
    let (svc, handle) = setup(
        "    retries: {attempts: 5, retryOn: 5xx}",
        &v1,
        Options {
            default_retry_budget: budget,
            ..Options::default()
        },
    );
    let tasks: Vec<_> = (0..n)
        .map(|_| tokio::spawn(send(&svc, get("http://svc/"))))
        .collect();
    for t in tasks {
        assert_eq!(
            t.await.expect("task").status,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    eprintln!(
        "retry storm, {n} concurrent requests, budget {budget:?}: backend requests {}, retries attempted {}, denied by budget {}",
        v1.calls(),
        handle
            .metrics()
            .outcome(mesh_tower::metrics::Event::RetryAttempted),
        handle
            .metrics()
            .outcome(mesh_tower::metrics::Event::RetryBudgetExhausted),
    );
    v1.calls()
}

/// The retry budget (Envoy's `retry_budget`: retries in flight at most 20% of the requests in
/// flight, at least 3) stops a retry storm: 100 concurrent requests to an always-503 backend
/// with 5 retries each cost about 1.3x the load instead of 6x. Without a budget (as in Istio,
/// where only `http.maxRetries` would bound it) every request is retried 5 times.
#[tokio::test(start_paused = true)]
async fn retry_budget_stops_a_retry_storm() {
    const N: usize = 100;
    let with_budget = storm(N, Some(mesh_tower::RetryBudget::DEFAULT)).await;
    assert!(
        with_budget <= N * 3 / 2,
        "the budget keeps the load near 1x: {with_budget}"
    );
    // The first wave is allowed 20 retries (20% of 100 in flight).
    assert!(with_budget >= N + 20, "{with_budget}");
    let without = storm(N, None).await;
    assert_eq!(without, N * 6);
}

/// By default no budget bounds the retries, as istiod configures Envoy: every cluster's
/// circuit breaker gets `max_retries: 4294967295` and no `retry_budget` unless the
/// DestinationRule sets `connectionPool.http.maxRetries` or `retryBudget` (istio/istio,
/// `pilot/pkg/networking/core/cluster_traffic_policy.go`, `getDefaultCircuitBreakerThresholds`,
/// applied to every outbound cluster by `applyConnectionPool`). So 100 concurrent requests
/// to an always-503 backend with 5 retries each are all retried, as Envoy retries them
/// (`benches/race.sh` with policies: Envoy retried every injected 503 while our former
/// default budget refused about 1 request in 1 500 its retry, 503 `UO`).
#[tokio::test(start_paused = true)]
async fn by_default_retries_are_bounded_only_by_their_attempts_as_in_istio() {
    const N: usize = 100;
    assert_eq!(Options::default().default_retry_budget, None);
    let by_default = storm(N, Options::default().default_retry_budget).await;
    assert_eq!(by_default, N * 6);
}

/// A DestinationRule `retryBudget` replaces the default one: `percent: 0,
/// minRetryConcurrency: 1` allows a single retry in flight.
#[tokio::test(start_paused = true)]
async fn destination_rule_retry_budget_applies() {
    let v1 = Backend::with("v1", |_, _| {
        Outcome::After(
            Duration::from_millis(10),
            StatusCode::SERVICE_UNAVAILABLE,
            String::new(),
        )
    });
    let yaml = vs("    retries: {attempts: 5, retryOn: 5xx}").replace(
        "  host: svc\n",
        "  host: svc\n  trafficPolicy:\n    retryBudget: {percent: 0, minRetryConcurrency: 1}\n",
    );
    let t = table(&yaml, sidecar());
    let backends = Backends::new().with(&fqdn("svc"), v1.endpoint("svc-v1", [("version", "v1")]));
    let svc = mesh(seeded(t, backends));
    let tasks: Vec<_> = (0..10)
        .map(|_| tokio::spawn(send(&svc, get("http://svc/"))))
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    // One request retries five times; the others are denied: 10 + 5.
    assert_eq!(v1.calls(), 15);
}

/// When the retry budget denies a retry, the attempt's own outcome is the answer, as in
/// Envoy (`UO` added): a per-try timeout stays a 504 `upstream request timeout`, not a 503.
#[tokio::test(start_paused = true)]
async fn a_retry_denied_by_the_budget_keeps_the_attempts_outcome() {
    let v1 = Backend::with("v1", |_, _| Outcome::Hang);
    let yaml = vs("    retries: {attempts: 2, perTryTimeout: 50ms, retryOn: 5xx}").replace(
        "  host: svc\n",
        "  host: svc\n  trafficPolicy:\n    retryBudget: {percent: 0, minRetryConcurrency: 1}\n",
    );
    let t = table(&yaml, sidecar());
    let backends = Backends::new().with(&fqdn("svc"), v1.endpoint("svc-v1", [("version", "v1")]));
    let layer = seeded(t, backends);
    let handle = layer.handle();
    let svc = mesh(layer);
    let a = tokio::spawn(send(&svc, get("http://svc/")));
    let b = tokio::spawn(send(&svc, get("http://svc/")));
    for r in [a.await.expect("task"), b.await.expect("task")] {
        assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(r.body, "upstream request timeout");
    }
    let m = handle.metrics().encode();
    // One request retried until its attempts ran out; the other was denied its retry.
    assert_eq!(
        requests_total(&m, &[("response_flags", "UT,URX")]),
        1,
        "{m}"
    );
    assert_eq!(requests_total(&m, &[("response_flags", "UT,UO")]), 1, "{m}");
    assert_eq!(v1.calls(), 3 + 1);
}

/// A retry in flight when the route timeout fires is abandoned, and it must give its place in
/// the retry budget back: after three such timeouts, a request that fails once is still
/// retried.
#[tokio::test(start_paused = true)]
async fn abandoned_retries_release_the_retry_budget() {
    let v1 = Backend::with("v1", |_, seen| {
        if seen.header("x-hang") == "1" {
            Outcome::Hang
        } else if seen.info.as_ref().is_some_and(|i| i.attempt == 0) {
            status(503, "first try fails")
        } else {
            status(200, "v1")
        }
    });
    let (svc, handle) = setup(
        "    timeout: 100ms\n    retries: {attempts: 5, perTryTimeout: 30ms, retryOn: 5xx}",
        &v1,
        Options {
            default_retry_budget: Some(mesh_tower::RetryBudget::DEFAULT),
            ..Options::default()
        },
    );
    for _ in 0..4 {
        let r = send(&svc, get_with("http://svc/", &[("x-hang", "1")])).await;
        assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
    }
    let r = send(&svc, get("http://svc/")).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::OK, "v1"),
        "retries denied: {}",
        handle
            .metrics()
            .outcome(mesh_tower::metrics::Event::RetryBudgetExhausted)
    );
}

/// A body made of several frames.
struct Chunks(VecDeque<Bytes>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
    }
}

fn post(size: usize, frame: usize) -> Request<body::BoxBody> {
    let data = vec![b'x'; size];
    let chunks = data.chunks(frame).map(Bytes::copy_from_slice).collect();
    Request::post("http://svc/upload")
        .body(body::boxed(Chunks(chunks)))
        .expect("request")
}

/// A request body over `Options.body_limit` is streamed to the primary whole, once: it is
/// not retried and not mirrored, and `mesh_request_bodies{result="streamed"}` counts it. A
/// body within the limit is buffered, retried and mirrored.
#[tokio::test(start_paused = true)]
async fn a_body_over_the_limit_is_streamed_not_retried_not_mirrored() {
    let v1 = Backend::with("v1", |_, _| status(503, "always failing"));
    let v2 = Backend::ok("v2");
    let t = table(
        &vs("    retries: {attempts: 3, retryOn: 5xx}\n    mirror: {host: svc, subset: v2}"),
        sidecar(),
    );
    let backends = Backends::new()
        .with(&fqdn("svc"), v1.endpoint("svc-v1", [("version", "v1")]))
        .with(&fqdn("svc"), v2.endpoint("svc-v2", [("version", "v2")]));
    let layer = MeshLayer::with_options(
        t,
        backends,
        Options {
            body_limit: 1024,
            ..Options::default()
        },
    );
    let handle = layer.handle();
    let svc = mesh(layer);

    let r = send(&svc, post(10_000, 1000)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v1.calls(), 1, "not retried");
    assert_eq!(
        v1.seen()[0].body.len(),
        10_000,
        "every byte arrives, in order"
    );
    let m = handle.metrics();
    assert_eq!(m.outcome(mesh_tower::metrics::Event::BodyStreamed), 1);
    assert_eq!(m.outcome(mesh_tower::metrics::Event::MirrorNotBuffered), 1);

    let r = send(&svc, post(1000, 100)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v1.calls(), 1 + 4, "retried three times");
    assert!(v1.seen()[1..].iter().all(|s| s.body.len() == 1000));
    assert_eq!(m.outcome(mesh_tower::metrics::Event::BodyBuffered), 1);
    for _ in 0..100 {
        if v2.calls() == 1 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(v2.calls(), 1, "only the buffered request was mirrored");
    assert_eq!(v2.seen()[0].body.len(), 1000);
}
