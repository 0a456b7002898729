//! Address types: SMTP, X400, MS, or any custom type name.

use std::fmt;

use crate::error::TableError;

/// The type of an address space (and of the address being routed). Type names compare
/// case-insensitively; custom names are kept uppercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AddressType {
    /// Internet mail (`user@domain`).
    Smtp,
    /// X.400 O/R addresses (`c=US;a= ;p=Org;o=Site;s=Smith;`).
    X400,
    /// Microsoft Mail (`NETWORK/POSTOFFICE/MAILBOX`).
    Ms,
    /// Any other type name (`CCMAIL`, `NOTES`, …), uppercased.
    Custom(Box<str>),
}

impl AddressType {
    /// Parses a type name. Letters, digits, `-` and `_`, 1–64 characters; case is ignored.
    pub fn parse(name: &str) -> Result<AddressType, TableError> {
        let name = name.trim();
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(TableError::BadAddressType(name.to_owned()));
        }
        Ok(Self::from_valid(name))
    }

    /// Classifies a name without validating it (lookups use this: an odd name simply has
    /// no address spaces).
    pub(crate) fn from_valid(name: &str) -> AddressType {
        if name.eq_ignore_ascii_case("smtp") {
            AddressType::Smtp
        } else if name.eq_ignore_ascii_case("x400") {
            AddressType::X400
        } else if name.eq_ignore_ascii_case("ms") {
            AddressType::Ms
        } else {
            AddressType::Custom(name.to_ascii_uppercase().into())
        }
    }

    /// The canonical (uppercase) name.
    pub fn as_str(&self) -> &str {
        match self {
            AddressType::Smtp => "SMTP",
            AddressType::X400 => "X400",
            AddressType::Ms => "MS",
            AddressType::Custom(name) => name,
        }
    }
}

impl fmt::Display for AddressType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!(AddressType::parse("smtp").unwrap(), AddressType::Smtp);
        assert_eq!(AddressType::parse("X400").unwrap(), AddressType::X400);
        assert_eq!(AddressType::parse("Ms").unwrap(), AddressType::Ms);
        assert_eq!(
            AddressType::parse("ccMail").unwrap(),
            AddressType::Custom("CCMAIL".into())
        );
        assert_eq!(AddressType::parse("notes").unwrap().as_str(), "NOTES");
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(AddressType::parse("").is_err());
        assert!(AddressType::parse("a b").is_err());
        assert!(AddressType::parse(&"A".repeat(65)).is_err());
    }
}
