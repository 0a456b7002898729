//! How well an address space matches an address.

/// Match quality, ordered worst to best: a type-only entry (`*`) loses to any wildcard
/// pattern, a wildcard pattern with more literal characters beats one with fewer, and an
/// exact pattern (no wildcard) beats them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "config", derive(serde::Serialize))]
#[cfg_attr(feature = "config", serde(rename_all = "kebab-case", tag = "kind"))]
pub enum MatchQuality {
    /// The pattern is `*`: it names only the address type.
    TypeOnly,
    /// A pattern with wildcards; `literals` counts its non-wildcard characters.
    Wildcard {
        /// Literal (non-wildcard) characters in the pattern.
        literals: u32,
    },
    /// A pattern without wildcards equal to the address.
    Exact,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_type_only_wildcard_exact() {
        let w = |literals| MatchQuality::Wildcard { literals };
        assert!(MatchQuality::TypeOnly < w(0));
        assert!(w(3) < w(4));
        assert!(w(u32::MAX) < MatchQuality::Exact);
    }
}
