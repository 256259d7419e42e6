//! One request through the mesh, in Envoy's order: normalize and decide; CORS preflight;
//! fault (delay, then abort); redirect or direct response; rewrite and request headers;
//! mirrors; route timeout around retries with per-try timeouts, back-off and budget;
//! response headers; metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use mesh_match::{RequestView, normalize_target};
use mesh_route::policy::{CorsPolicy, LocalReply, OrderedOps, ReplyTo, RetryOn, RetryPolicy};
use mesh_route::{Decision, RouteDestination, RouteTable, Rule, Side, Target};
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tracing::Instrument;

use crate::BoxError;
use crate::backend::{Backends, EndpointService};
use crate::body::{self, BoxBody, Buffered};
use crate::cluster::{AttemptResult, Cluster, Clusters, Dest, Overflow};
use crate::flags::ResponseFlags;
use crate::metrics::{Event, Metrics, RequestLabels};
use crate::options::Options;
use crate::rng::Samples;
use crate::service::error::MeshError;
use crate::upstream::{Failure, classify};

/// The client's address, for `useSourceIp` hashing and sticky splits: insert it into the
/// request's extensions (a proxy does this from its accepted connection).
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

/// The outcome of one request, for metrics.
struct Outcome {
    flags: ResponseFlags,
    /// The destination host, once known (`unknown` in the metrics otherwise).
    host: Option<Arc<str>>,
    /// The destination's `version` label, or its subset's name.
    subset_version: Option<Arc<str>>,
    /// The destination's state, when the request got that far: its metric series are
    /// cached there.
    cluster: Option<Arc<Cluster>>,
    /// What Envoy puts on a local reply for a mesh error of the request: the matched
    /// forwarding rule's response header operations.
    reply_headers: HeaderMap,
    /// The counters of the rollout whose canary the request picked, and when it did.
    rollout: Option<(Arc<crate::rollout::Probe>, tokio::time::Instant)>,
}

/// Handles one request; never fails in a way the caller must see as a transport error:
/// mesh errors are returned as `Err(MeshError)` for the caller's mode to turn into a
/// response or an error, with what its local reply carries.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    inner: EndpointService,
    req: Request<BoxBody>,
    to: ReplyTo,
) -> (Result<Response<BoxBody>, MeshError>, ReplyContext) {
    let started = Instant::now();
    let mut outcome = Outcome {
        flags: ResponseFlags::NONE,
        host: None,
        subset_version: None,
        cluster: None,
        reply_headers: HeaderMap::new(),
        rollout: None,
    };
    let result = guarded(&shared, inner, req, &mut outcome).await;
    // A mesh error is answered as a local reply: to a gRPC client, HTTP 200 with the
    // mapped grpc-status, as the metrics report it.
    let (code, grpc_status) = match &result {
        Ok(r) => (
            r.status().as_u16(),
            r.headers()
                .get(&GRPC_STATUS)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
        ),
        Err(e) if to.grpc => (
            200,
            mesh_route::policy::local_reply::http_to_grpc_status(e.status().as_u16()).to_string(),
        ),
        Err(e) => (e.status().as_u16(), String::new()),
    };
    let context = ReplyContext {
        to,
        headers: std::mem::take(&mut outcome.reply_headers),
    };
    let record = Record {
        shared,
        outcome,
        code,
        grpc_status,
        started,
    };
    let mut result = result;
    // An upgraded connection's tunnel counts the request when it closes.
    let deferred = result
        .as_mut()
        .ok()
        .and_then(|r| r.extensions_mut().remove::<crate::completion::Deferred>());
    if let Some(deferred) = deferred {
        deferred.hand_over(move |flags| record.finish(flags));
        return (result, context);
    }
    let result = match result {
        // Counted when the body ends, so that a body the upstream cuts is counted with
        // `UPE`, never as a complete answer.
        Ok(r) if !http_body::Body::is_end_stream(r.body()) => {
            Ok(r.map(|b| crate::completion::counted(b, move |flags| record.finish(flags))))
        }
        other => {
            record.finish(ResponseFlags::NONE);
            other
        }
    };
    (result, context)
}

/// A request's outcome, counted in Istio's metrics once its response has ended.
pub(crate) struct Record {
    shared: Arc<Shared>,
    outcome: Outcome,
    code: u16,
    grpc_status: String,
    started: Instant,
}

impl Record {
    /// Counts the request, with `extra` flags (how its response body ended).
    pub(crate) fn finish(mut self, extra: ResponseFlags) {
        self.outcome.flags.insert(extra);
        let (shared, outcome, code) = (&self.shared, &self.outcome, self.code);
        let grpc_status = self.grpc_status.as_str();
        let elapsed_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        // Fast path: the destination's cached series for this code, flags and gRPC status.
        let cached = outcome
            .cluster
            .as_ref()
            .and_then(|c| c.series(code, outcome.flags, grpc_status));
        let (counter, histogram) = match cached {
            Some(series) => series,
            None => {
                let labels = request_labels(shared, outcome, code, grpc_status);
                let counter = shared.metrics.requests.get_or_create(&labels).clone();
                let histogram = shared.metrics.duration.get_or_create(&labels).clone();
                if let Some(c) = &outcome.cluster {
                    c.remember_series(code, outcome.flags, grpc_status, &counter, &histogram);
                }
                (counter, histogram)
            }
        };
        counter.inc();
        histogram.observe(elapsed_ms);
        if let Some((probe, picked)) = &outcome.rollout {
            probe.record(code, outcome.flags, picked.elapsed());
        }
        tracing::debug!(
            status = code,
            flags = %outcome.flags,
            destination = outcome.host.as_deref().unwrap_or(""),
            "mesh request done"
        );
    }
}

/// [`route`] behind the edge guards that every embedding gets: loop detection (the
/// `CDN-Loop` mark, [`crate::loop_detect`]) and the stream idle timeout ([`crate::idle`]).
async fn guarded(
    shared: &Arc<Shared>,
    inner: EndpointService,
    mut req: Request<BoxBody>,
    outcome: &mut Outcome,
) -> Result<Response<BoxBody>, MeshError> {
    shared.loop_id.check_and_mark(req.headers_mut())?;
    let Some(timeout) = shared.options.stream_idle_timeout else {
        return route(shared, inner, req, outcome).await;
    };
    let activity = if http_body::Body::is_end_stream(req.body()) {
        None
    } else {
        let activity = crate::idle::Activity::new(false);
        let req_body = std::mem::replace(req.body_mut(), body::empty());
        *req.body_mut() = crate::idle::RequestBody::wrap(req_body, activity.clone());
        Some(activity)
    };
    let routed = {
        let fut = std::pin::pin!(route(shared, inner, req, outcome));
        crate::idle::watch(timeout, activity.as_deref(), fut).await
    };
    match routed {
        Some(result) => result.map(|r| r.map(|b| crate::idle::ResponseBody::wrap(b, timeout))),
        None => {
            outcome.flags.insert(ResponseFlags::STREAM_IDLE_TIMEOUT);
            Err(MeshError::StreamIdle {
                request_complete: activity.as_deref().is_none_or(|a| a.request_complete()),
            })
        }
    }
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

/// The labels of Istio's request metrics for one outcome.
fn request_labels(
    shared: &Shared,
    outcome: &Outcome,
    code: u16,
    grpc_status: &str,
) -> RequestLabels {
    let unknown = |s: &str| {
        if s.is_empty() {
            "unknown".to_owned()
        } else {
            s.to_owned()
        }
    };
    let host = outcome.host.as_deref().unwrap_or("");
    let (name, namespace) = mesh_route::host::split_service_fqdn(host).unwrap_or((host, ""));
    RequestLabels {
        reporter: "source",
        source_workload_namespace: shared.source_namespace.clone(),
        source_app: shared.source_app.clone(),
        source_version: shared.source_version.clone(),
        destination_service: unknown(host),
        destination_service_name: unknown(name),
        destination_service_namespace: unknown(namespace),
        destination_version: unknown(outcome.subset_version.as_deref().unwrap_or("")),
        request_protocol: if grpc_status.is_empty() {
            "http"
        } else {
            "grpc"
        },
        response_code: code,
        grpc_response_status: grpc_status.to_owned(),
        response_flags: outcome.flags.to_string(),
    }
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

async fn route(
    shared: &Arc<Shared>,
    inner: EndpointService,
    req: Request<BoxBody>,
    outcome: &mut Outcome,
) -> Result<Response<BoxBody>, MeshError> {
    let (mut parts, body) = req.into_parts();
    if let Err(refusal) = crate::hygiene::check_request(&mut parts, shared.options.accept_http_10) {
        outcome.flags.insert(refusal.flags);
        return Err(refusal.error);
    }
    // Envoy's codec keeps one, comma-joined value of a repeated inline header: routing and
    // the upstream see that value.
    mesh_match::inline::coalesce_request(&mut parts.headers);
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
    let path = normalize_target(raw_path, shared.options.path_normalization)?;
    let snapshot = shared.state.load_full();
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
    if let Some(ClientAddr(addr)) = parts.extensions.get::<ClientAddr>() {
        view = view.with_remote_ip(addr.ip());
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
    let instrument = span.clone();
    execute(shared, inner, &head, &view, decision, body, outcome, &span)
        .instrument(instrument)
        .await
}

/// Executes a decision; runs inside the request's span.
#[allow(clippy::too_many_arguments)]
async fn execute(
    shared: &Arc<Shared>,
    inner: EndpointService,
    head: &Head<'_>,
    view: &RequestView<'_>,
    decision: Decision<'_>,
    body: BoxBody,
    outcome: &mut Outcome,
    span: &tracing::Span,
) -> Result<Response<BoxBody>, MeshError> {
    let to = ReplyTo::of(head.parts.method.as_str(), &head.parts.headers);
    match decision {
        Decision::NoRoute(_) => {
            outcome.flags.insert(ResponseFlags::NO_ROUTE);
            Err(MeshError::NoRoute)
        }
        Decision::Redirect { .. } | Decision::DirectResponse { .. } => {
            // A delegated rule can carry the root's fault with a redirect or a direct
            // response: Envoy's fault filter runs first.
            // Their abort's reply carries no header operations (Envoy has no route entry
            // for a redirect or a direct response to take them from).
            if let Some(rule) = decision.matched().map(|m| m.rule()) {
                if let Some(r) = inject_faults(shared, rule, to, None, outcome).await {
                    return Ok(r);
                }
            }
            let reply = decision
                .local_reply(to)
                .unwrap_or_else(|| mesh_route::policy::local_reply(500, &[], to, None));
            Ok(reply_response(
                &reply,
                decision.location(view).as_deref(),
                Some(decision.header_ops(Side::Response)),
            ))
        }
        Decision::Route { rule, target, .. } => {
            let headers = &head.parts.headers;
            // CORS preflight, before faults (Istio's filter order).
            if let Some(cors) = &rule.cors
                && cors.answers_preflight(&head.parts.method, headers)
            {
                note_destination(outcome, &target);
                return Ok(preflight_response(cors, headers));
            }
            // Envoy's local replies for the requests of a forwarding rule carry its (and its
            // destination's) response header operations.
            let ops = decision.header_ops(Side::Response);
            if let Some(r) = inject_faults(shared, rule, to, Some(ops.clone()), outcome).await {
                note_destination(outcome, &target);
                return Ok(r);
            }
            let result =
                forward_decision(shared, inner, head, view, &decision, body, outcome, span).await;
            if result.is_err() {
                ops.apply(&mut outcome.reply_headers);
            }
            result
        }
    }
}

/// Forwards a request the decision routes (after CORS and faults): dispatch, rewrite and
/// request headers, mirrors, timeout around retries, response headers.
#[allow(clippy::too_many_arguments)]
async fn forward_decision(
    shared: &Arc<Shared>,
    inner: EndpointService,
    head: &Head<'_>,
    view: &RequestView<'_>,
    decision: &Decision<'_>,
    body: BoxBody,
    outcome: &mut Outcome,
    span: &tracing::Span,
) -> Result<Response<BoxBody>, MeshError> {
    let Decision::Route {
        matched,
        rule,
        target,
        ..
    } = *decision
    else {
        return Err(MeshError::NoRoute);
    };
    let upstream_path = decision.upstream_path(view);
    let upstream_authority = decision.upstream_authority(view);
    let dest = target.destination();
    let port = target.port(view.port());
    let host = target.host();
    let dispatch = match dispatch_for(shared, head.snapshot, &host, dest, port) {
        Ok(d) => d,
        Err(e) => {
            note_destination(outcome, &target);
            outcome.flags.insert(match e {
                MeshError::NoHealthyUpstream => ResponseFlags::NO_HEALTHY_UPSTREAM,
                _ => ResponseFlags::NO_CLUSTER,
            });
            return Err(e);
        }
    };
    let cluster = match &dispatch {
        Dispatch::Cluster(c) | Dispatch::Inner(c) => c.clone(),
    };
    if !span.is_disabled() {
        span.record("destination", tracing::field::display(&host));
    }
    outcome.host = Some(cluster.key.host.clone());
    outcome.subset_version = Some(cluster.version.clone());
    let info = RouteInfo {
        virtual_service: rule.names.virtual_service.clone(),
        rule: matched.map(|m| m.rule().index),
        rule_name: rule.names.rule.clone(),
        host: if *cluster.key.host == *host {
            cluster.key.host.clone()
        } else {
            Arc::from(&*host)
        },
        subset: cluster.key.subset.clone(),
        port,
        subset_labels: Some(cluster.labels().clone()),
        attempt: 0,
        mirror: false,
    };
    outcome.cluster = Some(cluster.clone());
    let upstream = UpstreamHead::new(
        head,
        &upstream_path,
        upstream_authority,
        decision.header_ops(Side::Request),
        info,
    );
    let mut response = forward(
        shared, inner, rule, &dispatch, &cluster, view, &upstream, body, outcome,
    )
    .await?;
    #[cfg(feature = "client")]
    crate::upgrade::splice(
        &head.parts.extensions,
        &head.parts.headers,
        &mut response,
        shared.options.stream_idle_timeout,
    );
    crate::hygiene::sanitize_response(&mut response);
    decision
        .header_ops(Side::Response)
        .apply(response.headers_mut());
    if let Some(cors) = &rule.cors {
        for (name, value) in cors.response_headers(&head.parts.headers) {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(response)
}

/// The destination's labels for metrics, for a request answered before it reached a
/// destination's state (a CORS preflight, an injected abort, an undefined subset).
fn note_destination(outcome: &mut Outcome, target: &Target<'_>) {
    let labels = target.destination().and_then(|d| d.subset_labels.as_ref());
    let version = labels
        .and_then(|l| l.get("version"))
        .map_or(target.subset(), String::as_str);
    outcome.host = Some(Arc::from(&*target.host()));
    outcome.subset_version = Some(Arc::from(version));
}

/// The proxy's answer to a CORS preflight ([`CorsPolicy::preflight_headers`]).
fn preflight_response(cors: &CorsPolicy, request: &HeaderMap) -> Response<BoxBody> {
    let mut r = Response::new(body::empty());
    for (name, value) in cors.preflight_headers(request) {
        r.headers_mut().insert(name, value);
    }
    r
}

/// The fault policy of `rule`: a delay, then an independent roll for an abort, whose local
/// reply is returned.
async fn inject_faults(
    shared: &Shared,
    rule: &Rule,
    to: ReplyTo,
    ops: Option<OrderedOps<'_>>,
    outcome: &mut Outcome,
) -> Option<Response<BoxBody>> {
    if let Some(d) = rule.fault.delay {
        if d.fraction.selects(shared.rng.next_u64()) {
            tokio::time::sleep(d.duration).await;
            outcome.flags.insert(ResponseFlags::DELAY_INJECTED);
        }
    }
    let a = rule.fault.abort?;
    if !a.fraction.selects(shared.rng.next_u64()) {
        return None;
    }
    outcome.flags.insert(ResponseFlags::FAULT_INJECTED);
    Some(reply_response(&a.kind.reply(to), None, ops))
}

/// The request sent upstream, without its body: each attempt's request is built from the
/// received head, with the route's header operations applied.
struct UpstreamHead<'a> {
    head: &'a Head<'a>,
    /// The upstream path and query (rewritten or not).
    path: &'a str,
    authority: &'a str,
    /// The request header operations, in Envoy's order.
    ops: OrderedOps<'a>,
    uri: Uri,
    info: RouteInfo,
}

impl<'a> UpstreamHead<'a> {
    fn new(
        head: &'a Head<'a>,
        path: &'a str,
        authority: &'a str,
        ops: OrderedOps<'a>,
        info: RouteInfo,
    ) -> Self {
        // The request's own target when the path is unchanged (a cheap clone), else the
        // rewritten path.
        let unchanged = head
            .parts
            .uri
            .path_and_query()
            .is_some_and(|pq| pq.as_str() == path);
        let uri = if unchanged {
            head.parts.uri.clone()
        } else {
            path.parse::<Uri>()
                .unwrap_or_else(|_| Uri::from_static("/"))
        };
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
        let mut headers = head.parts.headers.clone();
        self.ops.clone().apply(&mut headers);
        if self.path != head.path {
            if let Ok(v) = HeaderValue::from_str(head.path) {
                headers.insert("x-envoy-original-path", v);
            }
        }
        // Keep the Host header only when it is the one authority routed on: a request with
        // several Host headers is routed on their joined value (`request_host`), and the
        // upstream gets that one value only, never a second header it might read instead.
        let mut hosts = headers.get_all(header::HOST).iter();
        let same = hosts
            .next()
            .is_some_and(|h| h.as_bytes() == self.authority.as_bytes())
            && hosts.next().is_none();
        if !same {
            if let Ok(v) = HeaderValue::from_str(self.authority) {
                headers.insert(header::HOST, v);
            }
        }
        headers
    }

    fn request(&self, body: BoxBody, attempt: u32) -> Request<BoxBody> {
        let parts = &self.head.parts;
        let mut r = Request::new(body);
        *r.method_mut() = parts.method.clone();
        *r.uri_mut() = self.uri.clone();
        *r.version_mut() = parts.version;
        *r.headers_mut() = self.headers();
        *r.extensions_mut() = parts.extensions.clone();
        let mut info = self.info.clone();
        info.attempt = attempt;
        r.extensions_mut().insert(info);
        r
    }
}

/// `grpc-status`, parsed once.
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// The state, and the metrics' destination, of requests to hosts no resource knows
/// (Envoy's cluster of that name).
pub(crate) const PASSTHROUGH_CLUSTER: &str = "PassthroughCluster";

/// Where a destination's requests go: a cluster of registered endpoints, or the inner
/// service (hosts without registered endpoints, and passthrough).
enum Dispatch {
    Cluster(Arc<Cluster>),
    Inner(Arc<Cluster>),
}

fn dispatch_for(
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

#[allow(clippy::too_many_arguments)]
async fn forward(
    shared: &Arc<Shared>,
    inner: EndpointService,
    rule: &Rule,
    dispatch: &Dispatch,
    cluster: &Arc<Cluster>,
    view: &RequestView<'_>,
    upstream: &UpstreamHead<'_>,
    body: BoxBody,
    outcome: &mut Outcome,
) -> Result<Response<BoxBody>, MeshError> {
    if let Dispatch::Cluster(c) = dispatch {
        if c.members.is_empty() {
            outcome.flags.insert(ResponseFlags::NO_HEALTHY_UPSTREAM);
            return Err(MeshError::NoHealthyUpstream);
        }
    }
    let policy = &rule.retries;
    let wants_buffer = policy.attempts > 0 || !rule.mirrors.is_empty();
    let body = if wants_buffer {
        match body::buffer(body, shared.options.body_limit)
            .await
            .map_err(MeshError::Body)?
        {
            Buffered::Whole(b) => {
                shared.metrics.bodies_buffered.inc();
                Buffered::Whole(b)
            }
            streaming => {
                shared.metrics.bodies_streamed.inc();
                streaming
            }
        }
    } else {
        Buffered::Streaming(body)
    };
    // Mirrors: fire and forget, only for replayable bodies.
    for mirror in &rule.mirrors {
        if !mirror.fraction.selects(shared.rng.next_u64()) {
            continue;
        }
        match &body {
            Buffered::Whole(bytes) => send_mirror(
                shared,
                &inner,
                mirror,
                upstream,
                bytes.clone(),
                view.port(),
                rule.timeout,
            ),
            Buffered::Streaming(_) if wants_buffer => {
                shared.metrics.record(Event::MirrorNotBuffered);
            }
            Buffered::Streaming(_) => {}
        }
    }
    // Released on every exit, including when the caller drops the request mid-flight.
    let _active = InFlight::enter(&cluster.state.active_requests);
    let attempts = attempts(
        shared, &inner, dispatch, cluster, policy, view, upstream, body, outcome,
    );
    match rule.timeout {
        Some(t) => match tokio::time::timeout(t, attempts).await {
            Ok(r) => r,
            Err(_) => {
                outcome.flags.insert(ResponseFlags::UPSTREAM_TIMEOUT);
                Err(MeshError::Timeout)
            }
        },
        None => attempts.await,
    }
}

/// One unit of a gauge (requests or retries in flight), given back when dropped: the route
/// timeout and a client that goes away drop the attempts future at any await point, and the
/// retry budget and least-request balancing must not keep counting what was abandoned.
struct InFlight<'a>(&'a AtomicU64);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a AtomicU64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

type UpstreamFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response<BoxBody>, BoxError>> + Send>,
>;

fn retry_on_failure(p: &RetryPolicy, f: Failure) -> bool {
    let any_reset = p.has(RetryOn::FiveXx) || p.has(RetryOn::GatewayError) || p.has(RetryOn::Reset);
    match f {
        Failure::Connect => any_reset || p.has(RetryOn::ConnectFailure),
        Failure::Reset | Failure::Termination | Failure::Protocol | Failure::PerTryTimeout => {
            any_reset
        }
        Failure::NoCluster => false,
    }
}

fn retry_on_response(p: &RetryPolicy, r: &Response<BoxBody>) -> bool {
    // gRPC: a trailers-only response carries grpc-status in its headers.
    let grpc = r
        .headers()
        .get(&GRPC_STATUS)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    p.retries_response(r.status().as_u16(), grpc)
}

/// Envoy's jittered exponential back-off: the n-th retry waits a uniform time below
/// `base * (2^n - 1)`, capped at ten times the base.
fn backoff(base: Duration, retry: u32, rng: &Samples) -> Duration {
    let base_ms = base.as_millis().max(1) as u64;
    let max_ms = base_ms * 10;
    let multiplier = (1u64 << retry.min(32)) - 1;
    let ceiling = multiplier.saturating_mul(base_ms);
    let ms = (rng.below(ceiling.max(1))).min(max_ms);
    Duration::from_millis(ms)
}

/// Whether another retry may start: the DestinationRule's `retryBudget` when set, else its
/// `connectionPool.http.maxRetries` when set, else the layer's default budget.
fn budget_allows(shared: &Shared, cluster: &Cluster) -> bool {
    cluster
        .policy()
        .retry_limit(shared.options.default_retry_budget)
        .allows(
            cluster.state.active_requests.load(Ordering::Relaxed),
            cluster.state.active_retries.load(Ordering::Relaxed),
        )
}

#[allow(clippy::too_many_arguments)]
async fn attempts(
    shared: &Arc<Shared>,
    inner: &EndpointService,
    dispatch: &Dispatch,
    cluster: &Arc<Cluster>,
    policy: &RetryPolicy,
    view: &RequestView<'_>,
    upstream: &UpstreamHead<'_>,
    body: Buffered,
    outcome: &mut Outcome,
) -> Result<Response<BoxBody>, MeshError> {
    let mut body = Some(body);
    let mut tried: Vec<usize> = Vec::new();
    let mut attempt: u32 = 0;
    // The retry budget's slot, held from the budget check until the back-off timer fires.
    let mut retry_slot: Option<InFlight<'_>> = None;
    loop {
        let this_body = match body.take() {
            Some(Buffered::Whole(b)) => {
                body = Some(Buffered::Whole(b.clone()));
                if b.is_empty() {
                    body::empty()
                } else {
                    body::full(b)
                }
            }
            Some(Buffered::Streaming(s)) => s,
            None => body::empty(),
        };
        let replayable = matches!(body, Some(Buffered::Whole(_)));
        let req = upstream.request(this_body, attempt);
        let (svc, member) = match dispatch {
            Dispatch::Inner(_) => (inner.clone(), None),
            Dispatch::Cluster(c) => {
                let exclude: &[usize] = if policy.retry_ignore_previous_hosts {
                    &tried
                } else {
                    &[]
                };
                match c.pick(view, &shared.rng, exclude, &shared.metrics) {
                    Some(i) => (c.members[i].endpoint.service.clone(), Some(i)),
                    None => {
                        outcome.flags.insert(ResponseFlags::NO_HEALTHY_UPSTREAM);
                        return Err(MeshError::NoHealthyUpstream);
                    }
                }
            }
        };
        let member_load = match (member, dispatch) {
            (Some(i), Dispatch::Cluster(c)) => {
                if policy.retry_ignore_previous_hosts {
                    tried.push(i);
                }
                Some(InFlight::enter(&c.members[i].state.active))
            }
            _ => None,
        };
        // Circuit breakers: http2MaxRequests, maxConnections and http1MaxPendingRequests.
        let admission = match cluster.admit(&shared.metrics).await {
            Ok(a) => a,
            Err(overflow) => {
                outcome.flags.insert(ResponseFlags::OVERFLOW);
                return Err(MeshError::Overflow(match overflow {
                    Overflow::Requests => "max requests",
                    Overflow::Pending => "max pending requests",
                }));
            }
        };
        let call: UpstreamFuture = Box::pin(svc.oneshot(req));
        let result = match policy.per_try_timeout {
            Some(t) => match tokio::time::timeout(t, call).await {
                Ok(r) => r.map_err(|e| (classify(&e), e)),
                Err(_) => Err((Failure::PerTryTimeout, "per-try timeout".into())),
            },
            None => call.await.map_err(|e| (classify(&e), e)),
        };
        drop(admission);
        drop(member_load);
        drop(retry_slot.take());
        if let (Some(i), Dispatch::Cluster(c)) = (member, dispatch) {
            let r = match &result {
                Ok(r) => AttemptResult::Status(r.status().as_u16()),
                Err(_) => AttemptResult::LocalFailure,
            };
            c.record(i, r, &shared.metrics);
        }
        let retriable = match &result {
            Ok(r) => retry_on_response(policy, r),
            Err((f, _)) => retry_on_failure(policy, *f),
        };
        let exhausted = attempt >= policy.attempts;
        if !retriable || !replayable || exhausted {
            if retriable && exhausted && attempt > 0 {
                outcome.flags.insert(ResponseFlags::UPSTREAM_RETRY_LIMIT);
            }
            return finish(result, outcome);
        }
        if !budget_allows(shared, cluster) {
            // Envoy: the retry overflows (`UO`); the attempt's own outcome is the answer.
            shared.metrics.record(Event::RetryBudgetExhausted);
            shared
                .metrics
                .retry_overflow
                .get_or_create(&crate::metrics::ClusterLabels {
                    cluster_name: cluster.key.name(),
                })
                .inc();
            outcome.flags.insert(ResponseFlags::OVERFLOW);
            return finish(result, outcome);
        }
        // Drop the failed response before waiting.
        drop(result);
        attempt += 1;
        shared.metrics.record(Event::RetryAttempted);
        retry_slot.replace(InFlight::enter(&cluster.state.active_retries));
        let wait = backoff(policy.backoff, attempt, &shared.rng);
        tokio::time::sleep(wait).await;
        // Envoy counts a retry against the budget while it waits for its back-off timer;
        // once the timer fires the retry is an ordinary request again.
        drop(retry_slot.take());
    }
}

/// The answer for the last attempt's outcome: its response, or the local reply for how it
/// failed (504 `UT` for a per-try timeout, 503 `UF` or `UR` otherwise).
fn finish(
    result: Result<Response<BoxBody>, (Failure, BoxError)>,
    outcome: &mut Outcome,
) -> Result<Response<BoxBody>, MeshError> {
    match result {
        Ok(r) => Ok(r),
        Err((Failure::PerTryTimeout, _)) => {
            outcome.flags.insert(ResponseFlags::UPSTREAM_TIMEOUT);
            Err(MeshError::Timeout)
        }
        Err((Failure::NoCluster, e)) => {
            outcome.flags.insert(ResponseFlags::NO_CLUSTER);
            Err(MeshError::ClusterNotFound(e.to_string()))
        }
        Err((Failure::Connect, e)) => {
            outcome
                .flags
                .insert(ResponseFlags::UPSTREAM_CONNECT_FAILURE);
            Err(MeshError::Upstream {
                reason: "connection failure",
                source: e,
            })
        }
        Err((Failure::Reset, e)) => {
            outcome.flags.insert(ResponseFlags::UPSTREAM_RESET);
            Err(MeshError::Upstream {
                reason: "remote reset",
                source: e,
            })
        }
        Err((Failure::Termination, e)) => {
            outcome
                .flags
                .insert(ResponseFlags::UPSTREAM_CONNECTION_TERMINATION);
            Err(MeshError::Upstream {
                reason: "connection termination",
                source: e,
            })
        }
        Err((Failure::Protocol, e)) => {
            outcome.flags.insert(ResponseFlags::UPSTREAM_PROTOCOL_ERROR);
            Err(MeshError::UpstreamProtocol(e))
        }
    }
}

fn send_mirror(
    shared: &Arc<Shared>,
    inner: &EndpointService,
    mirror: &mesh_route::Mirror,
    upstream: &UpstreamHead<'_>,
    bytes: Bytes,
    request_port: u16,
    timeout: Option<Duration>,
) {
    let Ok(permit) = shared.mirrors.clone().try_acquire_owned() else {
        shared.metrics.record(Event::MirrorDropped);
        return;
    };
    let d = &mirror.destination;
    let port = d.port_for(request_port);
    let Ok(dispatch) = dispatch_for(shared, upstream.head.snapshot, &d.host, Some(d), port) else {
        shared.metrics.record(Event::MirrorDropped);
        return;
    };
    let mut req = upstream.request(body::full(bytes), 0);
    if let Some(info) = req.extensions_mut().get_mut::<RouteInfo>() {
        let cluster = match &dispatch {
            Dispatch::Cluster(c) | Dispatch::Inner(c) => c,
        };
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
            let view = RequestView::new("GET", "http", "", "/", &headers);
            match c.pick(&view, &shared.rng, &[], &shared.metrics) {
                Some(i) => c.members[i].endpoint.service.clone(),
                None => {
                    shared.metrics.record(Event::MirrorDropped);
                    return;
                }
            }
        }
        Dispatch::Inner(_) => inner.clone(),
    };
    shared.metrics.record(Event::MirrorSent);
    let call: UpstreamFuture = Box::pin(svc.oneshot(req));
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
