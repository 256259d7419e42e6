use super::*;

/// The cases of a test document given as text.
fn read(text: &str) -> Result<Vec<Case>, String> {
    let loaded = crate::input::loader("default").load_str(text, None);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.foreign.len(), 1);
    cases(&loaded.foreign[0], PathNormalization::Base).map_err(|e| e.to_string())
}

/// Lists expand to their product (fields taken by name); a query is appended to the
/// path, and a port comes from the authority unless given.
#[test]
fn requests_expand_to_every_combination() {
    let c = read(
        "cases:\n- request: {authority: [a, 'b:8080'], path: [/x, /y], query: {v: ['1', '2']}}\n  expect: {outcome: route}\n",
    )
    .unwrap();
    let lines: Vec<String> = c[0]
        .requests
        .iter()
        .map(|(_, r)| format!("{} {}", r.line(), r.port))
        .collect();
    assert_eq!(lines.len(), 8);
    assert_eq!(lines[0], "GET http://a/x?v=1 80");
    assert_eq!(lines[7], "GET http://b:8080/y?v=2 8080");
}

/// A case may expand to at most MAX_REQUESTS_PER_CASE requests; past it the document is
/// refused, naming the field that crossed the bound.
#[test]
fn expansion_is_bounded() {
    let many: Vec<String> = (0..200).map(|i| format!("/p{i}")).collect();
    let text = format!(
        "cases:\n- request:\n    authority: a\n    path: [{}]\n    headers: {{x: [{}]}}\n  expect: {{outcome: route}}\n",
        many.join(", "),
        many.join(", ")
    );
    let e = read(&text).unwrap_err();
    assert!(
        e.contains("cases[0].request.path: the case expands to more than 10000 requests"),
        "{e}"
    );
}

/// istio-config-validator's fields are read as its types; a missing `wantMatch` is false
/// (Go's zero value), so its checks are negated.
#[test]
fn icv_cases_are_read_with_its_defaults() {
    let c = read(
        "testCases:\n- description: d\n  request: {authority: [a], method: [GET], uri: [/]}\n  route: [{destination: {host: h}}]\n",
    )
    .unwrap();
    assert!(c[0].checks[0].negate);
    assert!(matches!(c[0].checks[0].want, Want::IcvRoute(_)));
    let e = read("testCases:\n- request: {authority: [], method: [GET], uri: [/]}\n").unwrap_err();
    assert!(
        e.contains("testCases[0].request.authority: is empty"),
        "{e}"
    );
    let e = read("testCases:\n- request: {authority: [a], method: [GET], uri: [/]}\n  route: [{destination: {host: h}, headers: {request: {set: {a: b}}}}]\n").unwrap_err();
    assert!(
        e.contains("route[0].headers: per-destination header operations are not compared"),
        "{e}"
    );
    let e = read("testCases:\n- request: {authority: [a], method: [GET], uri: [/]}\n  redirect: {redirectCode: 399}\n").unwrap_err();
    assert!(e.contains("redirectCode 399"), "{e}");
}

/// A gateway proxy has no source sidecar; unknown fields are refused with their path.
#[test]
fn proxies_and_unknown_fields() {
    let e = read("proxy: {gateway: ns/gw}\ncases:\n- request: {authority: a, source: {namespace: x}}\n  expect: {outcome: route}\n").unwrap_err();
    assert!(
        e.contains("cases[0].request.source: a request through a gateway has no source sidecar"),
        "{e}"
    );
    let e = read("cases:\n- request: {authority: a, methd: GET}\n  expect: {outcome: route}\n")
        .unwrap_err();
    assert!(e.contains("cases[0].request.methd: unknown field"), "{e}");
    let c = read("proxy: {namespace: shop, labels: {app: web}}\ncases:\n- request: {authority: a}\n  expect: {outcome: route}\n").unwrap();
    assert_eq!(
        c[0].requests[0].0,
        Some(Identity::sidecar_with_labels("shop", [("app", "web")]))
    );
}
