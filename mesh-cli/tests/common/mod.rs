//! Helpers shared by the `meshctl` integration tests: configurations in temporary
//! directories, and running the real binary.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory under the system temp dir, unique to this process and call, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates an empty directory.
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("meshctl-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// Writes `name` in the directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).expect("write config");
        p
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A directory holding one file, `config.yaml`, with `text`; returns it and the file.
pub fn config(tag: &str, text: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(tag);
    let file = dir.write("config.yaml", text);
    (dir, file)
}

/// Runs `meshctl` with `args`.
pub fn meshctl<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(args)
        .output()
        .expect("run meshctl")
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The exit status (panics when killed by a signal).
pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exit status")
}

/// Runs `meshctl` with `args`, expects exit status 0, and parses standard output as JSON.
pub fn json<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> serde_json::Value {
    let o = meshctl(args);
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&o)))
}

/// A VirtualService for `reviews` with one rule per feature, and its DestinationRule.
pub const REVIEWS: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match:
    - headers: {end-user: {exact: jason}}
    route:
    - destination: {host: reviews, subset: v2}
    fault:
      delay: {fixedDelay: 7s, percentage: {value: 100}}
      abort: {httpStatus: 503, percentage: {value: 50}}
    retries: {attempts: 0}
  - name: admin
    match:
    - uri: {prefix: /admin}
    directResponse: {status: 403, body: {string: forbidden}}
  - name: old
    match:
    - uri: {exact: /old}
    redirect: {uri: /new, redirectCode: 302}
  - name: api
    match:
    - uri: {prefix: /api/}
    rewrite: {uri: /v1/}
    timeout: 0.5s
    retries: {attempts: 5, perTryTimeout: 2s, retryOn: "5xx,503"}
    mirror: {host: reviews, subset: v3}
    mirrorPercentage: {value: 25}
    headers:
      request: {set: {x-a: b}, remove: [x-debug]}
      response: {add: {x-r: "1"}}
    route:
    - destination: {host: reviews, subset: v1}
  - name: grpc
    match:
    - uri: {prefix: /grpc}
    fault:
      abort: {grpcStatus: UNAVAILABLE, percentage: {value: 10}}
    route:
    - destination: {host: reviews, subset: v1}
  - name: split
    route:
    - destination: {host: reviews, subset: v1}
      weight: 90
    - destination: {host: reviews, subset: v2}
      weight: 10
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
"#;
