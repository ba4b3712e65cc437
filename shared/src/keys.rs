//! Every DynamoDB key format of the single table, and nothing else.
//!
//! | item | PK | SK | GSI1 | GSI2 |
//! |---|---|---|---|---|
//! | user | `USER#<userId>` | `USER` | | |
//! | agent | `AGENT#<agentId>` | `AGENT` | `OWNER#<userId>` / `AGENT#<createdAt>#<agentId>` | |
//! | service account | `SA#<saId>` | `SA` | | `MIGRATION#<state>` / `SA#<saId>` (not for org-owned) |
//! | owner map | `SA#<saId>` | `OWNERMAP` | | |
//! | credential | `CRED#<credentialId>` | `CRED` | `PRINCIPAL#<type>#<id>` / `CRED#<createdAt>#<credentialId>` | |
//! | audit event | `ACTOR#<actorType>#<actorId>` | `EVT#<occurredAt>#<eventId>` | `ACCOUNTABLE#<userId>#<shard>` / same as SK | `LEGACYSA#<saId>` / same as SK (dual-write only) |
//! | usage day | `USAGE#CRED#<credentialId>` or `USAGE#SA#<saId>` | `DAY#<yyyy-mm-dd>` | | |
//! | cutover | `MIGRATION` | `CUTOVER` | | |
//!
//! Sparse GSI2 work lists for the sweep: credentials in a grace period (`EXPIRING` /
//! `<expiresAt>#<credentialId>`) and offboarded users awaiting confirmation of their cascade
//! (`OFFBOARDED` / `<offboardedAt>#<userId>`).
//!
//! Ids never contain `#` (see [`crate::ids`]), so every key splits unambiguously.

use chrono::NaiveDate;

use crate::ids::{AgentId, CredentialId, EventId, ServiceAccountId, UserId};
use crate::model::{Actor, MigrationState, Principal, UsageSubject};
use crate::time::{day_key, Timestamp};

/// Attribute names of the table's keys and indexes.
pub mod attr {
    /// Partition key.
    pub const PK: &str = "PK";
    /// Sort key.
    pub const SK: &str = "SK";
    /// GSI1 partition key.
    pub const GSI1PK: &str = "GSI1PK";
    /// GSI1 sort key.
    pub const GSI1SK: &str = "GSI1SK";
    /// GSI2 partition key.
    pub const GSI2PK: &str = "GSI2PK";
    /// GSI2 sort key.
    pub const GSI2SK: &str = "GSI2SK";
    /// Item type discriminator.
    pub const TYPE: &str = "type";
    /// TTL attribute (epoch seconds). Deletion is late by days: expiry is always checked in code.
    pub const TTL: &str = "expiresAtEpoch";
}

/// Index names.
pub mod index {
    /// Agents by owner; credentials by principal; events by accountable human.
    pub const GSI1: &str = "GSI1";
    /// Service accounts by migration state (sparse); events by legacy account (sparse).
    pub const GSI2: &str = "GSI2";
}

/// Item type values of the `type` attribute.
pub mod item_type {
    /// A human.
    pub const USER: &str = "user";
    /// An agent identity.
    pub const AGENT: &str = "agent";
    /// A service account.
    pub const SERVICE_ACCOUNT: &str = "service_account";
    /// An owner-map entry.
    pub const OWNER_MAP: &str = "owner_map";
    /// A credential.
    pub const CREDENTIAL: &str = "credential";
    /// An audit event.
    pub const AUDIT_EVENT: &str = "audit_event";
    /// A usage day.
    pub const USAGE_DAY: &str = "usage_day";
}

/// A full primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// Partition key value.
    pub pk: String,
    /// Sort key value.
    pub sk: String,
}

/// An index key: partition and sort value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexKey {
    /// Partition key value.
    pub pk: String,
    /// Sort key value.
    pub sk: String,
}

/// The key of a user.
pub fn user(id: &UserId) -> Key {
    Key {
        pk: format!("USER#{id}"),
        sk: "USER".into(),
    }
}

/// The key of an agent.
pub fn agent(id: &AgentId) -> Key {
    Key {
        pk: format!("AGENT#{id}"),
        sk: "AGENT".into(),
    }
}

/// GSI1 partition of an owner's agents.
pub fn agents_of_owner(owner: &UserId) -> String {
    format!("OWNER#{owner}")
}

/// GSI1 entry of an agent: under its owner, oldest first.
pub fn agent_by_owner(owner: &UserId, created_at: Timestamp, id: &AgentId) -> IndexKey {
    IndexKey {
        pk: agents_of_owner(owner),
        sk: format!("AGENT#{created_at}#{id}"),
    }
}

/// The key of a service account.
pub fn service_account(id: &ServiceAccountId) -> Key {
    Key {
        pk: format!("SA#{id}"),
        sk: "SA".into(),
    }
}

/// GSI2 partition of the accounts in one migration state.
pub fn accounts_in_state(state: MigrationState) -> String {
    format!("MIGRATION#{}", state.as_str())
}

/// GSI2 entry of a service account; `None` for states that are never indexed (org-owned).
pub fn account_by_state(state: MigrationState, id: &ServiceAccountId) -> Option<IndexKey> {
    state.is_indexed().then(|| IndexKey {
        pk: accounts_in_state(state),
        sk: format!("SA#{id}"),
    })
}

/// The key of a service account's owner-map entry (same partition as the account).
pub fn owner_map(id: &ServiceAccountId) -> Key {
    Key {
        pk: format!("SA#{id}"),
        sk: "OWNERMAP".into(),
    }
}

/// The key of a credential.
pub fn credential(id: &CredentialId) -> Key {
    Key {
        pk: format!("CRED#{id}"),
        sk: "CRED".into(),
    }
}

/// GSI1 partition of a principal's credentials.
pub fn credentials_of(principal: &Principal) -> String {
    format!("PRINCIPAL#{}#{}", principal.kind(), principal.id())
}

/// GSI1 entry of a credential: under its principal, oldest first.
pub fn credential_by_principal(
    principal: &Principal,
    created_at: Timestamp,
    id: &CredentialId,
) -> IndexKey {
    IndexKey {
        pk: credentials_of(principal),
        sk: format!("CRED#{created_at}#{id}"),
    }
}

/// Base-table partition of an actor's events.
pub fn events_of_actor(actor: &Actor) -> String {
    format!("ACTOR#{}#{}", actor.actor_type.as_str(), actor.actor_id)
}

/// Sort key of an event, shared by the base table and both indexes: time order, then id.
pub fn event_sort(occurred_at: Timestamp, id: &EventId) -> String {
    format!("EVT#{occurred_at}#{id}")
}

/// The lower bound of event sort keys at or after `at`.
pub fn event_sort_from(at: Timestamp) -> String {
    format!("EVT#{at}")
}

/// The upper bound of event sort keys strictly before `at`'s next millisecond: `~` sorts after
/// `#` and every id character, so `EVT#<at>~` is above every event at `at`.
pub fn event_sort_through(at: Timestamp) -> String {
    format!("EVT#{at}~")
}

/// The key of an audit event.
pub fn audit_event(actor: &Actor, occurred_at: Timestamp, id: &EventId) -> Key {
    Key {
        pk: events_of_actor(actor),
        sk: event_sort(occurred_at, id),
    }
}

/// How many GSI1 partitions one human's events are spread over. One partition key takes at
/// most 1,000 write units a second, and events arrive in time order, so splitting by sort key
/// cannot help a busy owner: spreading writes over shards lifts the ceiling to this many times
/// that, and the owner's listing reads every shard at once. Raising it later is safe (every event
/// stays readable: an event's shard is its hash modulo the count, and readers query every shard
/// below the new count); lowering it is not.
pub const ACCOUNTABLE_SHARDS: u32 = 4;

/// The shard of an event's GSI1 entry: a stable hash of its id, so a retried write lands in the
/// same place.
pub fn accountable_shard(id: &EventId) -> u32 {
    crc32fast::hash(id.as_str().as_bytes()) % ACCOUNTABLE_SHARDS
}

/// One GSI1 partition of the events a human is accountable for.
pub fn events_accountable_to(user: &UserId, shard: u32) -> String {
    format!("ACCOUNTABLE#{user}#{shard}")
}

/// Every GSI1 partition of the events a human is accountable for.
pub fn all_events_accountable_to(user: &UserId) -> Vec<String> {
    (0..ACCOUNTABLE_SHARDS)
        .map(|shard| events_accountable_to(user, shard))
        .collect()
}

/// GSI2 partition of the events dual-written for a legacy service account.
pub fn events_dual_written_for(account: &ServiceAccountId) -> String {
    format!("LEGACYSA#{account}")
}

/// GSI2 partition of credentials whose grace period will end (a rotation's previous credential).
pub const EXPIRING_CREDENTIALS: &str = "EXPIRING";

/// GSI2 entry of an expiring credential, ordered by expiry.
pub fn credential_expiry(expires_at: Timestamp, id: &CredentialId) -> IndexKey {
    IndexKey {
        pk: EXPIRING_CREDENTIALS.into(),
        sk: format!("{expires_at}#{id}"),
    }
}

/// GSI2 partition of offboarded users whose cascade the sweep has yet to confirm.
pub const OFFBOARDED_USERS: &str = "OFFBOARDED";

/// GSI2 entry of an offboarded user.
pub fn offboarded_user(offboarded_at: Timestamp, id: &UserId) -> IndexKey {
    IndexKey {
        pk: OFFBOARDED_USERS.into(),
        sk: format!("{offboarded_at}#{id}"),
    }
}

/// The singleton holding the migration's cutover date (the first migration: the boundary
/// between the pre- and post-migration eras of the audit log).
pub fn cutover() -> Key {
    Key {
        pk: "MIGRATION".into(),
        sk: "CUTOVER".into(),
    }
}

/// Partition of a subject's usage days.
pub fn usage_of(subject: &UsageSubject) -> String {
    match subject {
        UsageSubject::Credential(id) => format!("USAGE#CRED#{id}"),
        UsageSubject::ServiceAccount(id) => format!("USAGE#SA#{id}"),
    }
}

/// Sort key of one usage day.
pub fn usage_day_sort(day: NaiveDate) -> String {
    format!("DAY#{}", day_key(day))
}

/// The key of one usage day.
pub fn usage_day(subject: &UsageSubject, day: NaiveDate) -> Key {
    Key {
        pk: usage_of(subject),
        sk: usage_day_sort(day),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RequestId;

    #[test]
    fn event_bounds_bracket_every_event_at_that_millisecond() {
        let at = Timestamp::parse("2026-05-01T12:00:00.000Z").unwrap();
        let id = EventId::derive("crd_x", &RequestId::parse("r").unwrap());
        let sk = event_sort(at, &id);
        assert!(event_sort_from(at) <= sk);
        assert!(sk < event_sort_through(at));
        let next = at.plus(chrono::Duration::milliseconds(1));
        assert!(event_sort_through(at) < event_sort(next, &id));
    }

    #[test]
    fn actor_types_keep_same_ids_apart() {
        let user = Actor::user(&UserId::parse("ci-bot").unwrap());
        let account = Actor::service_account(&ServiceAccountId::parse("ci-bot").unwrap());
        assert_ne!(events_of_actor(&user), events_of_actor(&account));
    }

    #[test]
    fn org_owned_accounts_have_no_work_list_entry() {
        let id = ServiceAccountId::parse("billing").unwrap();
        assert!(account_by_state(MigrationState::Exempt, &id).is_none());
        assert_eq!(
            account_by_state(MigrationState::DualWriting, &id)
                .unwrap()
                .pk,
            "MIGRATION#dual_writing"
        );
    }

    #[test]
    fn one_owners_events_spread_evenly_over_every_shard() {
        let owner = UserId::parse("govind").unwrap();
        let mut per_shard = vec![0u32; ACCOUNTABLE_SHARDS as usize];
        for i in 0..4_000 {
            let id = EventId::derive("crd_x", &RequestId::parse(format!("r{i}")).unwrap());
            let shard = accountable_shard(&id);
            assert_eq!(shard, accountable_shard(&id), "stable across calls");
            per_shard[shard as usize] += 1;
        }
        // 1,000 expected each; a fair hash stays well within 10%.
        assert!(
            per_shard.iter().all(|n| (900..=1_100).contains(n)),
            "{per_shard:?}"
        );
        let partitions = all_events_accountable_to(&owner);
        assert_eq!(partitions.len(), ACCOUNTABLE_SHARDS as usize);
        assert_eq!(partitions[3], "ACCOUNTABLE#govind#3");
    }

    #[test]
    fn usage_keys_sort_by_day() {
        let subject = UsageSubject::ServiceAccount(ServiceAccountId::parse("sa-7").unwrap());
        let a = usage_day(&subject, NaiveDate::from_ymd_opt(2026, 1, 9).unwrap());
        let b = usage_day(&subject, NaiveDate::from_ymd_opt(2026, 1, 10).unwrap());
        assert_eq!(a.pk, "USAGE#SA#sa-7");
        assert!(a.sk < b.sk);
    }
}
