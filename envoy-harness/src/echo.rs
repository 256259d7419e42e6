//! A recording echo upstream on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most requests an [`EchoUpstream`] records; later ones are answered, not recorded.
const RECORD_LIMIT: usize = 100_000;
/// The largest request head or body it reads; past it, the connection is closed.
const READ_LIMIT: usize = 1 << 20;

/// A request as the upstream received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The method token.
    pub method: String,
    /// The request target (path and query).
    pub target: String,
    /// Header names (lower-cased) and values, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body (Content-Length or chunked).
    pub body: Vec<u8>,
}

impl Received {
    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).into_iter().next()
    }

    /// The JSON the upstream answers with: `{"upstream", "method", "target", "headers": [[n, v]...]}`.
    pub fn to_json(&self, upstream: &str) -> serde_json::Value {
        serde_json::json!({
            "upstream": upstream,
            "method": self.method,
            "target": self.target,
            "headers": self.headers,
            "bodyLength": self.body.len(),
        })
    }
}

/// The request header that chooses the echo's status: `x-echo-status: 503` is answered 503
/// (any status from 200 to 599; otherwise 200), to exercise retries on status codes.
pub const STATUS_HEADER: &str = "x-echo-status";

/// An HTTP/1.1 keep-alive server on 127.0.0.1 answering every request with `200` (or the
/// status [`STATUS_HEADER`] asks for), `content-type: application/json`, `x-upstream: NAME`
/// and [`Received::to_json`], one thread per connection.
/// The listener thread lives as long as the process (tests are short-lived processes).
#[derive(Clone, Debug)]
pub struct EchoUpstream {
    name: String,
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl EchoUpstream {
    /// Starts an upstream named `name` on an ephemeral loopback port.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub fn start(name: &str) -> EchoUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let up = EchoUpstream {
            name: name.to_owned(),
            addr,
            seen: Arc::new(Mutex::new(Vec::new())),
        };
        let worker = up.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let w = worker.clone();
                std::thread::spawn(move || w.serve(stream));
            }
        });
        up
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its name, as it reports itself in every answer.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The requests received so far.
    pub fn received(&self) -> Vec<Received> {
        self.seen.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Forgets the requests received so far.
    pub fn clear(&self) {
        if let Ok(mut v) = self.seen.lock() {
            v.clear();
        }
    }

    fn serve(&self, stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        // The head and the body are two writes: without this, Nagle's algorithm holds the
        // body until the proxy's delayed ACK (about 40 ms a request).
        let _ = stream.set_nodelay(true);
        let Ok(mut writer) = stream.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        while let Some(req) = read_request(&mut reader) {
            let close = req
                .header("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("close"));
            let body = req.to_json(&self.name).to_string();
            let status = req
                .header(STATUS_HEADER)
                .and_then(|v| v.parse::<u16>().ok())
                .filter(|s| (200..=599).contains(s))
                .unwrap_or(200);
            if let Ok(mut seen) = self.seen.lock() {
                if seen.len() < RECORD_LIMIT {
                    seen.push(req);
                }
            }
            let head = format!(
                "HTTP/1.1 {status} Echo\r\ncontent-type: application/json\r\nx-upstream: {}\r\ncontent-length: {}\r\n\r\n",
                self.name,
                body.len()
            );
            if writer.write_all(head.as_bytes()).is_err()
                || writer.write_all(body.as_bytes()).is_err()
            {
                return;
            }
            if close {
                return;
            }
        }
    }
}

/// Reads one request; `None` at EOF, on a malformed request or past the limits.
pub(crate) fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Received> {
    let mut line = String::new();
    let mut head_bytes = 0usize;
    let mut next_line = |reader: &mut BufReader<TcpStream>, line: &mut String| -> Option<()> {
        line.clear();
        let n = reader
            .by_ref()
            .take(READ_LIMIT as u64)
            .read_line(line)
            .ok()?;
        head_bytes += n;
        (n > 0 && head_bytes <= READ_LIMIT).then_some(())
    };
    next_line(reader, &mut line)?;
    let mut parts = line.trim_end().splitn(3, ' ');
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        next_line(reader, &mut line)?;
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':')?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let mut req = Received {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            next_line(reader, &mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
            if req.body.len() + size > READ_LIMIT {
                return None;
            }
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    next_line(reader, &mut line)?;
                    if line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            req.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = req
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > READ_LIMIT {
            return None;
        }
        req.body = vec![0; len];
        reader.read_exact(&mut req.body).ok()?;
    }
    Some(req)
}
