//! Istio's validation rules for `Gateway` (`ValidateGateway`, `validateServer`,
//! `validateServerPort`, `validateServerBind`, `validateTLSOptions` in
//! `pkg/config/validation/validation.go`, and `agent.ValidateNamespaceSlashWildcardHostname`).

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;

use super::common::{self, Protocol, UNIX_ADDRESS_PREFIX};
use super::{Finding, Sink, validate_metadata};
use crate::gateway::{Gateway, Port, Server, ServerTlsMode, ServerTlsSettings, TlsProtocol};
use crate::resource::{Kind, Resource};

/// The annotation Istio sets on Gateways it converts from the Kubernetes Gateway API.
const GATEWAY_SEMANTICS_ANNOTATION: &str = "internal.istio.io/gateway-semantics";

/// Cipher suites Envoy accepts on a gateway (`security.ValidCipherSuites`).
const VALID_CIPHER_SUITES: [&str; 15] = [
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-SHA",
    "AES256-SHA",
    "DES-CBC3-SHA",
];

/// Validates one Gateway.
pub(super) fn validate(r: &Resource<Gateway>) -> Vec<Finding> {
    let mut sink = Sink::new(r);
    validate_metadata(&mut sink, Kind::Gateway, r.name());
    let gateway_semantics = r
        .metadata
        .annotations
        .get(GATEWAY_SEMANTICS_ANNOTATION)
        .is_some_and(|v| v == "gateway");

    // Gateway names are DNS labels (no dots), unless converted from the Gateway API.
    if !common::is_dns1123_label(r.name()) && !gateway_semantics {
        sink.error(
            "metadata.name",
            format!("invalid gateway name: {:?}", r.name()),
        );
    }

    let spec = &r.spec;
    if spec.servers.is_empty() {
        sink.error("spec.servers", "gateway must have at least one server");
    }
    for (i, server) in spec.servers.iter().enumerate() {
        validate_server(
            &mut sink,
            &format!("spec.servers[{i}]"),
            server,
            gateway_semantics,
        );
    }

    let mut port_names = HashSet::new();
    for (i, server) in spec.servers.iter().enumerate() {
        let Some(port) = &server.port else { continue };
        if !port_names.insert(port.name.as_str()) {
            sink.error(
                format!("spec.servers[{i}].port.name"),
                format!(
                    "port names in servers must be unique: duplicate name {}",
                    port.name
                ),
            );
        }
        if !Protocol::parse(&port.protocol).is_http()
            && server.tls.as_ref().is_some_and(|t| t.https_redirect)
        {
            sink.warning(
                format!("spec.servers[{i}].tls.httpsRedirect"),
                "tls.httpsRedirect should only be used with http servers",
            );
        }
    }
    sink.finish()
}

/// `validateServer`.
fn validate_server(sink: &mut Sink<'_>, path: &str, server: &Server, gateway_semantics: bool) {
    if server.hosts.is_empty() {
        sink.error(
            format!("{path}.hosts"),
            "server config must contain at least one host",
        );
    }
    for (j, host) in server.hosts.iter().enumerate() {
        let errs = validate_namespace_slash_wildcard_hostname(host, gateway_semantics);
        sink.check_all(&format!("{path}.hosts[{j}]"), errs);
    }

    let port_ok = validate_server_port(sink, path, server.port.as_ref(), &server.bind);
    validate_server_bind(sink, path, server.port.as_ref(), &server.bind);
    if let Some(tls) = &server.tls {
        validate_tls_options(sink, &format!("{path}.tls"), tls);
    }

    // Only when the port itself is valid: HTTPS/TLS need TLS settings, others may not have
    // them (plain HTTP may carry `httpsRedirect` alone).
    let Some(port) = server.port.as_ref().filter(|_| port_ok) else {
        return;
    };
    let p = Protocol::parse(&port.protocol);
    match &server.tls {
        None if p.is_tls() => sink.error(
            format!("{path}.tls"),
            "server must have TLS settings for HTTPS/TLS protocols",
        ),
        Some(tls) if !p.is_tls() => {
            if p.is_http() {
                let passthrough = matches!(
                    tls.mode,
                    ServerTlsMode::Passthrough | ServerTlsMode::AutoPassthrough
                );
                if !passthrough
                    || !tls.ca_certificates.is_empty()
                    || !tls.private_key.is_empty()
                    || !tls.server_certificate.is_empty()
                {
                    sink.error(
                        format!("{path}.tls"),
                        "server cannot have TLS settings for plain text HTTP ports",
                    );
                }
            } else {
                sink.error(
                    format!("{path}.tls"),
                    "server cannot have TLS settings for non HTTPS/TLS ports",
                );
            }
        }
        _ => {}
    }
}

/// `validateServerPort`; returns whether the port had no error.
fn validate_server_port(sink: &mut Sink<'_>, path: &str, port: Option<&Port>, bind: &str) -> bool {
    let Some(port) = port else {
        sink.error(format!("{path}.port"), "port is required");
        return false;
    };
    let mut ok = true;
    let p = format!("{path}.port");
    if Protocol::parse(&port.protocol) == Protocol::Unsupported {
        sink.error(
            format!("{p}.protocol"),
            format!(
                "invalid protocol {:?}, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP",
                port.protocol
            ),
        );
        ok = false;
    }
    if (port.number > 0 || !bind.starts_with(UNIX_ADDRESS_PREFIX))
        && let Err(e) = common::validate_port(i64::from(port.number))
    {
        sink.error(format!("{p}.number"), e);
        ok = false;
    }
    if port.target_port > 0 {
        sink.error(
            format!("{p}.targetPort"),
            "targetPort has no impact on Gateways",
        );
        ok = false;
    }
    if port.name.is_empty() {
        sink.error(
            format!("{p}.name"),
            format!("port name must be set: {}", port_text(port)),
        );
        ok = false;
    }
    ok
}

/// `validateServerBind`: a Unix socket (with port 0) or an IP address.
fn validate_server_bind(sink: &mut Sink<'_>, path: &str, port: Option<&Port>, bind: &str) {
    if let Some(addr) = bind.strip_prefix(UNIX_ADDRESS_PREFIX) {
        sink.check(format!("{path}.bind"), common::validate_unix_address(addr));
        if let Some(port) = port.filter(|p| p.number != 0) {
            sink.error(
                format!("{path}.port.number"),
                format!(
                    "port number must be 0 for unix domain socket: {}",
                    port_text(port)
                ),
            );
        }
    } else if !bind.is_empty() {
        sink.check(format!("{path}.bind"), common::validate_ip_address(bind));
    }
}

/// A `Port` as Go's `%v` prints the proto message (compact text format: set fields only, in
/// field-number order).
fn port_text(port: &Port) -> String {
    let mut parts = Vec::new();
    if port.number != 0 {
        parts.push(format!("number:{}", port.number));
    }
    if !port.protocol.is_empty() {
        parts.push(format!("protocol:{}", proto_text_string(&port.protocol)));
    }
    if !port.name.is_empty() {
        parts.push(format!("name:{}", proto_text_string(&port.name)));
    }
    if port.target_port != 0 {
        parts.push(format!("target_port:{}", port.target_port));
    }
    parts.join(" ")
}

/// A string in protobuf text format: double-quoted, with C-style escapes.
fn proto_text_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `agent.ValidateNamespaceSlashWildcardHostname` for a gateway host: `[namespace/]dnsName`.
fn validate_namespace_slash_wildcard_hostname(host: &str, gateway_semantics: bool) -> Vec<String> {
    let Some((ns, name)) = host.split_once('/') else {
        // Old-style host without a namespace.
        return validate_gateway_hostname_part(host);
    };
    let mut errs = Vec::new();
    if ns.is_empty() || name.is_empty() {
        errs.push("config namespace and dnsName in host entry cannot be empty".to_owned());
    }
    // `*`, `.` or a DNS label; `~` only for gateways converted from the Gateway API.
    if ns != "*" && ns != "." && (ns != "~" || !gateway_semantics) && !common::is_dns1123_label(ns)
    {
        errs.push(format!("invalid namespace value {ns:?} in gateway"));
    }
    errs.extend(validate_gateway_hostname_part(name));
    errs
}

/// `validateSidecarOrGatewayHostnamePart` for gateways: an FQDN (or `*`, or an IP address),
/// wildcards only as the whole first label.
fn validate_gateway_hostname_part(host: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if host != "*" && !host.contains('.') {
        errs.push("short names (non FQDN) are not allowed".to_owned());
    }
    if let Err(e) = common::validate_wildcard_domain(host) {
        // Gateways accept an IP address as a host.
        if !common::is_ip(host) {
            errs.push(e);
        }
    }
    if let Err(e) = common::validate_partial_wildcard(host) {
        errs.push(e);
    }
    errs
}

/// `security.IsValidCipherSuite`: empty, `ALL`, an expression starting with an operator, or a
/// suite Envoy knows.
fn is_valid_cipher_suite(cs: &str) -> bool {
    if cs.is_empty() || cs == "ALL" {
        return true;
    }
    // Go reads the first byte as a rune (a Latin-1 code point) and asks whether it is a
    // letter or a number; Rust's `char::is_alphanumeric` agrees on that range.
    let starts_alphanumeric = cs
        .bytes()
        .next()
        .is_some_and(|b| char::from(b).is_alphanumeric());
    if !starts_alphanumeric {
        return true;
    }
    VALID_CIPHER_SUITES.contains(&cs)
}

/// `validateTLSOptions`.
fn validate_tls_options(sink: &mut Sink<'_>, path: &str, tls: &ServerTlsSettings) {
    // CRD schema: `maxItems: 2` on both certificate lists (the API server rejects a third
    // certificate, where Istio's Go code below only warns about it).
    for (field, len) in [
        ("tlsCertificates", tls.tls_certificates.len()),
        ("credentialNames", tls.credential_names.len()),
    ] {
        if len > 2 {
            sink.error(
                format!("{path}.{field}"),
                format!("Too many: {len}: must have at most 2 items"),
            );
        }
    }
    if matches!(
        tls.min_protocol_version,
        TlsProtocol::Tlsv1_0 | TlsProtocol::Tlsv1_1
    ) && tls.cipher_suites.is_empty()
    {
        sink.warning(
            format!("{path}.minProtocolVersion"),
            "TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.",
        );
    }

    let mut invalid = BTreeSet::new();
    let mut valid = HashSet::new();
    let mut duplicate = BTreeSet::new();
    for cs in &tls.cipher_suites {
        if !is_valid_cipher_suite(cs) {
            invalid.insert(cs.as_str());
        } else if !valid.insert(cs.as_str()) {
            duplicate.insert(cs.as_str());
        }
    }
    if !invalid.is_empty() {
        sink.warning(
            format!("{path}.cipherSuites"),
            format!(
                "ignoring invalid cipher suites: {}",
                go_string_list(&invalid)
            ),
        );
    }
    if !duplicate.is_empty() {
        sink.warning(
            format!("{path}.cipherSuites"),
            format!(
                "ignoring duplicate cipher suites: {}",
                go_string_list(&duplicate)
            ),
        );
    }

    if tls.mode == ServerTlsMode::IstioMutual {
        // Istio's own certificates: no other certificate source may be given.
        let conflicts = [
            (
                !tls.server_certificate.is_empty(),
                "serverCertificate",
                "ISTIO_MUTUAL TLS cannot have associated server certificate",
            ),
            (
                !tls.private_key.is_empty(),
                "privateKey",
                "ISTIO_MUTUAL TLS cannot have associated private key",
            ),
            (
                !tls.ca_certificates.is_empty(),
                "caCertificates",
                "ISTIO_MUTUAL TLS cannot have associated CA bundle",
            ),
            (
                !tls.tls_certificates.is_empty(),
                "tlsCertificates",
                "ISTIO_MUTUAL TLS cannot have associated tlsCertificates",
            ),
            (
                !tls.credential_name.is_empty(),
                "credentialName",
                "ISTIO_MUTUAL TLS cannot have associated credentialName",
            ),
            (
                !tls.credential_names.is_empty(),
                "credentialNames",
                "ISTIO_MUTUAL TLS cannot have associated credentialNames",
            ),
        ];
        for (set, field, message) in conflicts {
            if set {
                sink.error(format!("{path}.{field}"), message);
            }
        }
        return;
    }

    if matches!(
        tls.mode,
        ServerTlsMode::Passthrough | ServerTlsMode::AutoPassthrough
    ) && (!tls.ca_crl.is_empty()
        || !tls.server_certificate.is_empty()
        || !tls.private_key.is_empty()
        || !tls.ca_certificates.is_empty()
        || !tls.tls_certificates.is_empty()
        || !tls.credential_name.is_empty()
        || !tls.credential_names.is_empty())
    {
        sink.warning(
            format!("{path}.mode"),
            format!(
                "{} mode does not use certificates, they will be ignored",
                tls.mode
            ),
        );
    }

    let sources = [
        !tls.server_certificate.is_empty() && !tls.private_key.is_empty(),
        !tls.credential_name.is_empty(),
        !tls.credential_names.is_empty(),
        !tls.tls_certificates.is_empty(),
    ];
    if sources.iter().filter(|s| **s).count() > 1 {
        sink.error(
            path,
            "only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should be specified",
        );
    }

    let terminating = matches!(
        tls.mode,
        ServerTlsMode::Simple | ServerTlsMode::Mutual | ServerTlsMode::OptionalMutual
    );
    if terminating && (!tls.credential_name.is_empty() || !tls.credential_names.is_empty()) {
        // Credentials are fetched from the secret: no certificate files are required.
        return;
    }
    if terminating {
        let prefix = if tls.mode == ServerTlsMode::Simple {
            "SIMPLE TLS"
        } else {
            "MUTUAL TLS"
        };
        if prefix == "MUTUAL TLS" && tls.ca_certificates.is_empty() {
            sink.error(
                format!("{path}.caCertificates"),
                format!("{prefix} requires a client CA bundle"),
            );
        }
        if tls.tls_certificates.len() > 2 {
            sink.warning(
                format!("{path}.tlsCertificates"),
                format!("{prefix} can support up to 2 server certificates"),
            );
        }
        if tls.tls_certificates.is_empty() {
            if tls.server_certificate.is_empty() {
                sink.error(
                    format!("{path}.serverCertificate"),
                    format!("{prefix} requires a server certificate"),
                );
            }
            if tls.private_key.is_empty() {
                sink.error(
                    format!("{path}.privateKey"),
                    format!("{prefix} requires a private key"),
                );
            }
        } else {
            for (k, cert) in tls.tls_certificates.iter().enumerate() {
                let p = format!("{path}.tlsCertificates[{k}]");
                if cert.server_certificate.is_empty() {
                    sink.error(
                        format!("{p}.serverCertificate"),
                        format!("{prefix} requires a server certificate"),
                    );
                }
                if cert.private_key.is_empty() {
                    sink.error(
                        format!("{p}.privateKey"),
                        format!("{prefix} requires a private key"),
                    );
                }
            }
        }
    }
    if !tls.ca_crl.is_empty() {
        if !tls.credential_name.is_empty() {
            sink.error(
                format!("{path}.caCrl"),
                "CRL is not supported with credentialName. CRL has to be specified in the credential",
            );
        }
        if tls.mode == ServerTlsMode::Simple {
            sink.error(
                format!("{path}.caCrl"),
                "CRL is not supported with SIMPLE TLS",
            );
        }
    }
}

/// Go's `%v` of a `[]string`: `[a b c]`.
fn go_string_list(items: &BTreeSet<&str>) -> String {
    let joined: Vec<&str> = items.iter().copied().collect();
    format!("[{}]", joined.join(" "))
}
