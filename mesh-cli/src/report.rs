//! One finding per line, as every `meshctl` command prints them:
//! `SEVERITY  Kind ns/name  field.path: message  (file:line)`, or as JSON.

use std::fmt;

use mesh_model::validate::{Finding, Severity};
use mesh_model::{LoadError, Replaced};
use mesh_route::Problem;
use serde::Serialize;

/// One finding: a load error, a validation finding, or a compile problem.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    pub(crate) severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) code: Option<&'static str>,
    pub(crate) kind: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) message: String,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<usize>,
    #[serde(skip)]
    pub(crate) document: usize,
    /// `file:line` as given, for compile problems whose origin is already formatted.
    #[serde(skip)]
    origin: Option<String>,
}

impl Row {
    /// The row of a load error; `None` for I/O errors, which mean the input could not be
    /// read at all.
    pub(crate) fn from_load_error(e: &LoadError) -> Option<Row> {
        let (position, kind, namespace, name, path, message) = match e {
            LoadError::Io { .. } => return None,
            LoadError::Syntax { position, message } | LoadError::Limit { position, message } => {
                (position, "", "", "", "", message)
            }
            LoadError::Schema {
                position,
                kind,
                namespace,
                name,
                path,
                message,
            } => (
                position,
                kind.as_str(),
                namespace.as_str(),
                name.as_str(),
                path.as_str(),
                message,
            ),
            LoadError::Duplicate { key, second, .. } => {
                return Some(Row {
                    severity: Severity::Error,
                    code: None,
                    kind: key.kind.to_string(),
                    namespace: key.namespace.clone(),
                    name: key.name.clone(),
                    path: "metadata.name".into(),
                    message: e.message(),
                    file: second.file.as_ref().map(|f| f.display().to_string()),
                    line: (second.line > 0).then_some(second.line),
                    document: second.document,
                    origin: None,
                });
            }
        };
        Some(Row {
            severity: Severity::Error,
            code: None,
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            path: path.to_owned(),
            message: message.clone(),
            file: position.file.as_ref().map(|f| f.display().to_string()),
            line: (position.line > 0).then_some(position.line),
            document: position.document,
            origin: None,
        })
    }

    /// The warning row of a resource replaced by a later one of the same name
    /// (`--allow-duplicates last-wins`).
    pub(crate) fn from_replaced(r: &Replaced) -> Row {
        Row {
            severity: Severity::Warning,
            code: None,
            kind: r.key.kind.to_string(),
            namespace: r.key.namespace.clone(),
            name: r.key.name.clone(),
            path: "metadata.name".into(),
            message: format!(
                "replaced by the one at {} (--allow-duplicates last-wins, as kubectl apply would)",
                r.by
            ),
            file: r.at.file.as_ref().map(|f| f.display().to_string()),
            line: (r.at.line > 0).then_some(r.at.line),
            document: r.at.document,
            origin: None,
        }
    }

    /// The row of a validation or analyzer finding.
    pub(crate) fn from_finding(f: Finding) -> Row {
        Row {
            severity: f.severity,
            code: f.code,
            kind: f.resource.kind.to_string(),
            namespace: f.resource.namespace,
            name: f.resource.name,
            path: f.path,
            message: f.message,
            file: f.origin.file.as_ref().map(|p| p.display().to_string()),
            line: (f.origin.line > 0).then_some(f.origin.line),
            document: f.origin.document,
            origin: None,
        }
    }

    /// The row of a compile error or warning.
    pub(crate) fn from_problem(severity: Severity, p: &Problem) -> Row {
        Row {
            severity,
            code: None,
            kind: p.resource.kind.to_string(),
            namespace: p.resource.namespace.clone(),
            name: p.resource.name.clone(),
            path: p.path.clone(),
            message: p.message(),
            file: None,
            line: None,
            document: 0,
            origin: (!p.origin.is_empty()).then(|| p.origin.clone()),
        }
    }
}

/// Sorts rows by file, document and line.
pub(crate) fn sort(rows: &mut [Row]) {
    rows.sort_by(|a, b| (&a.file, a.document, a.line).cmp(&(&b.file, b.document, b.line)));
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let resource = if self.kind.is_empty() {
            "-".to_owned()
        } else if self.name.is_empty() {
            format!("{} {}/<no name>", self.kind, self.namespace)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        };
        let path = if self.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.path)
        };
        let code = self.code.map(|c| format!("[{c}] ")).unwrap_or_default();
        let location = match (&self.origin, &self.file, self.line) {
            (Some(o), _, _) => o.clone(),
            (None, Some(file), Some(l)) => format!("{file}:{l}"),
            (None, Some(file), None) => file.clone(),
            (None, None, Some(l)) => format!("<input>:{l}"),
            (None, None, None) => "<input>".to_owned(),
        };
        write!(
            f,
            "{:<7}  {resource}  {path}{code}{}  ({location})",
            self.severity.to_string(),
            self.message
        )
    }
}
