//! Destinations a client refuses: the proxy's own listening addresses (a request sent there
//! would come back to the proxy, for ever), and, for forwarding to hosts no resource knows,
//! loopback, link-local and unspecified addresses (server-side request forgery).
//!
//! Every way of spelling an address is covered because the check is made on addresses, not
//! on names: IP literals before connecting, names after resolving them (`localhost`,
//! `127.1`, `2130706433` and `0x7f.1` all resolve to 127.0.0.1), and the connected socket
//! last (its peer address; and a peer on this host, whose address the kernel also gives
//! as the local end, at one of the proxy's ports).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::Service;

use crate::BoxError;

/// Addresses a client must not connect to. The default refuses nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DestinationGuard {
    own: Vec<SocketAddr>,
    refuse_local: bool,
    allowed: Vec<(IpAddr, Option<u16>)>,
}

/// Why a destination was refused.
#[derive(Debug, thiserror::Error)]
#[error("destination {addr} refused: {reason}")]
pub struct Refused {
    /// The address.
    pub addr: SocketAddr,
    /// Why.
    pub reason: &'static str,
}

impl DestinationGuard {
    /// A guard that refuses nothing.
    pub fn new() -> Self {
        DestinationGuard::default()
    }

    /// Also refuse the proxy's own listening addresses (data and admin). A listener on an
    /// unspecified address (`0.0.0.0:P`, `[::]:P`) covers port P on every address of this
    /// host. Never allowed, whatever the allow-list says.
    pub fn refusing_own(mut self, addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.own.extend(addrs);
        self
    }

    /// Also refuse loopback (`127.0.0.0/8`, `::1`), link-local (`169.254.0.0/16`,
    /// `fe80::/10`, where cloud metadata services live) and unspecified (`0.0.0.0`, `::`)
    /// addresses, IPv4 ones also in their IPv6-mapped form, except the `allowed` ones (an
    /// address, with a port or for every port).
    pub fn refusing_local(
        mut self,
        allowed: impl IntoIterator<Item = (IpAddr, Option<u16>)>,
    ) -> Self {
        self.refuse_local = true;
        self.allowed
            .extend(allowed.into_iter().map(|(ip, p)| (ip.to_canonical(), p)));
        self
    }

    /// Whether the guard refuses anything.
    pub fn is_empty(&self) -> bool {
        self.own.is_empty() && !self.refuse_local
    }

    /// Checks a destination before connecting.
    pub fn check(&self, addr: SocketAddr) -> Result<(), Refused> {
        let ip = addr.ip().to_canonical();
        let refused = |reason| Err(Refused { addr, reason });
        for own in &self.own {
            if own.port() != addr.port() {
                continue;
            }
            let own_ip = own.ip().to_canonical();
            if own_ip == ip
                || (own_ip.is_unspecified() && (ip.is_loopback() || ip.is_unspecified()))
            {
                return refused("it is one of this proxy's own listening addresses");
            }
        }
        if self.refuse_local && is_local(ip) && !self.allows(ip, addr.port()) {
            return refused(
                "loopback, link-local and unspecified destinations are not forwarded to",
            );
        }
        Ok(())
    }

    /// Checks a connected socket: its peer, and whether the peer is this host (the kernel
    /// gives a connection to one of this host's addresses that address as its local end)
    /// at the port of a listener on an unspecified address.
    fn check_connected(&self, local: SocketAddr, peer: SocketAddr) -> Result<(), Refused> {
        self.check(peer)?;
        let this_host = local.ip().to_canonical() == peer.ip().to_canonical();
        if this_host
            && self
                .own
                .iter()
                .any(|o| o.port() == peer.port() && o.ip().is_unspecified())
        {
            return Err(Refused {
                addr: peer,
                reason: "it is one of this proxy's own listening addresses",
            });
        }
        Ok(())
    }

    /// Whether a resolved address may be kept (ports are checked once connected).
    fn keeps_ip(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        !(self.refuse_local && is_local(ip) && !self.allowed.iter().any(|(a, _)| *a == ip))
    }

    fn allows(&self, ip: IpAddr, port: u16) -> bool {
        self.allowed
            .iter()
            .any(|(a, p)| *a == ip && p.is_none_or(|p| p == port))
    }
}

fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// A resolver that drops the addresses the guard refuses (so that a name is never even
/// connected to at a refused address).
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    gai: GaiResolver,
    guard: Arc<DestinationGuard>,
}

type ResolveFuture =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, std::io::Error>> + Send>>;

impl Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = ResolveFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.gai.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolving = self.gai.call(name.clone());
        let guard = self.guard.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = resolving.await?.collect();
            let kept: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| guard.keeps_ip(a.ip()))
                .collect();
            if kept.is_empty() && !addrs.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!(
                        "{name} resolves only to refused addresses ({})",
                        addrs[0].ip()
                    ),
                ));
            }
            Ok(kept.into_iter())
        })
    }
}

/// An HTTP connector that refuses what its [`DestinationGuard`] refuses: IP literals before
/// connecting, names as they resolve, and the connected socket's peer.
#[derive(Clone, Debug)]
pub struct GuardedConnector {
    http: HttpConnector<GuardedResolver>,
    guard: Arc<DestinationGuard>,
}

impl GuardedConnector {
    /// A connector with Envoy-like defaults (10 s connect timeout, `TCP_NODELAY`).
    pub fn new(guard: DestinationGuard) -> Self {
        let guard = Arc::new(guard);
        let resolver = GuardedResolver {
            gai: GaiResolver::new(),
            guard: guard.clone(),
        };
        let mut http = HttpConnector::new_with_resolver(resolver);
        http.set_connect_timeout(Some(std::time::Duration::from_secs(10)));
        http.set_nodelay(true);
        GuardedConnector { http, guard }
    }

    /// The guard.
    pub fn guard(&self) -> &DestinationGuard {
        &self.guard
    }
}

type ConnectFuture = Pin<Box<dyn Future<Output = Result<TokioIo<TcpStream>, BoxError>> + Send>>;

impl Service<Uri> for GuardedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let guard = self.guard.clone();
        let literal = uri.host().and_then(|h| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .ok()
        });
        if let Some(ip) = literal {
            let port = uri.port_u16().unwrap_or(80);
            if let Err(e) = guard.check(SocketAddr::new(ip, port)) {
                return Box::pin(std::future::ready(Err(e.into())));
            }
        }
        let connecting = self.http.call(uri);
        Box::pin(async move {
            let io = connecting.await?;
            if !guard.is_empty() {
                let stream = io.inner();
                if let (Ok(local), Ok(peer)) = (stream.local_addr(), stream.peer_addr()) {
                    guard.check_connected(local, peer)?;
                }
            }
            Ok(io)
        })
    }
}
