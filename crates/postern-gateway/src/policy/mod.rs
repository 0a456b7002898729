//! Inbound policy, as pure functions of the configuration: who may connect
//! ([`rules`]), how many at once ([`counter`]), and which recipients a client may use
//! ([`relay`]).

pub mod counter;
pub mod relay;
pub mod rules;

pub use counter::{ConnectionCounter, ConnectionGuard, CounterRefusal};
pub use relay::{Accepted, RcptVerdict, judge_recipient, relay_denied};
pub use rules::{connection_allowed, in_networks};
