//! Where services' networks get their addresses: a pool ferry carves into one small subnet per service.
//!
//! Why not the engine's default pools: they hold about 30 bridge networks (31 /16s and a few /20s), and
//! with a network per service that would cap an engine at about 30 services. A /26 per service (62
//! addresses: MaxSize 25 plus a rollout's new instances and replacements of crashed ones) from a /16
//! gives 1024 services; the pool is configurable (`--network-pool`) for hosts whose LAN uses it.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 prefix: `10.213.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Net {
    base: u32,
    prefix: u8,
}

impl Ipv4Net {
    /// The prefix with its host bits cleared; `None` past /32.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Self> {
        (prefix <= 32).then(|| Self { base: u32::from(addr) & mask(prefix), prefix })
    }

    pub fn prefix(self) -> u8 {
        self.prefix
    }

    /// The first host address: a bridge's gateway (the host's side of it).
    pub fn first_host(self) -> Ipv4Addr {
        Ipv4Addr::from(self.base.saturating_add(1))
    }

    /// Whether `addr` is in this prefix (IPv4-mapped IPv6 addresses count as their IPv4 address).
    pub fn contains(self, addr: std::net::IpAddr) -> bool {
        let v4 = match addr {
            std::net::IpAddr::V4(v4) => v4,
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4,
                None => return false,
            },
        };
        (u32::from(v4) & mask(self.prefix)) == self.base
    }

    fn last(self) -> u32 {
        self.base | !mask(self.prefix)
    }

    fn overlaps(self, other: Ipv4Net) -> bool {
        self.base <= other.last() && other.base <= self.last()
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an IPv4 prefix such as 10.213.0.0/16");
        let (addr, prefix) = s.trim().split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        Ipv4Net::new(addr, prefix).ok_or_else(bad)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) }
}

/// The pool services' networks come from, and the size of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkPool {
    pub pool: Ipv4Net,
    /// Each service's subnet's prefix length.
    pub size: u8,
}

impl NetworkPool {
    /// Each service gets a /26 (62 addresses).
    pub const SUBNET: u8 = 26;

    /// A pool that holds at least one subnet of `SUBNET`.
    pub fn new(pool: Ipv4Net) -> Result<Self, String> {
        if pool.prefix > Self::SUBNET {
            return Err(format!(
                "{pool} is smaller than one service's network (/{}); give a larger prefix, e.g. /16",
                Self::SUBNET
            ));
        }
        Ok(Self { pool, size: Self::SUBNET })
    }

    /// The first subnet of the pool that overlaps none of `used` (every network on the engine), if any.
    pub fn pick(&self, used: &[Ipv4Net]) -> Option<Ipv4Net> {
        self.pick_from(used, 0)
    }

    /// The `skip`-th free subnet (0 is the first): where to try next after another process took the one
    /// before between the look and the make.
    pub fn pick_from(&self, used: &[Ipv4Net], skip: usize) -> Option<Ipv4Net> {
        let step = 1u64 << (32 - u32::from(self.size));
        let count = 1u64 << (u32::from(self.size) - u32::from(self.pool.prefix));
        (0..count)
            .filter_map(|i| u32::try_from(u64::from(self.pool.base) + i * step).ok())
            .map(|base| Ipv4Net { base, prefix: self.size })
            .filter(|candidate| !used.iter().any(|u| u.overlaps(*candidate)))
            .nth(skip)
    }
}

impl Default for NetworkPool {
    fn default() -> Self {
        Self {
            pool: Ipv4Net { base: u32::from(Ipv4Addr::new(10, 213, 0, 0)), prefix: 16 },
            size: Self::SUBNET,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_parse_and_print() {
        assert_eq!(net("10.213.7.9/16").to_string(), "10.213.0.0/16");
        assert_eq!(net("0.0.0.0/0").to_string(), "0.0.0.0/0");
        for bad in ["10.213.0.0", "10.213.0.0/33", "x/16", "10.213.0/16", ""] {
            assert!(bad.parse::<Ipv4Net>().is_err(), "{bad}");
        }
    }

    #[test]
    fn contains_its_addresses_only() {
        let pool = net("10.213.0.0/16");
        assert!(pool.contains("10.213.4.5".parse().unwrap()));
        assert!(pool.contains("::ffff:10.213.0.1".parse().unwrap()));
        assert!(!pool.contains("10.214.0.1".parse().unwrap()));
        assert!(!pool.contains("127.0.0.1".parse().unwrap()));
        assert!(!pool.contains("::1".parse().unwrap()));
    }

    #[test]
    fn picks_the_first_subnet_that_overlaps_nothing() {
        let pool = NetworkPool::default();
        assert_eq!(pool.pick(&[]).unwrap().to_string(), "10.213.0.0/26");
        assert_eq!(pool.pick(&[]).unwrap().first_host().to_string(), "10.213.0.1");
        assert_eq!(pool.pick_from(&[net("10.213.0.64/26")], 1).unwrap().to_string(), "10.213.0.128/26");
        let used = [net("10.213.0.0/26"), net("10.213.0.128/25"), net("172.17.0.0/16")];
        assert_eq!(pool.pick(&used).unwrap().to_string(), "10.213.0.64/26");
        // A network someone made across part of the pool is stepped around.
        let used = [net("10.213.0.0/24")];
        assert_eq!(pool.pick(&used).unwrap().to_string(), "10.213.1.0/26");
        // A full pool has nothing to give.
        let small = NetworkPool::new(net("10.0.0.0/25")).unwrap();
        assert_eq!(small.pick(&[net("10.0.0.0/26"), net("10.0.0.64/26")]), None);
        assert_eq!(NetworkPool::default().pick(&[net("10.0.0.0/8")]), None);
        assert!(NetworkPool::new(net("10.0.0.0/27")).is_err());
    }

    #[test]
    fn a_default_pool_holds_a_thousand_services() {
        let pool = NetworkPool::default();
        let mut used = Vec::new();
        while let Some(next) = pool.pick(&used) {
            used.push(next);
        }
        assert_eq!(used.len(), 1024);
    }
}
