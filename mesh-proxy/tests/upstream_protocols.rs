//! The protocol spoken upstream follows the ServiceEntry port, as Istio's cluster for it,
//! whatever the client spoke; and websocket upgrades are carried end to end (issue 10,
//! items 3 and 7).

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::TempDir;
use envoy_harness::EchoUpstream;
use futures_util::{SinkExt, StreamExt};
use http::{Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio_tungstenite::tungstenite::Message;

fn service_entry(host: &str, protocol: &str, port: u16) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: {name}, namespace: demo}}
spec:
  hosts: [{host}]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports:
  - {{number: 80, name: web, protocol: {protocol}}}
  endpoints:
  - address: 127.0.0.1
    ports: {{web: {port}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: demo}}
spec:
  hosts: [{host}]
  gateways: [edge]
  http:
  - route: [{{destination: {{host: {host}}}}}]
---
",
        name = host.split('.').next().unwrap_or("x")
    )
}

/// An HTTP/2-only (prior knowledge) upstream recording each request's version and
/// authority.
async fn h2_upstream() -> (SocketAddr, Arc<Mutex<Vec<(Version, String)>>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = l.accept().await {
            let s = s.clone();
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let authority = req
                    .uri()
                    .authority()
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                s.lock().expect("lock").push((req.version(), authority));
                async {
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(
                        "h2 upstream",
                    ))))
                }
            });
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc),
            );
        }
    });
    (addr, seen)
}

/// An h2c (prior knowledge) client gets 200 from an HTTP/1.1 upstream on a port of
/// protocol HTTP: its `:authority` becomes the upstream's `Host`. Measured with Envoy
/// 1.40 (`curl --http2-prior-knowledge` through istiod's HCM to an HTTP/1.1 cluster):
/// HTTP/2 200. Before: 503 `UR` ("Connection is HTTP/1, but request requires HTTP/2").
/// An HTTP/1.1 client reaching a port of protocol HTTP2 is sent upstream over HTTP/2 with
/// `:authority` from its Host (Envoy: `http2_protocol_options` on Istio's cluster for
/// HTTP2/GRPC ports).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_protocol_follows_the_service_entry_port() {
    let echo = EchoUpstream::start("h1");
    let (h2_addr, h2_seen) = h2_upstream().await;
    let dir = TempDir::new("protocols");
    let yaml = format!(
        "{}{}{}",
        common::GATEWAY,
        service_entry("site.example.com", "HTTP", echo.addr().port()),
        service_entry("grpc.example.com", "HTTP2", h2_addr.port())
    );
    let proxy = common::start(common::settings(vec![dir.write("c.yaml", &yaml)])).await;

    // h2c client -> HTTP/1.1 upstream.
    let stream = tokio::net::TcpStream::connect(proxy.addr)
        .await
        .expect("connect");
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2c handshake");
    tokio::spawn(conn);
    let req = Request::get("http://site.example.com/hello")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let resp = tokio::time::timeout(common::PATIENCE, h2.send_request(req))
        .await
        .expect("in time")
        .expect("answered");
    assert_eq!(
        (resp.status().as_u16(), resp.version()),
        (200, Version::HTTP_2)
    );
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert!(
        String::from_utf8_lossy(&body).contains("\"upstream\":\"h1\""),
        "{body:?}"
    );
    let got = echo.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].target.as_str(), got[0].header("host")),
        ("/hello", Some("site.example.com"))
    );

    // HTTP/1.1 client -> HTTP/2 upstream.
    let r = common::get(
        &common::client(),
        proxy.addr,
        "grpc.example.com",
        "/svc/Method",
        &[],
    )
    .await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "h2 upstream"));
    let seen = h2_seen.lock().expect("lock").clone();
    assert_eq!(seen, vec![(Version::HTTP_2, "grpc.example.com".to_owned())]);
    proxy.shutdown().await;
}

/// The next message, within the patience.
async fn next(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
) -> Option<Message> {
    tokio::time::timeout(common::PATIENCE, ws.next())
        .await
        .ok()
        .flatten()
        .and_then(Result::ok)
}

/// A websocket echo works through the proxy in both directions, and a close from either
/// side reaches the other (Istio enables websocket upgrades: `upgrade_configs:
/// [{upgrade_type: websocket}]` on every HTTP connection manager, istio
/// `pilot/pkg/networking/core/listener_builder.go`). Before: the 101 was relayed and the
/// connection closed with no byte carried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_echo_works_end_to_end() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let ws_port = l.local_addr().expect("addr").port();
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<bool>();
    tokio::spawn(async move {
        let Ok((stream, _)) = l.accept().await else {
            return;
        };
        let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        let _ = ws.send(Message::text("welcome")).await;
        let mut saw_close = false;
        while let Some(Ok(m)) = ws.next().await {
            match m {
                Message::Close(_) => {
                    saw_close = true;
                    break;
                }
                m @ (Message::Text(_) | Message::Binary(_)) => {
                    let _ = ws.send(m).await;
                }
                _ => {}
            }
        }
        let _ = closed_tx.send(saw_close);
    });
    let dir = TempDir::new("ws");
    let yaml = format!(
        "{}{}",
        common::GATEWAY,
        service_entry("ws.example.com", "HTTP", ws_port)
    );
    let proxy = common::start(common::settings(vec![dir.write("c.yaml", &yaml)])).await;

    let stream = tokio::net::TcpStream::connect(proxy.addr)
        .await
        .expect("connect");
    let (mut ws, resp) = tokio::time::timeout(
        common::PATIENCE,
        tokio_tungstenite::client_async("ws://ws.example.com/chat", stream),
    )
    .await
    .expect("in time")
    .expect("the upgrade goes through");
    assert_eq!(resp.status().as_u16(), 101);
    assert_eq!(
        next(&mut ws).await,
        Some(Message::text("welcome")),
        "upstream to client"
    );
    ws.send(Message::text("ping 1")).await.expect("send");
    assert_eq!(
        next(&mut ws).await,
        Some(Message::text("ping 1")),
        "client to upstream and back"
    );
    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .expect("send");
    assert_eq!(
        next(&mut ws).await,
        Some(Message::binary(vec![0u8, 1, 2, 255]))
    );
    ws.close(None).await.expect("close");
    let upstream_saw_close = tokio::time::timeout(common::PATIENCE, closed_rx).await;
    assert_eq!(
        upstream_saw_close.ok().and_then(Result::ok),
        Some(true),
        "the close reached the upstream"
    );
    // The upstream's close answer reaches the client, then the stream ends.
    let mut ended = false;
    for _ in 0..4 {
        match tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
            Ok(None) | Ok(Some(Err(_))) => {
                ended = true;
                break;
            }
            Ok(Some(Ok(_))) => {}
            Err(_) => break,
        }
    }
    assert!(ended, "the client's websocket ended");
    proxy.shutdown().await;
}
