use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

/// Folding lower-cases exactly the ASCII letters `A`..=`Z`, in every byte position, and
/// leaves every other byte value (digits, punctuation, UTF-8 bytes) as it is.
#[test]
fn fold_lower_cases_ascii_letters_only() {
    for b in 0..=255u8 {
        for pos in 0..8 {
            let mut bytes = [b'x'; 8];
            bytes[pos] = b;
            // A neighbour with the high bit set must not disturb the byte (no carries).
            bytes[(pos + 1) % 8] = 0xFF;
            let folded = fold(u64::from_le_bytes(bytes)).to_le_bytes();
            assert_eq!(folded[pos], b.to_ascii_lowercase(), "byte {b:#x} at {pos}");
            assert_eq!(folded[(pos + 1) % 8], 0xFF);
        }
    }
}

/// Host names are case-insensitive; a wildcard takes the longest suffix and never the
/// empty label; `*` takes the rest; the first definition of a domain wins.
#[test]
fn lookup_follows_envoys_domain_rules() {
    let mut index = HostIndex::default();
    index.insert("reviews.bookinfo.svc.cluster.local", 0);
    index.insert("*.example.com", 1);
    index.insert("*.api.example.com", 2);
    index.insert("*", 3);
    index.insert("reviews.bookinfo.svc.cluster.local", 4);
    assert_eq!(index.lookup("reviews.bookinfo.svc.cluster.local"), Some(0));
    assert_eq!(index.lookup("Reviews.BookInfo.svc.Cluster.LOCAL"), Some(0));
    assert_eq!(index.lookup("a.example.com"), Some(1));
    assert_eq!(index.lookup("A.EXAMPLE.COM"), Some(1));
    assert_eq!(index.lookup("v1.api.example.com"), Some(2));
    assert_eq!(index.lookup("example.com"), Some(3));
    assert_eq!(index.lookup(".example.com"), Some(3));
    assert_eq!(index.lookup("reviews"), Some(3));
    assert!(index.contains("*.example.com") && index.contains("*"));
    assert!(!index.contains("*.EXAMPLE.com"));
    // A domain with an upper-case letter matches no request host (domains are lower
    // case; the request's is folded).
    let mut upper = HostIndex::default();
    upper.insert("Upper.example.com", 0);
    assert_eq!(upper.lookup("Upper.example.com"), None);
    assert_eq!(upper.lookup("upper.example.com"), None);
}

/// The old index, as a reference: a hash map of lower-case domains, the request host
/// lower-cased before the lookup.
#[derive(Default)]
struct Reference {
    exact: HashMap<String, usize>,
    wildcard: HashMap<String, usize>,
    star: Option<usize>,
}

impl Reference {
    fn insert(&mut self, domain: &str, vhost: usize) {
        if domain == "*" {
            self.star.get_or_insert(vhost);
        } else if let Some(suffix) = domain.strip_prefix('*') {
            self.wildcard.entry(suffix.into()).or_insert(vhost);
        } else {
            self.exact.entry(domain.into()).or_insert(vhost);
        }
    }

    fn lookup(&self, host: &str) -> Option<usize> {
        let host = host.to_ascii_lowercase();
        if let Some(v) = self.exact.get(&host) {
            return Some(*v);
        }
        for (i, b) in host.bytes().enumerate() {
            if b == b'.' && i > 0 {
                if let Some(v) = self.wildcard.get(&host[i..]) {
                    return Some(*v);
                }
            }
        }
        self.star
    }
}

fn label() -> impl Strategy<Value = String> {
    prop_oneof!["[a-c]{1,3}", "[a-cA-C0-9é-]{1,12}", Just("svc".to_owned())]
}

fn host() -> impl Strategy<Value = String> {
    // Up to ~110 bytes: hosts past the 64 the lookup folds once, and hosts within it.
    prop::collection::vec(label(), 1..9).prop_map(|l| l.join("."))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The index answers as the reference for any domains and any host, in any case.
    #[test]
    fn lookup_agrees_with_a_lower_casing_hash_map(
        domains in prop::collection::vec(
            prop_oneof![
                3 => host().prop_map(|h| h.to_ascii_lowercase()),
                1 => host().prop_map(|h| format!("*.{}", h.to_ascii_lowercase())),
                1 => host(),
                1 => Just("*".to_owned()),
            ],
            0..40,
        ),
        hosts in prop::collection::vec(host(), 1..20),
    ) {
        let mut index = HostIndex::default();
        let mut reference = Reference::default();
        for (i, d) in domains.iter().enumerate() {
            index.insert(d, i);
            reference.insert(d, i);
        }
        for h in hosts.iter().chain(&domains) {
            prop_assert_eq!(index.lookup(h), reference.lookup(h), "{}", h);
            let upper = h.to_ascii_uppercase();
            prop_assert_eq!(index.lookup(&upper), reference.lookup(&upper), "{}", upper);
        }
    }
}

/// The word after the last whole eight bytes is those bytes in order, zero-padded, for
/// every length (the short reads overlap; the long ones shift the last eight bytes).
#[test]
fn tail_word_is_the_trailing_bytes_zero_padded() {
    let text: Vec<u8> = (1..=40u8).collect();
    for len in 0..=text.len() {
        let s = &text[..len];
        let rest = &s[len / 8 * 8..];
        let mut expected = [0u8; 8];
        expected[..rest.len()].copy_from_slice(rest);
        assert_eq!(tail_word(s), u64::from_le_bytes(expected), "length {len}");
    }
}

/// Hosts of every length around the one- and two-word forms (0 to 24 bytes) are found in
/// any case, and a host one byte shorter or longer, or differing in its last byte, is not.
#[test]
fn every_short_length_is_found_in_any_case() {
    let names: Vec<String> = (1..=24)
        .map(|n| {
            (0..n)
                .map(|i| (b'a' + (i * 7 + n) as u8 % 26) as char)
                .collect()
        })
        .collect();
    let mut index = HostIndex::default();
    for (i, d) in names.iter().enumerate() {
        index.insert(d, i);
    }
    assert_eq!(index.lookup(""), None);
    for (i, d) in names.iter().enumerate() {
        assert_eq!(index.lookup(d), Some(i), "{d}");
        assert_eq!(index.lookup(&d.to_ascii_uppercase()), Some(i), "{d}");
        let mut other = d.clone();
        other.pop();
        other.push('-');
        assert_eq!(index.lookup(&other), None, "{other}");
        assert_eq!(index.lookup(&format!("{d}-")), None, "{d}-");
    }
}
