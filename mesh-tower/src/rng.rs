//! A seedable, lock-free source of uniform samples (SplitMix64 over an atomic counter), so
//! that the service owns its randomness and tests can fix the seed.

use std::sync::atomic::{AtomicU64, Ordering};

/// Uniform 64-bit samples.
#[derive(Debug)]
pub struct Samples {
    state: AtomicU64,
}

impl Samples {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Samples {
            state: AtomicU64::new(seed),
        }
    }

    /// A generator seeded from the clock and the process id.
    pub fn from_entropy() -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Samples::new(t ^ u64::from(std::process::id()).rotate_left(32))
    }

    /// The next sample.
    pub fn next_u64(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A sample below `n` (`n > 0`).
    pub fn below(&self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }
}
