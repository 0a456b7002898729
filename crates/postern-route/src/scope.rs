//! Who may use an address space: the restriction Exchange calls its scope. A leaf
//! module: the table and its errors both name it.

/// Who may use an address space: the restriction Exchange calls its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "config", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "config", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Scope {
    /// Any sender in the organization.
    #[default]
    Organization,
    /// Only senders in the connector's site.
    Site,
    /// Only senders in the connector's site and location.
    Location,
}
