//! The one place that reads YAML text. It turns text into documents of positioned nodes,
//! with every limit enforced while parsing: nesting depth, and the number of nodes that
//! aliases may add (a "billion laughs" file stops at the limit, in time linear in its size).
//!
//! The text is read as Kubernetes reads it (sigs.k8s.io/yaml: go-yaml v2, then JSON): the
//! scanner's YAML 1.1 differences are in [`compat`], scalar and key resolution in
//! [`resolve`] (`yes`/`on` are booleans, `0777` is octal, `on:` as a key is `"true"`).
//! Mapping keys must be scalars and unique, `<<` merge keys are honoured in go-yaml's order,
//! and `key: null` entries are dropped as the API server prunes them. The table of
//! differences from YAML 1.2 is the README's "YAML as Kubernetes reads it".
//!
//! A document is kept compact, since the whole of it stays in memory while it is decoded:
//! every node is 12 bytes in one array per document (a collection's children side by side,
//! a mapping's as key, value, key, value), its position an offset into the input whose line
//! and column a table of line starts gives; a plain string or key of ASCII input is a span
//! of the input itself, and the text of every other string and key a span of one string
//! per document. An alias shares the nodes of its anchor instead of copying
//! them (what it expands to still counts against the alias limit).

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use self::compat::HIDDEN_COLON;
use self::resolve::{Scalar, ScalarTag, key_from_scalar, resolve_scalar};

/// What a [`Node`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Tag {
    Null,
    /// A boolean: `a` is 0 or 1.
    Bool,
    /// A number: `a` is its index in [`Tree::numbers`] (as are `UInt` and `Float`).
    Int,
    UInt,
    Float,
    /// A string: `a` and the length are its span in [`Tree::text`].
    Str,
    /// A string written as it is in the input (a plain scalar of ASCII input): `a` and the
    /// length are its span in [`Tree::input`], so that it is not copied.
    Src,
    /// A sequence: `a` and the length are its items' span in [`Tree::nodes`].
    Seq,
    /// A mapping: `a` is where its entries start in [`Tree::nodes`], the length their
    /// number; an entry is two nodes, the key (a string at the key's position) and the value.
    Map,
}

/// The tags by their number in [`Node::b`].
const TAGS: [Tag; 9] = [
    Tag::Null,
    Tag::Bool,
    Tag::Int,
    Tag::UInt,
    Tag::Float,
    Tag::Str,
    Tag::Src,
    Tag::Seq,
    Tag::Map,
];

/// Bits of [`Node::b`] below the tag: a length or a count.
const LEN_BITS: u32 = 28;

/// The longest string and the largest collection a node holds (256 Mi bytes or entries);
/// a larger one is "too large" (the input is at most 16 MiB by default).
const MAX_LEN: usize = (1 << LEN_BITS) - 1;

/// A parsed YAML node with the position where it starts; what it holds is in the
/// [`Tree`] of its document (read it through a [`NodeRef`]). 12 bytes: a large document
/// holds millions of these while it is decoded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Node {
    /// Where the node starts, in characters from the start of the input; its line and
    /// column are found in [`Tree::lines`].
    pos: u32,
    /// The value: a boolean, an index, or where a span starts (see [`Tag`]).
    a: u32,
    /// The [`Tag`] above [`LEN_BITS`], a length or count below.
    b: u32,
}

impl Node {
    /// A node; `len` is at most [`MAX_LEN`] (the builder checks).
    fn new(tag: Tag, pos: u32, a: u32, len: usize) -> Node {
        debug_assert!(len <= MAX_LEN);
        Node {
            pos,
            a,
            b: (tag as u32) << LEN_BITS | (len & MAX_LEN) as u32,
        }
    }

    fn tag(&self) -> Tag {
        TAGS[(self.b >> LEN_BITS) as usize]
    }

    /// The length of a string, the number of items of a sequence or entries of a mapping.
    fn len(&self) -> usize {
        self.b as usize & MAX_LEN
    }

    /// Whether the node is a string (copied or in the input).
    fn is_str(&self) -> bool {
        matches!(self.tag(), Tag::Str | Tag::Src)
    }
}

/// The nodes and text of one document.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tree<'t> {
    nodes: Vec<Node>,
    /// The text of the strings that are not written as they are in the input.
    text: String,
    /// The input the document was read from, when [`Tag::Src`] nodes may point into it.
    input: &'t str,
    /// The numbers' bits (most documents have few numbers).
    numbers: Vec<u64>,
    /// For each line that has a node: where it starts (in characters from the start of
    /// the input) and its 1-based number, in order. A node's line is the last one that
    /// starts at or before it, its column how far past that start it is.
    lines: Vec<(u32, u32)>,
    /// The entry of `lines` found last: a walk in document order finds the next one there.
    last_line: std::cell::Cell<usize>,
}

impl<'t> Tree<'t> {
    fn new(input: &'t str) -> Tree<'t> {
        Tree {
            input,
            ..Tree::default()
        }
    }

    fn str(&self, n: &Node) -> &str {
        let (a, len) = (n.a as usize, n.len());
        if n.tag() == Tag::Src {
            &self.input[a..a + len]
        } else {
            &self.text[a..a + len]
        }
    }

    fn bits(&self, n: &Node) -> u64 {
        self.numbers[n.a as usize]
    }

    /// The 1-based line and column of a node.
    fn position(&self, n: &Node) -> (u32, u32) {
        let lines = &self.lines;
        let covers = |i: usize| {
            lines.get(i).is_some_and(|l| l.0 <= n.pos)
                && lines.get(i + 1).is_none_or(|l| l.0 > n.pos)
        };
        let last = self.last_line.get();
        let i = if covers(last) {
            last
        } else if covers(last + 1) {
            last + 1
        } else {
            lines.partition_point(|l| l.0 <= n.pos).saturating_sub(1)
        };
        self.last_line.set(i);
        match lines.get(i) {
            Some(&(start, line)) => (line, n.pos.saturating_sub(start).saturating_add(1)),
            None => (0, 0),
        }
    }

    /// Records that `line` starts at `start` (both as the parser counts them).
    fn add_line(&mut self, start: u32, line: u32) {
        match self.lines.last() {
            Some(&(_, last)) if last == line => {}
            Some(&(at, _)) if at > start => {
                // Out of order (not seen from the parser, kept correct all the same).
                let i = self.lines.partition_point(|l| l.0 < start);
                if self.lines.get(i).is_none_or(|l| l.1 != line) {
                    self.lines.insert(i, (start, line));
                }
            }
            _ => self.lines.push((start, line)),
        }
    }

    fn children(&self, n: &Node) -> &[Node] {
        let len = match n.tag() {
            Tag::Seq => n.len(),
            Tag::Map => 2 * n.len(),
            _ => 0,
        };
        &self.nodes[n.a as usize..n.a as usize + len]
    }
}

/// A node of a tree, to read.
#[derive(Clone, Copy)]
pub(crate) struct NodeRef<'a> {
    tree: &'a Tree<'a>,
    node: Node,
}

impl std::fmt::Debug for NodeRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} at {}:{}", self.value(), self.line(), self.column())
    }
}

/// The value of a node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum NodeValue<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(&'a str),
    Seq(Items<'a>),
    Map(Entries<'a>),
}

/// The items of a sequence.
#[derive(Clone, Copy)]
pub(crate) struct Items<'a> {
    tree: &'a Tree<'a>,
    nodes: &'a [Node],
}

impl PartialEq for Items<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl std::fmt::Debug for Items<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> Items<'a> {
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    pub(crate) fn get(&self, i: usize) -> Option<NodeRef<'a>> {
        let tree = self.tree;
        self.nodes.get(i).map(|&node| NodeRef { tree, node })
    }

    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = NodeRef<'a>> + use<'a> {
        let tree = self.tree;
        self.nodes.iter().map(move |&node| NodeRef { tree, node })
    }
}

/// The entries of a mapping.
#[derive(Clone, Copy)]
pub(crate) struct Entries<'a> {
    tree: &'a Tree<'a>,
    nodes: &'a [Node],
}

impl PartialEq for Entries<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl std::fmt::Debug for Entries<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> Entries<'a> {
    pub(crate) fn len(&self) -> usize {
        self.nodes.len() / 2
    }

    /// The `i`th entry's key and value.
    pub(crate) fn get(&self, i: usize) -> Option<(Key<'a>, NodeRef<'a>)> {
        let pair = self.nodes.get(2 * i..2 * i + 2)?;
        let tree = self.tree;
        Some((
            Key {
                name: tree.str(&pair[0]),
                tree,
                node: pair[0],
            },
            NodeRef {
                tree,
                node: pair[1],
            },
        ))
    }

    /// Each entry's key (a string node, at the key's position) and value.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = (Key<'a>, NodeRef<'a>)> + use<'a> {
        let tree = self.tree;
        self.nodes.chunks_exact(2).map(move |pair| {
            (
                Key {
                    name: tree.str(&pair[0]),
                    tree,
                    node: pair[0],
                },
                NodeRef {
                    tree,
                    node: pair[1],
                },
            )
        })
    }
}

/// A mapping key with its position.
#[derive(Clone, Copy)]
pub(crate) struct Key<'a> {
    pub(crate) name: &'a str,
    tree: &'a Tree<'a>,
    node: Node,
}

impl Key<'_> {
    /// 1-based line.
    pub(crate) fn line(&self) -> u32 {
        self.tree.position(&self.node).0
    }

    /// 1-based column.
    pub(crate) fn column(&self) -> u32 {
        self.tree.position(&self.node).1
    }
}

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.tree.position(&self.node) == other.tree.position(&other.node)
    }
}

impl std::fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} at {}:{}", self.name, self.line(), self.column())
    }
}

impl PartialEq for NodeRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value()
    }
}

impl<'a> NodeRef<'a> {
    /// What the node holds.
    pub(crate) fn value(&self) -> NodeValue<'a> {
        let n = &self.node;
        let tree = self.tree;
        match n.tag() {
            Tag::Null => NodeValue::Null,
            Tag::Bool => NodeValue::Bool(n.a != 0),
            Tag::Int => NodeValue::Int(tree.bits(n) as i64),
            Tag::UInt => NodeValue::UInt(tree.bits(n)),
            Tag::Float => NodeValue::Float(f64::from_bits(tree.bits(n))),
            Tag::Str | Tag::Src => NodeValue::Str(tree.str(n)),
            Tag::Seq => NodeValue::Seq(Items {
                tree,
                nodes: tree.children(n),
            }),
            Tag::Map => NodeValue::Map(Entries {
                tree,
                nodes: tree.children(n),
            }),
        }
    }

    /// Whether the node is `null`.
    pub(crate) fn is_null(&self) -> bool {
        self.node.tag() == Tag::Null
    }

    /// 1-based line.
    pub(crate) fn line(&self) -> u32 {
        self.tree.position(&self.node).0
    }

    /// 1-based column.
    pub(crate) fn column(&self) -> u32 {
        self.tree.position(&self.node).1
    }
}

/// One YAML document of a stream.
#[derive(Clone, Debug)]
pub(crate) struct Document<'t> {
    tree: Tree<'t>,
    root: Node,
}

impl Document<'_> {
    /// The document's root node.
    pub(crate) fn root(&self) -> NodeRef<'_> {
        NodeRef {
            tree: &self.tree,
            node: self.root,
        }
    }
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
        /// Where its items start in [`Builder::pending`].
        start: usize,
        /// Where it starts (see [`Node::pos`]).
        pos: u32,
        anchor: usize,
    },
    Map {
        /// Where its entries (key and value nodes) start in [`Builder::pending`].
        start: usize,
        /// Where each key is among the entries, and whether it was written in the mapping
        /// itself (a second such key is a duplicate, while a merged key may be written over).
        index: KeyIndex,
        /// The key whose value comes next, and whether it is a merge key (`<<`).
        pending: Option<(Node, bool)>,
        pos: u32,
        anchor: usize,
    },
}

struct Builder<'t> {
    limits: ParseLimits,
    /// The input when it is ASCII (so that the parser's character offsets are byte
    /// offsets) and read as it is: plain scalars written as they are in it point into it.
    input: Option<&'t str>,
    stack: Vec<Frame>,
    /// The children of the open collections, each one's after its parent's.
    pending: Vec<Node>,
    /// The document being read.
    tree: Tree<'t>,
    anchors: HashMap<usize, (Node, usize)>,
    alias_nodes: usize,
    /// Weight of the nodes read from the text of this document (see [`weight`]).
    parsed_nodes: usize,
    /// Weight of the copies that anchors hold in this document.
    anchored_nodes: usize,
    document: usize,
    /// Whether the text holds colons hidden from the parser (see [`compat`]).
    hidden_colons: bool,
}

/// Parses every document of `text`. Documents before a syntax error are returned along with
/// the error, since a YAML stream cannot be resumed after one.
pub(crate) fn parse(text: &str, limits: ParseLimits) -> (Vec<Document<'_>>, Option<YamlError>) {
    let mut docs = Vec::new();
    let err = parse_each(text, limits, &mut |doc| docs.push(doc));
    (docs, err)
}

/// Parses `text`, handing each document to `each` as soon as it is complete (so that a
/// long stream need not be held whole). Returns the syntax error that ended the stream, if
/// any.
pub(crate) fn parse_each<'t>(
    text: &'t str,
    limits: ParseLimits,
    each: &mut dyn FnMut(Document<'t>),
) -> Option<YamlError> {
    if let Some(offset) = text.find(HIDDEN_COLON) {
        let before = &text[..offset];
        let line = 1 + before.matches('\n').count();
        let column = 1 + before[before.rfind('\n').map_or(0, |i| i + 1)..]
            .chars()
            .count();
        return Some(YamlError {
            document: 0,
            line,
            column,
            message: "U+FFFF is not a YAML character".into(),
            limit: false,
        });
    }
    let plan = if compat::worth_planning(text) {
        compat::plan(text)
    } else {
        compat::Plan::default()
    };
    let hidden;
    let (text, input) = if plan.colons.is_empty() {
        (text, Some(text).filter(|t| t.is_ascii()))
    } else {
        hidden = compat::hide_colons(text, &plan.colons);
        (hidden.as_str(), None)
    };
    // A document that starts with a flow collection (JSON, above all) is read after a
    // `--- ` on its first line. Without it the scanner takes the opening `{` for a possible
    // key (`{a: 1}: b` is YAML) and, inside a flow collection, keeps such a candidate open
    // until the collection closes, holding every token of the document (yaml-rust2's
    // `stale_simple_keys` expires candidates in block context only): 35-40 times the input
    // in memory. After `---` no key may start there, so the tokens stream. Positions are
    // those of the text itself (see [`Mark`]); a syntax error or a limit in the first
    // document is read again without the prefix, so that errors are as they were.
    if flow_prefix_keeps_the_reading(text) {
        // A copy (one more input's worth of memory) rather than the prefix and the text
        // chained: one parser type, so that the compiler makes one copy of the parser's
        // code and inlines it into the loop as before (a chained iterator cost the YAML
        // path 1.6 % of its instructions, and 3-6 % of its time).
        let prefixed = format!("{FLOW_PREFIX}{text}");
        let mut b = Builder::new(limits, input, &plan);
        match b.run(
            Parser::new_from_str(&prefixed),
            FLOW_PREFIX.len(),
            &plan,
            each,
        ) {
            Some(_) if b.document == 0 => {}
            done => return done,
        }
    }
    Builder::new(limits, input, &plan).run(Parser::new_from_str(text), 0, &plan, each)
}

/// What a document that starts with a flow collection is read after (see [`parse_each`]).
const FLOW_PREFIX: &str = "--- ";

/// Whether `text` starts with a flow collection that cannot be a key, so that reading it
/// after [`FLOW_PREFIX`] gives what reading it as it is gives. An implicit key ends on its
/// own line, followed by `:`; so the collection must not close on the first line, or be
/// followed there by nothing but blanks and a comment. Quoted scalars are skipped (a
/// quote starts one only where a token starts); a comment or a line break inside the
/// collection means that it goes on past the first line.
fn flow_prefix_keeps_the_reading(text: &str) -> bool {
    if !text.starts_with(['{', '[']) {
        return false;
    }
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    let token_start = |i: usize| {
        i == 0
            || matches!(
                bytes[i - 1],
                b'{' | b'[' | b',' | b':' | b'?' | b' ' | b'\t'
            )
    };
    while i < bytes.len() {
        match bytes[i] {
            b'\n' | b'\r' => return true,
            b'#' if i > 0 && matches!(bytes[i - 1], b' ' | b'\t') => return true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    // Closed on the first line: only blanks and a comment may follow.
                    let rest = &text[i + 1..];
                    let line = rest.split(['\n', '\r']).next().unwrap_or("");
                    let after = line.trim_start_matches([' ', '\t']);
                    return after.is_empty()
                        || (after.starts_with('#') && after.len() < line.len());
                }
            }
            q @ (b'"' | b'\'') if token_start(i) => {
                // Skip the quoted scalar; a line break inside it ends the first line.
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\n' | b'\r' => return true,
                        b'\\' if q == b'"' => i += 1,
                        b'\'' if q == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 1,
                        c if c == q => break,
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    // The input ends on the first line, inside the collection: an error either way, and
    // an error in the first document is read again without the prefix.
    true
}

/// A position as the parser gives it, less the characters of a prefix that it read before
/// the text ([`FLOW_PREFIX`], all on line 1): so a position in the text itself.
#[derive(Clone, Copy, Debug)]
struct Mark {
    index: usize,
    line: usize,
    col: usize,
}

impl Mark {
    fn new(m: Marker, shift: usize) -> Mark {
        Mark {
            index: m.index().saturating_sub(shift),
            line: m.line(),
            col: if m.line() == 1 {
                m.col().saturating_sub(shift)
            } else {
                m.col()
            },
        }
    }

    /// Characters from the start of the text.
    fn index(&self) -> usize {
        self.index
    }

    /// 1-based line.
    fn line(&self) -> usize {
        self.line
    }

    /// 0-based column, in characters.
    fn col(&self) -> usize {
        self.col
    }
}

impl<'t> Builder<'t> {
    fn new(limits: ParseLimits, input: Option<&'t str>, plan: &compat::Plan) -> Builder<'t> {
        Builder {
            limits,
            input,
            stack: Vec::new(),
            pending: Vec::new(),
            tree: Tree::default(),
            anchors: HashMap::new(),
            alias_nodes: 0,
            parsed_nodes: 0,
            anchored_nodes: 0,
            document: 0,
            hidden_colons: !plan.colons.is_empty(),
        }
    }

    /// Reads the stream of `parser`, which read `shift` characters before the text (see
    /// [`Mark`]), handing each document to `each`.
    fn run(
        &mut self,
        mut parser: Parser<std::str::Chars<'_>>,
        shift: usize,
        plan: &compat::Plan,
        each: &mut dyn FnMut(Document<'t>),
    ) -> Option<YamlError> {
        let b = self;
        let mut root: Option<Node> = None;
        loop {
            let (event, mark) = match parser.next_token() {
                Ok((event, mark)) => (event, Mark::new(mark, shift)),
                Err(e) => {
                    let m = Mark::new(*e.marker(), shift);
                    let limit = e.info().contains("recursion limit");
                    let message = if limit {
                        format!("nesting is deeper than the parser allows ({})", e.info())
                    } else {
                        e.info().to_owned()
                    };
                    return Some(YamlError {
                        document: b.document,
                        line: m.line(),
                        column: m.col() + 1,
                        message,
                        limit,
                    });
                }
            };
            if let Some(r) = plan.refusal.as_ref().filter(|r| mark.index() >= r.index) {
                return Some(YamlError {
                    document: b.document,
                    line: r.line,
                    column: r.column,
                    message: r.message.clone(),
                    limit: false,
                });
            }
            match event {
                Event::StreamEnd => break,
                Event::DocumentStart => {
                    b.anchors.clear();
                    b.alias_nodes = 0;
                    b.parsed_nodes = 0;
                    b.anchored_nodes = 0;
                    b.tree = Tree::new(b.input.unwrap_or_default());
                    root = None;
                }
                Event::DocumentEnd => {
                    let root = match root.take() {
                        Some(root) => root,
                        None => {
                            // An empty document: null, at the start of the line it ends on.
                            let start = mark.index() - mark.col();
                            let pos = b.position(start, mark.line());
                            Node::new(Tag::Null, pos, 0, 0)
                        }
                    };
                    // The children of a long collection waited here; the document is
                    // decoded next, at its peak of memory, so their room goes back first.
                    if b.pending.capacity() > PENDING_KEPT {
                        b.pending = Vec::new();
                    }
                    each(Document {
                        tree: std::mem::take(&mut b.tree),
                        root,
                    });
                    b.document += 1;
                }
                ev => match b.event(ev, mark) {
                    Ok(Some(node)) => root = Some(node),
                    Ok(None) => {}
                    Err(e) => return Some(e),
                },
            }
        }
        None
    }
}

/// The most room for waiting children ([`Builder::pending`]) kept from one document to the
/// next.
const PENDING_KEPT: usize = 4096;

/// Text of a scalar or a key counts one node per this many bytes on top of its own node,
/// so that aliases of one long scalar are bounded by what they copy, not by their number.
const BYTES_PER_NODE: usize = 64;

/// The weight of a scalar or key of `len` bytes.
fn text_weight(len: usize) -> usize {
    1 + len / BYTES_PER_NODE
}

/// What a node would cost to copy, in nodes: one per node and key, plus one per
/// [`BYTES_PER_NODE`] bytes of text. (Aliases share their anchor's nodes, but what they
/// stand for is read as many times as it appears, so it is counted as copied.)
fn weight(tree: &Tree<'_>, n: &Node) -> usize {
    match n.tag() {
        Tag::Str | Tag::Src => text_weight(n.len()),
        Tag::Seq => {
            1 + tree
                .children(n)
                .iter()
                .map(|c| weight(tree, c))
                .sum::<usize>()
        }
        Tag::Map => {
            1 + tree
                .children(n)
                .chunks_exact(2)
                .map(|kv| text_weight(kv[0].len()) + weight(tree, &kv[1]))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// What the arena of one document may hold: its offsets are `u32`.
const MAX_ARENA: usize = u32::MAX as usize;

impl Builder<'_> {
    fn error(&self, mark: Mark, message: String, limit: bool) -> YamlError {
        YamlError {
            document: self.document,
            line: mark.line(),
            column: mark.col() + 1,
            message,
            limit,
        }
    }

    fn too_long(&self, mark: Mark) -> YamlError {
        self.error(
            mark,
            format!("a string or collection is too large (more than {MAX_LEN} bytes or entries)"),
            true,
        )
    }

    fn too_large(&self, mark: Mark) -> YamlError {
        self.error(
            mark,
            "the document is too large (more than 4 GiB of text or 4 G nodes)".into(),
            true,
        )
    }

    /// A string node for `text` at `line` and `column`, its text appended to the tree.
    fn string(&mut self, text: &str, pos: u32, mark: Mark) -> Result<Node, YamlError> {
        if text.len() > MAX_LEN {
            return Err(self.too_long(mark));
        }
        // Written as it is in the input: a span of it, nothing copied.
        let at = mark.index();
        if let Some(input) = self.input
            && at + text.len() <= MAX_ARENA
            && input.get(at..at + text.len()) == Some(text)
        {
            return Ok(Node::new(Tag::Src, pos, at as u32, text.len()));
        }
        let start = self.tree.text.len();
        if start + text.len() > MAX_ARENA {
            return Err(self.too_large(mark));
        }
        self.tree.text.push_str(text);
        Ok(Node::new(Tag::Str, pos, start as u32, text.len()))
    }

    /// A number node: its bits go to [`Tree::numbers`].
    fn number(&mut self, tag: Tag, pos: u32, bits: u64, mark: Mark) -> Result<Node, YamlError> {
        let at = self.tree.numbers.len();
        if at >= MAX_ARENA {
            return Err(self.too_large(mark));
        }
        self.tree.numbers.push(bits);
        Ok(Node::new(tag, pos, at as u32, 0))
    }

    /// The position of a node at the start of 1-based `line`, which starts at character
    /// `start` of the input; the line is recorded in the tree.
    fn position(&mut self, start: usize, line: usize) -> u32 {
        self.tree.add_line(to_pos(start), to_pos(line));
        to_pos(start)
    }

    /// The position of `mark` (see [`Node::pos`]), its line recorded in the tree.
    fn mark_position(&mut self, mark: Mark) -> u32 {
        let start = mark.index() - mark.col();
        self.tree.add_line(to_pos(start), to_pos(mark.line()));
        to_pos(mark.index())
    }

    /// Handles one event; returns the document's root when it completes.
    fn event(&mut self, ev: Event, mark: Mark) -> Result<Option<Node>, YamlError> {
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
                let start = self.pending.len();
                let pos = self.mark_position(mark);
                let frame = if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq { start, pos, anchor }
                } else {
                    Frame::Map {
                        start,
                        index: KeyIndex::default(),
                        pending: None,
                        pos,
                        anchor,
                    }
                };
                self.stack.push(frame);
                Ok(None)
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (tag, start, pos, anchor) = match (self.stack.pop(), &ev) {
                    (Some(Frame::Seq { start, pos, anchor }), Event::SequenceEnd) => {
                        (Tag::Seq, start, pos, anchor)
                    }
                    (
                        Some(Frame::Map {
                            start, pos, anchor, ..
                        }),
                        Event::MappingEnd,
                    ) => (Tag::Map, start, pos, anchor),
                    (_, Event::SequenceEnd) => {
                        return Err(self.error(mark, "unbalanced sequence end".into(), false));
                    }
                    _ => return Err(self.error(mark, "unbalanced mapping end".into(), false)),
                };
                let at = self.tree.nodes.len();
                let len = self.pending.len() - start;
                if at + len > MAX_ARENA {
                    return Err(self.too_large(mark));
                }
                self.tree.nodes.extend_from_slice(&self.pending[start..]);
                self.pending.truncate(start);
                let count = if tag == Tag::Map { len / 2 } else { len };
                if count > MAX_LEN {
                    return Err(self.too_long(mark));
                }
                let node = Node::new(tag, pos, at as u32, count);
                self.complete(node, anchor, false, mark)
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.parsed_nodes = self.parsed_nodes.saturating_add(text_weight(text.len()));
                let unhidden;
                let text = if self.hidden_colons && text.contains(HIDDEN_COLON) {
                    unhidden = text.replace(HIDDEN_COLON, ":");
                    unhidden.as_str()
                } else {
                    text.as_str()
                };
                let tag = ScalarTag::of(tag.as_ref());
                let is_key = matches!(self.stack.last(), Some(Frame::Map { pending: None, .. }));
                // go-yaml's merge key: `<<` plain and untagged, or tagged `!!merge`.
                let merge_key = is_key
                    && text == "<<"
                    && ((style == TScalarStyle::Plain && tag == ScalarTag::None)
                        || tag == ScalarTag::Yaml("merge"));
                let pos = self.mark_position(mark);
                let scalar = if merge_key {
                    Scalar::Str
                } else {
                    resolve_scalar(text, style, tag).map_err(|m| self.error(mark, m, false))?
                };
                let node = match scalar {
                    Scalar::Null => Node::new(Tag::Null, pos, 0, 0),
                    Scalar::Bool(b) => Node::new(Tag::Bool, pos, u32::from(b), 0),
                    Scalar::Int(i) => self.number(Tag::Int, pos, i as u64, mark)?,
                    Scalar::UInt(u) => self.number(Tag::UInt, pos, u, mark)?,
                    Scalar::Float(f) => self.number(Tag::Float, pos, f.to_bits(), mark)?,
                    Scalar::Str => self.string(text, pos, mark)?,
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
                let node = *node;
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
        mark: Mark,
    ) -> Result<Option<Node>, YamlError> {
        if anchor > 0 {
            // An anchor keeps its node for the aliases to come. What disjoint anchors stand
            // for adds up to at most the document itself; anchors nested in anchors stand
            // for their subtrees again, so they are bounded like aliases.
            let count = weight(&self.tree, &node);
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
            self.anchors.insert(anchor, (node, count));
        }
        let Some(frame) = self.stack.last_mut() else {
            return Ok(Some(node));
        };
        let (start, index, pending) = match frame {
            Frame::Seq { .. } => {
                self.pending.push(node);
                return Ok(None);
            }
            Frame::Map {
                start,
                index,
                pending,
                ..
            } => (*start, index, pending),
        };
        let err = |m: String| {
            Err(YamlError {
                document: self.document,
                line: mark.line(),
                column: mark.col() + 1,
                message: m,
                limit: false,
            })
        };
        match pending.take() {
            None => {
                // A merge key is the string `<<`.
                let key = if merge_key || node.is_str() {
                    node
                } else {
                    let scalar = match node.tag() {
                        Tag::Null => Scalar::Null,
                        Tag::Bool => Scalar::Bool(node.a != 0),
                        Tag::Int => Scalar::Int(self.tree.bits(&node) as i64),
                        Tag::UInt => Scalar::UInt(self.tree.bits(&node)),
                        Tag::Float => Scalar::Float(f64::from_bits(self.tree.bits(&node))),
                        _ => return err("mapping keys must be scalars".into()),
                    };
                    let name = match key_from_scalar(scalar) {
                        Ok(name) => name,
                        Err(m) => return err(m),
                    };
                    let at = self.tree.text.len();
                    if at + name.len() > MAX_ARENA {
                        return Err(YamlError {
                            document: self.document,
                            line: mark.line(),
                            column: mark.col() + 1,
                            message:
                                "the document is too large (more than 4 GiB of text or 4 G nodes)"
                                    .into(),
                            limit: true,
                        });
                    }
                    self.tree.text.push_str(&name);
                    // A number or boolean's name is a few bytes, far below `MAX_LEN`.
                    Node::new(Tag::Str, node.pos, at as u32, name.len())
                };
                let name = self.tree.str(&key);
                // go-yaml's strict reading (istioctl's) refuses a second key; kubectl's
                // would keep the last one silently.
                if !merge_key
                    && index
                        .find(&self.tree, &self.pending[start..], name)
                        .is_some_and(|i| index.is_explicit(i))
                {
                    return err(format!("key {name:?} already set in map"));
                }
                *pending = Some((key, merge_key));
                Ok(None)
            }
            Some((key, false)) => {
                assign(&self.tree, &mut self.pending, start, index, key, node, true);
                Ok(None)
            }
            Some((_, true)) => {
                // go-yaml v2 merges where the `<<` stands: its keys overwrite those
                // before it, and keys after it overwrite them. In a list of mappings
                // the first one wins, so they are applied from the last.
                let tree = &self.tree;
                let sources: Vec<Node> = match node.tag() {
                    Tag::Map => vec![node],
                    Tag::Seq => {
                        let items = tree.children(&node);
                        if items.iter().any(|n| n.tag() != Tag::Map) {
                            return err(MERGE_VALUE.into());
                        }
                        items.to_vec()
                    }
                    _ => return err(MERGE_VALUE.into()),
                };
                for src in sources.iter().rev() {
                    for kv in tree.children(src).chunks_exact(2) {
                        assign(tree, &mut self.pending, start, index, kv[0], kv[1], false);
                    }
                }
                Ok(None)
            }
        }
    }
}

/// An offset or line as the tree keeps it (`u32::MAX` past 4 G).
fn to_pos(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// go-yaml's refusal of a merge key whose value is not a mapping or a list of mappings.
const MERGE_VALUE: &str = "a merge key (<<) needs a mapping or a list of mappings as its value (go-yaml: map merge requires map or sequence of maps as the value)";

/// Mappings with more entries than this find keys by hash; smaller ones by scanning.
const SCANNED_KEYS: usize = 16;

/// Where each key of a mapping being built is, and which keys were written in the mapping
/// itself. Most mappings are small and have no merge key: they allocate nothing here.
#[derive(Debug, Default)]
struct KeyIndex {
    /// Entry positions by name, once the mapping has more than [`SCANNED_KEYS`] entries.
    by_name: Option<HashMap<String, usize>>,
    /// Per entry, whether it was written in the mapping itself; `None` while every entry
    /// was (no merge key yet).
    explicit: Option<Vec<bool>>,
}

impl KeyIndex {
    /// The position of `name` among `entries` (key and value nodes, in turn).
    fn find(&self, tree: &Tree<'_>, entries: &[Node], name: &str) -> Option<usize> {
        match &self.by_name {
            Some(m) => m.get(name).copied(),
            None => entries
                .chunks_exact(2)
                .position(|kv| tree.str(&kv[0]) == name),
        }
    }

    fn is_explicit(&self, i: usize) -> bool {
        self.explicit.as_ref().is_none_or(|e| e[i])
    }
}

/// Sets `key` in the mapping being built whose entries start at `start` in `pending`,
/// writing over an entry of the same name (a merged one, or one that a merge writes over);
/// `explicit` when the key is the mapping's own.
fn assign(
    tree: &Tree<'_>,
    pending: &mut Vec<Node>,
    start: usize,
    index: &mut KeyIndex,
    key: Node,
    node: Node,
    explicit: bool,
) {
    let len = (pending.len() - start) / 2;
    if !explicit && index.explicit.is_none() {
        index.explicit = Some(vec![true; len]);
    }
    let name = tree.str(&key);
    match index.find(tree, &pending[start..], name) {
        Some(i) => {
            if let Some(e) = &mut index.explicit {
                e[i] |= explicit;
            }
            pending[start + 2 * i] = key;
            pending[start + 2 * i + 1] = node;
        }
        None => {
            if let Some(e) = &mut index.explicit {
                e.push(explicit);
            }
            match &mut index.by_name {
                Some(m) => {
                    m.insert(name.to_owned(), len);
                }
                None if len >= SCANNED_KEYS => {
                    let mut m: HashMap<String, usize> = pending[start..]
                        .chunks_exact(2)
                        .enumerate()
                        .map(|(i, kv)| (tree.str(&kv[0]).to_owned(), i))
                        .collect();
                    m.insert(name.to_owned(), len);
                    index.by_name = Some(m);
                }
                None => {}
            }
            pending.push(key);
            pending.push(node);
        }
    }
}

/// One step of a field path: a mapping key or a sequence index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

impl<'a> NodeRef<'a> {
    /// Converts to JSON; with `prune_nulls`, `key: null` entries are dropped as the
    /// Kubernetes API server prunes them (tests compare documents this way), otherwise kept
    /// (documents that are not resources, where `null` says something). Non-finite numbers
    /// have no JSON form and are an error, with the path of the offending node.
    pub(crate) fn to_json(
        self,
        path: &mut Vec<Segment>,
        prune_nulls: bool,
    ) -> Result<Value, Vec<Segment>> {
        Ok(match self.value() {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(b),
            NodeValue::Int(i) => Value::Number(i.into()),
            NodeValue::UInt(u) => Value::Number(u.into()),
            NodeValue::Float(f) => match Number::from_f64(f) {
                Some(n) => Value::Number(n),
                None => return Err(path.clone()),
            },
            NodeValue::Str(s) => Value::String(s.to_owned()),
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
                for (k, v) in entries.iter() {
                    if prune_nulls && v.is_null() {
                        continue;
                    }
                    path.push(Segment::Key(k.name.to_owned()));
                    out.insert(k.name.to_owned(), v.to_json(path, prune_nulls)?);
                    path.pop();
                }
                Value::Object(out)
            }
        })
    }

    /// The value of a mapping entry.
    pub(crate) fn get(&self, key: &str) -> Option<NodeRef<'a>> {
        match self.value() {
            NodeValue::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string value of a mapping entry.
    pub(crate) fn get_str(&self, key: &str) -> Option<&'a str> {
        match self.get(key)?.value() {
            NodeValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The position of the deepest node along `path`: the key's own line for the last step
    /// into a mapping, so that `...destination.name` points at `name:`.
    pub(crate) fn locate(&self, path: &[Segment]) -> (usize, usize) {
        let mut node = *self;
        let mut pos = (self.line(), self.column());
        for seg in path {
            match (seg, node.value()) {
                (Segment::Key(k), NodeValue::Map(entries)) => {
                    match entries.iter().find(|(key, _)| key.name == k) {
                        Some((key, v)) => {
                            pos = (key.line(), key.column());
                            node = v;
                        }
                        None => break,
                    }
                }
                (Segment::Index(i), NodeValue::Seq(items)) => match items.get(*i) {
                    Some(v) => {
                        pos = (v.line(), v.column());
                        node = v;
                    }
                    None => break,
                },
                _ => break,
            }
        }
        (pos.0 as usize, pos.1 as usize)
    }
}

/// The path serde_path_to_error recorded, as segments (unknown steps left out).
pub(crate) fn serde_segments(path: &serde_path_to_error::Path) -> Vec<Segment> {
    path.iter()
        .filter_map(|seg| match seg {
            serde_path_to_error::Segment::Seq { index } => Some(Segment::Index(*index)),
            serde_path_to_error::Segment::Map { key } => Some(Segment::Key(key.clone())),
            serde_path_to_error::Segment::Enum { variant } => Some(Segment::Key(variant.clone())),
            serde_path_to_error::Segment::Unknown => None,
        })
        .collect()
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
    use std::fmt::Write as _;
    let _ = write!(out, "[{i}]");
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

/// The line of every node under `node` that [`crate::resource::Origin::at_path`] could not
/// tell otherwise, keyed by its path relative to `node` (the key of [`format_path`]'s text).
/// `at_path` answers a path that is not in the index with the line of its nearest ancestor
/// that is (or the resource's own line), so a node on the same line as that is left out: a
/// flow collection on one line is one entry, not one per field. Each node's key extends its
/// parent's, so the work is linear in the size of the tree however long its keys are.
pub(crate) fn index_lines(node: NodeRef<'_>) -> crate::resource::PositionIndex {
    use crate::resource::PositionIndex;
    struct Walk {
        buf: String,
        out: Vec<(u64, u32)>,
    }
    impl Walk {
        /// `line` is the line `at_path` gives for `node`'s own path.
        fn visit(&mut self, node: NodeRef<'_>, key: u64, first: bool, line: u32) {
            match node.value() {
                NodeValue::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.buf.clear();
                        push_index(&mut self.buf, i);
                        let k = PositionIndex::extend(key, self.buf.as_bytes());
                        let item_line = item.line();
                        self.record(k, item_line, line);
                        self.visit(item, k, false, item_line);
                    }
                }
                NodeValue::Map(entries) => {
                    for (name, v) in entries.iter() {
                        self.buf.clear();
                        push_key(&mut self.buf, name.name, first);
                        let k = PositionIndex::extend(key, self.buf.as_bytes());
                        let name_line = name.line();
                        self.record(k, name_line, line);
                        self.visit(v, k, false, name_line);
                    }
                }
                _ => {}
            }
        }

        fn record(&mut self, key: u64, line: u32, parent: u32) {
            if line != parent {
                self.out.push((key, line));
            }
        }
    }
    let mut walk = Walk {
        buf: String::new(),
        out: Vec::new(),
    };
    walk.visit(node, PositionIndex::key(""), true, node.line());
    PositionIndex::new(walk.out)
}

/// Serializes a value as YAML text (used to print resources), in block style with keys
/// sorted as `kubectl get -o yaml` prints them. A string is written plain only when it is
/// made of letters, digits and `-_./` and reads back as itself in Kubernetes' YAML (not
/// `on`, `0777`, `1_000`); every other string is double-quoted.
pub(crate) fn to_yaml_string<T: serde::Serialize>(value: &T) -> Result<String, String> {
    let json = serde_json::to_value(value).map_err(|e| e.to_string())?;
    let mut out = String::new();
    match &json {
        serde_json::Value::Object(m) if !m.is_empty() => emit_map(&mut out, m, 0),
        serde_json::Value::Array(a) if !a.is_empty() => emit_seq(&mut out, a, 0),
        scalar => {
            emit_scalar(&mut out, scalar);
            out.push('\n');
        }
    }
    Ok(out)
}

fn emit_map(out: &mut String, map: &serde_json::Map<String, serde_json::Value>, indent: usize) {
    for (i, (k, v)) in map.iter().enumerate() {
        // The first entry of a mapping in a list follows its `- `.
        if i > 0 || !out.ends_with("- ") {
            out.extend(std::iter::repeat_n(' ', indent));
        }
        emit_string(out, k);
        out.push(':');
        emit_value(out, v, indent + 2, indent);
    }
}

fn emit_seq(out: &mut String, items: &[serde_json::Value], indent: usize) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 || !out.ends_with("- ") {
            out.extend(std::iter::repeat_n(' ', indent));
        }
        out.push('-');
        emit_value(out, v, indent + 2, indent + 2);
    }
}

/// A value after `key:` or `-`: a scalar or an empty collection on the same line, a
/// mapping or list on the lines below (`nested` is their indent; a list in a mapping is not
/// indented further, as kubectl prints it).
fn emit_value(out: &mut String, v: &serde_json::Value, nested: usize, list_indent: usize) {
    use serde_json::Value;
    let after_dash = out.ends_with('-');
    match v {
        Value::Object(m) if !m.is_empty() => {
            if after_dash {
                out.push(' ');
                emit_map(out, m, nested);
            } else {
                out.push('\n');
                emit_map(out, m, nested);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            if after_dash {
                out.push(' ');
                emit_seq(out, a, nested);
            } else {
                out.push('\n');
                emit_seq(out, a, list_indent);
            }
        }
        scalar => {
            out.push(' ');
            emit_scalar(out, scalar);
            out.push('\n');
        }
    }
}

fn emit_scalar(out: &mut String, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => emit_string(out, s),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

/// A string, plain when that is safe for YAML 1.1 and 1.2 readers alike, else as JSON
/// (a double-quoted YAML scalar).
fn emit_string(out: &mut String, s: &str) {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/'))
        && !s.starts_with('-')
        && resolve::resolve_plain(s).is_none();
    if plain {
        out.push_str(s);
    } else {
        out.push_str(&serde_json::Value::String(s.to_owned()).to_string());
    }
}

mod compat;
pub(crate) mod de;
mod resolve;

#[cfg(test)]
mod tests;
