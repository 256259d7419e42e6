use super::*;
use crate::validate::{Severity, validate};

const FULL: &str = r#"
stable: {host: shop, subset: v1}
canary: {host: shop, subset: v2}
stepWeight: 10
maxWeight: 50
interval: 30s
minRequests: 50
successRate: 99.5
maxLatency: 500ms
"#;

fn vs(annotation: &str, http: &str) -> crate::Resources {
    let indented: String = annotation.lines().map(|l| format!("      {l}\n")).collect();
    crate::load_str(&format!(
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
  namespace: demo
  annotations:
    mesh-route.dev/rollout: |
{indented}spec:
  hosts: [shop]
  http:
{http}"#
    ))
    .expect("loads")
}

const SPLIT: &str = r#"  - name: split
    route:
    - destination: {host: shop, subset: v1}
      weight: 100
    - destination: {host: shop.demo.svc.cluster.local, subset: v2}
      weight: 0
"#;

fn errors(r: &crate::Resources) -> Vec<(String, String)> {
    validate(r)
        .findings
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.path, f.message))
        .collect()
}

/// Every field of the annotation is read into its checked form.
#[test]
fn the_annotation_parses_every_field() {
    let r = parse(FULL).expect("valid");
    assert_eq!(
        r,
        Rollout {
            stable: DestinationRef {
                host: "shop".into(),
                subset: "v1".into()
            },
            canary: DestinationRef {
                host: "shop".into(),
                subset: "v2".into()
            },
            step_weight: 10,
            max_weight: 50,
            interval: Duration::from_secs(30),
            min_requests: 50,
            success_rate: Percent::new(99.5),
            max_latency: Some(Duration::from_millis(500)),
        }
    );
}

/// `maxWeight`, `minRequests`, `successRate` and `maxLatency` have defaults (100, 20, 99,
/// latency not judged); `stable`, `canary`, `stepWeight` and `interval` are required.
#[test]
fn optional_fields_take_their_defaults_and_required_ones_are_named() {
    let r = parse("stable: {host: a}\ncanary: {host: b}\nstepWeight: 5\ninterval: 1m\n")
        .expect("valid");
    assert_eq!(r.max_weight, 100);
    assert_eq!(r.min_requests, 20);
    assert_eq!(r.success_rate, Percent::new(99.0));
    assert_eq!(r.max_latency, None);
    let e = parse("maxWeight: 50\n").unwrap_err();
    let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["stable", "canary", "stepWeight", "interval"]);
    assert!(e.iter().all(|e| e.message == "required"));
}

/// Weights are 1 to 100, durations Go's syntax, `minRequests` at least 1, `successRate` a
/// percentage; each error names its field.
#[test]
fn out_of_range_values_are_errors_at_their_field() {
    let cases = [
        (
            "stepWeight: 0",
            "stepWeight",
            "0 is not a weight from 1 to 100",
        ),
        (
            "stepWeight: 101",
            "stepWeight",
            "101 is not a weight from 1 to 100",
        ),
        (
            "maxWeight: -1",
            "maxWeight",
            "-1 is not a weight from 1 to 100",
        ),
        (
            "minRequests: 0",
            "minRequests",
            "0 is not a number of requests of at least 1",
        ),
        (
            "successRate: 100.5",
            "successRate",
            "100.5 is not a percentage from 0 to 100",
        ),
        (
            "interval: 5ms",
            "interval",
            "0.005s is shorter than the shortest interval, 0.01s",
        ),
        (
            "maxLatency: 0s",
            "maxLatency",
            "0s is not a positive duration",
        ),
    ];
    for (line, path, message) in cases {
        let key = line.split(':').next().unwrap_or_default();
        let mut text = String::new();
        for base in [
            "stable: {host: a}",
            "canary: {host: b}",
            "stepWeight: 5",
            "interval: 1s",
        ] {
            if !base.starts_with(key) {
                text.push_str(base);
                text.push('\n');
            }
        }
        text.push_str(line);
        let e = parse(&text).unwrap_err();
        assert_eq!(e, [FieldError::new(path, message)], "{line}");
    }
}

/// Type errors, unknown fields and bad durations are reported by serde at their path.
#[test]
fn malformed_values_are_errors_at_their_path() {
    let e = parse("stable: {host: a, port: 80}\n").unwrap_err();
    assert_eq!(e[0].path, "stable.port");
    assert!(e[0].message.contains("unknown field `port`"), "{e:?}");
    let e = parse("interval: soon\n").unwrap_err();
    assert_eq!(e[0].path, "interval");
    assert!(e[0].message.contains("invalid duration"), "{e:?}");
    let e = parse("interval: 30\n").unwrap_err();
    assert_eq!(e[0].path, "interval");
    let e = parse("stepWeight: ten\n").unwrap_err();
    assert_eq!(e[0].path, "stepWeight");
    let e = parse("- a\n- b\n").unwrap_err();
    assert_eq!(e[0].path, "");
    assert!(e[0].message.contains("mapping"));
    let e = parse("stable: {host: a\n").unwrap_err();
    assert!(e[0].message.starts_with("not YAML"), "{e:?}");
    let e = parse(&"#".repeat(MAX_ANNOTATION_LEN + 1)).unwrap_err();
    assert!(e[0].message.contains("at most 4096"), "{e:?}");
}

/// `meshctl validate` (the validation of the VirtualService) reports the annotation's errors
/// with the resource's field path.
#[test]
fn validation_reports_annotation_errors_with_the_resource_field_path() {
    let r = vs(
        "stable: {host: shop, subset: v1}\ncanary: {host: shop, subset: v2}\nstepWeight: 0\ninterval: 10s",
        SPLIT,
    );
    assert_eq!(
        errors(&r),
        [(
            r#"metadata.annotations["mesh-route.dev/rollout"].stepWeight"#.to_owned(),
            "0 is not a weight from 1 to 100".to_owned()
        )]
    );
}

/// A valid annotation whose destinations are in one rule (short names and FQDNs alike) is
/// no finding; that rule is the one the rollout steps.
#[test]
fn destinations_are_matched_by_host_and_subset_after_short_name_resolution() {
    let r = vs(FULL, SPLIT);
    assert_eq!(errors(&r), []);
    let rollout = parse(FULL).unwrap();
    let spec = &r.virtual_services[0].spec;
    assert_eq!(rollout.rules(spec, "demo"), [0]);
    assert_eq!(
        rollout.positions(&spec.http[0], "demo").pair(),
        Some((0, 1))
    );
}

/// A destination that no rule routes to, or two that no single rule routes to, is an error.
#[test]
fn destinations_missing_from_the_routes_are_errors() {
    let r = vs(&FULL.replace("subset: v2", "subset: v3"), SPLIT);
    assert_eq!(
        errors(&r),
        [(
            r#"metadata.annotations["mesh-route.dev/rollout"].canary"#.to_owned(),
            "shop subset v3 is not a destination of any rule's route (spec.http[].route)"
                .to_owned()
        )]
    );
    let apart = r#"  - match: [{uri: {prefix: /a}}]
    route:
    - destination: {host: shop, subset: v1}
  - route:
    - destination: {host: shop, subset: v2}
"#;
    let e = errors(&vs(FULL, apart));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, r#"metadata.annotations["mesh-route.dev/rollout"]"#);
    assert!(e[0].1.starts_with("no rule routes to both"), "{e:?}");
}

/// A route that lists the canary twice is ambiguous for a rollout: an error at that route.
#[test]
fn a_destination_listed_twice_is_an_error() {
    let twice = r#"  - route:
    - destination: {host: shop, subset: v1}
      weight: 50
    - destination: {host: shop, subset: v2}
      weight: 25
    - destination: {host: shop, subset: v2}
      weight: 25
"#;
    let e = errors(&vs(FULL, twice));
    assert!(
        e.iter()
            .any(|(p, m)| p == "spec.http[0].route" && m.contains("listed 2 times")),
        "{e:?}"
    );
}

/// A VirtualService without the annotation is validated as before: no rollout finding.
#[test]
fn without_the_annotation_nothing_changes() {
    let r = crate::load_str(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a, namespace: demo}\nspec:\n  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n",
    )
    .unwrap();
    assert_eq!(errors(&r), []);
}

/// The rollout moves weight between the stable and the canary destination only: their
/// written weights must add up to at least `maxWeight`, or the canary could never reach it.
#[test]
fn the_pair_must_weigh_at_least_max_weight() {
    let three = r#"  - route:
    - destination: {host: shop, subset: v1}
      weight: 30
    - destination: {host: shop, subset: v2}
      weight: 10
    - destination: {host: shop, subset: v3}
      weight: 60
"#;
    // FULL's maxWeight is 50; the pair weighs 40.
    let e = errors(&vs(FULL, three));
    assert!(
        e.iter().any(|(p, m)| p == "spec.http[0].route"
            && m.contains("weigh 40 together, less than maxWeight 50")),
        "{e:?}"
    );
    let enough = three
        .replace("weight: 30", "weight: 40")
        .replace("weight: 60", "weight: 50");
    assert_eq!(errors(&vs(FULL, &enough)), []);
}
