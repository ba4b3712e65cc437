//! Identifier newtypes: each one is parsed once at the boundary and can only hold a valid value.
//!
//! Ids appear inside DynamoDB keys such as `AGENT#<id>`, so they may not contain the key separator
//! `#`, whitespace or control characters. Ids minted by the service carry a short prefix
//! (`agt_`, `crd_`, `evt_`) so a reader can tell them apart in logs and in an audit row.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest id accepted anywhere: fits comfortably in a key and a log line.
pub const MAX_ID_LEN: usize = 64;

/// Why a string was rejected as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The value was empty.
    #[error("{kind} must not be empty")]
    Empty {
        /// Which identifier was being parsed.
        kind: &'static str,
    },
    /// The value was longer than [`MAX_ID_LEN`].
    #[error("{kind} must be at most {max} characters")]
    TooLong {
        /// Which identifier was being parsed.
        kind: &'static str,
        /// The limit.
        max: usize,
    },
    /// The value held a character outside `[A-Za-z0-9._:@|-]`.
    #[error("{kind} may contain only letters, digits and . _ : @ | -")]
    BadCharacter {
        /// Which identifier was being parsed.
        kind: &'static str,
    },
    /// The value lacked the prefix a service-minted id carries.
    #[error("{kind} must start with {prefix}")]
    BadPrefix {
        /// Which identifier was being parsed.
        kind: &'static str,
        /// The expected prefix.
        prefix: &'static str,
    },
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '@' | '|' | '-')
}

/// Checks the rules every identifier shares.
fn check_id(kind: &'static str, value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            kind,
            max: MAX_ID_LEN,
        });
    }
    if !value.chars().all(is_id_char) {
        return Err(IdError::BadCharacter { kind });
    }
    Ok(())
}

/// Declares a string identifier newtype with parsing, `Display` and serde through `String`.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal $(, prefix = $prefix:literal)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates an identifier.
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check_id($kind, &value)?;
                $(
                    if !value.starts_with($prefix) || value.len() == $prefix.len() {
                        return Err(IdError::BadPrefix { kind: $kind, prefix: $prefix });
                    }
                )?
                Ok(Self(value))
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A human user, as named by the identity provider (the JWT `sub`).
    UserId,
    "user id"
);
string_id!(
    /// An org-owned service account, as named in the inventory.
    ServiceAccountId,
    "service account id"
);
string_id!(
    /// An agent identity; minted by the service as `agt_<32 hex>`.
    AgentId,
    "agent id",
    prefix = "agt_"
);
string_id!(
    /// A credential; minted by the service as `crd_<32 hex>` and embedded in the token.
    CredentialId,
    "credential id",
    prefix = "crd_"
);
string_id!(
    /// An audit event; derived from the credential and the caller's request id, so a retry of the
    /// same request names the same event.
    EventId,
    "event id",
    prefix = "evt_"
);
string_id!(
    /// The caller's id for the action being audited; the idempotency key of an audit event.
    RequestId,
    "request id"
);

/// Namespace for deriving event ids; fixed forever, since changing it would break idempotency.
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_0a43_58c2_4b8e_9a51_2f7e_c0d3_94ab);

impl AgentId {
    /// Mints a fresh random agent id.
    pub fn generate() -> Self {
        Self(format!("agt_{}", Uuid::new_v4().simple()))
    }
}

impl CredentialId {
    /// Mints a fresh random credential id.
    pub fn generate() -> Self {
        Self(format!("crd_{}", Uuid::new_v4().simple()))
    }
}

impl EventId {
    /// The event id for a request: the same `(scope, request)` pair always yields the same id.
    ///
    /// `scope` is what makes the request id unique: the credential that presented it, or for a
    /// service-internal actor its own stable name.
    pub fn derive(scope: &str, request_id: &RequestId) -> Self {
        let name = format!("{scope}\n{}", request_id.as_str());
        Self(format!(
            "evt_{}",
            Uuid::new_v5(&EVENT_ID_NAMESPACE, name.as_bytes()).simple()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_ids_and_rejects_separators_and_blanks() {
        assert!(UserId::parse("govind").is_ok());
        assert!(UserId::parse("auth0|123").is_ok());
        assert_eq!(UserId::parse(""), Err(IdError::Empty { kind: "user id" }));
        assert!(matches!(
            ServiceAccountId::parse("sa#7"),
            Err(IdError::BadCharacter { .. })
        ));
        assert!(ServiceAccountId::parse("sa 7").is_err());
        assert!(matches!(
            UserId::parse("x".repeat(MAX_ID_LEN + 1)),
            Err(IdError::TooLong { .. })
        ));
        assert!(UserId::parse("x".repeat(MAX_ID_LEN)).is_ok());
    }

    #[test]
    fn minted_ids_carry_their_prefix_and_round_trip() {
        let agent = AgentId::generate();
        assert!(agent.as_str().starts_with("agt_"));
        assert_eq!(AgentId::parse(agent.to_string()).unwrap(), agent);
        assert!(matches!(
            AgentId::parse("crd_abc"),
            Err(IdError::BadPrefix { .. })
        ));
        assert!(AgentId::parse("agt_").is_err());
        let cred = CredentialId::generate();
        assert_ne!(cred, CredentialId::generate());
    }

    #[test]
    fn event_ids_are_deterministic_per_scope_and_request() {
        let request = RequestId::parse("req-1").unwrap();
        let a = EventId::derive("crd_1", &request);
        assert_eq!(a, EventId::derive("crd_1", &request));
        assert_ne!(a, EventId::derive("crd_2", &request));
        assert_ne!(
            a,
            EventId::derive("crd_1", &RequestId::parse("req-2").unwrap())
        );
        assert!(EventId::parse(a.to_string()).is_ok());
    }

    #[test]
    fn serde_goes_through_validation() {
        let ok: UserId = serde_json::from_str("\"govind\"").unwrap();
        assert_eq!(ok.as_str(), "govind");
        assert!(serde_json::from_str::<UserId>("\"a#b\"").is_err());
    }
}
