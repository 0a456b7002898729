//! A small blocking client of the admin API, for `postern` subcommands and tests: one
//! HTTP/1.1 request per connection (`Connection: close`), over TCP or a Unix socket.

use std::io::{self, Read as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::model::ApiError;
use crate::config::{AdminListen, Config};

/// Most bytes of an answer read (a queue page of 1000 messages fits many times).
const MAX_ANSWER: u64 = 64 * 1024 * 1024;

/// Where the API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket.
    Unix(PathBuf),
}

/// What went wrong with a request.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered (the gateway is not running) or the connection failed.
    #[error("cannot reach the admin API: {0}")]
    Unreachable(io::Error),
    /// The API answered with an error.
    #[error("{} ({})", .0.error, .0.status)]
    Api(ApiError),
    /// The answer was not what was expected.
    #[error("unexpected answer from the admin API: {0}")]
    Garbled(String),
}

/// A client for one gateway.
#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
    token: Option<String>,
    timeout: Duration,
}

impl Client {
    /// A client of the API at `endpoint`; writes send `token`.
    pub fn new(endpoint: Endpoint, token: Option<String>) -> Client {
        Client {
            endpoint,
            token,
            timeout: Duration::from_secs(60),
        }
    }

    /// The client of the gateway `config` describes: its `[admin] listen` (a system-chosen
    /// port read from `DATA_DIR/admin.address`) and the token in `[admin] token_file`
    /// when this user may read it. `None` when the API is off or its address unknown.
    pub fn from_config(config: &Config) -> Option<Client> {
        let endpoint = match &config.admin_api.listen {
            AdminListen::Off => return None,
            AdminListen::Unix(p) => Endpoint::Unix(p.clone()),
            AdminListen::Tcp(a) if a.port() != 0 => Endpoint::Tcp(*a),
            AdminListen::Tcp(_) => {
                let file = super::address_file(&config.server.data_dir);
                parse_endpoint(std::fs::read_to_string(file).ok()?.trim())?
            }
        };
        let token = std::fs::read_to_string(&config.admin_api.token_file)
            .ok()
            .map(|t| t.trim().to_owned());
        Some(Client::new(endpoint, token))
    }

    /// Where it connects.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `GET path`, decoded.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        decode(self.request("GET", path, None)?)
    }

    /// `method path` with `body` as JSON, decoded.
    pub fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let body = serde_json::to_vec(body).map_err(|e| ClientError::Garbled(e.to_string()))?;
        decode(self.request(method, path, Some(&body))?)
    }

    /// One request; the status code and the body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nHost: postern\r\nConnection: close\r\n");
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if let Some(b) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        head.push_str("\r\n");
        let mut raw = Vec::new();
        let mut exchange = |s: &mut dyn ReadWrite| -> io::Result<()> {
            s.write_all(head.as_bytes())?;
            if let Some(b) = body {
                s.write_all(b)?;
            }
            s.flush()?;
            s.take_limited(MAX_ANSWER, &mut raw)
        };
        match &self.endpoint {
            Endpoint::Tcp(a) => {
                let mut s = std::net::TcpStream::connect_timeout(a, self.timeout)
                    .map_err(ClientError::Unreachable)?;
                s.set_read_timeout(Some(self.timeout)).ok();
                exchange(&mut s)
            }
            Endpoint::Unix(p) => {
                let mut s =
                    std::os::unix::net::UnixStream::connect(p).map_err(ClientError::Unreachable)?;
                s.set_read_timeout(Some(self.timeout)).ok();
                exchange(&mut s)
            }
        }
        .map_err(ClientError::Unreachable)?;
        parse_response(&raw)
    }
}

/// A stream to exchange one request on.
trait ReadWrite: io::Read + io::Write {
    fn take_limited(&mut self, max: u64, out: &mut Vec<u8>) -> io::Result<()>;
}

impl<S: io::Read + io::Write> ReadWrite for S {
    fn take_limited(&mut self, max: u64, out: &mut Vec<u8>) -> io::Result<()> {
        self.take(max).read_to_end(out).map(|_| ())
    }
}

/// `127.0.0.1:8025` or `unix:/path`, as in `DATA_DIR/admin.address`.
pub fn parse_endpoint(s: &str) -> Option<Endpoint> {
    match s.strip_prefix("unix:") {
        Some(p) => Some(Endpoint::Unix(PathBuf::from(p))),
        None => s.parse().ok().map(Endpoint::Tcp),
    }
}

fn decode<T: DeserializeOwned>((status, body): (u16, Vec<u8>)) -> Result<T, ClientError> {
    if !(200..300).contains(&status) {
        return Err(match serde_json::from_slice::<ApiError>(&body) {
            Ok(e) => ClientError::Api(e),
            Err(_) => ClientError::Garbled(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body)
            )),
        });
    }
    serde_json::from_slice(&body).map_err(|e| ClientError::Garbled(e.to_string()))
}

/// The status code and body of a whole HTTP/1.1 response (`Content-Length`, chunked,
/// or delimited by the close).
fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), ClientError> {
    let garbled = |why: &str| ClientError::Garbled(why.to_owned());
    let end = memchr::memmem::find(raw, b"\r\n\r\n").ok_or_else(|| garbled("no header end"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| garbled("header not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| garbled("no status line"))?;
    let chunked = lines.any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = &raw[end + 4..];
    if !chunked {
        return Ok((status, body.to_vec()));
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let nl = memchr::memmem::find(rest, b"\r\n").ok_or_else(|| garbled("bad chunk"))?;
        let size = std::str::from_utf8(&rest[..nl])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .ok_or_else(|| garbled("bad chunk size"))?;
        rest = &rest[nl + 2..];
        if size == 0 {
            return Ok((status, out));
        }
        let chunk = rest.get(..size).ok_or_else(|| garbled("short chunk"))?;
        out.extend_from_slice(chunk);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_answers() {
        let plain = b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain).unwrap(), (404, b"{}".to_vec()));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (200, b"abcde".to_vec()));
        assert!(parse_response(b"garbage").is_err());
        assert_eq!(
            parse_endpoint("unix:/run/p.sock"),
            Some(Endpoint::Unix("/run/p.sock".into()))
        );
        assert_eq!(
            parse_endpoint("127.0.0.1:9"),
            Some(Endpoint::Tcp(([127, 0, 0, 1], 9).into()))
        );
    }
}
