use super::*;

const LIMITS: ParseLimits = ParseLimits {
    max_depth: 64,
    max_alias_nodes: 10_000,
};

fn one(text: &str) -> Document<'_> {
    let (docs, err) = parse(text, LIMITS);
    assert_eq!(err, None);
    assert_eq!(docs.len(), 1);
    docs.into_iter().next().unwrap()
}

/// Scalars resolve as Kubernetes' YAML reader resolves them.
#[test]
fn scalars_resolve_like_kubernetes() {
    let doc = one("a: 80\nb: '80'\nc: yes\nd: 7s\ne: 0.5\nf: ~\ng: 0x1F\nh: -3\ni: 1e3\nj: .5s\n");
    let json = doc.root().to_json(&mut Vec::new(), true).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"a": 80, "b": "80", "c": true, "d": "7s", "e": 0.5,
                           "g": 31, "h": -3, "i": 1000.0, "j": ".5s"})
    );
}

/// Positions are 1-based lines and columns; a path locates the key it names.
#[test]
fn positions_locate_keys() {
    let doc = one("spec:\n  http:\n  - route:\n    - destination:\n        name: reviews\n");
    let path = parse_path("spec.http[0].route[0].destination.name");
    assert_eq!(doc.root().locate(&path), (5, 9));
    // A missing tail stops at the deepest existing node.
    let path = parse_path("spec.http[0].timeout");
    assert_eq!(doc.root().locate(&path).0, 3);
}

/// Several documents, with their indexes; empty documents are kept as null.
#[test]
fn multi_document_streams() {
    let (docs, err) = parse("a: 1\n---\n---\nb: 2\n", LIMITS);
    assert_eq!(err, None);
    assert_eq!(docs.len(), 3);
    assert_eq!(docs[1].root().value(), NodeValue::Null);
    assert_eq!(docs[2].root().line(), 4);
}

/// Duplicate keys are an error, with istioctl's message (go-yaml v2's strict reading,
/// `decode.go` `setMapIndex`: `key "a" already set in map`).
#[test]
fn duplicate_keys_are_rejected() {
    let (_, err) = parse("a: 1\na: 2\n", LIMITS);
    let err = err.unwrap();
    assert_eq!(err.message, "key \"a\" already set in map");
    assert_eq!(err.line, 2);
}

/// Merge keys copy the entries of a mapping; keys after the `<<` write over them.
#[test]
fn merge_keys_are_honoured() {
    let doc = one("base: &b {a: 1, b: 2}\nm:\n  <<: *b\n  b: 3\n");
    let json = doc.root().to_json(&mut Vec::new(), true).unwrap();
    assert_eq!(json["m"], serde_json::json!({"a": 1, "b": 3}));
}

/// Aliases that expand past the limit stop with an error naming the limit.
#[test]
fn alias_expansion_is_bounded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..20 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let (_, err) = parse(&text, LIMITS);
    let err = err.unwrap();
    assert!(err.limit);
    assert!(
        err.message
            .contains("aliases expand to more than 10000 nodes")
    );
}

/// Nesting deeper than the limit is an error, not a stack overflow.
#[test]
fn depth_is_bounded() {
    for text in [
        "[".repeat(100_000),
        "- ".repeat(100_000),
        "{a: ".repeat(100_000),
    ] {
        let (_, err) = parse(&text, LIMITS);
        let err = err.unwrap();
        assert!(err.limit);
        assert!(
            err.message.starts_with("nesting is deeper than"),
            "{}",
            err.message
        );
    }
}

/// Paths print and parse back, quoting keys with dots.
#[test]
fn paths_round_trip() {
    for p in [
        "spec.http[1].route[0].weight",
        "metadata.labels[\"app.kubernetes.io/name\"]",
        "items[3].spec.hosts[0]",
    ] {
        assert_eq!(format_path(&parse_path(p)), p);
    }
}

/// In flow collections a colon stays in a plain scalar unless a blank follows it, as
/// go-yaml v2's scanner reads it: `[a:, {b:}, c:d, e: f]` is `"a:"`, a mapping with the key
/// `"b:"`, `"c:d"` and the mapping `{e: f}`.
#[test]
fn flow_plain_scalars_keep_colons_before_flow_indicators() {
    let doc = one("x: [a:, {b:}, c:d, e: f]\n");
    let n = doc.root();
    let NodeValue::Seq(items) = n.get("x").unwrap().value() else {
        panic!("{n:?}")
    };
    let item = |i: usize| items.get(i).unwrap();
    assert_eq!(item(0).value(), NodeValue::Str("a:"));
    let NodeValue::Map(entries) = item(1).value() else {
        panic!("{:?}", item(1))
    };
    let (key, value) = entries.get(0).unwrap();
    assert_eq!(key.name, "b:");
    assert_eq!(value.value(), NodeValue::Null);
    assert_eq!(item(2).value(), NodeValue::Str("c:d"));
    assert_eq!(item(3).get("e").unwrap().value(), NodeValue::Str("f"));
}

/// Go's `%g` of a float32, as sigs.k8s.io/yaml names float keys.
#[test]
fn float_keys_are_named_as_go_formats_them() {
    use super::resolve::go_float32_g;
    for (f, text) in [
        (1000.0, "1000"),
        (1e6, "1e+06"),
        (2.5, "2.5"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (123456789.0, "1.2345679e+08"),
        (-0.0, "-0"),
        (f64::INFINITY, ".inf"),
        (f64::NAN, ".nan"),
    ] {
        assert_eq!(go_float32_g(f), text, "{f}");
    }
}

/// The position index leaves out a node on the line of the nearest ancestor it keeps, and
/// `Origin::at_path` still gives every path the line of its deepest node: a rule written as
/// one flow mapping is one entry, not one per field.
#[test]
fn the_position_index_keeps_one_entry_per_line() {
    use crate::resource::Origin;
    let doc = one(
        "spec:\n  http:\n  - name: a\n    match: [{uri: {prefix: /a}, headers: {x: {exact: y}}}]\n    route:\n    - destination:\n        host: h\n",
    );
    let index = index_lines(doc.root());
    let origin = Origin {
        line: 1,
        positions: Some(std::sync::Arc::new(index)),
        ..Origin::default()
    };
    for (path, line) in [
        ("spec", 1),
        ("spec.http", 2),
        ("spec.http[0]", 3),
        ("spec.http[0].name", 3),
        ("spec.http[0].match", 4),
        ("spec.http[0].match[0].uri.prefix", 4),
        ("spec.http[0].match[0].headers.x.exact", 4),
        ("spec.http[0].match[0].missing", 4),
        ("spec.http[0].route", 5),
        ("spec.http[0].route[0]", 6),
        ("spec.http[0].route[0].destination", 6),
        ("spec.http[0].route[0].destination.host", 7),
    ] {
        assert_eq!(origin.at_path(path).line, line, "{path}");
    }
    // http, http[0], match, route, route[0] and host.
    assert_eq!(origin.positions.as_ref().unwrap().len(), 6);
}

/// A node is 12 bytes: a large document holds millions of them while it is decoded (the
/// 100 000-rule VirtualService of benches/README.md, 2.5 million).
#[test]
fn a_node_is_twelve_bytes() {
    assert_eq!(std::mem::size_of::<Node>(), 12);
}

/// Plain scalars and keys of ASCII input are spans of the input, not copies; quoted,
/// escaped and folded scalars, keys made of other scalars (`on:` is the key `"true"`) and
/// every string of non-ASCII input (whose parser offsets count characters, not bytes) are
/// copied. Either way they read the same.
#[test]
fn plain_scalars_of_ascii_input_point_into_it() {
    let text = "apiVersion: v1\nkind: Thing\nspec: {hosts: [a.example, b], on: x}\nq: 'quoted'\ne: \"t\\tab\"\nf: one\n  two\n";
    let doc = one(text);
    let json = doc.root().to_json(&mut Vec::new(), true).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"apiVersion": "v1", "kind": "Thing",
            "spec": {"hosts": ["a.example", "b"], "true": "x"},
            "q": "quoted", "e": "t\tab", "f": "one two"})
    );
    // Copied: `true` (the key `on`), `quoted`, `t<tab>ab`, `one two`.
    assert_eq!(doc.tree.text, "truequotedt\tabone two");
    let copied = |doc: &Document<'_>| {
        doc.tree
            .nodes
            .iter()
            .chain([&doc.root])
            .filter(|n| n.tag() == Tag::Str)
            .count()
    };
    assert_eq!(copied(&doc), 4);

    // Non-ASCII input: everything copied, positions and values as before.
    let doc = one("name: café\nhost: b\n");
    assert_eq!(copied(&doc), 4);
    assert_eq!(doc.root().get_str("name"), Some("café"));
    assert_eq!(doc.root().get_str("host"), Some("b"));
    assert_eq!(doc.root().locate(&parse_path("host")), (2, 1));
}

/// Lines and columns come from the table of line starts, as the parser counts them:
/// tabs and multi-byte characters are one column each, `\r\n` and a lone `\r` end a line,
/// and lookups in any order find them (the table remembers where it found the last one).
/// (The 16-byte nodes, which kept their line and column, gave the same positions.)
#[test]
fn positions_come_from_the_line_table() {
    let text = "a: x\ty\r\nb: {c: é, d: [1, 2.5, true]}\re:\n  - f\n\n\n  - g: h\n";
    let doc = one(text);
    let root = doc.root();
    let at = |path: &str| root.locate(&parse_path(path));
    assert_eq!(at("b.d[1]"), (2, 18));
    assert_eq!(at("e[1].g"), (7, 5));
    assert_eq!(at("a"), (1, 1));
    assert_eq!(at("b.c"), (2, 5));
    assert_eq!(at("b.d[2]"), (2, 23));
    assert_eq!(at("e[0]"), (4, 5));
    assert_eq!(at("e"), (3, 1));
    assert_eq!(root.get("a").map(|n| (n.line(), n.column())), Some((1, 4)));
    assert_eq!(root.get("b").map(|n| (n.line(), n.column())), Some((2, 4)));
    // The empty document after `---` is null where the input ends (line 4, after the
    // last line break), column 1.
    let (docs, err) = parse("a: 1\n---\n\n", LIMITS);
    assert_eq!(err, None);
    assert_eq!(docs[1].root().value(), NodeValue::Null);
    assert_eq!((docs[1].root().line(), docs[1].root().column()), (4, 1));
}

/// A document that starts with a flow collection (JSON) is read after a `--- ` prefix, so
/// that the scanner streams it instead of holding its tokens; positions are those of the
/// text, on its first line as on the others (the figures the loader gave before the prefix).
#[test]
fn json_positions_are_those_of_the_text() {
    let one_line = r#"{"a": {"b": [1, "x", {"c": true}]}, "d": "é", "e": "f"}"#;
    let doc = one(one_line);
    let root = doc.root();
    let at = |path: &str| root.locate(&parse_path(path));
    assert_eq!(at("a"), (1, 2));
    assert_eq!(at("a.b"), (1, 8));
    assert_eq!(at("a.b[1]"), (1, 17));
    assert_eq!(at("a.b[2].c"), (1, 23));
    assert_eq!(at("e"), (1, 47));
    assert_eq!((root.line(), root.column()), (1, 1));
    assert_eq!(root.get_str("e"), Some("f"));
    let lines = "[\n  {\"a\": 1},\n  {\"b\": [2,\n    3]}\n]\n";
    let doc = one(lines);
    let root = doc.root();
    let at = |path: &str| root.locate(&parse_path(path));
    assert_eq!(at("[1].b[1]"), (4, 5));
    assert_eq!(at("[0].a"), (2, 4));
    assert_eq!((root.line(), root.column()), (1, 1));
}

/// What the `--- ` prefix would change is read as before: an error in the first document
/// (here a flow mapping as a key, which YAML allows and the prefix would not) is the error of
/// the text itself, at its position; a later document is read as always. (Every figure here
/// is also what the loader gave before the prefix.)
#[test]
fn a_flow_document_that_fails_is_read_again_as_it_is() {
    let (docs, err) = parse("{a: 1}: b\n", LIMITS);
    assert!(docs.is_empty());
    let err = err.unwrap();
    assert_eq!(err.message, "mapping keys must be scalars");
    assert_eq!((err.line, err.column), (1, 6));
    // A stray `]` after a complete first document: the error of the next one, as before.
    let (docs, err) = parse("[1, 2] ]\n", LIMITS);
    let err = err.unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!((err.document, err.line, err.column), (1, 1, 8));
    // A syntax error in a later document keeps the documents before it.
    let (docs, err) = parse("{\"a\": 1}\n---\nb: [\n", LIMITS);
    assert_eq!(docs.len(), 1);
    assert_eq!(
        docs[0].root().get("a").map(|n| n.value()),
        Some(NodeValue::Int(1))
    );
    assert_eq!(err.unwrap().document, 1);
}

/// The documents (values and positions) and the error of `text` as [`parse`] reads it, and
/// as it reads without the `--- ` prefix for a flow collection at the start.
#[allow(clippy::type_complexity)]
fn with_and_without_prefix(
    text: &str,
) -> (
    (Vec<String>, Option<YamlError>),
    (Vec<String>, Option<YamlError>),
) {
    fn show(docs: &[Document<'_>]) -> Vec<String> {
        docs.iter()
            .map(|d| {
                let root = d.root();
                let mut walk = vec![format!("{:?}", root.to_json(&mut Vec::new(), false))];
                walk.push(format!("{}:{}", root.line(), root.column()));
                if let NodeValue::Map(entries) = root.value() {
                    for (k, v) in entries.iter() {
                        walk.push(format!(
                            "{}@{}:{} {}:{}",
                            k.name,
                            k.line(),
                            k.column(),
                            v.line(),
                            v.column()
                        ));
                    }
                }
                walk.join(" ")
            })
            .collect()
    }
    // As `parse_each` reads it, less the prefix.
    let plan = if compat::worth_planning(text) {
        compat::plan(text)
    } else {
        compat::Plan::default()
    };
    let hidden = compat::hide_colons(text, &plan.colons);
    let input = Some(text).filter(|t| t.is_ascii() && plan.colons.is_empty());
    let mut plain = Vec::new();
    let plain_err = Builder::new(LIMITS, input, &plan).run(
        Parser::new_from_str(if plan.colons.is_empty() {
            text
        } else {
            &hidden
        }),
        0,
        &plan,
        &mut |d| plain.push(d),
    );
    let (docs, err) = parse(text, LIMITS);
    ((show(&docs), err), (show(&plain), plain_err))
}

/// The `--- ` prefix changes nothing but memory: for texts that start with a flow
/// collection, tricky ones among them, [`parse`] gives the documents (values and positions)
/// and the error of reading the text as it is, without the prefix.
#[test]
fn the_flow_prefix_changes_no_document_and_no_error() {
    for text in [
        "{a: 1}",
        "{a: 1}: b\n",
        "{a: 1}\n: b\n",
        "[1, 2] ]\n",
        "[a]: b\n",
        "{a: [1, {b: c}], d: e}\n---\n{f: g}\n",
        "{\"a\": \"b\"}\n---\nc: [\n",
        "{a: 1} # comment\nb: 2\n",
        "{a: 1}\n...\n{b: 2}\n",
        "[{a: 1}, {b: 2}]\n",
        "{a: *x}\n",
        "{a: &x 1, b: *x, <<: {c: 2}}\n",
        "{a: 1, a: 2}\n",
        "{\"k\": \"é\", \"l\": 2}\n",
        "{a: 1}\t\n  \n",
        "[",
        "{a: 1\n",
        "{a: b:c}\n",
    ] {
        let (read, plain) = with_and_without_prefix(text);
        assert_eq!(read, plain, "{text:?}");
    }
}

proptest::proptest! {
    /// As above, for generated texts of flow collections, scalars, keys, comments, line
    /// breaks, document markers, anchors and aliases that start with `{` or `[`.
    #[test]
    fn the_flow_prefix_changes_nothing_for_generated_texts(
        first in proptest::sample::select(vec!["{", "["]),
        parts in proptest::collection::vec(
            proptest::sample::select(vec![
                "{", "}", "[", "]", ", ", ",", ": ", ":", " ", "a", "b1", "1", "\"x\"", "'y'",
                "\n", "\n---\n", "\n...\n", "&a ", "*a", " # c", "é", "\t", "<<: ", "? ",
                "- ", "\"k\": ", "\"a}\"", "'b]'", "'c''d'", "x\"y", "\"e\\\"f\"", "\r\n", "#",
                "\"g\n", "{a: 1}: b",
            ]),
            0..24,
        ),
    ) {
        let text = format!("{first}{}", parts.concat());
        let (read, plain) = with_and_without_prefix(&text);
        proptest::prop_assert_eq!(read, plain, "{:?}", text);
    }
}
