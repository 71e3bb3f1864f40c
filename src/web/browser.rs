//! Keeping browsers out of what they were not sent to (API.md, "Access"). A request that a page
//! of another site made is refused: its `Origin` names another origin than the one it was sent
//! to (`null` included). Without tokens, where being on this machine is the only credential, a
//! request must also name a loopback host in `Host` (a DNS-rebinding page has its own name
//! there) and come straight from its client (behind a proxy every client looks local).
//! Programs that send no `Origin` are unaffected. The API and the dashboard both admit
//! requests here, through [`Access`](super::Access).

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::{HOST, ORIGIN};

use super::ApiError;

/// Headers that proxies add (besides every `x-forwarded-*`): their presence means the peer
/// address is the proxy's.
const PROXY_HEADERS: [&str; 4] = ["forwarded", "via", "x-real-ip", "x-original-forwarded-for"];

/// The prefix of the de-facto proxy headers (`X-Forwarded-For`, `-Host`, `-Proto`, `-Port`...).
const PROXY_HEADER_PREFIX: &str = "x-forwarded-";

/// Which rules a request must pass.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rules {
    /// Refuse a request whose `Origin` is not the server's own.
    pub(super) same_origin: bool,
    /// No tokens: the `Host` must be loopback and no proxy may stand between.
    pub(super) loopback: bool,
}

/// Refuses `request` when it breaks one of `rules`.
pub(super) fn admit(request: &HttpRequest, rules: Rules) -> Result<(), ApiError> {
    if rules.loopback {
        refuse_proxied(request)?;
        refuse_foreign_host(request)?;
    }
    if rules.same_origin {
        refuse_foreign_origin(request)?;
    }
    Ok(())
}

fn refuse_proxied(request: &HttpRequest) -> Result<(), ApiError> {
    let proxied = request
        .headers()
        .keys()
        .map(|name| name.as_str())
        .find(|name| name.starts_with(PROXY_HEADER_PREFIX) || PROXY_HEADERS.contains(name));
    match proxied {
        Some(name) => Err(ApiError::forbidden(format!(
            "this request came through a proxy (it carries `{name}`), and without tokens only \
             direct loopback clients are served: configure tokens (--token or STOKER_TOKENS) \
             to serve behind a proxy"
        ))),
        None => Ok(()),
    }
}

/// The `Host` as the client sent it (the URI's authority in HTTP/2); a request without one
/// comes from no browser.
fn refuse_foreign_host(request: &HttpRequest) -> Result<(), ApiError> {
    let host = match request.headers().get(HOST) {
        Some(value) => value.to_str().unwrap_or_default(),
        None => match request.uri().authority() {
            Some(authority) => authority.as_str(),
            None => return Ok(()),
        },
    };
    match names_loopback(host) {
        true => Ok(()),
        false => Err(ApiError::forbidden(
            "without tokens the Host header must name localhost or a loopback address (this \
             keeps DNS-rebinding pages out): use http://localhost or http://127.0.0.1, or \
             configure tokens to serve other names",
        )),
    }
}

/// Whether `host` (`name[:port]`, `[v6][:port]`) is `localhost` or a loopback address.
fn names_loopback(host: &str) -> bool {
    let (name, port) = match host.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((address, "")) => (address, None),
            Some((address, rest)) => match rest.strip_prefix(':') {
                Some(port) => (address, Some(port)),
                None => return false,
            },
            None => return false,
        },
        None => match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        },
    };
    let port_ok = port.is_none_or(|port| port.parse::<u16>().is_ok());
    let name_ok = name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    port_ok && name_ok
}

fn refuse_foreign_origin(request: &HttpRequest) -> Result<(), ApiError> {
    let Some(origin) = request.headers().get(ORIGIN) else {
        return Ok(());
    };
    let info = request.connection_info();
    let own = canonical(&format!("{}://{}", info.scheme(), info.host()));
    let sent = origin.to_str().ok().and_then(canonical);
    match sent.is_some() && sent == own {
        true => Ok(()),
        false => Err(ApiError::forbidden(format!(
            "a request from a page of another site (Origin `{}`) is refused: this server offers \
             no cross-origin access",
            String::from_utf8_lossy(origin.as_bytes())
        ))),
    }
}

/// `scheme://host[:port]` in one spelling: lower case, without the scheme's default port;
/// `None` for anything else (`null` included).
fn canonical(origin: &str) -> Option<String> {
    let origin = origin.to_ascii_lowercase();
    let (scheme, host) = origin.split_once("://")?;
    if host.is_empty() || host.contains(['/', '?', '#', '@']) {
        return None;
    }
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => "",
    };
    let host = match default_port.is_empty() {
        true => host,
        false => host.strip_suffix(default_port).unwrap_or(host),
    };
    Some(format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::{canonical, names_loopback};

    #[test]
    fn loopback_hosts_are_localhost_and_loopback_addresses_on_any_port() {
        for host in [
            "localhost",
            "LocalHost:8080",
            "127.0.0.1",
            "127.3.4.5:80",
            "[::1]",
            "[::1]:8080",
        ] {
            assert!(names_loopback(host), "{host}");
        }
        for host in [
            "attacker.example:8080",
            "localhost.attacker.example",
            "10.0.0.1",
            "[::2]:8080",
            "localhost:http",
            "[::1]x",
            "::1",
            "",
        ] {
            assert!(!names_loopback(host), "{host}");
        }
    }

    #[test]
    fn origins_compare_in_one_spelling() {
        assert_eq!(
            canonical("HTTP://Example.com:80"),
            canonical("http://example.com")
        );
        assert_eq!(
            canonical("https://example.com:443").as_deref(),
            Some("https://example.com")
        );
        assert_ne!(
            canonical("https://example.com"),
            canonical("http://example.com")
        );
        assert_eq!(canonical("null"), None);
        assert_eq!(canonical("http://example.com/path"), None);
    }
}
