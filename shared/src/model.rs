//! The entities of the single table, as the domain sees them.
//!
//! Each entity serialises to the attributes of its DynamoDB item (camelCase); the keys and the
//! `type` attribute are added by the store from [`crate::keys`], so nothing here knows a key format.
//! Optional attributes are skipped when absent, never written as NULL: several of them feed sparse
//! indexes, where a NULL would still be an (invalid) key.

use std::collections::BTreeSet;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, CredentialId, EventId, IdError, RequestId, ServiceAccountId, UserId};
use crate::time::Timestamp;
use crate::values::{Action, Email, Name, Note, Resource, ScopeSet};

/// Whether a human may own and act through agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// May own agents.
    Active,
    /// Has left; owns no active agents.
    Offboarded,
}

/// A human: the principal every agent action is accountable to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The identity provider's subject.
    pub user_id: UserId,
    /// Where to reach the person accountable.
    pub email: Email,
    /// Lifecycle state.
    pub status: UserStatus,
    /// What the human may do; agents get a subset.
    pub scopes: ScopeSet,
    /// Whether the user administers the migration.
    pub admin: bool,
    /// First registration.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When the user was offboarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offboarded_at: Option<Timestamp>,
    /// Why the user was offboarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offboard_reason: Option<Note>,
}

impl User {
    /// A new, active user.
    pub fn new(
        user_id: UserId,
        email: Email,
        scopes: ScopeSet,
        admin: bool,
        now: Timestamp,
    ) -> Self {
        Self {
            user_id,
            email,
            status: UserStatus::Active,
            scopes,
            admin,
            created_at: now,
            updated_at: now,
            offboarded_at: None,
            offboard_reason: None,
        }
    }
}

/// Why something was revoked; recorded on the revoked item and in its audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// The owner left and ownership was not transferred first.
    OwnerOffboarded,
    /// The owner revoked it.
    RevokedByOwner,
    /// An administrator revoked it.
    RevokedByAdmin,
    /// The agent it belonged to was revoked.
    AgentRevoked,
    /// A migration was rolled back before the legacy credential was revoked.
    MigrationRolledBack,
    /// A legacy credential that had been quiet long enough after its migration.
    LegacyQuiet,
}

impl RevocationReason {
    /// The stable snake_case form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OwnerOffboarded => "owner_offboarded",
            Self::RevokedByOwner => "revoked_by_owner",
            Self::RevokedByAdmin => "revoked_by_admin",
            Self::AgentRevoked => "agent_revoked",
            Self::MigrationRolledBack => "migration_rolled_back",
            Self::LegacyQuiet => "legacy_quiet",
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an agent may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Its credentials verify.
    Active,
    /// Permanently off; its credentials are revoked with it.
    Revoked,
}

/// An agent identity: automation that belongs to exactly one owning human.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    /// Minted id.
    pub agent_id: AgentId,
    /// Display name.
    pub name: Name,
    /// The human accountable for everything the agent does. Required, always.
    pub owner_user_id: UserId,
    /// The owner's scopes, explicitly narrowed.
    pub scopes: ScopeSet,
    /// Lifecycle state.
    pub status: AgentStatus,
    /// The most recently minted credential.
    pub credential_id: CredentialId,
    /// Credentials that currently verify (at most two: during a rotation's grace period).
    /// Kept as a DynamoDB string set by the store, so it is not serialised with the entity.
    #[serde(skip)]
    pub active_credential_ids: BTreeSet<CredentialId>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When the agent was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// Why the agent was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_reason: Option<RevocationReason>,
    /// The service account this agent replaces, when it came from a migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrated_from_service_account_id: Option<ServiceAccountId>,
    /// End of the cutover window during which its events also carry the old account id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dual_write_until: Option<Timestamp>,
    /// Fingerprint of the idempotent request that created it, to tell a retry from a reuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_fingerprint: Option<String>,
}

/// Whether a service account is org-owned automation or human-attached automation to migrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceAccountKind {
    /// Org-owned automation (nightly cleanup, billing): stays a service account, never swept.
    OrgOwned,
    /// Human-attached automation: becomes an agent identity.
    Migrate,
}

/// Whether a service account's row is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceAccountStatus {
    /// In use.
    Active,
    /// Its credential is revoked; the row is kept through the "did we forget anyone" buffer.
    Deprecated,
}

/// Where a service account stands in the six-step migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationState {
    /// Org-owned: not part of the migration.
    Exempt,
    /// Step 2 started: in the inventory, no owner yet.
    Inventoried,
    /// Step 2 done: an owner is mapped.
    OwnerAssigned,
    /// Steps 3-4: agent and credential issued; events are dual-written until the window closes.
    DualWriting,
    /// Step 5: the window closed; waiting for the legacy credential to go quiet.
    AwaitingQuiet,
    /// Step 6: the legacy credential is revoked and the account deprecated; the buffer runs.
    Revoked,
}

impl MigrationState {
    /// Every state, in migration order.
    pub const ALL: [MigrationState; 6] = [
        Self::Exempt,
        Self::Inventoried,
        Self::OwnerAssigned,
        Self::DualWriting,
        Self::AwaitingQuiet,
        Self::Revoked,
    ];

    /// The stable snake_case form, as used in keys and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exempt => "exempt",
            Self::Inventoried => "inventoried",
            Self::OwnerAssigned => "owner_assigned",
            Self::DualWriting => "dual_writing",
            Self::AwaitingQuiet => "awaiting_quiet",
            Self::Revoked => "revoked",
        }
    }

    /// Whether accounts in this state appear in the migration-state index. Exempt (org-owned)
    /// accounts never do, so no sweep can ever pick one up.
    pub fn is_indexed(self) -> bool {
        self != Self::Exempt
    }
}

impl fmt::Display for MigrationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a hard-coded credential lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationKind {
    /// A CI pipeline.
    Ci,
    /// A cron job or scheduler.
    Cron,
    /// A vendor system (Slack, Stripe, ...): rotate in lockstep.
    Vendor,
    /// Anything else.
    Other,
}

/// A place that holds a service account's credential and must change with the migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Integration {
    /// What kind of system it is.
    pub kind: IntegrationKind,
    /// Where, e.g. `github:acme/api/.github/workflows/deploy.yml`.
    pub location: Resource,
    /// Anything the person rotating it needs to know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Note>,
}

/// A pre-migration credential owned by the org, and its place in the migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccount {
    /// Inventory id.
    pub service_account_id: ServiceAccountId,
    /// Display name.
    pub name: Name,
    /// Org-owned or to migrate.
    pub kind: ServiceAccountKind,
    /// Current or deprecated.
    pub status: ServiceAccountStatus,
    /// Migration progress.
    pub migration_state: MigrationState,
    /// Where the credential is hard-coded.
    pub integrations: Vec<Integration>,
    /// Whether someone confirmed the integration list is complete (required before step 3).
    pub integrations_reviewed: bool,
    /// What the account may do today; its agent gets these, narrowed to the owner's.
    #[serde(default)]
    pub scopes: ScopeSet,
    /// The imported legacy credential, when its secret was imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_credential_id: Option<CredentialId>,
    /// The agent that replaces this account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrated_to_agent_id: Option<AgentId>,
    /// When the agent was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrated_at: Option<Timestamp>,
    /// End of the dual-write window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dual_write_until: Option<Timestamp>,
    /// When the sweep recorded the window's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dual_write_ended_at: Option<Timestamp>,
    /// When the legacy credential was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// First inventory.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// `service_account_owner_map`: who is operationally responsible for a service account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerMapEntry {
    /// The account.
    pub service_account_id: ServiceAccountId,
    /// The responsible human.
    pub owner_user_id: UserId,
    /// True for the "shared automation" bucket: the owner is the designated owner of record
    /// (usually the team lead), a convention to revisit if the team grows.
    pub owner_of_record: bool,
    /// The admin who made the assignment.
    pub assigned_by: UserId,
    /// When.
    pub assigned_at: Timestamp,
    /// The convention or conversation behind it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Note>,
}

/// What a credential authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "principalType",
    content = "principalId",
    rename_all = "snake_case"
)]
pub enum Principal {
    /// An agent identity.
    Agent(AgentId),
    /// A legacy or org-owned service account.
    ServiceAccount(ServiceAccountId),
}

impl Principal {
    /// The principal's kind, as a stable string.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Agent(_) => "agent",
            Self::ServiceAccount(_) => "service_account",
        }
    }

    /// The principal's id.
    pub fn id(&self) -> &str {
        match self {
            Self::Agent(id) => id.as_str(),
            Self::ServiceAccount(id) => id.as_str(),
        }
    }
}

/// Whether a credential verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialStatus {
    /// Verifies until `expiresAt`, if set.
    Active,
    /// Revoked server-side.
    Revoked,
    /// Its grace period after a rotation ended.
    Expired,
}

/// The keyed hash of a credential's secret. The secret itself is never stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretHash(pub String);

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(<redacted>)")
    }
}

/// A credential: what the authorizer needs, denormalised so verification is one GetItem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    /// Id embedded in the token.
    pub credential_id: CredentialId,
    /// What it authenticates.
    #[serde(flatten)]
    pub principal: Principal,
    /// HMAC of the secret under the server's pepper.
    pub secret_hash: SecretHash,
    /// Lifecycle state.
    pub status: CredentialStatus,
    /// Mint or import time.
    pub created_at: Timestamp,
    /// When it stops verifying even if still `active` (rotation grace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// When it was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// Why it was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_reason: Option<RevocationReason>,
    /// The human accountable for its use: the agent's owner, or a legacy account's mapped owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accountable_principal_id: Option<UserId>,
    /// The agent acting: the principal itself, or for a migrating legacy credential the new agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    /// The old account, while its events are dual-written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_service_account_id: Option<ServiceAccountId>,
    /// End of the dual-write window, when one applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dual_write_until: Option<Timestamp>,
    /// What the bearer may do.
    pub scopes: ScopeSet,
    /// Fingerprint of the idempotent request that minted it, to tell a retry from a reuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_fingerprint: Option<String>,
}

impl Credential {
    /// Whether the credential verifies at `now`: active and not past its expiry.
    /// Checked in code on every verification; TTL deletion is far too late to rely on.
    pub fn is_usable_at(&self, now: Timestamp) -> bool {
        self.status == CredentialStatus::Active && self.expires_at.is_none_or(|at| now < at)
    }
}

/// Who performed an audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    /// An agent identity.
    Agent,
    /// A service account (before or during its migration, or org-owned).
    ServiceAccount,
    /// A human, through the management API.
    User,
    /// The service itself (the scheduled sweep).
    System,
}

impl ActorType {
    /// The stable snake_case form, as used in keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::ServiceAccount => "service_account",
            Self::User => "user",
            Self::System => "system",
        }
    }
}

/// An actor: its type and id. Ids of different types may coincide, so both go in the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    /// Its type.
    pub actor_type: ActorType,
    /// Its id.
    pub actor_id: String,
}

impl Actor {
    /// An agent actor.
    pub fn agent(id: &AgentId) -> Self {
        Self {
            actor_type: ActorType::Agent,
            actor_id: id.to_string(),
        }
    }

    /// A service-account actor.
    pub fn service_account(id: &ServiceAccountId) -> Self {
        Self {
            actor_type: ActorType::ServiceAccount,
            actor_id: id.to_string(),
        }
    }

    /// A human actor.
    pub fn user(id: &UserId) -> Self {
        Self {
            actor_type: ActorType::User,
            actor_id: id.to_string(),
        }
    }

    /// The service itself, under a stable component name such as `sweep`.
    pub fn system(component: &str) -> Result<Self, IdError> {
        // Reuse the id rules: the name lands in a key.
        UserId::parse(component)?;
        Ok(Self {
            actor_type: ActorType::System,
            actor_id: component.to_owned(),
        })
    }

    /// Parses an actor from its parts, validating the id for its type.
    pub fn parse(actor_type: ActorType, id: &str) -> Result<Self, IdError> {
        Ok(match actor_type {
            ActorType::Agent => Self::agent(&AgentId::parse(id)?),
            ActorType::ServiceAccount => Self::service_account(&ServiceAccountId::parse(id)?),
            ActorType::User => Self::user(&UserId::parse(id)?),
            ActorType::System => Self::system(id)?,
        })
    }
}

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was attempted and failed.
    Failure,
    /// It was refused by policy.
    Denied,
}

/// Largest `details` object accepted on an event, in bytes of JSON.
pub const MAX_DETAILS_BYTES: usize = 4096;

/// Whether an event's `details` fit in [`MAX_DETAILS_BYTES`] of JSON.
pub fn details_fit(details: &serde_json::Value) -> bool {
    serde_json::to_vec(details).is_ok_and(|bytes| bytes.len() <= MAX_DETAILS_BYTES)
}

/// One audited action, with its attribution stamped at write time and never rewritten.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// Derived from the credential (or actor) and the request id: a retry names the same event.
    pub event_id: EventId,
    /// Who did it.
    #[serde(flatten)]
    pub actor: Actor,
    /// The human accountable, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accountable_principal_id: Option<UserId>,
    /// The agent identity involved (the actor, or the agent replacing a legacy account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    /// The old service account, only while its cutover window is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_service_account_id: Option<ServiceAccountId>,
    /// The credential presented, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<CredentialId>,
    /// What was done.
    pub action: Action,
    /// To what.
    pub resource: Resource,
    /// How it ended.
    pub outcome: Outcome,
    /// The caller's id for the action (idempotency key).
    pub request_id: RequestId,
    /// Extra context from the caller, at most [`MAX_DETAILS_BYTES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    /// When the action happened; the event's place in time-ordered keys.
    pub occurred_at: Timestamp,
    /// When the service stored it (server clock).
    pub received_at: Timestamp,
}

/// What a usage counter counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UsageSubject {
    /// One credential.
    Credential(CredentialId),
    /// Everything a service account did, under any credential.
    ServiceAccount(ServiceAccountId),
}

/// Uses of one subject on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageDay {
    /// The UTC day.
    pub day: NaiveDate,
    /// Uses on that day.
    pub count: u64,
    /// The latest use on that day.
    pub last_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_principal_flattens_to_type_and_id() {
        let cred = Credential {
            credential_id: CredentialId::generate(),
            principal: Principal::ServiceAccount(ServiceAccountId::parse("sa-7").unwrap()),
            secret_hash: SecretHash("h".into()),
            status: CredentialStatus::Active,
            created_at: Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
            expires_at: None,
            revoked_at: None,
            revoke_reason: None,
            accountable_principal_id: None,
            agent_id: None,
            legacy_service_account_id: None,
            dual_write_until: None,
            scopes: ScopeSet::default(),
            request_fingerprint: None,
        };
        let json = serde_json::to_value(&cred).unwrap();
        assert_eq!(json["principalType"], "service_account");
        assert_eq!(json["principalId"], "sa-7");
        assert!(json.get("expiresAt").is_none(), "absent, not null");
        let back: Credential = serde_json::from_value(json).unwrap();
        assert_eq!(back, cred);
        assert_eq!(format!("{:?}", back.secret_hash), "SecretHash(<redacted>)");
    }

    #[test]
    fn usable_checks_status_and_expiry_in_code() {
        let now = Timestamp::parse("2026-01-02T00:00:00Z").unwrap();
        let mut cred = Credential {
            credential_id: CredentialId::generate(),
            principal: Principal::Agent(AgentId::generate()),
            secret_hash: SecretHash("h".into()),
            status: CredentialStatus::Active,
            created_at: now,
            expires_at: Some(now),
            revoked_at: None,
            revoke_reason: None,
            accountable_principal_id: None,
            agent_id: None,
            legacy_service_account_id: None,
            dual_write_until: None,
            scopes: ScopeSet::default(),
            request_fingerprint: None,
        };
        assert!(!cred.is_usable_at(now), "expiry is exclusive");
        assert!(cred.is_usable_at(now.minus(chrono::Duration::milliseconds(1))));
        cred.expires_at = None;
        assert!(cred.is_usable_at(now));
        cred.status = CredentialStatus::Revoked;
        assert!(!cred.is_usable_at(now));
    }

    #[test]
    fn actors_validate_their_id_for_their_type() {
        assert!(Actor::parse(ActorType::Agent, "sa-7").is_err());
        assert!(Actor::parse(ActorType::ServiceAccount, "sa-7").is_ok());
        assert!(Actor::system("sweep").is_ok());
        assert!(Actor::system("a#b").is_err());
    }
}
