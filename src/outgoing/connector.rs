//! [`Checked`]: the TCP connector of outgoing calls. It resolves the host once, checks every
//! address against the [`Destinations`], and hands those very addresses to the TCP connect:
//! nothing looks the name up a second time.

use std::sync::Arc;

use actix_rt::net::TcpStream;
use actix_service::Service;
use actix_tls::connect::tcp::TcpConnectorService;
use actix_tls::connect::{ConnectError, ConnectInfo, Connection, ResolverService};
use awc::http::Uri;
use futures::future::LocalBoxFuture;

use super::Destinations;

/// Resolve, check, connect; a refused destination is a resolver error carrying the
/// [`super::Refused`], which [`super::refusal`] finds again.
#[derive(Clone)]
pub(super) struct Checked {
    destinations: Arc<Destinations>,
    resolver: ResolverService,
    tcp: TcpConnectorService,
}

impl Checked {
    pub(super) fn new(destinations: Arc<Destinations>) -> Checked {
        Checked {
            destinations,
            resolver: ResolverService::default(),
            tcp: TcpConnectorService::default(),
        }
    }
}

impl Service<ConnectInfo<Uri>> for Checked {
    type Response = Connection<Uri, TcpStream>;
    type Error = ConnectError;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_service::always_ready!();

    fn call(&self, info: ConnectInfo<Uri>) -> Self::Future {
        let Checked {
            destinations,
            resolver,
            tcp,
        } = self.clone();
        Box::pin(async move {
            // An IP literal comes back as it is; a name comes back with all its addresses.
            let resolved = resolver.call(info).await?;
            let addrs = resolved.addrs().map(|addr| addr.ip());
            destinations
                .check(resolved.hostname(), addrs)
                .map_err(|refused| ConnectError::Resolver(Box::new(refused)))?;
            tcp.call(resolved).await
        })
    }
}
