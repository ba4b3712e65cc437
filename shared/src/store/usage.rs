//! Per-subject, per-UTC-day usage counters.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Days, NaiveDate};

use super::{
    from_item, key_map, names, s, values, PageRequest, QuerySpec, SortRange, Store, StoreError,
};
use crate::keys::{self, attr, item_type};
use crate::model::{UsageDay, UsageSubject};
use crate::time::{day_key, Timestamp};

/// Longest history one read returns.
pub const MAX_USAGE_DAYS: u16 = 100;

/// A stream record's sequence number, zero-padded to 40 digits so that string order is numeric
/// order (DynamoDB numbers hold only 38 digits; sequence numbers run to 40).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamSequence(String);

impl StreamSequence {
    /// Digits only, 1-40 of them.
    pub fn parse(text: &str) -> Option<Self> {
        (!text.is_empty() && text.len() <= 40 && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Self(format!("{text:0>40}")))
    }

    /// The padded form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One use to count: where it sits in the stream, and when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseRecord {
    /// The stream record's sequence number.
    pub sequence: StreamSequence,
    /// When the use happened.
    pub at: Timestamp,
}

/// What applying a batch's uses to one counter did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageApplied {
    /// Uses newly counted.
    pub counted: u64,
    /// Uses skipped as already counted (a redelivered batch).
    pub already_counted: u64,
}

/// Attribute holding the highest stream sequence number a usage counter has counted.
const APPLIED_THROUGH: &str = "appliedThrough";

impl Store {
    /// Adds `count` uses to `subject` on `last_at`'s UTC day, and moves that day's `lastAt`
    /// forward to `last_at` (never back). Usually one UpdateItem; two when a later use was
    /// already recorded.
    pub async fn increment_usage(
        &self,
        subject: &UsageSubject,
        count: u64,
        last_at: Timestamp,
    ) -> Result<(), StoreError> {
        if count == 0 {
            return Err(StoreError::Validation("count must be positive".into()));
        }
        let day = last_at.day();
        let key = key_map(&keys::usage_day(subject, day));
        let attribute_names = names(&[
            ("#count", "count"),
            ("#last", "lastAt"),
            ("#day", "day"),
            ("#type", "type"),
        ]);
        let first = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key.clone()))
            .update_expression("SET #last = :t, #day = :day, #type = :type ADD #count :n")
            .condition_expression("attribute_not_exists(#last) OR #last <= :t")
            .set_expression_attribute_names(Some(attribute_names.clone()))
            .set_expression_attribute_values(Some(values(vec![
                (":t", s(last_at.to_string())),
                (":day", s(day_key(day))),
                (":type", s(item_type::USAGE_DAY)),
                (":n", AttributeValue::N(count.to_string())),
            ])))
            .send()
            .await
            .map_err(StoreError::from_sdk);
        match first {
            Ok(_) => Ok(()),
            Err(StoreError::ConditionFailed(_)) => {
                self.client
                    .update_item()
                    .table_name(self.table_name())
                    .set_key(Some(key))
                    .update_expression("ADD #count :n")
                    .set_expression_attribute_names(Some(names(&[("#count", "count")])))
                    .set_expression_attribute_values(Some(values(vec![(
                        ":n",
                        AttributeValue::N(count.to_string()),
                    )])))
                    .send()
                    .await
                    .map_err(StoreError::from_sdk)?;
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// Counts `uses` of `subject` on one UTC day exactly once, however often the stream
    /// delivers them. The counter keeps the highest sequence number it has counted; a use at or
    /// below it was counted already. All of a subject's uses come from one partition key, so they
    /// arrive in sequence order. Usually ONE UpdateItem; a partly redelivered batch takes a read
    /// and a second, conditional update.
    pub async fn apply_usage(
        &self,
        subject: &UsageSubject,
        day: NaiveDate,
        uses: &[UseRecord],
    ) -> Result<UsageApplied, StoreError> {
        let Some(first) = uses.iter().map(|u| &u.sequence).min() else {
            return Ok(UsageApplied {
                counted: 0,
                already_counted: 0,
            });
        };
        if uses.iter().any(|u| u.at.day() != day) {
            return Err(StoreError::Validation(
                "every use must fall on the counter's day".into(),
            ));
        }
        let key = key_map(&keys::usage_day(subject, day));
        let attribute_names = names(&[
            ("#count", "count"),
            ("#last", "lastAt"),
            ("#day", "day"),
            ("#type", "type"),
            ("#through", APPLIED_THROUGH),
        ]);
        let mut expected: Option<(StreamSequence, Option<Timestamp>)> = None;
        let mut pending: Vec<&UseRecord> = uses.iter().collect();
        let mut skipped = 0u64;
        for _ in 0..4 {
            let last = pending.iter().map(|u| u.at).max();
            let through = pending.iter().map(|u| &u.sequence).max();
            let (Some(last), Some(through)) = (last, through) else {
                return Ok(UsageApplied {
                    counted: 0,
                    already_counted: skipped,
                });
            };
            let last = match &expected {
                Some((_, Some(stored))) => last.max(*stored),
                _ => last,
            };
            let (condition, mut vals) = match &expected {
                None => (
                    "attribute_not_exists(#through) OR #through < :first",
                    values(vec![(":first", s(first.as_str()))]),
                ),
                Some((seen, _)) => (
                    "#through = :seen",
                    values(vec![(":seen", s(seen.as_str()))]),
                ),
            };
            vals.insert(":t".into(), s(last.to_string()));
            vals.insert(":day".into(), s(day_key(day)));
            vals.insert(":type".into(), s(item_type::USAGE_DAY));
            vals.insert(":through".into(), s(through.as_str()));
            vals.insert(":n".into(), AttributeValue::N(pending.len().to_string()));
            let result = self
                .client
                .update_item()
                .table_name(self.table_name())
                .set_key(Some(key.clone()))
                .update_expression(
                    "SET #last = :t, #day = :day, #type = :type, #through = :through ADD #count :n",
                )
                .condition_expression(condition)
                .set_expression_attribute_names(Some(attribute_names.clone()))
                .set_expression_attribute_values(Some(vals))
                .send()
                .await
                .map_err(StoreError::from_sdk);
            match result {
                Ok(_) => {
                    return Ok(UsageApplied {
                        counted: pending.len() as u64,
                        already_counted: skipped,
                    })
                }
                Err(StoreError::ConditionFailed(_)) => {
                    // Some of these were counted before: count only what lies beyond.
                    let out = self
                        .client
                        .get_item()
                        .table_name(self.table_name())
                        .set_key(Some(key.clone()))
                        .consistent_read(true)
                        .send()
                        .await
                        .map_err(StoreError::from_sdk)?;
                    let item = out.item.unwrap_or_default();
                    let seen = item
                        .get(APPLIED_THROUGH)
                        .and_then(|v| v.as_s().ok())
                        .map(|t| StreamSequence(t.clone()))
                        .ok_or_else(|| {
                            StoreError::Internal("usage counter lost its position".into())
                        })?;
                    let stored_last = item
                        .get("lastAt")
                        .and_then(|v| v.as_s().ok())
                        .and_then(|t| Timestamp::parse(t).ok());
                    let before = pending.len();
                    pending.retain(|u| u.sequence > seen);
                    skipped += (before - pending.len()) as u64;
                    expected = Some((seen, stored_last));
                }
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Transient("usage counter kept changing".into()))
    }

    /// The days with any use among the `days` UTC days ending with `through`, oldest first.
    /// Days without use are absent. One strongly consistent Query.
    pub async fn recent_usage(
        &self,
        subject: &UsageSubject,
        through: NaiveDate,
        days: u16,
    ) -> Result<Vec<UsageDay>, StoreError> {
        if days == 0 || days > MAX_USAGE_DAYS {
            return Err(StoreError::Validation(format!(
                "days must be between 1 and {MAX_USAGE_DAYS}"
            )));
        }
        let from = through
            .checked_sub_days(Days::new(u64::from(days) - 1))
            .unwrap_or(through);
        let spec = QuerySpec {
            index: None,
            pk_attr: attr::PK,
            sk_attr: attr::SK,
            pk: keys::usage_of(subject),
            range: SortRange::Between(keys::usage_day_sort(from), keys::usage_day_sort(through)),
            forward: true,
        };
        let page = PageRequest::new(days, None)?;
        let (items, _) = self.query_page(spec, &page).await?;
        items
            .into_iter()
            .map(|item| from_item(item, "usage day"))
            .collect()
    }

    /// The most recent use of `subject`, if it was ever used. One Query of one item.
    pub async fn last_use(&self, subject: &UsageSubject) -> Result<Option<Timestamp>, StoreError> {
        let spec = QuerySpec {
            index: None,
            pk_attr: attr::PK,
            sk_attr: attr::SK,
            pk: keys::usage_of(subject),
            range: SortRange::BeginsWith("DAY#".into()),
            forward: false,
        };
        let page = PageRequest::new(1, None)?;
        let (items, _) = self.query_page(spec, &page).await?;
        match items.into_iter().next() {
            Some(item) => Ok(Some(from_item::<UsageDay>(item, "usage day")?.last_at)),
            None => Ok(None),
        }
    }
}
