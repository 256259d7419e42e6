//! The one place that reads YAML text. It turns text into documents of positioned nodes,
//! with every limit enforced while parsing: nesting depth, and the number of nodes that
//! aliases may add (a "billion laughs" file stops at the limit, in time linear in its size).
//!
//! Scalars resolve as Kubernetes reads YAML (go-yaml v2 rules: `yes`/`on` are booleans),
//! mapping keys must be scalars and unique, `<<` merge keys are honoured, and `key: null`
//! entries are dropped as the API server prunes them.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A parsed YAML node with the position where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: NodeValue,
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// The value of a node.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its position.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// One YAML document of a stream.
#[derive(Clone, Debug)]
pub(crate) struct Document {
    pub(crate) root: Node,
}

/// A syntax error or an exceeded limit, at a position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub(crate) document: usize,
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) message: String,
    pub(crate) limit: bool,
}

/// Bounds on what one document may expand to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ParseLimits {
    pub(crate) max_depth: usize,
    pub(crate) max_alias_nodes: usize,
}

enum Frame {
    Seq {
        items: Vec<Node>,
        line: usize,
        column: usize,
        anchor: usize,
    },
    Map {
        entries: Vec<(Key, Node)>,
        seen: HashSet<String>,
        merges: Vec<Node>,
        pending: Option<Key>,
        line: usize,
        column: usize,
        anchor: usize,
    },
}

struct Builder {
    limits: ParseLimits,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    alias_nodes: usize,
    /// Weight of the nodes read from the text of this document (see [`weight`]).
    parsed_nodes: usize,
    /// Weight of the copies that anchors hold in this document.
    anchored_nodes: usize,
    document: usize,
}

/// Parses every document of `text`. Documents before a syntax error are returned along with
/// the error, since a YAML stream cannot be resumed after one.
pub(crate) fn parse(text: &str, limits: ParseLimits) -> (Vec<Document>, Option<YamlError>) {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut b = Builder {
        limits,
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        parsed_nodes: 0,
        anchored_nodes: 0,
        document: 0,
    };
    let mut root: Option<Node> = None;
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(ev) => ev,
            Err(e) => {
                let m = e.marker();
                let limit = e.info().contains("recursion limit");
                let message = if limit {
                    format!("nesting is deeper than the parser allows ({})", e.info())
                } else {
                    e.info().to_owned()
                };
                return (
                    docs,
                    Some(YamlError {
                        document: b.document,
                        line: m.line(),
                        column: m.col() + 1,
                        message,
                        limit,
                    }),
                );
            }
        };
        let done = match event {
            Event::StreamEnd => true,
            Event::DocumentStart => {
                b.anchors.clear();
                b.alias_nodes = 0;
                b.parsed_nodes = 0;
                b.anchored_nodes = 0;
                root = None;
                false
            }
            Event::DocumentEnd => {
                docs.push(Document {
                    root: root.take().unwrap_or(Node {
                        value: NodeValue::Null,
                        line: mark.line(),
                        column: 1,
                    }),
                });
                b.document += 1;
                false
            }
            ev => match b.event(ev, mark) {
                Ok(Some(node)) => {
                    root = Some(node);
                    false
                }
                Ok(None) => false,
                Err(e) => return (docs, Some(e)),
            },
        };
        if done {
            break;
        }
    }
    (docs, None)
}

/// Text of a scalar or a key counts one node per this many bytes on top of its own node,
/// so that aliases of one long scalar are bounded by what they copy, not by their number.
const BYTES_PER_NODE: usize = 64;

/// The weight of a scalar or key of `len` bytes.
fn text_weight(len: usize) -> usize {
    1 + len / BYTES_PER_NODE
}

/// What a node costs to copy, in nodes: one per node and key, plus one per
/// [`BYTES_PER_NODE`] bytes of text.
fn weight(n: &Node) -> usize {
    match &n.value {
        NodeValue::Str(s) => text_weight(s.len()),
        NodeValue::Seq(items) => 1 + items.iter().map(weight).sum::<usize>(),
        NodeValue::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| text_weight(k.name.len()) + weight(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

impl Builder {
    fn error(&self, mark: Marker, message: String, limit: bool) -> YamlError {
        YamlError {
            document: self.document,
            line: mark.line(),
            column: mark.col() + 1,
            message,
            limit,
        }
    }

    /// Handles one event; returns the document's root when it completes.
    fn event(&mut self, ev: Event, mark: Marker) -> Result<Option<Node>, YamlError> {
        let (line, column) = (mark.line(), mark.col() + 1);
        match ev {
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.parsed_nodes = self.parsed_nodes.saturating_add(1);
                if self.stack.len() >= self.limits.max_depth {
                    return Err(self.error(
                        mark,
                        format!("nesting is deeper than {} levels", self.limits.max_depth),
                        true,
                    ));
                }
                let frame = if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq {
                        items: Vec::new(),
                        line,
                        column,
                        anchor,
                    }
                } else {
                    Frame::Map {
                        entries: Vec::new(),
                        seen: HashSet::new(),
                        merges: Vec::new(),
                        pending: None,
                        line,
                        column,
                        anchor,
                    }
                };
                self.stack.push(frame);
                Ok(None)
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq {
                    items,
                    line,
                    column,
                    anchor,
                }) => self.complete(
                    Node {
                        value: NodeValue::Seq(items),
                        line,
                        column,
                    },
                    anchor,
                    false,
                    mark,
                ),
                _ => Err(self.error(mark, "unbalanced sequence end".into(), false)),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map {
                    mut entries,
                    mut seen,
                    merges,
                    line,
                    column,
                    anchor,
                    ..
                }) => {
                    for merge in merges {
                        let sources = match merge.value {
                            NodeValue::Map(e) => vec![e],
                            NodeValue::Seq(items) => items
                                .into_iter()
                                .filter_map(|n| match n.value {
                                    NodeValue::Map(e) => Some(e),
                                    _ => None,
                                })
                                .collect(),
                            _ => {
                                return Err(self.error(
                                    mark,
                                    "a merge key (<<) must refer to a mapping".into(),
                                    false,
                                ));
                            }
                        };
                        for src in sources {
                            for (k, v) in src {
                                if seen.insert(k.name.clone()) {
                                    entries.push((k, v));
                                }
                            }
                        }
                    }
                    self.complete(
                        Node {
                            value: NodeValue::Map(entries),
                            line,
                            column,
                        },
                        anchor,
                        false,
                        mark,
                    )
                }
                _ => Err(self.error(mark, "unbalanced mapping end".into(), false)),
            },
            Event::Scalar(text, style, anchor, tag) => {
                self.parsed_nodes = self.parsed_nodes.saturating_add(text_weight(text.len()));
                let tag = tag.map(|t| t.suffix);
                let is_key = matches!(self.stack.last(), Some(Frame::Map { pending: None, .. }));
                // Keys keep their text: `on:` or `80:` are names, not a boolean or a number.
                let value = if is_key && !(style == TScalarStyle::Plain && text == "<<") {
                    NodeValue::Str(text)
                } else {
                    resolve_scalar(text, style, tag.as_deref())
                        .map_err(|m| self.error(mark, m, false))?
                };
                let merge_key = matches!(&value, NodeValue::Str(s) if s == "<<")
                    && style == TScalarStyle::Plain;
                let node = Node {
                    value,
                    line,
                    column,
                };
                self.complete(node, anchor, merge_key, mark)
            }
            Event::Alias(id) => {
                let Some((node, count)) = self.anchors.get(&id) else {
                    return Err(self.error(mark, "unknown anchor".into(), false));
                };
                self.alias_nodes = self.alias_nodes.saturating_add(*count);
                if self.alias_nodes > self.limits.max_alias_nodes {
                    return Err(self.error(
                        mark,
                        format!(
                            "aliases expand to more than {} nodes (a \"billion laughs\" document?)",
                            self.limits.max_alias_nodes
                        ),
                        true,
                    ));
                }
                let node = node.clone();
                self.complete(node, 0, false, mark)
            }
            _ => Ok(None),
        }
    }

    /// Attaches a finished node to its parent, or returns it as the document root.
    fn complete(
        &mut self,
        node: Node,
        anchor: usize,
        merge_key: bool,
        mark: Marker,
    ) -> Result<Option<Node>, YamlError> {
        if anchor > 0 {
            // An anchor keeps a copy of its node for the aliases to come. Copies of disjoint
            // anchors add up to at most the document itself; anchors nested in anchors copy
            // their subtrees again, so they are bounded like aliases.
            let count = weight(&node);
            self.anchored_nodes = self.anchored_nodes.saturating_add(count);
            let budget = self
                .parsed_nodes
                .saturating_add(self.alias_nodes)
                .saturating_add(self.limits.max_alias_nodes);
            if self.anchored_nodes > budget {
                return Err(self.error(
                    mark,
                    format!(
                        "anchors nested in anchors copy more than {} nodes",
                        self.limits.max_alias_nodes
                    ),
                    true,
                ));
            }
            self.anchors.insert(anchor, (node.clone(), count));
        }
        let err = |b: &Self, m: String| Err(b.error(mark, m, false));
        match self.stack.last_mut() {
            None => Ok(Some(node)),
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(None)
            }
            Some(Frame::Map {
                entries,
                seen,
                merges,
                pending,
                ..
            }) => match pending.take() {
                None => {
                    let name = match node.value {
                        NodeValue::Str(s) => s,
                        NodeValue::Null => "null".to_owned(),
                        NodeValue::Bool(b) => b.to_string(),
                        NodeValue::Int(i) => i.to_string(),
                        NodeValue::UInt(u) => u.to_string(),
                        NodeValue::Float(f) => f.to_string(),
                        NodeValue::Seq(_) | NodeValue::Map(_) => {
                            return err(self, "mapping keys must be scalars".into());
                        }
                    };
                    let name = if merge_key { "<<".to_owned() } else { name };
                    if !merge_key && !seen.insert(name.clone()) {
                        return err(self, format!("mapping key {name:?} already defined"));
                    }
                    *pending = Some(Key {
                        name,
                        line: node.line,
                        column: node.column,
                    });
                    Ok(None)
                }
                Some(key) => {
                    if key.name == "<<" && !seen.contains("<<") {
                        merges.push(node);
                    } else {
                        entries.push((key, node));
                    }
                    Ok(None)
                }
            },
        }
    }
}

fn is_yaml_tag(tag: Option<&str>, name: &str) -> bool {
    tag.is_some_and(|t| t == name || t.ends_with(&format!(":{name}")))
}

/// Resolves a scalar as go-yaml v2 does (YAML 1.1 booleans, ints, floats, nulls).
fn resolve_scalar(
    text: String,
    style: TScalarStyle,
    tag: Option<&str>,
) -> Result<NodeValue, String> {
    if is_yaml_tag(tag, "str") || is_yaml_tag(tag, "binary") {
        return Ok(NodeValue::Str(text));
    }
    if style != TScalarStyle::Plain && tag.is_none() {
        return Ok(NodeValue::Str(text));
    }
    let resolved = resolve_plain(&text);
    if let Some(tag) = tag {
        let ok = match &resolved {
            _ if is_yaml_tag(Some(tag), "null") => matches!(resolved, NodeValue::Null),
            _ if is_yaml_tag(Some(tag), "bool") => matches!(resolved, NodeValue::Bool(_)),
            _ if is_yaml_tag(Some(tag), "int") => {
                matches!(resolved, NodeValue::Int(_) | NodeValue::UInt(_))
            }
            _ if is_yaml_tag(Some(tag), "float") => matches!(
                resolved,
                NodeValue::Float(_) | NodeValue::Int(_) | NodeValue::UInt(_)
            ),
            _ => true,
        };
        if !ok {
            return Err(format!("cannot decode {text:?} as !!{tag}"));
        }
        if is_yaml_tag(Some(tag), "float") {
            return Ok(match resolved {
                NodeValue::Int(i) => NodeValue::Float(i as f64),
                NodeValue::UInt(u) => NodeValue::Float(u as f64),
                other => other,
            });
        }
    }
    Ok(resolved)
}

fn resolve_plain(text: &str) -> NodeValue {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeValue::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return NodeValue::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return NodeValue::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return NodeValue::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return NodeValue::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return NodeValue::Float(f64::NAN),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return NodeValue::Str(text.to_owned());
    }
    let (neg, body) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let plain: String = body.chars().filter(|c| *c != '_').collect();
    let int = if let Some(hex) = plain.strip_prefix("0x") {
        u64::from_str_radix(hex, 16).ok()
    } else if let Some(bin) = plain.strip_prefix("0b") {
        u64::from_str_radix(bin, 2).ok()
    } else if let Some(oct) = plain.strip_prefix("0o") {
        u64::from_str_radix(oct, 8).ok()
    } else if plain.len() > 1 && plain.starts_with('0') && plain.bytes().all(|c| c.is_ascii_digit())
    {
        u64::from_str_radix(&plain[1..], 8).ok()
    } else if !plain.is_empty() && plain.bytes().all(|c| c.is_ascii_digit()) {
        match plain.parse::<u64>() {
            Ok(v) => Some(v),
            Err(_) => return float_or_string(text, neg, &plain),
        }
    } else {
        None
    };
    match int {
        Some(v) if neg => match i64::try_from(v) {
            Ok(i) => NodeValue::Int(-i),
            Err(_) if v == 1 << 63 => NodeValue::Int(i64::MIN),
            Err(_) => NodeValue::Float(-(v as f64)),
        },
        Some(v) => match i64::try_from(v) {
            Ok(i) => NodeValue::Int(i),
            Err(_) => NodeValue::UInt(v),
        },
        None => float_or_string(text, neg, &plain),
    }
}

fn float_or_string(text: &str, neg: bool, plain: &str) -> NodeValue {
    // [0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)? or \.[0-9]+([eE][-+]?[0-9]+)?
    let b = plain.as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return NodeValue::Str(text.to_owned());
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return NodeValue::Str(text.to_owned());
        }
        i += exp;
    }
    if i != b.len() {
        return NodeValue::Str(text.to_owned());
    }
    match plain.parse::<f64>() {
        Ok(f) => NodeValue::Float(if neg { -f } else { f }),
        Err(_) => NodeValue::Str(text.to_owned()),
    }
}

/// One step of a field path: a mapping key or a sequence index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

impl Node {
    /// Converts to JSON; with `prune_nulls`, `key: null` entries are dropped as the
    /// Kubernetes API server prunes them (tests compare documents this way), otherwise kept
    /// (documents that are not resources, where `null` says something). Non-finite numbers
    /// have no JSON form and are an error, with the path of the offending node.
    pub(crate) fn to_json(
        &self,
        path: &mut Vec<Segment>,
        prune_nulls: bool,
    ) -> Result<Value, Vec<Segment>> {
        Ok(match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::Number((*i).into()),
            NodeValue::UInt(u) => Value::Number((*u).into()),
            NodeValue::Float(f) => match Number::from_f64(*f) {
                Some(n) => Value::Number(n),
                None => return Err(path.clone()),
            },
            NodeValue::Str(s) => Value::String(s.clone()),
            NodeValue::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    path.push(Segment::Index(i));
                    out.push(item.to_json(path, prune_nulls)?);
                    path.pop();
                }
                Value::Array(out)
            }
            NodeValue::Map(entries) => {
                let mut out = Map::new();
                for (k, v) in entries {
                    if prune_nulls && v.value == NodeValue::Null {
                        continue;
                    }
                    path.push(Segment::Key(k.name.clone()));
                    out.insert(k.name.clone(), v.to_json(path, prune_nulls)?);
                    path.pop();
                }
                Value::Object(out)
            }
        })
    }

    /// The value of a mapping entry.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string value of a mapping entry.
    pub(crate) fn get_str(&self, key: &str) -> Option<&str> {
        match &self.get(key)?.value {
            NodeValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The position of the deepest node along `path`: the key's own line for the last step
    /// into a mapping, so that `...destination.name` points at `name:`.
    pub(crate) fn locate(&self, path: &[Segment]) -> (usize, usize) {
        let mut node = self;
        let mut pos = (self.line, self.column);
        for seg in path {
            match (seg, &node.value) {
                (Segment::Key(k), NodeValue::Map(entries)) => {
                    match entries.iter().find(|(key, _)| &key.name == k) {
                        Some((key, v)) => {
                            pos = (key.line, key.column);
                            node = v;
                        }
                        None => break,
                    }
                }
                (Segment::Index(i), NodeValue::Seq(items)) => match items.get(*i) {
                    Some(v) => {
                        pos = (v.line, v.column);
                        node = v;
                    }
                    None => break,
                },
                _ => break,
            }
        }
        pos
    }
}

/// Formats a path as this workspace prints them: `spec.http[1].route[0].weight`; keys that
/// contain `.`, `[`, `]` or `"` are quoted: `metadata.labels["app.kubernetes.io/name"]`.
pub(crate) fn format_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Segment::Index(i) => push_index(&mut out, *i),
            Segment::Key(k) => {
                let first = out.is_empty();
                push_key(&mut out, k, first);
            }
        }
    }
    out
}

/// Appends `[i]`.
fn push_index(out: &mut String, i: usize) {
    out.push('[');
    out.push_str(&i.to_string());
    out.push(']');
}

/// Appends a key: `.key`, `key` when it comes first, or `["key"]` when it is empty or
/// holds `.`, `[`, `]` or `"`.
fn push_key(out: &mut String, k: &str, first: bool) {
    if k.is_empty() || k.contains(['.', '[', ']', '"']) {
        out.push('[');
        out.push_str(&format!("{k:?}"));
        out.push(']');
    } else {
        if !first {
            out.push('.');
        }
        out.push_str(k);
    }
}

/// Parses a path printed by [`format_path`]. Unparseable tails are dropped.
#[cfg(test)]
pub(crate) fn parse_path(s: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            rest = r;
        } else if let Some(r) = rest.strip_prefix("[\"") {
            // Quoted key: find the closing `"]` honouring backslash escapes.
            let mut key = String::new();
            let mut chars = r.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            key.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => key.push(c),
                }
            }
            let Some(end) = end else { break };
            out.push(Segment::Key(key));
            rest = r[end + 1..].strip_prefix(']').unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(close) = r.find(']') else { break };
            match r[..close].parse() {
                Ok(i) => out.push(Segment::Index(i)),
                Err(_) => break,
            }
            rest = &r[close + 1..];
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            out.push(Segment::Key(rest[..end].to_owned()));
            rest = &rest[end..];
        }
    }
    out
}

/// Records the line of every node under `node`, keyed by its path relative to `node` (the
/// key of [`format_path`]'s text). Each node's key extends its parent's, so the work is
/// linear in the size of the tree however long its keys are.
pub(crate) fn index_lines(node: &Node, out: &mut HashMap<u64, u32>) {
    use crate::resource::PositionIndex;
    fn visit(node: &Node, key: u64, first: bool, buf: &mut String, out: &mut HashMap<u64, u32>) {
        match &node.value {
            NodeValue::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    buf.clear();
                    push_index(buf, i);
                    let k = PositionIndex::extend(key, buf.as_bytes());
                    out.insert(k, item.line as u32);
                    visit(item, k, false, buf, out);
                }
            }
            NodeValue::Map(entries) => {
                for (name, v) in entries {
                    buf.clear();
                    push_key(buf, &name.name, first);
                    let k = PositionIndex::extend(key, buf.as_bytes());
                    out.insert(k, name.line as u32);
                    visit(v, k, false, buf, out);
                }
            }
            _ => {}
        }
    }
    visit(node, PositionIndex::key(""), true, &mut String::new(), out);
}

/// Serializes a value as YAML text (used to print resources), with keys sorted as
/// `kubectl get -o yaml` prints them, and strings that YAML 1.1 readers (Kubernetes) would
/// take for booleans or numbers (`on`, `yes`, `1.0`) quoted.
pub(crate) fn to_yaml_string<T: serde::Serialize>(value: &T) -> Result<String, String> {
    let json = serde_json::to_value(value).map_err(|e| e.to_string())?;
    let mut out = String::new();
    let mut emitter = yaml_rust2::YamlEmitter::new(&mut out);
    emitter.multiline_strings(true);
    emitter
        .dump(&json_to_yaml(json))
        .map_err(|e| format!("{e:?}"))?;
    out.push('\n');
    Ok(out)
}

fn json_to_yaml(v: serde_json::Value) -> yaml_rust2::Yaml {
    use yaml_rust2::Yaml;
    match v {
        serde_json::Value::Null => Yaml::Null,
        serde_json::Value::Bool(b) => Yaml::Boolean(b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Yaml::Integer(i),
            (None, Some(u), _) => Yaml::Real(u.to_string()),
            (None, None, Some(f)) => Yaml::Real(format!("{f:?}")),
            _ => Yaml::Null,
        },
        serde_json::Value::String(s) => Yaml::String(s),
        serde_json::Value::Array(items) => {
            Yaml::Array(items.into_iter().map(json_to_yaml).collect())
        }
        serde_json::Value::Object(map) => Yaml::Hash(
            map.into_iter()
                .map(|(k, v)| (Yaml::String(k), json_to_yaml(v)))
                .collect(),
        ),
    }
}

pub(crate) mod de;

#[cfg(test)]
mod tests;
