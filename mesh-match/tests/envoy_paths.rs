//! Path normalization against Envoy 1.40, target by target.
//!
//! `tests/data/envoy-paths.tsv` records what a real Envoy 1.40.0, configured as istiod
//! configures it for each `meshConfig.pathNormalization`, did with 160 hostile request
//! targets (dot segments, `..;` path parameters, escapes, nested escapes, slashes and
//! backslashes, bytes that must be escaped, fragments): the path the upstream received, or
//! Envoy's status.
//!
//! - `normalization_matches_envoy_on_every_recorded_target` (pure, always runs): the
//!   normalizer gives the recorded answer for every target under every mode.
//! - `the_recorded_table_is_what_envoy_1_40_does` runs Envoy (CI installs it; elsewhere it is
//!   skipped with a message when Envoy is missing) and checks the table against it, so the
//!   data cannot drift from Envoy. With `ENVOY_RECORD=1` it rewrites the table from Envoy's
//!   answers instead.

use envoy_harness::{EchoUpstream, Envoy, raw};
use mesh_match::{PathNormalization, normalize_target};

const TABLE: &str = include_str!("data/envoy-paths.tsv");

const MODES: [PathNormalization; 4] = [
    PathNormalization::None,
    PathNormalization::Base,
    PathNormalization::MergeSlashes,
    PathNormalization::DecodeAndMergeSlashes,
];

/// One recorded target: what Envoy did under each mode, in the order of [`MODES`].
struct Row<'a> {
    target: &'a str,
    answers: [&'a str; 4],
}

fn rows() -> Vec<Row<'static>> {
    TABLE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            assert_eq!(cells.len(), 5, "a row has a target and four answers: {l:?}");
            Row {
                target: cells[0],
                answers: [cells[1], cells[2], cells[3], cells[4]],
            }
        })
        .collect()
}

/// Our answer in the table's terms: the normalized target, or Envoy's status for a path it
/// refuses (400).
fn ours(target: &str, mode: PathNormalization) -> String {
    match normalize_target(target, mode) {
        Ok(p) => p.into_owned(),
        Err(_) => "400".to_owned(),
    }
}

/// Every recorded target normalizes under every mode exactly as Envoy 1.40 normalized it,
/// and the table is large enough to mean something (at least 75 targets).
#[test]
fn normalization_matches_envoy_on_every_recorded_target() {
    let rows = rows();
    assert!(rows.len() >= 75, "only {} targets", rows.len());
    let mut wrong = Vec::new();
    for row in &rows {
        for (mode, want) in MODES.iter().zip(row.answers) {
            let got = ours(row.target, *mode);
            if got != want {
                wrong.push(format!(
                    "{:<34} {mode:<24} envoy {want:<30} ours {got}",
                    row.target
                ));
            }
        }
    }
    println!(
        "{} targets x {} modes: {} agree with Envoy",
        rows.len(),
        MODES.len(),
        rows.len() * MODES.len() - wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "differences from Envoy:\n{}",
        wrong.join("\n")
    );
}

/// An Envoy bootstrap with istiod's HTTP connection manager for `mode` (the settings istiod's
/// `buildHTTPConnectionManager` writes for `meshConfig.pathNormalization`) and one route to
/// the echo upstream.
fn bootstrap(mode: PathNormalization, upstream_port: u16) -> String {
    let (normalize, merge, escaped) = match mode {
        PathNormalization::None => (false, false, "KEEP_UNCHANGED"),
        PathNormalization::Base => (true, false, "KEEP_UNCHANGED"),
        PathNormalization::MergeSlashes => (true, true, "KEEP_UNCHANGED"),
        PathNormalization::DecodeAndMergeSlashes => (true, true, "UNESCAPE_AND_FORWARD"),
    };
    format!(
        r#"
admin:
  address:
    socket_address: {{address: 127.0.0.1, port_value: 0}}
static_resources:
  listeners:
  - name: gateway
    address:
      socket_address: {{address: 127.0.0.1, port_value: 0}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: gateway
          codec_type: AUTO
          use_remote_address: true
          normalize_path: {normalize}
          merge_slashes: {merge}
          path_with_escaped_slashes_action: {escaped}
          stream_idle_timeout: 0s
          server_name: istio-envoy
          upgrade_configs:
          - upgrade_type: websocket
          http_filters:
          - name: envoy.filters.http.fault
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
          - name: envoy.filters.http.cors
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          route_config:
            name: http.80
            validate_clusters: false
            ignore_port_in_host_matching: true
            virtual_hosts:
            - name: site.example.com:80
              domains: [site.example.com]
              routes:
              - match: {{prefix: /, case_sensitive: true}}
                route:
                  cluster: outbound|80||echo.demo.svc.cluster.local
                  timeout: 0s
  clusters:
  - name: outbound|80||echo.demo.svc.cluster.local
    type: STATIC
    connect_timeout: 10s
    load_assignment:
      cluster_name: outbound|80||echo.demo.svc.cluster.local
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {{address: 127.0.0.1, port_value: {upstream_port}}}
"#
    )
}

/// What Envoy does with `target` under the running configuration, in the table's terms.
fn envoy_answer(envoy: &Envoy, upstream: &EchoUpstream, target: &str) -> String {
    let before = upstream.received().len();
    let request =
        format!("GET {target} HTTP/1.1\r\nhost: site.example.com\r\nconnection: close\r\n\r\n");
    let reply = raw::send(envoy.listener(0), request.as_bytes());
    let seen = upstream.received();
    match seen.get(before) {
        Some(r) => r.target.clone(),
        None => reply
            .status
            .map_or_else(|| "no-answer".to_owned(), |s| s.to_string()),
    }
}

/// The table is what Envoy 1.40 does today: each target under each mode, through a real
/// Envoy with istiod's settings for that mode. `ENVOY_RECORD=1` rewrites the table instead.
#[test]
fn the_recorded_table_is_what_envoy_1_40_does() {
    let Some(bin) = Envoy::binary_or_skip("the_recorded_table_is_what_envoy_1_40_does") else {
        return;
    };
    let rows = rows();
    let upstream = EchoUpstream::start("echo");
    let mut measured: Vec<[String; 4]> = vec![Default::default(); rows.len()];
    for (m, mode) in MODES.iter().enumerate() {
        let envoy = Envoy::start(&bin, &bootstrap(*mode, upstream.addr().port()))
            .unwrap_or_else(|e| panic!("envoy starts under {mode}: {e}"));
        for (row, answers) in rows.iter().zip(measured.iter_mut()) {
            answers[m] = envoy_answer(&envoy, &upstream, row.target);
        }
    }
    if std::env::var_os("ENVOY_RECORD").is_some() {
        let header: String = TABLE
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let body: String = rows
            .iter()
            .zip(&measured)
            .map(|(row, a)| format!("{}\t{}\t{}\t{}\t{}\n", row.target, a[0], a[1], a[2], a[3]))
            .collect();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/envoy-paths.tsv");
        std::fs::write(path, header + &body).expect("write the table");
        println!("recorded {} targets into {path}", rows.len());
        return;
    }
    let mut wrong = Vec::new();
    for (row, answers) in rows.iter().zip(&measured) {
        for ((mode, recorded), envoy) in MODES.iter().zip(row.answers).zip(answers) {
            if recorded != envoy {
                wrong.push(format!(
                    "{:<34} {mode:<24} table {recorded:<30} envoy {envoy}",
                    row.target
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the table no longer matches Envoy (re-record with ENVOY_RECORD=1):\n{}",
        wrong.join("\n")
    );
}
