//! A compiled HTTP route rule: its action (forward with a weighted split, redirect, direct
//! response) and every policy, with Istio's defaults applied.

use std::sync::Arc;

use mesh_match::HttpMatch;
use std::time::Duration;

use mesh_model::ResourceKey;

use crate::destination::RouteDestination;
use crate::policy::{
    CorsPolicy, DirectResponse, FaultPolicy, Fraction, HeadersPolicy, Redirect, RetryPolicy,
    Rewrite,
};
use crate::sticky::StickyKey;

/// Destinations and their weights. One destination takes all traffic whatever its weight;
/// with several, weight-0 destinations are dropped and the rest share by relative weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Shared with the route table's layout, which answers a single destination without
    /// reading the rule.
    destinations: Arc<[RouteDestination]>,
    /// Cumulative weights of `destinations`; empty for a single destination.
    cumulative: Vec<u64>,
}

impl Split {
    /// Builds a split the way Istio emits clusters: a single destination as is; several as
    /// weighted clusters without the zero-weight ones.
    pub fn new(destinations: Vec<RouteDestination>) -> Self {
        if destinations.len() <= 1 {
            return Split {
                destinations: destinations.into(),
                cumulative: Vec::new(),
            };
        }
        let destinations: Vec<RouteDestination> =
            destinations.into_iter().filter(|d| d.weight > 0).collect();
        let mut total = 0u64;
        let cumulative = destinations
            .iter()
            .map(|d| {
                total += u64::from(d.weight);
                total
            })
            .collect();
        Split {
            destinations: destinations.into(),
            cumulative,
        }
    }

    /// The destinations that can receive traffic.
    pub fn destinations(&self) -> &[RouteDestination] {
        &self.destinations
    }

    /// The destinations, shared.
    pub(crate) fn shared_destinations(&self) -> &Arc<[RouteDestination]> {
        &self.destinations
    }

    /// Whether the route is a weighted split (Envoy `weighted_clusters`).
    pub fn is_weighted(&self) -> bool {
        !self.cumulative.is_empty()
    }

    /// The sum of the weights (1 for a single destination).
    pub fn total_weight(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(1)
    }

    /// The share of traffic of destination `i`, in percent.
    pub fn share(&self, i: usize) -> f64 {
        if !self.is_weighted() {
            return if i == 0 { 100.0 } else { 0.0 };
        }
        let w = self.destinations.get(i).map_or(0, |d| u64::from(d.weight));
        w as f64 * 100.0 / self.total_weight() as f64
    }

    /// Picks a destination from a uniform 64-bit `sample`: the sample is scaled to
    /// `[0, total)` and the first destination whose cumulative weight exceeds it wins
    /// (Envoy's weighted-cluster selection).
    #[inline]
    pub fn pick(&self, sample: u64) -> usize {
        if self.cumulative.is_empty() {
            return 0;
        }
        let total = self.total_weight();
        let r = ((u128::from(sample) * u128::from(total)) >> 64) as u64;
        if self.cumulative.len() <= 8 {
            // A few destinations (the usual split): a scan costs fewer steps than a search.
            return self
                .cumulative
                .iter()
                .position(|c| *c > r)
                .unwrap_or(self.cumulative.len());
        }
        self.cumulative.partition_point(|c| *c <= r)
    }
}

/// What a rule does with a matching request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Forward to a destination of the split.
    Route(Split),
    /// Answer with a redirect.
    Redirect(Redirect),
    /// Answer with a fixed response.
    DirectResponse(DirectResponse),
}

/// A mirror target and the share of requests copied to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mirror {
    /// Where copies go.
    pub destination: RouteDestination,
    /// Which share of requests is copied.
    pub fraction: Fraction,
}

/// A compiled HTTP route rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The VirtualService it comes from (for delegated rules, the delegate).
    pub virtual_service: Option<ResourceKey>,
    /// Its index in the VirtualService's `http` list (the root's, for delegated rules).
    pub index: usize,
    /// Its `name` (`root-delegate` for delegated rules).
    pub name: String,
    /// For a delegated rule, its index in the delegate's `http` list (`virtual_service` is
    /// the delegate and `index` the root's rule).
    pub delegate_index: Option<usize>,
    /// What it does.
    pub action: Action,
    /// Path and authority rewrite.
    pub rewrite: Option<Rewrite>,
    /// Route timeout; `None` is no timeout (Istio's default).
    pub timeout: Option<Duration>,
    /// Retry policy, Istio's default when the rule sets none.
    pub retries: RetryPolicy,
    /// Faults.
    pub fault: FaultPolicy,
    /// Mirrors that fire (0% mirrors are left out).
    pub mirrors: Vec<Mirror>,
    /// CORS.
    pub cors: Option<CorsPolicy>,
    /// Route-level header operations.
    pub headers: HeadersPolicy,
    /// Sticky split key, when opted in.
    pub sticky: Option<StickyKey>,
    /// The VirtualService's `namespace/name` and the rule's name, shared, so that a caller
    /// that attaches them to every request it forwards does not copy them.
    pub names: RuleNames,
}

/// A rule's names as shared strings (see [`Rule::names`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleNames {
    /// `namespace/name` of the VirtualService, `None` for Istio's default route.
    pub virtual_service: Option<Arc<str>>,
    /// The rule's `name` (empty when it has none).
    pub rule: Arc<str>,
}

impl RuleNames {
    /// The names of a rule `name` of the VirtualService `vs`.
    pub fn new(vs: Option<&ResourceKey>, name: &str) -> Self {
        RuleNames {
            virtual_service: vs.map(|k| Arc::from(format!("{}/{}", k.namespace, k.name))),
            rule: Arc::from(name),
        }
    }
}

impl Rule {
    /// The split, when the rule forwards.
    pub fn split(&self) -> Option<&Split> {
        match &self.action {
            Action::Route(s) => Some(s),
            _ => None,
        }
    }
}

/// One Envoy route: a rule with one of its match blocks (or none, for a rule without
/// matches). A rule with several match blocks gives several entries, in order.
#[derive(Clone, Debug)]
pub struct RouteEntry {
    /// The rule.
    pub rule: Arc<Rule>,
    /// The match block; `None` for a rule without `match` (which matches everything).
    pub matcher: Option<HttpMatch>,
    /// The index of the match block in the rule.
    pub match_index: usize,
}

impl RouteEntry {
    /// Whether the entry matches every request (Istio's `IsCatchAllRoute`).
    pub fn is_catch_all(&self) -> bool {
        self.matcher.as_ref().is_none_or(HttpMatch::is_catch_all)
    }
}
