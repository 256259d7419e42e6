//! The decision for one request: what Istio's Envoy would do with it.

use std::borrow::Cow;

use mesh_match::{HttpMatch, RequestView};

use crate::destination::RouteDestination;
use crate::policy::headers::{HeaderOps, OrderedOps, Side, ordered};
use crate::policy::{DirectResponse, LocalReply, Redirect, ReplyTo, local_reply};
use crate::rule::{RouteEntry, Rule};
use crate::table::VirtualHost;

/// Where a forwarded request goes.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// A destination of the matched rule.
    Destination(&'a RouteDestination),
    /// No VirtualService claims the host: Istio's default route to the host itself (a
    /// registry service's default route, or the passthrough cluster), on the request port.
    Passthrough {
        /// The FQDN of the declared service the request's host names, else the host as the
        /// request named it (without port; [`Target::host`] lower-cases it).
        host: &'a str,
        /// The namespace short names resolve against (the proxy's).
        namespace: &'a str,
    },
}

impl Target<'_> {
    /// The fully qualified host, lower case: a short name resolves as Kubernetes DNS does
    /// from the proxy's namespace (`reviews` -> `reviews.<ns>.svc.cluster.local`,
    /// `reviews.other.svc` -> `reviews.other.svc.cluster.local`); other names are kept as
    /// sent. Borrowed unless the name is completed or lower-cased (one allocation).
    pub fn host(&self) -> Cow<'_, str> {
        match self {
            Target::Destination(d) => Cow::Borrowed(&d.host),
            // Host names are case-insensitive: the service's name is lower case.
            Target::Passthrough { host, namespace } => {
                if host.bytes().any(|b| b.is_ascii_uppercase()) {
                    Cow::Owned(dns_fqdn(&host.to_ascii_lowercase(), namespace).into_owned())
                } else {
                    dns_fqdn(host, namespace)
                }
            }
        }
    }

    /// The subset, empty for none.
    pub fn subset(&self) -> &str {
        match self {
            Target::Destination(d) => &d.subset,
            Target::Passthrough { .. } => "",
        }
    }

    /// The port for a request sent to `request_port`.
    pub fn port(&self, request_port: u16) -> u16 {
        match self {
            Target::Destination(d) => d.port_for(request_port),
            Target::Passthrough { .. } => request_port,
        }
    }

    /// The configured destination, unless this is a passthrough.
    pub fn destination(&self) -> Option<&RouteDestination> {
        match self {
            Target::Destination(d) => Some(d),
            Target::Passthrough { .. } => None,
        }
    }
}

fn dns_fqdn<'h>(host: &'h str, namespace: &str) -> Cow<'h, str> {
    use mesh_model::host::CLUSTER_DOMAIN;
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return Cow::Borrowed(host);
    }
    // One allocation of the final size, `host` followed by `parts`.
    let completed = |parts: &[&str]| {
        let mut out =
            String::with_capacity(host.len() + parts.iter().map(|p| p.len()).sum::<usize>());
        out.push_str(host);
        parts.iter().for_each(|p| out.push_str(p));
        Cow::Owned(out)
    };
    // A name with one dot may be `service.namespace` or an external `example.com`; only
    // the forms that cannot be external are completed.
    if !host.contains('.') {
        completed(&[".", namespace, ".svc.", CLUSTER_DOMAIN])
    } else if host.ends_with(".svc") {
        completed(&[".", CLUSTER_DOMAIN])
    } else {
        Cow::Borrowed(host)
    }
}

/// Why no route was found (Envoy answers 404, response flag `NR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoRoute {
    /// No virtual host for the request's host (at a gateway, or on a port it does not serve).
    NoVirtualHost,
    /// The host matched, but none of its rules.
    NoRuleMatched,
    /// The host is not a valid host name.
    BadHost,
}

/// The rule and match block that matched.
#[derive(Clone, Copy, Debug)]
pub struct Matched<'a> {
    /// The virtual host.
    pub vhost: &'a VirtualHost,
    /// The entry (rule and match block).
    pub entry: &'a RouteEntry,
}

impl<'a> Matched<'a> {
    /// The rule.
    pub fn rule(&self) -> &'a Rule {
        &self.entry.rule
    }

    /// The match block, if the rule has matches.
    pub fn matcher(&self) -> Option<&'a HttpMatch> {
        self.entry.matcher.as_ref()
    }
}

/// What to do with a request.
#[derive(Clone, Copy, Debug)]
pub enum Decision<'a> {
    /// Forward it.
    Route {
        /// The rule that matched; `None` for the default route of a host without a
        /// VirtualService.
        matched: Option<Matched<'a>>,
        /// The rule whose policies apply (the default rule for a default route).
        rule: &'a Rule,
        /// Where.
        target: Target<'a>,
        /// Index of the chosen destination in the rule's split.
        index: usize,
    },
    /// Answer with a redirect.
    Redirect {
        /// The rule, or `None` for a Gateway server's `httpsRedirect`.
        matched: Option<Matched<'a>>,
        /// The redirect.
        redirect: &'a Redirect,
    },
    /// Answer with a fixed response.
    DirectResponse {
        /// The rule.
        matched: Matched<'a>,
        /// The response.
        response: &'a DirectResponse,
    },
    /// No route: 404.
    NoRoute(NoRoute),
}

impl<'a> Decision<'a> {
    /// The matched rule and block, if any.
    pub fn matched(&self) -> Option<Matched<'a>> {
        match self {
            Decision::Route { matched, .. } | Decision::Redirect { matched, .. } => *matched,
            Decision::DirectResponse { matched, .. } => Some(*matched),
            Decision::NoRoute(_) => None,
        }
    }

    /// The rule whose policies apply, if any.
    pub fn rule(&self) -> Option<&'a Rule> {
        match self {
            Decision::Route { rule, .. } => Some(rule),
            other => other.matched().map(|m| m.rule()),
        }
    }

    /// The outcome's name: `route`, `redirect`, `directResponse` or `noRoute`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Decision::Route { .. } => "route",
            Decision::Redirect { .. } => "redirect",
            Decision::DirectResponse { .. } => "directResponse",
            Decision::NoRoute(_) => "noRoute",
        }
    }

    /// The path and query sent upstream after the rule's rewrite.
    pub fn upstream_path(&self, req: &RequestView<'a>) -> Cow<'a, str> {
        match self {
            Decision::Route { matched, rule, .. } => match &rule.rewrite {
                Some(rw) => rw.path(matched.and_then(|m| m.matcher()), req.path_and_query()),
                None => Cow::Borrowed(req.path_and_query()),
            },
            _ => Cow::Borrowed(req.path_and_query()),
        }
    }

    /// The authority sent upstream: the rule's `rewrite.authority`, else the rule's `host`
    /// header operation, else the chosen destination's, else the request's. Istio gives the
    /// route-level value to Envoy as the route's host rewrite and a destination's only when
    /// there is none (single destination), or on the weighted cluster, which Envoy applies
    /// before the route's (observed on Envoy 1.40): the route level wins either way.
    pub fn upstream_authority(&self, req: &RequestView<'a>) -> &'a str {
        if let Decision::Route { rule, target, .. } = *self {
            if let Some(a) = rule.rewrite.as_ref().and_then(|r| r.authority.as_deref()) {
                return a;
            }
            if let Some(a) = rule.headers.authority.as_deref() {
                return a;
            }
            if let Target::Destination(d) = target
                && let Some(a) = d.headers.authority.as_deref()
            {
                return a;
            }
        }
        req.authority()
    }

    /// The header operations on the request sent upstream or on the response, in the order
    /// Envoy applies them (see [`ordered`]): for a forwarded request, the rule's and the
    /// chosen destination's; for a redirect or a direct response, the rule's response
    /// operations; none otherwise.
    pub fn header_ops(&self, side: Side) -> OrderedOps<'a> {
        let pick = |h: &'a crate::policy::HeadersPolicy| -> &'a HeaderOps {
            match side {
                Side::Request => &h.request,
                Side::Response => &h.response,
            }
        };
        const NONE: &HeaderOps = &HeaderOps {
            set: Vec::new(),
            add: Vec::new(),
            remove: Vec::new(),
        };
        match *self {
            Decision::Route { rule, target, .. } => {
                let weighted = rule.split().is_some_and(|s| s.is_weighted());
                let destination = match target {
                    Target::Destination(d) => Some(pick(&d.headers)),
                    Target::Passthrough { .. } => None,
                };
                ordered(side, pick(&rule.headers), destination, weighted)
            }
            Decision::Redirect {
                matched: Some(m), ..
            }
            | Decision::DirectResponse { matched: m, .. }
                if side == Side::Response =>
            {
                ordered(side, pick(&m.rule().headers), None, false)
            }
            _ => ordered(side, NONE, None, false),
        }
    }

    /// The `Location` of a redirect, or of a direct response with a 3xx or 201 status.
    pub fn location(&self, req: &RequestView<'_>) -> Option<String> {
        match self {
            Decision::Redirect { matched, redirect } => {
                Some(redirect.location(req, matched.and_then(|m| m.matcher())))
            }
            Decision::DirectResponse { response, .. } => response.location(req),
            _ => None,
        }
    }

    /// The local reply of a redirect, a direct response or no route (before headers:
    /// see [`location`](Self::location) and [`header_ops`](Self::header_ops)); `None` for
    /// a forwarded request. A fault abort of the rule comes first (see
    /// [`AbortKind::reply`](crate::policy::AbortKind::reply)).
    pub fn local_reply(&self, to: ReplyTo) -> Option<LocalReply<'a>> {
        match *self {
            Decision::Redirect { redirect, .. } => Some(local_reply(redirect.code, &[], to, None)),
            Decision::DirectResponse { response, .. } => {
                Some(local_reply(response.status, &response.body, to, None))
            }
            Decision::NoRoute(_) => Some(local_reply(404, &[], to, None)),
            Decision::Route { .. } => None,
        }
    }
}
