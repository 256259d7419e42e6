//! Reading Istio resources from the file system: files, folders and ConfigMap volumes, into
//! [`mesh_model::Loader`]. mesh-model parses text and bytes and does no I/O (DESIGN.md: the
//! pure crates do not know the file system); this crate finds and reads the files and hands
//! their bytes to it, with the file's path for positions and errors.
//!
//! ```no_run
//! use mesh_load::LoadFiles as _;
//!
//! let loaded = mesh_model::Loader::new().load_paths(&["istio/"]);
//! for e in &loaded.errors {
//!     eprintln!("{e}"); // file:line:col, resource, field path
//! }
//! ```
//!
//! Directories are read as a ConfigMap volume is laid out by the kubelet: the entries whose
//! names start with `..` (the `..data` symlink, the `..2024_01_31_12_00_00.123` folders it
//! points to, `..data_tmp` during an update) are the kubelet's, and each key is read once,
//! through its own symlink (`key.yaml -> ..data/key.yaml`). The same resource (kind,
//! namespace and name) in two files is found as in two documents of one file
//! ([`mesh_model::Duplicates`]).

// `LoadError` carries the position and the names of the resource; it is only built on the
// error path of loading, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mesh_model::{LoadError, Loaded, Loader, Position};

/// Reading files and directories with a [`Loader`]'s settings (limits, default namespace,
/// foreign documents, the rule for duplicates). Implemented for [`Loader`]; bring it into
/// scope (`use mesh_load::LoadFiles as _;`) to call these as the loader's methods.
pub trait LoadFiles {
    /// Loads files and directories (recursively: `*.yaml`, `*.yml`, `*.json`, sorted by name,
    /// skipping the kubelet's `..` entries; see [`LoadFiles::files`]).
    fn load_paths<P: AsRef<Path>>(&self, paths: &[P]) -> Loaded;

    /// The files that [`LoadFiles::load_paths`] reads, in the order it reads them: each path
    /// given, and under each directory the `*.yaml`, `*.yml` and `*.json` files, sorted by
    /// name, in subdirectories too, but not the entries whose names start with `..` (a
    /// ConfigMap volume's `..data` and `..<timestamp>`: the kubelet's, whose keys are the
    /// symlinks beside them). A file reached twice (the same path after symlinks) is read
    /// once. Paths that cannot be read, and more than [`mesh_model::Limits::max_files`], are
    /// errors.
    fn files<P: AsRef<Path>>(&self, paths: &[P]) -> (Vec<PathBuf>, Vec<LoadError>);

    /// Loads one file.
    fn load_file(&self, path: &Path) -> Loaded;
}

impl LoadFiles for Loader {
    fn load_paths<P: AsRef<Path>>(&self, paths: &[P]) -> Loaded {
        let mut out = Loaded::default();
        let (files, errors) = self.files(paths);
        out.errors = errors;
        for f in files {
            out.merge(read_file(self, &f));
        }
        out.check_duplicates(self.duplicates());
        out
    }

    fn files<P: AsRef<Path>>(&self, paths: &[P]) -> (Vec<PathBuf>, Vec<LoadError>) {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        for p in paths {
            let p = p.as_ref();
            match std::fs::metadata(p) {
                Ok(m) if m.is_dir() => {
                    if let Err(e) = collect_dir(self, p, &mut files, 0) {
                        errors.push(e);
                    }
                }
                Ok(_) => files.push(p.to_path_buf()),
                Err(source) => errors.push(LoadError::Io {
                    path: p.to_path_buf(),
                    source,
                }),
            }
        }
        let mut seen = std::collections::HashSet::new();
        files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
        (files, errors)
    }

    fn load_file(&self, path: &Path) -> Loaded {
        let mut out = read_file(self, path);
        out.check_duplicates(self.duplicates());
        out
    }
}

fn collect_dir(
    loader: &Loader,
    dir: &Path,
    files: &mut Vec<PathBuf>,
    depth: usize,
) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?
        .into_iter()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let kubelets = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(".."));
        if kubelets {
            continue;
        }
        if path.is_dir() {
            if depth < 16 {
                collect_dir(loader, &path, files, depth + 1)?;
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            let max_files = loader.limits().max_files;
            if files.len() >= max_files {
                return Err(LoadError::Limit {
                    position: Position::default(),
                    message: format!("more than {max_files} files to read"),
                });
            }
            files.push(path);
        }
    }
    Ok(())
}

/// Reads one file, refusing it from its size before reading it; duplicates are left to the
/// caller.
fn read_file(loader: &Loader, path: &Path) -> Loaded {
    let file = Arc::new(path.to_path_buf());
    let position = Position {
        file: Some(file.clone()),
        ..Position::default()
    };
    let mut out = Loaded::default();
    let max_input_bytes = loader.limits().max_input_bytes;
    match std::fs::metadata(path) {
        Ok(m) if m.len() > max_input_bytes as u64 => {
            out.errors.push(LoadError::Limit {
                position,
                message: format!(
                    "input is {} bytes, more than the limit of {} bytes",
                    m.len(),
                    max_input_bytes
                ),
            });
            return out;
        }
        Ok(_) => {}
        Err(source) => {
            out.errors.push(LoadError::Io {
                path: path.to_path_buf(),
                source,
            });
            return out;
        }
    }
    match std::fs::read(path) {
        Ok(bytes) => loader.parse_bytes(&bytes, Some(file)),
        Err(source) => {
            out.errors.push(LoadError::Io {
                path: path.to_path_buf(),
                source,
            });
            out
        }
    }
}

#[cfg(test)]
mod tests;
