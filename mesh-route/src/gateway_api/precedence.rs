//! The order of matches across the routes of one virtual host, as the Gateway API specifies
//! it and Istio implements it (`sortHTTPRoutes`): an exact path before a prefix before a
//! regex before no path condition; a longer path value first; a method condition first;
//! more header conditions first; more query parameter conditions first. Remaining ties go to
//! the oldest route, then `namespace/name`, then rule order, then match order (decided by
//! the caller).

use std::cmp::Reverse;

use mesh_model::gateway_api::{GrpcRouteMatch, HttpRouteMatch};

/// The precedence of one match: smaller sorts first (wins).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Precedence {
    path_rank: Reverse<u8>,
    path_len: Reverse<usize>,
    method: Reverse<bool>,
    headers: Reverse<usize>,
    query: Reverse<usize>,
}

impl Precedence {
    /// Builds a precedence from its parts: the path kind's rank (exact 3, prefix 2, regex 1,
    /// none 0), the path value's length, whether a method is matched, and the number of
    /// header and query parameter conditions.
    pub fn new(path_rank: u8, path_len: usize, method: bool, headers: usize, query: usize) -> Self {
        Precedence {
            path_rank: Reverse(path_rank),
            path_len: Reverse(path_len),
            method: Reverse(method),
            headers: Reverse(headers),
            query: Reverse(query),
        }
    }
}

/// The precedence of an `HTTPRouteMatch` (a `PathPrefix` counts without its trailing `/`,
/// as Istio trims it).
pub fn http(m: &HttpRouteMatch) -> Precedence {
    let (rank, len) = match &m.path {
        None => (0, 0),
        Some(p) => match p.kind.as_str() {
            "Exact" => (3, p.value.len()),
            "PathPrefix" => {
                let v = if p.value == "/" {
                    "/"
                } else {
                    p.value.strip_suffix('/').unwrap_or(&p.value)
                };
                (2, v.len())
            }
            _ => (1, p.value.len()),
        },
    };
    Precedence::new(
        rank,
        len,
        m.method.is_some(),
        distinct(m.headers.iter().map(|h| h.name.to_ascii_lowercase())),
        distinct(m.query_params.iter().map(|q| q.name.clone())),
    )
}

/// The precedence of a `GRPCRouteMatch`: service and method (an exact path) before a
/// service (a prefix) before a method alone (a regex), then the longer, then more headers.
pub fn grpc(m: &GrpcRouteMatch) -> Precedence {
    let (rank, len) = match &m.method {
        None => (0, 0),
        Some(mm) => {
            let s = mm.service.as_deref().unwrap_or_default();
            let me = mm.method.as_deref().unwrap_or_default();
            let len = s.len() + me.len();
            match (mm.kind.as_str(), mm.service.is_some(), mm.method.is_some()) {
                ("Exact", true, true) => (3, len + 2),
                ("Exact", true, false) => (2, len + 2),
                _ => (1, len),
            }
        }
    };
    Precedence::new(
        rank,
        len,
        false,
        distinct(m.headers.iter().map(|h| h.name.to_ascii_lowercase())),
        0,
    )
}

fn distinct(names: impl Iterator<Item = String>) -> usize {
    let mut v: Vec<String> = names.collect();
    v.sort();
    v.dedup();
    v.len()
}
