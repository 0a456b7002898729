//! # postern-route
//!
//! Address-space routing in the manner of the Exchange Gateway Address Routing Table (filled in by the routing work).

#![forbid(unsafe_code)]
#![warn(missing_docs)]
