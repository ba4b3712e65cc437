//! Pagination: a page size and an opaque continuation token.
//!
//! The token is the query's `LastEvaluatedKey` (string key attributes only) as base64url JSON.
//! On the way back in it is checked against the query it continues: only key attributes, only
//! strings, and the same partition, so a tampered token cannot read another partition.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::{Item, StoreError};
use crate::keys::attr;

/// Largest page any list returns.
pub const MAX_PAGE: u16 = 100;

/// Where a list continues from. Opaque to callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken(String);

impl PageToken {
    /// Accepts a token as received from a caller; it is checked when used.
    pub fn parse(value: impl Into<String>) -> Result<Self, StoreError> {
        let value = value.into();
        if value.is_empty() || value.len() > 2048 {
            return Err(StoreError::Validation("nextToken is malformed".into()));
        }
        Ok(Self(value))
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn encode(key: &Item) -> Result<Self, StoreError> {
        let mut plain = BTreeMap::new();
        for (name, value) in key {
            match value {
                AttributeValue::S(text) => {
                    plain.insert(name.clone(), text.clone());
                }
                _ => return Err(StoreError::Internal("non-string key attribute".into())),
            }
        }
        let json = serde_json::to_vec(&plain).map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(Self(URL_SAFE_NO_PAD.encode(json)))
    }

    /// A token carrying any JSON state (a multi-source cursor).
    pub(crate) fn encode_json(value: &serde_json::Value) -> Self {
        Self(URL_SAFE_NO_PAD.encode(value.to_string()))
    }

    /// The JSON state of a token made by [`PageToken::encode_json`].
    pub(crate) fn decode_json(&self) -> Result<serde_json::Value, StoreError> {
        let bad = || StoreError::Validation("nextToken is malformed".into());
        let json = URL_SAFE_NO_PAD.decode(&self.0).map_err(|_| bad())?;
        serde_json::from_slice(&json).map_err(|_| bad())
    }

    /// Decodes the token as a start key for a query on `partition_attr = partition_value`.
    pub(crate) fn decode_for(
        &self,
        partition_attr: &str,
        partition_value: &str,
    ) -> Result<Item, StoreError> {
        let bad = || StoreError::Validation("nextToken is malformed".into());
        let json = URL_SAFE_NO_PAD.decode(&self.0).map_err(|_| bad())?;
        let plain: BTreeMap<String, String> = serde_json::from_slice(&json).map_err(|_| bad())?;
        key_from_plain(plain, partition_attr, partition_value)
    }
}

/// A start key from its plain string form, checked to be key attributes only and to belong to
/// the partition `partition_attr = partition_value`.
pub(crate) fn key_from_plain(
    plain: BTreeMap<String, String>,
    partition_attr: &str,
    partition_value: &str,
) -> Result<Item, StoreError> {
    let bad = || StoreError::Validation("nextToken is malformed".into());
    let allowed = [
        attr::PK,
        attr::SK,
        attr::GSI1PK,
        attr::GSI1SK,
        attr::GSI2PK,
        attr::GSI2SK,
    ];
    if plain.keys().any(|k| !allowed.contains(&k.as_str()))
        || plain.get(partition_attr).map(String::as_str) != Some(partition_value)
    {
        return Err(bad());
    }
    Ok(plain
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

/// How much of a list to return, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    limit: u16,
    next: Option<PageToken>,
}

impl PageRequest {
    /// The default page size.
    pub const DEFAULT_LIMIT: u16 = 50;

    /// A page of at most `limit` items (1..=100) after `next`.
    pub fn new(limit: u16, next: Option<PageToken>) -> Result<Self, StoreError> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(StoreError::Validation(format!(
                "limit must be between 1 and {MAX_PAGE}"
            )));
        }
        Ok(Self { limit, next })
    }

    /// The first page at the default size.
    pub fn first() -> Self {
        Self {
            limit: Self::DEFAULT_LIMIT,
            next: None,
        }
    }

    /// Page size.
    pub fn limit(&self) -> u16 {
        self.limit
    }

    /// Continuation token, if any.
    pub fn next(&self) -> Option<&PageToken> {
        self.next.as_ref()
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::first()
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` at the end.
    pub next: Option<PageToken>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Item {
        Item::from([
            ("PK".to_owned(), AttributeValue::S("AGENT#agt_1".into())),
            ("SK".to_owned(), AttributeValue::S("AGENT".into())),
            ("GSI1PK".to_owned(), AttributeValue::S("OWNER#u".into())),
            (
                "GSI1SK".to_owned(),
                AttributeValue::S("AGENT#t#agt_1".into()),
            ),
        ])
    }

    #[test]
    fn tokens_round_trip_for_their_own_partition_only() {
        let token = PageToken::encode(&key()).unwrap();
        assert_eq!(token.decode_for("GSI1PK", "OWNER#u").unwrap(), key());
        assert!(token.decode_for("GSI1PK", "OWNER#someone-else").is_err());
        assert!(PageToken::parse("!!!")
            .unwrap()
            .decode_for("PK", "x")
            .is_err());
        let foreign = URL_SAFE_NO_PAD.encode(br#"{"PK":"x","secretHash":"y"}"#);
        assert!(PageToken::parse(foreign)
            .unwrap()
            .decode_for("PK", "x")
            .is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert!(PageRequest::new(0, None).is_err());
        assert!(PageRequest::new(101, None).is_err());
        assert_eq!(PageRequest::new(100, None).unwrap().limit(), 100);
    }
}
