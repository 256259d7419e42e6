//! Loading Istio resources from YAML or JSON text and bytes.
//!
//! Multi-document streams, `kind: List` (as `kubectl get -o yaml` prints it) and
//! `*List` kinds are read; Kubernetes kinds other than the four Istio networking kinds and
//! the Gateway API's Gateway, GatewayClass, HTTPRoute, GRPCRoute and ReferenceGrant are
//! skipped and reported (Services, Namespaces and workloads are inventoried first). Unknown
//! fields inside an Istio resource, and unknown `apiVersion`s of an Istio kind, are errors
//! with the field path and position. The same resource (kind, namespace and name) given
//! twice is an error naming both places. Documents that are not Kubernetes objects but that
//! the caller recognises (routing tests kept beside the configuration) can be set aside as
//! plain data: see [`Loader::with_foreign_documents`].
//!
//! This module does no I/O: it parses the text and bytes it is given, and a file name given
//! with them only names the place in positions and errors. Reading files, folders and
//! ConfigMap volumes is the `mesh-load` crate's (`mesh_load::LoadFiles`), which parses what
//! it reads here ([`Loader::parse_bytes`], [`Loaded::merge`], [`Loaded::check_duplicates`]).

// `LoadError` carries the position and the names of the resource; it is only built on the
// error path of loading, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::resource::{
    AnyResource, ApiVersion, GROUP, Kind, ObjectMeta, Origin, Resource, ResourceKey, Resources,
    Spec,
};
use crate::yaml::{self, NodeRef, NodeValue, ParseLimits, Segment};

/// Bounds that keep hostile input from exhausting memory or time. Part of the API: what
/// happens past each bound is a [`LoadError::Limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest file, string or byte slice read, in bytes (default 16 MiB: ten times Kubernetes' own
    /// object size limit). Loading takes up to about 60 times the input in memory (a large
    /// block-style VirtualService about 10 times), and up to about 160 times for a flow
    /// collection nested directly in a flow collection (the YAML scanner holds the inner
    /// one's tokens until it closes, as in a kubectl `List` written as JSON; a JSON object
    /// whose fields hold its collections streams, about 10 times).
    pub max_input_bytes: usize,
    /// Deepest nesting of YAML collections (default 64).
    pub max_depth: usize,
    /// Most nodes that aliases may add to one document (default 100 000). A scalar or key
    /// counts one node per 64 bytes of its text on top of its own, so that aliases of one
    /// long scalar are bounded by what they copy; anchors nested in anchors, which copy
    /// their subtrees again, may copy this many nodes beyond the document's own.
    pub max_alias_nodes: usize,
    /// Most files read from directories (default 10 000; the bound of `mesh-load`, which
    /// reads them).
    pub max_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 16 << 20,
            max_depth: 64,
            max_alias_nodes: 100_000,
            max_files: 10_000,
        }
    }
}

/// A position in the input: file, document, line and column.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// The file, if any.
    pub file: Option<Arc<PathBuf>>,
    /// Index of the YAML document (0-based).
    pub document: usize,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(p) => write!(f, "{}", p.display())?,
            None => f.write_str("<input>")?,
        }
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if self.column > 0 {
                write!(f, ":{}", self.column)?;
            }
        } else {
            write!(f, " (document {})", self.document)?;
        }
        Ok(())
    }
}

impl Position {
    /// The origin (file, document, line) of this position.
    pub fn origin(&self) -> Origin {
        Origin {
            file: self.file.clone(),
            document: self.document,
            line: self.line,
            positions: None,
        }
    }
}

/// Why some input could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or directory could not be read (built by `mesh-load`, which reads them).
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid YAML or JSON.
    #[error("{position}: {message}")]
    Syntax {
        /// Where.
        position: Position,
        /// The parser's message.
        message: String,
    },
    /// A limit of [`Limits`] was exceeded.
    #[error("{position}: {message}")]
    Limit {
        /// Where.
        position: Position,
        /// Which limit.
        message: String,
    },
    /// The same resource (kind, namespace and name) is given twice: as two `kubectl apply`s
    /// of it, one would silently replace the other. The second one is not loaded.
    #[error("{second}: {key}: {}", duplicate_message(first))]
    Duplicate {
        /// The resource.
        key: ResourceKey,
        /// Where it is first.
        first: Position,
        /// Where it is again.
        second: Position,
    },
    /// A document does not fit the schema of its kind: an unknown field, a wrong type, an
    /// unknown `apiVersion`.
    #[error("{position}: {}: {}{message}", describe(kind, namespace, name), if path.is_empty() { String::new() } else { format!("{path}: ") })]
    Schema {
        /// Where.
        position: Position,
        /// The object's kind, empty when the document has none.
        kind: String,
        /// The object's namespace (the default namespace when it has none).
        namespace: String,
        /// The object's name, empty when it has none.
        name: String,
        /// The field path, e.g. `spec.http[0].route[0].destination.name`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn duplicate_message(first: &Position) -> String {
    format!("given twice, first at {first} (kubectl apply would keep only the last)")
}

fn describe(kind: &str, namespace: &str, name: &str) -> String {
    match (kind.is_empty(), name.is_empty()) {
        (true, _) => "document".to_owned(),
        (false, true) => format!("{kind} {namespace}/<no name>"),
        (false, false) => format!("{kind} {namespace}/{name}"),
    }
}

impl LoadError {
    /// The position, when the error has one.
    pub fn position(&self) -> Option<&Position> {
        match self {
            LoadError::Io { .. } => None,
            LoadError::Syntax { position, .. }
            | LoadError::Limit { position, .. }
            | LoadError::Schema { position, .. } => Some(position),
            LoadError::Duplicate { second, .. } => Some(second),
        }
    }

    /// What is wrong, without the position and the resource's name.
    pub fn message(&self) -> String {
        match self {
            LoadError::Io { source, .. } => source.to_string(),
            LoadError::Syntax { message, .. }
            | LoadError::Limit { message, .. }
            | LoadError::Schema { message, .. } => message.clone(),
            LoadError::Duplicate { first, .. } => duplicate_message(first),
        }
    }
}

/// A document that was read but is not one of the four Istio kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Where it is.
    pub origin: Origin,
    /// Its `apiVersion`.
    pub api_version: String,
    /// Its `kind`.
    pub kind: String,
    /// Its namespace (the default namespace when it has none).
    pub namespace: String,
    /// Its `metadata.name`.
    pub name: String,
}

/// A document that is not a Kubernetes object but that the loader was told to expect (see
/// [`Loader::with_foreign_documents`]): plain data, with the position of every node.
#[derive(Clone, Debug)]
pub struct ForeignDocument {
    /// The document as JSON (`key: null` entries are kept).
    pub value: serde_json::Value,
    /// Where it is; [`Origin::at_path`] gives the line of a field (`cases[2].expect`).
    pub origin: Origin,
}

/// What the loader does with a resource (kind, namespace, name) given more than once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Duplicates {
    /// Each later one is a [`LoadError::Duplicate`]; the first is kept (the default: two
    /// `kubectl apply`s of different content would silently replace one another).
    #[default]
    Refuse,
    /// The last one is kept, as `kubectl apply` of the files in order would leave it; each
    /// one it replaces is listed in [`Loaded::replaced`]. For files of alternatives, such as
    /// Istio's own test files that repeat a name in every document.
    LastWins,
}

/// A resource that a later one of the same kind, namespace and name replaced
/// ([`Duplicates::LastWins`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replaced {
    /// The resource.
    pub key: ResourceKey,
    /// Where the replaced one is.
    pub at: Position,
    /// Where the one that replaced it is (the next of the same name).
    pub by: Position,
}

/// The result of loading: the resources read, the documents skipped, and every error.
/// Documents that fail do not stop the others from loading.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The Istio resources read.
    pub resources: Resources,
    /// Other Kubernetes objects, skipped.
    pub skipped: Vec<Skipped>,
    /// Documents that are not configuration (see [`Loader::with_foreign_documents`]).
    pub foreign: Vec<ForeignDocument>,
    /// Everything that could not be read.
    pub errors: Vec<LoadError>,
    /// Resources replaced by a later one of the same name ([`Duplicates::LastWins`] only).
    pub replaced: Vec<Replaced>,
}

impl Loaded {
    /// The resources, or the errors if there were any.
    pub fn into_result(self) -> Result<Resources, Vec<LoadError>> {
        if self.errors.is_empty() {
            Ok(self.resources)
        } else {
            Err(self.errors)
        }
    }

    /// Applies `mode` to resources given more than once (the same kind, namespace and
    /// name): under [`Duplicates::Refuse`] each later one becomes a [`LoadError::Duplicate`]
    /// naming both places, under [`Duplicates::LastWins`] the last one stays and each one it
    /// replaced is listed in [`Loaded::replaced`]. The loader applies it to what one call
    /// reads; a caller that merges several loads applies it again to the whole.
    pub fn check_duplicates(&mut self, mode: Duplicates) {
        check_duplicates(self, mode);
    }

    /// Appends everything `other` read (resources, skipped and foreign documents, errors,
    /// replaced resources) after what this one holds, in order. Duplicates across the two are
    /// not checked: apply [`Loaded::check_duplicates`] to the whole afterwards.
    pub fn merge(&mut self, other: Loaded) {
        self.resources.extend(other.resources);
        self.skipped.extend(other.skipped);
        self.foreign.extend(other.foreign);
        self.errors.extend(other.errors);
        self.replaced.extend(other.replaced);
    }
}

/// Reads Istio resources. Cheap to build; holds only settings.
#[derive(Clone, Debug)]
pub struct Loader {
    limits: Limits,
    default_namespace: String,
    foreign: Option<fn(&[&str]) -> bool>,
    duplicates: Duplicates,
}

impl Default for Loader {
    fn default() -> Self {
        Loader::new()
    }
}

/// Loads `text` with the default [`Loader`], failing on the first error.
pub fn load_str(text: &str) -> Result<Resources, LoadError> {
    Loader::new()
        .load_str(text, None)
        .into_result()
        .map_err(|mut e| e.remove(0))
}

impl Loader {
    /// A loader with default [`Limits`] and namespace `default`.
    pub fn new() -> Self {
        Loader {
            limits: Limits::default(),
            default_namespace: "default".to_owned(),
            foreign: None,
            duplicates: Duplicates::default(),
        }
    }

    /// Uses these limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Resources without `metadata.namespace` are put in `ns` (as `kubectl apply -n ns`).
    pub fn with_default_namespace(mut self, ns: impl Into<String>) -> Self {
        self.default_namespace = ns.into();
        self
    }

    /// Documents without `kind` and `apiVersion` whose top-level keys make `is_foreign`
    /// true are not configuration (routing tests kept beside it, say): they are returned in
    /// [`Loaded::foreign`] instead of being errors. Other documents without a `kind` stay
    /// errors.
    pub fn with_foreign_documents(mut self, is_foreign: fn(&[&str]) -> bool) -> Self {
        self.foreign = Some(is_foreign);
        self
    }

    /// What to do with a resource given more than once (default [`Duplicates::Refuse`]).
    pub fn with_duplicates(mut self, duplicates: Duplicates) -> Self {
        self.duplicates = duplicates;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The rule for a resource given more than once.
    pub fn duplicates(&self) -> Duplicates {
        self.duplicates
    }

    /// Loads bytes, which must be UTF-8.
    pub fn load_bytes(&self, bytes: &[u8], file: Option<Arc<PathBuf>>) -> Loaded {
        let mut out = self.parse_bytes(bytes, file);
        out.check_duplicates(self.duplicates);
        out
    }

    /// Parses bytes as [`Loader::load_bytes`] does, but without applying the rule for
    /// resources given more than once: for a caller that parses several inputs (the files of
    /// a folder), [`Loaded::merge`]s them, and then applies [`Loaded::check_duplicates`] to
    /// the whole, so that a resource in two files is found as one in two documents is.
    pub fn parse_bytes(&self, bytes: &[u8], file: Option<Arc<PathBuf>>) -> Loaded {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.load_text(text, file),
            Err(e) => {
                let line = 1 + bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count();
                let mut out = Loaded::default();
                out.errors.push(LoadError::Syntax {
                    position: Position {
                        file,
                        document: 0,
                        line,
                        column: 0,
                    },
                    message: format!(
                        "input is not UTF-8 (invalid byte at offset {})",
                        e.valid_up_to()
                    ),
                });
                out
            }
        }
    }

    /// Loads YAML or JSON text; `file` names it in errors.
    pub fn load_str(&self, text: &str, file: Option<&Path>) -> Loaded {
        let mut out = self.load_text(text, file.map(|f| Arc::new(f.to_path_buf())));
        out.check_duplicates(self.duplicates);
        out
    }

    fn load_text(&self, text: &str, file: Option<Arc<PathBuf>>) -> Loaded {
        let mut out = Loaded::default();
        let at = |document, line, column| Position {
            file: file.clone(),
            document,
            line,
            column,
        };
        if text.len() > self.limits.max_input_bytes {
            out.errors.push(LoadError::Limit {
                position: at(0, 0, 0),
                message: format!(
                    "input is {} bytes, more than the limit of {} bytes",
                    text.len(),
                    self.limits.max_input_bytes
                ),
            });
            return out;
        }
        // A byte order mark starts the stream (as `kubectl` accepts it); it is not text.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // Nor at the start of a later document: kubectl splits a stream at `---` lines and
        // go-yaml skips a byte order mark at the start of each piece (`cat a.yaml b.yaml`).
        let unmarked;
        let text = if text.contains('\u{feff}') {
            unmarked = strip_document_boms(text);
            unmarked.as_str()
        } else {
            text
        };
        // YAML admits printable characters only. The parser would take a NUL for the end of
        // the input and silently drop what follows it, so control characters are refused
        // here, as Kubernetes' YAML reader refuses them.
        if let Some((offset, c)) = text.char_indices().find(|(_, c)| !is_yaml_printable(*c)) {
            let before = &text[..offset];
            let line = 1 + before.matches('\n').count();
            let column = 1 + before[before.rfind('\n').map_or(0, |i| i + 1)..]
                .chars()
                .count();
            out.errors.push(LoadError::Syntax {
                position: at(0, line, column),
                message: format!(
                    "control characters are not allowed (U+{:04X}); YAML admits tab, line feed and carriage return only",
                    u32::from(c)
                ),
            });
            return out;
        }
        let limits = ParseLimits {
            max_depth: self.limits.max_depth,
            max_alias_nodes: self.limits.max_alias_nodes,
        };
        let mut index = 0;
        let err = yaml::parse_each(text, limits, &mut |doc| {
            self.load_document(doc.root(), &mut out, &|line, column| {
                at(index, line, column)
            });
            index += 1;
        });
        if let Some(e) = err {
            let position = at(e.document, e.line, e.column);
            out.errors.push(if e.limit {
                LoadError::Limit {
                    position,
                    message: e.message,
                }
            } else {
                LoadError::Syntax {
                    position,
                    message: e.message,
                }
            });
        }
        out
    }

    fn load_document(
        &self,
        root: NodeRef<'_>,
        out: &mut Loaded,
        at: &dyn Fn(usize, usize) -> Position,
    ) {
        match root.value() {
            NodeValue::Null => return,
            NodeValue::Map(_) => {}
            _ => {
                out.errors.push(LoadError::Schema {
                    position: at(root.line() as usize, root.column() as usize),
                    kind: String::new(),
                    namespace: self.default_namespace.clone(),
                    name: String::new(),
                    path: String::new(),
                    message: "a Kubernetes object must be a mapping".into(),
                });
                return;
            }
        }
        if let (Some(is_foreign), NodeValue::Map(entries)) = (self.foreign, root.value())
            && root.get("kind").is_none()
            && root.get("apiVersion").is_none()
        {
            let keys: Vec<&str> = entries.iter().map(|(k, _)| k.name).collect();
            if is_foreign(&keys) {
                match root.to_json(&mut Vec::new(), false) {
                    Ok(value) => {
                        out.foreign.push(ForeignDocument {
                            value,
                            origin: Origin {
                                positions: Some(Arc::new(yaml::index_lines(root))),
                                ..at(root.line() as usize, root.column() as usize).origin()
                            },
                        });
                    }
                    Err(path) => {
                        let (line, column) = root.locate(&path);
                        out.errors.push(LoadError::Schema {
                            position: at(line, column),
                            kind: String::new(),
                            namespace: self.default_namespace.clone(),
                            name: String::new(),
                            path: yaml::format_path(&path),
                            message: "numbers must be finite (.inf and .nan have no JSON form)"
                                .into(),
                        });
                    }
                }
                return;
            }
        }
        let kind = root.get_str("kind").unwrap_or_default();
        if kind.ends_with("List")
            && let Some(items) = root.get("items")
        {
            match items.value() {
                NodeValue::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let prefix = vec![Segment::Key("items".into()), Segment::Index(i)];
                        self.load_object(item, &prefix, out, at);
                    }
                }
                NodeValue::Null => {}
                _ => out.errors.push(LoadError::Schema {
                    position: at(items.line() as usize, items.column() as usize),
                    kind: kind.to_owned(),
                    namespace: self.default_namespace.clone(),
                    name: String::new(),
                    path: "items".into(),
                    message: "items must be a list".into(),
                }),
            }
            return;
        }
        self.load_object(root, &[], out, at);
    }

    fn load_object(
        &self,
        node: NodeRef<'_>,
        prefix: &[Segment],
        out: &mut Loaded,
        at: &dyn Fn(usize, usize) -> Position,
    ) {
        let api_version = node.get_str("apiVersion").unwrap_or_default();
        let kind_name = node.get_str("kind").unwrap_or_default();
        let meta_name = node
            .get("metadata")
            .and_then(|m| m.get_str("name"))
            .unwrap_or_default();
        let meta_ns = node
            .get("metadata")
            .and_then(|m| m.get_str("namespace"))
            .filter(|ns| !ns.is_empty())
            .unwrap_or(&self.default_namespace);
        let here = at(node.line() as usize, node.column() as usize);
        let label = |kind: &str| kind.to_owned();
        let schema = |path: &[Segment], message: String, kind: String| {
            let mut full = prefix.to_vec();
            full.extend_from_slice(path);
            let (line, column) = node.locate(path);
            LoadError::Schema {
                position: at(line, column),
                kind,
                namespace: meta_ns.to_owned(),
                name: meta_name.to_owned(),
                path: yaml::format_path(&full),
                message,
            }
        };
        if kind_name.is_empty() || api_version.is_empty() {
            let missing = if kind_name.is_empty() {
                "kind"
            } else {
                "apiVersion"
            };
            out.errors.push(schema(
                &[],
                format!(
                    "Object '{}' is missing",
                    if missing == "kind" {
                        "Kind"
                    } else {
                        "apiVersion"
                    }
                ),
                label(kind_name),
            ));
            return;
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        if group == crate::gateway_api::GROUP
            && let Some(kind) = Kind::from_gateway_api_name(kind_name)
        {
            let served: &[&str] = if kind == Kind::GrpcRoute {
                &["v1"]
            } else {
                &["v1", "v1beta1"]
            };
            let version = match version {
                "v1" if served.contains(&"v1") => ApiVersion::GatewayV1,
                "v1beta1" if served.contains(&"v1beta1") => ApiVersion::GatewayV1Beta1,
                _ => {
                    out.errors.push(schema(
                        &[Segment::Key("apiVersion".into())],
                        format!(
                            "no matches for kind \"{kind_name}\" in version \"{api_version}\" (the Gateway API CRDs serve {kind_name} as {})",
                            served
                                .iter()
                                .map(|v| format!("{}/{v}", crate::gateway_api::GROUP))
                                .collect::<Vec<_>>()
                                .join(" and ")
                        ),
                        label(kind_name),
                    ));
                    return;
                }
            };
            let origin = Origin {
                positions: Some(Arc::new(yaml::index_lines(node))),
                ..here.origin()
            };
            let ns = &self.default_namespace;
            let result = match kind {
                Kind::KubernetesGateway => {
                    decode(node, version, origin, ns).map(AnyResource::KubernetesGateway)
                }
                Kind::GatewayClass => decode(node, version, origin, ns).map(|mut r| {
                    // Cluster-scoped: a namespace written in metadata is ignored, as the
                    // API server ignores it.
                    r.metadata.namespace.clear();
                    AnyResource::GatewayClass(r)
                }),
                Kind::HttpRoute => decode(node, version, origin, ns).map(AnyResource::HttpRoute),
                Kind::GrpcRoute => decode(node, version, origin, ns).map(AnyResource::GrpcRoute),
                _ => decode(node, version, origin, ns).map(AnyResource::ReferenceGrant),
            };
            match result {
                Ok(r) => out.resources.push(r),
                Err((path, message)) => out.errors.push(schema(&path, message, label(kind_name))),
            }
            return;
        }
        let kind = Kind::from_name(kind_name);
        let istio_group = group == GROUP;
        let Some(kind) = kind.filter(|_| istio_group) else {
            // An Istio kind name under a group that looks like Istio's is a typo, not a
            // foreign object: report it rather than skip it silently.
            if kind.is_some_and(|k| k != Kind::Gateway) && group.contains("istio") {
                out.errors.push(schema(
                    &[Segment::Key("apiVersion".into())],
                    format!(
                        "no matches for kind \"{kind_name}\" in version \"{api_version}\" (Istio serves {kind_name} as {GROUP}/v1, v1beta1 and v1alpha3)"
                    ),
                    label(kind_name),
                ));
                return;
            }
            inventory(
                api_version,
                kind_name,
                meta_ns,
                meta_name,
                node,
                here.origin(),
                out,
            );
            out.skipped.push(Skipped {
                origin: here.origin(),
                api_version: api_version.to_owned(),
                kind: kind_name.to_owned(),
                namespace: meta_ns.to_owned(),
                name: meta_name.to_owned(),
            });
            return;
        };
        let Some(version) = ApiVersion::parse(api_version) else {
            out.errors.push(schema(
                &[Segment::Key("apiVersion".into())],
                format!(
                    "no matches for kind \"{kind_name}\" in version \"{api_version}\" (Istio serves {kind_name} as {GROUP}/v1, v1beta1 and v1alpha3)"
                ),
                label(kind_name),
            ));
            return;
        };
        let origin = Origin {
            positions: Some(Arc::new(yaml::index_lines(node))),
            ..here.origin()
        };
        let result = match kind {
            Kind::VirtualService => decode(node, version, origin, &self.default_namespace)
                .map(AnyResource::VirtualService),
            Kind::DestinationRule => decode(node, version, origin, &self.default_namespace)
                .map(AnyResource::DestinationRule),
            Kind::Gateway => {
                decode(node, version, origin, &self.default_namespace).map(AnyResource::Gateway)
            }
            Kind::ServiceEntry => decode(node, version, origin, &self.default_namespace)
                .map(AnyResource::ServiceEntry),
            // Gateway API kinds are read above, by their group.
            _ => return,
        };
        match result {
            Ok(r) => out.resources.push(r),
            Err((path, message)) => out.errors.push(schema(&path, message, label(kind_name))),
        }
    }
}

/// `text` without the byte order marks that start a document after a `---` separator line
/// (a line that is `---` followed by nothing but blanks or a comment, as Kubernetes'
/// `YAMLReader` splits documents). Marks anywhere else are kept: inside a value a mark is a
/// character.
fn strip_document_boms(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_separator = false;
    for line in text.split_inclusive('\n') {
        let line = match line.strip_prefix('\u{feff}') {
            Some(rest) if after_separator => rest,
            _ => line,
        };
        after_separator = line.strip_prefix("---").is_some_and(|rest| {
            let rest = rest.trim();
            rest.is_empty() || rest.starts_with('#')
        });
        out.push_str(line);
    }
    out
}

/// Keeps one of each resource given more than once, as `mode` says, and reports the others.
fn check_duplicates(out: &mut Loaded, mode: Duplicates) {
    fn check<S: Spec>(list: &mut Vec<Resource<S>>, mode: Duplicates, out: &mut Vec<Replaced>) {
        let mut kept: std::collections::HashMap<(&str, &str), usize> =
            std::collections::HashMap::new();
        let mut drop = vec![false; list.len()];
        for (i, r) in list.iter().enumerate() {
            let at = (r.metadata.namespace.as_str(), r.metadata.name.as_str());
            let Some(k) = kept.get(&at).copied() else {
                kept.insert(at, i);
                continue;
            };
            // (first, again): under `Refuse` the later one goes, under `LastWins` the earlier.
            let (gone, stays) = match mode {
                Duplicates::Refuse => (i, k),
                Duplicates::LastWins => {
                    kept.insert(at, i);
                    (k, i)
                }
            };
            drop[gone] = true;
            out.push(Replaced {
                key: list[gone].key(),
                at: position_of(&list[gone].origin),
                by: position_of(&list[stays].origin),
            });
        }
        let mut i = 0;
        list.retain(|_| {
            i += 1;
            !drop[i - 1]
        });
    }
    let mut found = Vec::new();
    let r = &mut out.resources;
    check(&mut r.virtual_services, mode, &mut found);
    check(&mut r.destination_rules, mode, &mut found);
    check(&mut r.gateways, mode, &mut found);
    check(&mut r.service_entries, mode, &mut found);
    let g = &mut r.gateway_api;
    check(&mut g.gateways, mode, &mut found);
    check(&mut g.gateway_classes, mode, &mut found);
    check(&mut g.http_routes, mode, &mut found);
    check(&mut g.grpc_routes, mode, &mut found);
    check(&mut g.reference_grants, mode, &mut found);
    match mode {
        // `at` is the later one here, `by` the first, which stays.
        Duplicates::Refuse => out
            .errors
            .extend(found.into_iter().map(|d| LoadError::Duplicate {
                key: d.key,
                first: d.by,
                second: d.at,
            })),
        Duplicates::LastWins => out.replaced.extend(found),
    }
}

fn position_of(origin: &Origin) -> Position {
    Position {
        file: origin.file.clone(),
        document: origin.document,
        line: origin.line,
        column: 0,
    }
}

/// YAML's printable characters (`c-printable`): tab, line feed, carriage return, the
/// printable ASCII and most of Unicode, but no other C0 or C1 control, DEL, U+FFFE or U+FFFF.
fn is_yaml_printable(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}'
        | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}')
}

/// Keeps what the analyzers need of a skipped Kubernetes object.
fn inventory(
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    node: NodeRef<'_>,
    origin: Origin,
    out: &mut Loaded,
) {
    use crate::kubernetes::{KubeService, KubeServicePort, Workload};
    let string_map = |n: Option<NodeRef<'_>>| -> std::collections::BTreeMap<String, String> {
        match n.map(|n| n.value()) {
            Some(NodeValue::Map(entries)) => entries
                .iter()
                .filter_map(|(k, v)| match v.value() {
                    NodeValue::Str(s) => Some((k.name.to_owned(), s.to_owned())),
                    NodeValue::Int(i) => Some((k.name.to_owned(), i.to_string())),
                    NodeValue::Bool(b) => Some((k.name.to_owned(), b.to_string())),
                    _ => None,
                })
                .collect(),
            _ => Default::default(),
        }
    };
    let spec = node.get("spec");
    let core = api_version == "v1";
    let apps = api_version.starts_with("apps/") || api_version.starts_with("batch/");
    match kind {
        "Service" if core => {
            let mut ports = Vec::new();
            if let Some(NodeValue::Seq(items)) =
                spec.and_then(|s| s.get("ports")).map(|p| p.value())
            {
                for item in items.iter() {
                    let port = match item.get("port").map(|p| p.value()) {
                        Some(NodeValue::Int(i)) => u32::try_from(i).unwrap_or(0),
                        _ => 0,
                    };
                    ports.push(KubeServicePort {
                        port,
                        name: item.get_str("name").unwrap_or_default().to_owned(),
                        protocol: item.get_str("protocol").unwrap_or("TCP").to_owned(),
                        app_protocol: item.get_str("appProtocol").map(str::to_owned),
                    });
                }
            }
            out.resources.kubernetes.services.push(KubeService {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                ports,
                selector: string_map(spec.and_then(|s| s.get("selector"))),
                origin,
            });
            return;
        }
        "Namespace" if core => {
            let mut labels = string_map(node.get("metadata").and_then(|m| m.get("labels")));
            labels.insert(
                crate::kubernetes::METADATA_NAME_LABEL.to_owned(),
                name.to_owned(),
            );
            out.resources
                .kubernetes
                .namespaces
                .push(crate::kubernetes::KubeNamespace {
                    name: name.to_owned(),
                    labels,
                    origin,
                });
            return;
        }
        "Pod" if core => {}
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" if apps => {}
        _ => return,
    }
    let labels = if kind == "Pod" {
        node.get("metadata").and_then(|m| m.get("labels"))
    } else {
        spec.and_then(|s| s.get("template"))
            .and_then(|t| t.get("metadata"))
            .and_then(|m| m.get("labels"))
    };
    out.resources.kubernetes.workloads.push(Workload {
        kind: kind.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        pod_labels: string_map(labels),
        origin,
    });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Wire<S> {
    #[allow(dead_code)]
    api_version: IgnoredAny,
    #[allow(dead_code)]
    kind: IgnoredAny,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default = "Option::default")]
    spec: Option<S>,
    #[allow(dead_code)]
    #[serde(default)]
    status: Option<IgnoredAny>,
}

fn decode<S: DeserializeOwned + Default>(
    node: NodeRef<'_>,
    api_version: ApiVersion,
    origin: Origin,
    default_namespace: &str,
) -> Result<Resource<S>, (Vec<Segment>, String)> {
    let wire: Wire<S> = serde_path_to_error::deserialize(node).map_err(|e| {
        let path = crate::yaml::serde_segments(e.path());
        (path, e.into_inner().to_string())
    })?;
    let mut metadata = wire.metadata;
    if metadata.namespace.is_empty() {
        metadata.namespace = default_namespace.to_owned();
    }
    Ok(Resource {
        api_version,
        metadata,
        spec: wire.spec.unwrap_or_default(),
        origin,
    })
}

#[cfg(test)]
mod tests;
