//! The automated canary of a VirtualService, beyond Istio and only by opt-in: the annotation
//! `mesh-route.dev/rollout` holds YAML that names two destinations of a rule's route (the
//! stable one and the canary, by host and subset) and how the canary's weight grows while it
//! stays healthy:
//!
//! ```yaml
//! stable: {host: shop, subset: v1}     # destinations of the rule's route, by host+subset
//! canary: {host: shop, subset: v2}
//! stepWeight: 10                       # canary weight added per healthy interval
//! maxWeight: 100                       # promoted when reached (default 100)
//! interval: 30s                        # Go duration syntax, as Istio's durations
//! minRequests: 50                      # canary requests per interval before judging (default 20)
//! successRate: 99                      # canary % of non-5xx, not locally failed (default 99)
//! maxLatency: 500ms                    # canary p99 in the interval (default: not judged)
//! ```
//!
//! This module holds the schema, its parsing with field paths, and the checks against the
//! VirtualService's routes; executing it is `mesh_route::rollout`'s job.

use serde::Deserialize;

use crate::duration::Duration;
use crate::host::resolve_short_name;
use crate::percent::Percent;
use crate::virtual_service::{HttpRoute, VirtualService};
use crate::yaml::{self, ParseLimits};

/// The VirtualService annotation that turns an automated canary on.
pub const ROLLOUT_ANNOTATION: &str = "mesh-route.dev/rollout";

/// `maxWeight` when the annotation does not set it.
pub const DEFAULT_MAX_WEIGHT: u32 = 100;
/// `minRequests` when the annotation does not set it.
pub const DEFAULT_MIN_REQUESTS: u64 = 20;
/// `successRate` when the annotation does not set it.
pub const DEFAULT_SUCCESS_RATE: f64 = 99.0;
/// The shortest `interval` accepted.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// The longest annotation text read; longer text is an error, not parsed.
pub const MAX_ANNOTATION_LEN: usize = 4096;

/// A destination of the rule's route, by host and subset.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DestinationRef {
    /// The host as written (a short name resolves against the VirtualService's namespace).
    pub host: String,
    /// The subset, empty for none.
    pub subset: String,
}

impl DestinationRef {
    /// Whether a destination written in a VirtualService of `namespace` is this one: the
    /// hosts are equal once short names are resolved against `namespace`, the subsets equal.
    pub fn is(&self, host: &str, subset: &str, namespace: &str) -> bool {
        self.subset == subset
            && resolve_short_name(&self.host, namespace) == resolve_short_name(host, namespace)
    }
}

impl std::fmt::Display for DestinationRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.subset.is_empty() {
            write!(f, "{}", self.host)
        } else {
            write!(f, "{} subset {}", self.host, self.subset)
        }
    }
}

/// A checked rollout annotation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rollout {
    /// The destination that gets the rest of the pair's weight.
    pub stable: DestinationRef,
    /// The destination whose weight grows.
    pub canary: DestinationRef,
    /// Weight added per healthy interval, `1..=100`.
    pub step_weight: u32,
    /// The canary's weight at which it is promoted, `1..=100`.
    pub max_weight: u32,
    /// How long each step is observed; at least [`MIN_INTERVAL`].
    pub interval: Duration,
    /// Canary requests an interval needs before it is judged, at least 1.
    pub min_requests: u64,
    /// The lowest share of canary requests answered without a 5xx and without a local
    /// failure, in percent.
    pub success_rate: Percent,
    /// The highest 99th percentile of the canary's latency in an interval; `None` leaves
    /// latency unjudged.
    pub max_latency: Option<Duration>,
}

/// A problem with the annotation: where in its YAML (`stepWeight`, `stable.host`, empty for
/// the whole value) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The path inside the annotation's value.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The path from the resource's root:
    /// `metadata.annotations["mesh-route.dev/rollout"].stepWeight`.
    pub fn resource_path(&self) -> String {
        annotation_path(&self.path)
    }
}

/// `metadata.annotations["mesh-route.dev/rollout"]` followed by `.field` (nothing for an
/// empty `field`).
pub fn annotation_path(field: &str) -> String {
    let root = format!("metadata.annotations[{ROLLOUT_ANNOTATION:?}]");
    if field.is_empty() {
        root
    } else {
        format!("{root}.{field}")
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRef {
    #[serde(default)]
    host: String,
    #[serde(default)]
    subset: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Wire {
    stable: Option<WireRef>,
    canary: Option<WireRef>,
    step_weight: Option<i64>,
    max_weight: Option<i64>,
    interval: Option<Duration>,
    min_requests: Option<i64>,
    success_rate: Option<f64>,
    max_latency: Option<Duration>,
}

/// Bounds for the annotation's YAML: a handful of fields, no deep nesting, no alias tricks.
const LIMITS: ParseLimits = ParseLimits {
    max_depth: 16,
    max_alias_nodes: 64,
};

/// Parses and checks the annotation's value on its own (see [`Rollout::positions`] for the
/// checks against the routes). Every problem is returned, each with its path.
pub fn parse(text: &str) -> Result<Rollout, Vec<FieldError>> {
    if text.len() > MAX_ANNOTATION_LEN {
        return Err(vec![FieldError::new(
            "",
            format!(
                "the annotation is {} bytes long; at most {MAX_ANNOTATION_LEN} are read",
                text.len()
            ),
        )]);
    }
    let (docs, err) = yaml::parse(text, LIMITS);
    if let Some(e) = err {
        return Err(vec![FieldError::new(
            "",
            format!(
                "not YAML: {} (line {} column {} of the annotation)",
                e.message, e.line, e.column
            ),
        )]);
    }
    let doc = match docs.as_slice() {
        [one] => one,
        _ => {
            return Err(vec![FieldError::new(
                "",
                "the annotation must hold one YAML mapping",
            )]);
        }
    };
    let json = doc.root().to_json(&mut Vec::new(), true).map_err(|path| {
        vec![FieldError::new(
            yaml::format_path(&path),
            "not a finite number",
        )]
    })?;
    if !json.is_object() {
        return Err(vec![FieldError::new(
            "",
            "the annotation must hold a YAML mapping (stable, canary, stepWeight, interval, ...)",
        )]);
    }
    let wire: Wire = serde_path_to_error::deserialize(&json).map_err(|e| {
        let path = yaml::serde_segments(e.path());
        vec![FieldError::new(
            yaml::format_path(&path),
            e.into_inner().to_string(),
        )]
    })?;
    check(wire)
}

fn check(w: Wire) -> Result<Rollout, Vec<FieldError>> {
    let mut errors = Vec::new();
    let dest = |field: &str, r: Option<WireRef>, errors: &mut Vec<FieldError>| match r {
        None => {
            errors.push(FieldError::new(field, "required"));
            None
        }
        Some(r) if r.host.is_empty() => {
            errors.push(FieldError::new(format!("{field}.host"), "required"));
            None
        }
        Some(r) => Some(DestinationRef {
            host: r.host,
            subset: r.subset,
        }),
    };
    let stable = dest("stable", w.stable, &mut errors);
    let canary = dest("canary", w.canary, &mut errors);
    if let (Some(s), Some(c)) = (&stable, &canary) {
        if s.subset == c.subset && s.host.eq_ignore_ascii_case(&c.host) {
            errors.push(FieldError::new(
                "canary",
                "the canary must be another destination than the stable one",
            ));
        }
    }
    let weight =
        |field: &str, v: Option<i64>, default: Option<u32>, errors: &mut Vec<_>| match (v, default)
        {
            (None, Some(d)) => Some(d),
            (None, None) => {
                errors.push(FieldError::new(field, "required"));
                None
            }
            (Some(v), _) if (1..=100).contains(&v) => Some(v as u32),
            (Some(v), _) => {
                errors.push(FieldError::new(
                    field,
                    format!("{v} is not a weight from 1 to 100"),
                ));
                None
            }
        };
    let step_weight = weight("stepWeight", w.step_weight, None, &mut errors);
    let max_weight = weight(
        "maxWeight",
        w.max_weight,
        Some(DEFAULT_MAX_WEIGHT),
        &mut errors,
    );
    let interval = match w.interval {
        None => {
            errors.push(FieldError::new("interval", "required"));
            None
        }
        Some(d) if d < MIN_INTERVAL => {
            errors.push(FieldError::new(
                "interval",
                format!("{d} is shorter than the shortest interval, {MIN_INTERVAL}"),
            ));
            None
        }
        Some(d) => Some(d),
    };
    let min_requests = match w.min_requests {
        None => Some(DEFAULT_MIN_REQUESTS),
        Some(n) if n >= 1 => Some(n as u64),
        Some(n) => {
            errors.push(FieldError::new(
                "minRequests",
                format!("{n} is not a number of requests of at least 1"),
            ));
            None
        }
    };
    let success_rate = match w.success_rate {
        None => Some(Percent::new(DEFAULT_SUCCESS_RATE)),
        Some(p) if (0.0..=100.0).contains(&p) => Some(Percent::new(p)),
        Some(p) => {
            errors.push(FieldError::new(
                "successRate",
                format!("{p} is not a percentage from 0 to 100"),
            ));
            None
        }
    };
    let max_latency = match w.max_latency {
        Some(d) if d <= Duration::ZERO => {
            errors.push(FieldError::new(
                "maxLatency",
                format!("{d} is not a positive duration"),
            ));
            None
        }
        other => Some(other),
    };
    match (
        stable,
        canary,
        step_weight,
        max_weight,
        interval,
        min_requests,
        success_rate,
        max_latency,
    ) {
        (
            Some(stable),
            Some(canary),
            Some(step_weight),
            Some(max_weight),
            Some(interval),
            Some(min_requests),
            Some(success_rate),
            Some(max_latency),
        ) if errors.is_empty() => Ok(Rollout {
            stable,
            canary,
            step_weight,
            max_weight,
            interval,
            min_requests,
            success_rate,
            max_latency,
        }),
        _ => Err(errors),
    }
}

/// Where the stable and the canary destination are in one rule's `route` list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Positions {
    /// Indices of `route` entries that are the stable destination.
    pub stable: Vec<usize>,
    /// Indices of `route` entries that are the canary.
    pub canary: Vec<usize>,
}

impl Positions {
    /// The one stable and the one canary index, when the rule has exactly one of each.
    pub fn pair(&self) -> Option<(usize, usize)> {
        match (self.stable.as_slice(), self.canary.as_slice()) {
            ([s], [c]) => Some((*s, *c)),
            _ => None,
        }
    }
}

impl Rollout {
    /// Where the rollout's destinations are in `route`, a rule of a VirtualService of
    /// `namespace`.
    pub fn positions(&self, route: &HttpRoute, namespace: &str) -> Positions {
        let mut p = Positions::default();
        for (i, rd) in route.route.iter().enumerate() {
            let Some(d) = &rd.destination else { continue };
            if self.stable.is(&d.host, &d.subset, namespace) {
                p.stable.push(i);
            } else if self.canary.is(&d.host, &d.subset, namespace) {
                p.canary.push(i);
            }
        }
        p
    }

    /// The indices of the rules of `vs` (of `namespace`) that route to both destinations
    /// once each: the rules the rollout steps.
    pub fn rules(&self, vs: &VirtualService, namespace: &str) -> Vec<usize> {
        vs.http
            .iter()
            .enumerate()
            .filter(|(_, r)| r.redirect.is_none() && r.direct_response.is_none())
            .filter(|(_, r)| self.positions(r, namespace).pair().is_some())
            .map(|(i, _)| i)
            .collect()
    }

    /// The checks against the VirtualService: some rule routes to both destinations, and
    /// none routes to either of them twice. Paths are those of the resource.
    pub fn check_routes(&self, vs: &VirtualService, namespace: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut any_stable = false;
        let mut any_canary = false;
        for (i, r) in vs.http.iter().enumerate() {
            let p = self.positions(r, namespace);
            any_stable |= !p.stable.is_empty();
            any_canary |= !p.canary.is_empty();
            if let Some((s, c)) = p.pair() {
                let pair = i64::from(r.route[s].weight) + i64::from(r.route[c].weight);
                if pair < i64::from(self.max_weight) {
                    out.push((
                        format!("spec.http[{i}].route"),
                        format!(
                            "the stable and the canary destination weigh {pair} together, less than maxWeight {}: the rollout moves weight between the two only",
                            self.max_weight
                        ),
                    ));
                }
            }
            for (which, list) in [("stable", &p.stable), ("canary", &p.canary)] {
                if list.len() > 1 {
                    out.push((
                        format!("spec.http[{i}].route"),
                        format!(
                            "the rollout's {which} destination is listed {} times in this route; a rollout needs it once",
                            list.len()
                        ),
                    ));
                }
            }
        }
        if !any_stable {
            out.push((
                annotation_path("stable"),
                format!(
                    "{} is not a destination of any rule's route (spec.http[].route)",
                    self.stable
                ),
            ));
        }
        if !any_canary {
            out.push((
                annotation_path("canary"),
                format!(
                    "{} is not a destination of any rule's route (spec.http[].route)",
                    self.canary
                ),
            ));
        }
        if any_stable && any_canary && out.is_empty() && self.rules(vs, namespace).is_empty() {
            out.push((
                annotation_path(""),
                format!(
                    "no rule routes to both {} and {}; a rollout moves weight between two destinations of one rule",
                    self.stable, self.canary
                ),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests;
