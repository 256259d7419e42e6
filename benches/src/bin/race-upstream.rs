//! The upstream of the proxy race (`benches/race.sh`): a minimal HTTP/1.1 keep-alive
//! responder on many loopback ports at once, the same process for Envoy and for mesh-proxy.
//!
//! `race-upstream LISTEN_FILE [WORKERS]` reads one listener per line, `PORT` or
//! `PORT fail=N` (answer every N-th request of all `fail=` listeners together with 503: a
//! deterministic 1 % failure for `fail=100`), and `control PORT`. Everything listens on
//! 127.0.0.1. Every response says which listener served it (`x-upstream: PORT`), carries an
//! `x-upstream-noise: 1` header (for response header removal), and echoes each request
//! header named `x-bench-NAME` as `x-echo-NAME` (to see request header operations). The
//! control port answers `GET /counts` with the requests served per port as JSON, and
//! `GET /reset` sets them to zero. Requests may not carry a body larger than 1 MiB; a
//! request head is at most 64 KiB (past either, the connection is closed).
//!
//! One tokio task per listener and per connection, so ten thousand listeners and as many
//! connections cost a socket each, not a thread.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The longest request head read; a longer one closes the connection.
const MAX_HEAD: usize = 64 * 1024;
/// The largest request body discarded; a larger one closes the connection.
const MAX_BODY: usize = 1024 * 1024;

/// One listening port and what it answers.
#[derive(Debug)]
struct Listener {
    port: u16,
    /// Every N-th request of the failing listeners (together) gets 503; 0 never fails.
    fail_every: u64,
    served: AtomicU64,
}

/// State shared by every task.
#[derive(Debug)]
struct Shared {
    listeners: Vec<Arc<Listener>>,
    /// Requests seen by the failing listeners, together.
    failing_seen: AtomicU64,
}

fn parse_spec(text: &str) -> Result<(Vec<Listener>, Option<u16>), String> {
    let mut listeners = Vec::new();
    let mut control = None;
    for (n, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        if first == "control" {
            let p = words.next().and_then(|p| p.parse().ok());
            control = Some(p.ok_or(format!("line {}: control PORT", n + 1))?);
            continue;
        }
        let port: u16 = first
            .parse()
            .map_err(|_| format!("line {}: {first:?} is not a port", n + 1))?;
        let mut fail_every = 0;
        for w in words {
            match w.strip_prefix("fail=").map(str::parse::<u64>) {
                Some(Ok(v)) => fail_every = v,
                _ => return Err(format!("line {}: unknown option {w:?}", n + 1)),
            }
        }
        listeners.push(Listener {
            port,
            fail_every,
            served: AtomicU64::new(0),
        });
    }
    Ok((listeners, control))
}

/// Where the head ends (the index after the empty line), if it is complete.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// What the upstream needs from a request head.
#[derive(Debug, Default)]
struct Head {
    content_length: usize,
    close: bool,
    path: String,
    /// `x-bench-NAME: value` headers, as `(NAME, value)`.
    bench: Vec<(String, String)>,
}

fn parse_head(head: &[u8]) -> Head {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let mut out = Head::default();
    if let Some(request_line) = lines.next() {
        let mut parts = request_line.split(' ');
        let _method = parts.next();
        out.path = parts.next().unwrap_or("/").to_owned();
        out.close = parts.next() == Some("HTTP/1.0");
    }
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            out.content_length = value.parse().unwrap_or(0);
        } else if name.eq_ignore_ascii_case("connection") {
            out.close = value.eq_ignore_ascii_case("close");
        } else if name.len() > 8 && name[..8].eq_ignore_ascii_case("x-bench-") {
            out.bench
                .push((name[8..].to_ascii_lowercase(), value.to_owned()));
        }
    }
    out
}

fn response(status: &str, port: u16, bench: &[(String, String)], body: &str) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
         x-upstream: {port}\r\nx-upstream-noise: 1\r\n",
        body.len()
    );
    for (name, value) in bench {
        r.push_str(&format!("x-echo-{name}: {value}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r.into_bytes()
}

async fn serve(mut stream: TcpStream, listener: Arc<Listener>, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let ok = response("200 OK", listener.port, &[], "ok\n");
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        // Serve every complete request in the buffer (pipelining is allowed).
        while let Some(end) = head_end(&buf) {
            let head = parse_head(&buf[..end]);
            if head.content_length > MAX_BODY {
                return;
            }
            // The body, discarded.
            while buf.len() < end + head.content_length {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            buf.drain(..end + head.content_length);
            listener.served.fetch_add(1, Ordering::Relaxed);
            let fail = listener.fail_every > 0
                && (shared.failing_seen.fetch_add(1, Ordering::Relaxed) + 1)
                    .is_multiple_of(listener.fail_every);
            let written = if fail {
                stream
                    .write_all(&response(
                        "503 Service Unavailable",
                        listener.port,
                        &head.bench,
                        "fail\n",
                    ))
                    .await
            } else if head.bench.is_empty() {
                stream.write_all(&ok).await
            } else {
                stream
                    .write_all(&response("200 OK", listener.port, &head.bench, "ok\n"))
                    .await
            };
            if written.is_err() || head.close {
                return;
            }
        }
        if buf.len() > MAX_HEAD {
            return;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn control(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(end) = head_end(&buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = parse_head(&buf[..end]);
    let body = match head.path.as_str() {
        "/counts" => {
            let counts: BTreeMap<u16, u64> = shared
                .listeners
                .iter()
                .map(|l| (l.port, l.served.load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect();
            let items: Vec<String> = counts.iter().map(|(p, n)| format!("\"{p}\":{n}")).collect();
            format!("{{{}}}\n", items.join(","))
        }
        "/reset" => {
            for l in &shared.listeners {
                l.served.store(0, Ordering::Relaxed);
            }
            "{}\n".to_owned()
        }
        _ => {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            return;
        }
    };
    let r = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(r.as_bytes()).await;
}

async fn run(spec: String) -> Result<(), String> {
    let (listeners, control_port) = parse_spec(&spec)?;
    let shared = Arc::new(Shared {
        listeners: listeners.into_iter().map(Arc::new).collect(),
        failing_seen: AtomicU64::new(0),
    });
    // Bind everything first, so that a port in use fails the start, not a request.
    let mut bound = Vec::with_capacity(shared.listeners.len());
    for l in &shared.listeners {
        let socket = TcpListener::bind(("127.0.0.1", l.port))
            .await
            .map_err(|e| format!("127.0.0.1:{}: {e}", l.port))?;
        bound.push((socket, l.clone()));
    }
    let control_socket = match control_port {
        Some(p) => Some(
            TcpListener::bind(("127.0.0.1", p))
                .await
                .map_err(|e| format!("control 127.0.0.1:{p}: {e}"))?,
        ),
        None => None,
    };
    for (socket, listener) in bound {
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                if let Ok((stream, _)) = socket.accept().await {
                    tokio::spawn(serve(stream, listener.clone(), shared.clone()));
                }
            }
        });
    }
    eprintln!(
        "race-upstream: {} listeners on 127.0.0.1{}",
        shared.listeners.len(),
        control_port.map_or(String::new(), |p| format!(", control {p}"))
    );
    match control_socket {
        Some(socket) => loop {
            if let Ok((stream, _)) = socket.accept().await {
                tokio::spawn(control(stream, shared.clone()));
            }
        },
        None => std::future::pending::<Result<(), String>>().await,
    }
}

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(file) = args.next() else {
        eprintln!("usage: race-upstream LISTEN_FILE [WORKERS]");
        return std::process::ExitCode::from(2);
    };
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(2);
    let spec = match std::fs::read_to_string(&file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("race-upstream: {file}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .enable_io()
        .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(run(spec)),
        Err(e) => Err(format!("runtime: {e}")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("race-upstream: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
