//! The inbound listening sockets: one per listen address, or one per session runtime.
//!
//! A gateway whose sessions run on several single-thread runtimes (`[server] scheduler =
//! "per_thread"`) binds each listen address once per runtime with `SO_REUSEPORT`. The
//! kernel spreads new connections over the sockets, and a session lives on the thread
//! that accepted it: no worker steals it, and no worker wakes another to share a
//! wake-up. Before the group is bound, a plain bind of the address checks that nothing
//! listens there already, so a second gateway configured on the same port fails to start
//! as it would without `SO_REUSEPORT`, instead of quietly taking half the connections.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// A listening socket on `addr` with the given backlog (tokio's `TcpListener::bind` uses
/// the standard library's 128), reusing the address as the standard library does, and
/// the port too when `reuse_port` (one socket of a group). Registered with the current
/// runtime.
fn listen(addr: SocketAddr, backlog: u32, reuse_port: bool) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    #[cfg(unix)]
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// `count` listening sockets on `addr` (at least one), all on the same port: with port 0
/// the first one picks it. Registered with the current runtime; a socket meant for
/// another runtime is moved there with `TcpListener::into_std` and `from_std`.
pub fn bind_group(addr: SocketAddr, backlog: u32, count: usize) -> io::Result<Vec<TcpListener>> {
    if count <= 1 || !cfg!(unix) {
        return Ok(vec![listen(addr, backlog, false)?]);
    }
    if addr.port() != 0 {
        // Fails with "address in use" when anything listens there, a group included.
        drop(std::net::TcpListener::bind(addr)?);
    }
    let first = listen(addr, backlog, true)?;
    let at = first.local_addr()?;
    let mut group = vec![first];
    for _ in 1..count {
        group.push(listen(at, backlog, true)?);
    }
    Ok(group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_group_shares_one_port() {
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 16, 3).unwrap();
        assert_eq!(group.len(), 3);
        let port = group[0].local_addr().unwrap().port();
        assert!(group.iter().all(|l| l.local_addr().unwrap().port() == port));
    }

    #[tokio::test]
    async fn a_port_in_use_is_refused_even_for_a_group() {
        // Another gateway's group on the port: a second group must not join it.
        let taken = bind_group("127.0.0.1:0".parse().unwrap(), 16, 2).unwrap();
        let addr = taken[0].local_addr().unwrap();
        let err = bind_group(addr, 16, 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        // And a plain listener there too.
        let plain = bind_group("127.0.0.1:0".parse().unwrap(), 16, 1).unwrap();
        let addr = plain[0].local_addr().unwrap();
        assert!(bind_group(addr, 16, 2).is_err());
    }
}
