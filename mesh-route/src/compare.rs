//! What differs between two decisions of one request: the comparison a configuration
//! candidate runs beside the serving table on live requests (`mesh_tower`'s candidate).
//!
//! Compared as `meshctl diff` compares: the weighted split as a whole, not the destination
//! one sample picked, so that a split that did not change is no difference whatever the
//! samples.

use crate::decision::{Decision, Target};
use crate::rule::{Rule, Split};

/// A set of the parts of a decision that differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Differences(u8);

impl Differences {
    /// No difference.
    pub const NONE: Differences = Differences(0);
    /// The kind of answer: route, redirect, direct response, no route.
    pub const OUTCOME: Differences = Differences(1);
    /// The rule that matched (VirtualService and index).
    pub const RULE: Differences = Differences(1 << 1);
    /// Where the request goes: the split's destinations and weights, the passthrough host,
    /// the redirect or the direct response.
    pub const DESTINATION: Differences = Differences(1 << 2);
    /// The rewrite.
    pub const REWRITE: Differences = Differences(1 << 3);
    /// The policies: timeout, retries, fault, mirrors, CORS, header operations, stickiness.
    pub const POLICIES: Differences = Differences(1 << 4);

    const NAMES: [(Differences, &'static str); 5] = [
        (Differences::OUTCOME, "outcome"),
        (Differences::RULE, "rule"),
        (Differences::DESTINATION, "destination"),
        (Differences::REWRITE, "rewrite"),
        (Differences::POLICIES, "policies"),
    ];

    /// Whether nothing differs.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every part of `other` differs here.
    pub fn contains(self, other: Differences) -> bool {
        self.0 & other.0 == other.0
    }

    fn insert(&mut self, other: Differences) {
        self.0 |= other.0;
    }

    /// The names of the parts that differ: `outcome`, `rule`, `destination`, `rewrite`,
    /// `policies`.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(d, _)| self.contains(*d) && !d.is_empty())
            .map(|(_, n)| n)
    }
}

fn same_split(a: &Split, b: &Split) -> bool {
    a.destinations().len() == b.destinations().len()
        && a.destinations().iter().zip(b.destinations()).all(|(x, y)| {
            x.host == y.host
                && x.subset == y.subset
                && x.port == y.port
                && (!a.is_weighted() || x.weight == y.weight)
                && x.headers == y.headers
        })
}

fn same_policies(a: &Rule, b: &Rule) -> bool {
    a.timeout == b.timeout
        && a.retries == b.retries
        && a.fault == b.fault
        && a.mirrors == b.mirrors
        && a.cors == b.cors
        && a.headers == b.headers
        && a.sticky == b.sticky
}

fn rule_id(r: &Rule) -> (Option<&mesh_model::ResourceKey>, usize, Option<usize>) {
    (r.virtual_service.as_ref(), r.index, r.delegate_index)
}

/// What differs between `serving`'s and `candidate`'s decisions of one request.
pub fn compare(serving: &Decision<'_>, candidate: &Decision<'_>) -> Differences {
    let mut d = Differences::NONE;
    if serving.outcome() != candidate.outcome() {
        d.insert(Differences::OUTCOME);
    }
    let rules = (
        serving.matched().map(|m| m.rule()),
        candidate.matched().map(|m| m.rule()),
    );
    match rules {
        (Some(a), Some(b)) if rule_id(a) != rule_id(b) => d.insert(Differences::RULE),
        (Some(_), None) | (None, Some(_)) => d.insert(Differences::RULE),
        _ => {}
    }
    match (serving, candidate) {
        (
            Decision::Route {
                rule: a,
                target: ta,
                ..
            },
            Decision::Route {
                rule: b,
                target: tb,
                ..
            },
        ) => {
            let same_target = match (ta, tb) {
                (Target::Destination(_), Target::Destination(_)) => match (a.split(), b.split()) {
                    (Some(x), Some(y)) => same_split(x, y),
                    _ => false,
                },
                (Target::Passthrough { .. }, Target::Passthrough { .. }) => ta.host() == tb.host(),
                _ => false,
            };
            if !same_target {
                d.insert(Differences::DESTINATION);
            }
            if a.rewrite != b.rewrite {
                d.insert(Differences::REWRITE);
            }
            if !same_policies(a, b) {
                d.insert(Differences::POLICIES);
            }
        }
        (Decision::Redirect { redirect: a, .. }, Decision::Redirect { redirect: b, .. })
            if a != b =>
        {
            d.insert(Differences::DESTINATION);
        }
        (
            Decision::DirectResponse { response: a, .. },
            Decision::DirectResponse { response: b, .. },
        ) if a != b => d.insert(Differences::DESTINATION),
        (Decision::NoRoute(a), Decision::NoRoute(b)) if a != b => d.insert(Differences::OUTCOME),
        _ => {}
    }
    d
}

#[cfg(test)]
mod tests;
