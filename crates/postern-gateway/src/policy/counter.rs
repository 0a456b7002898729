//! Counting inbound connections, in all and per client IP, with a guard that gives the
//! slot back when the connection ends however it ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Which limit a new connection would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterRefusal {
    /// `connections.max_connections`.
    Total,
    /// `connections.max_connections_per_ip`.
    PerIp,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Open connections, in all and per IP (IPv4-mapped addresses counted as IPv4).
#[derive(Debug, Clone, Default)]
pub struct ConnectionCounter {
    counts: Arc<Mutex<Counts>>,
}

/// Holds one connection's slot; dropping it frees the slot.
#[derive(Debug)]
pub struct ConnectionGuard {
    counts: Arc<Mutex<Counts>>,
    ip: IpAddr,
}

fn lock(m: &Mutex<Counts>) -> MutexGuard<'_, Counts> {
    // The counts stay consistent even if a holder panicked: each update is one step.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ConnectionCounter {
    /// No connections.
    pub fn new() -> ConnectionCounter {
        ConnectionCounter::default()
    }

    /// Takes a slot for a connection from `ip`, unless that would make more than
    /// `max_total` connections in all or more than `max_per_ip` from this IP.
    pub fn try_acquire(
        &self,
        ip: IpAddr,
        max_total: usize,
        max_per_ip: usize,
    ) -> Result<ConnectionGuard, CounterRefusal> {
        let ip = ip.to_canonical();
        let mut c = lock(&self.counts);
        if c.total >= max_total {
            return Err(CounterRefusal::Total);
        }
        let n = c.per_ip.entry(ip).or_insert(0);
        if *n >= max_per_ip {
            return Err(CounterRefusal::PerIp);
        }
        *n += 1;
        c.total += 1;
        Ok(ConnectionGuard {
            counts: self.counts.clone(),
            ip,
        })
    }

    /// Connections open now: in all, and from `ip`.
    pub fn current(&self, ip: IpAddr) -> (usize, usize) {
        let c = lock(&self.counts);
        let per = c.per_ip.get(&ip.to_canonical()).copied().unwrap_or(0);
        (c.total, per)
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut c = lock(&self.counts);
        c.total = c.total.saturating_sub(1);
        // Remove the entry at zero so the map holds only IPs with open connections.
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn per_ip_and_total_limits() {
        let c = ConnectionCounter::new();
        let a1 = c.try_acquire(ip("192.0.2.1"), 3, 2).unwrap();
        let _a2 = c.try_acquire(ip("::ffff:192.0.2.1"), 3, 2).unwrap();
        assert_eq!(
            c.try_acquire(ip("192.0.2.1"), 3, 2).unwrap_err(),
            CounterRefusal::PerIp
        );
        let _b1 = c.try_acquire(ip("192.0.2.2"), 3, 2).unwrap();
        assert_eq!(
            c.try_acquire(ip("192.0.2.3"), 3, 2).unwrap_err(),
            CounterRefusal::Total
        );
        drop(a1);
        assert_eq!(c.current(ip("192.0.2.1")), (2, 1));
        assert!(c.try_acquire(ip("192.0.2.1"), 3, 2).is_ok());
    }

    #[test]
    fn guards_free_their_slots() {
        let c = ConnectionCounter::new();
        {
            let _g = c.try_acquire(ip("192.0.2.1"), 1, 1).unwrap();
            assert_eq!(c.current(ip("192.0.2.1")), (1, 1));
        }
        assert_eq!(c.current(ip("192.0.2.1")), (0, 0));
        assert!(c.counts.lock().unwrap().per_ip.is_empty());
    }
}
