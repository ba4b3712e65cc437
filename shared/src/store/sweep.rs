//! The sweep's reads and conditional writes: its work lists (sparse GSI2 partitions, never a
//! scan) and the state changes it makes, each conditional so two sweeps at once act once.

use aws_sdk_dynamodb::types::AttributeValue;

use super::agents::{add_revoke_credential, CREDENTIAL_IDS, VERSION};
use super::service_accounts::{check_account, service_account_item, Expect};
use super::{
    from_item, key_map, names, s, ss, string_set, Page, PageRequest, QuerySpec, SortRange, Store,
    StoreError, Tx,
};
use crate::ids::AgentId;
use crate::keys::{self, attr, index};
use crate::model::{Credential, RevocationReason, ServiceAccount, User};
use crate::time::Timestamp;

impl Store {
    /// Revokes an account's legacy credential and marks the account deprecated (`updated`),
    /// together, on the condition that the account is as read (`seen`).
    pub async fn revoke_legacy(
        &self,
        updated: &ServiceAccount,
        seen: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        check_account(updated)?;
        let mut tx = Tx::new(self.table_name());
        let (condition, vals) =
            Expect::UpdatedAtIn(seen, crate::model::MigrationState::AwaitingQuiet).condition();
        tx.put(
            service_account_item(updated)?,
            condition,
            vals,
            "service_account_changed",
        )?;
        if let Some(legacy) = &updated.legacy_credential_id {
            add_revoke_credential(&mut tx, legacy, RevocationReason::LegacyQuiet, now, false)?;
        }
        self.run(tx).await
    }

    /// Deletes a deprecated account's rows after the buffer: the account, its owner-map entry
    /// and its legacy credential. Audit events and usage history are never deleted.
    pub async fn purge_account(&self, account: &ServiceAccount) -> Result<(), StoreError> {
        let mut tx = Tx::new(self.table_name());
        let (condition, vals) =
            Expect::UpdatedAtIn(account.updated_at, crate::model::MigrationState::Revoked)
                .condition();
        tx.delete(
            &keys::service_account(&account.service_account_id),
            condition,
            vals,
            "service_account_changed",
        )?;
        tx.delete(
            &keys::owner_map(&account.service_account_id),
            None,
            vec![],
            "owner_map",
        )?;
        if let Some(legacy) = &account.legacy_credential_id {
            tx.delete(&keys::credential(legacy), None, vec![], "legacy_credential")?;
        }
        self.run(tx).await
    }

    /// Credentials whose grace period ends at or before `through`, earliest first.
    pub async fn list_expiring_credentials(
        &self,
        through: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<Credential>, StoreError> {
        let spec = QuerySpec {
            index: Some(index::GSI2),
            pk_attr: attr::GSI2PK,
            sk_attr: attr::GSI2SK,
            pk: keys::EXPIRING_CREDENTIALS.into(),
            range: SortRange::Between("0".into(), format!("{through}~")),
            forward: true,
        };
        let (items, next) = self.query_page(spec, page).await?;
        let items = items
            .into_iter()
            .map(|item| from_item(item, "credential"))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next })
    }

    /// Marks a credential past its grace period expired and drops it from its agent's active
    /// set. `ConditionFailed("credential_not_active")` if it was revoked or expired meanwhile.
    pub async fn expire_credential(
        &self,
        cred: &Credential,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = Tx::new(self.table_name());
        tx.update(
            &keys::credential(&cred.credential_id),
            "SET #status = :expired REMOVE #g2pk, #g2sk",
            Some("#status = :active AND expiresAt <= :now"),
            &[
                ("#status", "status"),
                ("#g2pk", attr::GSI2PK),
                ("#g2sk", attr::GSI2SK),
            ],
            vec![
                (":expired", s("expired")),
                (":active", s("active")),
                (":now", s(now.to_string())),
            ],
            "credential_not_active",
        )?;
        if let crate::model::Principal::Agent(agent) = &cred.principal {
            tx.update(
                &keys::agent(agent),
                "DELETE #creds :cred ADD #version :one",
                Some("attribute_exists(PK)"),
                &[("#creds", CREDENTIAL_IDS), ("#version", VERSION)],
                vec![
                    (":cred", ss([cred.credential_id.as_str()])),
                    (":one", AttributeValue::N("1".into())),
                ],
                "agent_missing",
            )?;
        }
        self.run(tx).await
    }

    /// Offboarded users whose cascade is not yet confirmed, with the agents still listed as
    /// theirs.
    pub async fn list_offboarded_users(
        &self,
        page: &PageRequest,
    ) -> Result<Page<(User, Vec<AgentId>)>, StoreError> {
        let spec = QuerySpec {
            index: Some(index::GSI2),
            pk_attr: attr::GSI2PK,
            sk_attr: attr::GSI2SK,
            pk: keys::OFFBOARDED_USERS.into(),
            range: SortRange::Between("0".into(), "~".into()),
            forward: true,
        };
        let (items, next) = self.query_page(spec, page).await?;
        let mut users = Vec::new();
        for item in items {
            // The index may lag: read the user's current set.
            let user: User = from_item(item, "user")?;
            let out = self
                .client
                .get_item()
                .table_name(self.table_name())
                .set_key(Some(key_map(&keys::user(&user.user_id))))
                .consistent_read(true)
                .send()
                .await
                .map_err(StoreError::from_sdk)?;
            let current = out.item.unwrap_or_default();
            let agents = string_set(&current, super::users::AGENT_IDS)
                .into_iter()
                .map(AgentId::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::corrupt("user agentIds", e))?;
            users.push((user, agents));
        }
        Ok(Page { items: users, next })
    }

    /// Takes a user off the sweep's work list once no active agent is left for them.
    /// `ConditionFailed("agents_remain")` if one appeared meanwhile.
    pub async fn confirm_offboarded(&self, user: &User) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key_map(&keys::user(&user.user_id))))
            .update_expression("REMOVE #g2pk, #g2sk")
            .condition_expression("attribute_not_exists(#agents)")
            .set_expression_attribute_names(Some(names(&[
                ("#g2pk", attr::GSI2PK),
                ("#g2sk", attr::GSI2SK),
                ("#agents", super::users::AGENT_IDS),
            ])))
            .send()
            .await
            .map_err(StoreError::condition("agents_remain"))?;
        Ok(())
    }

    /// The cutover date: when the first account was migrated.
    pub async fn cutover(&self) -> Result<Option<Timestamp>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table_name())
            .set_key(Some(key_map(&keys::cutover())))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(out
            .item
            .and_then(|i| {
                i.get("firstMigrationAt")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
            })
            .and_then(|t| Timestamp::parse(&t).ok()))
    }
}
