//! The listeners of a Gateway API Gateway, by port: a request's host picks the most specific
//! listener hostname of its port (exact, then the longest wildcard suffix, then a listener
//! without hostname), then the most specific route hostname among that listener's virtual
//! hosts. Lookups cost a few hash probes per label of the host.

use crate::index::HostIndex;

/// The listeners of one port.
#[derive(Clone, Debug, Default)]
struct Port {
    port: u16,
    /// Listener hostname (`*` for none) -> slot.
    listeners: HostIndex,
    /// Per slot: route hostname -> virtual host index.
    hosts: Vec<HostIndex>,
}

/// The listener index of a Gateway API Gateway.
#[derive(Clone, Debug, Default)]
pub(crate) struct Listeners {
    ports: Vec<Port>,
}

impl Listeners {
    fn port_mut(&mut self, port: u16) -> &mut Port {
        if let Some(i) = self.ports.iter().position(|p| p.port == port) {
            return &mut self.ports[i];
        }
        self.ports.push(Port {
            port,
            ..Port::default()
        });
        let last = self.ports.len() - 1;
        &mut self.ports[last]
    }

    /// Adds a listener of `port` with `hostname` (`*` for none); returns its slot.
    pub(crate) fn add_listener(&mut self, port: u16, hostname: &str) -> usize {
        let p = self.port_mut(port);
        let slot = p.hosts.len();
        p.hosts.push(HostIndex::default());
        p.listeners.insert(&hostname.to_ascii_lowercase(), slot);
        slot
    }

    /// Adds a virtual host for `hostname` to the listener `slot` of `port`.
    pub(crate) fn add_host(&mut self, port: u16, slot: usize, hostname: &str, vhost: usize) {
        let p = self.port_mut(port);
        if let Some(h) = p.hosts.get_mut(slot) {
            h.insert(hostname, vhost);
        }
    }

    /// The virtual host for a host without port (in any case), on `port`.
    #[inline]
    pub(crate) fn lookup(&self, port: u16, host: &str) -> Option<usize> {
        let p = self.ports.iter().find(|p| p.port == port)?;
        let slot = p.listeners.lookup(host)?;
        p.hosts.get(slot)?.lookup(host)
    }
}
