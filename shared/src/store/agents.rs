//! Agents: creation with their first credential, lookup, listing by owner, revocation.
//!
//! The agent item keeps `credentialIds` (a string set of its active credentials) and a `version`
//! number bumped by every change, so multi-item changes can be made conditional on the agent
//! being exactly as it was read.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::users::AGENT_IDS;
use super::{
    entity_item, from_item, key_map, names, s, set_index, ss, string_set, values, Item, Page,
    PageRequest, QuerySpec, SortRange, Store, StoreError,
};
use crate::ids::{AgentId, CredentialId, UserId};
use crate::keys::{self, attr, index, item_type};
use crate::model::{Agent, AgentStatus, Credential, CredentialStatus, Principal, RevocationReason};
use crate::time::Timestamp;

/// Attribute holding an agent's active credential ids.
pub(crate) const CREDENTIAL_IDS: &str = "credentialIds";
/// Attribute holding an agent's optimistic-concurrency version.
pub(crate) const VERSION: &str = "version";

/// Attempts at a read-then-conditional-write before reporting a conflict.
const OPTIMISTIC_ATTEMPTS: usize = 8;

/// What revoking an agent did.
#[derive(Debug, Clone)]
pub struct RevokedAgent {
    /// The agent, now revoked.
    pub agent: Agent,
    /// Its credentials revoked with it.
    pub credentials: Vec<CredentialId>,
}

/// An agent as stored, with its concurrency version.
pub(crate) struct StoredAgent {
    pub agent: Agent,
    pub version: u64,
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
    item.insert(VERSION.into(), AttributeValue::N(version.to_string()));
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
        // Housekeeping only, long after expiry; verification checks expiresAt itself.
        let week = 7 * 24 * 3600;
        item.insert(
            attr::TTL.into(),
            AttributeValue::N((expires.epoch_seconds() + week).to_string()),
        );
    }
    Ok(item)
}

fn check_new_agent(agent: &Agent, cred: &Credential) -> Result<(), StoreError> {
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
    {
        return invalid("the credential must carry the agent's owner, id and scopes");
    }
    Ok(())
}

impl Store {
    /// Creates an agent and its first credential in ONE transaction that also requires the
    /// owner's user item to exist and be active, and records the agent on it. No agent can
    /// exist for a missing or offboarded owner, whatever races with it.
    ///
    /// Fails with `ConditionFailed` naming `agent_exists`, `credential_exists` or
    /// `owner_not_active`; with `Validation` (before any request) when the two items disagree.
    pub async fn create_agent(&self, agent: &Agent, cred: &Credential) -> Result<(), StoreError> {
        check_new_agent(agent, cred)?;
        let table = self.table_name().to_owned();
        let put_agent = Put::builder()
            .table_name(&table)
            .set_item(Some(agent_item(agent, 1)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(StoreError::build)?;
        let put_cred = Put::builder()
            .table_name(&table)
            .set_item(Some(credential_item(cred)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(StoreError::build)?;
        let claim_owner = Update::builder()
            .table_name(&table)
            .set_key(Some(key_map(&keys::user(&agent.owner_user_id))))
            .update_expression("ADD #agents :agent")
            .condition_expression("#status = :active")
            .set_expression_attribute_names(Some(names(&[
                ("#agents", AGENT_IDS),
                ("#status", "status"),
            ])))
            .set_expression_attribute_values(Some(values(vec![
                (":agent", ss([agent.agent_id.as_str()])),
                (":active", s("active")),
            ])))
            .build()
            .map_err(StoreError::build)?;
        self.transact(
            vec![
                TransactWriteItem::builder().put(put_agent).build(),
                TransactWriteItem::builder().put(put_cred).build(),
                TransactWriteItem::builder().update(claim_owner).build(),
            ],
            &["agent_exists", "credential_exists", "owner_not_active"],
        )
        .await
    }

    pub(crate) async fn get_stored_agent(
        &self,
        agent_id: &AgentId,
    ) -> Result<Option<StoredAgent>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table_name())
            .set_key(Some(key_map(&keys::agent(agent_id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        out.item.map(decode_agent).transpose()
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
            let stored = self
                .get_stored_agent(agent_id)
                .await?
                .ok_or(StoreError::NotFound("agent"))?;
            if stored.agent.status != AgentStatus::Active {
                return Err(StoreError::ConditionFailed("agent_not_active"));
            }
            if owner.is_some_and(|o| *o != stored.agent.owner_user_id) {
                return Err(StoreError::ConditionFailed("owner_changed"));
            }
            match self.revoke_agent_at_version(&stored, reason, now).await {
                Ok(revoked) => return Ok(revoked),
                // Changed between read and write (a rotation, a credential revoked): re-read.
                Err(StoreError::ConditionFailed("agent_changed")) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Transient(
            "agent kept changing during revocation".into(),
        ))
    }

    async fn revoke_agent_at_version(
        &self,
        stored: &StoredAgent,
        reason: RevocationReason,
        now: Timestamp,
    ) -> Result<RevokedAgent, StoreError> {
        let table = self.table_name();
        let agent = &stored.agent;
        let mut actions = Vec::new();
        let mut labels = Vec::new();
        actions.push(
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(table)
                        .set_key(Some(key_map(&keys::agent(&agent.agent_id))))
                        .update_expression(
                            "SET #status = :revoked, revokedAt = :now, revokeReason = :reason, \
                             updatedAt = :now, #version = :next REMOVE #creds",
                        )
                        .condition_expression("#version = :seen")
                        .set_expression_attribute_names(Some(names(&[
                            ("#status", "status"),
                            ("#version", VERSION),
                            ("#creds", CREDENTIAL_IDS),
                        ])))
                        .set_expression_attribute_values(Some(values(vec![
                            (":revoked", s("revoked")),
                            (":now", s(now.to_string())),
                            (":reason", s(reason.as_str())),
                            (":seen", AttributeValue::N(stored.version.to_string())),
                            (":next", AttributeValue::N((stored.version + 1).to_string())),
                        ])))
                        .build()
                        .map_err(StoreError::build)?,
                )
                .build(),
        );
        labels.push("agent_changed");
        for cred in &agent.active_credential_ids {
            actions.push(
                TransactWriteItem::builder()
                    .update(revoke_credential_update(table, cred, reason, now, false)?)
                    .build(),
            );
            labels.push("credential_missing");
        }
        actions.push(
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(table)
                        .set_key(Some(key_map(&keys::user(&agent.owner_user_id))))
                        .update_expression("DELETE #agents :agent")
                        .set_expression_attribute_names(Some(names(&[("#agents", AGENT_IDS)])))
                        .set_expression_attribute_values(Some(values(vec![(
                            ":agent",
                            ss([agent.agent_id.as_str()]),
                        )])))
                        .build()
                        .map_err(StoreError::build)?,
                )
                .build(),
        );
        labels.push("owner_missing");
        self.transact(actions, &labels).await?;

        let mut revoked = agent.clone();
        revoked.status = AgentStatus::Revoked;
        revoked.revoked_at = Some(now);
        revoked.revoke_reason = Some(reason);
        revoked.updated_at = now;
        let credentials = std::mem::take(&mut revoked.active_credential_ids)
            .into_iter()
            .collect();
        Ok(RevokedAgent {
            agent: revoked,
            credentials,
        })
    }
}

/// The update that revokes one credential. With `only_if_active` false it also applies to an
/// expired credential (revoked with its agent), revoked being the stronger state.
pub(crate) fn revoke_credential_update(
    table: &str,
    cred: &CredentialId,
    reason: RevocationReason,
    now: Timestamp,
    only_if_active: bool,
) -> Result<Update, StoreError> {
    let mut vals = values(vec![
        (":revoked", s("revoked")),
        (":now", s(now.to_string())),
        (":reason", s(reason.as_str())),
    ]);
    let condition = if only_if_active {
        vals.insert(":active".into(), s("active"));
        "#status = :active"
    } else {
        "attribute_exists(PK)"
    };
    Update::builder()
        .table_name(table)
        .set_key(Some(key_map(&keys::credential(cred))))
        .update_expression(
            "SET #status = :revoked, revokedAt = if_not_exists(revokedAt, :now), \
             revokeReason = if_not_exists(revokeReason, :reason)",
        )
        .condition_expression(condition)
        .set_expression_attribute_names(Some(names(&[("#status", "status")])))
        .set_expression_attribute_values(Some(vals))
        .build()
        .map_err(StoreError::build)
}
