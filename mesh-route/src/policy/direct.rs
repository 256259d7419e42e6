//! `directResponse`.

use std::sync::Arc;

use mesh_match::RequestView;
use mesh_model::virtual_service::HttpDirectResponse;

/// A fixed response.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DirectResponse {
    /// Status.
    pub status: u16,
    /// Body (empty when none is configured).
    pub body: Arc<[u8]>,
}

/// A direct response that cannot be executed as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DirectResponseError {
    /// The status is outside 200..=600.
    #[error("direct response status {0} is out of range")]
    Status(u32),
    /// The body's `bytes` are not base64.
    #[error("direct response body bytes are not valid base64")]
    Base64,
}

impl DirectResponse {
    /// Compiles a `directResponse`; `bytes` bodies are base64 as in YAML.
    pub fn compile(d: &HttpDirectResponse) -> Result<Self, DirectResponseError> {
        let status = u16::try_from(d.status)
            .ok()
            .filter(|s| (200..=600).contains(s))
            .ok_or(DirectResponseError::Status(d.status))?;
        let body: Vec<u8> = match &d.body {
            None => Vec::new(),
            Some(b) => match (&b.string, &b.bytes) {
                (Some(s), _) => s.clone().into_bytes(),
                (None, Some(b64)) => base64_decode(b64).ok_or(DirectResponseError::Base64)?,
                (None, None) => Vec::new(),
            },
        };
        Ok(DirectResponse {
            status,
            body: body.into(),
        })
    }
}

impl DirectResponse {
    /// The `Location` Envoy adds to a direct response with a 3xx or 201 status (RFC 7231
    /// 7.1.2; Envoy's router): the request's own URL, `:scheme://authority` (the Host as
    /// sent) and the path with its query. Measured with Envoy 1.40: `/d301/x?q=1` to
    /// `r:8080` gives `http://r:8080/d301/x?q=1`; with `x-forwarded-proto: https`,
    /// `https://...`; 200 and 204 get none.
    pub fn location(&self, req: &RequestView<'_>) -> Option<String> {
        let adds = self.status == 201 || (300..400).contains(&self.status);
        adds.then(|| {
            format!(
                "{}://{}{}",
                req.scheme(),
                req.authority(),
                req.path_and_query()
            )
        })
    }
}

/// Standard base64 (padding optional, whitespace ignored), as protobuf JSON `bytes` use.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' | b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    /// Base64 bodies decode as protobuf JSON `bytes` do.
    #[test]
    fn base64_bodies() {
        assert_eq!(super::base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(super::base64_decode("aGVsbG8").unwrap(), b"hello");
        assert!(super::base64_decode("a*").is_none());
    }
}
