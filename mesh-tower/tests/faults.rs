//! Fault injection (SPEC 2.8): delay, then an independent roll for the abort; aborted
//! requests never reach the backend, retries or mirrors; the delay is outside the route
//! timeout. Time is tokio's paused clock.

mod common;

use std::time::Duration;

use common::*;
use http::StatusCode;
use mesh_tower::{Backends, MeshHandle, MeshLayer, Options};
use tokio::time::Instant;

const DR: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
"#;

fn setup(rule: &str, v1: &Backend, v2: &Backend) -> (Mesh, MeshHandle) {
    let yaml = format!(
        r#"{DR}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: ratings}}
spec:
  hosts: [ratings]
  http:
  - route:
    - destination: {{host: ratings, subset: v1}}
{rule}
"#
    );
    let host = fqdn("ratings");
    let backends = Backends::new()
        .with(&host, v1.endpoint("ratings-v1", [("version", "v1")]))
        .with(&host, v2.endpoint("ratings-v2", [("version", "v2")]));
    let layer = MeshLayer::with_options(
        table(&yaml, sidecar()),
        backends,
        Options {
            seed: Some(42),
            ..Options::default()
        },
    );
    let handle = layer.handle();
    (mesh(layer), handle)
}

/// `abort: {httpStatus: 503, percentage: 50}` aborts about half of the requests with the
/// status and body `fault filter abort` (`FI`); the others reach the backend.
#[tokio::test]
async fn abort_percentage_converges() {
    let v1 = Backend::ok("v1");
    let (svc, handle) = setup(
        "    fault: {abort: {httpStatus: 503, percentage: {value: 50}}}",
        &v1,
        &Backend::ok("v2"),
    );
    const N: usize = 2000;
    let mut aborted = 0;
    for _ in 0..N {
        let r = send(&svc, get("http://ratings/")).await;
        match r.status {
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(r.body, "fault filter abort");
                aborted += 1;
            }
            StatusCode::OK => assert_eq!(r.body, "v1"),
            other => panic!("{other}"),
        }
    }
    let share = aborted as f64 / N as f64 * 100.0;
    eprintln!("abort 50% over {N}: {aborted} aborted ({share:.1}%)");
    assert!((share - 50.0).abs() < 3.0, "{share}");
    assert_eq!(v1.calls(), N - aborted);
    let m = handle.metrics().encode();
    assert_eq!(
        requests_total(&m, &[("response_code", "503"), ("response_flags", "FI")]),
        aborted as u64
    );
}

/// A fault without `percentage` (or `percent`) never fires (Envoy's default is 0%).
#[tokio::test]
async fn a_fault_without_percentage_never_fires() {
    let v1 = Backend::ok("v1");
    let (svc, _) = setup(
        "    fault: {abort: {httpStatus: 500}}",
        &v1,
        &Backend::ok("v2"),
    );
    for _ in 0..100 {
        assert_eq!(
            send(&svc, get("http://ratings/")).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(v1.calls(), 100);
}

/// `delay: {fixedDelay: 7s, percent: 100}` (the deprecated integer percent) holds every
/// request 7 s before it is forwarded (`DI`).
#[tokio::test(start_paused = true)]
async fn delay_holds_every_request() {
    let v1 = Backend::ok("v1");
    let (svc, handle) = setup(
        "    fault: {delay: {fixedDelay: 7s, percent: 100}}",
        &v1,
        &Backend::ok("v2"),
    );
    let started = Instant::now();
    let task = tokio::spawn(send(&svc, get("http://ratings/")));
    tokio::time::sleep(Duration::from_millis(6_999)).await;
    assert_eq!(v1.calls(), 0, "still delayed");
    let r = task.await.expect("task");
    assert_eq!(r.body, "v1");
    assert_eq!(started.elapsed(), Duration::from_secs(7));
    let m = handle.metrics().encode();
    assert_eq!(requests_total(&m, &[("response_flags", "DI")]), 1, "{m}");
}

/// The fault delay happens before the router, so it does not count against the route
/// `timeout`: a 3 s delay with a 1 s timeout still reaches a fast backend.
#[tokio::test(start_paused = true)]
async fn delay_is_outside_the_route_timeout() {
    let v1 = Backend::ok("v1");
    let (svc, _) = setup(
        "    timeout: 1s\n    fault: {delay: {fixedDelay: 3s, percentage: {value: 100}}}",
        &v1,
        &Backend::ok("v2"),
    );
    let started = Instant::now();
    let r = send(&svc, get("http://ratings/")).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "v1"));
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}

/// Delay and abort roll independently (Envoy: "delays can be followed by aborts"): with 50%
/// each, the four combinations are each about a quarter, and delayed requests are aborted
/// as often as the others.
#[tokio::test(start_paused = true)]
async fn delay_and_abort_are_independent() {
    let (svc, _) = setup(
        r#"    fault:
      delay: {fixedDelay: 1s, percentage: {value: 50}}
      abort: {httpStatus: 429, percentage: {value: 50}}"#,
        &Backend::ok("v1"),
        &Backend::ok("v2"),
    );
    const N: usize = 1000;
    let mut counts = [[0usize; 2]; 2]; // [delayed][aborted]
    for _ in 0..N {
        let started = Instant::now();
        let r = send(&svc, get("http://ratings/")).await;
        let delayed = started.elapsed() >= Duration::from_secs(1);
        let aborted = r.status == StatusCode::TOO_MANY_REQUESTS;
        counts[usize::from(delayed)][usize::from(aborted)] += 1;
    }
    eprintln!(
        "delay 50% + abort 50% over {N}: neither {}, abort only {}, delay only {}, both {}",
        counts[0][0], counts[0][1], counts[1][0], counts[1][1]
    );
    for row in counts {
        for c in row {
            assert!((200..=300).contains(&c), "{counts:?}");
        }
    }
}

/// A gRPC abort is a trailers-only gRPC error to a gRPC client (`content-type:
/// application/grpc`): HTTP 200, `content-type: application/grpc`, `grpc-status` with the
/// code of the symbolic name, `grpc-message: fault filter abort`; Istio's metric reports it
/// as gRPC. Any other client gets HTTP 200 with the plain body `fault filter abort`
/// (Envoy's fault filter sends the abort as a local reply of status 200; measured with
/// Envoy 1.40, `difftest/tests/decisions.rs`).
#[tokio::test]
async fn grpc_abort_answers_200_with_grpc_status() {
    let v1 = Backend::ok("v1");
    let (svc, handle) = setup(
        "    fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}",
        &v1,
        &Backend::ok("v2"),
    );
    let grpc = get_with(
        "http://ratings/ratings.Ratings/Get",
        &[("content-type", "application/grpc")],
    );
    let r = send(&svc, grpc).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("grpc-status"), "14");
    assert_eq!(r.header("grpc-message"), "fault filter abort");
    assert_eq!(r.header("content-type"), "application/grpc");
    assert_eq!(r.body, "");
    let plain = send(&svc, get("http://ratings/ratings.Ratings/Get")).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.header("grpc-status"), "");
    assert_eq!(plain.header("content-type"), "text/plain");
    assert_eq!(plain.body, "fault filter abort");
    assert_eq!(v1.calls(), 0);
    let m = handle.metrics().encode();
    assert_eq!(
        requests_total(
            &m,
            &[
                ("request_protocol", "grpc"),
                ("grpc_response_status", "14"),
                ("response_flags", "FI")
            ]
        ),
        1,
        "{m}"
    );
}

/// An aborted request never reaches the router: no backend call, no retry, no mirror.
#[tokio::test]
async fn aborted_requests_are_not_retried_or_mirrored() {
    let (v1, v2) = (Backend::ok("v1"), Backend::ok("v2"));
    let (svc, handle) = setup(
        r#"    fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    retries: {attempts: 3, retryOn: 5xx}
    mirror: {host: ratings, subset: v2}"#,
        &v1,
        &v2,
    );
    for _ in 0..10 {
        assert_eq!(
            send(&svc, get("http://ratings/")).await.status,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    tokio::task::yield_now().await;
    assert_eq!((v1.calls(), v2.calls()), (0, 0));
    assert_eq!(
        handle
            .metrics()
            .outcome(mesh_tower::metrics::Event::RetryAttempted),
        0
    );
    assert_eq!(
        handle
            .metrics()
            .outcome(mesh_tower::metrics::Event::MirrorSent),
        0
    );
}
