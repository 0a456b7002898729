//! Inbound policy, as pure functions of the configuration: who may connect
//! ([`rules`]), how many at once ([`counter`]), which recipients a client may use
//! ([`relay`]), the accepted domains and how their recipients are verified
//! ([`accepted`], [`recipients`], [`callout`], [`verify`]), and which queued mail the
//! transfer mode lets move ([`transfer`]).

pub mod accepted;
pub mod callout;
pub mod counter;
pub mod recipients;
pub mod relay;
pub mod rules;
pub mod transfer;
pub mod verify;

pub use accepted::{CalloutUnavailable, InboundSection, VerifyRecipients};
pub use counter::{ConnectionCounter, ConnectionGuard, CounterRefusal};
pub use relay::{Accepted, RcptContext, RcptVerdict, Refusal, judge_recipient, relay_denied};
pub use rules::{connection_allowed, in_networks};
pub use verify::Verifier;
