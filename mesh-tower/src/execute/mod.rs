//! One request through the mesh, in Envoy's order: the edge guards (loop detection, stream
//! idle timeout), hygiene, normalization and the decision here; the decision's execution, a
//! short composition of the policy middleware per route, in [`route`]; the upstream request
//! and its destination in [`upstream`].

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName};
use http::{Request, Response, StatusCode};
use mesh_match::{RequestView, normalize_target};
use mesh_route::RouteTable;
use mesh_route::policy::{LocalReply, OrderedOps, ReplyTo};
use tokio::sync::Semaphore;
use tower::Service;
use tracing::Instrument;

use crate::backend::Backends;
use crate::balance::Clusters;
use crate::body::{self, BoxBody};
use crate::flags::ResponseFlags;
use crate::metrics::{InFlight, Metrics, Outcome, Routed};
use crate::options::Options;
use crate::rng::Samples;
use crate::service::error::MeshError;

mod route;
mod upstream;

/// The inner service as the policies call it (its response body boxed, its error a
/// `BoxError`), by its own type: no box per request.
pub(crate) trait Inner:
    Service<
        Request<BoxBody>,
        Response = Response<BoxBody>,
        Error = crate::BoxError,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> Inner for T where
    T: Service<
            Request<BoxBody>,
            Response = Response<BoxBody>,
            Error = crate::BoxError,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// The client's address, for `useSourceIp` hashing and sticky splits, and for a gateway's
/// `x-forwarded-for` and `x-envoy-external-address`: insert it into the request's extensions
/// (a proxy does this from its accepted connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::SocketAddr);

/// What the mesh decided, attached (as a request extension) to every request the layer
/// forwards: to an endpoint's service, and to the inner service when it answers a
/// passthrough request (a host no resource knows) or a destination without registered
/// endpoints. Requests the layer answers itself (no route, redirect, direct response,
/// fault abort, CORS preflight, local replies) reach no service and carry none.
///
/// Its strings are shared (`Arc`) with the route table and the destination's state, so that
/// attaching it to every attempt copies nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// The VirtualService (`namespace/name`), if one matched.
    pub virtual_service: Option<Arc<str>>,
    /// The rule's index in it.
    pub rule: Option<usize>,
    /// The rule's name.
    pub rule_name: Arc<str>,
    /// The destination host (FQDN).
    pub host: Arc<str>,
    /// The subset, empty for none.
    pub subset: Arc<str>,
    /// The destination port.
    pub port: u16,
    /// Labels that select the subset's endpoints (`None`: the subset is not defined).
    pub subset_labels: Option<Arc<BTreeMap<String, String>>>,
    /// The attempt (0 for the first try).
    pub attempt: u32,
    /// Whether this is a mirrored copy.
    pub mirror: bool,
}

/// The route table and the backends it routes to: swapped together, read once per request,
/// so that no request decides with one table and dispatches with another's backends.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) table: Arc<RouteTable>,
    pub(crate) backends: Arc<Backends>,
    /// Distinct for every set of backends, so that clusters pick up new endpoints.
    pub(crate) generation: u64,
}

/// State shared by every clone of the service.
pub(crate) struct Shared {
    pub(crate) state: ArcSwap<Snapshot>,
    /// The last generation handed out to a set of backends.
    pub(crate) generations: AtomicU64,
    pub(crate) clusters: Clusters,
    /// The policy of destinations no DestinationRule applies to (passthrough).
    pub(crate) default_policy: Arc<mesh_route::policy::ClusterPolicy>,
    pub(crate) options: Options,
    pub(crate) metrics: Metrics,
    pub(crate) rng: Samples,
    /// Draws request ids (`x-request-id`, [`crate::forwarding`]): apart from `rng`, so
    /// that routing's samples do not depend on whether requests carry an id.
    pub(crate) ids: Samples,
    pub(crate) mirrors: Arc<Semaphore>,
    pub(crate) source_namespace: String,
    pub(crate) source_app: String,
    pub(crate) source_version: String,
    /// The id this layer marks requests with (`CDN-Loop`).
    pub(crate) loop_id: crate::loop_detect::LoopId,
    /// Automated canaries (see [`crate::rollout`]).
    pub(crate) rollouts: crate::rollout::Rollouts,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("identity", self.state.load().table.identity())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// What the request looked like when it arrived, borrowed from its parts.
struct Head<'a> {
    /// The table the request is decided with and the backends it is dispatched to.
    snapshot: &'a Snapshot,
    /// Method, target as received, version, headers and extensions.
    parts: &'a http::request::Parts,
    /// An explicit `:scheme` (HTTP/2, or an absolute-form target).
    scheme: Option<&'a str>,
    authority: &'a str,
    /// The normalized path and query.
    path: &'a str,
}

/// A local reply as a response: the reply's status, body and headers (see
/// [`LocalReply::headers`]), after the `Location` and response header operations.
pub(crate) fn reply_response(
    reply: &LocalReply<'_>,
    location: Option<&str>,
    ops: Option<OrderedOps<'_>>,
) -> Response<BoxBody> {
    let mut r = Response::new(if reply.body.is_empty() {
        body::empty()
    } else {
        body::full(Bytes::copy_from_slice(&reply.body))
    });
    *r.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    *r.headers_mut() = reply.headers(location, ops);
    r
}

/// Routes requests with the layer's shared state to their destinations, `inner` answering
/// for the inner service: the service under [`Count`](crate::metrics::Count). Its one
/// box per request holds the request's whole state.
pub(crate) struct Router<I> {
    shared: Arc<Shared>,
    inner: Option<I>,
    /// How the request's local replies answer the client.
    to: ReplyTo,
}

impl<I> std::fmt::Debug for Router<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").finish_non_exhaustive()
    }
}

impl<I> Router<I> {
    /// Routes one request (the inner service is used by it alone); `to` is how its local
    /// replies answer the client ([`ReplyTo::of`] the request).
    pub(crate) fn new(shared: Arc<Shared>, inner: I, to: ReplyTo) -> Self {
        Router {
            shared,
            inner: Some(inner),
            to,
        }
    }
}

/// The future of [`Router`]: the request's one box.
pub(crate) type RouterFuture = Pin<Box<dyn Future<Output = Result<Routed, Infallible>> + Send>>;

impl<I: Inner> Service<Request<BoxBody>> for Router<I> {
    type Response = Routed;
    type Error = Infallible;
    type Future = RouterFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<BoxBody>) -> Self::Future {
        let shared = self.shared.clone();
        // The request's whole state in one box, built by one async function (each level
        // of nested futures is one more copy of the state when it is made).
        // Allocated first and then written: the future is made in place, not made on the
        // stack and copied into a new box (`Box::pin(routed(..))` copied its 3.6 KB).
        let boxed = Box::new_uninit();
        let routed: Pin<Box<_>> = Box::into_pin(Box::write(
            boxed,
            routed(shared, self.inner.take(), req, self.to),
        ));
        routed
    }
}

/// The result of a request and the headers of its local reply, if it gets one.
type Answer = (Result<Response<BoxBody>, MeshError>, HeaderMap);

/// A request routed ([`route`]) behind the edge guards that every embedding gets: loop
/// detection (the `CDN-Loop` mark, [`crate::loop_detect`]) and the stream idle timeout
/// ([`crate::idle`]); with its outcome for the metrics. (One async function: each level of
/// nested futures is one more copy of the request's state when it is made.)
async fn routed<I: Inner>(
    shared: Arc<Shared>,
    inner: Option<I>,
    mut req: Request<BoxBody>,
    to: ReplyTo,
) -> Result<Routed, Infallible> {
    // Counted as a client that went away (code 0; `DC` over HTTP/1) if dropped before
    // it is answered.
    let mut request = InFlight::new(shared, req.version());
    let shared = &request.shared;
    let outcome = &mut request.outcome;
    let (result, reply_headers) = 'answer: {
        let Some(inner) = inner else {
            break 'answer (Err(MeshError::NoRoute), HeaderMap::new());
        };
        if let Err(e) = shared.loop_id.check_and_mark(req.headers_mut()) {
            break 'answer (Err(e), HeaderMap::new());
        }
        let Some(timeout) = shared.options.stream_idle_timeout else {
            let (parts, body) = req.into_parts();
            break 'answer route(shared, inner, parts, body, to, outcome).await;
        };
        let activity = if http_body::Body::is_end_stream(req.body()) {
            None
        } else {
            let activity = crate::idle::Activity::new(false);
            let req_body = std::mem::replace(req.body_mut(), body::empty());
            *req.body_mut() = crate::idle::RequestBody::wrap(req_body, activity.clone());
            Some(activity)
        };
        let watched = {
            let (parts, body) = req.into_parts();
            let fut = std::pin::pin!(route(shared, inner, parts, body, to, outcome));
            crate::idle::watch(timeout, activity.as_deref(), fut).await
        };
        match watched {
            Some((result, headers)) => (
                result.map(|r| r.map(|b| crate::idle::ResponseBody::wrap(b, timeout))),
                headers,
            ),
            None => {
                outcome.flags.insert(ResponseFlags::STREAM_IDLE_TIMEOUT);
                let e = MeshError::StreamIdle {
                    request_complete: activity.as_deref().is_none_or(|a| a.request_complete()),
                };
                (Err(e), HeaderMap::new())
            }
        }
    };
    Ok(request.answered(result, reply_headers))
}

/// What the local reply of a mesh error carries besides the error (see
/// [`Mode::finish`](crate::Mode::finish)).
#[derive(Clone, Debug, Default)]
pub struct ReplyContext {
    /// The request: a gRPC client gets the reply as a gRPC response.
    pub to: ReplyTo,
    /// What Envoy puts on the reply before finishing it: the response header operations
    /// of the forwarding rule that failed (see [`mesh_route::policy::modified`]).
    pub headers: HeaderMap,
}

/// The authority of an origin-form request, from its `Host` header. Several `Host` headers
/// are joined with `,` into one authority, as Envoy's HTTP/1 codec joins repeated inline
/// headers (measured with Envoy 1.40: `Host: a` + `Host: b` routes, and reaches the upstream,
/// as `a,b`; no virtual host has that name, so a gateway answers 404). Borrowed in the usual
/// case of one header.
fn request_host(headers: &http::HeaderMap) -> Option<std::borrow::Cow<'_, str>> {
    let mut all = headers.get_all(header::HOST).iter();
    let first = all.next()?.to_str().ok()?;
    let Some(second) = all.next() else {
        return Some(std::borrow::Cow::Borrowed(first));
    };
    let mut joined = String::from(first);
    for v in std::iter::once(second).chain(all) {
        joined.push(',');
        joined.push_str(v.to_str().ok()?);
    }
    Some(std::borrow::Cow::Owned(joined))
}

/// Hygiene, normalization and the decision; then its execution ([`route::execute`]) inside
/// the request's span.
async fn route<I: Inner>(
    shared: &Arc<Shared>,
    inner: I,
    // The request's parts, not the request: an async function keeps its arguments for its
    // whole life, so a request taken apart here would be kept twice.
    mut parts: http::request::Parts,
    body: BoxBody,
    to: ReplyTo,
    outcome: &mut Outcome,
) -> Answer {
    if let Err(refusal) = crate::hygiene::check_request(&mut parts, shared.options.accept_http_10) {
        outcome.flags.insert(refusal.flags);
        return (Err(refusal.error), HeaderMap::new());
    }
    // Envoy's codec keeps one, comma-joined value of a repeated inline header: routing and
    // the upstream see that value.
    mesh_match::inline::coalesce_request(&mut parts.headers);
    let snapshot = shared.state.load_full();
    // Then its connection manager's headers, before routing (`x-request-id`, ...).
    let client = parts.extensions.get::<ClientAddr>().map(|c| c.0.ip());
    crate::forwarding::set_request_headers(
        &mut parts.headers,
        matches!(
            snapshot.table.identity(),
            mesh_route::Identity::Gateway { .. }
        ),
        client,
        &shared.ids,
    );
    let joined_hosts;
    let authority = match parts.uri.authority() {
        Some(a) => a.as_str(),
        None => {
            joined_hosts = request_host(&parts.headers);
            joined_hosts.as_deref().unwrap_or_default()
        }
    };
    let scheme = parts.uri.scheme_str();
    let raw_path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let path = match normalize_target(raw_path, shared.options.path_normalization) {
        Ok(p) => p,
        Err(e) => return (Err(e.into()), HeaderMap::new()),
    };
    let head = Head {
        snapshot: &snapshot,
        parts: &parts,
        scheme,
        authority,
        path: &path,
    };
    let table = &snapshot.table;
    // The connection is plain HTTP as far as the layer knows; `x-forwarded-proto` can make
    // the request's `:scheme` https, as with Envoy, unless the request names its scheme.
    let mut view = RequestView::new(
        parts.method.as_str(),
        head.scheme.unwrap_or("http"),
        head.authority,
        head.path,
        &parts.headers,
    );
    if let Some(s) = head.scheme {
        view = view.with_scheme(s);
    }
    if let Some(p) = shared.options.listener_port {
        view = view.with_port(p);
    }
    if let Some(ip) = client {
        view = view.with_remote_ip(ip);
    }
    let sample = shared.rng.next_u64();
    let decision = table.decide(&view, sample);
    shared
        .rollouts
        .observe_candidate(shared, &view, sample, &decision);
    if let Some(probe) = shared.rollouts.probe_for(shared, &decision) {
        outcome.rollout = Some((probe, tokio::time::Instant::now()));
    }
    let span = tracing::debug_span!(
        "mesh",
        outcome = decision.outcome(),
        vs = tracing::field::Empty,
        rule = tracing::field::Empty,
        destination = tracing::field::Empty,
    );
    if let (Some(m), false) = (decision.matched(), span.is_disabled()) {
        if let Some(vs) = &m.rule().virtual_service {
            span.record(
                "vs",
                tracing::field::display(format_args!("{}/{}", vs.namespace, vs.name)),
            );
        }
        span.record("rule", m.rule().index);
    }
    let cx = route::Cx {
        shared,
        head: &head,
        view: &view,
        to,
        outcome,
        span: &span,
    };
    // Inside the request's span when one is recorded; without the wrapper otherwise.
    if span.is_disabled() {
        route::execute(cx, &decision, inner, body).await
    } else {
        route::execute(cx, &decision, inner, body)
            .instrument(span.clone())
            .await
    }
}

/// `grpc-status`, parsed once.
pub(crate) const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
