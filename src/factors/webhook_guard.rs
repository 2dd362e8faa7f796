//! Server-side request forgery guard for tenant webhooks (issue 15: one-time codes were POSTed
//! to whatever address a tenant configured, loopback and private ranges included).
//!
//! A webhook may only reach public unicast addresses. The rule is checked twice: when the tenant
//! sets the URL (every address its host resolves to), and when a code is sent, on the address
//! the connection actually uses (the webhook client resolves through [`GuardedResolver`], which
//! drops refused addresses, and IP-literal URLs are checked before the request), so a DNS name
//! that later rebinds to 127.0.0.1 reaches nothing. Redirects are not followed. An operator can
//! allow named hosts or address blocks (`webhook_allow_private`) for test setups and platforms
//! on the same private network.
//!
//! `is_public` and `AllowList` are pure; the resolver does the I/O.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

/// An address block `addr/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Hosts and address blocks the operator allows although they are not public.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    hosts: Vec<String>,
    blocks: Vec<Cidr>,
}

impl AllowList {
    /// Entries: an IP address, a CIDR block (`10.0.0.0/8`, `::1/128`) or a host name (matched
    /// exactly, case-insensitively, on the URL's host).
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut list = Self::default();
        for entry in entries {
            let entry = entry.trim();
            if let Some((addr, prefix)) = entry.split_once('/') {
                let addr: IpAddr = addr
                    .parse()
                    .map_err(|_| format!("`{entry}` is not an address block"))?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                let prefix: u8 = prefix
                    .parse()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(|| format!("`{entry}` has a bad prefix length"))?;
                list.blocks.push(Cidr {
                    addr: canonical(addr),
                    prefix,
                });
            } else if let Ok(addr) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
                let addr = canonical(addr);
                let prefix = if addr.is_ipv4() { 32 } else { 128 };
                list.blocks.push(Cidr { addr, prefix });
            } else if !entry.is_empty()
                && entry
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                list.hosts.push(entry.to_ascii_lowercase());
            } else {
                return Err(format!("`{entry}` is not a host name, address or block"));
            }
        }
        Ok(list)
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.blocks.is_empty()
    }

    fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.contains(&host)
    }

    fn allows_addr(&self, ip: IpAddr) -> bool {
        self.blocks.iter().any(|b| b.contains(ip))
    }

    /// May a connection for `host` go to `ip`?
    pub fn permits(&self, host: &str, ip: IpAddr) -> bool {
        is_public(ip) || self.allows_host(host) || self.allows_addr(ip)
    }
}

/// IPv4-mapped (`::ffff:a.b.c.d`) addresses are judged as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

fn v4_is_public(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || a >= 240 // reserved
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT (RFC 6598)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking (RFC 2544)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99)) // 6to4 relay anycast
}

fn v6_is_public(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Forms that embed an IPv4 address are judged by it: IPv4-compatible (::a.b.c.d),
    // NAT64 (64:ff9b::/96), 6to4 (2002::/16).
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if s[..6] == [0; 6] && !(ip.is_unspecified() || ip.is_loopback()) {
        return v4_is_public(embedded(s[6], s[7]));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return v4_is_public(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return v4_is_public(embedded(s[1], s[2]));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo: tunnels to an arbitrary IPv4 address
        || (s[0] == 0x0100 && s[1..4] == [0; 3])) // discard-only 100::/64
}

/// Is `ip` a public unicast address a webhook may reach?
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => v4_is_public(v4),
        IpAddr::V6(v6) => v6_is_public(v6),
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GuardError {
    #[error("the webhook host does not resolve")]
    Unresolvable,
    #[error(
        "the webhook host resolves to a loopback, private, link-local or otherwise non-public \
         address; refused (an operator may allow it with `webhook_allow_private`)"
    )]
    NotPublic,
}

/// Check a URL's host and every address it resolves to (configuration time).
pub async fn check_host(allow: &AllowList, host: &str, port: u16) -> Result<(), GuardError> {
    let bare = host.trim_matches(['[', ']']);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return if allow.permits(bare, ip) {
            Ok(())
        } else {
            Err(GuardError::NotPublic)
        };
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|_| GuardError::Unresolvable)?
        .collect();
    if addrs.is_empty() {
        return Err(GuardError::Unresolvable);
    }
    if addrs.iter().all(|a| allow.permits(bare, a.ip())) {
        Ok(())
    } else {
        Err(GuardError::NotPublic)
    }
}

/// The webhook client's DNS resolver: system resolution, then only permitted addresses.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    allow: Arc<AllowList>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow.permits(&host, a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(
                    Box::new(GuardError::NotPublic) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client for webhook deliveries: guarded resolution, no redirects, no proxies.
pub fn client(allow: AllowList) -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver {
            allow: Arc::new(allow),
        }))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap_or_else(|e| {
            // Building fails only if the TLS backend cannot initialise; deliveries then fail
            // and are retried, which the outbox reports.
            tracing::error!(error = %e, "webhook client could not be built");
            reqwest::Client::new()
        })
}

/// Check a URL just before a delivery: IP literals do not pass through the resolver.
pub fn check_literal(allow: &AllowList, url: &reqwest::Url) -> Result<(), GuardError> {
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    match host.parse::<IpAddr>() {
        Ok(ip) if !allow.permits(host, ip) => Err(GuardError::NotPublic),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn non_public_addresses_are_refused() {
        for refused in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254", // cloud metadata
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "198.18.0.1",
            "192.0.2.1",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "fec0::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",  // NAT64 of 169.254.169.254
            "2002:7f00:1::1",      // 6to4 of 127.0.0.1
            "2001:0:4136:e378::1", // Teredo
            "2001:db8::1",
            "100::1",
        ] {
            assert!(!is_public(ip(refused)), "{refused} must be refused");
        }
        for allowed in [
            "93.184.216.34",
            "1.1.1.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:93.184.216.34",
            "2002:5db8:d822::1",
        ] {
            assert!(is_public(ip(allowed)), "{allowed} is public");
        }
    }

    #[test]
    fn the_allow_list_takes_hosts_addresses_and_blocks() {
        let list = AllowList::parse(&["127.0.0.0/8".into(), "::1".into(), "Hooks.Internal".into()])
            .unwrap();
        assert!(list.permits("x", ip("127.0.0.9")));
        assert!(list.permits("x", ip("::ffff:127.0.0.9")));
        assert!(list.permits("x", ip("::1")));
        assert!(list.permits("hooks.internal", ip("10.0.0.1")));
        assert!(!list.permits("other.internal", ip("10.0.0.1")));
        assert!(AllowList::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(AllowList::parse(&["bad host!".into()]).is_err());
        assert!(AllowList::default().is_empty());
    }

    #[test]
    fn delivery_checks_ip_literals() {
        let none = AllowList::default();
        for url in [
            "http://127.0.0.1:9/h",
            "http://[::1]/h",
            "http://[::ffff:7f00:1]/h",
        ] {
            let url = reqwest::Url::parse(url).unwrap();
            assert_eq!(
                check_literal(&none, &url),
                Err(GuardError::NotPublic),
                "{url}"
            );
        }
        let url = reqwest::Url::parse("https://93.184.216.34/h").unwrap();
        assert_eq!(check_literal(&none, &url), Ok(()));
    }

    #[tokio::test]
    async fn configuration_checks_resolved_addresses() {
        let none = AllowList::default();
        assert_eq!(
            check_host(&none, "localhost", 80).await,
            Err(GuardError::NotPublic)
        );
        assert_eq!(
            check_host(&none, "[::1]", 80).await,
            Err(GuardError::NotPublic)
        );
        let loopback = AllowList::parse(&["127.0.0.0/8".into(), "::1".into()]).unwrap();
        assert_eq!(check_host(&loopback, "localhost", 80).await, Ok(()));
    }
}
