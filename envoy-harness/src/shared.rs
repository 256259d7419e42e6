//! The team's shared folder beside the workspace (`../shared`: Istio's sample corpus, the
//! user scenarios), for tests that read it.

use std::path::PathBuf;

/// `../shared/<relative>` seen from the workspace root, when it exists.
///
/// Outside CI a missing folder skips the calling test with a message (a user's checkout has
/// no shared folder); with `CI` set it fails the test, because CI has the folder and a test
/// that silently skips there proves nothing.
///
/// # Panics
/// When the folder is missing and the environment variable `CI` is set.
pub fn shared_dir(relative: &str, test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared")
        .join(relative);
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{test}: {} is missing, and CI must have the shared folder",
            dir.display()
        );
    }
    eprintln!("{test}: SKIPPED: {} is absent", dir.display());
    None
}
