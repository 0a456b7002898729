//! The server side of an SMTP session, sans-IO.
//!
//! (Implemented by the server-session work; see issue 2, point 4.)
