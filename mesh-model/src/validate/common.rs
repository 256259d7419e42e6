//! Checks shared by several kinds, ported from Istio's `agent/validation.go`,
//! `validation.go` and `pkg/config/labels`, with Istio's message texts.

use std::net::IpAddr;

use crate::duration::Duration;
use crate::percent::Percent;
use crate::virtual_service::StringMatch;

/// `agent.ValidateDuration`: at least 1 ms, whole milliseconds.
pub(crate) fn validate_duration(d: &Duration) -> Result<(), String> {
    let nanos = d.as_nanos();
    if nanos < 1_000_000 {
        return Err("duration must be greater than 1ms".into());
    }
    if nanos % 1_000_000 != 0 {
        return Err("only durations to ms precision are supported".into());
    }
    Ok(())
}

/// Istio's `labels.IsDNS1123Label`: `[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?`, at most 63
/// characters. (Istio's pattern admits upper case, unlike Kubernetes'.)
pub(crate) fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// Istio's `labels.IsWildcardDNS1123Label`: `*`, or a label optionally prefixed by `*` or
/// `*-`, at most 63 characters.
pub(crate) fn is_wildcard_dns1123_label(s: &str) -> bool {
    if s.len() > 63 {
        return false;
    }
    if s == "*" {
        return true;
    }
    let rest = s
        .strip_prefix("*-")
        .or_else(|| s.strip_prefix('*'))
        .unwrap_or(s);
    is_dns1123_label(rest)
}

/// Kubernetes' DNS-1123 subdomain (object names): lower case, `-` and `.`, at most 253.
pub(crate) fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
                && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

/// `agent.CheckDNS1123Preconditions`.
pub(crate) fn check_dns1123_preconditions(name: &str) -> Result<(), String> {
    if name.len() > 255 {
        return Err(format!("domain name {name:?} too long (max 255)"));
    }
    if name.is_empty() {
        return Err("empty domain name not allowed".into());
    }
    Ok(())
}

/// `agent.ValidateDNS1123Labels`.
pub(crate) fn validate_dns1123_labels(domain: &str) -> Result<(), String> {
    let parts: Vec<&str> = domain.split('.').collect();
    let tld = parts[parts.len() - 1];
    if is_go_atoi(tld) {
        return Err(format!(
            "domain name {domain:?} invalid (top level domain {tld:?} cannot be all-numeric)"
        ));
    }
    for (i, label) in parts.iter().enumerate() {
        if i == parts.len() - 1 && label.is_empty() {
            return Ok(());
        }
        if !is_dns1123_label(label) {
            return Err(format!(
                "domain name {domain:?} invalid (label {label:?} invalid)"
            ));
        }
    }
    Ok(())
}

/// Whether Go's `strconv.Atoi` accepts `s` (an optionally signed decimal that fits an int).
fn is_go_atoi(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) && s.parse::<i64>().is_ok()
}

/// `agent.ValidateFQDN`.
pub(crate) fn validate_fqdn(fqdn: &str) -> Result<(), String> {
    check_dns1123_preconditions(fqdn)?;
    validate_dns1123_labels(fqdn)
}

/// `agent.ValidateWildcardDomain`: a wildcard is allowed in the first label only.
pub(crate) fn validate_wildcard_domain(domain: &str) -> Result<(), String> {
    check_dns1123_preconditions(domain)?;
    let (first, rest) = match domain.split_once('.') {
        Some((f, r)) => (f, Some(r)),
        None => (domain, None),
    };
    if !is_wildcard_dns1123_label(first) {
        return Err(format!(
            "domain name {domain:?} invalid (label {first:?} invalid)"
        ));
    }
    match rest {
        Some(rest) => validate_dns1123_labels(rest),
        None => Ok(()),
    }
}

/// `agent.ValidatePort`.
pub(crate) fn validate_port(port: i64) -> Result<(), String> {
    if (1..=65535).contains(&port) {
        Ok(())
    } else {
        Err(format!("port number {port} must be in the range 1..65535"))
    }
}

/// `agent.ValidatePartialWildCard`.
pub(crate) fn validate_partial_wildcard(host: &str) -> Result<(), String> {
    if host.contains('*') && host.len() != 1 && !host.starts_with("*.") {
        return Err(format!("partial wildcard {host:?} not allowed"));
    }
    Ok(())
}

/// Whether `s` is an IP address (`netip.ParseAddr`).
pub(crate) fn is_ip(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
}

/// `agent.ValidateIPAddress`.
pub(crate) fn validate_ip_address(addr: &str) -> Result<(), String> {
    if is_ip(addr) {
        Ok(())
    } else {
        Err(format!("{addr} is not a valid IP"))
    }
}

/// Whether `s` is a CIDR block (`netip.ParsePrefix`).
pub(crate) fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    !bits.is_empty()
        && bits.bytes().all(|c| c.is_ascii_digit())
        && (bits == "0" || !bits.starts_with('0'))
        && bits.parse::<u32>().is_ok_and(|b| b <= max)
}

/// `agent.ValidateIPSubnet`: CIDR notation or a plain address.
pub(crate) fn validate_ip_subnet(subnet: &str) -> Result<(), String> {
    if subnet.matches('/').count() == 1 {
        if is_cidr(subnet) {
            return Ok(());
        }
        return Err(format!("{subnet} is not a valid CIDR block"));
    }
    validate_ip_address(subnet)
}

/// Kubernetes qualified name: `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn is_qualified_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `labels.Instance.Validate`: keys `[dns-prefix/]name`, values qualified names or empty.
pub(crate) fn validate_labels<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Vec<String> {
    let mut errs = Vec::new();
    for (k, v) in labels {
        if let Err(e) = validate_tag_key(k) {
            errs.push(e);
        }
        if !(v.is_empty() || is_qualified_name(v)) {
            errs.push(format!("invalid tag value: {v:?}"));
        }
    }
    errs
}

fn validate_tag_key(k: &str) -> Result<(), String> {
    let (prefix, name) = match k.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    let prefix_ok = prefix.is_none_or(|p| p.split('.').all(is_dns1123_label_any_len));
    if !prefix_ok || !is_qualified_name(name) {
        return Err(format!("invalid tag key: {k:?}"));
    }
    if prefix.is_some_and(|p| p.len() > 253) {
        return Err(format!("invalid tag key: {k:?} (DNS prefix is too long)"));
    }
    if name.len() > 63 {
        return Err(format!("invalid tag key: {k:?} (name is too long)"));
    }
    Ok(())
}

fn is_dns1123_label_any_len(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// `validateExportTo`.
pub(crate) fn validate_export_to(
    namespace: &str,
    export_to: &[String],
    is_service_entry: bool,
    is_destination_rule_with_selector: bool,
) -> Vec<String> {
    let mut errs = Vec::new();
    if export_to.is_empty() {
        return errs;
    }
    let mut set: Vec<String> = Vec::new();
    for e in export_to {
        let key = if e == "." {
            namespace.to_owned()
        } else {
            e.clone()
        };
        if set.contains(&key) {
            if &key != e {
                errs.push(format!(
                    "duplicate entries in exportTo: . and current namespace {namespace}"
                ));
            } else {
                errs.push(format!("duplicate entries in exportTo for entry {e}"));
            }
        } else if is_service_entry && e == "~" {
            set.push(key);
        } else {
            let check = match key.as_str() {
                "." | "*" => Ok(()),
                "~" => Err(
                    "exportTo ~ (none) is not allowed for Istio configuration objects".to_owned(),
                ),
                k if is_dns1123_label(k) => Ok(()),
                _ => Err(
                    "only .,*, or a valid DNS 1123 label is allowed as exportTo entry".to_owned(),
                ),
            };
            match check {
                Ok(()) => set.push(key),
                Err(m) => errs.push(m),
            }
        }
    }
    if is_destination_rule_with_selector && !set.is_empty() {
        if set.iter().any(|k| k == namespace) {
            if set.len() > 1 {
                errs.push(
                    "destination rule with workload selector cannot have multiple entries in exportTo"
                        .into(),
                );
            }
        } else {
            errs.push(
                "destination rule with workload selector cannot have exportTo beyond current namespace"
                    .into(),
            );
        }
    }
    if set.iter().any(|k| k == "*") && export_to.len() > 1 {
        errs.push(
            "cannot have both public (*) and non-public exportTo values for a resource".into(),
        );
    }
    if set.iter().any(|k| k == "~") && export_to.len() > 1 {
        errs.push("cannot export service entry to no one (~) and someone".into());
    }
    errs
}

/// `ValidatePercent` (int32 percentages such as `maxEjectionPercent`).
pub(crate) fn validate_percent_int(val: i32) -> Result<(), String> {
    if (0..=100).contains(&val) {
        Ok(())
    } else {
        Err(format!("percentage {val} is not in range 0..100"))
    }
}

/// `validatePercentage` (fault percentages): 0, or within `[0.0001, 100]`.
pub(crate) fn validate_percentage(p: &Percent) -> Result<(), String> {
    let v = p.value;
    if !(0.0..=100.0).contains(&v) || (v > 0.0 && v < 0.0001) {
        return Err(format!(
            "percentage {} is neither 0.0, nor in range [0.0001, 100.0]",
            go_float(v)
        ));
    }
    Ok(())
}

/// Formats a float as Go's `%v` does: shortest form, exponent when it is below -4 or at
/// least 21 (`1e-05`, `150`, `0.5`).
pub(crate) fn go_float(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let e = format!("{v:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..21).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        format!("{v}")
    }
}

/// Go's `%f`: six decimals.
pub(crate) fn go_float_f(v: f64) -> String {
    format!("{v:.6}")
}

/// `validateStringMatch`: non-empty prefixes (where given), and regex checks.
pub(crate) fn validate_string_match(sm: &StringMatch, location: &str) -> Result<(), String> {
    if sm.exact.is_none()
        && let Some(p) = &sm.prefix
    {
        if p.is_empty() {
            return Err(format!(
                "{location:?}: prefix string match should not be empty"
            ));
        }
        return Ok(());
    }
    validate_string_match_regexp(sm, location)
}

/// `validateStringMatchRegexp`.
pub(crate) fn validate_string_match_regexp(sm: &StringMatch, location: &str) -> Result<(), String> {
    if sm.exact.is_some() || sm.prefix.is_some() {
        return Ok(());
    }
    match &sm.regex {
        None => Ok(()),
        Some(re) if re.is_empty() => Err(format!(
            "{location:?}: regex string match should not be empty"
        )),
        Some(re) => validate_string_regexp(re, location),
    }
}

/// `validateStringRegexp`: at most 1024 bytes, and valid RE2 syntax.
pub(crate) fn validate_string_regexp(re: &str, location: &str) -> Result<(), String> {
    if re.len() > 1024 {
        return Err(format!(
            "{location:?}: regex is too large, max length allowed is 1024"
        ));
    }
    match re2_syntax_error(re) {
        None => Ok(()),
        Some(e) => Err(format!(
            "{location:?}: {e}; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)"
        )),
    }
}

/// The error Go's `regexp.Compile` (RE2 syntax) reports for `re`, in Go's words
/// (`error parsing regexp: missing closing ): ...`), or `None` when it compiles.
pub(crate) fn re2_syntax_error(re: &str) -> Option<String> {
    use regex_syntax::ast::ErrorKind as K;
    let err = match regex_syntax::ast::parse::Parser::new().parse(re) {
        Ok(ast) => {
            // Constructs RE2 rejects but Rust's parser accepts.
            if let Some(m) = re2_unsupported(&ast) {
                return Some(m);
            }
            return match regex_syntax::hir::translate::Translator::new().translate(re, &ast) {
                Ok(_) => None,
                Err(e) => Some(format!(
                    "error parsing regexp: invalid or unsupported Perl syntax: `{}`",
                    &re[e.span().start.offset..e.span().end.offset]
                )),
            };
        }
        Err(e) => e,
    };
    let span = err.span();
    let fragment = re.get(span.start.offset..span.end.offset).unwrap_or(re);
    let (code, text) = match err.kind() {
        K::GroupUnclosed => ("missing closing )", re),
        K::GroupUnopened => ("unexpected )", re),
        K::ClassUnclosed => ("missing closing ]", &re[span.start.offset..]),
        K::ClassRangeInvalid | K::ClassRangeLiteral => ("invalid character class range", fragment),
        K::ClassEscapeInvalid
        | K::EscapeUnrecognized
        | K::EscapeHexInvalid
        | K::EscapeHexInvalidDigit
        | K::EscapeHexEmpty
        | K::EscapeUnexpectedEof => {
            if matches!(err.kind(), K::EscapeUnexpectedEof) {
                ("trailing backslash at end of expression", "")
            } else {
                ("invalid escape sequence", fragment)
            }
        }
        K::RepetitionMissing => ("missing argument to repetition operator", fragment),
        K::RepetitionCountInvalid | K::RepetitionCountDecimalEmpty | K::RepetitionCountUnclosed => {
            ("invalid repeat count", fragment)
        }
        K::NestLimitExceeded(_) => ("expression nests too deeply", ""),
        K::GroupNameInvalid
        | K::GroupNameEmpty
        | K::GroupNameDuplicate { .. }
        | K::GroupNameUnexpectedEof => ("invalid named capture", fragment),
        K::FlagUnrecognized
        | K::FlagDanglingNegation
        | K::FlagRepeatedNegation { .. }
        | K::FlagDuplicate { .. }
        | K::FlagUnexpectedEof => ("invalid or unsupported Perl syntax", fragment),
        K::UnsupportedLookAround | K::UnsupportedBackreference => {
            ("invalid or unsupported Perl syntax", fragment)
        }
        _ => ("invalid or unsupported Perl syntax", fragment),
    };
    if text.is_empty() {
        Some(format!("error parsing regexp: {code}"))
    } else {
        Some(format!("error parsing regexp: {code}: `{text}`"))
    }
}

/// RE2 has no nested repetition like `a**` and rejects repeat counts over 1000.
fn re2_unsupported(ast: &regex_syntax::ast::Ast) -> Option<String> {
    use regex_syntax::ast::{Ast, RepetitionKind, RepetitionRange};
    let mut stack = vec![ast];
    while let Some(node) = stack.pop() {
        match node {
            Ast::Repetition(rep) => {
                if let RepetitionKind::Range(range) = &rep.op.kind {
                    let (a, b) = match range {
                        RepetitionRange::Exactly(n) => (*n, *n),
                        RepetitionRange::AtLeast(n) => (*n, *n),
                        RepetitionRange::Bounded(a, b) => (*a, *b),
                    };
                    if a > 1000 || b > 1000 {
                        return Some("error parsing regexp: invalid repeat count".into());
                    }
                }
                if matches!(*rep.ast, Ast::Repetition(_)) {
                    return Some("error parsing regexp: invalid nested repetition operator".into());
                }
                stack.push(&rep.ast);
            }
            Ast::Group(g) => stack.push(&g.ast),
            Ast::Alternation(a) => stack.extend(a.asts.iter()),
            Ast::Concat(c) => stack.extend(c.asts.iter()),
            _ => {}
        }
    }
    None
}

/// Istio's `validHeaderNameRegex` (RFC 7230 token characters; Go reads `+-.` in the class
/// as a range, so `,` is accepted too).
pub(crate) fn is_header_token(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b','
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// Istio's port protocols (`pkg/config/protocol`), as `protocol.Parse` reads a port's
/// `protocol` field: case-insensitively, anything else being `Unsupported`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    Tcp,
    Udp,
    Grpc,
    GrpcWeb,
    Http,
    HttpProxy,
    Http2,
    Https,
    Tls,
    Mongo,
    Redis,
    MySql,
    Unsupported,
}

impl Protocol {
    /// `protocol.Parse`.
    pub(crate) fn parse(s: &str) -> Protocol {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "grpc" => Protocol::Grpc,
            "grpc-web" => Protocol::GrpcWeb,
            "http" => Protocol::Http,
            "http_proxy" => Protocol::HttpProxy,
            "http2" => Protocol::Http2,
            "https" => Protocol::Https,
            "tls" => Protocol::Tls,
            "mongo" => Protocol::Mongo,
            "redis" => Protocol::Redis,
            "mysql" => Protocol::MySql,
            // Istio also lists "DoubleHBONE", which a lower-cased input can never match.
            _ => Protocol::Unsupported,
        }
    }

    /// `Instance.IsHTTP`: HTTP as the transport.
    pub(crate) fn is_http(self) -> bool {
        matches!(
            self,
            Protocol::Http
                | Protocol::Http2
                | Protocol::HttpProxy
                | Protocol::Grpc
                | Protocol::GrpcWeb
        )
    }

    /// `Instance.IsTCP`: TCP as the transport (not HTTP).
    pub(crate) fn is_tcp(self) -> bool {
        matches!(
            self,
            Protocol::Tcp
                | Protocol::Https
                | Protocol::Tls
                | Protocol::Mongo
                | Protocol::Redis
                | Protocol::MySql
        )
    }

    /// `Instance.IsTLS`: HTTPS or TLS.
    pub(crate) fn is_tls(self) -> bool {
        matches!(self, Protocol::Https | Protocol::Tls)
    }
}

/// Istio's `UnixAddressPrefix`.
pub(crate) const UNIX_ADDRESS_PREFIX: &str = "unix://";

/// `ValidateUnixAddress` (the part after `unix://`): an abstract socket (`@name`) or an
/// absolute path that does not end in `/`.
pub(crate) fn validate_unix_address(addr: &str) -> Result<(), String> {
    if addr.is_empty() {
        return Err("unix address must not be empty".into());
    }
    if addr.starts_with('@') {
        return Ok(());
    }
    if !addr.starts_with('/') || addr.ends_with('/') {
        return Err(format!("{addr} is not an absolute path to a file"));
    }
    Ok(())
}

/// `ValidatePortName`: a DNS-1123 label.
pub(crate) fn validate_port_name(name: &str) -> Result<(), String> {
    if is_dns1123_label(name) {
        Ok(())
    } else {
        Err(format!("invalid port name: {name}"))
    }
}

/// `ValidateProtocol`: empty (sniffed) or a protocol Istio knows.
pub(crate) fn validate_protocol(protocol: &str) -> Result<(), String> {
    if !protocol.is_empty() && Protocol::parse(protocol) == Protocol::Unsupported {
        return Err(format!("unsupported protocol: {protocol}"));
    }
    Ok(())
}

/// `validateWorkloadSelector` / `ValidateAlphaWorkloadSelector` for one label: empty keys and
/// wildcards are rejected (`%q` of `key=value`).
pub(crate) fn validate_selector_label(key: &str, value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let kv = format!("{key}={value}");
    if key.is_empty() {
        errs.push(format!("empty key is not supported in selector: {kv:?}"));
    }
    if key.contains('*') || value.contains('*') {
        errs.push(format!("wildcard is not supported in selector: {kv:?}"));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's `%v` formatting of floats, used in Istio's messages.
    #[test]
    fn go_float_formats_like_go() {
        assert_eq!(go_float(150.0), "150");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(-1.0), "-1");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float_f(150.0), "150.000000");
    }

    /// Domains: wildcard only as the whole first label; no all-numeric TLD.
    #[test]
    fn wildcard_domains_follow_istio() {
        assert!(validate_wildcard_domain("*.example.com").is_ok());
        assert!(validate_wildcard_domain("*").is_ok());
        assert!(validate_wildcard_domain("reviews").is_ok());
        assert_eq!(
            validate_wildcard_domain("foo.*.com").unwrap_err(),
            "domain name \"*.com\" invalid (label \"*\" invalid)"
        );
        assert_eq!(
            validate_wildcard_domain("1.2.3.4").unwrap_err(),
            "domain name \"2.3.4\" invalid (top level domain \"4\" cannot be all-numeric)"
        );
        assert_eq!(
            validate_wildcard_domain("").unwrap_err(),
            "empty domain name not allowed"
        );
    }

    /// Durations must be whole milliseconds and at least 1 ms.
    #[test]
    fn durations_follow_istio() {
        assert!(validate_duration(&Duration::parse("1ms").unwrap()).is_ok());
        assert_eq!(
            validate_duration(&Duration::parse("0s").unwrap()).unwrap_err(),
            "duration must be greater than 1ms"
        );
        assert_eq!(
            validate_duration(&Duration::parse("1.0005s").unwrap()).unwrap_err(),
            "only durations to ms precision are supported"
        );
    }

    /// Regex errors are reported in Go's words.
    #[test]
    fn regex_errors_read_like_go() {
        assert_eq!(
            re2_syntax_error("(abc").unwrap(),
            "error parsing regexp: missing closing ): `(abc`"
        );
        assert_eq!(
            re2_syntax_error("a**").unwrap(),
            "error parsing regexp: invalid nested repetition operator"
        );
        assert!(re2_syntax_error("^(.*?;)?(user=jason)(;.*)?$").is_none());
        assert!(re2_syntax_error(".*Chrome.*").is_none());
        assert!(re2_syntax_error("(?=x)").is_some());
        assert!(re2_syntax_error("\\1").is_some());
    }

    /// Header name tokens, including Istio's accidental comma.
    #[test]
    fn header_tokens() {
        assert!(is_header_token("x-user"));
        assert!(is_header_token("X-User"));
        assert!(is_header_token("a,b"));
        assert!(!is_header_token("a b"));
        assert!(!is_header_token(""));
    }
}
