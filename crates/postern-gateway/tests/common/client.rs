//! A tiny SMTP client for the gateway's integration tests.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// How long any single reply may take before the test fails instead of hanging.
pub const REPLY_WAIT: Duration = Duration::from_secs(10);

/// A line-based SMTP client over any stream (plain TCP or TLS), with a time limit on
/// every reply so a test fails instead of hanging.
pub struct Client<S> {
    /// The stream and what has been read from it but not yet consumed.
    pub io: BufReader<S>,
}

/// One reply: its code and all its lines.
#[derive(Debug)]
pub struct Answer {
    /// The reply code.
    pub code: u16,
    /// Every line, with line ends.
    pub text: String,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub fn new(stream: S) -> Self {
        Client {
            io: BufReader::new(stream),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.io.get_mut().write_all(bytes).await.unwrap();
        self.io.get_mut().flush().await.unwrap();
    }

    /// Like `send`, but a reset connection is not a failure (the server may have closed).
    pub async fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.io.get_mut().write_all(bytes).await.is_ok() && self.io.get_mut().flush().await.is_ok()
    }

    pub async fn line(&mut self, line: &str) {
        self.send(format!("{line}\r\n").as_bytes()).await;
    }

    /// One (possibly multi-line) reply; `None` at end of stream or on a reset.
    pub async fn reply(&mut self) -> Option<Answer> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(REPLY_WAIT, self.io.read_line(&mut line))
                .await
                .expect("reply within the time limit")
                .ok()?;
            if n == 0 {
                return None;
            }
            text.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                let code = line.get(..3)?.parse().ok()?;
                return Some(Answer { code, text });
            }
        }
    }

    /// Every reply until the server closes.
    pub async fn replies_to_end(&mut self) -> Vec<Answer> {
        let mut all = Vec::new();
        while let Some(a) = self.reply().await {
            all.push(a);
        }
        all
    }

    pub async fn expect(&mut self, code: u16) -> Answer {
        let a = self.reply().await.expect("a reply");
        assert_eq!(a.code, code, "unexpected reply: {}", a.text);
        a
    }

    pub async fn cmd(&mut self, line: &str, code: u16) -> Answer {
        self.line(line).await;
        self.expect(code).await
    }

    pub async fn reply_to(&mut self, line: &str) -> Answer {
        self.line(line).await;
        self.reply().await.expect("a reply")
    }

    /// DATA, the content (dot-stuffed by the caller), the end; the final reply.
    pub async fn data(&mut self, content: &str) -> Answer {
        self.cmd("DATA", 354).await;
        self.send(content.as_bytes()).await;
        self.send(b"\r\n.\r\n").await;
        self.reply().await.expect("a reply to the end of data")
    }

    /// A whole transaction to `rcpt`, expecting `250` all the way.
    pub async fn mail(&mut self, from: &str, rcpt: &str, content: &str) -> Answer {
        self.cmd(&format!("MAIL FROM:<{from}>"), 250).await;
        self.cmd(&format!("RCPT TO:<{rcpt}>"), 250).await;
        let a = self.data(content).await;
        assert_eq!(a.code, 250, "{}", a.text);
        a
    }
}
