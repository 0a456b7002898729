//! The session's own fixed replies, as wire bytes ready to append.
//!
//! Every one carries an enhanced status code (RFC 2034). Only the greeting and the
//! HELO/EHLO replies go without, as RFC 2034 §3 requires; those are built per session
//! because they name the host.

pub(super) const MAIL_OK: &[u8] = b"250 2.1.0 Ok\r\n";
pub(super) const RCPT_OK: &[u8] = b"250 2.1.5 Ok\r\n";
pub(super) const DATA_GO_AHEAD: &[u8] = b"354 End data with <CR><LF>.<CR><LF>\r\n";
pub(super) const QUEUED: &[u8] = b"250 2.0.0 Ok: queued\r\n";
pub(super) const OK: &[u8] = b"250 2.0.0 Ok\r\n";
pub(super) const AUTH_OK: &[u8] = b"235 2.7.0 Authentication successful\r\n";
pub(super) const ETRN_OK: &[u8] = b"250 2.0.0 Queuing started\r\n";
pub(super) const VRFY_DEFAULT: &[u8] =
    b"252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery\r\n";
pub(super) const EXPN_DEFAULT: &[u8] = b"502 5.5.1 EXPN not available\r\n";
pub(super) const HELP: &[u8] = b"214 2.0.0 See RFC 5321\r\n";
pub(super) const TLS_GO_AHEAD: &[u8] = b"220 2.0.0 Ready to start TLS\r\n";

pub(super) const NEED_HELO: &[u8] = b"503 5.5.1 Error: send HELO/EHLO first\r\n";
pub(super) const NESTED_MAIL: &[u8] = b"503 5.5.1 Error: nested MAIL command\r\n";
pub(super) const NEED_MAIL: &[u8] = b"503 5.5.1 Error: need MAIL command\r\n";
pub(super) const NO_RECIPIENTS: &[u8] = b"554 5.5.1 Error: no valid recipients\r\n";
pub(super) const DATA_AFTER_BDAT: &[u8] = b"503 5.5.1 Error: DATA after BDAT\r\n";
pub(super) const RCPT_AFTER_BDAT: &[u8] = b"503 5.5.1 Error: RCPT after BDAT\r\n";
pub(super) const BINARYMIME_NEEDS_BDAT: &[u8] =
    b"503 5.5.1 Error: BODY=BINARYMIME requires BDAT\r\n";
pub(super) const BDAT_FAILED: &[u8] =
    b"503 5.5.1 Error: chunk discarded after an earlier BDAT error\r\n";
pub(super) const IN_TRANSACTION: &[u8] = b"503 5.5.1 Error: MAIL transaction in progress\r\n";
pub(super) const ALREADY_AUTHENTICATED: &[u8] = b"503 5.5.1 Error: already authenticated\r\n";
pub(super) const AUTH_NOT_ENABLED: &[u8] = b"503 5.5.1 Error: authentication not enabled\r\n";
pub(super) const NEED_EHLO: &[u8] = b"503 5.5.1 Error: send EHLO first\r\n";
pub(super) const TLS_ACTIVE: &[u8] = b"554 5.5.1 Error: TLS already active\r\n";
pub(super) const NOT_IMPLEMENTED: &[u8] = b"502 5.5.1 Error: command not implemented\r\n";
pub(super) const UNSUPPORTED_MECHANISM: &[u8] =
    b"504 5.5.4 Unsupported authentication mechanism\r\n";
pub(super) const AUTH_ABORTED: &[u8] = b"501 5.7.0 Authentication aborted\r\n";
pub(super) const AUTH_BAD_DATA: &[u8] = b"501 5.5.2 Error: invalid authentication data\r\n";
pub(super) const TOO_MANY_RECIPIENTS: &[u8] = b"452 4.5.3 Error: too many recipients\r\n";
pub(super) const MESSAGE_TOO_BIG: &[u8] = b"552 5.3.4 Message size exceeds fixed limit\r\n";
pub(super) const UTF8_NOT_ALLOWED: &[u8] =
    b"553 5.6.7 Error: non-ASCII address requires SMTPUTF8\r\n";
pub(super) const UNSUPPORTED_PARAM: &[u8] = b"555 5.5.4 Error: unsupported MAIL/RCPT parameter\r\n";
pub(super) const SYNC_VIOLATION: &[u8] = b"554 5.5.0 Error: SMTP protocol synchronization\r\n";
