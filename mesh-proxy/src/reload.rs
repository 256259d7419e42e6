//! Watching the configuration files and applying changes safely.
//!
//! A configuration that is being written is never applied:
//!
//! - **Debounce until stable**: after a change, the files are read again every
//!   [`ReloadPolicy::settle`] until what the loader would read is the same twice in a row;
//!   what is loaded must still be the same after loading, else the round starts again.
//! - **Suspicious changes wait**: a configuration that lost every resource of a kind it had
//!   (every VirtualService, say, or everything: a file truncated before it is written
//!   again) is refused unless it stays unchanged for [`ReloadPolicy::suspicious_hold`], or
//!   [`ReloadPolicy::allow_emptying`] is set. Each refusal is logged and counted in
//!   `mesh_proxy_config_reloads_total{result="suspicious"}`.
//! - Invalid configurations are refused as before (`result="rejected"`), and the last good
//!   one keeps serving.
//!
//! Writers should still write a new file and rename it into place (as editors and kubelet's
//! ConfigMap volumes do): a rename is atomic, a write in place is not, and a slow writer
//! that pauses longer than the settle time in the middle of a file can still be read half
//! way (a half-written YAML document usually fails to parse and is refused).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::proxy::{Check, Outcome, State, reload_with, stopped_signal};

/// How configuration changes are applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReloadPolicy {
    /// The files must read the same twice this far apart before they are loaded
    /// (default 300 ms).
    pub settle: Duration,
    /// A configuration that lost every resource of a kind is applied only after it has
    /// stayed unchanged this long (default 10 s).
    pub suspicious_hold: Duration,
    /// Apply such a configuration at once (default false).
    pub allow_emptying: bool,
}

impl Default for ReloadPolicy {
    fn default() -> Self {
        ReloadPolicy {
            settle: Duration::from_millis(300),
            suspicious_hold: Duration::from_secs(10),
            allow_emptying: false,
        }
    }
}

/// A hash of what the loader would read from `paths`: the contents of the files given, and
/// of the `.yaml`, `.yml` and `.json` files under the directories given (missing files hash
/// as missing).
pub(crate) fn fingerprint(paths: &[PathBuf]) -> u64 {
    fn visit(path: &Path, top: bool, depth: usize, h: &mut DefaultHasher) {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                if depth > 16 {
                    return;
                }
                let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                    .map(|rd| rd.flatten().map(|e| e.path()).collect())
                    .unwrap_or_default();
                entries.sort();
                for e in entries {
                    visit(&e, false, depth + 1, h);
                }
            }
            Ok(_) => {
                let wanted = top
                    || path
                        .extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
                if wanted {
                    path.hash(h);
                    std::fs::read(path).ok().hash(h);
                }
            }
            Err(e) => {
                path.hash(h);
                e.kind().hash(h);
            }
        }
    }
    let mut h = DefaultHasher::new();
    for p in paths {
        visit(p, true, 0, &mut h);
    }
    h.finish()
}

/// Watches the configuration and reloads it when what the loader reads has changed and is
/// stable. The parent directory of a file is watched (editors and ConfigMap updates replace
/// files), so events for other files there, such as a log written next to the
/// configuration, are common: they are ignored unless the configuration's contents changed.
pub(crate) fn spawn_reloader(
    state: Arc<State>,
    mut stopped: watch::Receiver<bool>,
    mut loaded: u64,
) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(e) = event {
            if !e.kind.is_access() {
                let _ = tx.send(());
            }
        }
    })
    .ok()?;
    for p in &state.settings.paths {
        let (target, mode) = if p.is_dir() {
            (p.clone(), RecursiveMode::Recursive)
        } else {
            // Watch the directory: editors replace files rather than write them in place.
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| ".".into(), |d| d.to_path_buf());
            (dir, RecursiveMode::NonRecursive)
        };
        if let Err(e) = watcher.watch(&target, mode) {
            tracing::warn!(path = %target.display(), error = %e, "cannot watch for changes");
        }
    }
    let policy = state.settings.reload.clone();
    tokio::spawn(async move {
        // A suspicious configuration waiting to be applied: its fingerprint and deadline.
        let mut held: Option<(u64, tokio::time::Instant)> = None;
        loop {
            let hold_until = held.map(|(_, t)| t);
            let hold = async move {
                match hold_until {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            let allow_suspicious = tokio::select! {
                got = rx.recv() => {
                    if got.is_none() { break; }
                    false
                }
                () = hold => true,
                _ = stopped_signal(&mut stopped) => break,
            };
            let Some(stable) = settle(&state.settings.paths, policy.settle, &mut rx).await else {
                break;
            };
            if stable == loaded {
                held = None;
                continue;
            }
            let check = match held {
                Some((fp, _)) if allow_suspicious && fp == stable => Check::AllowSuspicious,
                _ if policy.allow_emptying => Check::AllowSuspicious,
                _ => Check::Strict,
            };
            match reload_with(&state, check, Some(stable)) {
                Outcome::Applied(_) | Outcome::Rejected(_) => {
                    loaded = stable;
                    held = None;
                }
                Outcome::Suspicious(_) => {
                    if held.is_none_or(|(fp, _)| fp != stable) {
                        held = Some((stable, tokio::time::Instant::now() + policy.suspicious_hold));
                    }
                }
                // Changed while loading: the watcher has seen it; settle again.
                Outcome::Changed => {}
            }
        }
    });
    Some(watcher)
}

/// Reads the fingerprint every `settle` until it is the same twice in a row; `None` when
/// the watcher is gone.
async fn settle(
    paths: &[PathBuf],
    settle: Duration,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<()>,
) -> Option<u64> {
    let mut last = fingerprint(paths);
    loop {
        tokio::time::sleep(settle).await;
        loop {
            match rx.try_recv() {
                Ok(()) => {}
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => return None,
            }
        }
        let now = fingerprint(paths);
        if now == last {
            return Some(now);
        }
        last = now;
    }
}
