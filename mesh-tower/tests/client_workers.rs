//! The client's connections per worker thread ([`HttpClient::per_worker`]), over real sockets
//! on 127.0.0.1: a thread bound to a worker sends over connections of its own, as Envoy's
//! workers each keep their own connection pool per cluster.
#![cfg(feature = "client")]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::mpsc;

use axum::extract::ConnectInfo;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use mesh_tower::body;
use mesh_tower::client::{DestinationGuard, HttpClient, bind_thread_to_worker};

/// An upstream answering each request with the client port of its connection.
fn upstream() -> (SocketAddr, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let addr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let router =
            axum::Router::new().fallback(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                peer.port().to_string()
            });
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        addr
    });
    (addr, rt)
}

/// Sends `n` requests one after the other; the client ports the upstream saw.
async fn ports(client: &HttpClient, upstream: SocketAddr, n: usize) -> BTreeSet<u16> {
    let mut seen = BTreeSet::new();
    for _ in 0..n {
        let req = Request::get(format!("http://{upstream}/"))
            .body(body::empty())
            .expect("request");
        let resp = client.request(req).await.expect("the upstream answers");
        assert_eq!(resp.status(), StatusCode::OK);
        let text = resp.into_body().collect().await.expect("body").to_bytes();
        seen.insert(
            std::str::from_utf8(&text)
                .expect("text")
                .parse()
                .expect("a port"),
        );
    }
    seen
}

/// Runs `n` requests on a new thread with a single-threaded runtime of its own (bound to
/// `worker` when given, as mesh-proxy's workers are), reports the client ports used, and
/// keeps the runtime (hence its connections) alive until `stop` is dropped.
fn thread_ports(
    client: HttpClient,
    upstream: SocketAddr,
    worker: Option<usize>,
    n: usize,
) -> (
    BTreeSet<u16>,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let (report, seen) = mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        if let Some(w) = worker {
            bind_thread_to_worker(w);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let _ = report.send(ports(&client, upstream, n).await);
            // Keep driving the runtime, so that its connections stay open and pooled.
            let _ = stopped.await;
        });
    });
    let seen = seen.recv().expect("the thread reports its ports");
    (seen, stop, thread)
}

/// Requests sent from threads bound to different workers never share an upstream
/// connection, even when one worker's connection sits idle in the pool while the other
/// sends; a thread bound to no worker uses a third set. (With one pool for every thread, as
/// before per-worker pools, worker 1 picks up worker 0's idle connection when it is back in
/// the pool: a request and that connection's task then run on different threads.)
#[test]
fn each_worker_sends_over_connections_of_its_own() {
    let (upstream, _upstream_rt) = upstream();
    let client = HttpClient::per_worker(DestinationGuard::new(), 2);
    let (w0, stop0, t0) = thread_ports(client.clone(), upstream, Some(0), 3);
    let (w1, stop1, t1) = thread_ports(client.clone(), upstream, Some(1), 3);
    let (other, stop2, t2) = thread_ports(client, upstream, None, 3);
    for (stop, thread) in [(stop0, t0), (stop1, t1), (stop2, t2)] {
        drop(stop);
        thread.join().expect("the thread ends");
    }
    println!("client ports: worker 0 {w0:?}, worker 1 {w1:?}, unbound {other:?}");
    assert!(w0.is_disjoint(&w1), "worker 0 {w0:?}, worker 1 {w1:?}");
    assert!(
        w0.is_disjoint(&other) && w1.is_disjoint(&other),
        "{other:?}"
    );
}
