//! The client side of an SMTP session, sans-IO.
//!
//! (Implemented by the client-session work; see issue 2, point 5.)
