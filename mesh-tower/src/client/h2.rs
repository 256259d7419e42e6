//! HTTP/2 with prior knowledge (h2c) to upstreams whose port speaks HTTP/2 (a ServiceEntry
//! port of protocol `HTTP2`, `GRPC` or `GRPC-WEB`, as Istio's cluster for it gets
//! `http2_protocol_options`). One multiplexed connection per endpoint address, opened on
//! first use and again after it closes.
//!
//! The request is sent with `:authority` taken from its `Host` header (the authority the
//! mesh routed on), not the endpoint's address, as Envoy does when it forwards an HTTP/1.1
//! request over HTTP/2; the connection goes to the endpoint's address.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::{Request, Response, Uri, Version};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tower::ServiceExt;

use super::guard::GuardedConnector;
use crate::BoxError;
use crate::body::BoxBody;
use crate::service::error::ConnectFailure;

/// At most this many endpoint connections are kept per pool (a client has one pool per
/// worker, see `HttpClient::per_worker`); past it the idle table starts afresh (connections
/// in use keep working; they are just not shared any more).
const MAX_CONNECTIONS: usize = 4096;

/// HTTP/2 connections to endpoints, by `address:port`.
#[derive(Clone, Debug)]
pub(crate) struct H2Pool {
    connector: GuardedConnector,
    conns: Arc<Mutex<HashMap<String, SendRequest<BoxBody>>>>,
}

impl H2Pool {
    pub(crate) fn new(connector: GuardedConnector) -> Self {
        H2Pool {
            connector,
            conns: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Sends `req` over HTTP/2 to `host:port` (an address, IPv6 in brackets).
    pub(crate) async fn send(
        &self,
        host: &str,
        port: u16,
        mut req: Request<BoxBody>,
    ) -> Result<Response<Incoming>, BoxError> {
        let key = format!("{host}:{port}");
        let authority = req
            .headers_mut()
            .remove(http::header::HOST)
            .and_then(|h| h.to_str().ok().map(str::to_owned))
            .filter(|h| h.parse::<http::uri::Authority>().is_ok())
            .unwrap_or_else(|| key.clone());
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        *req.uri_mut() = format!("http://{authority}{path}").parse::<Uri>()?;
        *req.version_mut() = Version::HTTP_2;
        let mut sender = self.sender(&key).await?;
        sender
            .ready()
            .await
            .map_err(|e| -> BoxError { Box::new(ConnectFailure(e.into())) })?;
        Ok(sender.send_request(req).await?)
    }

    async fn sender(&self, key: &str) -> Result<SendRequest<BoxBody>, BoxError> {
        if let Ok(conns) = self.conns.lock() {
            if let Some(s) = conns.get(key).filter(|s| !s.is_closed()) {
                return Ok(s.clone());
            }
        }
        let uri: Uri = format!("http://{key}").parse()?;
        let connect = |e: BoxError| -> BoxError { Box::new(ConnectFailure(e)) };
        let io = self.connector.clone().oneshot(uri).await.map_err(connect)?;
        let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(io)
            .await
            .map_err(|e| connect(e.into()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        if let Ok(mut conns) = self.conns.lock() {
            if conns.len() >= MAX_CONNECTIONS {
                conns.retain(|_, s| !s.is_closed());
                if conns.len() >= MAX_CONNECTIONS {
                    conns.clear();
                }
            }
            conns.insert(key.to_owned(), sender.clone());
        }
        Ok(sender)
    }
}
