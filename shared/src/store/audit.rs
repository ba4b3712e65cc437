//! Audit events: one conditional PutItem each, and the three time-ordered queries.
//!
//! An event is one item. Its index entries carry the attribution: GSI1 under the accountable
//! human, GSI2 under the legacy account only while the event is dual-written. After the cutover
//! window no GSI2 entry is written, so the dual-write costs nothing once it is over.
//!
//! A batch is one BatchWriteItem (plus retries of unprocessed items). BatchWriteItem cannot be
//! conditional, so a strongly consistent BatchGetItem first finds the events already stored; only
//! the others are written. A replayed batch therefore never rewrites a stored event.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::{
    entity_item, from_item, set_index, Item, Page, PageRequest, QuerySpec, SortRange, Store,
    StoreError,
};
use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, WriteRequest};
use serde_json::{json, Value};

use super::{key_map, page::key_from_plain, PageToken};
use crate::ids::{ServiceAccountId, UserId};
use crate::keys::{self, attr, index, item_type, Key};
use crate::model::{details_fit, Actor, AuditEvent, MAX_DETAILS_BYTES};
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
            pk: keys::events_accountable_to(owner, keys::accountable_shard(&event.event_id)),
            sk: key.sk.clone(),
        };
        set_index(&mut item, attr::GSI1PK, attr::GSI1SK, &entry);
    }
    // The dual-write index holds what other identities did for the old account; the account's
    // own events are already in its actor partition, so they get no second entry.
    let own_event = event
        .legacy_service_account_id
        .as_ref()
        .is_some_and(|account| event.actor == Actor::service_account(account));
    if let Some(account) = event
        .legacy_service_account_id
        .as_ref()
        .filter(|_| !own_event)
    {
        let entry = keys::IndexKey {
            pk: keys::events_dual_written_for(account),
            sk: key.sk.clone(),
        };
        set_index(&mut item, attr::GSI2PK, attr::GSI2SK, &entry);
    }
    Ok(item)
}

fn check_event(event: &AuditEvent) -> Result<(), StoreError> {
    if event.details.as_ref().is_some_and(|d| !details_fit(d)) {
        return Err(StoreError::Validation(format!(
            "details must be at most {MAX_DETAILS_BYTES} bytes of JSON"
        )));
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

    /// Events matching `query`, newest first. A human's events are spread over
    /// [`keys::ACCOUNTABLE_SHARDS`] GSI1 partitions; their listing queries every one at once
    /// and merges, so it is still one call here and one round trip of latency.
    pub async fn query_audit_events(
        &self,
        query: &AuditQuery,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let sources = match &query.selector {
            EventSelector::Actor(actor) => vec![EventSource::actor(actor)],
            EventSelector::AccountableTo(user) => keys::all_events_accountable_to(user)
                .into_iter()
                .map(EventSource::accountable)
                .collect(),
            EventSelector::DualWrittenFor(account) => vec![EventSource::dual_written(account)],
        };
        self.query_merged(&sources, query.since, query.until, page)
            .await
    }
}

/// One partition of a time-ordered event listing.
struct EventSource {
    index: Option<&'static str>,
    pk_attr: &'static str,
    sk_attr: &'static str,
    pk: String,
    /// The attributes of a cursor into this source (the table's key, plus the index's).
    cursor_attrs: &'static [&'static str],
}

impl EventSource {
    fn actor(actor: &Actor) -> Self {
        Self {
            index: None,
            pk_attr: attr::PK,
            sk_attr: attr::SK,
            pk: keys::events_of_actor(actor),
            cursor_attrs: &[attr::PK, attr::SK],
        }
    }

    fn accountable(pk: String) -> Self {
        Self {
            index: Some(index::GSI1),
            pk_attr: attr::GSI1PK,
            sk_attr: attr::GSI1SK,
            pk,
            cursor_attrs: &[attr::PK, attr::SK, attr::GSI1PK, attr::GSI1SK],
        }
    }

    fn dual_written(account: &ServiceAccountId) -> Self {
        Self {
            index: Some(index::GSI2),
            pk_attr: attr::GSI2PK,
            sk_attr: attr::GSI2SK,
            pk: keys::events_dual_written_for(account),
            cursor_attrs: &[attr::PK, attr::SK, attr::GSI2PK, attr::GSI2SK],
        }
    }
}

/// How many items to ask of each of `sources` first for a merged page of `limit`: twice an even
/// share and four more, never more than the page itself. When events spread evenly (the shards
/// of one owner) one shard then holds more than that of the newest `limit` so rarely that one
/// round fills the page: for a page of 20 over 4 shards, 1 page in 30,000 needs a second round
/// (twice the share alone: 1 in 30).
fn per_source_limit(limit: u16, sources: usize) -> u16 {
    let sources = u16::try_from(sources.max(1)).unwrap_or(u16::MAX);
    limit
        .div_ceil(sources)
        .saturating_mul(2)
        .saturating_add(4)
        .min(limit)
}

fn sort_key(item: &Item) -> &str {
    item.get(attr::SK)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

/// Most rounds of reads for one merged page.
const MAX_MERGE_ROUNDS: usize = 8;

/// Where one source of a merged page stands.
struct SourceState {
    /// Read but not yet returned, newest first.
    buffer: std::collections::VecDeque<Item>,
    /// Where the next read starts: `None` from the top of the range.
    start: Option<Item>,
    /// Nothing is left beyond the buffer.
    exhausted: bool,
    /// The cursor this page started from, for the token when nothing of this source is used.
    page_start: Option<Option<Item>>,
    /// The key to resume after: the last item returned (or read past) on this page.
    resume: Option<Item>,
}

impl Store {
    /// A newest-first page merged from `sources`. Each source is first read a share of the
    /// page, all at once. An item is returned only while every source that is not finished has
    /// something read (so the newest of their heads is the newest left anywhere); a source that
    /// runs dry before the page is full is read again for what the page still needs. Pages are
    /// therefore full unless the listing ends, in order across sources, and nothing repeats or
    /// is skipped. The page token holds one cursor per source.
    async fn query_merged(
        &self,
        sources: &[EventSource],
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, StoreError> {
        if let (Some(since), Some(until)) = (since, until) {
            if since > until {
                return Err(StoreError::Validation(
                    "since must not be after until".into(),
                ));
            }
        }
        let cursors = match page.next() {
            None => vec![Some(None); sources.len()],
            Some(token) => match token.decode_json()? {
                Value::Array(states) if states.len() == sources.len() => states
                    .iter()
                    .zip(sources)
                    .map(|(state, source)| cursor_from(state, source.pk_attr, &source.pk))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err(StoreError::Validation("nextToken is malformed".into())),
            },
        };
        let from = since
            .map(keys::event_sort_from)
            .unwrap_or_else(|| "EVT#".into());
        let through = until
            .map(keys::event_sort_through)
            .unwrap_or_else(|| "EVT#~".into());
        let limit = usize::from(page.limit());
        let mut states: Vec<SourceState> = cursors
            .into_iter()
            .map(|cursor| SourceState {
                buffer: Default::default(),
                start: cursor.clone().flatten(),
                exhausted: cursor.is_none(),
                page_start: cursor,
                resume: None,
            })
            .collect();
        let mut taken = Vec::new();
        let mut ask = per_source_limit(page.limit(), sources.len());
        // Every round reads at least one item or finishes a source; the bound only guards
        // against a server that answers empty pages without end (the page is then short).
        for _round in 0..MAX_MERGE_ROUNDS {
            // Read every source that is dry but not finished, at once.
            let reads = sources
                .iter()
                .zip(&states)
                .enumerate()
                .filter(|(_, (_, state))| state.buffer.is_empty() && !state.exhausted)
                .map(|(n, (source, state))| {
                    let spec = QuerySpec {
                        index: source.index,
                        pk_attr: source.pk_attr,
                        sk_attr: source.sk_attr,
                        pk: source.pk.clone(),
                        range: SortRange::Between(from.clone(), through.clone()),
                        forward: false,
                    };
                    let start = state.start.clone();
                    async move {
                        let (items, last) = self.query_raw(spec, ask, start).await?;
                        Ok::<_, StoreError>((n, items, last))
                    }
                });
            for (n, items, last) in futures::future::try_join_all(reads).await? {
                let state = &mut states[n];
                state.exhausted = last.is_none();
                if items.is_empty() {
                    state.resume = last.clone().or(state.resume.take());
                }
                state.start = last;
                state.buffer.extend(items);
            }
            // Return items while every unfinished source has a head to compare.
            while taken.len() < limit && states.iter().all(|s| !s.buffer.is_empty() || s.exhausted)
            {
                let newest = states
                    .iter()
                    .enumerate()
                    .filter_map(|(n, s)| s.buffer.front().map(|item| (n, sort_key(item))))
                    .max_by(|a, b| a.1.cmp(b.1))
                    .map(|(n, _)| n);
                let Some(n) = newest else { break };
                let item = states[n].buffer.pop_front().expect("a head");
                states[n].resume = Some(item.clone());
                taken.push(item);
            }
            let finished = states.iter().all(|s| s.buffer.is_empty() && s.exhausted);
            if taken.len() >= limit || finished {
                break;
            }
            // Some source ran dry first: read it again for what the page still needs.
            ask = u16::try_from(limit - taken.len()).unwrap_or(u16::MAX);
        }

        let next_cursors: Vec<Value> = states
            .iter()
            .zip(sources)
            .map(|(state, source)| {
                if state.buffer.is_empty() && state.exhausted {
                    json!("done")
                } else {
                    match (&state.resume, &state.page_start) {
                        (Some(key), _) => plain_key(key, source.cursor_attrs),
                        (None, Some(Some(key))) => plain_key(key, source.cursor_attrs),
                        (None, _) => Value::Null,
                    }
                }
            })
            .collect();
        let next = next_cursors
            .iter()
            .any(|cursor| cursor != &json!("done"))
            .then(|| PageToken::encode_json(&Value::Array(next_cursors)));
        let items = taken
            .into_iter()
            .map(|item| from_item(item, "audit event"))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next })
    }
}

/// Most events in one batch (DynamoDB's BatchWriteItem limit).
pub const MAX_BATCH: usize = 25;
const BATCH_ATTEMPTS: u32 = 8;

fn event_key(event: &AuditEvent) -> Key {
    keys::audit_event(&event.actor, event.occurred_at, &event.event_id)
}

fn plain_key(item: &Item, attrs: &[&str]) -> Value {
    let mut map = serde_json::Map::new();
    for name in attrs {
        if let Some(value) = item.get(*name).and_then(|v| v.as_s().ok()) {
            map.insert((*name).to_owned(), Value::String(value.clone()));
        }
    }
    Value::Object(map)
}

/// Where one source of a merged listing stands.
fn cursor_from(
    value: &Value,
    partition_attr: &str,
    partition: &str,
) -> Result<Option<Option<Item>>, StoreError> {
    match value {
        // Not started: from the top.
        Value::Null => Ok(Some(None)),
        Value::String(done) if done == "done" => Ok(None),
        Value::Object(map) => {
            let plain = map
                .iter()
                .map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect::<Option<std::collections::BTreeMap<_, _>>>()
                .ok_or_else(|| StoreError::Validation("nextToken is malformed".into()))?;
            Ok(Some(Some(key_from_plain(
                plain,
                partition_attr,
                partition,
            )?)))
        }
        _ => Err(StoreError::Validation("nextToken is malformed".into())),
    }
}

impl Store {
    /// Stores up to [`MAX_BATCH`] events, each once: one consistent BatchGetItem finds those
    /// already stored, one BatchWriteItem (plus retries of unprocessed items) writes the rest.
    /// Outcomes are in input order.
    pub async fn put_audit_events(
        &self,
        events: &[AuditEvent],
    ) -> Result<Vec<PutOutcome>, StoreError> {
        if events.is_empty() || events.len() > MAX_BATCH {
            return Err(StoreError::Validation(format!(
                "a batch holds 1-{MAX_BATCH} events"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for event in events {
            check_event(event)?;
            if !seen.insert(event_key(event)) {
                return Err(StoreError::Validation(
                    "a batch names one event twice".into(),
                ));
            }
        }
        let stored = self.existing_events(events).await?;
        let mut pending: Vec<WriteRequest> = Vec::new();
        for event in events {
            if !stored.contains_key(&event_key(event)) {
                let put = PutRequest::builder()
                    .set_item(Some(event_item(event)?))
                    .build()
                    .map_err(StoreError::build)?;
                pending.push(WriteRequest::builder().put_request(put).build());
            }
        }
        let mut attempt = 0;
        while !pending.is_empty() {
            if attempt >= BATCH_ATTEMPTS {
                return Err(StoreError::Transient(format!(
                    "{} events still unprocessed after {attempt} attempts",
                    pending.len()
                )));
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(25 << attempt.min(6))).await;
            }
            attempt += 1;
            let out = self
                .client
                .batch_write_item()
                .request_items(self.table_name(), std::mem::take(&mut pending))
                .send()
                .await
                .map_err(StoreError::from_sdk)?;
            pending = out
                .unprocessed_items
                .and_then(|mut left| left.remove(self.table_name()))
                .unwrap_or_default();
        }
        Ok(events
            .iter()
            .map(|event| match stored.get(&event_key(event)) {
                Some(first) => PutOutcome::Replayed(first.clone()),
                None => PutOutcome::Created(event.clone()),
            })
            .collect())
    }

    async fn existing_events(
        &self,
        events: &[AuditEvent],
    ) -> Result<HashMap<Key, AuditEvent>, StoreError> {
        let mut keys: Vec<Item> = events.iter().map(|e| key_map(&event_key(e))).collect();
        let mut found = HashMap::new();
        let mut attempt = 0;
        while !keys.is_empty() {
            if attempt >= BATCH_ATTEMPTS {
                return Err(StoreError::Transient(
                    "batch read kept returning unprocessed keys".into(),
                ));
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(25 << attempt.min(6))).await;
            }
            attempt += 1;
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .consistent_read(true)
                .build()
                .map_err(StoreError::build)?;
            let out = self
                .client
                .batch_get_item()
                .request_items(self.table_name(), request)
                .send()
                .await
                .map_err(StoreError::from_sdk)?;
            for item in out
                .responses
                .and_then(|mut r| r.remove(self.table_name()))
                .unwrap_or_default()
            {
                let key = Key {
                    pk: item
                        .get(attr::PK)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default(),
                    sk: item
                        .get(attr::SK)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default(),
                };
                found.insert(key, from_item(item, "audit event")?);
            }
            keys = out
                .unprocessed_keys
                .and_then(|mut left| left.remove(self.table_name()))
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        Ok(found)
    }

    /// Everything recorded about a service account, newest first: its own events (the
    /// pre-migration era, and any use of its legacy credential) merged with the events dual-
    /// written for it by its agent during the cutover. Two Queries per page, at once; the two
    /// sources are disjoint, so nothing appears twice.
    pub async fn query_service_account_events(
        &self,
        account: &ServiceAccountId,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let sources = [
            EventSource::actor(&Actor::service_account(account)),
            EventSource::dual_written(account),
        ];
        self.query_merged(&sources, since, until, page).await
    }
}

#[cfg(test)]
mod tests {
    use super::per_source_limit;

    /// Of `trials` pages whose newest `limit` events fall on `shards` shards at random, those
    /// in which some shard supplies `ask` of them before the page is full: the pages a first
    /// round of `ask` per shard cannot fill.
    fn second_rounds(limit: usize, shards: usize, ask: usize, trials: u64) -> u64 {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            // splitmix64: a fixed, well-spread sequence.
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        (0..trials)
            .filter(|_| {
                let mut taken = vec![0usize; shards];
                (0..limit - 1).any(|_| {
                    let shard = (next() % shards as u64) as usize;
                    taken[shard] += 1;
                    taken[shard] == ask
                })
            })
            .count() as u64
    }

    #[test]
    fn the_first_round_asks_enough_that_an_even_spread_fills_the_page_at_once() {
        assert_eq!(per_source_limit(20, 4), 14);
        assert_eq!(per_source_limit(100, 4), 54);
        assert_eq!(per_source_limit(5, 4), 5);
        assert_eq!(per_source_limit(1, 4), 1);
        assert_eq!(per_source_limit(100, 1), 100);
        let trials = 200_000;
        let now = second_rounds(20, 4, usize::from(per_source_limit(20, 4)), trials);
        let twice_the_share = second_rounds(20, 4, 10, trials);
        assert!(
            now * 10_000 < trials,
            "{now} of {trials} pages need a second round"
        );
        assert!(twice_the_share * 100 > trials, "{twice_the_share}");
    }
}
