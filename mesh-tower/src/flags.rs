//! Envoy response flags, as Istio's metrics label them.

use std::fmt;

/// A set of response flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ResponseFlags(u16);

macro_rules! flags {
    ($($name:ident = $bit:expr => $text:literal, $doc:literal;)+) => {
        impl ResponseFlags {
            $(
                #[doc = $doc]
                pub const $name: ResponseFlags = ResponseFlags(1 << $bit);
            )+
            const ALL: &'static [(ResponseFlags, &'static str)] = &[$((ResponseFlags::$name, $text)),+];
        }
    };
}

// Declared in Envoy's order (`CoreResponseFlag`), which is the order of the joined label.
flags! {
    NO_HEALTHY_UPSTREAM = 7 => "UH", "No healthy upstream host (503).";
    UPSTREAM_TIMEOUT = 3 => "UT", "Upstream request timeout (504).";
    UPSTREAM_RESET = 9 => "UR", "Upstream remote reset.";
    UPSTREAM_CONNECT_FAILURE = 1 => "UF", "Upstream connection failure (503).";
    UPSTREAM_CONNECTION_TERMINATION = 13 => "UC", "The upstream closed the connection before answering (503).";
    OVERFLOW = 6 => "UO", "Upstream overflow: circuit breaking or retry budget (503).";
    NO_ROUTE = 0 => "NR", "No route configured for the request (404).";
    DELAY_INJECTED = 4 => "DI", "The request was delayed by fault injection.";
    FAULT_INJECTED = 5 => "FI", "The request was aborted by fault injection.";
    DOWNSTREAM_CONNECTION_TERMINATION = 11 => "DC", "An HTTP/1 client closed its connection before the response ended (response code 0 if before its head).";
    UPSTREAM_RETRY_LIMIT = 2 => "URX", "Upstream retry limit exceeded.";
    STREAM_IDLE_TIMEOUT = 10 => "SI", "The stream idle timeout expired (408 for a stalled client, 504 for a stalled upstream).";
    DOWNSTREAM_PROTOCOL_ERROR = 14 => "DPE", "The request broke HTTP/1's rules as Envoy's codec enforces them (400).";
    UPSTREAM_PROTOCOL_ERROR = 15 => "UPE", "The upstream's response was malformed or cut (502 before the head).";
    NO_CLUSTER = 8 => "NC", "The upstream cluster was not found (503).";
}

impl ResponseFlags {
    /// No flag.
    pub const NONE: ResponseFlags = ResponseFlags(0);

    /// Adds `other`.
    pub fn insert(&mut self, other: ResponseFlags) {
        self.0 |= other.0;
    }

    /// Whether `other` is set.
    pub fn contains(&self, other: ResponseFlags) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    /// Whether no flag is set.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

/// The flags of one request in flight, shared by reference between the policies that run it
/// (a fault's delay, a retry that ran out, ...): set through `&`, read once at the end.
#[derive(Debug, Default)]
pub(crate) struct FlagCell(std::sync::atomic::AtomicU16);

impl FlagCell {
    /// Adds `flags`.
    pub(crate) fn insert(&self, flags: ResponseFlags) {
        self.0
            .fetch_or(flags.0, std::sync::atomic::Ordering::Relaxed);
    }

    /// The flags set so far.
    pub(crate) fn get(&self) -> ResponseFlags {
        ResponseFlags(self.0.load(std::sync::atomic::Ordering::Relaxed))
    }
}

impl fmt::Display for ResponseFlags {
    /// Istio's `response_flags` label: `-` for none, else the flags joined with `,`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        let mut first = true;
        for (flag, text) in ResponseFlags::ALL {
            if self.contains(*flag) {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(text)?;
                first = false;
            }
        }
        Ok(())
    }
}
