//! A decision executed: the short composition of the policy middleware per route, in
//! Envoy's order. CORS preflight; [`fault`](crate::fault) (delay, then abort); redirect or
//! direct response; rewrite and request headers; then, around the destination's
//! [`Balance`], the route's [`Mirror`](crate::mirror), [`Timeout`](crate::timeout) and
//! [`Retry`](crate::retry); response headers.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::header::HeaderMap;
use http::{Request, Response};
use mesh_match::RequestView;
use mesh_route::policy::{CorsPolicy, ReplyTo, Side};
use mesh_route::{Decision, Rule, Target};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

use super::upstream::{UpstreamHead, dispatch_for, send_mirror};
use super::{Answer, Head, Inner, RouteInfo, Shared, reply_response};
use crate::BoxError;
use crate::balance::{Balance, Dispatch, Env, InFlight};
use crate::body::{self, BoxBody, Buffered};
use crate::fault::{InjectLayer, Reply, RouteEnv};
use crate::flags::{FlagCell, ResponseFlags};
use crate::metrics::{Destination, Outcome};
use crate::mirror::Mirror;
use crate::retry::budget::Budget;
use crate::retry::{Policy, Retrying};
use crate::service::error::MeshError;
use crate::timeout::Timeout;
use crate::upstream::{Failure, classify};

/// The request's context while its decision executes.
#[derive(Clone, Copy)]
pub(super) struct Cx<'a> {
    pub(super) shared: &'a Arc<Shared>,
    pub(super) head: &'a Head<'a>,
    pub(super) view: &'a RequestView<'a>,
    /// How local replies answer the client.
    pub(super) to: ReplyTo,
    pub(super) outcome: &'a Outcome,
    pub(super) span: &'a tracing::Span,
}

/// Executes a decision; runs inside the request's span.
pub(super) async fn execute<I: Inner>(
    cx: Cx<'_>,
    decision: &Decision<'_>,
    inner: I,
    body: BoxBody,
) -> Answer {
    let head = cx.head;
    let to = cx.to;
    let flags = &cx.outcome.flags;
    match *decision {
        Decision::NoRoute(_) => {
            flags.insert(ResponseFlags::NO_ROUTE);
            (Err(MeshError::NoRoute), HeaderMap::new())
        }
        Decision::Redirect { .. } | Decision::DirectResponse { .. } => {
            let result = faults_then_reply(cx, decision, to).await;
            (result, HeaderMap::new())
        }
        Decision::Route { rule, target, .. } => {
            let headers = &head.parts.headers;
            // CORS preflight, before faults (Istio's filter order).
            if let Some(cors) = &rule.cors
                && cors.answers_preflight(&head.parts.method, headers)
            {
                note_destination(cx.outcome, &target);
                return (Ok(preflight_response(cors, headers)), HeaderMap::new());
            }
            // A route without faults is not wrapped in the fault policy.
            let result = if rule.fault.delay.is_none() && rule.fault.abort.is_none() {
                forward_decision(cx, decision, inner, body).await
            } else {
                // Envoy's local replies for the requests of a forwarding rule carry its (and
                // its destination's) response header operations.
                let reply = Reply {
                    to,
                    ops: Some(decision.header_ops(Side::Response)),
                };
                faults_then_forward(cx, decision, reply, (inner, body)).await
            };
            // An aborted request got no further than its rule's destination.
            if !cx.outcome.has_destination() {
                note_destination(cx.outcome, &target);
            }
            // The operations are found again here rather than kept across the forwarding:
            // whatever is kept there is copied with every level of the request's future.
            let mut reply_headers = HeaderMap::new();
            if result.is_err() {
                decision
                    .header_ops(Side::Response)
                    .apply(&mut reply_headers);
            }
            (result, reply_headers)
        }
    }
}

/// The rule's faults, then (unless aborted) [`forward_decision`]. (A plain function
/// returning a `Send` future, as [`policies`].)
fn faults_then_forward<'a, I: Inner>(
    cx: Cx<'a>,
    decision: &'a Decision<'a>,
    reply: Reply<'a>,
    (inner, body): (I, BoxBody),
) -> impl Future<Output = Result<Response<BoxBody>, MeshError>> + Send + 'a {
    let fault = match decision.matched() {
        Some(m) => m.rule().fault,
        None => Default::default(),
    };
    let forward = service_fn(move |(inner, body)| forward_decision(cx, decision, inner, body));
    ServiceBuilder::new()
        .layer(InjectLayer::new(
            fault,
            RouteEnv {
                reply,
                rng: &cx.shared.rng,
                flags: &cx.outcome.flags,
            },
        ))
        .service(forward)
        .oneshot((inner, body))
}

/// The rule's faults, then the redirect's or direct response's reply. (A plain function
/// returning a `Send` future, as [`policies`].)
fn faults_then_reply<'a>(
    cx: Cx<'a>,
    decision: &'a Decision<'a>,
    to: ReplyTo,
) -> impl Future<Output = Result<Response<BoxBody>, MeshError>> + Send + 'a {
    let reply = service_fn(move |()| {
        let reply = decision
            .local_reply(to)
            .unwrap_or_else(|| mesh_route::policy::local_reply(500, &[], to, None));
        std::future::ready(Ok::<_, MeshError>(reply_response(
            &reply,
            decision.location(cx.view).as_deref(),
            Some(decision.header_ops(Side::Response)),
        )))
    });
    // A delegated rule can carry the root's fault with a redirect or a direct response:
    // Envoy's fault filter runs first. Their abort's reply carries no header operations
    // (Envoy has no route entry for a redirect or a direct response to take them from).
    let fault = match decision.matched() {
        Some(m) => m.rule().fault,
        None => Default::default(),
    };
    ServiceBuilder::new()
        .layer(InjectLayer::new(
            fault,
            RouteEnv {
                reply: Reply { to, ops: None },
                rng: &cx.shared.rng,
                flags: &cx.outcome.flags,
            },
        ))
        .service(reply)
        .oneshot(())
}

/// Forwards a request the decision routes (after CORS and faults): dispatch, rewrite and
/// request headers, the route's policies around the destination, response headers.
async fn forward_decision<I: Inner>(
    cx: Cx<'_>,
    decision: &Decision<'_>,
    inner: I,
    body: BoxBody,
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
    let (shared, head, view, outcome) = (cx.shared, cx.head, cx.view, cx.outcome);
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
    let cluster = dispatch.cluster();
    if !cx.span.is_disabled() {
        cx.span
            .record("destination", tracing::field::display(&host));
    }
    outcome.set_destination(|| Destination {
        host: Some(cluster.key.host.clone()),
        subset_version: Some(cluster.version.clone()),
        cluster: Some(cluster.clone()),
    });
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
    let upstream = UpstreamHead::new(
        head,
        &upstream_path,
        upstream_authority,
        decision.header_ops(Side::Request),
        info,
    );
    let mut response = forward(cx, rule, &dispatch, &upstream, inner, body).await?;
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

/// The route's policies around its destination: mirrors, then the route timeout around
/// retries, each attempt balanced over the destination's endpoints.
async fn forward<I: Inner>(
    cx: Cx<'_>,
    rule: &Rule,
    dispatch: &Dispatch,
    upstream: &UpstreamHead<'_>,
    inner: I,
    body: BoxBody,
) -> Result<Response<BoxBody>, MeshError> {
    let flags = &cx.outcome.flags;
    if let Dispatch::Cluster(c) = dispatch {
        if c.members.is_empty() {
            flags.insert(ResponseFlags::NO_HEALTHY_UPSTREAM);
            return Err(MeshError::NoHealthyUpstream);
        }
    }
    let retries = &rule.retries;
    let (body, replay) =
        replayable(cx, retries.attempts > 0 || !rule.mirrors.is_empty(), body).await?;
    let req = upstream.request(body);
    // Released on every exit, including when the caller drops the request mid-flight.
    let _active = InFlight::enter(&dispatch.cluster().state.active_requests);
    let result = policies(cx, (rule, upstream), dispatch, &inner, (req, replay)).await;
    finish(result, flags)
}

/// The route's policies around the destination, stacked for one request: mirrors, the
/// route timeout around retries, each attempt balanced over the destination's endpoints.
/// (A plain function returning a `Send` future: the stack's types stay out of the async
/// functions' state, whose `Send` proof rustc cannot make through the closures in it.)
fn policies<'a, I: Inner>(
    cx: Cx<'a>,
    (rule, upstream): (&'a Rule, &'a UpstreamHead<'a>),
    dispatch: &'a Dispatch,
    inner: &'a I,
    (req, mut replay): (Request<BoxBody>, Option<Bytes>),
) -> impl Future<Output = Result<Response<BoxBody>, BoxError>> + Send + 'a {
    let shared = cx.shared;
    let retries = &rule.retries;
    let cluster = dispatch.cluster();
    let state = &cluster.state;
    let (rng, metrics) = (&shared.rng, &shared.metrics);
    let limit = cluster
        .policy()
        .retry_limit(shared.options.default_retry_budget);
    let policy = Policy {
        route: retries,
        replay: if rule.mirrors.is_empty() {
            replay.take()
        } else {
            replay.clone()
        },
        rebuild: upstream,
        budget: Budget::new(limit, &state.active_requests, &state.active_retries),
        rng,
        metrics,
        flags: &cx.outcome.flags,
        cluster: &cluster.key,
    };
    let send = move |mirror: &mesh_route::Mirror, req: &Request<BoxBody>, bytes: Bytes| {
        send_mirror(cx, inner, mirror, req, (bytes, rule.timeout));
    };
    let hash = match dispatch {
        Dispatch::Cluster(c) => c.policy().load_balancer.hash(cx.view),
        Dispatch::Inner(_) => None,
    };
    let balance = Balance::new(
        inner,
        dispatch,
        Env { rng, metrics },
        hash,
        retries.per_try_timeout,
        retries.retry_ignore_previous_hosts,
    );
    // Built directly, not through their layers: a layer clones what it holds into each
    // service it makes, and these are made once.
    let retry = Retrying::new(balance, policy);
    let mirrored = (!rule.mirrors.is_empty()).then_some(replay).flatten();
    let env = (rng, metrics);
    // A route without a timeout is not wrapped in one. Called without `poll_ready`: the
    // stack is always ready (its readiness is the balancer's, which always is; the
    // endpoints' own readiness is polled per attempt), and is made for this one call.
    match rule.timeout {
        Some(t) => Either::Timed {
            stack: Mirror::new(
                Timeout::new(retry, Some(t)),
                &rule.mirrors,
                mirrored,
                env,
                send,
            )
            .call(req),
        },
        None => Either::Untimed {
            stack: Mirror::new(retry, &rule.mirrors, mirrored, env, send).call(req),
        },
    }
}

pin_project_lite::pin_project! {
    /// The route's stack with or without its timeout.
    #[project = EitherProj]
    enum Either<A, B> {
        Timed { #[pin] stack: A },
        Untimed { #[pin] stack: B },
    }
}

impl<A, B, T> Future for Either<A, B>
where
    A: Future<Output = Result<T, BoxError>>,
    B: Future<Output = Result<T, BoxError>>,
{
    type Output = Result<T, BoxError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.project() {
            EitherProj::Timed { stack } => stack.poll(cx),
            EitherProj::Untimed { stack } => stack.poll(cx),
        }
    }
}

/// The body, buffered whole when a retry or a mirror may need it again (with the bytes to
/// replay), else as it streams.
async fn replayable(
    cx: Cx<'_>,
    wants_buffer: bool,
    body: BoxBody,
) -> Result<(BoxBody, Option<Bytes>), MeshError> {
    if !wants_buffer {
        return Ok((body, None));
    }
    let metrics = &cx.shared.metrics;
    match body::buffer(body, cx.shared.options.body_limit)
        .await
        .map_err(MeshError::Body)?
    {
        Buffered::Whole(b) => {
            metrics.bodies_buffered.inc();
            let body = if b.is_empty() {
                body::empty()
            } else {
                body::full(b.clone())
            };
            Ok((body, Some(b)))
        }
        Buffered::Streaming(s) => {
            metrics.bodies_streamed.inc();
            Ok((s, None))
        }
    }
}

/// The answer for the outcome of the route's policies: the response, or the local reply for
/// how the last attempt failed (504 `UT` for a timeout, 503 `UH`, `UO`, `UF`, `UR` or `UC`,
/// 502 `UPE`).
fn finish(
    result: Result<Response<BoxBody>, BoxError>,
    flags: &FlagCell,
) -> Result<Response<BoxBody>, MeshError> {
    let e = match result {
        Ok(r) => return Ok(r),
        Err(e) => e,
    };
    let e = match e.downcast::<MeshError>() {
        Ok(e) => {
            match *e {
                MeshError::NoHealthyUpstream => flags.insert(ResponseFlags::NO_HEALTHY_UPSTREAM),
                MeshError::Overflow(_) => flags.insert(ResponseFlags::OVERFLOW),
                _ => {}
            }
            return Err(*e);
        }
        Err(e) => e,
    };
    let (flag, error) = match classify(&e) {
        Failure::PerTryTimeout => (ResponseFlags::UPSTREAM_TIMEOUT, MeshError::Timeout),
        Failure::NoCluster => (
            ResponseFlags::NO_CLUSTER,
            MeshError::ClusterNotFound(e.to_string()),
        ),
        Failure::Connect => (
            ResponseFlags::UPSTREAM_CONNECT_FAILURE,
            MeshError::Upstream {
                reason: "connection failure",
                source: e,
            },
        ),
        Failure::Reset => (
            ResponseFlags::UPSTREAM_RESET,
            MeshError::Upstream {
                reason: "remote reset",
                source: e,
            },
        ),
        Failure::Termination => (
            ResponseFlags::UPSTREAM_CONNECTION_TERMINATION,
            MeshError::Upstream {
                reason: "connection termination",
                source: e,
            },
        ),
        Failure::Protocol => (
            ResponseFlags::UPSTREAM_PROTOCOL_ERROR,
            MeshError::UpstreamProtocol(e),
        ),
    };
    flags.insert(flag);
    Err(error)
}

/// The destination's labels for metrics, for a request answered before it reached a
/// destination's state (a CORS preflight, an injected abort, an undefined subset).
fn note_destination(outcome: &Outcome, target: &Target<'_>) {
    let labels = target.destination().and_then(|d| d.subset_labels.as_ref());
    let version = labels
        .and_then(|l| l.get("version"))
        .map_or(target.subset(), String::as_str);
    outcome.set_destination(|| Destination {
        host: Some(Arc::from(&*target.host())),
        subset_version: Some(Arc::from(version)),
        cluster: None,
    });
}

/// The proxy's answer to a CORS preflight ([`CorsPolicy::preflight_headers`]).
fn preflight_response(cors: &CorsPolicy, request: &HeaderMap) -> Response<BoxBody> {
    let mut r = Response::new(body::empty());
    for (name, value) in cors.preflight_headers(request) {
        r.headers_mut().insert(name, value);
    }
    r
}
