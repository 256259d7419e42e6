use proptest::prelude::*;

use super::*;

/// The prefilter takes what every match of the pattern starts with and how long a match
/// can be: `/r3/users/[0-9]+` needs the prefix `/r3/users/` and at least 11 bytes.
#[test]
fn prefilter_reads_literal_prefixes_and_lengths() {
    let r = FullRegex::new("/r3/users/[0-9]+").unwrap();
    let f = &r.compiled.filter;
    assert_eq!(f.min_len, 11);
    assert_eq!(f.max_len, None);
    let prefixes: Vec<&[u8]> = f
        .prefixes
        .as_deref()
        .unwrap()
        .iter()
        .map(|p| &p[..])
        .collect();
    assert_eq!(prefixes, [&b"/r3/users/"[..]]);
    assert!(r.is_full_match(b"/r3/users/12"));
    assert!(!r.is_full_match(b"/r7/users/12"));
    assert!(!r.is_full_match(b"/r3/users/"));

    // Alternations give one prefix each; a leading class or dot gives none to check.
    let r = FullRegex::new("/(api|v1)/.*").unwrap();
    assert_eq!(
        r.compiled.filter.prefixes.as_deref().map(<[_]>::len),
        Some(2)
    );
    assert!(r.is_full_match(b"/v1/x") && r.is_full_match(b"/api/") && !r.is_full_match(b"/v2/x"));
    let r = FullRegex::new(".*foo").unwrap();
    assert!(r.compiled.filter.prefixes.is_none());
    assert!(r.is_full_match(b"xxfoo"));
    // A bounded pattern bounds the length: `[a-z]{2,3}` takes 2 or 3 bytes.
    let r = FullRegex::new("[a-z]{2,3}").unwrap();
    assert_eq!(
        (r.compiled.filter.min_len, r.compiled.filter.max_len),
        (2, Some(3))
    );
}

/// Case-insensitive and RE2-rewritten patterns keep their meaning through the prefilter:
/// `(?i)ab` admits `AB`; `\d` is ASCII only.
#[test]
fn prefilter_follows_flags_and_ascii_classes() {
    let r = FullRegex::new("(?i)ab/.*").unwrap();
    assert!(r.is_full_match(b"AB/x") && r.is_full_match(b"aB/") && !r.is_full_match(b"ac/"));
    let r = FullRegex::new(r"x\d").unwrap();
    assert!(r.is_full_match(b"x7") && !r.is_full_match("x\u{0663}".as_bytes()));
}

/// Every clone made by a `RegexCache` for one pattern shares one compiled program.
#[test]
fn the_cache_shares_one_program_per_pattern() {
    let mut cache = RegexCache::new();
    let a = cache.get("/a/[0-9]+").unwrap();
    let b = cache.get("/a/[0-9]+").unwrap();
    let c = cache.get("/b/[0-9]+").unwrap();
    assert!(Arc::ptr_eq(&a.compiled, &b.compiled));
    assert!(!Arc::ptr_eq(&a.compiled, &c.compiled));
    assert!(cache.get("(").is_err());
}

/// A small pattern language: literals, classes, dots, alternations, optional and repeated
/// parts, and flags, over a small alphabet so that values often share prefixes.
fn pattern() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        "[ab/]{1,3}",
        Just(".".to_owned()),
        Just("[a-b]".to_owned()),
        Just(r"\d".to_owned()),
        Just("(?i)a".to_owned()),
        Just("é".to_owned()),
    ];
    atom.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.concat()),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}|{b})")),
            inner.clone().prop_map(|a| format!("({a})?")),
            inner.clone().prop_map(|a| format!("({a})*")),
            inner.prop_map(|a| format!("({a}){{1,2}}")),
        ]
    })
}

/// A pattern with values that match it (generated from it) and values that may not.
fn pattern_and_values() -> impl Strategy<Value = (String, Vec<Vec<u8>>)> {
    pattern().prop_flat_map(|p| {
        let matching = proptest::string::string_regex(&p)
            .expect("the pattern language is supported")
            .prop_map(String::into_bytes);
        let values = prop::collection::vec(
            prop_oneof![
                matching,
                "[ab/1é]{0,8}".prop_map(String::into_bytes),
                prop::collection::vec(any::<u8>(), 0..6),
            ],
            1..8,
        );
        (Just(p), values)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// The prefilter never changes an answer: a value matches with it exactly when the
    /// regex engine alone matches it.
    #[test]
    fn prefilter_never_changes_the_answer((p, values) in pattern_and_values()) {
        let r = FullRegex::new(&p).unwrap();
        for v in values {
            prop_assert_eq!(r.is_full_match(&v), r.is_full_match_unfiltered(&v), "{} on {:?}", p, v);
        }
    }
}
