//! No input makes loading or validation panic: arbitrary bytes, and arbitrary YAML-ish text
//! built from YAML syntax and the words of Istio resources.

use mesh_model::Loader;
use mesh_model::validate::validate;
use proptest::prelude::*;

fn load_and_validate(bytes: &[u8]) {
    let loaded = Loader::new().load_bytes(bytes, None);
    // Every error renders.
    for e in &loaded.errors {
        let _ = e.to_string();
    }
    let report = validate(&loaded.resources);
    for f in &report.findings {
        let _ = f.to_string();
    }
}

/// Pieces of YAML and of Istio resources, so that generated text often parses and reaches
/// deep into the schema.
fn token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "\n",
        "\n  ",
        "\n    ",
        "\n- ",
        "- ",
        ": ",
        "{",
        "}",
        "[",
        "]",
        ", ",
        "---\n",
        "&a ",
        "*a",
        "<<: *a",
        "!!str ",
        "'",
        "\"",
        "#",
        "|\n  ",
        ">\n  ",
        "~",
        "null",
        "true",
        "yes",
        "1.5",
        "-1",
        "0x10",
        ".inf",
        "\t",
        "\r\n",
        "%YAML 1.2\n",
        "\u{feff}",
        "é",
        "apiVersion: networking.istio.io/v1\n",
        "apiVersion: networking.istio.io/v1alpha3\n",
        "kind: VirtualService\n",
        "kind: DestinationRule\n",
        "kind: Gateway\n",
        "kind: ServiceEntry\n",
        "kind: List\nitems:\n",
        "metadata: {name: x}\n",
        "spec:\n",
        "hosts",
        "http",
        "match",
        "route",
        "destination",
        "host",
        "subset",
        "weight",
        "uri",
        "prefix",
        "exact",
        "regex",
        "headers",
        "retries",
        "attempts",
        "timeout",
        "fault",
        "delay",
        "abort",
        "percentage",
        "value",
        "mirror",
        "redirect",
        "rewrite",
        "subsets",
        "labels",
        "trafficPolicy",
        "servers",
        "port",
        "number",
        "protocol",
        "endpoints",
        "address",
        "ports",
        "resolution",
        "exportTo",
        "gateways",
        "7s",
        "0.5s",
        "100",
        "reviews",
        "v1",
        "*.example.com",
        "(a|b",
        "\\",
        "%2F",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes never panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        load_and_validate(&bytes);
    }

    /// Arbitrary YAML-ish text never panics.
    #[test]
    fn yamlish_text_never_panics(tokens in prop::collection::vec(token(), 0..80)) {
        load_and_validate(tokens.concat().as_bytes());
    }

    /// A valid VirtualService with arbitrary values in its fields never panics validation.
    #[test]
    fn odd_values_in_valid_structure_never_panic(
        host in "\\PC{0,20}",
        prefix in "\\PC{0,20}",
        regex in "\\PC{0,20}",
        weight in any::<i32>(),
        timeout in "[0-9.a-z]{0,8}",
    ) {
        let yaml = format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: x}}\nspec:\n  hosts: [{host:?}]\n  http:\n  - match:\n    - uri: {{prefix: {prefix:?}}}\n      headers: {{x: {{regex: {regex:?}}}}}\n    timeout: {timeout:?}\n    route:\n    - destination: {{host: {host:?}}}\n      weight: {weight}\n    - destination: {{host: b}}\n"
        );
        load_and_validate(yaml.as_bytes());
    }
}
