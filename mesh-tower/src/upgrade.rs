//! Websocket upgrades carried through the layer: Istio enables websocket upgrades on its
//! listeners (`upgrade_configs: [{upgrade_type: websocket}]`), and Envoy then relays the
//! upstream's `101 Switching Protocols` and the bytes both ways until either side closes.
//!
//! The one place where the layer does this: when an upstream answers a request that asked
//! for `Upgrade: websocket` with 101, the client's connection (hyper's `OnUpgrade` in the
//! received request's extensions, as hyper and axum servers put it there) and the
//! upstream's (in the response's extensions, as hyper's client puts it there) are joined
//! once both have switched, and bytes are copied both ways; a close or an error on one
//! side shuts the other down. Other upgrades (`h2c`) are not carried.

use http::{Extensions, HeaderMap, Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::body::BoxBody;

/// Whether a request asks for a websocket upgrade.
pub(crate) fn wants_websocket(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::UPGRADE)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// Joins the client's and the upstream's connections when `response` switches protocols.
pub(crate) fn splice(
    request: &Extensions,
    request_headers: &HeaderMap,
    response: &mut Response<BoxBody>,
) {
    if response.status() != StatusCode::SWITCHING_PROTOCOLS || !wants_websocket(request_headers) {
        return;
    }
    let (Some(downstream), Some(upstream)) = (
        request.get::<OnUpgrade>().cloned(),
        response.extensions_mut().remove::<OnUpgrade>(),
    ) else {
        return;
    };
    tokio::spawn(async move {
        let (Ok(down), Ok(up)) = (downstream.await, upstream.await) else {
            return;
        };
        let (mut down, mut up) = (TokioIo::new(down), TokioIo::new(up));
        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
    });
}
