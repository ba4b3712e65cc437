//! Agents: creation with their first credential, lookup, listing by owner, rotation, transfer,
//! revocation.
//!
//! The agent item keeps `credentialIds` (a string set of its active credentials) and a `version`
//! number bumped by every change, so multi-item changes are conditional on the agent being
//! exactly as it was read: concurrent rotations serialise, and at most two credentials are ever
//! active.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;

use super::users::AGENT_IDS;
use super::{
    entity_item, from_item, s, set_index, ss, string_set, Item, Page, PageRequest, QuerySpec,
    SortRange, Store, StoreError, Tx,
};
use crate::ids::{AgentId, CredentialId, UserId};
use crate::keys::{self, attr, index, item_type};
use crate::model::{Agent, AgentStatus, Credential, CredentialStatus, Principal, RevocationReason};
use crate::time::Timestamp;

/// Attribute holding an agent's active credential ids.
pub(crate) const CREDENTIAL_IDS: &str = "credentialIds";
/// Attribute holding an agent's optimistic-concurrency version.
pub(crate) const VERSION: &str = "version";
/// Most credentials an agent may have active at once (the current one and one in its grace).
pub const MAX_ACTIVE_CREDENTIALS: usize = 2;

/// Attempts at a read-then-conditional-write before reporting a conflict.
const OPTIMISTIC_ATTEMPTS: usize = 16;

/// What revoking an agent did.
#[derive(Debug, Clone)]
pub struct RevokedAgent {
    /// The agent, now revoked.
    pub agent: Agent,
    /// Its credentials revoked with it.
    pub credentials: Vec<CredentialId>,
}

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The agent after the rotation.
    pub agent: Agent,
    /// The new credential.
    pub credential: Credential,
    /// The previous credentials that now expire at the end of the grace period.
    pub expiring: Vec<CredentialId>,
}

/// An agent as stored, with its concurrency version.
#[derive(Debug, Clone)]
pub(crate) struct StoredAgent {
    pub agent: Agent,
    pub version: u64,
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn agent_item(agent: &Agent, version: u64) -> Result<Item, StoreError> {
    let mut item = entity_item(agent, &keys::agent(&agent.agent_id), item_type::AGENT)?;
    set_index(
        &mut item,
        attr::GSI1PK,
        attr::GSI1SK,
        &keys::agent_by_owner(&agent.owner_user_id, agent.created_at, &agent.agent_id),
    );
    if !agent.active_credential_ids.is_empty() {
        item.insert(
            CREDENTIAL_IDS.into(),
            ss(agent.active_credential_ids.iter().map(|c| c.as_str())),
        );
    }
    item.insert(VERSION.into(), n(version));
    Ok(item)
}

pub(crate) fn decode_agent(item: Item) -> Result<StoredAgent, StoreError> {
    let active = string_set(&item, CREDENTIAL_IDS)
        .into_iter()
        .map(CredentialId::parse)
        .collect::<Result<BTreeSet<_>, _>>()
        .map_err(|e| StoreError::corrupt("agent credentialIds", e))?;
    let version = match item.get(VERSION) {
        Some(AttributeValue::N(n)) => n
            .parse()
            .map_err(|e| StoreError::corrupt("agent version", e))?,
        _ => 0,
    };
    let mut agent: Agent = from_item(item, "agent")?;
    agent.active_credential_ids = active;
    Ok(StoredAgent { agent, version })
}

/// The credential item, with its index entry under its principal.
pub(crate) fn credential_item(cred: &Credential) -> Result<Item, StoreError> {
    let mut item = entity_item(
        cred,
        &keys::credential(&cred.credential_id),
        item_type::CREDENTIAL,
    )?;
    set_index(
        &mut item,
        attr::GSI1PK,
        attr::GSI1SK,
        &keys::credential_by_principal(&cred.principal, cred.created_at, &cred.credential_id),
    );
    if let Some(expires) = cred.expires_at {
        item.insert(attr::TTL.into(), housekeeping_ttl(expires));
        if cred.status == CredentialStatus::Active {
            set_index(
                &mut item,
                attr::GSI2PK,
                attr::GSI2SK,
                &keys::credential_expiry(expires, &cred.credential_id),
            );
        }
    }
    Ok(item)
}

/// TTL for an expiring credential: a week after expiry. Housekeeping only; verification checks
/// `expiresAt` itself, since TTL deletion can be days late.
fn housekeeping_ttl(expires: Timestamp) -> AttributeValue {
    n((expires.epoch_seconds() + 7 * 24 * 3600).max(0) as u64)
}

/// Checks that a new agent and its credential agree, before anything is sent.
pub(crate) fn check_new_agent(agent: &Agent, cred: &Credential) -> Result<(), StoreError> {
    let invalid = |why: &str| Err(StoreError::Validation(format!("agent not created: {why}")));
    if agent.status != AgentStatus::Active || agent.revoked_at.is_some() {
        return invalid("a new agent must be active");
    }
    if cred.principal != Principal::Agent(agent.agent_id.clone()) {
        return invalid("the credential must belong to the agent");
    }
    if cred.status != CredentialStatus::Active || cred.credential_id != agent.credential_id {
        return invalid("the first credential must be active and be the agent's credential");
    }
    if agent.active_credential_ids != BTreeSet::from([cred.credential_id.clone()]) {
        return invalid("the agent's active credentials must be exactly its first credential");
    }
    if cred.accountable_principal_id.as_ref() != Some(&agent.owner_user_id)
        || cred.agent_id.as_ref() != Some(&agent.agent_id)
        || cred.scopes != agent.scopes
        || cred.dual_write_until != agent.dual_write_until
        || cred.legacy_service_account_id != agent.migrated_from_service_account_id
    {
        return invalid("the credential must carry the agent's owner, id, scopes and cutover");
    }
    Ok(())
}

/// Adds the actions that create an agent: the agent, its first credential, and the claim on an
/// active owner.
pub(crate) fn add_new_agent(
    tx: &mut Tx<'_>,
    agent: &Agent,
    cred: &Credential,
) -> Result<(), StoreError> {
    check_new_agent(agent, cred)?;
    tx.put(
        agent_item(agent, 1)?,
        Some("attribute_not_exists(PK)"),
        vec![],
        "agent_exists",
    )?;
    tx.put(
        credential_item(cred)?,
        Some("attribute_not_exists(PK)"),
        vec![],
        "credential_exists",
    )?;
    tx.update(
        &keys::user(&agent.owner_user_id),
        "ADD #agents :agent",
        Some("#status = :active"),
        &[("#agents", AGENT_IDS), ("#status", "status")],
        vec![
            (":agent", ss([agent.agent_id.as_str()])),
            (":active", s("active")),
        ],
        "owner_not_active",
    )
}

/// Adds the actions that revoke a stored agent, its active credentials, and its place among its
/// owner's active agents.
pub(crate) fn add_revoke_agent(
    tx: &mut Tx<'_>,
    stored: &StoredAgent,
    reason: RevocationReason,
    now: Timestamp,
) -> Result<(), StoreError> {
    let agent = &stored.agent;
    tx.update(
        &keys::agent(&agent.agent_id),
        "SET #status = :revoked, revokedAt = :now, revokeReason = :reason, updatedAt = :now, \
         #version = :next REMOVE #creds",
        Some("#version = :seen"),
        &[
            ("#status", "status"),
            ("#version", VERSION),
            ("#creds", CREDENTIAL_IDS),
        ],
        vec![
            (":revoked", s("revoked")),
            (":now", s(now.to_string())),
            (":reason", s(reason.as_str())),
            (":seen", n(stored.version)),
            (":next", n(stored.version + 1)),
        ],
        "agent_changed",
    )?;
    for cred in &agent.active_credential_ids {
        add_revoke_credential(tx, cred, reason, now, false)?;
    }
    tx.update(
        &keys::user(&agent.owner_user_id),
        "DELETE #agents :agent",
        None,
        &[("#agents", AGENT_IDS)],
        vec![(":agent", ss([agent.agent_id.as_str()]))],
        "owner_missing",
    )
}

/// Adds the update that revokes one credential. With `only_if_active` false it also applies to
/// an expired credential (revoked with its agent), revoked being the stronger state.
pub(crate) fn add_revoke_credential(
    tx: &mut Tx<'_>,
    cred: &CredentialId,
    reason: RevocationReason,
    now: Timestamp,
    only_if_active: bool,
) -> Result<(), StoreError> {
    let mut vals = vec![
        (":revoked", s("revoked")),
        (":now", s(now.to_string())),
        (":reason", s(reason.as_str())),
    ];
    let condition = if only_if_active {
        vals.push((":active", s("active")));
        "#status = :active"
    } else {
        "attribute_exists(PK)"
    };
    tx.update(
        &keys::credential(cred),
        "SET #status = :revoked, revokedAt = if_not_exists(revokedAt, :now), \
         revokeReason = if_not_exists(revokeReason, :reason) REMOVE #g2pk, #g2sk",
        Some(condition),
        &[
            ("#status", "status"),
            ("#g2pk", attr::GSI2PK),
            ("#g2sk", attr::GSI2SK),
        ],
        vals,
        if only_if_active {
            "credential_not_active"
        } else {
            "credential_missing"
        },
    )
}

impl Store {
    /// Creates an agent and its first credential in ONE transaction that also requires the
    /// owner's user item to exist and be active, and records the agent on it. No agent can
    /// exist for a missing or offboarded owner, whatever races with it.
    ///
    /// Fails with `ConditionFailed` naming `agent_exists`, `credential_exists` or
    /// `owner_not_active`; with `Validation` (before any request) when the two items disagree.
    pub async fn create_agent(&self, agent: &Agent, cred: &Credential) -> Result<(), StoreError> {
        let mut tx = Tx::new(self.table_name());
        add_new_agent(&mut tx, agent, cred)?;
        self.run(tx).await
    }

    pub(crate) async fn get_stored_agent(
        &self,
        agent_id: &AgentId,
    ) -> Result<Option<StoredAgent>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table_name())
            .set_key(Some(super::key_map(&keys::agent(agent_id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        out.item.map(decode_agent).transpose()
    }

    async fn active_agent(&self, agent_id: &AgentId) -> Result<StoredAgent, StoreError> {
        let stored = self
            .get_stored_agent(agent_id)
            .await?
            .ok_or(StoreError::NotFound("agent"))?;
        if stored.agent.status != AgentStatus::Active {
            return Err(StoreError::ConditionFailed("agent_not_active"));
        }
        Ok(stored)
    }

    /// An agent, read strongly consistently.
    pub async fn get_agent(&self, agent_id: &AgentId) -> Result<Option<Agent>, StoreError> {
        Ok(self.get_stored_agent(agent_id).await?.map(|s| s.agent))
    }

    /// An owner's agents, oldest first (GSI1; eventually consistent).
    pub async fn list_agents_by_owner(
        &self,
        owner: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Agent>, StoreError> {
        let spec = QuerySpec {
            index: Some(index::GSI1),
            pk_attr: attr::GSI1PK,
            sk_attr: attr::GSI1SK,
            pk: keys::agents_of_owner(owner),
            range: SortRange::BeginsWith("AGENT#".into()),
            forward: true,
        };
        let (items, next) = self.query_page(spec, page).await?;
        let items = items
            .into_iter()
            .map(|item| decode_agent(item).map(|s| s.agent))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next })
    }

    /// Revokes an agent and every active credential of it, in one transaction, and removes it
    /// from its owner's active agents. `ConditionFailed("agent_not_active")` if already revoked.
    pub async fn revoke_agent(
        &self,
        agent_id: &AgentId,
        reason: RevocationReason,
        now: Timestamp,
    ) -> Result<RevokedAgent, StoreError> {
        self.revoke_agent_owned_by(agent_id, None, reason, now)
            .await
    }

    /// Revokes an agent only while `owner` (when given) still owns it: the offboarding cascade
    /// must not revoke an agent transferred away in the meantime (`ConditionFailed("owner_changed")`).
    pub(crate) async fn revoke_agent_owned_by(
        &self,
        agent_id: &AgentId,
        owner: Option<&UserId>,
        reason: RevocationReason,
        now: Timestamp,
    ) -> Result<RevokedAgent, StoreError> {
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let stored = self.active_agent(agent_id).await?;
            if owner.is_some_and(|o| *o != stored.agent.owner_user_id) {
                return Err(StoreError::ConditionFailed("owner_changed"));
            }
            let mut tx = Tx::new(self.table_name());
            add_revoke_agent(&mut tx, &stored, reason, now)?;
            match self.run(tx).await {
                Ok(()) => return Ok(revoked_view(stored.agent, reason, now)),
                // Changed between read and write (a rotation, a credential revoked): re-read.
                Err(StoreError::ConditionFailed("agent_changed")) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Transient(
            "agent kept changing during revocation".into(),
        ))
    }

    /// Rotates an agent's credential: stores `new` as its current credential and gives every
    /// other usable credential an expiry of at most `grace_until`. Credentials already past their
    /// expiry are marked expired and leave the active set. Refused with
    /// `ConditionFailed("too_many_credentials")` when the agent already has
    /// [`MAX_ACTIVE_CREDENTIALS`] usable credentials; `credential_exists` when `new`'s id is taken.
    pub async fn rotate_credential(
        &self,
        agent_id: &AgentId,
        new: &Credential,
        grace_until: Timestamp,
        now: Timestamp,
    ) -> Result<Rotation, StoreError> {
        if new.principal != Principal::Agent(agent_id.clone())
            || new.status != CredentialStatus::Active
        {
            return Err(StoreError::Validation(
                "the new credential must be an active credential of the agent".into(),
            ));
        }
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let stored = self.active_agent(agent_id).await?;
            if stored
                .agent
                .active_credential_ids
                .contains(&new.credential_id)
            {
                // An earlier attempt of this rotation was applied and its answer lost.
                return Err(StoreError::ConditionFailed("credential_exists"));
            }
            let mut usable = Vec::new();
            let mut lapsed = Vec::new();
            for id in &stored.agent.active_credential_ids {
                match self.get_credential(id).await? {
                    Some(cred) if cred.is_usable_at(now) => usable.push(cred),
                    Some(cred) if cred.status == CredentialStatus::Active => lapsed.push(cred),
                    // Revoked or missing: it only leaves the set.
                    _ => {}
                }
            }
            if usable.len() >= MAX_ACTIVE_CREDENTIALS {
                return Err(StoreError::ConditionFailed("too_many_credentials"));
            }
            let mut active: BTreeSet<CredentialId> =
                usable.iter().map(|c| c.credential_id.clone()).collect();
            active.insert(new.credential_id.clone());

            let mut tx = Tx::new(self.table_name());
            tx.update(
                &keys::agent(agent_id),
                "SET #creds = :creds, credentialId = :current, updatedAt = :now, #version = :next",
                Some("#version = :seen AND #status = :active"),
                &[
                    ("#creds", CREDENTIAL_IDS),
                    ("#version", VERSION),
                    ("#status", "status"),
                ],
                vec![
                    (":creds", ss(active.iter().map(|c| c.as_str()))),
                    (":current", s(new.credential_id.as_str())),
                    (":now", s(now.to_string())),
                    (":seen", n(stored.version)),
                    (":next", n(stored.version + 1)),
                    (":active", s("active")),
                ],
                "agent_changed",
            )?;
            tx.put(
                credential_item(new)?,
                Some("attribute_not_exists(PK)"),
                vec![],
                "credential_exists",
            )?;
            for old in &usable {
                let expires = old.expires_at.map_or(grace_until, |at| at.min(grace_until));
                let entry = keys::credential_expiry(expires, &old.credential_id);
                tx.update(
                    &keys::credential(&old.credential_id),
                    "SET expiresAt = :expires, #ttl = :ttl, #g2pk = :g2pk, #g2sk = :g2sk",
                    Some("#status = :active"),
                    &[
                        ("#status", "status"),
                        ("#ttl", attr::TTL),
                        ("#g2pk", attr::GSI2PK),
                        ("#g2sk", attr::GSI2SK),
                    ],
                    vec![
                        (":expires", s(expires.to_string())),
                        (":ttl", housekeeping_ttl(expires)),
                        (":g2pk", s(entry.pk)),
                        (":g2sk", s(entry.sk)),
                        (":active", s("active")),
                    ],
                    "agent_changed",
                )?;
            }
            for old in &lapsed {
                tx.update(
                    &keys::credential(&old.credential_id),
                    "SET #status = :expired REMOVE #g2pk, #g2sk",
                    Some("#status = :active"),
                    &[
                        ("#status", "status"),
                        ("#g2pk", attr::GSI2PK),
                        ("#g2sk", attr::GSI2SK),
                    ],
                    vec![(":expired", s("expired")), (":active", s("active"))],
                    "agent_changed",
                )?;
            }
            match self.run(tx).await {
                Ok(()) => {
                    let mut agent = stored.agent;
                    agent.credential_id = new.credential_id.clone();
                    agent.active_credential_ids = active;
                    agent.updated_at = now;
                    return Ok(Rotation {
                        agent,
                        credential: new.clone(),
                        expiring: usable.into_iter().map(|c| c.credential_id).collect(),
                    });
                }
                Err(StoreError::ConditionFailed("agent_changed")) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Transient(
            "agent kept changing during rotation".into(),
        ))
    }

    /// Transfers an agent to `new_owner`, who must be active (`owner_not_active`). Its active
    /// credentials are re-attributed in the same transaction; events already recorded keep the
    /// attribution they were written with.
    pub async fn transfer_agent(
        &self,
        agent_id: &AgentId,
        new_owner: &UserId,
        now: Timestamp,
    ) -> Result<Agent, StoreError> {
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let stored = self.active_agent(agent_id).await?;
            let old_owner = stored.agent.owner_user_id.clone();
            if old_owner == *new_owner {
                return Err(StoreError::ConditionFailed("same_owner"));
            }
            let entry = keys::agent_by_owner(new_owner, stored.agent.created_at, agent_id);
            let mut tx = Tx::new(self.table_name());
            tx.update(
                &keys::agent(agent_id),
                "SET ownerUserId = :owner, #gpk = :gpk, #gsk = :gsk, updatedAt = :now, \
                 #version = :next",
                Some("#version = :seen"),
                &[
                    ("#gpk", attr::GSI1PK),
                    ("#gsk", attr::GSI1SK),
                    ("#version", VERSION),
                ],
                vec![
                    (":owner", s(new_owner.as_str())),
                    (":gpk", s(entry.pk)),
                    (":gsk", s(entry.sk)),
                    (":now", s(now.to_string())),
                    (":seen", n(stored.version)),
                    (":next", n(stored.version + 1)),
                ],
                "agent_changed",
            )?;
            tx.update(
                &keys::user(&old_owner),
                "DELETE #agents :agent",
                None,
                &[("#agents", AGENT_IDS)],
                vec![(":agent", ss([agent_id.as_str()]))],
                "owner_missing",
            )?;
            tx.update(
                &keys::user(new_owner),
                "ADD #agents :agent",
                Some("#status = :active"),
                &[("#agents", AGENT_IDS), ("#status", "status")],
                vec![
                    (":agent", ss([agent_id.as_str()])),
                    (":active", s("active")),
                ],
                "owner_not_active",
            )?;
            for cred in &stored.agent.active_credential_ids {
                tx.update(
                    &keys::credential(cred),
                    "SET accountablePrincipalId = :owner",
                    Some("attribute_exists(PK)"),
                    &[],
                    vec![(":owner", s(new_owner.as_str()))],
                    "credential_missing",
                )?;
            }
            match self.run(tx).await {
                Ok(()) => {
                    let mut agent = stored.agent;
                    agent.owner_user_id = new_owner.clone();
                    agent.updated_at = now;
                    return Ok(agent);
                }
                Err(StoreError::ConditionFailed("agent_changed")) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Transient(
            "agent kept changing during transfer".into(),
        ))
    }
}

/// The agent as it reads after a revocation of `reason` at `now`.
pub(crate) fn revoked_view(
    mut agent: Agent,
    reason: RevocationReason,
    now: Timestamp,
) -> RevokedAgent {
    agent.status = AgentStatus::Revoked;
    agent.revoked_at = Some(now);
    agent.revoke_reason = Some(reason);
    agent.updated_at = now;
    let credentials = std::mem::take(&mut agent.active_credential_ids)
        .into_iter()
        .collect();
    RevokedAgent { agent, credentials }
}
