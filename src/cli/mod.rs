//! The `postern` command-line subcommands, one module per command family.

pub mod config;
pub mod convert;
pub mod json;
pub mod message;
pub mod queue;
pub mod route;
pub mod serve;
pub mod status;
pub mod track;
pub mod uu;
