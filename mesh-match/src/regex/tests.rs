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

/// Patterns as Istio configurations write them are decided by byte checks, with the
/// engine's answers: digits after a literal, a prefix then anything, alternations of
/// literals, bounded classes, a segment of anything but `/`, `\d` and `\w` as ASCII, an
/// optional letter or group, case-insensitive letters.
#[test]
fn simple_patterns_are_decided_by_byte_checks() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "/r3/users/[0-9]+",
            &["/r3/users/1", "/r3/users/12345"],
            &["/r3/users/", "/r3/users/1a", "/r7/users/1", "/r3/users/١"],
        ),
        (
            "^/api/.*",
            &["/api/", "/api/x/y", "/api/é"],
            &["/api", "/apix", "/api/\n", "x/api/"],
        ),
        ("/api/.*$", &["/api/v1"], &["/v1"]),
        (
            "GET|POST",
            &["GET", "POST"],
            &["GE", "GETPOST", "get", "PUT"],
        ),
        ("[a-z]{2,8}", &["ab", "abcdefgh"], &["a", "abcdefghi", "aB"]),
        (
            "/api/[^/]+/items",
            &["/api/x/items", "/api/é/items"],
            &["/api//items", "/api/a/b/items"],
        ),
        (r"v\d\.\w+", &["v1.x_Y"], &["v1.", "va.x", "v١.x"]),
        ("https?", &["http", "https"], &["httpss", "htt"]),
        ("(?i)abc", &["abc", "AbC"], &["abcx", "ab"]),
        ("/(v1|v2)/(a|b)", &["/v1/a", "/v2/b"], &["/v3/a", "/v1/c"]),
        (".", &["x", "é", "€"], &["", "xy", "\n"]),
        ("[a-z]+[0-9]*", &["abc", "abc123"], &["123", "abc1d"]),
        (
            "alpha(:80)?",
            &["alpha", "alpha:80"],
            &["alpha:", "alpha:8080"],
        ),
        ("", &[""], &["x"]),
    ];
    for (pattern, yes, no) in cases {
        let r = FullRegex::new(pattern).unwrap();
        assert!(r.has_byte_checks(), "{pattern} is byte-checked");
        for v in *yes {
            assert!(r.is_full_match(v.as_bytes()), "{pattern} matches {v:?}");
            assert!(
                r.is_full_match_unfiltered(v.as_bytes()),
                "{pattern} {v:?} (engine)"
            );
        }
        for v in *no {
            assert!(
                !r.is_full_match(v.as_bytes()),
                "{pattern} does not match {v:?}"
            );
            assert!(
                !r.is_full_match_unfiltered(v.as_bytes()),
                "{pattern} {v:?} (engine)"
            );
        }
    }
    // Invalid UTF-8 is no character: `.` takes none of it, as the engine.
    let r = FullRegex::new("a.*").unwrap();
    for v in [&b"a\xff"[..], b"a\xc3", b"a\xed\xa0\x80", b"a\xc3\xa9"] {
        assert_eq!(r.is_full_match(v), r.is_full_match_unfiltered(v), "{v:?}");
    }
}

/// Patterns where matching left to right could be wrong, or that need the engine, are
/// left to it: a repetition followed by what it could take (`[a-z]+b`), repeated groups,
/// word boundaries, multi-line anchors, non-ASCII classes short of all of them.
#[test]
fn other_patterns_are_left_to_the_engine() {
    for pattern in [
        "[a-z]+b",
        ".*foo",
        "(ab)+",
        r"\bx",
        "(?m)^a$",
        "[à-é]+",
        "é+",
        "a$b",
        "(ab|cd)(ef|gh)(ij|kl)(mn|op)(qr|st)",
    ] {
        let r = FullRegex::new(pattern).unwrap();
        assert!(!r.has_byte_checks(), "{pattern} is left to the engine");
    }
    let r = FullRegex::new("[a-z]+b").unwrap();
    assert!(r.is_full_match(b"aab") && !r.is_full_match(b"aa"));
}

/// Patterns of the byte-checked shape (literals, classes, repetitions, anchors at the
/// ends, alternations), and some just outside it.
fn simple_pattern() -> impl Strategy<Value = String> {
    let class = prop_oneof![
        Just("[0-9]"),
        Just("[a-z]"),
        Just("[^/]"),
        Just("."),
        Just(r"\d"),
        Just(r"\w"),
        Just(r"\s"),
        Just("[ab]"),
        Just("[^a]"),
        Just("(?i)a"),
        Just("(?s:.)"),
        Just("(?-u:[\\x80-\\xff])"),
    ];
    let quantifier = prop_oneof![
        Just(""),
        Just("*"),
        Just("+"),
        Just("?"),
        Just("{2}"),
        Just("{1,3}"),
        Just("{2,}"),
        Just("{0}"),
    ];
    let piece = prop_oneof![
        "[ab/1.é-]{1,3}".prop_map(|l| regex_syntax::escape(&l)),
        (class, quantifier).prop_map(|(c, q)| format!("(?:{c}){q}")),
    ];
    let seq = prop::collection::vec(piece, 0..5).prop_map(|v| v.concat());
    let group = (seq.clone(), seq.clone()).prop_map(|(a, b)| format!("({a}|{b})"));
    let part = prop_oneof![3 => seq, 1 => group];
    (
        prop::collection::vec(part, 1..4).prop_map(|v| v.concat()),
        prop::option::of(prop::collection::vec("[ab/1]{0,3}", 1..3)),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(body, alternatives, start, end)| {
            let mut p = body;
            if let Some(alternatives) = alternatives {
                for a in alternatives {
                    p = format!("{p}|{a}");
                }
            }
            format!(
                "{}{p}{}",
                if start { "^" } else { "" },
                if end { "$" } else { "" }
            )
        })
}

/// Byte strings that often match: generated from the pattern when the generator can, and
/// strings over the pattern's alphabet with newlines, non-ASCII and invalid UTF-8.
fn simple_pattern_and_values() -> impl Strategy<Value = (String, Vec<Vec<u8>>)> {
    simple_pattern().prop_flat_map(|p| {
        let alphabet = prop::collection::vec(
            prop_oneof![
                Just(&b"a"[..]),
                Just(&b"b"[..]),
                Just(&b"/"[..]),
                Just(&b"1"[..]),
                Just(&b"."[..]),
                Just(&b"-"[..]),
                Just(&b"Z"[..]),
                Just(&b" "[..]),
                Just(&b"\n"[..]),
                Just("é".as_bytes()),
                Just("€".as_bytes()),
                Just(&b"\xff"[..]),
                Just(&b"\xc3"[..]),
                Just(&b"\xed\xa0\x80"[..]),
            ],
            0..10,
        )
        .prop_map(|parts| parts.concat());
        let generated: BoxedStrategy<Vec<u8>> =
            match proptest::string::string_regex(p.trim_start_matches('^').trim_end_matches('$')) {
                Ok(s) => s.prop_map(String::into_bytes).boxed(),
                Err(_) => alphabet.clone().boxed(),
            };
        let values = prop::collection::vec(prop_oneof![generated, alphabet], 1..12);
        (Just(p), values)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Byte checks give the regex engine's answer on every value, for every pattern they
    /// accept.
    #[test]
    fn byte_checks_agree_with_the_engine((p, values) in simple_pattern_and_values()) {
        let r = FullRegex::new(&p).unwrap();
        for v in values {
            prop_assert_eq!(
                r.is_full_match(&v),
                r.is_full_match_engine(&v),
                "{} on {:?} (byte checks: {})", p, v, r.has_byte_checks()
            );
        }
    }

    /// The same over the general pattern language (nested groups and repetitions).
    #[test]
    fn byte_checks_agree_with_the_engine_on_any_pattern((p, values) in pattern_and_values()) {
        let r = FullRegex::new(&p).unwrap();
        for v in values {
            prop_assert_eq!(r.is_full_match(&v), r.is_full_match_engine(&v), "{} on {:?}", p, v);
        }
    }
}
