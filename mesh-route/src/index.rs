//! Host lookup: exact names in a hash table, wildcard suffixes by longest suffix, then `*`.
//! Cost depends on the number of labels in the host, not on the number of hosts.
//!
//! Host names are case-insensitive: the tables hash and compare the request's host with
//! its ASCII letters folded to lower case, eight bytes at a time, so that a host needs no
//! lower-cased copy and no scan for upper-case letters first. A table is one array of
//! 40-byte slots over one array of key bytes: a lookup reads a slot and, for a key longer than
//! eight bytes, the key it names (a slot holds its key's first eight bytes).
//! A slot also holds its virtual host's [`Hint`] (where its routes are laid out), so that
//! the reads that follow a lookup have their addresses at once and can miss the cache
//! together instead of one after the other.

/// The longest request host that can match, in bytes (DNS's limit for a name in text form).
/// A longer host gets no route ([`crate::NoRoute::BadHost`]) on every path, whether or not
/// it needs lower-casing.
pub const MAX_HOST_LEN: usize = 255;

/// Where a virtual host's routes are laid out in its table (see `Layout` in
/// [`crate::table`]): its first match block and their number, the first step and the
/// first literal byte of those blocks in the table's program, and their [`Shape`]. Kept in
/// the index's slots, so that the lookup that finds a host also gives the addresses of
/// what deciding reads next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Hint {
    /// The host's first block in the program.
    pub(crate) block: u32,
    /// The number of its blocks, plus the flags of its [`Shape`] in the high bits.
    blocks: u32,
    /// The first step of its first block.
    pub(crate) step: u32,
    /// The first literal byte of its blocks.
    pub(crate) lit: u32,
}

/// What deciding may skip for a virtual host's blocks, known when they are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Blocks of any number of conditions.
    General,
    /// The first block has no condition: every request matches it.
    FirstUnconditional,
    /// Every block has exactly one condition, except that the last one may have none
    /// (`last_empty`, a rule without `match` after rules with one condition each): the
    /// host's steps are its blocks, one for one.
    OneStep {
        /// The last block has no condition.
        last_empty: bool,
    },
}

impl Hint {
    /// The hint of no block.
    pub(crate) const EMPTY: Hint = Hint {
        block: 0,
        blocks: 0,
        step: 0,
        lit: 0,
    };
    /// The flag of [`Hint::blocks`] for [`Shape::FirstUnconditional`].
    const UNCONDITIONAL: u32 = 1 << 31;
    /// The flag for [`Shape::OneStep`].
    const ONE_STEP: u32 = 1 << 30;
    /// The flag for [`Shape::OneStep`] with `last_empty`.
    const LAST_EMPTY: u32 = 1 << 29;
    const FLAGS: u32 = Hint::UNCONDITIONAL | Hint::ONE_STEP | Hint::LAST_EMPTY;

    /// The hint of a host of `blocks` blocks from `block`; `None` past 2^29 blocks.
    pub(crate) fn new(
        block: u32,
        blocks: usize,
        step: u32,
        lit: u32,
        shape: Shape,
    ) -> Option<Hint> {
        let blocks = u32::try_from(blocks)
            .ok()
            .filter(|b| *b < Hint::LAST_EMPTY)?;
        let flags = match shape {
            _ if blocks == 0 => 0,
            Shape::General => 0,
            Shape::FirstUnconditional => Hint::UNCONDITIONAL,
            Shape::OneStep { last_empty: false } => Hint::ONE_STEP,
            Shape::OneStep { last_empty: true } => Hint::ONE_STEP | Hint::LAST_EMPTY,
        };
        Some(Hint {
            block,
            blocks: blocks | flags,
            step,
            lit,
        })
    }

    /// The number of the host's blocks.
    #[inline]
    pub(crate) fn blocks(&self) -> u32 {
        self.blocks & !Hint::FLAGS
    }

    /// Whether the host's first block has no condition (every request matches it).
    #[inline]
    pub(crate) fn first_unconditional(&self) -> bool {
        self.blocks & Hint::UNCONDITIONAL != 0
    }

    /// `Some(last_empty)` for [`Shape::OneStep`].
    #[inline]
    pub(crate) fn one_step(&self) -> Option<bool> {
        (self.blocks & Hint::ONE_STEP != 0).then_some(self.blocks & Hint::LAST_EMPTY != 0)
    }
}

/// Maps request hosts to virtual hosts.
#[derive(Clone, Debug, Default)]
pub(crate) struct HostIndex {
    exact: Table,
    /// Keyed by the suffix after `*` (`.example.com` for `*.example.com`).
    wildcard: Table,
    star: Option<(usize, Hint)>,
}

impl HostIndex {
    /// Adds a domain; the first definition of a domain wins.
    pub(crate) fn insert(&mut self, domain: &str, vhost: usize) {
        if domain == "*" {
            self.star.get_or_insert((vhost, Hint::default()));
        } else if let Some(suffix) = domain.strip_prefix('*') {
            self.wildcard.insert(suffix.as_bytes(), vhost);
        } else {
            self.exact.insert(domain.as_bytes(), vhost);
        }
    }

    /// Whether the domain is already taken.
    pub(crate) fn contains(&self, domain: &str) -> bool {
        if domain == "*" {
            self.star.is_some()
        } else if let Some(suffix) = domain.strip_prefix('*') {
            self.wildcard.get_exact(suffix.as_bytes()).is_some()
        } else {
            self.exact.get_exact(domain.as_bytes()).is_some()
        }
    }

    /// Sets the [`Hint`] of every domain to `hint` of its virtual host.
    pub(crate) fn set_hints(&mut self, hint: impl Fn(usize) -> Hint) {
        for s in self
            .exact
            .slots
            .iter_mut()
            .chain(self.wildcard.slots.iter_mut())
        {
            if s.vhost != 0 {
                s.hint = hint(s.vhost as usize - 1);
            }
        }
        if let Some((v, h)) = &mut self.star {
            *h = hint(*v);
        }
    }

    /// The virtual host for a host without port, in any case (the domains are lower case).
    #[inline]
    pub(crate) fn lookup(&self, host: &str) -> Option<usize> {
        self.lookup_hinted(host).map(|(v, _)| v)
    }

    /// The virtual host for a host without port and its [`Hint`] (see [`Self::lookup`]),
    /// by reference: the pair fits in two registers.
    #[inline(always)]
    pub(crate) fn lookup_hinted(&self, host: &str) -> Option<(usize, &Hint)> {
        let host = host.as_bytes();
        if let Some(v) = self.exact.get_folded(host) {
            return Some(v);
        }
        if !self.wildcard.is_empty() {
            // Longest suffix first: scan dots from the left. A wildcard never matches the
            // empty label (`*.foo.com` does not match `foo.com`).
            for (i, b) in host.iter().enumerate() {
                if *b == b'.'
                    && i > 0
                    && let Some(v) = self.wildcard.get_folded(&host[i..])
                {
                    return Some(v);
                }
            }
        }
        self.star.as_ref().map(|(v, h)| (*v, h))
    }
}

/// One open-addressing hash table (linear probing, at most half full) from byte strings to
/// virtual hosts. Keys are hashed with their ASCII letters folded to lower case; a stored
/// key matches a folded request host byte for byte.
#[derive(Clone, Debug, Default)]
struct Table {
    slots: Box<[Slot]>,
    /// The keys, one after another, each padded with zeros to a multiple of eight bytes
    /// (so that a folded host is compared with a key a whole word at a time).
    keys: Vec<u8>,
    len: usize,
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    /// The virtual host's layout (see [`HostIndex::set_hints`]).
    hint: Hint,
    /// The key's first eight bytes as a word, padded with zeros: a key of up to eight
    /// bytes (most hosts' short names) is compared here, without reading the key bytes.
    word: u64,
    /// The high half of the key's hash (compared before the key).
    hash: u32,
    /// The virtual host plus one; 0 marks an empty slot.
    vhost: u32,
    /// The key's place in [`Table::keys`].
    start: u32,
    len: u32,
}

impl Table {
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `key` unless it is there already (the first definition wins). Tables hold the
    /// domains of one configuration: far fewer than 2^31 names and 4 GiB of text, within
    /// which every index fits its 32 bits; past that, the key is not added.
    fn insert(&mut self, key: &[u8], vhost: usize) {
        if self.get_exact(key).is_some() {
            return;
        }
        let (Ok(start), Ok(len), Ok(vhost)) = (
            u32::try_from(self.keys.len()),
            u32::try_from(key.len()),
            u32::try_from(vhost + 1),
        ) else {
            return;
        };
        if u32::try_from(self.keys.len() + key.len() + 8).is_err() {
            return;
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        self.keys.extend_from_slice(key);
        self.keys.resize(self.keys.len().next_multiple_of(8), 0);
        let word = self
            .keys
            .get(start as usize..start as usize + 8)
            .map_or(0, |k| word_at(k, 0));
        let h = hash(key);
        self.place(Slot {
            word,
            hash: (h >> 32) as u32,
            vhost,
            start,
            len,
            hint: Hint::default(),
        });
        self.len += 1;
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(8);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); cap].into());
        for s in old.iter().filter(|s| s.vhost != 0) {
            self.place(*s);
        }
    }

    /// Puts `slot` in the first free slot of its probe sequence.
    fn place(&mut self, slot: Slot) {
        let mask = self.slots.len() - 1;
        let mut i = home(slot.hash, mask);
        while self.slots[i].vhost != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
    }

    /// Whether the padded key at `start` is `words` (a folded host's words as [`hash`]
    /// reads them, the last one padded with zeros, for a key of the host's length).
    #[inline]
    fn padded_key_is(&self, start: usize, words: &[u64]) -> bool {
        let Some(key) = self.keys.get(start..start + 8 * words.len()) else {
            return false;
        };
        let mut i = 0;
        while i < words.len() {
            if words[i] != word_at(key, 8 * i) {
                return false;
            }
            i += 1;
        }
        true
    }

    /// Whether the key of slot `s`, of `n` bytes (at most 16), is the words `w0` and `w1`
    /// (as [`Table::get_folded`] folds a host of `n` bytes): its first word is in the slot,
    /// and only a key of more than eight bytes is read for its second.
    #[inline]
    fn short_key_is(&self, s: &Slot, n: usize, w0: u64, w1: u64) -> bool {
        if s.word != w0 {
            return false;
        }
        if n <= 8 {
            return true;
        }
        let start = s.start as usize + 8;
        self.keys
            .get(start..start + 8)
            .is_some_and(|k| word_at(k, 0) == w1)
    }

    #[inline]
    fn key(&self, s: &Slot) -> &[u8] {
        &self.keys[s.start as usize..(s.start + s.len) as usize]
    }

    /// The slot whose key `eq` accepts, among those of hash `h`.
    #[inline]
    fn find(&self, h: u64, eq: impl Fn(&Slot) -> bool) -> Option<(usize, &Hint)> {
        if self.len == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let high = (h >> 32) as u32;
        let mut i = home(high, mask);
        loop {
            let s = &self.slots[i];
            if s.vhost == 0 {
                return None;
            }
            if s.hash == high && eq(s) {
                return Some((s.vhost as usize - 1, &s.hint));
            }
            i = (i + 1) & mask;
        }
    }

    /// The virtual host of `key`, compared byte for byte.
    fn get_exact(&self, key: &[u8]) -> Option<(usize, &Hint)> {
        self.find(hash(key), |s| self.key(s) == key)
    }

    /// The virtual host of the key equal to `host` with its ASCII letters folded to lower
    /// case.
    #[inline(always)]
    fn get_folded(&self, host: &[u8]) -> Option<(usize, &Hint)> {
        if self.is_empty() {
            // A gateway's `*` alone: no hashing.
            return None;
        }
        let n = host.len();
        if n <= 16 {
            // Most hosts: one or two words, folded once and kept in registers.
            let (h, w0, w1) = if n > 8 {
                let w0 = fold(word_at(host, 0));
                // The last `n - 8` bytes, as `tail_word` reads them (all eight for 16).
                let w1 = fold(word_at(host, n - 8) >> (8 * (16 - n)));
                (mix(mix((n as u64).wrapping_mul(K), w0), w1), w0, w1)
            } else if n > 0 {
                let w0 = fold(if n == 8 {
                    word_at(host, 0)
                } else {
                    short_word(host)
                });
                (mix((n as u64).wrapping_mul(K), w0), w0, 0)
            } else {
                (0, 0, 0)
            };
            return self.find(h, |s| {
                s.len as usize == n && self.short_key_is(s, n, w0, w1)
            });
        }
        if n > SHORT {
            return self.find(hash(host), |s| eq_folded(host, self.key(s)));
        }
        // Each word folded once, for the hash and for the comparison.
        let mut words = [0u64; SHORT / 8];
        let whole = n / 8;
        let mut h = (n as u64).wrapping_mul(K);
        for (i, w) in words.iter_mut().enumerate().take(whole) {
            *w = fold(word_at(host, 8 * i));
            h = mix(h, *w);
        }
        let used = if whole * 8 < n {
            let w = fold(tail_word(host));
            words[whole] = w;
            h = mix(h, w);
            whole + 1
        } else {
            whole
        };
        let words = &words[..used];
        self.find(h, |s| {
            s.len as usize == n && self.padded_key_is(s.start as usize, words)
        })
    }
}

/// Where a hash's probe sequence starts: its high bits, the best mixed of FxHash's.
#[inline]
fn home(high: u32, mask: usize) -> usize {
    (high.rotate_left(16) as usize) & mask
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Eight bytes with the ASCII upper-case letters (`A`..=`Z`) turned into lower case and
/// every other byte, non-ASCII ones included, unchanged.
#[inline]
fn fold(x: u64) -> u64 {
    // Per byte, without carries between bytes (each seven-bit value plus at most 0x3F
    // stays below 0x100): the high bit of `ge_a` is set for bytes >= 0x41, that of `gt_z`
    // for bytes >= 0x5B; `!x` keeps bytes >= 0x80 out.
    let low = x & !HIGH;
    let ge_a = low.wrapping_add(ONES * 0x3F);
    let gt_z = low.wrapping_add(ONES * 0x25);
    let upper = ge_a & !gt_z & !x & HIGH;
    x | (upper >> 2)
}

/// The 8-byte word of `s` at `i` (`i + 8 <= s.len()`).
#[inline]
fn word_at(s: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[i..i + 8]);
    u64::from_le_bytes(w)
}

/// The bytes of `s` after its last whole 8-byte word, as a word padded with zeros (0 when
/// there are none). With eight bytes or more, one read of the last eight bytes shifted
/// (no copy of the tail byte by byte).
#[inline]
fn tail_word(s: &[u8]) -> u64 {
    let rest = s.len() % 8;
    if rest == 0 {
        0
    } else if s.len() >= 8 {
        word_at(s, s.len() - 8) >> (8 * (8 - rest))
    } else {
        short_word(s)
    }
}

/// `s` (fewer than eight bytes) as a word padded with zeros: two overlapping reads at most,
/// no loop (a byte read twice lands in the same place both times).
#[inline(always)]
fn short_word(s: &[u8]) -> u64 {
    let n = s.len();
    if n >= 4 {
        let lo = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        let hi = u32::from_le_bytes([s[n - 4], s[n - 3], s[n - 2], s[n - 1]]);
        u64::from(lo) | (u64::from(hi) << (8 * (n - 4)))
    } else if n >= 2 {
        let lo = u16::from_le_bytes([s[0], s[1]]);
        let hi = u16::from_le_bytes([s[n - 2], s[n - 1]]);
        u64::from(lo) | (u64::from(hi) << (8 * (n - 2)))
    } else {
        s.first().map_or(0, |b| u64::from(*b))
    }
}

const K: u64 = 0x517c_c1b7_2722_0a95;

/// One step of FxHash.
#[inline]
fn mix(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(K)
}

/// FxHash (rustc's hasher) of `s` with its ASCII letters folded to lower case, and of its
/// length, eight bytes at a time (the last word padded with zeros): fast for short keys.
/// The keys are configuration and lookups never insert, so a request cannot make the
/// table slow.
#[inline]
fn hash(s: &[u8]) -> u64 {
    let whole = s.len() / 8 * 8;
    let mut h = (s.len() as u64).wrapping_mul(K);
    let mut i = 0;
    while i < whole {
        h = mix(h, fold(word_at(s, i)));
        i += 8;
    }
    if whole < s.len() {
        h = mix(h, fold(tail_word(s)));
    }
    h
}

/// The longest host whose folded words [`Table::get_folded`] keeps on the stack (longer
/// ones are folded twice, for the hash and for the comparison).
const SHORT: usize = 64;

/// Whether `host` with its ASCII letters folded to lower case is `key`.
#[inline]
fn eq_folded(host: &[u8], key: &[u8]) -> bool {
    if host.len() != key.len() {
        return false;
    }
    let whole = host.len() / 8 * 8;
    let mut i = 0;
    while i < whole {
        if fold(word_at(host, i)) != word_at(key, i) {
            return false;
        }
        i += 8;
    }
    fold(tail_word(host)) == tail_word(key)
}

#[cfg(test)]
mod tests;
