//! postern: mail-transport libraries and a reference gateway.
//!
//! This facade re-exports the workspace crates so an application can depend on one
//! package. Each crate is also usable on its own:
//!
//! | module | crate | what it does |
//! | --- | --- | --- |
//! | [`message`] | `postern-message` | RFC 5322 and MIME parsing, builder, codecs (uuencode too), conversion |
//! | [`route`] | `postern-route` | address-space routing (GWART), per-domain settings, SMTP next hop |
//! | [`queue`] | `postern-queue` | retry policies, backoff, durable spool, scheduler |
//! | [`track`] | `postern-track` | message-tracking events, daily logs, query and trace |
//! | [`smtp`] | `postern-smtp` | sans-IO SMTP wire: commands, replies, DATA/BDAT framing, server and client sessions |
//! | [`gateway`] | `postern-gateway` | the tokio reference gateway (`postern serve`) that composes them |

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use postern_gateway as gateway;
pub use postern_message as message;
pub use postern_queue as queue;
pub use postern_route as route;
pub use postern_smtp as smtp;
pub use postern_track as track;
