use serde_json::json;

use super::*;

fn fields(want: Value, got: Value) -> Vec<String> {
    compare(&want, &got, "shop")
        .into_iter()
        .map(|m| m.field)
        .collect()
}

/// Only the keys a pattern gives are compared; `null` asks for absence.
#[test]
fn patterns_compare_only_given_keys() {
    let got = json!({"outcome": "route", "destination": {"host": "a", "subset": null, "port": 80}});
    assert!(fields(json!({"destination": {"port": 80}}), got.clone()).is_empty());
    assert!(fields(json!({"destination": {"subset": null}}), got.clone()).is_empty());
    assert_eq!(
        fields(
            json!({"destination": {"subset": "v1"}, "outcome": "redirect"}),
            got.clone()
        ),
        ["destination.subset", "outcome"]
    );
    // A key the decision does not have compares with null.
    assert_eq!(fields(json!({"status": 404}), got), ["status"]);
}

/// Lists compare their length and each element (as patterns).
#[test]
fn lists_compare_length_and_elements() {
    let got = json!({"weights": [{"host": "a", "weight": 90.0}, {"host": "b", "weight": 10.0}]});
    assert!(
        fields(
            json!({"weights": [{"weight": 90}, {"weight": 10}]}),
            got.clone()
        )
        .is_empty()
    );
    assert_eq!(
        fields(json!({"weights": [{"weight": 90}]}), got.clone()),
        ["weights"]
    );
    assert_eq!(
        fields(json!({"weights": [{"weight": 80}, {"host": "b"}]}), got),
        ["weights[0].weight"]
    );
}

/// Numbers compare as numbers (90 = 90.0), durations as durations (7s = 7000ms), and a
/// `host` may be a short name, completed in the given namespace.
#[test]
fn numbers_durations_and_short_hosts() {
    let got = json!({"timeout": "7s", "weight": 90.0, "host": "reviews.shop.svc.cluster.local"});
    assert!(
        fields(
            json!({"timeout": "7000ms", "weight": 90, "host": "reviews"}),
            got.clone()
        )
        .is_empty()
    );
    assert_eq!(
        fields(
            json!({"timeout": "6s", "weight": 90.5, "host": "reviews.other"}),
            got
        ),
        ["host", "timeout", "weight"]
    );
    // Short names only for `host`: another key compares verbatim.
    assert_eq!(
        fields(
            json!({"path": "reviews"}),
            json!({"path": "reviews.shop.svc.cluster.local"})
        ),
        ["path"]
    );
}

/// istio-config-validator's header operations are looked for in the decision's list of
/// operations: when every one given is there (names case-insensitive), the pattern is the
/// decision's own list, whatever else it holds; when one is missing, the pattern is the
/// operations wanted, which then differs from the decision.
#[test]
fn header_operations_are_looked_for_in_the_decisions_list() {
    let ops = HeaderOperations {
        set: [("X-A".to_owned(), "1".to_owned())].into(),
        remove: vec!["x-gone".to_owned()],
        ..Default::default()
    };
    let got = json!([
        {"op": "remove", "name": "x-gone", "value": null},
        {"op": "set", "name": "x-a", "value": "1"},
        {"op": "add", "name": "x-other", "value": "2"}
    ]);
    assert_eq!(header_ops(&ops, &got), got);
    let wrong = json!([{"op": "set", "name": "x-a", "value": "2"}]);
    assert_eq!(
        header_ops(&ops, &wrong),
        json!([
            {"op": "remove", "name": "x-gone", "value": null},
            {"op": "set", "name": "x-a", "value": "1"}
        ])
    );
    assert_eq!(header_ops(&HeaderOperations::default(), &wrong), wrong);
}

/// A route decision contributes its split; any other outcome one slot of 100%.
#[test]
fn slots_are_the_split_or_the_outcome() {
    let route = json!({"outcome": "route", "weights": [
        {"host": "a", "subset": "v1", "port": 80, "weight": 90.0},
        {"host": "a", "subset": "v2", "port": 80, "weight": 10.0}]});
    let s = slots(&route);
    assert_eq!(s.len(), 2);
    assert_eq!(s[1].0["destination"]["subset"], "v2");
    assert_eq!(s[1].1, 10.0);
    let s = slots(&json!({"outcome": "noRoute", "weights": null}));
    assert_eq!(
        s,
        [(json!({"outcome": "noRoute", "destination": null}), 100.0)]
    );
}
