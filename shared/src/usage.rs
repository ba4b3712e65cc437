//! The usage aggregator: a DynamoDB Streams consumer that counts audit-event inserts per
//! (credential, UTC day) and per (service account, UTC day), and so keeps each one's last use.
//!
//! Coalesced: one write per distinct counter per batch, so writes grow with distinct keys, not
//! with events. Exactly once: each counter remembers the highest stream sequence number it has
//! counted (see [`crate::store::Store::apply_usage`]), so a batch delivered again (a retry, a
//! bisected half, the tail after a partial failure) never double counts. A counter that cannot be
//! written is reported in `batchItemFailures` from its earliest record, so the retry starts there
//! and the rest of the shard is not held back by a bad record.

use futures::StreamExt;
use std::collections::BTreeMap;

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use crate::ids::{CredentialId, ServiceAccountId};
use crate::keys::item_type;
use crate::model::{ActorType, UsageSubject};
use crate::store::{Store, StreamSequence, UseRecord};
use crate::time::Timestamp;

/// Counter writes one batch keeps in flight at once.
const COUNTERS_IN_FLIGHT: usize = 16;

/// The attributes of an audit-event image that usage needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Use {
    #[serde(rename = "type")]
    item_type: Option<String>,
    actor_type: Option<ActorType>,
    actor_id: Option<String>,
    credential_id: Option<CredentialId>,
    occurred_at: Option<Timestamp>,
}

/// What one batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchReport {
    /// Audit-event inserts seen.
    pub events: usize,
    /// Other records (modifications, other item types), ignored.
    pub ignored: usize,
    /// Audit-event inserts that could not be read, skipped.
    pub malformed: usize,
    /// Counter writes made (one per distinct counter).
    pub counters: usize,
    /// Uses newly counted.
    pub counted: u64,
    /// Uses already counted by an earlier delivery.
    pub already_counted: u64,
    /// Counters that failed and will be retried.
    pub failed_counters: usize,
}

/// The aggregator's state: built once at init.
#[derive(Debug, Clone)]
pub struct Aggregator {
    store: Store,
}

struct Group {
    uses: Vec<UseRecord>,
    earliest: (StreamSequence, String),
}

impl Aggregator {
    /// An aggregator writing through `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Processes one stream batch; the response names the record to retry from, if any.
    pub async fn handle(&self, event: Event) -> (DynamoDbEventResponse, BatchReport) {
        let mut report = BatchReport::default();
        let mut groups: BTreeMap<(UsageSubject, NaiveDate), Group> = BTreeMap::new();
        for record in event.records {
            if record.event_name != "INSERT" {
                report.ignored += 1;
                continue;
            }
            let decoded: Result<Use, _> = serde_dynamo::from_item(record.change.new_image);
            let Ok(used) = decoded else {
                report.malformed += 1;
                continue;
            };
            if used.item_type.as_deref() != Some(item_type::AUDIT_EVENT) {
                report.ignored += 1;
                continue;
            }
            let raw_sequence = record.change.sequence_number.clone().unwrap_or_default();
            let (Some(sequence), Some(at)) =
                (StreamSequence::parse(&raw_sequence), used.occurred_at)
            else {
                tracing::warn!(event_id = %record.event_id, "audit-event record without sequence or time; skipped");
                report.malformed += 1;
                continue;
            };
            report.events += 1;
            let mut subjects = Vec::new();
            if let Some(cred) = used.credential_id {
                subjects.push(UsageSubject::Credential(cred));
            }
            if used.actor_type == Some(ActorType::ServiceAccount) {
                if let Some(account) = used
                    .actor_id
                    .as_deref()
                    .and_then(|a| ServiceAccountId::parse(a).ok())
                {
                    subjects.push(UsageSubject::ServiceAccount(account));
                }
            }
            for subject in subjects {
                let group = groups.entry((subject, at.day())).or_insert_with(|| Group {
                    uses: Vec::new(),
                    earliest: (sequence.clone(), raw_sequence.clone()),
                });
                if sequence < group.earliest.0 {
                    group.earliest = (sequence.clone(), raw_sequence.clone());
                }
                group.uses.push(UseRecord {
                    sequence: sequence.clone(),
                    at,
                });
            }
        }

        let mut retry_from: Option<(StreamSequence, String)> = None;
        // Counters are distinct items: apply them at once, a bounded number in flight.
        let applied: Vec<_> = futures::stream::iter(groups)
            .map(|((subject, day), group)| async move {
                let result = self.store.apply_usage(&subject, day, &group.uses).await;
                (subject, day, group, result)
            })
            .buffer_unordered(COUNTERS_IN_FLIGHT)
            .collect()
            .await;
        for (subject, day, group, result) in applied {
            report.counters += 1;
            match result {
                Ok(applied) => {
                    report.counted += applied.counted;
                    report.already_counted += applied.already_counted;
                }
                Err(err) => {
                    tracing::warn!(error = %err, ?subject, %day, "usage counter failed; will retry");
                    report.failed_counters += 1;
                    if retry_from.as_ref().is_none_or(|r| group.earliest.0 < r.0) {
                        retry_from = Some(group.earliest);
                    }
                }
            }
        }
        let mut response = DynamoDbEventResponse::default();
        if let Some((_, raw)) = retry_from {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(raw);
            response.batch_item_failures.push(failure);
        }
        tracing::info!(report = ?report, "usage batch");
        (response, report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_real_batch_parses_and_a_failed_counter_is_retried_from_its_record() {
        let text = crate::api::test_support::fixture("usage-stream-batch");
        let event: Event = serde_json::from_str(&text).unwrap();
        let aggregator = Aggregator::new(crate::api::test_support::offline_store());
        let (response, report) = aggregator.handle(event).await;
        assert_eq!((report.events, report.ignored, report.malformed), (1, 1, 0));
        assert_eq!(report.failed_counters, 1);
        let failures: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        assert_eq!(failures, [Some("10000000000000000001".to_owned())]);
    }
}
