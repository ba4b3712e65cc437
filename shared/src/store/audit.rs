//! Audit events: one conditional PutItem each, and the three time-ordered queries.
//!
//! An event is one item. Its index entries carry the attribution: GSI1 under the accountable
//! human, GSI2 under the legacy account only while the event is dual-written. After the cutover
//! window no GSI2 entry is written, so the dual-write costs nothing once it is over.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::{
    entity_item, from_item, set_index, Item, Page, PageRequest, QuerySpec, SortRange, Store,
    StoreError,
};
use crate::ids::{ServiceAccountId, UserId};
use crate::keys::{self, attr, index, item_type};
use crate::model::{Actor, AuditEvent, MAX_DETAILS_BYTES};
use crate::time::Timestamp;

/// Whether an event write stored something new.
#[derive(Debug, Clone, PartialEq)]
pub enum PutOutcome {
    /// First write: this event is now stored.
    Created(AuditEvent),
    /// A retry: the event was already stored; here it is as first written.
    Replayed(AuditEvent),
}

impl PutOutcome {
    /// The stored event, either way.
    pub fn event(&self) -> &AuditEvent {
        match self {
            Self::Created(e) | Self::Replayed(e) => e,
        }
    }
}

/// Which events to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSelector {
    /// Everything one actor did (base table).
    Actor(Actor),
    /// Everything a human is accountable for: "what did Govind's agents do" (GSI1).
    AccountableTo(UserId),
    /// Events dual-written for a legacy account during its cutover window (GSI2).
    DualWrittenFor(ServiceAccountId),
}

/// An event query: a selector and an optional time range, always newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Whose events.
    pub selector: EventSelector,
    /// Events at or after this instant.
    pub since: Option<Timestamp>,
    /// Events at or before this instant.
    pub until: Option<Timestamp>,
}

fn event_item(event: &AuditEvent) -> Result<Item, StoreError> {
    let key = keys::audit_event(&event.actor, event.occurred_at, &event.event_id);
    let mut item = entity_item(event, &key, item_type::AUDIT_EVENT)?;
    if let Some(owner) = &event.accountable_principal_id {
        let entry = keys::IndexKey {
            pk: keys::events_accountable_to(owner),
            sk: key.sk.clone(),
        };
        set_index(&mut item, attr::GSI1PK, attr::GSI1SK, &entry);
    }
    if let Some(account) = &event.legacy_service_account_id {
        let entry = keys::IndexKey {
            pk: keys::events_dual_written_for(account),
            sk: key.sk.clone(),
        };
        set_index(&mut item, attr::GSI2PK, attr::GSI2SK, &entry);
    }
    Ok(item)
}

fn check_event(event: &AuditEvent) -> Result<(), StoreError> {
    if let Some(details) = &event.details {
        let size = serde_json::to_vec(details)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_DETAILS_BYTES {
            return Err(StoreError::Validation(format!(
                "details must be at most {MAX_DETAILS_BYTES} bytes of JSON"
            )));
        }
    }
    Ok(())
}

impl Store {
    /// Stores an event once: ONE PutItem, conditional on the key being free. A second put of
    /// the same event stores nothing and returns the event as first stored (`Replayed`).
    pub async fn put_audit_event(&self, event: &AuditEvent) -> Result<PutOutcome, StoreError> {
        check_event(event)?;
        let item = event_item(event)?;
        let result = self
            .client
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutOutcome::Created(event.clone())),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    PutItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                let old = match service.into_err() {
                    PutItemError::ConditionalCheckFailedException(e) => e.item,
                    _ => None,
                };
                let stored = match old {
                    Some(item) if !item.is_empty() => from_item(item, "audit event")?,
                    // Servers that do not return the old item: read it.
                    _ => {
                        let key =
                            keys::audit_event(&event.actor, event.occurred_at, &event.event_id);
                        self.get_consistent(&key, "audit event")
                            .await?
                            .ok_or(StoreError::Internal("event vanished after conflict".into()))?
                    }
                };
                Ok(PutOutcome::Replayed(stored))
            }
            Err(other) => Err(StoreError::from_sdk(other)),
        }
    }

    /// Events matching `query`, newest first.
    pub async fn query_audit_events(
        &self,
        query: &AuditQuery,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, StoreError> {
        if let (Some(since), Some(until)) = (query.since, query.until) {
            if since > until {
                return Err(StoreError::Validation(
                    "since must not be after until".into(),
                ));
            }
        }
        let (index, pk_attr, sk_attr, pk) = match &query.selector {
            EventSelector::Actor(actor) => (None, attr::PK, attr::SK, keys::events_of_actor(actor)),
            EventSelector::AccountableTo(user) => (
                Some(index::GSI1),
                attr::GSI1PK,
                attr::GSI1SK,
                keys::events_accountable_to(user),
            ),
            EventSelector::DualWrittenFor(account) => (
                Some(index::GSI2),
                attr::GSI2PK,
                attr::GSI2SK,
                keys::events_dual_written_for(account),
            ),
        };
        let from = query
            .since
            .map(keys::event_sort_from)
            .unwrap_or_else(|| "EVT#".into());
        let through = query
            .until
            .map(keys::event_sort_through)
            .unwrap_or_else(|| "EVT#~".into());
        let spec = QuerySpec {
            index,
            pk_attr,
            sk_attr,
            pk,
            range: SortRange::Between(from, through),
            forward: false,
        };
        let (items, next) = self.query_page(spec, page).await?;
        let items = items
            .into_iter()
            .map(|item| from_item(item, "audit event"))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next })
    }
}
