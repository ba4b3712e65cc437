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
