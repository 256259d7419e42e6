//! Serving an example on 127.0.0.1, and a small HTTP client to call it.

use std::net::SocketAddr;

use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;

use crate::Error;

/// Serves `router` on 127.0.0.1 at the port in the `PORT` environment variable (default:
/// any free port), prints the address and the `curl` lines of `usage` (with `{addr}`
/// replaced), and runs until Ctrl-C.
pub async fn run(title: &str, router: Router, usage: &[&str]) -> Result<(), Error> {
    let port = match std::env::var("PORT") {
        Ok(p) => p.parse::<u16>().map_err(|e| format!("PORT={p:?}: {e}"))?,
        Err(_) => 0,
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    println!("{title}");
    println!("listening on http://{addr} (Ctrl-C to stop); try:");
    for line in usage {
        println!("  {}", line.replace("{addr}", &addr.to_string()));
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Serves `router` on 127.0.0.1:0 in a background task; returns its address.
pub async fn spawn(router: Router) -> Result<SocketAddr, Error> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(addr)
}

/// A client of one example server (keeps connections alive between requests).
#[derive(Clone, Debug)]
pub struct Client {
    addr: SocketAddr,
    http: HyperClient<HttpConnector, Empty<Bytes>>,
}

/// A response, read whole.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, as text.
    pub body: String,
}

impl Fetched {
    /// A header's value, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Client {
    /// A client of the server at `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Client {
            addr,
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// `GET path` with `Host: host` and `headers`.
    pub async fn get(
        &self,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Fetched, Error> {
        let mut req = Request::get(format!("http://{}{path}", self.addr)).header("host", host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self.http.request(req.body(Empty::new())?).await?;
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await?.to_bytes();
        Ok(Fetched {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}
