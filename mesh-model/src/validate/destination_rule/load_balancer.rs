//! `validateLoadBalancer`, `agent.ValidateLocalityLbSetting` and
//! `agent.ValidateZoneAwareLbSetting`, with the CRD's oneof rules.

use std::collections::{BTreeMap, HashSet};

use crate::destination_rule::{
    ConsistentHashLb, LoadBalancerSettings, LocalityLoadBalancerSetting, OutlierDetection,
    WarmupConfiguration, ZoneAwareLoadBalancerSetting,
};
use crate::validate::Sink;
use crate::validate::common;

/// The topology labels that `failoverPriority` may not name together with `failover`.
const TOPOLOGY_LABELS: [&str; 3] = [
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.istio.io/subzone",
];

/// `validateLoadBalancer` for the settings at `path`; `outlier` is the sibling outlier
/// detection, which failover needs.
pub(super) fn validate_load_balancer(
    sink: &mut Sink<'_>,
    path: &str,
    lb: &LoadBalancerSettings,
    outlier: Option<&OutlierDetection>,
) {
    // CRD: `simple` and `consistentHash` are a oneof.
    if lb.simple.is_some() && lb.consistent_hash.is_some() {
        sink.error(path, "only one of simple or consistentHash may be set");
    }
    // CRD: declared on `LoadBalancerSettings` in destination_rule.proto
    // (`oneof(self.warmupDurationSecs, self.warmup)`). The generated CRD at the snapshot read
    // does not carry it (the marker sits on a nested enum), but SPEC.md lists it.
    if lb.warmup_duration_secs.is_some() && lb.warmup.is_some() {
        sink.error(path, "only one of warmupDurationSecs or warmup can be set");
    }
    // CRD CEL rule `duration(self) >= duration('1ms')`: Istio's Go code does not check the
    // deprecated `warmupDurationSecs`, so the CRD's rule is the only one.
    if let Some(d) = &lb.warmup_duration_secs
        && d.as_nanos() < 1_000_000
    {
        sink.error(
            format!("{path}.warmupDurationSecs"),
            "must be a valid duration greater than 1ms",
        );
    }

    if let Some(ch) = &lb.consistent_hash {
        validate_consistent_hash(sink, &format!("{path}.consistentHash"), ch);
    }

    if lb.locality_lb_setting.is_some() && lb.zone_aware_lb_setting.is_some() {
        sink.error(
            path,
            "only one of localityLbSetting and zoneAwareLbSetting can be set",
        );
    }
    if let Some(l) = &lb.locality_lb_setting {
        validate_locality_lb_setting(sink, &format!("{path}.localityLbSetting"), l, outlier);
    }
    if let Some(z) = &lb.zone_aware_lb_setting {
        validate_zone_aware_lb_setting(sink, &format!("{path}.zoneAwareLbSetting"), z, outlier);
    }

    if let Some(w) = &lb.warmup {
        validate_warmup(sink, &format!("{path}.warmup"), w);
    }
}

fn validate_consistent_hash(sink: &mut Sink<'_>, path: &str, ch: &ConsistentHashLb) {
    // CRD: the hash key and the hash algorithm are oneofs.
    let keys = [
        ch.http_header_name.is_some(),
        ch.http_cookie.is_some(),
        ch.use_source_ip.is_some(),
        ch.http_query_parameter_name.is_some(),
    ];
    if keys.iter().filter(|k| **k).count() > 1 {
        sink.error(
            path,
            "only one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName may be set",
        );
    }
    if ch.ring_hash.is_some() && ch.maglev.is_some() {
        sink.error(path, "only one of ringHash or maglev may be set");
    }

    if let Some(cookie) = &ch.http_cookie {
        let p = format!("{path}.httpCookie");
        if cookie.name.is_empty() {
            sink.error(format!("{p}.name"), "name required for HttpCookie");
        }
        let mut seen = HashSet::new();
        for (i, attr) in cookie.attributes.iter().enumerate() {
            let ap = format!("{p}.attributes[{i}].name");
            if attr.name.is_empty() {
                sink.error(ap, "cookie attribute name cannot be empty");
            } else if !seen.insert(attr.name.as_str()) {
                sink.error(
                    ap,
                    format!("duplicate cookie attribute name: {}", attr.name),
                );
            }
        }
    }
    let hash_algorithm = ch.ring_hash.is_some() || ch.maglev.is_some();
    if ch.minimum_ring_size != 0 {
        sink.warning(
            format!("{path}.minimumRingSize"),
            "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead",
        );
        if hash_algorithm {
            sink.error(
                format!("{path}.minimumRingSize"),
                "only one of MinimumRingSize or Maglev/Ringhash can be specified",
            );
        }
    }
    if let Some(maglev) = &ch.maglev {
        let p = format!("{path}.maglev.tableSize");
        let size = maglev.table_size;
        if size == 0 {
            sink.error(p.clone(), "tableSize must be set for maglev");
        }
        if size >= 5_000_011 {
            sink.error(p.clone(), "tableSize must be less than 5000011 for maglev");
        }
        if !is_prime(size) {
            sink.error(p, "tableSize must be a prime number for maglev");
        }
    }
}

fn validate_warmup(sink: &mut Sink<'_>, path: &str, w: &WarmupConfiguration) {
    match &w.duration {
        None => sink.error(format!("{path}.duration"), "duration is required"),
        Some(d) => sink.check(format!("{path}.duration"), common::validate_duration(d)),
    }
    if let Some(p) = w.minimum_percent {
        if p.0 > 100.0 {
            sink.error(
                format!("{path}.minimumPercent"),
                "minimumPercent value should be less than or equal to 100",
            );
        } else if p.0 < 0.0 {
            // CRD schema `minimum: 0`; Istio's Go code only checks the upper bound.
            sink.error(
                format!("{path}.minimumPercent"),
                "should be greater than or equal to 0",
            );
        }
    }
    if let Some(a) = w.aggression
        && a.0 <= 0.0
    {
        sink.error(
            format!("{path}.aggression"),
            "aggression should be greater than 0",
        );
    }
}

/// Istio's `isPrime` (copied from Envoy): 1, 2 and 3 count as prime, 0 does not.
///
/// Go divides by odd numbers up to the square root; for large inputs this uses a
/// deterministic Miller-Rabin test instead, which gives the same answer without looping
/// billions of times on hostile input.
pub(super) fn is_prime(x: u64) -> bool {
    if x != 0 && x < 4 {
        return true;
    }
    if x & 1 == 0 {
        return false;
    }
    if x < 1 << 40 {
        let mut f = 3u64;
        while f * f <= x {
            if x.is_multiple_of(f) {
                return false;
            }
            f += 2;
        }
        return true;
    }
    miller_rabin(x)
}

/// Deterministic Miller-Rabin for odd `n >= 2^40` (these bases are exact for all `u64`).
fn miller_rabin(n: u64) -> bool {
    let mul = |a: u64, b: u64| ((u128::from(a) * u128::from(b)) % u128::from(n)) as u64;
    let pow = |mut b: u64, mut e: u64| {
        let mut r = 1u64;
        b %= n;
        while e > 0 {
            if e & 1 == 1 {
                r = mul(r, b);
            }
            b = mul(b, b);
            e >>= 1;
        }
        r
    };
    let mut d = n - 1;
    let mut s = 0;
    while d.is_multiple_of(2) {
        d /= 2;
        s += 1;
    }
    'bases: for a in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        if n.is_multiple_of(a) {
            return n == a;
        }
        let mut x = pow(a, d);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mul(x, x);
            if x == n - 1 {
                continue 'bases;
            }
        }
        return false;
    }
    true
}

/// `agent.ValidateLocalityLbSetting`. Like Istio, it stops at the first of several errors.
fn validate_locality_lb_setting(
    sink: &mut Sink<'_>,
    path: &str,
    lb: &LocalityLoadBalancerSetting,
    outlier: Option<&OutlierDetection>,
) {
    if !lb.distribute.is_empty() && !lb.failover.is_empty() {
        sink.error(
            path,
            "can not simultaneously specify 'distribute' and 'failover'",
        );
        return;
    }
    if !lb.failover.is_empty() {
        for (i, label) in lb.failover_priority.iter().enumerate() {
            if TOPOLOGY_LABELS.contains(&label.as_str()) {
                sink.error(
                    format!("{path}.failoverPriority[{i}]"),
                    format!(
                        "can not simultaneously set 'failover' and topology label '{label}' in 'failover_priority'"
                    ),
                );
                return;
            }
        }
    }

    for (i, d) in lb.distribute.iter().enumerate() {
        let p = format!("{path}.distribute[{i}]");
        // Go reads the map in random order; this reads it sorted.
        let mut total: u32 = 0;
        for (loc, weight) in &d.to {
            if *weight == 0 || *weight > 100 {
                sink.error(
                    format!("{p}.to.{loc}"),
                    "locality weight must be in range [1, 100]",
                );
                return;
            }
            total = total.wrapping_add(*weight);
        }
        if total != 100 {
            sink.error(
                format!("{p}.to"),
                format!("total locality weight {total} != 100"),
            );
            return;
        }
        let dest: Vec<&str> = d.to.keys().map(String::as_str).collect();
        if let Some((j, m)) = validate_localities(&dest) {
            sink.error(format!("{p}.to.{}", dest[j]), m);
        }
    }
    let src: Vec<&str> = lb.distribute.iter().map(|d| d.from.as_str()).collect();
    if let Some((j, m)) = validate_localities(&src) {
        sink.error(format!("{path}.distribute[{j}].from"), m);
    }

    if (!lb.failover.is_empty() || !lb.failover_priority.is_empty()) && outlier.is_none() {
        sink.warning(
            path,
            "outlier detection policy must be provided for failover",
        );
    }
    for (i, f) in lb.failover.iter().enumerate() {
        let p = format!("{path}.failover[{i}]");
        if f.from == f.to {
            sink.error(
                p.clone(),
                "locality lb failover settings must specify different regions",
            );
        }
        if f.from.contains('/') || f.to.contains('/') {
            sink.error(p.clone(), "locality lb failover only specify region");
        }
        if f.to.contains('*') || f.from.contains('*') {
            sink.error(
                p,
                "locality lb failover region should not contain '*' wildcard",
            );
        }
    }
}

/// `agent.ValidateZoneAwareLbSetting`.
fn validate_zone_aware_lb_setting(
    sink: &mut Sink<'_>,
    path: &str,
    lb: &ZoneAwareLoadBalancerSetting,
    outlier: Option<&OutlierDetection>,
) {
    for (i, label) in lb.failover_priority.iter().enumerate() {
        if TOPOLOGY_LABELS.contains(&label.as_str()) {
            sink.error(
                format!("{path}.failoverPriority[{i}]"),
                format!(
                    "'failover_priority' for zone aware lb must not use topology label '{label}'; region- and zone-level routing are handled automatically"
                ),
            );
        }
    }
    if (!lb.failover.is_empty() || !lb.failover_priority.is_empty()) && outlier.is_none() {
        sink.warning(
            path,
            "outlier detection policy must be provided for failover",
        );
    }
    for (i, f) in lb.failover.iter().enumerate() {
        let p = format!("{path}.failover[{i}]");
        if f.from == f.to {
            sink.error(
                p.clone(),
                "zone aware lb failover settings must specify different regions",
            );
        }
        if f.from.contains('/') || f.to.contains('/') {
            sink.error(
                p.clone(),
                "zone aware lb failover only specifies region; zone and subzone failover are handled automatically",
            );
        }
        if f.to.contains('*') || f.from.contains('*') {
            sink.error(
                p,
                "zone aware lb failover region should not contain '*' wildcard",
            );
        }
    }
    // CRD schema: `minClusterSize` has `minimum: 1`.
    if lb.min_cluster_size == Some(0) {
        sink.error(
            format!("{path}.minClusterSize"),
            "should be greater than or equal to 1",
        );
    }
}

/// `validateLocalities`: the index of the first offending locality and Istio's message.
fn validate_localities(localities: &[&str]) -> Option<(usize, String)> {
    // region -> zone -> subzone -> present; "*" marks a whole level.
    let mut map: BTreeMap<&str, BTreeMap<&str, BTreeMap<&str, bool>>> = BTreeMap::new();
    let overlap = |i: usize, l: &str| {
        Some((
            i,
            format!("locality {l} overlap with previous specified ones"),
        ))
    };
    for (i, &locality) in localities.iter().enumerate() {
        let stars = locality.matches('*').count();
        if stars > 0 && (stars > 1 || !locality.ends_with('*')) {
            return Some((
                i,
                format!(
                    "locality {locality} wildcard '*' number can not exceed 1 and must be in the end"
                ),
            ));
        }
        if map.contains_key("*") {
            return overlap(i, locality);
        }
        let items: Vec<&str> = locality.splitn(3, '/').collect();
        if items.iter().any(|s| s.is_empty()) {
            return Some((
                i,
                format!("locality {locality} must not contain empty region/zone/subzone info"),
            ));
        }
        let region = items[0];
        match items.len() {
            1 => {
                if map.contains_key(region) {
                    return overlap(i, locality);
                }
                map.insert(
                    region,
                    BTreeMap::from([("*", BTreeMap::from([("*", true)]))]),
                );
            }
            2 => {
                let zone = items[1];
                if let Some(zones) = map.get_mut(region) {
                    if zones.contains_key("*") || zones.contains_key(zone) {
                        return overlap(i, locality);
                    }
                    zones.insert(zone, BTreeMap::from([("*", true)]));
                } else {
                    map.insert(
                        region,
                        BTreeMap::from([(zone, BTreeMap::from([("*", true)]))]),
                    );
                }
            }
            _ => {
                let (zone, subzone) = (items[1], items[2]);
                if let Some(zones) = map.get_mut(region) {
                    if zones.contains_key("*") {
                        return overlap(i, locality);
                    }
                    if let Some(subzones) = zones.get_mut(zone) {
                        if subzones.get("*").copied().unwrap_or(false)
                            || subzones.get(subzone).copied().unwrap_or(false)
                        {
                            return overlap(i, locality);
                        }
                        subzones.insert(subzone, true);
                    } else {
                        zones.insert(zone, BTreeMap::from([(subzone, true)]));
                    }
                } else {
                    map.insert(
                        region,
                        BTreeMap::from([(zone, BTreeMap::from([(subzone, true)]))]),
                    );
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Maglev table sizes: Envoy's primality test, where 1 counts as prime and 0 does not.
    #[test]
    fn is_prime_matches_envoy() {
        assert!(is_prime(1));
        assert!(is_prime(2));
        assert!(is_prime(3));
        assert!(!is_prime(0));
        assert!(!is_prime(4));
        assert!(!is_prime(9));
        assert!(is_prime(65537));
        assert!(!is_prime(65535));
        assert!(is_prime(5_000_011));
        assert!(is_prime(18_446_744_073_709_551_557));
        assert!(!is_prime(18_446_744_073_709_551_555));
        assert!(!is_prime(4_294_967_291 * 4_294_967_279));
        assert!(is_prime((1 << 61) - 1));
    }

    /// Localities overlap when an earlier one already covers them.
    #[test]
    fn localities_overlap() {
        assert!(validate_localities(&["region1/zone1", "region1/zone2"]).is_none());
        assert_eq!(
            validate_localities(&["region1/*", "region1/zone1"]),
            Some((
                1,
                "locality region1/zone1 overlap with previous specified ones".into()
            ))
        );
        assert_eq!(
            validate_localities(&["*", "region1"]),
            Some((
                1,
                "locality region1 overlap with previous specified ones".into()
            ))
        );
        assert_eq!(
            validate_localities(&["region1/zone1/sub1", "region1/zone1/sub1"]),
            Some((
                1,
                "locality region1/zone1/sub1 overlap with previous specified ones".into()
            ))
        );
        assert_eq!(
            validate_localities(&["a/*/c"]),
            Some((
                0,
                "locality a/*/c wildcard '*' number can not exceed 1 and must be in the end".into()
            ))
        );
        assert_eq!(
            validate_localities(&["a//c"]),
            Some((
                0,
                "locality a//c must not contain empty region/zone/subzone info".into()
            ))
        );
    }
}
