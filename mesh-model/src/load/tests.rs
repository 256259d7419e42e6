use super::*;

const VS: &str = r#"
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
"#;

/// A plain VirtualService loads, into the default namespace.
#[test]
fn loads_a_virtual_service() {
    let r = load_str(VS).unwrap();
    assert_eq!(r.virtual_services.len(), 1);
    let vs = &r.virtual_services[0];
    assert_eq!(vs.namespace(), "default");
    assert_eq!(vs.api_version, ApiVersion::V1Alpha3);
    assert_eq!(vs.origin.line, 2);
}

/// An unknown field is an error naming the resource, the field path and the line, in
/// istioctl's words (`unknown field "x"`, from `checkFields` in istioctl's `validate.go` and
/// golang/protobuf's `jsonpb`), followed by the fields the object has.
#[test]
fn unknown_fields_are_errors_with_path_and_line() {
    let text = VS.replace(
        "host: reviews\n        subset",
        "name: reviews\n        subset",
    );
    let err = load_str(&text).unwrap_err();
    let LoadError::Schema {
        position,
        kind,
        namespace,
        name,
        path,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (kind.as_str(), namespace.as_str(), name.as_str()),
        ("VirtualService", "default", "reviews")
    );
    assert_eq!(path, "spec.http[0].route[0].destination.name");
    assert_eq!(
        message,
        "unknown field \"name\" (known fields: host, subset, port)"
    );
    assert_eq!(position.line, 12);
    assert_eq!(
        err.to_string(),
        "<input>:12:9: VirtualService default/reviews: spec.http[0].route[0].destination.name: unknown field \"name\" (known fields: host, subset, port)"
    );
}

/// A wrong type is an error at the field.
#[test]
fn wrong_types_are_errors_with_path() {
    let text = VS.replace("subset: v1", "subset: v1\n      weight: ninety");
    let err = load_str(&text).unwrap_err();
    let LoadError::Schema { path, message, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(path, "spec.http[0].route[0].weight");
    assert_eq!(message, "invalid type: string \"ninety\", expected i32");
}

/// An unknown version of an Istio kind is an error; so is an Istio kind under a mistyped group.
#[test]
fn unknown_api_versions_are_errors() {
    let err = load_str(&VS.replace("v1alpha3", "v1b")).unwrap_err();
    assert!(err.to_string().contains("apiVersion"), "{err}");
    assert!(
        err.to_string().contains(
            "no matches for kind \"VirtualService\" in version \"networking.istio.io/v1b\""
        )
    );
    let err =
        load_str(&VS.replace("networking.istio.io/v1alpha3", "networking.istio.i/v1")).unwrap_err();
    assert!(err.to_string().contains("no matches for kind"), "{err}");
}

/// Kubernetes kinds that are neither Istio networking kinds nor the Gateway API kinds read
/// here are skipped and reported; a Gateway API Gateway is read as one, not as Istio's.
#[test]
fn other_kinds_are_skipped() {
    let text = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: reviews}}\nspec: {{ports: [{{port: 9080}}]}}\n---\n{VS}---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw}}\nspec: {{gatewayClassName: x, listeners: [{{name: h, port: 80, protocol: HTTP}}]}}\n---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {{name: t}}\nspec: {{}}\n"
    );
    let loaded = Loader::new().load_str(&text, None);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.resources.virtual_services.len(), 1);
    assert_eq!(loaded.resources.gateways.len(), 0);
    assert_eq!(loaded.resources.gateway_api.gateways.len(), 1);
    let kinds: Vec<_> = loaded.skipped.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds, ["Service", "TCPRoute"]);
}

/// `kind: List`, as `kubectl get -o yaml` prints it, loads its items; errors name the item.
#[test]
fn lists_load_their_items() {
    let item = VS.trim().replace('\n', "\n  ");
    let text = format!(
        "apiVersion: v1\nkind: List\nitems:\n- {item}\n- {}\n",
        item.replace("reviews\n  spec", "ratings\n  spec")
    );
    let r = load_str(&text).unwrap();
    assert_eq!(r.virtual_services.len(), 2);
    let bad = text.replacen("subset: v1", "subset: v1\n          bogus: 1", 1);
    let err = load_str(&bad).unwrap_err();
    assert!(
        err.to_string()
            .contains("items[0].spec.http[0].route[0].destination.bogus"),
        "{err}"
    );
}

/// JSON input loads like YAML (`kubectl get -o json`).
#[test]
fn json_loads() {
    let json = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"r","namespace":"ns"},"spec":{"host":"reviews","subsets":[{"name":"v1","labels":{"version":"v1"}}]}}]}"#;
    let r = load_str(json).unwrap();
    assert_eq!(r.destination_rules[0].spec.subsets[0].name, "v1");
    let tabbed = "{\n\t\"apiVersion\": \"networking.istio.io/v1\",\n\t\"kind\": \"Gateway\",\n\t\"metadata\": {\"name\": \"g\"},\n\t\"spec\": {}\n}\n";
    let r = load_str(tabbed).unwrap();
    assert_eq!(r.gateways.len(), 1);
}

/// Both the JSON (camelCase) and the proto (snake_case) field names are accepted.
#[test]
fn proto_field_names_are_accepted() {
    let text = VS.replace(
        "subset: v1",
        "subset: v1\n    mirror_percentage: {value: 50}\n    per_try_timeout_is_not_here: 1",
    );
    let err = load_str(&text).unwrap_err();
    assert!(err.to_string().contains("per_try_timeout_is_not_here"));
    let text = VS.replace("subset: v1", "subset: v1\n    mirror_percentage: {value: 50}\n    retries: {attempts: 2, per_try_timeout: 2s}");
    let r = load_str(&text).unwrap();
    let http = &r.virtual_services[0].spec.http[0];
    assert_eq!(http.mirror_percentage.unwrap().value, 50.0);
    assert_eq!(
        http.retries
            .as_ref()
            .unwrap()
            .per_try_timeout
            .unwrap()
            .to_string(),
        "2s"
    );
}

/// A syntax error names the line; documents before it still load.
#[test]
fn syntax_errors_keep_earlier_documents() {
    let text = format!("{VS}---\nkind: [unclosed\n");
    let loaded = Loader::new().load_str(&text, None);
    assert_eq!(loaded.resources.virtual_services.len(), 1);
    assert_eq!(loaded.errors.len(), 1);
    assert!(matches!(loaded.errors[0], LoadError::Syntax { .. }));
}

/// A 1 MB document of nested aliases is rejected quickly with a clear error.
#[test]
fn billion_laughs_is_rejected() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x]\n");
    let mut i = 1;
    while text.len() < 1_000_000 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
        i += 1;
    }
    let loaded = Loader::new().load_str(&text, None);
    let err = &loaded.errors[0];
    assert!(matches!(err, LoadError::Limit { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("aliases expand to more than 100000 nodes"),
        "{err}"
    );
}

/// Input over the size limit is rejected before parsing.
#[test]
fn oversized_input_is_rejected() {
    let loader = Loader::new().with_limits(Limits {
        max_input_bytes: 10,
        ..Limits::default()
    });
    let loaded = loader.load_str(VS, None);
    assert!(
        loaded.errors[0]
            .to_string()
            .contains("more than the limit of 10 bytes")
    );
}

/// Non-UTF-8 bytes are an error, not a panic.
#[test]
fn non_utf8_is_an_error() {
    let loaded = Loader::new().load_bytes(b"a: \xff\xfe\n", None);
    assert!(loaded.errors[0].to_string().contains("not UTF-8"));
}

/// `key: null` is dropped as the API server prunes it.
#[test]
fn nulls_are_pruned() {
    let text = VS.replace("subset: v1", "subset: v1\n    timeout: null\n    fault: ~");
    let r = load_str(&text).unwrap();
    assert_eq!(r.virtual_services[0].spec.http[0].timeout, None);
}

/// `creationTimestamp` orders resources; other metadata fields are accepted.
#[test]
fn metadata_from_kubectl_is_accepted() {
    let text = VS.replace(
        "  name: reviews\n",
        "  name: reviews\n  namespace: bookinfo\n  uid: 1234\n  resourceVersion: \"42\"\n  generation: 3\n  creationTimestamp: \"2024-05-01T10:00:00Z\"\n  managedFields: [{manager: kubectl}]\n",
    ) + "status: {}\n";
    let r = load_str(&text).unwrap();
    let meta = &r.virtual_services[0].metadata;
    assert_eq!(meta.namespace, "bookinfo");
    assert_eq!(
        meta.creation_timestamp.as_ref().unwrap().as_str(),
        "2024-05-01T10:00:00Z"
    );
    assert_eq!(
        meta.creation_timestamp.as_ref().unwrap().unix_nanos(),
        1_714_557_600 * 1_000_000_000
    );
}

/// Documents the caller declares foreign (here: those with `testCases`) are returned as
/// plain data with their nulls and line positions; a kind-less document that is not
/// foreign stays an error, and without the declaration the foreign one is an error too.
#[test]
fn foreign_documents_are_returned_not_loaded() {
    fn tests_only(keys: &[&str]) -> bool {
        keys.contains(&"testCases")
    }
    let text = format!("{VS}---\ntestCases:\n- description: one\n  want: null\n---\nhosts: [x]\n");
    let loaded = Loader::new()
        .with_foreign_documents(tests_only)
        .load_str(&text, None);
    assert_eq!(loaded.resources.virtual_services.len(), 1);
    assert_eq!(loaded.foreign.len(), 1);
    let doc = &loaded.foreign[0];
    assert_eq!(doc.value["testCases"][0]["description"], "one");
    assert!(doc.value["testCases"][0].get("want").unwrap().is_null());
    assert_eq!(doc.origin.document, 1);
    assert_eq!(doc.origin.at_path("testCases[0].want").line, 17);
    assert_eq!(loaded.errors.len(), 1, "{:?}", loaded.errors);
    assert!(
        loaded.errors[0]
            .to_string()
            .contains("Object 'Kind' is missing")
    );

    let plain = Loader::new().load_str(&text, None);
    assert!(plain.foreign.is_empty());
    assert_eq!(plain.errors.len(), 2);
}

/// Gateway API kinds load from their served versions, with CRD defaults applied (as the API
/// server stores them); an unserved version and an unknown field are errors with the path.
#[test]
fn gateway_api_kinds_load_with_defaults() {
    let text = "apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: r, namespace: web}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: svc, port: 8080}]
    matches: [{headers: [{name: x, value: v1}]}]
";
    let r = load_str(text).unwrap();
    let route = &r.gateway_api.http_routes[0];
    assert_eq!(route.api_version, ApiVersion::GatewayV1Beta1);
    assert_eq!(route.key().to_string(), "HTTPRoute web/r");
    let p = &route.spec.parent_refs[0];
    assert_eq!(
        (p.group.as_str(), p.kind.as_str()),
        ("gateway.networking.k8s.io", "Gateway")
    );
    let rule = &route.spec.rules[0];
    assert_eq!(rule.backend_refs[0].kind, "Service");
    assert_eq!(rule.backend_refs[0].weight, 1);
    let m = &rule.matches[0];
    assert_eq!(m.headers[0].kind, "Exact");
    let path = m.path.as_ref().unwrap();
    assert_eq!(
        (path.kind.as_str(), path.value.as_str()),
        ("PathPrefix", "/")
    );

    let err = load_str(&text.replace("v1beta1", "v1alpha2")).unwrap_err();
    assert!(
        err.to_string().contains(
            "no matches for kind \"HTTPRoute\" in version \"gateway.networking.k8s.io/v1alpha2\""
        ),
        "{err}"
    );
    let err = load_str(&text.replace("port: 8080", "port: 8080, wieght: 3")).unwrap_err();
    assert!(
        err.to_string()
            .contains("spec.rules[0].backendRefs[0].wieght: unknown field \"wieght\""),
        "{err}"
    );
    let err = load_str(
        "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: GRPCRoute\nmetadata: {name: g}\nspec: {}\n",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("GRPCRoute as gateway.networking.k8s.io/v1"),
        "{err}"
    );
}

/// The schema error of `text`: (path, message, line).
fn schema_error(text: &str) -> (String, String, usize) {
    match load_str(text).unwrap_err() {
        LoadError::Schema {
            path,
            message,
            position,
            ..
        } => (path, message, position.line),
        other => panic!("{other:?}"),
    }
}

/// A null header match is an error with Istio's message (`header match x-user cannot be
/// null`, `validateHTTPRouteMatchRequest` in `pkg/config/validation/virtualservice.go`), not
/// a dropped condition: the API server would prune the entry and the rule would match every
/// request.
#[test]
fn a_null_header_match_is_an_error() {
    let text = VS.replace(
        "  - route:",
        "  - match:\n    - headers: {x-user: null}\n    route:",
    );
    assert_eq!(
        schema_error(&text),
        (
            "spec.http[0].match[0].headers.x-user".into(),
            "header match x-user cannot be null".into(),
            11
        )
    );
    // Other header matches, empty ones (presence) included, load.
    let text = VS.replace(
        "  - route:",
        "  - match:\n    - headers: {x-user: {}, x-group: {exact: a}}\n    route:",
    );
    let r = load_str(&text).unwrap();
    assert_eq!(
        r.virtual_services[0].spec.http[0].r#match[0].headers.len(),
        2
    );
}

/// A null `withoutHeaders` entry is the same error with the same message (Istio's
/// validation skips it and its translation reads "header absent", while the API server
/// prunes it: the two disagree, so it is refused rather than guessed).
#[test]
fn a_null_without_headers_match_is_an_error() {
    let text = VS.replace(
        "  - route:",
        "  - match:\n    - withoutHeaders:\n        x-user: ~\n    route:",
    );
    assert_eq!(
        schema_error(&text),
        (
            "spec.http[0].match[0].withoutHeaders.x-user".into(),
            "header match x-user cannot be null".into(),
            12
        )
    );
}

/// A delegate VirtualService (no hosts) is read by the same rules: a null header match in
/// its rules is the same error.
#[test]
fn a_null_header_match_in_a_delegate_is_an_error() {
    let text = VS.replace("  hosts:\n  - reviews\n", "").replace(
        "  - route:",
        "  - match:\n    - uri: {prefix: /a}\n    - headers:\n        x-user:\n    route:",
    );
    let (path, message, _) = schema_error(&text);
    assert_eq!(path, "spec.http[0].match[1].headers.x-user");
    assert_eq!(message, "header match x-user cannot be null");
}

/// The same resource (kind, namespace, name) twice in one text is an error; another kind or
/// namespace of the same name is another resource. (In two files: mesh-load's
/// `the_same_resource_in_two_files_is_an_error_naming_both`.)
#[test]
fn the_same_resource_twice_in_one_text_is_an_error() {
    let two = format!("{VS}---{VS}");
    let loaded = Loader::new().load_str(&two, None);
    assert!(matches!(loaded.errors[..], [LoadError::Duplicate { .. }]));
    let other_ns = two.replacen("  name: reviews\n", "  name: reviews\n  namespace: x\n", 1);
    assert!(Loader::new().load_str(&other_ns, None).errors.is_empty());
}

/// With [`Duplicates::LastWins`] the last of each name is kept, as `kubectl apply` of the
/// documents in order leaves it, and each one replaced is listed with what replaced it.
#[test]
fn last_wins_keeps_the_last_of_each_name() {
    let text = format!(
        "{VS}---{}---{}",
        VS.replace("subset: v1", "subset: v2"),
        VS.replace("subset: v1", "subset: v3")
    );
    let loaded = Loader::new()
        .with_duplicates(Duplicates::LastWins)
        .load_str(&text, None);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let vs = &loaded.resources.virtual_services;
    assert_eq!(vs.len(), 1);
    let destination = vs[0].spec.http[0].route[0].destination.as_ref().unwrap();
    assert_eq!(destination.subset, "v3");
    let replaced: Vec<(usize, usize)> = loaded
        .replaced
        .iter()
        .map(|r| (r.at.line, r.by.line))
        .collect();
    assert_eq!(replaced, [(2, 15), (15, 28)]);
}
