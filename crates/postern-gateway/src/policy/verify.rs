//! Verifying a recipient of an accepted domain at `RCPT` (`[inbound]
//! verify_recipients`), so that unknown recipients are refused there and never bounced
//! later (no backscatter): against the recipients file (`list`) or by asking the
//! internal server (`callout`).

use std::time::Instant;

use postern_smtp::{EnhancedCode, Reply};

use super::accepted::{CalloutUnavailable, VerifyRecipients};
use super::callout::{CalloutCache, Probe, probe};
use super::recipients::RecipientsCache;
use crate::context::Live;

/// What verification keeps between recipients: the recipients file as last read, and
/// the callout answers. Lives as long as the gateway (a reload keeps the caches).
#[derive(Debug, Default)]
pub struct Verifier {
    /// The recipients file.
    pub list: RecipientsCache,
    /// Callout answers.
    pub callouts: CalloutCache,
}

/// One recipient to verify: its local part (unquoted), its domain, the address as
/// queued, and the connectors that would take it, best first.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    /// The local part without quotes.
    pub local: &'a str,
    /// The domain (no trailing dot).
    pub domain: &'a str,
    /// `local@domain` as queued.
    pub address: &'a str,
    /// The candidate connectors, best first.
    pub connectors: &'a [String],
}

fn reply(code: u16, e: (u8, u16, u16), text: &str) -> Reply {
    Reply::new(code, Some(EnhancedCode::new(e.0, e.1, e.2)), text)
}

fn unknown(text: &str) -> Reply {
    reply(550, (5, 1, 1), text)
}

impl Verifier {
    /// An empty verifier.
    pub fn new() -> Verifier {
        Verifier::default()
    }

    /// Verifies `r` under the settings `live`: `Ok` to accept it, or the reply refusing
    /// it (`550 5.1.1` unknown, `450 4.1.1` / `451 4.3.0` cannot tell now).
    pub async fn verify(&self, live: &Live, r: Recipient<'_>) -> Result<(), Reply> {
        let inbound = &live.config.inbound;
        // RFC 5321 §4.5.1: postmaster@ a domain we accept mail for is always accepted.
        if r.local.eq_ignore_ascii_case("postmaster") {
            return Ok(());
        }
        match inbound.verify_recipients {
            VerifyRecipients::Off => Ok(()),
            VerifyRecipients::List => self.by_list(live, r),
            VerifyRecipients::Callout => self.by_callout(live, r).await,
        }
    }

    fn by_list(&self, live: &Live, r: Recipient<'_>) -> Result<(), Reply> {
        let Some(path) = &live.config.inbound.recipients_file else {
            return Ok(());
        };
        // A stat per recipient, a read only when the file changed: small enough to do
        // here, like the Maildir list.
        let Some(list) = self.list.get(path) else {
            return Err(reply(
                451,
                (4, 3, 0),
                "Recipient list unavailable, try again later",
            ));
        };
        if list.contains(r.local, r.domain) {
            Ok(())
        } else {
            Err(unknown("Recipient address rejected: User unknown"))
        }
    }

    async fn by_callout(&self, live: &Live, r: Recipient<'_>) -> Result<(), Reply> {
        let inbound = &live.config.inbound;
        let key = r.address.to_lowercase();
        match self.callouts.get(&key, Instant::now()) {
            Some(true) => return Ok(()),
            Some(false) => {
                return Err(unknown(
                    "Recipient address rejected: User unknown (cached callout answer)",
                ));
            }
            None => {}
        }
        // Only the first choice is asked: a fallback route (the Internet connector,
        // say) would lead to some other server, or back to this gateway.
        let Some(conn) = r
            .connectors
            .first()
            .and_then(|n| live.config.routing.connector(n))
        else {
            return self.unavailable(live);
        };
        if conn.kind == "maildir" {
            // Its own list (`[maildir] recipients`) was checked already.
            return Ok(());
        }
        match probe(live, conn, r.domain, r.address).await {
            Probe::Exists => {
                let until = Instant::now() + inbound.callout_positive_ttl;
                let max = inbound.callout_cache_entries;
                self.callouts.put(key, true, until, max);
                Ok(())
            }
            Probe::Unknown(answer) => {
                let until = Instant::now() + inbound.callout_negative_ttl;
                let max = inbound.callout_cache_entries;
                self.callouts.put(key, false, until, max);
                let text = format!(
                    "Recipient address rejected: User unknown (internal server said: {})",
                    answer.replace(['\r', '\n'], " ")
                );
                Err(unknown(&text))
            }
            // Why is not told to the client: it names internal hosts.
            Probe::Unavailable(_) => self.unavailable(live),
        }
    }

    /// `[inbound] callout_unavailable`: accept, or `450 4.1.1` for now.
    fn unavailable(&self, live: &Live) -> Result<(), Reply> {
        match live.config.inbound.callout_unavailable {
            CalloutUnavailable::Accept => Ok(()),
            CalloutUnavailable::Defer => Err(reply(
                450,
                (4, 1, 1),
                "Recipient address rejected: cannot verify it now, try again later",
            )),
        }
    }
}
