//! What a client and the upstreams saw of one request: the same shape for Envoy, for the
//! layer and for the engine's prediction, so that they compare field by field.

use std::collections::BTreeMap;

use envoy_harness::Received;

/// The headers compared: the names a generated request carries or a generated
/// configuration operates on. Headers Envoy's connection manager adds or rewrites for
/// every request (`x-request-id`, `x-envoy-*` but the attempt count, `x-forwarded-proto`
/// when the client sent none, `content-length`, `date`, `server`) are left out: they are the
/// edge's, not the routing decision's. `x-envoy-attempt-count` is compared: it says which
/// attempt the upstream answered.
pub const COMPARED_REQUEST_HEADERS: &[&str] = &[
    "x-user",
    "x-tag",
    "x-added",
    "user-agent",
    "accept",
    "cookie",
    "authorization",
    "content-type",
    "x-envoy-attempt-count",
];

/// The response headers compared.
pub const COMPARED_RESPONSE_HEADERS: &[&str] = &[
    "x-resp",
    "x-tag",
    "content-type",
    "x-upstream",
    "cache-control",
    "location",
    "grpc-status",
    "grpc-message",
];

/// Header values by name, in the order received.
pub type HeaderValues = BTreeMap<String, Vec<String>>;

/// One request's outcome as observed (or predicted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    /// The HTTP status the client got.
    pub status: u16,
    /// The cluster whose upstream answered (`None`: the proxy answered itself).
    pub cluster: Option<String>,
    /// Path and query the upstream received (last attempt).
    pub upstream_target: Option<String>,
    /// Host the upstream received.
    pub upstream_authority: Option<String>,
    /// Compared request headers the upstream received.
    pub upstream_headers: HeaderValues,
    /// Compared response headers the client got.
    pub response_headers: HeaderValues,
    /// The body, when the proxy answered itself.
    pub body: Option<String>,
    /// How many copies of the request each cluster received (attempts and mirrors).
    pub copies: BTreeMap<String, usize>,
}

impl Observation {
    /// Fills the upstream and cluster fields from an echo upstream's JSON answer, if `body`
    /// is one; otherwise records `body` as the proxy's own.
    pub fn read_body(&mut self, body: &[u8]) {
        let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        let echo = json
            .as_ref()
            .filter(|j| j.get("upstream").is_some() && j.get("target").is_some());
        match echo {
            Some(j) => {
                self.cluster = j["upstream"].as_str().map(str::to_owned);
                self.upstream_target = j["target"].as_str().map(str::to_owned);
                let mut headers: Vec<(String, String)> = Vec::new();
                for pair in j["headers"].as_array().into_iter().flatten() {
                    if let (Some(k), Some(v)) = (pair[0].as_str(), pair[1].as_str()) {
                        headers.push((k.to_owned(), v.to_owned()));
                    }
                }
                self.upstream_authority = headers
                    .iter()
                    .find(|(k, _)| k == "host")
                    .map(|(_, v)| v.clone());
                self.upstream_headers = compared(
                    headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    COMPARED_REQUEST_HEADERS,
                );
            }
            None => self.body = Some(String::from_utf8_lossy(body).into_owned()),
        }
    }
}

/// The values of the `names` headers among `headers`.
pub fn compared<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    names: &[&str],
) -> HeaderValues {
    let mut out = HeaderValues::new();
    for (k, v) in headers {
        let k = k.to_ascii_lowercase();
        if names.contains(&k.as_str()) {
            out.entry(k).or_default().push(v.to_owned());
        }
    }
    out
}

/// Counts the copies of request `id` (by its id header) each upstream received.
pub fn copies(upstreams: &[(String, Vec<Received>)], id: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (cluster, seen) in upstreams {
        let n = seen
            .iter()
            .filter(|r| r.header(crate::generate::ID_HEADER) == Some(id))
            .count();
        if n > 0 {
            out.insert(cluster.clone(), n);
        }
    }
    out
}
