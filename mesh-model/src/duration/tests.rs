use super::Duration;

fn ms(s: &str) -> i64 {
    Duration::parse(s).unwrap().as_nanos() / 1_000_000
}

/// Istio accepts every Go duration: seconds, fractions, milliseconds, minutes, hours, mixes.
#[test]
fn go_duration_syntax_is_accepted() {
    assert_eq!(ms("7s"), 7000);
    assert_eq!(ms("0.5s"), 500);
    assert_eq!(ms("100ms"), 100);
    assert_eq!(ms("1m"), 60_000);
    assert_eq!(ms("1h"), 3_600_000);
    assert_eq!(ms("1h30m"), 5_400_000);
    assert_eq!(ms("2m0.5s"), 120_500);
    assert_eq!(ms(".5s"), 500);
    assert_eq!(ms("1.s"), 1000);
    assert_eq!(Duration::parse("250us").unwrap().as_nanos(), 250_000);
    assert_eq!(Duration::parse("250µs").unwrap().as_nanos(), 250_000);
    assert_eq!(Duration::parse("10ns").unwrap().as_nanos(), 10);
    assert_eq!(Duration::parse("0").unwrap(), Duration::ZERO);
    assert_eq!(Duration::parse("-1s").unwrap().as_nanos(), -1_000_000_000);
    assert_eq!(
        Duration::parse("1.0005s").unwrap().as_nanos(),
        1_000_500_000
    );
}

/// Go rejects bare numbers, unknown units (there is no `d`), empty strings and overflow.
#[test]
fn non_go_durations_are_rejected() {
    for bad in [
        "",
        "5",
        "1d",
        "s",
        ".s",
        "1.5",
        "-",
        "1 s",
        "1S",
        "5sec",
        "9999999999999h",
        "1s5",
    ] {
        assert!(Duration::parse(bad).is_err(), "{bad:?} should be rejected");
    }
    assert_eq!(
        Duration::parse("1d").unwrap_err().to_string(),
        "time: invalid duration \"1d\""
    );
}

/// Durations print in the trimmed seconds form Istio uses in its output.
#[test]
fn display_is_trimmed_seconds() {
    assert_eq!(Duration::parse("7s").unwrap().to_string(), "7s");
    assert_eq!(Duration::parse("500ms").unwrap().to_string(), "0.5s");
    assert_eq!(Duration::parse("3m").unwrap().to_string(), "180s");
    assert_eq!(Duration::parse("1ms").unwrap().to_string(), "0.001s");
    assert_eq!(Duration::parse("-1.5s").unwrap().to_string(), "-1.5s");
}

proptest::proptest! {
    /// Whatever a duration is, its printed form parses back to the same value.
    #[test]
    fn display_round_trips(n in proptest::num::i64::ANY) {
        let d = Duration::from_nanos(n);
        proptest::prop_assert_eq!(Duration::parse(&d.to_string()).unwrap(), d);
    }

    /// No string makes the parser panic.
    #[test]
    fn parse_never_panics(s in "\\PC{0,24}") {
        let _ = Duration::parse(&s);
    }
}
