//! The DynamoDB store: every read and write of the single table goes through [`Store`].
//!
//! One submodule per entity. Every write is conditional or idempotent, so a retry after a fault
//! (the SDK's own, or a caller's) never doubles anything. Multi-item changes are one
//! `TransactWriteItems`, retried on transaction conflicts with a fresh client token.

mod agents;
mod audit;
mod credentials;
mod error;
mod migration;
mod page;
mod service_accounts;
mod sweep;
mod usage;
mod users;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use agents::{RevokedAgent, Rotation, MAX_ACTIVE_CREDENTIALS};
pub use audit::{AuditQuery, EventSelector, PutOutcome, MAX_BATCH};
pub use error::StoreError;
pub use page::{Page, PageRequest, PageToken};
pub use service_accounts::Expect;
pub use usage::{StreamSequence, UsageApplied, UseRecord};
pub use users::OffboardReport;

use crate::keys::{attr, IndexKey, Key};

/// A DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Attempts (first try included) the SDK makes for one request before giving up.
pub const SDK_MAX_ATTEMPTS: u32 = 5;

/// Extra attempts for a transaction cancelled only by a conflict with a concurrent one.
const TRANSACTION_CONFLICT_RETRIES: u32 = 8;

/// Points the DynamoDB client at another endpoint (a local server).
pub const ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL_DYNAMODB";

/// The DynamoDB client configuration every function uses: standard retries with backoff on
/// throttling and transient errors, timeouts well inside API Gateway's 29 s, and the endpoint
/// in `AWS_ENDPOINT_URL_DYNAMODB` when it is set.
pub fn client_config(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::config::Builder {
    let builder = aws_sdk_dynamodb::config::Builder::from(sdk)
        .retry_config(RetryConfig::standard().with_max_attempts(SDK_MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(20))
                .build(),
        );
    match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.is_empty() => builder.endpoint_url(endpoint),
        _ => builder,
    }
}

/// Access to the single table.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: Arc<str>,
}

impl Store {
    /// A store over `table` through `client`. Build the client once, at init.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into().into(),
        }
    }

    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs a transaction. A cancellation caused by a failed condition maps to
    /// `ConditionFailed(labels[i])` for the first failing action `i`; a cancellation caused only
    /// by conflicts with concurrent transactions is retried with a fresh token. Within one
    /// attempt the SDK's own retries reuse the token, so DynamoDB applies it at most once.
    pub(crate) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        labels: &[&'static str],
    ) -> Result<(), StoreError> {
        debug_assert_eq!(items.len(), labels.len());
        let mut attempt = 0;
        loop {
            let token = uuid::Uuid::new_v4().to_string();
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(token)
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            let reasons: Option<Vec<String>> = match &err {
                SdkError::ServiceError(service) => match service.err() {
                    TransactWriteItemsError::TransactionCanceledException(cancelled) => Some(
                        cancelled
                            .cancellation_reasons()
                            .iter()
                            .map(|r| r.code().unwrap_or("None").to_owned())
                            .collect(),
                    ),
                    _ => None,
                },
                _ => None,
            };
            let Some(reasons) = reasons else {
                return Err(StoreError::from_sdk(err));
            };
            if let Some(i) = reasons.iter().position(|c| c == "ConditionalCheckFailed") {
                return Err(StoreError::ConditionFailed(
                    labels.get(i).copied().unwrap_or("condition_failed"),
                ));
            }
            if let Some(code) = reasons.iter().find(|c| c.as_str() == "ValidationError") {
                return Err(StoreError::Validation(format!(
                    "transaction refused: {code}"
                )));
            }
            attempt += 1;
            if attempt > TRANSACTION_CONFLICT_RETRIES {
                return Err(StoreError::Transient(format!(
                    "transaction cancelled {attempt} times: {reasons:?}"
                )));
            }
            // Conflicts and throttling: back off with jitter so racing writers spread out.
            let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 20;
            tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt) + jitter)).await;
        }
    }
}

/// Serialises an entity and adds its key and type.
pub(crate) fn entity_item<T: Serialize>(
    entity: &T,
    key: &Key,
    item_type: &str,
) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(entity)
        .map_err(|e| StoreError::Internal(format!("serialise {item_type}: {e}")))?;
    item.insert(attr::PK.into(), s(&key.pk));
    item.insert(attr::SK.into(), s(&key.sk));
    item.insert(attr::TYPE.into(), s(item_type));
    Ok(item)
}

/// Adds an index entry to an item.
pub(crate) fn set_index(item: &mut Item, pk_attr: &str, sk_attr: &str, key: &IndexKey) {
    item.insert(pk_attr.into(), s(&key.pk));
    item.insert(sk_attr.into(), s(&key.sk));
}

/// Decodes an item into its entity.
pub(crate) fn from_item<T: DeserializeOwned>(item: Item, what: &str) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::corrupt(what, e))
}

/// The key attributes of a primary key.
pub(crate) fn key_map(key: &Key) -> Item {
    HashMap::from([(attr::PK.into(), s(&key.pk)), (attr::SK.into(), s(&key.sk))])
}

/// A string attribute value.
pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A string-set attribute value (must not be empty).
pub(crate) fn ss<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> AttributeValue {
    AttributeValue::Ss(values.into_iter().map(Into::into).collect())
}

/// The strings of a string-set attribute, or none when it is absent.
pub(crate) fn string_set(item: &Item, name: &str) -> Vec<String> {
    match item.get(name) {
        Some(AttributeValue::Ss(values)) => values.clone(),
        _ => Vec::new(),
    }
}

/// Expression attribute names from pairs.
pub(crate) fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Expression attribute values from pairs.
pub(crate) fn values(pairs: Vec<(&str, AttributeValue)>) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The sort-key condition of a query.
#[derive(Debug, Clone)]
pub(crate) enum SortRange {
    /// Sort keys starting with a prefix.
    BeginsWith(String),
    /// Sort keys between two bounds, inclusive.
    Between(String, String),
}

/// One page of a query on the table or an index.
#[derive(Debug, Clone)]
pub(crate) struct QuerySpec {
    /// `None` for the base table.
    pub index: Option<&'static str>,
    /// Partition key attribute.
    pub pk_attr: &'static str,
    /// Sort key attribute.
    pub sk_attr: &'static str,
    /// Partition value.
    pub pk: String,
    /// Sort condition.
    pub range: SortRange,
    /// Ascending when true.
    pub forward: bool,
}

impl Store {
    /// One item by key, strongly consistent, decoded as `T`.
    pub(crate) async fn get_consistent<T: serde::de::DeserializeOwned>(
        &self,
        key: &Key,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table_name())
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        out.item.map(|item| from_item(item, what)).transpose()
    }

    /// Runs one page of a query; reads on the base table are strongly consistent.
    pub(crate) async fn query_page(
        &self,
        spec: QuerySpec,
        page: &PageRequest,
    ) -> Result<(Vec<Item>, Option<PageToken>), StoreError> {
        let start = match page.next() {
            Some(token) => Some(token.decode_for(spec.pk_attr, &spec.pk)?),
            None => None,
        };
        let (items, last) = self.query_raw(spec, page.limit(), start).await?;
        let next = match last {
            Some(key) => Some(PageToken::encode(&key)?),
            None => None,
        };
        Ok((items, next))
    }

    /// One Query request from an optional start key; returns the items and the last evaluated
    /// key, if the query has more.
    pub(crate) async fn query_raw(
        &self,
        spec: QuerySpec,
        limit: u16,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let (condition, mut vals) = match spec.range {
            SortRange::BeginsWith(prefix) => (
                "#pk = :pk AND begins_with(#sk, :a)",
                values(vec![(":a", s(prefix))]),
            ),
            SortRange::Between(from, to) => (
                "#pk = :pk AND #sk BETWEEN :a AND :b",
                values(vec![(":a", s(from)), (":b", s(to))]),
            ),
        };
        vals.insert(":pk".into(), s(spec.pk));
        let out = self
            .client
            .query()
            .table_name(self.table_name())
            .set_index_name(spec.index.map(str::to_owned))
            .consistent_read(spec.index.is_none())
            .key_condition_expression(condition)
            .set_expression_attribute_names(Some(names(&[
                ("#pk", spec.pk_attr),
                ("#sk", spec.sk_attr),
            ])))
            .set_expression_attribute_values(Some(vals))
            .scan_index_forward(spec.forward)
            .limit(i32::from(limit))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        let last = out.last_evaluated_key.filter(|key| !key.is_empty());
        Ok((out.items.unwrap_or_default(), last))
    }
}

/// A transaction being assembled: each action carries the label its condition failure maps to.
pub(crate) struct Tx<'a> {
    table: &'a str,
    items: Vec<TransactWriteItem>,
    labels: Vec<&'static str>,
}

impl<'a> Tx<'a> {
    /// An empty transaction on `table`.
    pub(crate) fn new(table: &'a str) -> Self {
        Self {
            table,
            items: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// Adds a Put of `item`, with an optional condition.
    pub(crate) fn put(
        &mut self,
        item: Item,
        condition: Option<&str>,
        condition_values: Vec<(&str, AttributeValue)>,
        label: &'static str,
    ) -> Result<(), StoreError> {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values(non_empty(values(condition_values)))
            .build()
            .map_err(StoreError::build)?;
        self.items
            .push(TransactWriteItem::builder().put(put).build());
        self.labels.push(label);
        Ok(())
    }

    /// Adds an Update of the item at `key`.
    pub(crate) fn update(
        &mut self,
        key: &Key,
        expression: &str,
        condition: Option<&str>,
        attribute_names: &[(&str, &str)],
        attribute_values: Vec<(&str, AttributeValue)>,
        label: &'static str,
    ) -> Result<(), StoreError> {
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(self.table)
            .set_key(Some(key_map(key)))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(non_empty(names(attribute_names)))
            .set_expression_attribute_values(non_empty(values(attribute_values)))
            .build()
            .map_err(StoreError::build)?;
        self.items
            .push(TransactWriteItem::builder().update(update).build());
        self.labels.push(label);
        Ok(())
    }

    /// Adds a Delete of the item at `key`, with an optional condition.
    pub(crate) fn delete(
        &mut self,
        key: &Key,
        condition: Option<&str>,
        condition_values: Vec<(&str, AttributeValue)>,
        label: &'static str,
    ) -> Result<(), StoreError> {
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(self.table)
            .set_key(Some(key_map(key)))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values(non_empty(values(condition_values)))
            .build()
            .map_err(StoreError::build)?;
        self.items
            .push(TransactWriteItem::builder().delete(delete).build());
        self.labels.push(label);
        Ok(())
    }
}

fn non_empty<K, V>(map: HashMap<K, V>) -> Option<HashMap<K, V>> {
    (!map.is_empty()).then_some(map)
}

impl Store {
    /// Runs an assembled transaction (see [`Store::transact`]).
    pub(crate) async fn run(&self, tx: Tx<'_>) -> Result<(), StoreError> {
        self.transact(tx.items, &tx.labels).await
    }
}
