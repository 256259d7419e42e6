//! The request sent upstream and its destination: each route's upstream head (rewritten
//! path, authority, request header operations, [`RouteInfo`]), the destination's state
//! ([`Dispatch`]), and mirrored copies.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Uri};
use mesh_route::RouteDestination;
use mesh_route::policy::OrderedOps;
use tower::ServiceExt;

use super::route::Cx;
use super::{Head, RouteInfo, Shared, Snapshot};
use crate::backend::EndpointService;
use crate::balance::{Dest, Dispatch};
use crate::body::{self, BoxBody};
use crate::metrics::Event;
use crate::service::error::MeshError;

/// The header with the attempt's number (1 for the first), which Envoy sets on every
/// forwarded request when the virtual host has `include_request_attempt_count`, as istiod
/// configures every virtual host (measured with Envoy 1.40: attempts `1` and `2` of a
/// retried request, and `1` on its mirrored copy, whatever the client sent).
const ATTEMPT_COUNT: header::HeaderName = header::HeaderName::from_static("x-envoy-attempt-count");

/// The value of [`ATTEMPT_COUNT`] for attempt `attempt` (0 for the first).
fn attempt_count(attempt: u32) -> HeaderValue {
    const FIRST: [&str; 8] = ["1", "2", "3", "4", "5", "6", "7", "8"];
    match FIRST.get(attempt as usize) {
        Some(n) => HeaderValue::from_static(n),
        None => HeaderValue::from(attempt.saturating_add(1)),
    }
}

/// The request sent upstream, without its body: each attempt's request is built from the
/// received head, with the route's header operations applied.
pub(super) struct UpstreamHead<'a> {
    head: &'a Head<'a>,
    /// The upstream path and query (rewritten or not).
    path: &'a str,
    authority: &'a str,
    /// The request header operations, in Envoy's order.
    ops: OrderedOps<'a>,
    /// The rewritten target; `None` when the path is unchanged (the received target is
    /// sent).
    uri: Option<Uri>,
    info: RouteInfo,
}

impl<'a> UpstreamHead<'a> {
    pub(super) fn new(
        head: &'a Head<'a>,
        path: &'a str,
        authority: &'a str,
        ops: OrderedOps<'a>,
        info: RouteInfo,
    ) -> Self {
        // The request's own target when the path is unchanged (cloned per attempt), else
        // the rewritten path.
        let unchanged = head
            .parts
            .uri
            .path_and_query()
            .is_some_and(|pq| pq.as_str() == path);
        let uri = (!unchanged).then(|| {
            path.parse::<Uri>()
                .unwrap_or_else(|_| Uri::from_static("/"))
        });
        UpstreamHead {
            head,
            path,
            authority,
            ops,
            uri,
            info,
        }
    }

    fn headers(&self) -> HeaderMap {
        let head = self.head;
        let received = &head.parts.headers;
        // Nothing to change (no operation, the path as received, one `Host` that is the
        // authority routed on): the received map cloned whole, without hashing each name
        // into a new map again (a tenth of the cost, for a browser's dozen headers).
        // (An absolute-form target, as HTTP/2's, comes without a `Host` to keep.)
        if head.parts.uri.authority().is_none() && self.path == head.path && self.ops.is_empty() {
            let mut hosts = received.get_all(header::HOST).iter();
            if hosts
                .next()
                .is_some_and(|h| h.as_bytes() == self.authority.as_bytes())
                && hosts.next().is_none()
            {
                return received.clone();
            }
        }
        // A copy with room for the Host, `x-envoy-original-path` and attempt count inserts
        // (and a few of the operations' additions): a clone is made to the received map's exact size, and
        // the first insert into it reallocated the whole copy. Same names, values and order.
        let mut headers = HeaderMap::with_capacity(received.len() + 5);
        // The received Host headers, counted on the way (the copy is not searched again
        // unless an operation names Host).
        let (mut hosts, mut host_matches) = (0usize, false);
        for (name, value) in received {
            if name == header::HOST {
                hosts += 1;
                host_matches = value.as_bytes() == self.authority.as_bytes();
            }
            headers.append(name.clone(), value.clone());
        }
        let side = self.ops.side();
        let mut host_op = false;
        for op in self.ops.clone() {
            host_op |= op.name() == header::HOST;
            op.apply(&mut headers, side);
        }
        if self.path != head.path {
            if let Ok(v) = HeaderValue::from_str(head.path) {
                headers.insert("x-envoy-original-path", v);
            }
        }
        // Keep the Host header only when it is the one authority routed on: a request with
        // several Host headers is routed on their joined value (`request_host`), and the
        // upstream gets that one value only, never a second header it might read instead.
        let same = if host_op {
            let mut hosts = headers.get_all(header::HOST).iter();
            hosts
                .next()
                .is_some_and(|h| h.as_bytes() == self.authority.as_bytes())
                && hosts.next().is_none()
        } else {
            hosts == 1 && host_matches
        };
        if !same {
            if let Ok(v) = HeaderValue::from_str(self.authority) {
                headers.insert(header::HOST, v);
            }
        }
        headers
    }

    /// The first attempt's request.
    pub(super) fn request(&self, body: BoxBody) -> Request<BoxBody> {
        self.attempt(body, 0)
    }

    /// The request of attempt `attempt` (0 for the first), built from the received head.
    fn attempt(&self, body: BoxBody, attempt: u32) -> Request<BoxBody> {
        let parts = &self.head.parts;
        let mut r = Request::new(body);
        *r.method_mut() = parts.method.clone();
        *r.uri_mut() = self.uri.as_ref().unwrap_or(&parts.uri).clone();
        *r.version_mut() = parts.version;
        *r.headers_mut() = self.headers();
        r.headers_mut()
            .insert(ATTEMPT_COUNT, attempt_count(attempt));
        *r.extensions_mut() = parts.extensions.clone();
        let mut info = self.info.clone();
        info.attempt = attempt;
        r.extensions_mut().insert(info);
        r
    }
}

impl crate::retry::policy::Rebuild for UpstreamHead<'_> {
    fn request(&self, body: BoxBody, attempt: u32) -> Request<BoxBody> {
        self.attempt(body, attempt)
    }
}

/// A copy of `req`'s head (method, target, version, headers, extensions) with `body`.
fn copy_request(req: &Request<BoxBody>, body: BoxBody) -> Request<BoxBody> {
    let mut r = Request::new(body);
    *r.method_mut() = req.method().clone();
    *r.uri_mut() = req.uri().clone();
    *r.version_mut() = req.version();
    *r.headers_mut() = req.headers().clone();
    *r.extensions_mut() = req.extensions().clone();
    r
}

/// The state, and the metrics' destination, of requests to hosts no resource knows
/// (Envoy's cluster of that name).
pub(crate) const PASSTHROUGH_CLUSTER: &str = "PassthroughCluster";

/// The destination's state and where its requests go.
pub(super) fn dispatch_for(
    shared: &Shared,
    snapshot: &Snapshot,
    host: &str,
    dest: Option<&RouteDestination>,
    port: u16,
) -> Result<Dispatch, MeshError> {
    let empty = BTreeMap::new();
    let labels = match dest {
        Some(d) => d.subset_labels.as_ref().ok_or_else(|| {
            MeshError::ClusterNotFound(format!("outbound|{port}|{}|{host}", d.subset))
        })?,
        None => &empty,
    };
    let policy = dest.map_or(&shared.default_policy, |d| &d.policy.for_port(port).cluster);
    let key = Dest {
        host,
        subset: dest.map_or("", |d| d.subset.as_str()),
        port,
    };
    let backends = &snapshot.backends;
    match shared
        .clusters
        .get(backends, snapshot.generation, key, labels, policy)
    {
        Some(c) => Ok(Dispatch::Cluster(c)),
        // Hosts no resource knows share one state, as in Envoy, whatever the client sent:
        // per-host state (and metric series) would grow with every Host header.
        None if dest.is_none() => Ok(Dispatch::Inner(shared.clusters.inner_cluster(
            Dest {
                host: PASSTHROUGH_CLUSTER,
                subset: "",
                port: 0,
            },
            labels,
            policy,
        ))),
        // A destination without registered endpoints, when the layer has backends for other
        // hosts: Envoy's answer for a cluster without endpoints. With no backends at all the
        // inner service is the upstream of every route, unless the options say it is not.
        None if !backends.is_empty() || !shared.options.inner_serves_unregistered => {
            Err(MeshError::NoHealthyUpstream)
        }
        None => Ok(Dispatch::Inner(
            shared.clusters.inner_cluster(key, labels, policy),
        )),
    }
}

/// Sends a copy of the request (`req`, whose body is not read, with `bytes`) to `mirror`'s
/// destination, fire and forget: bounded by the mirror queue, and by the route timeout
/// (`timeout`), as Envoy's shadow requests are.
pub(super) fn send_mirror<I: super::Inner>(
    cx: Cx<'_>,
    inner: &I,
    mirror: &mesh_route::Mirror,
    req: &Request<BoxBody>,
    (bytes, timeout): (Bytes, Option<Duration>),
) {
    let shared = cx.shared;
    let Ok(permit) = shared.mirrors.clone().try_acquire_owned() else {
        shared.metrics.record(Event::MirrorDropped);
        return;
    };
    let d = &mirror.destination;
    let port = d.port_for(cx.view.port());
    let Ok(dispatch) = dispatch_for(shared, cx.head.snapshot, &d.host, Some(d), port) else {
        shared.metrics.record(Event::MirrorDropped);
        return;
    };
    let mut req = copy_request(req, body::full(bytes));
    if let Some(info) = req.extensions_mut().get_mut::<RouteInfo>() {
        let cluster = dispatch.cluster();
        info.host = cluster.key.host.clone();
        info.subset = cluster.key.subset.clone();
        info.port = port;
        info.subset_labels = Some(cluster.labels().clone());
        info.mirror = true;
    }
    if shared.options.shadow_host_suffix {
        if let Some(host) = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
        {
            let shadow = shadow_host(host);
            if let Ok(v) = HeaderValue::from_str(&shadow) {
                req.headers_mut().insert(header::HOST, v);
            }
        }
    }
    let svc = match &dispatch {
        Dispatch::Cluster(c) => {
            let headers = HeaderMap::new();
            let view = mesh_match::RequestView::new("GET", "http", "", "/", &headers);
            let hash = c.policy().load_balancer.hash(&view);
            match c.pick(hash, &shared.rng, &[], &shared.metrics) {
                Some(i) => c.members[i].endpoint.service.clone(),
                None => {
                    shared.metrics.record(Event::MirrorDropped);
                    return;
                }
            }
        }
        Dispatch::Inner(_) => EndpointService::new(inner.clone()),
    };
    shared.metrics.record(Event::MirrorSent);
    // Boxed: the copy's task is spawned anyway, and rustc cannot prove a `Send` task
    // through the unboxed service's higher-ranked bounds.
    let call: std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<http::Response<BoxBody>, crate::BoxError>>
                + Send,
        >,
    > = Box::pin(svc.oneshot(req));
    tokio::spawn(async move {
        let _permit = permit;
        // The response is discarded; errors of the copy never reach the client. Like
        // Envoy's shadow requests, a copy is bounded by the route timeout, so a hung mirror
        // frees its queue slot when the primary would have timed out.
        match timeout {
            Some(t) => {
                let _ = tokio::time::timeout(t, call).await;
            }
            None => {
                let _ = call.await;
            }
        }
    });
}

/// `reviews:9080` -> `reviews-shadow:9080` (Envoy appends the suffix to the host part).
pub(crate) fn shadow_host(host: &str) -> String {
    match mesh_match::authority_port(host) {
        Some(_) => {
            let h = mesh_match::authority_host(host);
            format!("{h}-shadow{}", &host[h.len()..])
        }
        None => format!("{host}-shadow"),
    }
}
