//! Name checks used across a VirtualService: header names and values, gateway names, hosts
//! of gateway-bound VirtualServices, JWT claim keys; and Go-style formatting of the values
//! they quote.

use std::fmt::Write as _;

use crate::validate::common;

/// Go's `%q` (`strconv.Quote`): escapes quotes, backslashes, control characters and
/// non-printable characters the way Go does, so that messages quoting user input read as
/// Istio prints them.
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `strconv.IsPrint` for non-ASCII characters: everything except
/// controls, spaces other than U+0020 and the common format characters.
fn is_go_printable(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c,
            '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}'
            | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}' | '\u{e000}'..='\u{f8ff}'))
}

/// Go's `%v` of a `[]string`: `[a b c]`.
pub(super) fn go_string_slice(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// The path of map entry `key` under `base`, written as the loader indexes field lines:
/// `base.key`, or `base["key"]` when the key is empty or holds `.`, `[`, `]` or `"`.
pub(super) fn key_path(base: &str, key: &str) -> String {
    if key.is_empty() || key.contains(['.', '[', ']', '"']) {
        format!("{base}[{key:?}]")
    } else {
        format!("{base}.{key}")
    }
}

/// The special header prefix that routes on a JWT claim (`jwt.HeaderJWTClaim`).
const HEADER_JWT_CLAIM: &str = "@request.auth.claims";

/// `jwt.ToRoutingClaim(name).Match`: `@request.auth.claims.a.b` or `@request.auth.claims[a][b]`
/// (prefix compared case-insensitively).
pub(super) fn is_jwt_claim_route(name: &str) -> bool {
    let n = HEADER_JWT_CLAIM.len();
    if name.len() < n || !name.as_bytes()[..n].eq_ignore_ascii_case(HEADER_JWT_CLAIM.as_bytes()) {
        return false;
    }
    // The first `n` bytes are ASCII, so `n` is a character boundary.
    let rest = &name[n..];
    (rest.starts_with('.') && rest.len() > 1)
        || (rest.starts_with('[') && rest.ends_with(']') && rest.len() > 2)
}

/// `ValidateHTTPHeaderNameOrJwtClaimRoute`: a header name to match on.
pub(super) fn validate_header_name_or_jwt_claim(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    if is_jwt_claim_route(name) {
        return Ok(());
    }
    if matches!(
        name,
        ":method" | ":scheme" | ":authority" | ":path" | ":status"
    ) {
        return Ok(());
    }
    if !common::is_header_token(name) {
        return Err(format!("header name {name} is not a valid header name"));
    }
    Ok(())
}

/// `isInternalHeader`: a pseudo header or `Host`.
fn is_internal_header(name: &str) -> bool {
    name.starts_with(':') || name.eq_ignore_ascii_case("host")
}

/// `isAuthorityHeader`: `:authority` or `Host`, any case.
pub(super) fn is_authority_header(name: &str) -> bool {
    name.eq_ignore_ascii_case(":authority") || name.eq_ignore_ascii_case("host")
}

/// `ValidateHTTPHeaderWithAuthorityOperationName`: a request header to add or set; the
/// authority may be set (it becomes a host rewrite).
pub(super) fn validate_header_with_authority_operation_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    if is_internal_header(name) && !is_authority_header(name) {
        return Err(format!(
            "invalid header {}: header cannot have \":\" prefix",
            go_quote(name)
        ));
    }
    Ok(())
}

/// `ValidateHTTPHeaderOperationName`: a request header to remove, or any response header
/// operation.
pub(super) fn validate_header_operation_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    if name.eq_ignore_ascii_case("host") {
        return Err(format!(
            "invalid header {}: cannot set Host header",
            go_quote(name)
        ));
    }
    if is_internal_header(name) {
        return Err(format!(
            "invalid header {}: header cannot have \":\" prefix",
            go_quote(name)
        ));
    }
    Ok(())
}

/// `ValidateCORSHTTPHeaderName`: `*` or a header token.
pub(super) fn validate_cors_header_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    if name == "*" {
        return Ok(());
    }
    if !common::is_header_token(name) {
        return Err(format!("header name {name} is not a valid header name"));
    }
    Ok(())
}

/// `ValidateHTTPHeaderValue`: no control characters other than tab, and a well-formed Envoy
/// `%VARIABLE%` formatter.
pub(super) fn validate_header_value(value: &str) -> Result<(), String> {
    // httpHeaderValueRegexp: ^[^\u0000-\u0008\u000A-\u001F\u007F]*$
    if value
        .chars()
        .any(|c| matches!(c, '\u{0}'..='\u{8}' | '\u{a}'..='\u{1f}' | '\u{7f}'))
    {
        return Err(format!("header value configuration {value} is invalid"));
    }
    validate_header_value_formatter(value).map_err(|e| format!("header value configuration: {e}"))
}

/// `validateHeaderValue` (`header_value_validator.go`), Istio's port of Envoy's header
/// formatter parser.
fn validate_header_value_formatter(value: &str) -> Result<(), String> {
    #[derive(PartialEq)]
    enum State {
        Literal,
        VariableName,
        ExpectArray,
        ExpectString,
        String,
        ExpectArrayDelimiterOrEnd,
        ExpectArgsEnd,
        ExpectVariableEnd,
    }
    let b = value.as_bytes();
    let mut pos = 0;
    let mut state = State::Literal;
    while pos < b.len() {
        let ch = b[pos];
        let has_next = pos + 1 < b.len();
        match state {
            State::Literal => {
                if ch == b'%' {
                    if !has_next {
                        return Err("invalid header configuration. Un-escaped %".into());
                    }
                    if b[pos + 1] == b'%' {
                        pos += 1;
                    } else {
                        state = State::VariableName;
                    }
                }
            }
            State::VariableName => {
                if ch == b'%' {
                    state = State::Literal;
                } else if ch == b'(' {
                    state = State::ExpectArray;
                }
            }
            State::ExpectArray => {
                if ch == b'[' {
                    state = State::ExpectString;
                } else if ch != b' ' {
                    state = State::String;
                }
            }
            State::ExpectArrayDelimiterOrEnd => {
                if ch == b',' {
                    state = State::ExpectString;
                } else if ch == b']' {
                    state = State::ExpectArgsEnd;
                } else if ch != b' ' {
                    return Err(
                        "invalid header configuration. Expecting ',', ']', or whitespace".into(),
                    );
                }
            }
            State::ExpectString => {
                if ch == b'"' {
                    state = State::String;
                } else if ch != b' ' {
                    return Err("invalid header configuration. Expecting '\"'".into());
                }
            }
            State::String => {
                if ch == b'\\' {
                    if !has_next {
                        return Err(
                            "invalid header configuration. Un-terminated backslash in JSON string"
                                .into(),
                        );
                    }
                    pos += 1;
                } else if ch == b')' {
                    state = State::ExpectVariableEnd;
                } else if ch == b'"' {
                    state = State::ExpectArrayDelimiterOrEnd;
                }
            }
            State::ExpectArgsEnd => {
                if ch == b')' {
                    state = State::ExpectVariableEnd;
                } else if ch != b' ' {
                    // Istio's text, placeholders included.
                    return Err("invalid header configuration. Expecting ')' or whitespace after '{}', but found '{}'".into());
                }
            }
            State::ExpectVariableEnd => {
                if ch == b'%' {
                    state = State::Literal;
                } else if ch != b' ' {
                    return Err(
                        "invalid header configuration. Expecting '%' or whitespace after".into(),
                    );
                }
            }
        }
        pos += 1;
    }
    if state != State::Literal {
        return Err(format!(
            "invalid header configuration. Un-terminated variable expression '{value}'"
        ));
    }
    Ok(())
}

/// A finding of a gateway-name check: an error or a warning.
pub(super) enum GatewayNameIssue {
    /// Rejects the resource.
    Error(String),
    /// Accepted, printed.
    Warning(String),
}

/// `validateGatewayNames`, with the index of the name each finding is about.
///
/// Quirk kept from Istio: the loop `return`s after the first name without a `/`, so the names
/// after it are not checked.
pub(super) fn validate_gateway_names(
    names: &[String],
    gateway_semantics: bool,
) -> Vec<(usize, GatewayNameIssue)> {
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let Some((ns, gw)) = name.split_once('/') else {
            if name.contains('.') {
                // Legacy FQDN style `name.namespace...`.
                let mut parts = name.split('.');
                let first = parts.next().unwrap_or_default();
                let second = parts.next().unwrap_or_default();
                out.push((
                    i,
                    GatewayNameIssue::Warning(format!(
                        "using legacy gatewayName format {}; prefer the <namespace>/<name> format: {}",
                        go_quote(name),
                        go_quote(&format!("{second}/{first}"))
                    )),
                ));
            }
            if let Err(e) = common::validate_fqdn(name) {
                out.push((i, GatewayNameIssue::Error(e)));
            }
            return out;
        };
        if ns.is_empty() || gw.is_empty() {
            out.push((
                i,
                GatewayNameIssue::Error("config namespace and gateway name cannot be empty".into()),
            ));
        }
        if !common::is_dns1123_label(ns) {
            out.push((
                i,
                GatewayNameIssue::Error(format!("invalid value for namespace: {}", go_quote(ns))),
            ));
        }
        if !common::is_dns1123_label(gw) && !gateway_semantics {
            out.push((
                i,
                GatewayNameIssue::Error(format!(
                    "invalid value for gateway name: {}",
                    go_quote(gw)
                )),
            ));
        }
    }
    out
}

/// `agent.ValidateWildcardDomainForVirtualServiceBoundToGateway`: as `ValidateWildcardDomain`,
/// but when `sni` is set also accepts the auto-generated SNI names of `AUTO_PASSTHROUGH`
/// gateways, `outbound_.<PORT>_._.<HOSTNAME>`.
pub(super) fn validate_wildcard_domain_for_gateway(sni: bool, domain: &str) -> Result<(), String> {
    const FORMAT: &str = "outbound_.<PORT>_._.<HOSTNAME>";
    common::check_dns1123_preconditions(domain)?;
    if sni && domain.starts_with("outbound_") {
        let parts: Vec<&str> = domain.split('_').collect();
        if parts.len() < 4 {
            return Err(format!(
                "domain name {domain} invalid, should follow '{FORMAT}' format"
            ));
        }
        let direction = parts[0];
        let port = parts[1].trim_matches('.');
        let hostname = parts[3].trim_matches('.');
        if direction != "outbound" {
            return Err(format!(
                "domain name {} invalid (label {} invalid)",
                go_quote(domain),
                go_quote(direction)
            ));
        }
        // regexp.MatchString("([0-9].*)", port): unanchored, so "contains a digit".
        if !port.bytes().any(|c| c.is_ascii_digit()) {
            return Err(format!(
                "domain name {} invalid (label {} invalid). should follow {FORMAT} format",
                go_quote(domain),
                go_quote(port)
            ));
        }
        if !hostname.bytes().any(|c| c.is_ascii_alphabetic()) {
            return Err(format!(
                "domain name {} invalid (label {} invalid). should follow {FORMAT} format",
                go_quote(domain),
                go_quote(hostname)
            ));
        }
        return Ok(());
    }
    common::validate_wildcard_domain(domain)
}

/// Go's `net/http.StatusText(code) != ""`: the status codes Go knows by name.
pub(super) fn is_go_status_code(code: i64) -> bool {
    matches!(code,
        100..=103
        | 200..=208 | 226
        | 300..=305 | 307 | 308
        | 400..=418 | 421..=426 | 428 | 429 | 431 | 451
        | 500..=508 | 510 | 511)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's `%q` escapes controls and non-printables, keeps printable Unicode.
    #[test]
    fn go_quote_matches_strconv_quote() {
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("tab\there"), r#""tab\there""#);
        assert_eq!(go_quote("\u{1}\u{7f}"), r#""\x01\x7f""#);
        assert_eq!(go_quote("héllo"), "\"héllo\"");
        assert_eq!(go_quote("\u{a0}"), r#""\u00a0""#);
    }

    /// Map keys with dots are quoted in paths, as the loader indexes them.
    #[test]
    fn key_paths_quote_dotted_keys() {
        assert_eq!(key_path("h", "x-user"), "h.x-user");
        assert_eq!(key_path("h", "a.b"), "h[\"a.b\"]");
        assert_eq!(key_path("h", ""), "h[\"\"]");
    }

    /// JWT claim keys: dotted or bracketed, prefix case-insensitive.
    #[test]
    fn jwt_claim_keys() {
        assert!(is_jwt_claim_route("@request.auth.claims.group"));
        assert!(is_jwt_claim_route("@Request.Auth.Claims[group]"));
        assert!(!is_jwt_claim_route("@request.auth.claims."));
        assert!(!is_jwt_claim_route("@request.auth.claims[]"));
        assert!(!is_jwt_claim_route("@request.auth.claim"));
        assert!(!is_jwt_claim_route("x-user"));
    }

    /// Envoy formatter syntax in header values.
    #[test]
    fn header_value_formatters() {
        assert!(validate_header_value("foo").is_ok());
        assert!(validate_header_value("%HOSTNAME%").is_ok());
        assert!(validate_header_value("100%%").is_ok());
        assert!(validate_header_value("prefix %HOSTNAME% suffix").is_ok());
        assert!(
            validate_header_value("%DOWNSTREAM_PEER_CERT_V_END(%b %d %H:%M:%S %Y %Z)%").is_ok()
        );
        assert!(validate_header_value("%DYNAMIC_METADATA(com.test.my_filter)%").is_ok());
        assert!(validate_header_value("%REQ([\"a\", \"b\"])%").is_ok());
        assert_eq!(
            validate_header_value("%START_TIME%%").unwrap_err(),
            "header value configuration: invalid header configuration. Un-escaped %"
        );
        assert_eq!(
            validate_header_value("abc%123").unwrap_err(),
            "header value configuration: invalid header configuration. Un-terminated variable expression 'abc%123'"
        );
        assert_eq!(
            validate_header_value("a\u{1}b").unwrap_err(),
            "header value configuration a\u{1}b is invalid"
        );
        assert!(validate_header_value("tab\tok").is_ok());
    }

    /// Go's `http.StatusText` set: 425 known, 306 and 599 not.
    #[test]
    fn go_status_codes() {
        assert!(is_go_status_code(503));
        assert!(is_go_status_code(425));
        assert!(!is_go_status_code(306));
        assert!(!is_go_status_code(599));
        assert!(!is_go_status_code(0));
    }
}
