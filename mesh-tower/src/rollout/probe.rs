//! The canary's outcome counters and latency sketch for one interval: atomics, fixed size.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mesh_route::rollout::IntervalStats;

use crate::flags::ResponseFlags;

/// Sub-buckets per power of two of the sketch: a reported p99 is at most 1/8 over the
/// true one.
const SUB_BUCKETS: u32 = 8;
/// Powers of two of microseconds covered: up to 2^40 µs (about 12 days); longer latencies
/// fall in the last bucket.
const OCTAVES: u32 = 40;
/// The sketch's size: a fixed number of counters, whatever the traffic.
pub(crate) const BUCKETS: usize = ((OCTAVES + 1) * SUB_BUCKETS) as usize;

/// Flags that mean the canary did not answer properly even when the status was not a 5xx
/// (a response cut mid-body, a reset).
const FAILURE_FLAGS: [ResponseFlags; 4] = [
    ResponseFlags::UPSTREAM_RESET,
    ResponseFlags::UPSTREAM_PROTOCOL_ERROR,
    ResponseFlags::UPSTREAM_CONNECTION_TERMINATION,
    ResponseFlags::STREAM_IDLE_TIMEOUT,
];

/// Counts of one interval.
#[derive(Debug)]
pub(crate) struct Probe {
    requests: AtomicU64,
    failures: AtomicU64,
    latency: Box<[AtomicU64]>,
}

impl Default for Probe {
    fn default() -> Self {
        Probe {
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            latency: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// The bucket of a latency in microseconds: exact below 8 µs, then 8 per power of two.
fn bucket(micros: u64) -> usize {
    if micros < u64::from(SUB_BUCKETS) {
        return micros as usize;
    }
    let octave = 63 - micros.leading_zeros(); // >= 3
    let shift = octave - SUB_BUCKETS.trailing_zeros();
    let sub = (micros >> shift) as u32 - SUB_BUCKETS; // 0..8
    let index = (octave - 2) * SUB_BUCKETS + sub;
    (index as usize).min(BUCKETS - 1)
}

/// The largest latency, in microseconds, of bucket `index` (its upper bound).
fn upper_bound(index: usize) -> u64 {
    let index = index as u32;
    if index < SUB_BUCKETS {
        return u64::from(index);
    }
    let octave = index / SUB_BUCKETS + 2;
    let sub = u64::from(index % SUB_BUCKETS + SUB_BUCKETS);
    let shift = octave - SUB_BUCKETS.trailing_zeros();
    ((sub + 1) << shift) - 1
}

impl Probe {
    /// Counts one canary request that ended with `code` and `flags` after `elapsed`.
    pub(crate) fn record(&self, code: u16, flags: ResponseFlags, elapsed: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if code >= 500 || FAILURE_FLAGS.iter().any(|f| flags.contains(*f)) {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency[bucket(micros)].fetch_add(1, Ordering::Relaxed);
    }

    /// The interval's numbers, and a fresh start for the next one.
    pub(crate) fn take(&self) -> IntervalStats {
        let requests = self.requests.swap(0, Ordering::Relaxed);
        let failures = self.failures.swap(0, Ordering::Relaxed);
        let counts: Vec<u64> = self
            .latency
            .iter()
            .map(|b| b.swap(0, Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let p99 = (total > 0).then(|| {
            // The smallest bucket with at least 99% of the samples at or below it.
            let rank = total - total / 100;
            let mut seen = 0;
            let index = counts
                .iter()
                .position(|c| {
                    seen += c;
                    seen >= rank
                })
                .unwrap_or(BUCKETS - 1);
            Duration::from_micros(upper_bound(index))
        });
        IntervalStats {
            requests,
            failures,
            p99,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every latency falls in a bucket whose upper bound is at most 1/8 over it.
    #[test]
    fn buckets_bound_the_latency_within_an_eighth() {
        for micros in (0..5000).chain([1 << 20, 123_456_789, (1 << 40) - 1]) {
            let b = bucket(micros);
            let ub = upper_bound(b);
            assert!(ub >= micros, "{micros} in {b} up to {ub}");
            assert!(ub <= micros + micros / 8 + 1, "{micros} in {b} up to {ub}");
            if b > 0 {
                assert!(upper_bound(b - 1) < micros, "{micros} in {b}");
            }
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    /// The p99 of an interval is the latency under which 99% of its requests fall; 5xx
    /// and cut responses are failures; taking the numbers starts the next interval at 0.
    #[test]
    fn an_interval_reports_requests_failures_and_p99() {
        let p = Probe::default();
        for _ in 0..99 {
            p.record(200, ResponseFlags::NONE, Duration::from_millis(2));
        }
        p.record(503, ResponseFlags::NONE, Duration::from_millis(900));
        p.record(
            200,
            ResponseFlags::UPSTREAM_PROTOCOL_ERROR,
            Duration::from_millis(2),
        );
        p.record(404, ResponseFlags::NONE, Duration::from_millis(2));
        let s = p.take();
        assert_eq!((s.requests, s.failures), (102, 2));
        let p99 = s.p99.expect("p99").as_nanos();
        assert!((2_000_000..=2_250_000).contains(&p99), "{p99}");
        let s = p.take();
        assert_eq!((s.requests, s.failures, s.p99), (0, 0, None));
    }
}
