//! Idle outbound connections kept for reuse, keyed by the address connected to and the
//! TLS policy they were opened under (a connection opened with TLS off must not serve a
//! domain that requires it).
//!
//! A connection goes back to the pool after a message when its session is ready, it has
//! carried fewer than `messages_per_connection` messages, and the pool holds fewer than
//! `max_outbound_connections` idle ones. It leaves when taken, or when it has been idle
//! `idle_connection_time`; the delivery loop sweeps expired ones and says QUIT.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::conn::Conn;

/// What identifies interchangeable connections.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    /// The address connected to.
    pub peer: SocketAddr,
    /// The TLS policy it was opened under (`off`, `opportunistic`, `required`).
    pub tls: &'static str,
}

/// The idle-connection pool.
#[derive(Debug)]
pub struct Pool {
    idle: Mutex<HashMap<PoolKey, Vec<(Conn, Instant)>>>,
    max_idle: usize,
    idle_time: Duration,
    max_messages: usize,
}

impl Pool {
    /// A pool holding at most `max_idle` connections, each for `idle_time`, each carrying
    /// at most `max_messages` messages.
    pub fn new(max_idle: usize, idle_time: Duration, max_messages: usize) -> Pool {
        Pool {
            idle: Mutex::new(HashMap::new()),
            max_idle,
            idle_time,
            max_messages,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<PoolKey, Vec<(Conn, Instant)>>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle connection for `key` that has not outlived the idle time, if any. Expired
    /// ones met on the way are returned in the second value, to be closed.
    pub fn take(&self, key: &PoolKey) -> (Option<Conn>, Vec<Conn>) {
        let mut g = self.lock();
        let mut stale = Vec::new();
        let Some(list) = g.get_mut(key) else {
            return (None, stale);
        };
        let mut found = None;
        while let Some((conn, since)) = list.pop() {
            if since.elapsed() < self.idle_time {
                found = Some(conn);
                break;
            }
            stale.push(conn);
        }
        if list.is_empty() {
            g.remove(key);
        }
        (found, stale)
    }

    /// Offers a connection back after a message. Returns it when it cannot be kept
    /// (used up, not ready, idle time zero, or the pool full): the caller says QUIT.
    pub fn put(&self, key: PoolKey, conn: Conn) -> Option<Conn> {
        if !conn.is_ready() || conn.messages >= self.max_messages || self.idle_time.is_zero() {
            return Some(conn);
        }
        let mut g = self.lock();
        let held: usize = g.values().map(Vec::len).sum();
        if held >= self.max_idle {
            return Some(conn);
        }
        g.entry(key).or_default().push((conn, Instant::now()));
        None
    }

    /// Removes the connections idle for `idle_connection_time` or longer.
    pub fn expired(&self) -> Vec<Conn> {
        let mut g = self.lock();
        let mut out = Vec::new();
        // The delivery loop sweeps on every turn: a sweep that finds nothing to close
        // must not allocate or move the (large) connections, nor read the clock once a
        // connection.
        let now = Instant::now();
        for list in g.values_mut() {
            let mut i = 0;
            while i < list.len() {
                if now.saturating_duration_since(list[i].1) >= self.idle_time {
                    out.push(list.remove(i).0);
                } else {
                    i += 1;
                }
            }
        }
        g.retain(|_, l| !l.is_empty());
        out
    }

    /// Empties the pool (at shutdown).
    pub fn drain(&self) -> Vec<Conn> {
        let mut g = self.lock();
        g.drain()
            .flat_map(|(_, l)| l.into_iter().map(|(c, _)| c))
            .collect()
    }

    /// Number of idle connections held.
    pub fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// True when no connection is idle.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Says QUIT on each connection, in the background.
pub fn close_all(conns: Vec<Conn>) {
    for c in conns {
        tokio::spawn(c.quit());
    }
}
