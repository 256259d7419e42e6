//! Raw HTTP/1.1 exchanges: bytes out, one answer back, with a deadline. For inputs a client
//! library would refuse to send.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::process::write_all;

/// How long [`send`] waits for the peer to answer and close.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// What came back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// The status code, when a status line was read.
    pub status: Option<u16>,
    /// Header names (lower-cased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body as framed by Content-Length or chunked encoding, else what followed the head.
    pub body: Vec<u8>,
    /// Every byte received.
    pub bytes: Vec<u8>,
    /// The first answer arrived whole, as its framing (Content-Length or chunked encoding)
    /// defines it. A response cut by the peer is not complete.
    pub complete: bool,
    /// The peer closed the connection (or reset it) before [`PATIENCE`] passed.
    pub closed: bool,
}

impl Reply {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` as is on a new connection, half-closes nothing, and reads until the first
/// answer is complete (by its Content-Length or chunked framing), the peer closes, or
/// [`PATIENCE`] passes; then parses that answer. An answer framed by the end of the
/// connection is read until the peer closes.
pub fn send(addr: SocketAddr, request: &[u8]) -> Reply {
    send_for(addr, request, PATIENCE)
}

/// As [`send`], but a client that gives up: it reads for `patience` at most, then closes
/// the connection (the peer sees the client go away before its answer is over).
pub fn send_giving_up(addr: SocketAddr, request: &[u8], patience: Duration) -> Reply {
    send_for(addr, request, patience.min(PATIENCE))
}

fn send_for(addr: SocketAddr, request: &[u8], patience: Duration) -> Reply {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, PATIENCE) else {
        return Reply::default();
    };
    write_all(&mut stream, request);
    let mut bytes = Vec::new();
    let deadline = Instant::now() + patience;
    let mut buf = [0u8; 8192];
    let mut closed = false;
    while !is_complete(&bytes) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                closed = true;
                break;
            }
            Err(_) => break,
        }
    }
    let mut reply = parse(bytes);
    reply.closed = closed;
    reply
}

/// Whether `bytes` hold a whole final answer: its head, and its body as Content-Length or
/// chunked encoding frames it (none for 1xx, 204 and 304; interim 1xx answers are skipped).
/// An answer without either framing ends with the connection, so it is never complete here.
pub fn is_complete(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    loop {
        let Some(end) = find(rest, b"\r\n\r\n") else {
            return false;
        };
        let head = String::from_utf8_lossy(&rest[..end]);
        let body = &rest[end + 4..];
        let status: u16 = head
            .split("\r\n")
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if (100..200).contains(&status) && status != 101 {
            rest = body;
            continue;
        }
        if status == 101 || status == 204 || status == 304 {
            return true;
        }
        let header = |name: &str| {
            head.split("\r\n").skip(1).find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
        };
        if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            return chunked_end(body).is_some();
        }
        return match header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            Some(len) => body.len() >= len,
            None => false,
        };
    }
}

/// Where a chunked body ends (after its last chunk and trailers), if it has.
fn chunked_end(mut rest: &[u8]) -> Option<usize> {
    let start = rest.len();
    loop {
        let eol = find(rest, b"\r\n")?;
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let eol = find(rest, b"\r\n")?;
                let line_empty = eol == 0;
                rest = &rest[eol + 2..];
                if line_empty {
                    return Some(start - rest.len());
                }
            }
        }
        rest = rest.get(size + 2..)?;
    }
}

/// Sends `request` on a new connection and reads until one whole answer has arrived
/// (framed by Content-Length or chunked encoding, or ended by the peer), or [`PATIENCE`]
/// passes; then closes. Unlike [`send`], it does not wait for the peer to close, which
/// Envoy delays by up to a second after a local reply (its `delayed_close_timeout`).
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Reply {
    use std::io::Read;
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, PATIENCE) else {
        return Reply::default();
    };
    write_all(&mut stream, request);
    let deadline = Instant::now() + PATIENCE;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if complete(&bytes) {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
        }
    }
    parse(bytes)
}

/// Whether `bytes` hold a whole answer: the head, and the body its framing announces (a
/// head without framing needs the peer to close).
fn complete(bytes: &[u8]) -> bool {
    let Some(end) = find(bytes, b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    let body = &bytes[end + 4..];
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(0);
    if status == 204 || status == 304 || (100..200).contains(&status) {
        return true;
    }
    for line in head.split("\r\n").skip(1) {
        let Some((n, v)) = line.split_once(':') else {
            continue;
        };
        match n.trim() {
            "content-length" => {
                return v.trim().parse::<usize>().is_ok_and(|len| body.len() >= len);
            }
            "transfer-encoding" if v.contains("chunked") => {
                return body.ends_with(b"0\r\n\r\n");
            }
            _ => {}
        }
    }
    false
}

/// Parses the first HTTP/1.1 answer in `bytes`.
pub fn parse(bytes: Vec<u8>) -> Reply {
    let mut reply = Reply {
        complete: is_complete(&bytes),
        bytes,
        ..Reply::default()
    };
    let Some(end) = find(&reply.bytes, b"\r\n\r\n") else {
        return reply;
    };
    let head = String::from_utf8_lossy(&reply.bytes[..end]).into_owned();
    let mut lines = head.split("\r\n");
    reply.status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok());
    for l in lines {
        if let Some((n, v)) = l.split_once(':') {
            reply
                .headers
                .push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let rest = &reply.bytes[end + 4..];
    let chunked = reply
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    reply.body = if chunked {
        dechunk(rest)
    } else if let Some(len) = reply
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        rest[..len.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    reply
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = find(rest, b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        rest = &rest[eol + 2..];
        if size == 0 || rest.len() < size {
            out.extend_from_slice(&rest[..size.min(rest.len())]);
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or(&[]);
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
