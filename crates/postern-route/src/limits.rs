//! Size limits applied to every pattern and address the crate parses.

/// Bounds on the input the router accepts. Anything larger is refused with an error,
/// so no pattern, address or table can make a lookup slow or allocate without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest address-space pattern, in bytes. Default 1024.
    pub max_pattern_len: usize,
    /// Longest address looked up, in bytes. Longer addresses match nothing. Default 2048
    /// (an SMTP path is at most 256 octets; X.400 O/R addresses run longer).
    pub max_address_len: usize,
    /// Most attributes in one X.400 O/R address or pattern. Default 32.
    pub max_x400_attributes: usize,
    /// Most address spaces in one table. Default 1,000,000.
    pub max_entries: usize,
    /// Most connectors in one table. Default 100,000.
    pub max_connectors: usize,
}

impl Limits {
    /// The documented defaults.
    pub const DEFAULT: Limits = Limits {
        max_pattern_len: 1024,
        max_address_len: 2048,
        max_x400_attributes: 32,
        max_entries: 1_000_000,
        max_connectors: 100_000,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
