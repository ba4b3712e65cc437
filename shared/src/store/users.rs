//! Users: registration, lookup, offboarding with its cascade.
//!
//! The user item also holds `agentIds`, a string set of the user's active agents, maintained in
//! the same transactions that create and revoke agents. Offboarding flips the status and reads
//! that set in one UpdateItem, so the cascade sees every agent that can ever exist for the owner:
//! a create that commits later fails its `status = active` condition.

use aws_sdk_dynamodb::types::ReturnValue;

use super::{from_item, key_map, names, s, ss, string_set, values, Store, StoreError};
use crate::ids::{AgentId, CredentialId, UserId};
use crate::keys::{self, item_type};
use crate::model::{RevocationReason, User};
use crate::time::Timestamp;
use crate::values::{Email, Note, ScopeSet};

/// Attribute holding a user's active agent ids.
pub(crate) const AGENT_IDS: &str = "agentIds";

/// What offboarding did.
#[derive(Debug, Clone)]
pub struct OffboardReport {
    /// The user, now offboarded.
    pub user: User,
    /// Agents revoked by this call.
    pub revoked_agents: Vec<AgentId>,
    /// Credentials revoked by this call.
    pub revoked_credentials: Vec<CredentialId>,
}

impl Store {
    /// Registers a user or updates their email, scopes and admin flag. An offboarded user cannot
    /// be re-registered under the same id (`ConditionFailed("user_offboarded")`).
    pub async fn upsert_user(
        &self,
        user_id: &UserId,
        email: &Email,
        scopes: &ScopeSet,
        admin: bool,
        now: Timestamp,
    ) -> Result<User, StoreError> {
        let scopes_value = serde_dynamo::to_attribute_value(scopes)
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let out = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key_map(&keys::user(user_id))))
            .update_expression(
                "SET #type = :type, userId = :id, email = :email, scopes = :scopes, \
                 #admin = :admin, updatedAt = :now, createdAt = if_not_exists(createdAt, :now), \
                 #status = if_not_exists(#status, :active)",
            )
            .condition_expression("attribute_not_exists(PK) OR #status = :active")
            .set_expression_attribute_names(Some(names(&[
                ("#type", "type"),
                ("#status", "status"),
                ("#admin", "admin"),
            ])))
            .set_expression_attribute_values(Some(values(vec![
                (":type", s(item_type::USER)),
                (":id", s(user_id.as_str())),
                (":email", s(email.as_str())),
                (":scopes", scopes_value),
                (
                    ":admin",
                    aws_sdk_dynamodb::types::AttributeValue::Bool(admin),
                ),
                (":now", s(now.to_string())),
                (":active", s("active")),
            ])))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(StoreError::condition("user_offboarded"))?;
        from_item(out.attributes.unwrap_or_default(), "user")
    }

    /// A user, read strongly consistently.
    pub async fn get_user(&self, user_id: &UserId) -> Result<Option<User>, StoreError> {
        self.get_consistent(&keys::user(user_id), "user").await
    }

    /// Offboards a user: marks them offboarded, then revokes every active agent they own and
    /// each agent's credentials with reason `owner_offboarded`.
    ///
    /// Safe to re-run: a second call finishes any cascade a fault interrupted, and reports only
    /// what it revoked itself.
    pub async fn offboard_user(
        &self,
        user_id: &UserId,
        reason: Option<&Note>,
        now: Timestamp,
    ) -> Result<OffboardReport, StoreError> {
        let mut vals = values(vec![
            (":off", s("offboarded")),
            (":now", s(now.to_string())),
        ]);
        // The user also joins the sweep's work list of cascades to confirm (GSI2).
        let mut update = String::from(
            "SET #status = :off, offboardedAt = if_not_exists(offboardedAt, :now), updatedAt = :now, \
             #g2pk = :g2pk, #g2sk = if_not_exists(#g2sk, :g2sk)",
        );
        let entry = keys::offboarded_user(now, user_id);
        vals.insert(":g2pk".into(), s(entry.pk));
        vals.insert(":g2sk".into(), s(entry.sk));
        if let Some(reason) = reason {
            update.push_str(", offboardReason = if_not_exists(offboardReason, :reason)");
            vals.insert(":reason".into(), s(reason.as_str()));
        }
        let out = self
            .client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key_map(&keys::user(user_id))))
            .update_expression(update)
            .condition_expression("attribute_exists(PK)")
            .set_expression_attribute_names(Some(names(&[
                ("#status", "status"),
                ("#g2pk", crate::keys::attr::GSI2PK),
                ("#g2sk", crate::keys::attr::GSI2SK),
            ])))
            .set_expression_attribute_values(Some(vals))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| match StoreError::from_sdk(e) {
                StoreError::ConditionFailed(_) => StoreError::NotFound("user"),
                other => other,
            })?;
        let item = out.attributes.unwrap_or_default();
        let agent_ids = string_set(&item, AGENT_IDS);
        let user: User = from_item(item, "user")?;

        let mut report = OffboardReport {
            user,
            revoked_agents: Vec::new(),
            revoked_credentials: Vec::new(),
        };
        // One pass suffices: DynamoDB serialises each create transaction against the status
        // flip above, so a create either landed in `agentIds` before it or fails its condition.
        self.revoke_each(user_id, &agent_ids, now, &mut report)
            .await?;
        Ok(report)
    }

    async fn revoke_each(
        &self,
        user_id: &UserId,
        agent_ids: &[String],
        now: Timestamp,
        report: &mut OffboardReport,
    ) -> Result<(), StoreError> {
        for id in agent_ids {
            let id =
                AgentId::parse(id.as_str()).map_err(|e| StoreError::corrupt("user agentIds", e))?;
            match self
                .revoke_agent_owned_by(&id, Some(user_id), RevocationReason::OwnerOffboarded, now)
                .await
            {
                Ok(revoked) => {
                    report.revoked_credentials.extend(revoked.credentials);
                    report.revoked_agents.push(id);
                }
                // Revoked concurrently, or transferred away: nothing left to do for it.
                Err(StoreError::ConditionFailed("agent_not_active" | "owner_changed")) => {
                    self.forget_agent(user_id, &id).await?;
                }
                Err(StoreError::NotFound(_)) => self.forget_agent(user_id, &id).await?,
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// Drops an agent id from a user's active set (it is no longer theirs or no longer active).
    async fn forget_agent(&self, user_id: &UserId, agent_id: &AgentId) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(key_map(&keys::user(user_id))))
            .update_expression("DELETE #agents :agent")
            .set_expression_attribute_names(Some(names(&[("#agents", AGENT_IDS)])))
            .set_expression_attribute_values(Some(values(vec![(
                ":agent",
                ss([agent_id.as_str()]),
            )])))
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(())
    }
}
