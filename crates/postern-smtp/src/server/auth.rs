//! The SASL exchanges the session runs itself: PLAIN (RFC 4616) and LOGIN.
//!
//! Credentials are decoded into one buffer owned by the session, so the
//! [`Event::Auth`](super::Event::Auth) that reports them borrows instead of allocating.

use std::ops::Range;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::event::AuthMechanism;

/// `334` challenge of LOGIN asking for the user name (`Username:` in base64).
pub(super) const LOGIN_USERNAME: &[u8] = b"334 VXNlcm5hbWU6\r\n";
/// `334` challenge of LOGIN asking for the password (`Password:` in base64).
pub(super) const LOGIN_PASSWORD: &[u8] = b"334 UGFzc3dvcmQ6\r\n";
/// The empty `334` challenge of PLAIN without an initial response.
pub(super) const PLAIN_CHALLENGE: &[u8] = b"334 \r\n";

/// Where an exchange stands while the session waits for the client's next line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AuthWait {
    /// PLAIN: waiting for the response to the empty challenge.
    PlainResponse,
    /// LOGIN: waiting for the user name.
    LoginUsername,
    /// LOGIN: user name in the buffer, waiting for the password.
    LoginPassword,
}

/// The client's response could not be used: bad base64, bad PLAIN structure, not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BadAuthData;

/// Decoded credentials: one buffer, three ranges into it.
#[derive(Debug, Default)]
pub(super) struct Credentials {
    buf: Vec<u8>,
    authzid: Range<usize>,
    username: Range<usize>,
    password: Range<usize>,
    /// The mechanism that filled the buffer.
    pub(super) mechanism: Option<AuthMechanism>,
}

impl Credentials {
    /// Decodes a PLAIN response `authzid NUL authcid NUL passwd`.
    pub(super) fn set_plain(&mut self, response: &[u8]) -> Result<(), BadAuthData> {
        self.clear();
        decode_into(response, &mut self.buf)?;
        let mut parts = self.buf.split(|&b| b == 0);
        let (Some(z), Some(u), Some(p), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(BadAuthData);
        };
        if u.is_empty() {
            return Err(BadAuthData);
        }
        let (zl, ul, pl) = (z.len(), u.len(), p.len());
        self.authzid = 0..zl;
        self.username = zl + 1..zl + 1 + ul;
        self.password = zl + ul + 2..zl + ul + 2 + pl;
        self.mechanism = Some(AuthMechanism::Plain);
        self.check_utf8()
    }

    /// Decodes the LOGIN user name (first response).
    pub(super) fn set_login_username(&mut self, response: &[u8]) -> Result<(), BadAuthData> {
        self.clear();
        decode_into(response, &mut self.buf)?;
        if self.buf.is_empty() || self.buf.contains(&0) {
            return Err(BadAuthData);
        }
        self.username = 0..self.buf.len();
        self.authzid = 0..0;
        self.mechanism = Some(AuthMechanism::Login);
        self.check_utf8()
    }

    /// Decodes the LOGIN password (second response).
    pub(super) fn set_login_password(&mut self, response: &[u8]) -> Result<(), BadAuthData> {
        let start = self.buf.len();
        decode_into(response, &mut self.buf)?;
        if self.buf[start..].contains(&0) {
            return Err(BadAuthData);
        }
        self.password = start..self.buf.len();
        self.check_utf8()
    }

    fn check_utf8(&self) -> Result<(), BadAuthData> {
        // Validated once here so the event can hand out `&str` without re-checking.
        std::str::from_utf8(&self.buf)
            .map(|_| ())
            .map_err(|_| BadAuthData)
    }

    /// `(authzid, username, password)`; empty strings when nothing valid is held.
    pub(super) fn fields(&self) -> (&str, &str, &str) {
        let get = |r: &Range<usize>| {
            self.buf
                .get(r.clone())
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or("")
        };
        (get(&self.authzid), get(&self.username), get(&self.password))
    }

    /// Overwrites and forgets the credentials, so a password does not linger in memory.
    pub(super) fn clear(&mut self) {
        self.buf.fill(0);
        self.buf.clear();
        self.authzid = 0..0;
        self.username = 0..0;
        self.password = 0..0;
        self.mechanism = None;
    }
}

/// Appends the base64 decoding of `text` (surrounding spaces ignored) to `out`.
fn decode_into(text: &[u8], out: &mut Vec<u8>) -> Result<(), BadAuthData> {
    let text = text.trim_ascii();
    if text == b"=" {
        // RFC 4954 §4: `=` stands for an empty response.
        return Ok(());
    }
    STANDARD.decode_vec(text, out).map_err(|_| BadAuthData)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn plain_splits_three_fields() {
        let mut c = Credentials::default();
        c.set_plain(b64(b"admin\0alice\0s3cret").as_bytes())
            .unwrap();
        assert_eq!(c.fields(), ("admin", "alice", "s3cret"));
        c.set_plain(b64(b"\0bob\0pw").as_bytes()).unwrap();
        assert_eq!(c.fields(), ("", "bob", "pw"));
    }

    #[test]
    fn plain_refuses_bad_structure() {
        let mut c = Credentials::default();
        for bad in [&b"alice\0pw"[..], b"a\0b\0c\0d", b"\0\0pw", b"z\0\xff\0pw"] {
            assert_eq!(
                c.set_plain(b64(bad).as_bytes()),
                Err(BadAuthData),
                "{bad:?}"
            );
        }
        assert_eq!(c.set_plain(b"not base64!"), Err(BadAuthData));
        assert_eq!(c.set_plain(b"="), Err(BadAuthData));
    }

    #[test]
    fn login_two_steps() {
        let mut c = Credentials::default();
        c.set_login_username(b64(b"carol").as_bytes()).unwrap();
        c.set_login_password(b64(b"hunter2").as_bytes()).unwrap();
        assert_eq!(c.fields(), ("", "carol", "hunter2"));
        assert_eq!(c.mechanism, Some(AuthMechanism::Login));
        c.clear();
        assert_eq!(c.fields(), ("", "", ""));
        assert_eq!(c.set_login_username(b"="), Err(BadAuthData));
    }
}
