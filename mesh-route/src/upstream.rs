//! The upstream endpoints of ServiceEntries, as a proxy connects to them: compiled with the
//! rest of the configuration, so that an executor never reads a ServiceEntry.

use std::collections::{BTreeMap, HashMap};

use mesh_model::Resources;
use mesh_model::host::resolve_short_name;
use mesh_model::service_entry::Resolution;

/// The upstream side of one service port of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UpstreamPort {
    /// The endpoint's port for it.
    pub port: u16,
    /// Whether the port speaks HTTP/2 (protocol `HTTP2`, `GRPC`, `GRPC-WEB`).
    pub http2: bool,
}

/// One endpoint of a ServiceEntry host (`STATIC` or `DNS` resolution): where it is, its
/// labels (which subsets select on), and its port for each service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamEndpoint {
    /// The host it serves, fully qualified.
    pub host: String,
    /// A name unique within the host: `namespace/serviceentry#index:address`.
    pub id: String,
    /// The address to connect to (an IP address or a DNS name; IPv6 without brackets).
    pub address: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its port and protocol for each service port: the port of the endpoint's
    /// `endpoints[].ports` entry named as the service port, else the service port's
    /// `targetPort`, else its number.
    pub ports: HashMap<u16, UpstreamPort>,
}

/// The endpoints of every ServiceEntry of `resources` with `STATIC` or `DNS` resolution
/// (Unix-socket and empty addresses are left out), one per endpoint and host.
pub fn upstream_endpoints(resources: &Resources) -> Vec<UpstreamEndpoint> {
    let mut out = Vec::new();
    for se in &resources.service_entries {
        if !matches!(
            se.spec.resolution,
            Resolution::Static | Resolution::Dns | Resolution::DnsRoundRobin
        ) {
            continue;
        }
        for (i, ep) in se.spec.endpoints.iter().enumerate() {
            if ep.address.is_empty() || ep.address.starts_with("unix://") {
                continue;
            }
            let mut ports = HashMap::new();
            for p in &se.spec.ports {
                let Ok(number) = u16::try_from(p.number) else {
                    continue;
                };
                let target = ep
                    .ports
                    .get(&p.name)
                    .copied()
                    .or((p.target_port != 0).then_some(p.target_port))
                    .and_then(|t| u16::try_from(t).ok())
                    .unwrap_or(number);
                let http2 = matches!(
                    p.protocol.to_ascii_uppercase().as_str(),
                    "HTTP2" | "GRPC" | "GRPC-WEB"
                );
                ports.insert(
                    number,
                    UpstreamPort {
                        port: target,
                        http2,
                    },
                );
            }
            for h in &se.spec.hosts {
                out.push(UpstreamEndpoint {
                    host: resolve_short_name(h, se.namespace()),
                    id: format!("{}/{}#{i}:{}", se.namespace(), se.name(), ep.address),
                    address: ep.address.clone(),
                    labels: ep.labels.clone(),
                    ports: ports.clone(),
                });
            }
        }
    }
    out
}
