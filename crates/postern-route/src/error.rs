//! Error types. Each says what was wrong and where.

/// An address-space pattern that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The pattern is empty or only blanks.
    #[error("empty pattern")]
    Empty,
    /// The pattern is longer than [`Limits::max_pattern_len`](crate::Limits).
    #[error("pattern is {len} bytes, the limit is {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A control character or blank where none may be.
    #[error("invalid character {ch:?} at byte {at}")]
    InvalidChar {
        /// The character.
        ch: char,
        /// Its byte offset.
        at: usize,
    },
    /// An SMTP domain with an empty label (`a..b`, `.example.com`).
    #[error("empty label in domain {0:?}")]
    EmptyLabel(String),
    /// An SMTP pattern with an empty domain (`user@`).
    #[error("empty domain")]
    EmptyDomain,
    /// An X.400 pattern that does not parse.
    #[error("bad X.400 pattern: {0}")]
    X400(#[from] X400Error),
}

/// An X.400 O/R address (or address-space pattern) that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum X400Error {
    /// No attributes at all.
    #[error("empty O/R address")]
    Empty,
    /// Longer than the limit.
    #[error("O/R address is {len} bytes, the limit is {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An attribute without `=`.
    #[error("attribute {index} has no '='")]
    MissingEquals {
        /// Zero-based attribute index.
        index: usize,
    },
    /// An attribute name that is empty or has characters other than letters, digits, `-`, `.`, `_`.
    #[error("bad attribute name {0:?}")]
    BadKey(String),
    /// The same attribute twice.
    #[error("attribute {0:?} given twice")]
    DuplicateKey(String),
    /// A control character in a value.
    #[error("control character in the value of {0:?}")]
    BadValue(String),
    /// More attributes than [`Limits::max_x400_attributes`](crate::Limits).
    #[error("more than {max} attributes")]
    TooManyAttributes {
        /// The limit.
        max: usize,
    },
}

/// A routing table that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// An address space's pattern is bad.
    #[error("connector {connector:?}, {address_type} address space {pattern:?}: {source}")]
    Pattern {
        /// The connector it belongs to.
        connector: String,
        /// Its address type.
        address_type: String,
        /// The pattern as written.
        pattern: String,
        /// What is wrong.
        source: PatternError,
    },
    /// A cost outside 1–100.
    #[error("connector {connector:?}: cost {cost} is outside 1-100")]
    CostOutOfRange {
        /// The connector.
        connector: String,
        /// The cost given.
        cost: u32,
    },
    /// An address space names a connector the table does not have.
    #[error("unknown connector {0:?}")]
    UnknownConnector(String),
    /// Two connectors with the same name.
    #[error("connector {0:?} defined twice")]
    DuplicateConnector(String),
    /// A site- or location-scoped address space on a connector that has no site or location.
    #[error("connector {connector:?}: scope {scope:?} needs the connector's site/location set")]
    ScopeWithoutPlace {
        /// The connector.
        connector: String,
        /// The scope asked for.
        scope: crate::scope::Scope,
    },
    /// A connector name that is empty or has control characters.
    #[error("bad connector name {0:?}")]
    BadConnectorName(String),
    /// An address type name that is empty or not letters, digits, `-` and `_`.
    #[error("bad address type {0:?}")]
    BadAddressType(String),
    /// More entries or connectors than the [`Limits`](crate::Limits) allow.
    #[error("table too large: {what} exceeds {max}")]
    TooLarge {
        /// What overflowed.
        what: &'static str,
        /// The limit.
        max: usize,
    },
}

/// A per-domain settings entry that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// The domain pattern is not `*`, `name`, `*.name`, an IP address or `[IP literal]`.
    #[error("bad domain pattern {0:?}")]
    BadPattern(String),
    /// The same pattern twice.
    #[error("domain pattern {0:?} given twice")]
    Duplicate(String),
}

/// A configuration file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// TOML syntax or a key of the wrong type or unknown.
    #[error("{0}")]
    Toml(String),
    /// The connectors and address spaces do not form a table.
    #[error(transparent)]
    Table(#[from] TableError),
    /// A per-domain entry is bad.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A smart host is not `host`, `host:port`, `[ip]` or `[ip]:port`.
    #[error("connector {connector:?}: bad smart host {host:?}")]
    SmartHost {
        /// The connector.
        connector: String,
        /// The host as written.
        host: String,
    },
    /// A DNS name server is not an `ip:port` socket address.
    #[error("bad name server {0:?} (want ip:port)")]
    NameServer(String),
    /// A value outside its range.
    #[error("{key}: {why}")]
    Value {
        /// The key.
        key: String,
        /// What is wrong.
        why: &'static str,
    },
}
