//! Where stoker's own outgoing calls may go, and a client that goes nowhere else: for the
//! built-in `http` job type now, for webhooks later.
//!
//! Only public addresses are called unless the operator allows a destination
//! ([`Destinations`], from `--http-allow`): by host name, `*.suffix`, IP address or CIDR range.
//! A [`client`] resolves the host once, checks every address it resolves to, and connects to
//! those very addresses, so a DNS answer that changes between check and connect (rebinding)
//! gains nothing. It follows no redirects: each call is one checked request.

mod connector;
mod rules;
mod special;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use awc::error::{ConnectError, SendRequestError};

pub use rules::{Allow, Destinations, Network, Refused};

/// A client for outgoing calls: it connects only where `destinations` allow, speaks TLS with
/// the web's public roots, follows no redirects and waits at most `timeout` for an answer.
pub fn client(destinations: Arc<Destinations>, timeout: Duration) -> awc::Client {
    let connector = awc::Connector::new()
        .connector(connector::Checked::new(destinations))
        .rustls_0_23(tls());
    awc::Client::builder()
        .connector(connector)
        .disable_redirects()
        .timeout(timeout)
        .finish()
}

/// The refusal behind a call that failed because its destination is not allowed.
pub fn refusal(error: &SendRequestError) -> Option<&Refused> {
    match error {
        SendRequestError::Connect(ConnectError::Resolver(cause)) => cause.downcast_ref(),
        _ => None,
    }
}

/// The TLS settings of every call: the web's public roots, through rustls and ring.
fn tls() -> Arc<rustls::ClientConfig> {
    static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    TLS.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    })
    .clone()
}
