//! Validated domain values that are not identifiers: emails, scopes, display names.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not a plausible email address.
    #[error("email must look like name@example.com (at most 254 characters)")]
    Email,
    /// Not a valid scope.
    #[error("scope {0:?} must be 1-64 characters of a-z 0-9 : . _ - /, starting and ending with a letter or digit")]
    Scope(String),
    /// More scopes than a principal may hold.
    #[error("at most {max} scopes are allowed")]
    TooManyScopes {
        /// The limit.
        max: usize,
    },
    /// A name that is empty, too long or holds control characters.
    #[error("{kind} must be 1-{max} characters without control characters")]
    Name {
        /// Which name was being parsed.
        kind: &'static str,
        /// The limit.
        max: usize,
    },
}

/// An email address, normalised to lower case.
///
/// Validation is deliberately shallow: the identity provider owns the truth, this only keeps
/// obvious garbage out of the table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Parses an email address.
    pub fn parse(value: impl AsRef<str>) -> Result<Self, ValueError> {
        let value = value.as_ref().trim();
        if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ValueError::Email);
        }
        let (local, domain) = value.split_once('@').ok_or(ValueError::Email)?;
        let domain_ok = domain.contains('.')
            && !domain.contains('@')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(ValueError::Email);
        }
        Ok(Self(value.to_ascii_lowercase()))
    }

    /// The address as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> String {
        value.0
    }
}

/// One permission, such as `repo:read` or `billing.invoices:write`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(String);

impl Scope {
    /// Parses a scope.
    pub fn parse(value: impl Into<String>) -> Result<Self, ValueError> {
        let value = value.into();
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || ":._-/".contains(c);
        let edge =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if value.is_empty()
            || value.len() > 64
            || !value.chars().all(allowed)
            || !edge(value.chars().next())
            || !edge(value.chars().last())
        {
            return Err(ValueError::Scope(value));
        }
        Ok(Self(value))
    }

    /// The scope as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Scope {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<Scope> for String {
    fn from(value: Scope) -> String {
        value.0
    }
}

/// A set of scopes, kept sorted and free of duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// Most scopes one principal may hold; keeps items and authorizer contexts small.
    pub const MAX: usize = 64;

    /// Parses a list of scopes; duplicates collapse.
    pub fn parse<I, S>(scopes: I) -> Result<Self, ValueError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let set = scopes
            .into_iter()
            .map(Scope::parse)
            .collect::<Result<BTreeSet<_>, _>>()?;
        if set.len() > Self::MAX {
            return Err(ValueError::TooManyScopes { max: Self::MAX });
        }
        Ok(Self(set))
    }

    /// True when every scope here is also in `other`: an agent may only narrow its owner.
    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The scopes here that `other` lacks.
    pub fn excess_over(&self, other: &ScopeSet) -> Vec<Scope> {
        self.0.difference(&other.0).cloned().collect()
    }

    /// The scopes present in both sets.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.intersection(&other.0).cloned().collect())
    }

    /// Iterates the scopes in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no scopes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<String>> for ScopeSet {
    type Error = ValueError;
    fn try_from(value: Vec<String>) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<ScopeSet> for Vec<String> {
    fn from(value: ScopeSet) -> Vec<String> {
        value.0.into_iter().map(String::from).collect()
    }
}

/// Declares a display-name newtype: trimmed, non-empty, bounded, no control characters.
macro_rules! display_name {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Longest accepted value, in characters.
            pub const MAX_CHARS: usize = $max;

            /// Parses a name, trimming surrounding whitespace.
            pub fn parse(value: impl AsRef<str>) -> Result<Self, ValueError> {
                let value = value.as_ref().trim();
                let chars = value.chars().count();
                if chars == 0 || chars > $max || value.chars().any(char::is_control) {
                    return Err(ValueError::Name { kind: $kind, max: $max });
                }
                Ok(Self(value.to_owned()))
            }

            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValueError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

display_name!(
    /// The display name of an agent or service account.
    Name,
    "name",
    128
);
display_name!(
    /// What an audit event says was done, e.g. `deploy.start` or `invoice.update`.
    Action,
    "action",
    128
);
display_name!(
    /// What an audit event's action was done to, e.g. `repo:acme/api` or an ARN.
    Resource,
    "resource",
    512
);
display_name!(
    /// A free-text note (owner-map conventions, revocation reasons given by a person).
    Note,
    "note",
    1024
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Govind@Example.COM ").unwrap().as_str(),
            "govind@example.com"
        );
        for bad in [
            "",
            "govind",
            "@example.com",
            "g@example",
            "g@.com",
            "g@ex..com",
            "g h@x.io",
            "a@b@c.io",
        ] {
            assert_eq!(Email::parse(bad), Err(ValueError::Email), "{bad}");
        }
    }

    #[test]
    fn scopes_and_subsets() {
        let owner = ScopeSet::parse(["repo:read", "repo:write", "billing:read"]).unwrap();
        let agent = ScopeSet::parse(["repo:read", "repo:read"]).unwrap();
        assert_eq!(agent.len(), 1);
        assert!(agent.is_subset_of(&owner));
        let greedy = ScopeSet::parse(["repo:read", "admin"]).unwrap();
        assert!(!greedy.is_subset_of(&owner));
        assert_eq!(
            greedy.excess_over(&owner),
            vec![Scope::parse("admin").unwrap()]
        );
        assert_eq!(greedy.intersection(&owner), agent);
        for bad in ["", "Repo:read", ":read", "read:", "a b", "x#y"] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
        let many: Vec<String> = (0..=ScopeSet::MAX).map(|i| format!("s{i}")).collect();
        assert_eq!(
            ScopeSet::parse(many),
            Err(ValueError::TooManyScopes { max: ScopeSet::MAX })
        );
    }

    #[test]
    fn names() {
        assert_eq!(
            Name::parse("  nightly deploy ").unwrap().as_str(),
            "nightly deploy"
        );
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse("a\u{0}b").is_err());
        assert!(Name::parse("é".repeat(128)).is_ok());
        assert!(Name::parse("é".repeat(129)).is_err());
    }

    proptest! {
        #[test]
        fn parsed_scope_sets_round_trip_through_serde(scopes in proptest::collection::vec("[a-z][a-z0-9:._-]{0,10}[a-z0-9]", 0..10)) {
            let set = ScopeSet::parse(scopes).unwrap();
            let json = serde_json::to_string(&set).unwrap();
            let back: ScopeSet = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, set);
        }
    }
}
