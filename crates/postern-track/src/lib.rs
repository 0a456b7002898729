//! # postern-track
//!
//! Message tracking on every hop (filled in by the tracking work).

#![forbid(unsafe_code)]
#![warn(missing_docs)]
