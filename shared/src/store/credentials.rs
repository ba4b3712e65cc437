//! Credentials: import, the authorizer's one strongly consistent read, revocation.

use aws_sdk_dynamodb::types::AttributeValue;

use super::agents::{add_revoke_credential, credential_item, CREDENTIAL_IDS, VERSION};
use super::{from_item, ss, Page, PageRequest, QuerySpec, SortRange, Store, StoreError, Tx};
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
        let mut tx = Tx::new(self.table_name());
        // Only an active credential is revoked here; a racing revoke or expiry wins cleanly.
        add_revoke_credential(&mut tx, id, reason, now, true)?;
        if let Principal::Agent(agent_id) = &cred.principal {
            tx.update(
                &keys::agent(agent_id),
                "DELETE #creds :cred ADD #version :one",
                Some("attribute_exists(PK)"),
                &[("#creds", CREDENTIAL_IDS), ("#version", VERSION)],
                vec![
                    (":cred", ss([id.as_str()])),
                    (":one", AttributeValue::N("1".into())),
                ],
                "agent_missing",
            )?;
        }
        self.run(tx).await?;
        cred.status = CredentialStatus::Revoked;
        cred.revoked_at = Some(now);
        cred.revoke_reason = Some(reason);
        Ok(cred)
    }
}
