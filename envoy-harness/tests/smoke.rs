//! The harness itself: a real Envoy on loopback forwards to the echo upstream, and a route
//! Envoy has not got answers 404 (Envoy's `route_not_found`).

use envoy_harness::{EchoUpstream, Envoy, raw};

fn bootstrap(upstream_port: u16) -> String {
    format!(
        r#"
admin:
  address:
    socket_address: {{address: 127.0.0.1, port_value: 0}}
static_resources:
  listeners:
  - name: main
    address:
      socket_address: {{address: 127.0.0.1, port_value: 0}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: main
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          route_config:
            virtual_hosts:
            - name: echo
              domains: [echo.example.com]
              routes:
              - match: {{prefix: /}}
                route: {{cluster: echo}}
  clusters:
  - name: echo
    type: STATIC
    load_assignment:
      cluster_name: echo
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {{address: 127.0.0.1, port_value: {upstream_port}}}
"#
    )
}

/// A routed request reaches the echo upstream with its path; an unknown host gets Envoy's 404.
#[test]
fn envoy_forwards_to_the_echo_upstream_and_answers_404_for_unknown_hosts() {
    let Some(bin) = Envoy::binary_or_skip("envoy_forwards_to_the_echo_upstream") else {
        return;
    };
    let upstream = EchoUpstream::start("v1");
    let envoy = Envoy::start(&bin, &bootstrap(upstream.addr().port())).expect("envoy starts");
    let reply = raw::send(
        envoy.listener(0),
        b"GET /hello?x=1 HTTP/1.1\r\nhost: echo.example.com\r\nconnection: close\r\n\r\n",
    );
    assert_eq!(reply.status, Some(200), "{reply:?}");
    assert_eq!(reply.header("x-upstream"), Some("v1"));
    let seen = upstream.received();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].target, "/hello?x=1");
    let json: serde_json::Value = serde_json::from_slice(&reply.body).expect("json body");
    assert_eq!(json["target"], "/hello?x=1");

    let missing = raw::send(
        envoy.listener(0),
        b"GET / HTTP/1.1\r\nhost: other.example.com\r\nconnection: close\r\n\r\n",
    );
    assert_eq!(missing.status, Some(404));
    assert_eq!(envoy.stat("http.main.no_route"), Some(1));

    // `exchange` returns once the answer is whole, without waiting for Envoy to close.
    let again = raw::exchange(
        envoy.listener(0),
        b"GET /again HTTP/1.1\r\nhost: echo.example.com\r\nconnection: close\r\n\r\n",
    );
    assert_eq!(again.status, Some(200), "{again:?}");
    let json: serde_json::Value = serde_json::from_slice(&again.body).expect("json body");
    assert_eq!(json["target"], "/again");
}
