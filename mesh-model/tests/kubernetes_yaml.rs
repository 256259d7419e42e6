//! YAML as Kubernetes reads it. `kubectl` and `istioctl` parse YAML with sigs.k8s.io/yaml:
//! go-yaml v2 (YAML 1.1 rules) turns the text into Go values, which are written as JSON and
//! decoded into the resource's schema (the API server's CRD schema, Istio's protobuf types).
//! One test per difference from a YAML 1.2 reading (the README's table "YAML as Kubernetes
//! reads it"), each through a CRD string field (`http[0].name`), an integer field
//! (`route[0].weight`) and a boolean field (`match[0].ignoreUriCase`) where it applies.
//!
//! Sources cited: go-yaml v2 (`github.com/go-yaml/yaml`, branch v2: `resolve.go`,
//! `scannerc.go`, `parserc.go`, `decode.go`) and sigs.k8s.io/yaml (`yaml.go`).

use mesh_model::{LoadError, Loader, Resources};

/// Loads `text`, or gives the errors as one string.
fn load(text: &str) -> Result<Resources, String> {
    Loader::new()
        .load_str(text, None)
        .into_result()
        .map_err(|e| {
            e.iter()
                .map(LoadError::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })
}

/// A VirtualService with `name`, `weight` and `ignore` written as given (unquoted).
fn vs(name: &str, weight: &str, ignore: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: r, namespace: ns}}
spec:
  hosts: [r]
  http:
  - name: {name}
    match:
    - ignoreUriCase: {ignore}
    route:
    - destination: {{host: r}}
      weight: {weight}
"
    )
}

/// `value` in the string field `http[0].name`.
fn string_field(value: &str) -> Result<String, String> {
    let r = load(&vs(value, "1", "false"))?;
    Ok(r.virtual_services[0].spec.http[0].name.clone())
}

/// `value` in the integer field `http[0].route[0].weight`.
fn integer_field(value: &str) -> Result<i32, String> {
    let r = load(&vs("x", value, "false"))?;
    Ok(r.virtual_services[0].spec.http[0].route[0].weight)
}

/// `value` in the boolean field `http[0].match[0].ignoreUriCase`.
fn boolean_field(value: &str) -> Result<bool, String> {
    let r = load(&vs("x", "1", value))?;
    Ok(r.virtual_services[0].spec.http[0].r#match[0].ignore_uri_case)
}

/// Asserts that `result` is an error whose text contains `needle`.
#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, String>, needle: &str) {
    match result {
        Ok(v) => panic!("accepted as {v:?}, expected an error with {needle:?}"),
        Err(e) => assert!(e.contains(needle), "{e}"),
    }
}

/// `y`, `yes`, `on` (any of go-yaml's spellings) are `true` and `n`, `no`, `off` are `false`:
/// go-yaml v2's `resolve.go` lists them in `resolveMapList` with `true`/`false`. YAML 1.2
/// reads them as strings. In a string field the JSON boolean is refused (API server: `must
/// be of type string`; istioctl: `cannot unmarshal bool into Go value of type string`).
#[test]
fn yaml_1_1_booleans_are_booleans() {
    for text in [
        "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE",
    ] {
        assert_eq!(boolean_field(text), Ok(true), "{text}");
        refused(string_field(text), "quote it");
        refused(integer_field(text), "invalid type: boolean");
    }
    for text in [
        "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "FALSE",
    ] {
        assert_eq!(boolean_field(text), Ok(false), "{text}");
        refused(string_field(text), "expected a string");
    }
    // Other spellings are strings, quoted ones too.
    assert_eq!(string_field("yES").as_deref(), Ok("yES"));
    assert_eq!(string_field("'on'").as_deref(), Ok("on"));
    refused(boolean_field("'true'"), "invalid type: string");
}

/// A leading `0` makes an octal integer: `0777` is 511. go-yaml v2's `resolve.go` hands the
/// text to Go's `strconv.ParseInt(plain, 0, 64)`, where base 0 reads a leading `0` as octal
/// (YAML 1.2 reads 777). `0o17` is 15 in both (Go 1.13's prefix). `08` is no octal: go-yaml
/// falls back to its float pattern, 8.0, which Go writes as the JSON integer 8.
#[test]
fn a_leading_zero_is_octal() {
    assert_eq!(integer_field("0777"), Ok(511));
    assert_eq!(integer_field("-017"), Ok(-15));
    assert_eq!(integer_field("0o17"), Ok(15));
    assert_eq!(integer_field("0O17"), Ok(15));
    assert_eq!(integer_field("08"), Ok(8));
    refused(
        string_field("0777"),
        "invalid type: integer `511`, expected a string",
    );
    refused(boolean_field("0777"), "invalid type: integer");
}

/// Base 60 is gone: `1:30` is the string "1:30". YAML 1.1 defines sexagesimal integers
/// (90) but go-yaml v2's `resolve.go` says "Base 60 floats are a bad idea, were dropped in
/// YAML 1.2, and are purposefully unsupported here", as YAML 1.2 does.
#[test]
fn sexagesimal_numbers_are_strings() {
    assert_eq!(string_field("1:30").as_deref(), Ok("1:30"));
    assert_eq!(string_field("190:20:30.15").as_deref(), Ok("190:20:30.15"));
    refused(integer_field("1:30"), "invalid type: string");
    refused(boolean_field("1:30"), "invalid type: string");
}

/// `~`, `null`, `Null`, `NULL` and nothing at all are null (go-yaml's `resolveMapList`, as
/// YAML 1.2); a null field is absent: the API server prunes nulls of non-nullable fields,
/// and protobuf's JSON reader skips them.
#[test]
fn null_fields_are_absent() {
    for text in ["~", "null", "Null", "NULL", ""] {
        assert_eq!(string_field(text).as_deref(), Ok(""), "{text:?}");
        assert_eq!(integer_field(text), Ok(0), "{text:?}");
        assert_eq!(boolean_field(text), Ok(false), "{text:?}");
    }
    // In a list, a null has nowhere to go: the API server refuses it.
    refused(
        load(&vs("x", "1", "false").replace("hosts: [r]", "hosts: [r, ~]")),
        "invalid type: null, expected a string",
    );
}

/// `<<` merges a mapping where it stands, in go-yaml v2's order (`decode.go`, `mapping` and
/// `merge`): its keys write over the keys before it, the keys after it write over its own,
/// and in a list of mappings the first wins. YAML 1.2 has no merge key (`<<` would be an
/// ordinary, unknown field). A merge of anything but mappings is refused (`map merge
/// requires map or sequence of maps as the value`).
#[test]
fn merge_keys_merge_in_go_yaml_order() {
    let text = "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d, namespace: ns}
spec:
  host: d
  subsets:
  - name: a
    labels: &base {app: shop, version: v1, tier: web}
  - name: b
    labels: {version: mine, <<: *base}
  - name: c
    labels: {<<: *base, version: mine}
  - name: d
    labels: {<<: [{version: first}, *base], app: own}
";
    let r = load(text).unwrap();
    let labels = |i: usize| r.destination_rules[0].spec.subsets[i].labels.clone();
    assert_eq!(
        labels(1)["version"],
        "v1",
        "the merge wrote over the key before it"
    );
    assert_eq!(labels(2)["version"], "mine", "the key after the merge wins");
    assert_eq!(
        labels(3)["version"],
        "first",
        "the first mapping of a list wins"
    );
    assert_eq!(labels(3)["app"], "own");
    assert_eq!(labels(3)["tier"], "web");
    refused(
        load(&text.replace("[{version: first}, *base]", "[{version: first}, 1]")),
        "map merge requires map or sequence of maps",
    );
}

/// Timestamps stay text: go-yaml v2 resolves `2001-12-14` as a timestamp but gives it to an
/// untyped target as its text ("for backward compatibility reasons we set it as a string",
/// `decode.go`), so Kubernetes' JSON holds the string, as YAML 1.2 reads it.
#[test]
fn timestamps_are_strings() {
    for text in [
        "2001-12-14",
        "2001-12-14T21:59:43.10-05:00",
        "2001-12-14 21:59:43.10",
    ] {
        let quoted = format!("'{text}'");
        let plain = if text.contains(' ') { &quoted } else { text };
        assert_eq!(string_field(plain).as_deref(), Ok(text));
        refused(integer_field(plain), "invalid type: string");
        refused(boolean_field(plain), "invalid type: string");
    }
}

/// `.inf`, `-.inf` and `.nan` are floats in go-yaml v2 (`resolveMapList`) as in YAML 1.2,
/// but JSON has no such numbers: sigs.k8s.io/yaml's `json.Marshal` fails (`json:
/// unsupported value: +Inf`), so `kubectl` sends nothing. Whatever the field, an error.
#[test]
fn infinities_and_nan_are_refused() {
    for text in [".inf", "-.Inf", "+.INF", ".nan", ".NaN"] {
        refused(string_field(text), "numbers must be finite");
        refused(integer_field(text), "numbers must be finite");
        refused(boolean_field(text), "numbers must be finite");
    }
}

/// Underscores group digits: `1_000` is 1000. go-yaml v2's `resolve.go` removes every `_`
/// before parsing (`strings.Replace(in, "_", "", -1)`); YAML 1.2's core schema reads a
/// string. Only in a text that starts with a digit or a sign: `.5_0` stays a string.
#[test]
fn underscores_group_digits() {
    assert_eq!(integer_field("1_000"), Ok(1000));
    assert_eq!(integer_field("-1_0_0"), Ok(-100));
    refused(string_field("1_000"), "invalid type: integer `1000`");
    refused(boolean_field("1_000"), "invalid type: integer");
    assert_eq!(string_field(".5_0").as_deref(), Ok(".5_0"));
}

/// Go's base prefixes, in either case: `0x1F` and `0X1F` are 31, `0b101` is 5 (Go's
/// `ParseInt` with base 0, and go-yaml's own `0b` branch). YAML 1.2's core schema knows
/// `0x` only (and reads `0X1F` and `0b101` as strings).
#[test]
fn hexadecimal_and_binary_integers() {
    assert_eq!(integer_field("0x1F"), Ok(31));
    assert_eq!(integer_field("0X1F"), Ok(31));
    assert_eq!(integer_field("-0x1f"), Ok(-31));
    assert_eq!(integer_field("0b101"), Ok(5));
    assert_eq!(integer_field("0B101"), Ok(5));
    refused(string_field("0X1F"), "invalid type: integer `31`");
    refused(boolean_field("0x1F"), "invalid type: integer");
    // Not numbers: a prefix without digits, a sign after the prefix.
    assert_eq!(string_field("0x").as_deref(), Ok("0x"));
    assert_eq!(string_field("0x+1").as_deref(), Ok("0x+1"));
}

/// A sign is part of a number: `+1` is 1 (Go's `ParseInt`), `+.5` is 0.5 (go-yaml's float
/// pattern `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`), as in YAML 1.2. A
/// sign alone is a string.
#[test]
fn a_plus_sign_is_a_number() {
    assert_eq!(integer_field("+1"), Ok(1));
    refused(string_field("+1"), "invalid type: integer `1`");
    refused(integer_field("+.5"), "invalid type: floating point `0.5`");
    assert_eq!(string_field("+").as_deref(), Ok("+"));
}

/// A float with an integral value fills an integer field: `1e2` and `50.0` are floats in
/// go-yaml (and in YAML 1.2), but Go's `json.Marshal` writes the float 100 as `100`, which
/// the API server's `type: integer` and protobuf's JSON reader take. A fraction is refused.
#[test]
fn integral_floats_fill_integer_fields() {
    assert_eq!(integer_field("1e2"), Ok(100));
    assert_eq!(integer_field("50.0"), Ok(50));
    assert_eq!(integer_field("-2.0"), Ok(-2));
    refused(integer_field("1.5"), "invalid type: floating point `1.5`");
    refused(integer_field("1e10"), "invalid value");
    refused(string_field("1e2"), "invalid type: floating point `100");
}

/// Mapping keys are resolved like values and then named as sigs.k8s.io/yaml names them
/// (`convertToJSONableObject`: `strconv.Itoa` of an integer, `true`/`false` of a boolean, Go's
/// `%g` of a float32): `on:` is the key `"true"`, `0x10:` is `"16"`, `1e3:` is `"1000"`. A
/// null key has no JSON name (`unsupported map key`). YAML 1.2 keeps `on`, `0x10`.
#[test]
fn keys_are_named_as_kubernetes_names_them() {
    let text = vs("x", "1", "false").replace(
        "    - ignoreUriCase: false\n",
        "    - headers: {on: {exact: a}, 0x10: {exact: b}, 1e3: {exact: c}, 2.50: {exact: d}, 'y': {exact: e}}\n",
    );
    let r = load(&text).unwrap();
    let names: Vec<&str> = r.virtual_services[0].spec.http[0].r#match[0]
        .headers
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, ["1000", "16", "2.5", "true", "y"]);
    refused(
        load(&vs("x", "1", "false").replace("hosts: [r]", "hosts: [r]\n  ~: x")),
        "unsupported map key",
    );
    // Two keys that name the same JSON field are a duplicate.
    refused(
        load(&vs("x", "1", "false").replace(
            "hosts: [r]",
            "hosts: [r]\n  exportTo: [a]\n  'exportTo': [b]",
        )),
        "key \"exportTo\" already set in map",
    );
}

/// In a flow collection, a colon inside a plain scalar stays in it unless a blank follows:
/// go-yaml v2's `yaml_parser_scan_plain_scalar` (`scannerc.go`) ends a plain scalar at
/// `:` only before a blank, so `[1.2.3.4, 2001:db8::]` holds two strings (Istio's own
/// `serviceentry-valid.yaml`). YAML 1.2 ends it at `:` before `,` `]` `}` and reads the
/// second item as the mapping `{2001:db8:: null}`.
#[test]
fn colons_stay_in_flow_plain_scalars() {
    let text = "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se, namespace: ns}
spec:
  hosts: [a.example.com]
  addresses: [1.2.3.4, 001:db8::, fe80::]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: NONE
";
    let r = load(text).unwrap();
    assert_eq!(
        r.service_entries[0].spec.addresses,
        ["1.2.3.4", "001:db8::", "fe80::"]
    );
    // The same inside a flow mapping: `{a:}` is the key "a:".
    let r = load(&text.replace(
        "hosts: [a.example.com]",
        "hosts: [a.example.com]\n  exportTo: [{a:}]",
    ));
    refused(r, "exportTo[0]: invalid type: map");
    // A colon before a blank separates a key from its value, for both readers.
    let r = load(&text.replace("001:db8::,", "001:db8:: ,"));
    refused(r, "addresses[1]: invalid type: map");
}

/// In a flow collection a plain scalar cannot start with `:`: go-yaml v2's
/// `yaml_parser_fetch_next_token` reads `:` there as a value indicator whatever follows, so
/// `[::1]` fails (`did not find expected node content`). YAML 1.2 reads the string "::1".
/// Quoted, it loads.
#[test]
fn a_leading_colon_in_a_flow_collection_is_refused() {
    let text = "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se, namespace: ns}
spec:
  hosts: [a.example.com]
  addresses: [::1]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: NONE
";
    refused(load(text), "<input>:6:15: \"::1\": in a flow collection");
    let r = load(&text.replace("[::1]", "['::1']")).unwrap();
    assert_eq!(r.service_entries[0].spec.addresses, ["::1"]);
    // In block style it is a plain scalar for both.
    let r = load(&text.replace("[::1]", "\n  - ::1")).unwrap();
    assert_eq!(r.service_entries[0].spec.addresses, ["::1"]);
}

/// In a flow collection `?` ends a plain scalar: go-yaml v2's
/// `yaml_parser_scan_plain_scalar` stops at `,` `?` `[` `]` `{` `}`, and the `?` then starts
/// a key, so `{regex: ^/v1?$}` fails (`did not find expected ',' or '}'`). YAML 1.2 keeps
/// the `?` in the scalar. In block style, or quoted, the regex loads.
#[test]
fn a_question_mark_in_a_flow_plain_scalar_is_refused() {
    let text = vs("x", "1", "false").replace(
        "    - ignoreUriCase: false\n",
        "    - uri: {regex: ^/v1?$}\n",
    );
    refused(load(&text), "ends a plain scalar at '?'");
    let quoted = load(&text.replace("^/v1?$", "'^/v1?$'")).unwrap();
    let block = load(&text.replace("{regex: ^/v1?$}", "\n        regex: ^/v1?$")).unwrap();
    for r in [quoted, block] {
        let uri = r.virtual_services[0].spec.http[0].r#match[0].uri.clone();
        assert_eq!(uri.unwrap().regex.as_deref(), Some("^/v1?$"));
    }
}

/// A plain scalar directly followed by `:` and `[` or `{` in a flow collection fails in
/// go-yaml v2: the colon stays in the scalar (see above) and the collection that follows
/// is not separated from it (`did not find expected ',' or ']'`). YAML 1.2 reads `{a: [b]}`.
#[test]
fn a_colon_before_a_flow_collection_is_refused() {
    let text = vs("x", "1", "false").replace("hosts: [r]", "hosts: [r]\n  exportTo: [a:[b]]");
    refused(load(&text), "\"a:\" directly before '['");
}

/// `\/` is not an escape in go-yaml v2's double-quoted scalars (`scannerc.go`: `found
/// unknown escape character`); YAML 1.2 added it for JSON. A stream that starts with `{` is
/// JSON for Kubernetes (its reader looks at the first character) and keeps JSON's `\/`.
#[test]
fn an_escaped_slash_is_refused_in_yaml_but_not_in_json() {
    let text = vs("\"a\\/b\"", "1", "false");
    refused(load(&text), "<input>:7:13: \\/ is not an escape");
    let json = r#"{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
      "metadata": {"name": "r", "namespace": "ns"},
      "spec": {"hosts": ["r"], "http": [{"name": "a\/b", "route": [{"destination": {"host": "r"}}]}]}}"#;
    let r = load(json).unwrap();
    assert_eq!(r.virtual_services[0].spec.http[0].name, "a/b");
}

/// Anchor and alias names are letters, digits, `-` and `_` in go-yaml v2
/// (`yaml_parser_scan_anchor`: `did not find expected alphabetic or numeric character`);
/// YAML 1.2 allows any non-blank character but the flow indicators.
#[test]
fn anchor_names_are_letters_digits_dashes_and_underscores() {
    assert_eq!(string_field("&my-name_1 x").as_deref(), Ok("x"));
    refused(string_field("&my.name x"), "anchor name \"my.name\"");
}

/// go-yaml v2 reads YAML 1.1 documents only: `%YAML 1.2` is `found incompatible YAML
/// document` (`parserc.go`). `%YAML 1.1` is fine.
#[test]
fn only_yaml_1_1_documents() {
    refused(
        load(&format!("%YAML 1.2\n---\n{}", vs("x", "1", "false"))),
        "%YAML 1.2",
    );
    assert!(load(&format!("%YAML 1.1\n---\n{}", vs("x", "1", "false"))).is_ok());
}

/// A key given twice is an error with istioctl's message: istioctl decodes with go-yaml v2's
/// strict mode (`decode.go`, `setMapIndex`: `key "x" already set in map`). (`kubectl`'s
/// reading keeps the last silently; YAML 1.2 forbids duplicates.)
#[test]
fn a_duplicate_key_is_refused_with_istioctls_message() {
    let text = vs("x", "1", "false").replace("hosts: [r]", "hosts: [r]\n  hosts: [s]");
    refused(load(&text), "<input>:6:3: key \"hosts\" already set in map");
}

/// Tags: go-yaml v2 resolves YAML's own tags (`!!str 0777` is "0777", `!!int "12"` is 12) and
/// leaves any other tag's text as a string (`resolve` returns it unresolved): `!foo 12` is
/// "12". A tag the text does not fit is an error (`cannot decode !!str `x` as a !!int`).
#[test]
fn tags_resolve_as_in_go_yaml() {
    assert_eq!(string_field("!!str 0777").as_deref(), Ok("0777"));
    assert_eq!(string_field("!foo 12").as_deref(), Ok("12"));
    assert_eq!(integer_field("!!int \"12\""), Ok(12));
    assert_eq!(boolean_field("!!bool yes"), Ok(true));
    refused(
        integer_field("!!int x"),
        "cannot decode !!str `x` as a !!int",
    );
}

/// What this workspace prints as YAML reads back the same in Kubernetes: strings that go-yaml
/// would take for something else are quoted.
#[test]
fn printed_yaml_quotes_what_kubernetes_would_misread() {
    let r = load(&vs("x", "1", "false")).unwrap();
    let mut vs = r.virtual_services[0].clone();
    let texts = [
        "on",
        "y",
        "NO",
        "0777",
        "0X1F",
        "0o17",
        "0b1",
        "1_000",
        "+1",
        "-.inf",
        ".5",
        "1e3",
        "2001:db8::",
        "::1",
        "a?b",
        "~",
        "",
        "- a",
        "#x",
        "a: b",
        "x\ny",
    ];
    vs.spec.hosts = texts.iter().map(|s| s.to_string()).collect();
    let yaml = mesh_model::to_yaml(&vs).unwrap();
    let back = load(&yaml).unwrap();
    assert_eq!(back.virtual_services[0].spec.hosts, texts, "{yaml}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// Any string printed by `to_yaml` reads back as itself, whatever YAML 1.1 or 1.2 would
    /// make of it unquoted (the texts are drawn from the characters that make scalars
    /// ambiguous).
    #[test]
    fn any_printed_string_reads_back_as_itself(
        texts in proptest::collection::vec("[-+._:?!&*~#0-9a-fxoXOeEyYnN \t\n]{0,12}", 1..6)
    ) {
        let r = load(&vs("x", "1", "false")).unwrap();
        let mut vs = r.virtual_services[0].clone();
        vs.spec.hosts = texts.clone();
        let yaml = mesh_model::to_yaml(&vs).unwrap();
        let back = load(&yaml).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}\n{yaml}")))?;
        proptest::prop_assert_eq!(&back.virtual_services[0].spec.hosts, &texts, "{}", yaml);
    }
}
