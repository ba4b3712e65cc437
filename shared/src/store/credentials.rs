//! Credentials: import, the authorizer's one strongly consistent read, revocation.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::agents::{credential_item, revoke_credential_update, CREDENTIAL_IDS, VERSION};
use super::{
    from_item, key_map, names, ss, values, Page, PageRequest, QuerySpec, SortRange, Store,
    StoreError,
};
use crate::ids::CredentialId;
use crate::keys::{self, attr, index};
use crate::model::{Credential, CredentialStatus, Principal, RevocationReason};
use crate::time::Timestamp;

impl Store {
    /// Stores a new credential that belongs to no agent transaction, such as an imported legacy
    /// service-account credential. `ConditionFailed("credential_exists")` if the id is taken.
    pub async fn put_credential(&self, cred: &Credential) -> Result<(), StoreError> {
        if cred.status != CredentialStatus::Active {
            return Err(StoreError::Validation(
                "a new credential must be active".into(),
            ));
        }
        self.client
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(credential_item(cred)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(StoreError::condition("credential_exists"))?;
        Ok(())
    }

    /// A credential, read strongly consistently: the authorizer's single request.
    pub async fn get_credential(
        &self,
        id: &CredentialId,
    ) -> Result<Option<Credential>, StoreError> {
        self.get_consistent(&keys::credential(id), "credential")
            .await
    }

    /// A principal's credentials, oldest first (GSI1; eventually consistent).
    pub async fn list_credentials_of(
        &self,
        principal: &Principal,
        page: &PageRequest,
    ) -> Result<Page<Credential>, StoreError> {
        let spec = QuerySpec {
            index: Some(index::GSI1),
            pk_attr: attr::GSI1PK,
            sk_attr: attr::GSI1SK,
            pk: keys::credentials_of(principal),
            range: SortRange::BeginsWith("CRED#".into()),
            forward: true,
        };
        let (items, next) = self.query_page(spec, page).await?;
        let items = items
            .into_iter()
            .map(|item| from_item(item, "credential"))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next })
    }

    /// Revokes one active credential. For an agent's credential the agent's active set loses it
    /// in the same transaction. `ConditionFailed("credential_not_active")` if it is not active.
    pub async fn revoke_credential(
        &self,
        id: &CredentialId,
        reason: RevocationReason,
        now: Timestamp,
    ) -> Result<Credential, StoreError> {
        let mut cred = self
            .get_credential(id)
            .await?
            .ok_or(StoreError::NotFound("credential"))?;
        if cred.status != CredentialStatus::Active {
            return Err(StoreError::ConditionFailed("credential_not_active"));
        }
        let table = self.table_name();
        // Only an active credential is revoked here; a racing revoke or expiry wins cleanly.
        let revoke = revoke_credential_update(table, id, reason, now, true)?;
        let mut actions = vec![TransactWriteItem::builder().update(revoke).build()];
        let mut labels = vec!["credential_not_active"];
        if let Principal::Agent(agent_id) = &cred.principal {
            actions.push(
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(table)
                            .set_key(Some(key_map(&keys::agent(agent_id))))
                            .update_expression("DELETE #creds :cred ADD #version :one")
                            .condition_expression("attribute_exists(PK)")
                            .set_expression_attribute_names(Some(names(&[
                                ("#creds", CREDENTIAL_IDS),
                                ("#version", VERSION),
                            ])))
                            .set_expression_attribute_values(Some(values(vec![
                                (":cred", ss([id.as_str()])),
                                (":one", AttributeValue::N("1".into())),
                            ])))
                            .build()
                            .map_err(StoreError::build)?,
                    )
                    .build(),
            );
            labels.push("agent_missing");
        }
        self.transact(actions, &labels).await?;
        cred.status = CredentialStatus::Revoked;
        cred.revoked_at = Some(now);
        cred.revoke_reason = Some(reason);
        Ok(cred)
    }
}
