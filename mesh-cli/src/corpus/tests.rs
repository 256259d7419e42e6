use super::*;

/// A witness matches its regular expression as a whole: literals kept, the fewest
/// repetitions, the first branch that works, a readable character from a class.
#[test]
fn witnesses_match_their_regex() {
    for (pattern, want) in [
        ("/users(/.*)?", "/users"),
        ("/api/v[0-9]+/items", "/api/v0/items"),
        ("(GET|OPTIONS)", "GET"),
        ("[^/]+\\.json", "a.json"),
        ("^/exact$", "/exact"),
        ("\\d{3}", "000"),
    ] {
        let w = witness(pattern).unwrap_or_else(|| panic!("no witness for {pattern}"));
        assert_eq!(w, want, "{pattern}");
        let re = mesh_match::FullRegex::new(pattern).unwrap();
        assert!(re.is_full_match(w.as_bytes()), "{pattern}: {w}");
    }
}

/// Patterns whose shortest match is too long, or that cannot be parsed, have no witness
/// (their block is then reached only by the other requests of the corpus).
#[test]
fn unbounded_witnesses_are_refused() {
    assert_eq!(witness("a{600}"), None);
    assert_eq!(witness("(?:){1000000}"), Some(String::new()));
    assert_eq!(witness("("), None);
}

/// Short forms of a service's FQDN are left out (they reach the same virtual host), and a
/// wildcard becomes a concrete host.
#[test]
fn hosts_leave_out_short_forms_and_fill_wildcards() {
    let domains: Vec<String> = [
        "reviews.default.svc.cluster.local",
        "reviews.default.svc",
        "reviews.default",
        "reviews",
        "*.example.com",
        "*",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(
        hosts(&domains),
        [
            "reviews.default.svc.cluster.local",
            "wildcard.example.com",
            "any-host.example"
        ]
    );
}
