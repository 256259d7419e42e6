//! An upstream that answers with raw bytes chosen by the test.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::echo::{Received, read_request};

/// The most requests a [`RawUpstream`] records.
const RECORD_LIMIT: usize = 100_000;

/// An answer's bytes, and where (after how many bytes) and how long to pause in them.
type Paced = (Vec<u8>, Option<(usize, Duration)>);

type Answer = dyn Fn(&Received) -> Paced + Send + Sync;

/// An HTTP/1.1 upstream on 127.0.0.1 that reads one request per connection, records it, writes
/// the bytes `answer` returns for it exactly as they are (a malformed head, a body shorter
/// than its Content-Length, nothing at all), then closes the connection. One thread per
/// connection; the listener thread lives as long as the process.
#[derive(Clone)]
pub struct RawUpstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl std::fmt::Debug for RawUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawUpstream")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RawUpstream {
    /// Starts an upstream on an ephemeral loopback port answering with `answer`.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub fn start(answer: impl Fn(&Received) -> Vec<u8> + Send + Sync + 'static) -> RawUpstream {
        RawUpstream::start_pausing(move |r| (answer(r), None))
    }

    /// As [`start`](Self::start), but `answer` also says where to pause: `Some((n, d))`
    /// writes the first `n` bytes, waits `d` (at most 10 s) with the connection open, then
    /// writes the rest and closes. For an upstream that is slow to answer (`n = 0`) or
    /// stalls mid-body.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub fn start_pausing(
        answer: impl Fn(&Received) -> (Vec<u8>, Option<(usize, Duration)>) + Send + Sync + 'static,
    ) -> RawUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let up = RawUpstream {
            addr,
            seen: Arc::new(Mutex::new(Vec::new())),
        };
        let answer: Arc<Answer> = Arc::new(answer);
        let seen = up.seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (answer, seen) = (answer.clone(), seen.clone());
                std::thread::spawn(move || serve(stream, &*answer, &seen));
            }
        });
        up
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The requests received so far.
    pub fn received(&self) -> Vec<Received> {
        self.seen.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

fn serve(stream: TcpStream, answer: &Answer, seen: &Mutex<Vec<Received>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let Some(req) = read_request(&mut reader) else {
        return;
    };
    let (bytes, pause) = answer(&req);
    if let Ok(mut s) = seen.lock() {
        if s.len() < RECORD_LIMIT {
            s.push(req);
        }
    }
    let mut rest = &bytes[..];
    if let Some((at, wait)) = pause {
        let (first, second) = bytes.split_at(at.min(bytes.len()));
        let _ = writer.write_all(first);
        let _ = writer.flush();
        std::thread::sleep(wait.min(Duration::from_secs(10)));
        rest = second;
    }
    let _ = writer.write_all(rest);
    let _ = writer.flush();
    // Closing: the peer sees the end of the connection right after the bytes.
    let _ = writer.shutdown(std::net::Shutdown::Both);
}
