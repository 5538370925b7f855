//! The client address a request is attributed to (rate limits, logs): the TCP peer, or — only
//! when the peer is one of `api.trusted_proxies` — the rightmost `X-Forwarded-For` hop that is
//! not itself a trusted proxy. Hops left of that one were written by the client and are ignored,
//! so a client cannot pick its own rate-limit bucket.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub(crate) struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts `nets`.
    pub(crate) fn new(nets: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies(nets)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client address of a request whose TCP peer is `peer` and whose `X-Forwarded-For`
    /// header values are `forwarded` (in order of appearance).
    pub(crate) fn client(&self, peer: Option<IpAddr>, forwarded: &[&str]) -> Option<IpAddr> {
        let peer = peer.map(canonical)?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut client = peer;
        let hops = forwarded
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .rev();
        for hop in hops {
            // A hop that is not an address: the trusted proxy to its right is the last hop known.
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        Some(client)
    }

    /// The client address of `req`.
    pub(crate) fn client_of(&self, req: &HttpRequest) -> Option<IpAddr> {
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect();
        self.client(req.peer_addr().map(|a| a.ip()), &forwarded)
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|a| canonical(a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().expect("cidr")).collect())
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("ip"))
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client(ip("203.0.113.9"), &["198.51.100.1"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            proxies(&[]).client(ip("127.0.0.1"), &["1.1.1.1"]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8", "192.168.1.1/32"]);
        // The client forged the first two hops; the proxy appended its real address.
        assert_eq!(
            trusted.client(
                ip("10.0.0.5"),
                &["6.6.6.6, 7.7.7.7", "203.0.113.9, 192.168.1.1"]
            ),
            ip("203.0.113.9")
        );
        assert_eq!(
            trusted.client(ip("10.0.0.5"), &["[2001:db8::7]:443"]),
            ip("2001:db8::7")
        );
        assert_eq!(
            trusted.client(ip("10.0.0.5"), &[]),
            ip("10.0.0.5"),
            "no header"
        );
        assert_eq!(
            trusted.client(ip("10.0.0.5"), &["10.1.1.1, 10.2.2.2"]),
            ip("10.1.1.1"),
            "every hop trusted: the leftmost"
        );
        assert_eq!(
            trusted.client(ip("10.0.0.5"), &["not-an-ip, 10.2.2.2"]),
            ip("10.2.2.2"),
            "garbage stops the walk"
        );
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_ranges() {
        let trusted = proxies(&["127.0.0.0/8"]);
        assert_eq!(
            trusted.client(ip("::ffff:127.0.0.1"), &["203.0.113.9"]),
            ip("203.0.113.9")
        );
    }
}
