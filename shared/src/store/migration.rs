//! The migration's multi-item steps: inventory with a legacy credential, owner assignment,
//! migrate, rollback. Each is one transaction conditional on the account being as it was read
//! (`updatedAt`), so two admins acting at once cannot interleave steps.

use super::agents::{add_new_agent, add_revoke_agent, credential_item};
use super::service_accounts::{check_account, service_account_item, Expect};
use super::{s, Store, StoreError, Tx};
use crate::ids::AgentId;
use crate::keys;
use crate::model::{
    Agent, AgentStatus, Credential, MigrationState, OwnerMapEntry, RevocationReason, ServiceAccount,
};
use crate::time::Timestamp;

fn put_account(tx: &mut Tx<'_>, sa: &ServiceAccount, expect: Expect) -> Result<(), StoreError> {
    check_account(sa)?;
    let (condition, values) = expect.condition();
    tx.put(
        service_account_item(sa)?,
        condition,
        values,
        "service_account_changed",
    )
}

impl Store {
    /// Writes an inventory entry and, when given, its imported legacy credential, together.
    /// `ConditionFailed("legacy_credential_exists")` when that credential id is already stored.
    pub async fn put_inventory(
        &self,
        sa: &ServiceAccount,
        expect: Expect,
        legacy: Option<&Credential>,
    ) -> Result<(), StoreError> {
        let Some(legacy) = legacy else {
            return self.put_service_account(sa, expect).await;
        };
        if sa.legacy_credential_id.as_ref() != Some(&legacy.credential_id) {
            return Err(StoreError::Validation(
                "the account must name its imported credential".into(),
            ));
        }
        let mut tx = Tx::new(self.table_name());
        put_account(&mut tx, sa, expect)?;
        tx.put(
            credential_item(legacy)?,
            Some("attribute_not_exists(PK)"),
            vec![],
            "legacy_credential_exists",
        )?;
        self.run(tx).await
    }

    /// Records an account's owner (step 2): the owner-map entry, the account moved to
    /// `owner_assigned`, and the legacy credential's accountable human, in one transaction.
    /// `updated` is the account as it should read afterwards; `seen` its `updatedAt` as read.
    pub async fn assign_owner(
        &self,
        updated: &ServiceAccount,
        seen: Timestamp,
        entry: &OwnerMapEntry,
    ) -> Result<(), StoreError> {
        if entry.service_account_id != updated.service_account_id {
            return Err(StoreError::Validation(
                "the owner-map entry must be for the account".into(),
            ));
        }
        let mut tx = Tx::new(self.table_name());
        put_account(&mut tx, updated, Expect::UpdatedAt(seen))?;
        tx.put(
            super::entity_item(
                entry,
                &keys::owner_map(&entry.service_account_id),
                keys::item_type::OWNER_MAP,
            )?,
            None,
            vec![],
            "owner_map",
        )?;
        if let Some(legacy) = &updated.legacy_credential_id {
            tx.update(
                &keys::credential(legacy),
                "SET accountablePrincipalId = :owner",
                Some("attribute_exists(PK)"),
                &[],
                vec![(":owner", s(entry.owner_user_id.as_str()))],
                "legacy_credential_missing",
            )?;
        }
        self.run(tx).await
    }

    /// Migrates an account (steps 3-4): the account moves to `dual_writing`, the new agent and
    /// its fresh credential are created for the mapped owner (who must be active), and the legacy
    /// credential learns the agent and the window so its events are dual-attributed.
    pub async fn migrate_account(
        &self,
        migrated: &ServiceAccount,
        seen: Timestamp,
        agent: &Agent,
        cred: &Credential,
    ) -> Result<(), StoreError> {
        let consistent = migrated.migration_state == MigrationState::DualWriting
            && migrated.migrated_to_agent_id.as_ref() == Some(&agent.agent_id)
            && agent.migrated_from_service_account_id.as_ref()
                == Some(&migrated.service_account_id)
            && migrated.dual_write_until.is_some()
            && agent.dual_write_until == migrated.dual_write_until;
        if !consistent {
            return Err(StoreError::Validation(
                "the migrated account and its agent must name each other and share the window"
                    .into(),
            ));
        }
        let mut tx = Tx::new(self.table_name());
        put_account(
            &mut tx,
            migrated,
            Expect::UpdatedAtIn(seen, MigrationState::OwnerAssigned),
        )?;
        add_new_agent(&mut tx, agent, cred)?;
        // The first migration fixes the cutover date: the era boundary of the audit log.
        tx.update(
            &keys::cutover(),
            "SET #type = :type, firstMigrationAt = if_not_exists(firstMigrationAt, :at)",
            None,
            &[("#type", "type")],
            vec![
                (":type", s("cutover")),
                (":at", s(agent.created_at.to_string())),
            ],
            "cutover",
        )?;
        if let Some(legacy) = &migrated.legacy_credential_id {
            let until = migrated
                .dual_write_until
                .map(|t| t.to_string())
                .unwrap_or_default();
            tx.update(
                &keys::credential(legacy),
                "SET agentId = :agent, accountablePrincipalId = :owner, \
                 legacyServiceAccountId = :account, dualWriteUntil = :until",
                Some("#status = :active"),
                &[("#status", "status")],
                vec![
                    (":agent", s(agent.agent_id.as_str())),
                    (":owner", s(agent.owner_user_id.as_str())),
                    (":account", s(migrated.service_account_id.as_str())),
                    (":until", s(until)),
                    (":active", s("active")),
                ],
                "legacy_credential_not_active",
            )?;
        }
        self.run(tx).await
    }

    /// Rolls a migration back before its legacy credential is revoked: the account returns to
    /// `owner_assigned`, the new agent and its credentials are revoked, and the legacy
    /// credential goes back to single attribution. `rolled_back` is the account as it should
    /// read afterwards.
    pub async fn rollback_migration(
        &self,
        rolled_back: &ServiceAccount,
        seen: Timestamp,
        agent_id: Option<&AgentId>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if rolled_back.migration_state != MigrationState::OwnerAssigned
            || rolled_back.migrated_to_agent_id.is_some()
        {
            return Err(StoreError::Validation(
                "a rolled-back account is owner-assigned with no agent".into(),
            ));
        }
        let stored = match agent_id {
            Some(id) => self.get_stored_agent(id).await?,
            None => None,
        };
        let mut tx = Tx::new(self.table_name());
        put_account(&mut tx, rolled_back, Expect::UpdatedAt(seen))?;
        if let Some(stored) = stored.filter(|s| s.agent.status == AgentStatus::Active) {
            add_revoke_agent(&mut tx, &stored, RevocationReason::MigrationRolledBack, now)?;
        }
        if let Some(legacy) = &rolled_back.legacy_credential_id {
            tx.update(
                &keys::credential(legacy),
                "REMOVE agentId, legacyServiceAccountId, dualWriteUntil",
                Some("attribute_exists(PK)"),
                &[],
                vec![],
                "legacy_credential_missing",
            )?;
        }
        self.run(tx).await
    }
}
