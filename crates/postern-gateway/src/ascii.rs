//! Numbers and IPv4 addresses as ASCII text, written by hand into stack buffers.
//!
//! The formatter's `Display` for an address goes through its machinery once per octet
//! and again for a port (about 1.8 k instructions for a `SocketAddr`, BENCHMARKS.md
//! "Relay, eleventh round"). Every message's `Received:` field and every session's log
//! span name the client's address, so those two write it with this instead.

use std::net::Ipv4Addr;

/// Writes `v` in decimal at the start of `out`, which has room for it; returns the
/// length written.
pub(crate) fn decimal(out: &mut [u8], mut v: u32) -> usize {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let len = digits.len() - i;
    out[..len].copy_from_slice(&digits[i..]);
    len
}

/// An IPv4 address in dotted decimal (`192.0.2.1`), as `Display` writes it.
pub(crate) struct Ipv4Text {
    buf: [u8; 15],
    len: usize,
}

impl Ipv4Text {
    /// The text of `a`.
    pub(crate) fn new(a: Ipv4Addr) -> Ipv4Text {
        let mut buf = [0u8; 15];
        let mut len = 0;
        for (i, octet) in a.octets().into_iter().enumerate() {
            if i > 0 {
                buf[len] = b'.';
                len += 1;
            }
            len += decimal(&mut buf[len..], u32::from(octet));
        }
        Ipv4Text { buf, len }
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits and dots were written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_numbers_read_as_display_writes_them() {
        for a in ["0.0.0.0", "9.10.99.100", "192.0.2.1", "255.255.255.255"] {
            let addr: Ipv4Addr = a.parse().unwrap();
            assert_eq!(Ipv4Text::new(addr).as_str(), a);
        }
        for v in [0, 7, 10, 65_535, u32::MAX] {
            let mut out = [0u8; 10];
            let n = decimal(&mut out, v);
            assert_eq!(std::str::from_utf8(&out[..n]).unwrap(), v.to_string());
        }
    }
}
