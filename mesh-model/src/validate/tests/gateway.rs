//! Gateway: one test per rule of `ValidateGateway`, `validateServer`, `validateServerPort`,
//! `validateServerBind` and `validateTLSOptions`, each with Istio's exact message.

use super::support::{assert_finding, assert_no_errors, findings};
use crate::validate::Severity::{Error, Warning};

/// A Gateway `default/gw` with `spec` (YAML without base indentation).
fn gw(spec: &str) -> String {
    gw_named("gw", spec)
}

fn gw_named(name: &str, spec: &str) -> String {
    let body: String = spec.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: default}}\nspec:\n{body}"
    )
}

/// A Gateway with one server (`server` is the YAML of the list item, without the dash).
fn server(server: &str) -> String {
    let mut lines = server.lines();
    let first = lines.next().unwrap_or_default();
    let rest: String = lines.map(|l| format!("\n  {l}")).collect();
    gw(&format!("servers:\n- {first}{rest}"))
}

/// An HTTPS server on 443 for `example.com` with `tls`.
fn https(tls: &str) -> String {
    server(&format!(
        "port: {{number: 443, name: https, protocol: HTTPS}}\nhosts: [example.com]\ntls: {tls}"
    ))
}

/// Asserts that validation reports neither an error nor a warning (analyzer findings aside).
#[track_caller]
fn assert_clean(yaml: &str) {
    let all: Vec<_> = findings(yaml)
        .into_iter()
        .filter(|f| f.code.is_none())
        .collect();
    assert!(all.is_empty(), "unexpected findings: {all:#?}");
}

// ---- gateway ----------------------------------------------------------------------------

/// Gateway names are DNS labels: no dots.
#[test]
fn gateway_name_is_a_dns_label() {
    assert_finding(
        &gw_named(
            "my.gw",
            "servers:\n- {port: {number: 80, name: http, protocol: HTTP}, hosts: [example.com]}",
        ),
        Error,
        "metadata.name",
        "invalid gateway name: \"my.gw\"",
    );
}

/// A gateway has at least one server.
#[test]
fn gateway_needs_a_server() {
    assert_finding(
        &gw("selector: {istio: ingressgateway}"),
        Error,
        "spec.servers",
        "gateway must have at least one server",
    );
}

/// Port names are unique across the servers of a gateway.
#[test]
fn port_names_are_unique() {
    assert_finding(
        &gw(
            "servers:\n- {port: {number: 80, name: web, protocol: HTTP}, hosts: [a.example.com]}\n- {port: {number: 8080, name: web, protocol: HTTP}, hosts: [b.example.com]}",
        ),
        Error,
        "spec.servers[1].port.name",
        "port names in servers must be unique: duplicate name web",
    );
}

/// `httpsRedirect` belongs on plain HTTP servers; elsewhere it is accepted with a warning.
#[test]
fn https_redirect_only_on_http() {
    let yaml = https("{mode: SIMPLE, credentialName: cert, httpsRedirect: true}");
    assert_no_errors(&yaml);
    assert_finding(
        &yaml,
        Warning,
        "spec.servers[0].tls.httpsRedirect",
        "tls.httpsRedirect should only be used with http servers",
    );
    assert_clean(&server(
        "port: {number: 80, name: http, protocol: HTTP}\nhosts: [example.com]\ntls: {httpsRedirect: true}",
    ));
}

// ---- hosts ------------------------------------------------------------------------------

/// A server has at least one host.
#[test]
fn server_needs_a_host() {
    assert_finding(
        &server("port: {number: 80, name: http, protocol: HTTP}"),
        Error,
        "spec.servers[0].hosts",
        "server config must contain at least one host",
    );
}

/// Server hosts are FQDNs: no short names.
#[test]
fn hosts_are_not_short_names() {
    assert_finding(
        &server("port: {number: 80, name: http, protocol: HTTP}\nhosts: [reviews]"),
        Error,
        "spec.servers[0].hosts[0]",
        "short names (non FQDN) are not allowed",
    );
}

/// Server hosts use wildcards only as the whole first label.
#[test]
fn hosts_wildcard_only_in_first_label() {
    assert_finding(
        &server("port: {number: 80, name: http, protocol: HTTP}\nhosts: [\"foo.*.bar.com\"]"),
        Error,
        "spec.servers[0].hosts[0]",
        "domain name \"*.bar.com\" invalid (label \"*\" invalid)",
    );
}

/// Partial wildcards (`*bar.com`) are rejected.
#[test]
fn hosts_have_no_partial_wildcards() {
    assert_finding(
        &server(
            "port: {number: 443, name: tls, protocol: TLS}\nhosts: [\"*bar.com\"]\ntls: {mode: ISTIO_MUTUAL}",
        ),
        Error,
        "spec.servers[0].hosts[0]",
        "partial wildcard \"*bar.com\" not allowed",
    );
}

/// `namespace/host` needs both parts.
#[test]
fn host_namespace_and_name_are_not_empty() {
    assert_finding(
        &server("port: {number: 80, name: http, protocol: HTTP}\nhosts: [\"/example.com\"]"),
        Error,
        "spec.servers[0].hosts[0]",
        "config namespace and dnsName in host entry cannot be empty",
    );
}

/// The namespace of a host is `*`, `.` or a namespace name; `~` only on gateways converted
/// from the Gateway API.
#[test]
fn host_namespace_is_valid() {
    let yaml = server("port: {number: 80, name: http, protocol: HTTP}\nhosts: [\"~/example.com\"]");
    assert_finding(
        &yaml,
        Error,
        "spec.servers[0].hosts[0]",
        "invalid namespace value \"~\" in gateway",
    );
    let converted = yaml.replace(
        "metadata: {name: gw, namespace: default}",
        "metadata: {name: gw, namespace: default, annotations: {internal.istio.io/gateway-semantics: gateway}}",
    );
    assert_no_errors(&converted);
    assert_clean(&server(
        "port: {number: 80, name: http, protocol: HTTP}\nhosts: [\"*/a.example.com\", \"./b.example.com\", \"prod/c.example.com\", \"*\", \"1.1.1.1\"]",
    ));
}

// ---- port -------------------------------------------------------------------------------

/// A server has a port.
#[test]
fn server_needs_a_port() {
    assert_finding(
        &server("hosts: [example.com]"),
        Error,
        "spec.servers[0].port",
        "port is required",
    );
}

/// The port protocol is one Istio knows.
#[test]
fn port_protocol_is_known() {
    assert_finding(
        &server("port: {number: 80, name: kafka, protocol: KAFKA}\nhosts: [example.com]"),
        Error,
        "spec.servers[0].port.protocol",
        "invalid protocol \"KAFKA\", supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP",
    );
}

/// The port number is in 1..65535.
#[test]
fn port_number_is_valid() {
    assert_finding(
        &server("port: {number: 66000, name: http, protocol: HTTP}\nhosts: [example.com]"),
        Error,
        "spec.servers[0].port.number",
        "port number 66000 must be in the range 1..65535",
    );
}

/// `targetPort` has no meaning on a gateway.
#[test]
fn port_target_port_is_rejected() {
    assert_finding(
        &server(
            "port: {number: 80, name: http, protocol: HTTP, targetPort: 8080}\nhosts: [example.com]",
        ),
        Error,
        "spec.servers[0].port.targetPort",
        "targetPort has no impact on Gateways",
    );
}

/// The port has a name; the message prints the port as Go prints the proto message.
#[test]
fn port_name_is_required() {
    assert_finding(
        &server("port: {number: 80, protocol: HTTP}\nhosts: [example.com]"),
        Error,
        "spec.servers[0].port.name",
        "port name must be set: number:80 protocol:\"HTTP\"",
    );
}

// ---- bind -------------------------------------------------------------------------------

/// `bind` is an IP address.
#[test]
fn bind_is_an_ip() {
    assert_finding(
        &server(
            "port: {number: 80, name: http, protocol: HTTP}\nhosts: [example.com]\nbind: foo.bar",
        ),
        Error,
        "spec.servers[0].bind",
        "foo.bar is not a valid IP",
    );
}

/// A Unix socket bind is an absolute path or an abstract socket.
#[test]
fn bind_unix_socket_is_absolute() {
    assert_finding(
        &server(
            "port: {number: 0, name: http, protocol: HTTP}\nhosts: [example.com]\nbind: \"unix://tmp/sock\"",
        ),
        Error,
        "spec.servers[0].bind",
        "tmp/sock is not an absolute path to a file",
    );
    assert_finding(
        &server(
            "port: {number: 0, name: http, protocol: HTTP}\nhosts: [example.com]\nbind: \"unix://\"",
        ),
        Error,
        "spec.servers[0].bind",
        "unix address must not be empty",
    );
    assert_clean(&server(
        "port: {number: 0, name: http, protocol: HTTP}\nhosts: [example.com]\nbind: \"unix://@foobar\"",
    ));
}

/// A Unix socket bind takes port 0.
#[test]
fn bind_unix_socket_takes_port_zero() {
    assert_finding(
        &server(
            "port: {number: 7, name: http, protocol: HTTP}\nhosts: [example.com]\nbind: \"unix://@foobar\"",
        ),
        Error,
        "spec.servers[0].port.number",
        "port number must be 0 for unix domain socket: number:7 protocol:\"HTTP\" name:\"http\"",
    );
}

// ---- TLS required / forbidden -----------------------------------------------------------

/// HTTPS and TLS servers need TLS settings.
#[test]
fn https_needs_tls_settings() {
    assert_finding(
        &server("port: {number: 443, name: https, protocol: HTTPS}\nhosts: [example.com]"),
        Error,
        "spec.servers[0].tls",
        "server must have TLS settings for HTTPS/TLS protocols",
    );
}

/// Plain HTTP servers take no TLS settings beyond `httpsRedirect`.
#[test]
fn plain_http_takes_no_tls() {
    assert_finding(
        &server(
            "port: {number: 80, name: http, protocol: HTTP}\nhosts: [example.com]\ntls: {mode: SIMPLE, credentialName: cert}",
        ),
        Error,
        "spec.servers[0].tls",
        "server cannot have TLS settings for plain text HTTP ports",
    );
}

/// Other non-TLS servers (TCP, Mongo, ...) take no TLS settings.
#[test]
fn plain_tcp_takes_no_tls() {
    assert_finding(
        &server(
            "port: {number: 27017, name: mongo, protocol: MONGO}\nhosts: [example.com]\ntls: {mode: PASSTHROUGH}",
        ),
        Error,
        "spec.servers[0].tls",
        "server cannot have TLS settings for non HTTPS/TLS ports",
    );
}

// ---- TLS options ------------------------------------------------------------------------

/// TLS 1.0/1.1 need explicit cipher suites (a warning).
#[test]
fn old_tls_versions_want_ciphers() {
    let yaml = https("{mode: SIMPLE, credentialName: cert, minProtocolVersion: TLSV1_1}");
    assert_no_errors(&yaml);
    assert_finding(
        &yaml,
        Warning,
        "spec.servers[0].tls.minProtocolVersion",
        "TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.",
    );
}

/// Unknown cipher suites are ignored with a warning listing them sorted.
#[test]
fn invalid_ciphers_warn() {
    let yaml = https(
        "{mode: SIMPLE, credentialName: cert, cipherSuites: [foo, ECDHE-RSA-AES128-GCM-SHA256, bar, \"-AES128-SHA\"]}",
    );
    assert_no_errors(&yaml);
    assert_finding(
        &yaml,
        Warning,
        "spec.servers[0].tls.cipherSuites",
        "ignoring invalid cipher suites: [bar foo]",
    );
}

/// Repeated cipher suites are ignored with a warning.
#[test]
fn duplicate_ciphers_warn() {
    assert_finding(
        &https("{mode: SIMPLE, credentialName: cert, cipherSuites: [AES128-SHA, AES128-SHA]}"),
        Warning,
        "spec.servers[0].tls.cipherSuites",
        "ignoring duplicate cipher suites: [AES128-SHA]",
    );
}

/// ISTIO_MUTUAL uses Istio's certificates: none may be configured.
#[test]
fn istio_mutual_takes_no_certificates() {
    let cases = [
        (
            "serverCertificate: c.pem",
            "serverCertificate",
            "ISTIO_MUTUAL TLS cannot have associated server certificate",
        ),
        (
            "privateKey: k.pem",
            "privateKey",
            "ISTIO_MUTUAL TLS cannot have associated private key",
        ),
        (
            "caCertificates: ca.pem",
            "caCertificates",
            "ISTIO_MUTUAL TLS cannot have associated CA bundle",
        ),
        (
            "tlsCertificates: [{serverCertificate: c.pem, privateKey: k.pem}]",
            "tlsCertificates",
            "ISTIO_MUTUAL TLS cannot have associated tlsCertificates",
        ),
        (
            "credentialName: cert",
            "credentialName",
            "ISTIO_MUTUAL TLS cannot have associated credentialName",
        ),
        (
            "credentialNames: [rsa, ecdsa]",
            "credentialNames",
            "ISTIO_MUTUAL TLS cannot have associated credentialNames",
        ),
    ];
    for (field_yaml, field, message) in cases {
        assert_finding(
            &server(&format!(
                "port: {{number: 443, name: tls, protocol: TLS}}\nhosts: [example.com]\ntls: {{mode: ISTIO_MUTUAL, {field_yaml}}}"
            )),
            Error,
            &format!("spec.servers[0].tls.{field}"),
            message,
        );
    }
}

/// Passthrough modes ignore certificates (a warning).
#[test]
fn passthrough_ignores_certificates() {
    let yaml = server(
        "port: {number: 443, name: tls, protocol: TLS}\nhosts: [example.com]\ntls: {mode: AUTO_PASSTHROUGH, credentialName: cert}",
    );
    assert_no_errors(&yaml);
    assert_finding(
        &yaml,
        Warning,
        "spec.servers[0].tls.mode",
        "AUTO_PASSTHROUGH mode does not use certificates, they will be ignored",
    );
}

/// One certificate source at a time.
#[test]
fn one_certificate_source() {
    assert_finding(
        &https("{mode: SIMPLE, credentialName: cert, serverCertificate: c.pem, privateKey: k.pem}"),
        Error,
        "spec.servers[0].tls",
        "only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should be specified",
    );
}

/// SIMPLE TLS without a credential needs a certificate and a key.
#[test]
fn simple_tls_needs_certificate_and_key() {
    assert_finding(
        &https("{mode: SIMPLE, privateKey: k.pem}"),
        Error,
        "spec.servers[0].tls.serverCertificate",
        "SIMPLE TLS requires a server certificate",
    );
    assert_finding(
        &https("{mode: SIMPLE, serverCertificate: c.pem}"),
        Error,
        "spec.servers[0].tls.privateKey",
        "SIMPLE TLS requires a private key",
    );
}

/// MUTUAL (and OPTIONAL_MUTUAL) TLS without a credential needs a client CA bundle.
#[test]
fn mutual_tls_needs_client_ca() {
    assert_finding(
        &https("{mode: OPTIONAL_MUTUAL, serverCertificate: c.pem, privateKey: k.pem}"),
        Error,
        "spec.servers[0].tls.caCertificates",
        "MUTUAL TLS requires a client CA bundle",
    );
}

/// Each inline certificate pair is complete.
#[test]
fn tls_certificates_are_complete() {
    assert_finding(
        &https(
            "{mode: MUTUAL, caCertificates: ca.pem, tlsCertificates: [{serverCertificate: a.pem, privateKey: a.key}, {serverCertificate: b.pem}]}",
        ),
        Error,
        "spec.servers[0].tls.tlsCertificates[1].privateKey",
        "MUTUAL TLS requires a private key",
    );
}

/// At most two inline certificates: Istio warns about a third, and the CRD (`maxItems: 2`)
/// rejects it.
#[test]
fn at_most_two_certificates() {
    let yaml = https(
        "{mode: SIMPLE, tlsCertificates: [{serverCertificate: a, privateKey: a}, {serverCertificate: b, privateKey: b}, {serverCertificate: c, privateKey: c}]}",
    );
    assert_finding(
        &yaml,
        Warning,
        "spec.servers[0].tls.tlsCertificates",
        "SIMPLE TLS can support up to 2 server certificates",
    );
    assert_finding(
        &yaml,
        Error,
        "spec.servers[0].tls.tlsCertificates",
        "Too many: 3: must have at most 2 items",
    );
}

/// CRD: at most two credential names (one RSA, one ECDSA).
#[test]
fn at_most_two_credential_names() {
    assert_finding(
        &https("{mode: SIMPLE, credentialNames: [a, b, c]}"),
        Error,
        "spec.servers[0].tls.credentialNames",
        "Too many: 3: must have at most 2 items",
    );
    assert_clean(&https(
        "{mode: SIMPLE, credentialNames: [rsa-cert, ecdsa-cert]}",
    ));
}

/// A CRL comes with the credential when a credential is used.
#[test]
fn crl_not_with_credential_name() {
    assert_finding(
        &server(
            "port: {number: 443, name: tls, protocol: TLS}\nhosts: [example.com]\ntls: {mode: PASSTHROUGH, credentialName: cert, caCrl: crl.pem}",
        ),
        Error,
        "spec.servers[0].tls.caCrl",
        "CRL is not supported with credentialName. CRL has to be specified in the credential",
    );
}

/// SIMPLE TLS does not check client certificates, so a CRL makes no sense.
#[test]
fn crl_not_with_simple_tls() {
    assert_finding(
        &https("{mode: SIMPLE, serverCertificate: c.pem, privateKey: k.pem, caCrl: crl.pem}"),
        Error,
        "spec.servers[0].tls.caCrl",
        "CRL is not supported with SIMPLE TLS",
    );
}

// ---- valid configurations ---------------------------------------------------------------

/// A gateway with HTTP, HTTPS (several credential styles), TLS passthrough and TCP servers
/// has no finding at all.
#[test]
fn complete_gateway_is_clean() {
    assert_clean(&gw(r#"selector: {istio: ingressgateway}
servers:
- port: {number: 80, name: http, protocol: HTTP}
  hosts: ["*/bookinfo.example.com"]
  tls: {httpsRedirect: true}
- port: {number: 443, name: https, protocol: HTTPS}
  hosts: ["bookinfo.example.com"]
  tls: {mode: SIMPLE, credentialName: bookinfo-cert, minProtocolVersion: TLSV1_2}
- port: {number: 8443, name: https-mutual, protocol: HTTPS}
  hosts: ["prod/api.example.com"]
  tls: {mode: MUTUAL, serverCertificate: /etc/certs/c.pem, privateKey: /etc/certs/k.pem, caCertificates: /etc/certs/ca.pem, caCrl: /etc/certs/crl.pem}
- port: {number: 15443, name: tls, protocol: TLS}
  hosts: ["*.local"]
  tls: {mode: AUTO_PASSTHROUGH}
- port: {number: 31400, name: tcp, protocol: TCP}
  hosts: ["*"]"#));
}

/// Istio's sample Gateways are accepted.
#[test]
fn istio_samples_are_accepted() {
    let Some(dir) = envoy_harness::shared_dir("corpus/istio", "gateway istio_samples") else {
        return;
    };
    for file in [
        "bookinfo-gateway.yaml",
        "expose-istiod.yaml",
        "expose-istiod-https.yaml",
        "certmanager-gateway.yaml",
        "helloworld-gateway.yaml",
        "httpbin-gateway.yaml",
        "istioio-ingress-httpbin-gateway.yaml",
    ] {
        let Ok(yaml) = std::fs::read_to_string(dir.join(file)) else {
            panic!("cannot read {file}");
        };
        assert_no_errors(&yaml);
    }
}
