//! Round trip: a resource written as YAML (as `kubectl get -o yaml` would print it) and read
//! back is the same resource, for generated VirtualServices, DestinationRules, Gateways and
//! ServiceEntries.

use std::collections::BTreeMap;

use mesh_model::destination_rule::{
    ConnectionPoolSettings, DestinationRule, HttpSettings, LoadBalancerSettings, OutlierDetection,
    SimpleLb, Subset, TcpSettings, TrafficPolicy,
};
use mesh_model::gateway::{Gateway, Port, Server, ServerTlsMode, ServerTlsSettings};
use mesh_model::service_entry::{Location, Resolution, ServiceEntry, ServicePort, WorkloadEntry};
use mesh_model::virtual_service::{
    Abort, Delay, Destination, HeaderOperations, Headers, HttpFaultInjection, HttpMatchRequest,
    HttpMirrorPolicy, HttpRedirect, HttpRetry, HttpRewrite, HttpRoute, HttpRouteDestination,
    PortSelector, StringMatch, VirtualService,
};
use mesh_model::{AnyResource, Duration, Loader, Percent, Resource, Spec, to_yaml};
use proptest::prelude::*;

/// Names as Kubernetes and Istio write them, plus strings YAML must quote (`yes`, `1.0`,
/// `null`, `*`, `: `, `#`, leading spaces, non-ASCII).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}",
        Just("yes".to_owned()),
        Just("on".to_owned()),
        Just("1.0".to_owned()),
        Just("null".to_owned()),
        Just("*".to_owned()),
        Just("a: b".to_owned()),
        Just("# not a comment".to_owned()),
        Just(" leading".to_owned()),
        Just("émoji ✓".to_owned()),
        Just("quote\"d".to_owned()),
        Just("".to_owned()),
    ]
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,10}"
}

fn map() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(name(), text(), 0..3)
}

fn duration() -> impl Strategy<Value = Duration> {
    (0i64..100_000_000_000).prop_map(Duration::from_nanos)
}

fn percent() -> impl Strategy<Value = Percent> {
    prop_oneof![Just(0.0), Just(100.0), 0.0f64..100.0].prop_map(Percent::new)
}

fn string_match() -> impl Strategy<Value = StringMatch> {
    prop_oneof![
        text().prop_map(StringMatch::exact),
        text().prop_map(StringMatch::prefix),
        text().prop_map(StringMatch::regex),
        Just(StringMatch::default()),
    ]
}

fn destination() -> impl Strategy<Value = Destination> {
    (
        name(),
        prop::option::of(name()),
        prop::option::of(1u32..65536),
    )
        .prop_map(|(host, subset, port)| Destination {
            host,
            subset: subset.unwrap_or_default(),
            port: port.map(|number| PortSelector { number }),
        })
}

fn match_request() -> impl Strategy<Value = HttpMatchRequest> {
    (
        prop::option::of(string_match()),
        prop::option::of(string_match()),
        prop::collection::btree_map("[a-z-]{1,8}", string_match(), 0..3),
        prop::collection::btree_map("[a-z]{1,5}", string_match(), 0..2),
        map(),
        any::<bool>(),
        0u32..70000,
        prop::collection::vec(name(), 0..2),
    )
        .prop_map(
            |(
                uri,
                method,
                headers,
                query_params,
                source_labels,
                ignore_uri_case,
                port,
                gateways,
            )| {
                HttpMatchRequest {
                    uri,
                    method: method.map(Box::new),
                    headers: headers.into(),
                    query_params: query_params.into(),
                    source_labels,
                    ignore_uri_case,
                    port,
                    gateways,
                    ..Default::default()
                }
            },
        )
}

fn headers() -> impl Strategy<Value = Headers> {
    (map(), map(), prop::collection::vec(name(), 0..2)).prop_map(|(set, add, remove)| Headers {
        request: Some(HeaderOperations { set, add, remove }),
        response: None,
    })
}

fn http_route() -> impl Strategy<Value = HttpRoute> {
    (
        text(),
        prop::collection::vec(match_request(), 0..3),
        prop::collection::vec(
            (destination(), -5i32..1000, prop::option::of(headers())).prop_map(
                |(d, weight, headers)| HttpRouteDestination {
                    destination: Some(d),
                    weight,
                    headers: headers.map(Box::new),
                },
            ),
            0..3,
        ),
        prop::option::of(duration()),
        prop::option::of((-1i32..5, prop::option::of(duration()), text()).prop_map(
            |(attempts, per_try_timeout, retry_on)| HttpRetry {
                attempts,
                per_try_timeout,
                retry_on,
                ..Default::default()
            },
        )),
        prop::option::of(
            (
                prop::option::of(duration()),
                prop::option::of(percent()),
                0u16..600,
                prop::option::of(percent()),
            )
                .prop_map(|(fixed_delay, dp, status, ap)| HttpFaultInjection {
                    delay: Some(Delay {
                        fixed_delay,
                        percentage: dp,
                        ..Default::default()
                    }),
                    abort: Some(Abort {
                        http_status: Some(i32::from(status)),
                        percentage: ap,
                        ..Default::default()
                    }),
                }),
        ),
        prop::option::of((destination(), prop::option::of(percent()))),
        prop::option::of((text(), text()).prop_map(|(uri, authority)| HttpRewrite {
            uri,
            authority,
            uri_regex_rewrite: None,
        })),
        prop::option::of(
            (text(), 0u32..400).prop_map(|(uri, redirect_code)| HttpRedirect {
                uri,
                redirect_code,
                ..Default::default()
            }),
        ),
    )
        .prop_map(
            |(name, r#match, route, timeout, retries, fault, mirror, rewrite, redirect)| {
                let (mirror, mirror_percentage, mirrors) = match mirror {
                    Some((d, p)) => (
                        Some(d.clone()),
                        p,
                        vec![HttpMirrorPolicy {
                            destination: Some(d),
                            percentage: p,
                        }],
                    ),
                    None => (None, None, Vec::new()),
                };
                HttpRoute {
                    name,
                    r#match,
                    route,
                    timeout,
                    retries: retries.map(Box::new),
                    fault: fault.map(Box::new),
                    mirror: mirror.map(Box::new),
                    mirror_percentage,
                    mirrors,
                    rewrite: rewrite.map(Box::new),
                    redirect: redirect.map(Box::new),
                    ..Default::default()
                }
            },
        )
}

fn virtual_service() -> impl Strategy<Value = VirtualService> {
    (
        prop::collection::vec(text(), 0..3),
        prop::collection::vec(name(), 0..2),
        prop::collection::vec(http_route(), 0..3),
        prop::collection::vec(
            prop_oneof![Just(".".to_owned()), Just("*".to_owned()), name()],
            0..2,
        ),
    )
        .prop_map(|(hosts, gateways, http, export_to)| VirtualService {
            hosts,
            gateways,
            http,
            export_to,
            ..Default::default()
        })
}

fn traffic_policy() -> impl Strategy<Value = TrafficPolicy> {
    (
        prop::option::of(prop_oneof![
            Just(SimpleLb::RoundRobin),
            Just(SimpleLb::LeastRequest),
            Just(SimpleLb::Random)
        ]),
        0i32..100,
        0i32..100,
        prop::option::of(duration()),
        prop::option::of(0u32..10),
        prop::option::of(duration()),
    )
        .prop_map(
            |(simple, max_conn, pending, connect, c5xx, ejection)| TrafficPolicy {
                load_balancer: simple.map(|s| LoadBalancerSettings {
                    simple: Some(s),
                    ..Default::default()
                }),
                connection_pool: Some(ConnectionPoolSettings {
                    tcp: Some(TcpSettings {
                        max_connections: max_conn,
                        connect_timeout: connect,
                        ..Default::default()
                    }),
                    http: Some(HttpSettings {
                        http1_max_pending_requests: pending,
                        ..Default::default()
                    }),
                }),
                outlier_detection: Some(OutlierDetection {
                    consecutive_5xx_errors: c5xx,
                    base_ejection_time: ejection,
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
}

fn destination_rule() -> impl Strategy<Value = DestinationRule> {
    (
        name(),
        prop::option::of(traffic_policy()),
        prop::collection::vec((name(), map(), prop::option::of(traffic_policy())), 0..3),
    )
        .prop_map(|(host, traffic_policy, subsets)| DestinationRule {
            host,
            traffic_policy,
            subsets: subsets
                .into_iter()
                .map(|(name, labels, traffic_policy)| Subset {
                    name,
                    labels,
                    traffic_policy,
                })
                .collect(),
            ..Default::default()
        })
}

fn gateway() -> impl Strategy<Value = Gateway> {
    (
        map(),
        prop::collection::vec(
            (
                1u32..65536,
                prop_oneof![Just("HTTP"), Just("HTTPS"), Just("TCP")],
                name(),
                prop::collection::vec(text(), 1..3),
                any::<bool>(),
            ),
            0..3,
        ),
    )
        .prop_map(|(selector, servers)| Gateway {
            selector,
            servers: servers
                .into_iter()
                .map(|(number, protocol, name, hosts, redirect)| Server {
                    port: Some(Port {
                        number,
                        protocol: protocol.to_owned(),
                        name,
                        target_port: 0,
                    }),
                    hosts,
                    tls: redirect.then(|| ServerTlsSettings {
                        https_redirect: true,
                        mode: ServerTlsMode::Simple,
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect(),
        })
}

fn service_entry() -> impl Strategy<Value = ServiceEntry> {
    (
        prop::collection::vec(text(), 1..3),
        prop::collection::vec((1u32..65536, name()), 0..3),
        prop_oneof![
            Just(Resolution::None),
            Just(Resolution::Static),
            Just(Resolution::Dns)
        ],
        any::<bool>(),
        prop::collection::vec(
            (
                name(),
                map(),
                prop::collection::btree_map(name(), 1u32..65536, 0..2),
            ),
            0..3,
        ),
    )
        .prop_map(
            |(hosts, ports, resolution, internal, endpoints)| ServiceEntry {
                hosts,
                ports: ports
                    .into_iter()
                    .map(|(number, name)| ServicePort {
                        number,
                        protocol: "HTTP".into(),
                        name,
                        target_port: 0,
                    })
                    .collect(),
                resolution,
                location: if internal {
                    Location::MeshInternal
                } else {
                    Location::MeshExternal
                },
                endpoints: endpoints
                    .into_iter()
                    .map(|(address, labels, ports)| WorkloadEntry {
                        address,
                        labels,
                        ports,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
        )
}

fn resource<S: Spec>(
    spec: S,
    ns: String,
    name: String,
    labels: BTreeMap<String, String>,
) -> Resource<S> {
    let mut r = Resource::new(&ns, &name, spec);
    r.metadata.labels = labels;
    r
}

fn read_back(yaml: &str) -> AnyResource {
    let loaded = Loader::new().load_str(yaml, None);
    assert!(loaded.errors.is_empty(), "{:?}\n{yaml}", loaded.errors);
    let r = loaded.resources;
    if let Some(x) = r.virtual_services.into_iter().next() {
        return AnyResource::VirtualService(x);
    }
    if let Some(x) = r.destination_rules.into_iter().next() {
        return AnyResource::DestinationRule(x);
    }
    if let Some(x) = r.gateways.into_iter().next() {
        return AnyResource::Gateway(x);
    }
    AnyResource::ServiceEntry(r.service_entries.into_iter().next().expect("a resource"))
}

macro_rules! round_trip {
    ($test:ident, $strategy:expr, $variant:ident) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]
            /// Written as YAML and read back, the resource is unchanged.
            #[test]
            fn $test(spec in $strategy, ns in name(), n in name(), labels in map()) {
                let original = resource(spec, ns, n, labels);
                let yaml = to_yaml(&original).expect("serializes");
                match read_back(&yaml) {
                    AnyResource::$variant(back) => {
                        prop_assert_eq!(&back.spec, &original.spec, "{}", yaml);
                        prop_assert_eq!(&back.metadata, &original.metadata);
                        prop_assert_eq!(back.api_version, original.api_version);
                    }
                    other => prop_assert!(false, "read back as {:?}", other),
                }
            }
        }
    };
}

round_trip!(
    virtual_services_round_trip,
    virtual_service(),
    VirtualService
);
round_trip!(
    destination_rules_round_trip,
    destination_rule(),
    DestinationRule
);
round_trip!(gateways_round_trip, gateway(), Gateway);
round_trip!(service_entries_round_trip, service_entry(), ServiceEntry);
