//! The egress policy: which addresses the gateway may connect to. Every outbound connection
//! (OpenAPI documents, JWKS, REST calls, MCP upstreams) goes through the one client of
//! [`super::client`], whose resolver checks each *resolved* address, so a name that resolves
//! to a forbidden address (DNS rebinding included) is refused at connect time, not at config
//! time. A URL whose host is an address literal never reaches a resolver, so
//! [`Egress::check_url`] checks it before the request is sent.
//!
//! The rules, in order: cloud metadata addresses (169.254.0.0/16, fd00:ec2::254) are refused
//! unless `allowMetadataAddresses`; `denyCidrs` are refused; when `allowCidrs` is set, only
//! those networks are reached. The defaults keep loopback and private networks reachable, so
//! the bundled example and a gateway beside its backends work unchanged.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::config::EgressSettings;

/// Why an address is refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EgressError {
    #[error("the egress policy refuses {host} ({addr}): {rule}")]
    Refused {
        host: String,
        addr: IpAddr,
        rule: &'static str,
    },
    #[error("{host} resolves to no address")]
    NoAddress { host: String },
}

/// The policy, shared by the resolver and the literal-address check.
#[derive(Debug, Clone, Default)]
pub struct Egress {
    settings: EgressSettings,
}

impl Egress {
    pub fn new(settings: EgressSettings) -> Self {
        Self { settings }
    }

    /// Why `addr` may not be reached, or `None` when it may.
    pub fn refusal(&self, addr: IpAddr) -> Option<&'static str> {
        let addr = canonical(addr);
        if !self.settings.allow_metadata && is_metadata(addr) {
            return Some(
                "cloud metadata addresses are refused (server.egress.allowMetadataAddresses)",
            );
        }
        if self.settings.deny.iter().any(|n| n.contains(&addr)) {
            return Some("the address is in server.egress.denyCidrs");
        }
        if !self.settings.allow.is_empty() && !self.settings.allow.iter().any(|n| n.contains(&addr))
        {
            return Some("the address is not in server.egress.allowCidrs");
        }
        None
    }

    /// Checks a URL whose host is an address literal (a name is checked when it resolves).
    pub fn check_url(&self, url: &url::Url) -> Result<(), EgressError> {
        let addr = match url.host() {
            Some(url::Host::Ipv4(a)) => IpAddr::V4(a),
            Some(url::Host::Ipv6(a)) => IpAddr::V6(a),
            _ => return Ok(()),
        };
        match self.refusal(addr) {
            Some(rule) => Err(EgressError::Refused {
                host: url.host_str().unwrap_or_default().to_string(),
                addr,
                rule,
            }),
            None => Ok(()),
        }
    }

    /// The addresses of `host` the policy allows; the refusal when it allows none.
    pub fn filter(
        &self,
        host: &str,
        addrs: impl Iterator<Item = SocketAddr>,
    ) -> Result<Vec<SocketAddr>, EgressError> {
        let mut allowed = Vec::new();
        let mut refused = None;
        for a in addrs {
            match self.refusal(a.ip()) {
                None => allowed.push(a),
                Some(rule) => refused = Some((a.ip(), rule)),
            }
        }
        match (allowed.is_empty(), refused) {
            (false, _) => Ok(allowed),
            (true, Some((addr, rule))) => Err(EgressError::Refused {
                host: host.to_string(),
                addr,
                rule,
            }),
            (true, None) => Err(EgressError::NoAddress {
                host: host.to_string(),
            }),
        }
    }

    /// Whether credentials may go to `url`: over https, or plain http to loopback, or
    /// anywhere when `allowPlainHttpCredentials` says so.
    pub fn credentials_allowed(&self, url: &url::Url) -> bool {
        url.scheme() == "https" || self.settings.allow_plain_http_credentials || is_loopback(url)
    }
}

/// Whether `url`'s host is loopback (`localhost`, 127.0.0.0/8, ::1).
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

fn is_metadata(addr: IpAddr) -> bool {
    const AWS_V6: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    match addr {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => a == AWS_V6,
    }
}

/// A resolver for the pooled client that drops the addresses the policy refuses.
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    pub egress: Arc<Egress>,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let egress = self.egress.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed = egress.filter(&host, found)?;
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str], metadata: bool) -> Egress {
        Egress::new(EgressSettings {
            allow: allow.iter().map(|c| c.parse().unwrap()).collect(),
            deny: deny.iter().map(|c| c.parse().unwrap()).collect(),
            allow_metadata: metadata,
            allow_plain_http_credentials: false,
        })
    }

    #[test]
    fn metadata_deny_and_allow_lists() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let default = Egress::default();
        assert!(default.refusal(ip("169.254.169.254")).is_some());
        assert!(
            default.refusal(ip("::ffff:169.254.169.254")).is_some(),
            "mapped IPv4"
        );
        assert!(default.refusal(ip("fd00:ec2::254")).is_some());
        assert!(default.refusal(ip("127.0.0.1")).is_none());
        assert!(default.refusal(ip("10.1.2.3")).is_none());
        assert!(
            policy(&[], &[], true)
                .refusal(ip("169.254.169.254"))
                .is_none()
        );
        let p = policy(&["10.0.0.0/8"], &["10.9.0.0/16"], false);
        assert!(p.refusal(ip("10.1.0.1")).is_none());
        assert!(p.refusal(ip("10.9.0.1")).is_some(), "deny wins");
        assert!(p.refusal(ip("192.168.0.1")).is_some(), "not allowed");
        let e = p
            .check_url(&url::Url::parse("http://192.168.0.1:8080/x").unwrap())
            .unwrap_err();
        assert!(e.to_string().contains("192.168.0.1"), "{e}");
        assert!(
            p.check_url(&url::Url::parse("http://example.com/").unwrap())
                .is_ok()
        );
    }

    #[test]
    fn credentials_over_plain_http_only_to_loopback() {
        let p = Egress::default();
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert!(p.credentials_allowed(&u("https://api.example.com")));
        assert!(p.credentials_allowed(&u("http://127.0.0.1:9000")));
        assert!(p.credentials_allowed(&u("http://localhost")));
        assert!(p.credentials_allowed(&u("http://[::1]:80")));
        assert!(!p.credentials_allowed(&u("http://api.example.com")));
        assert!(!p.credentials_allowed(&u("http://10.0.0.5")));
    }
}
