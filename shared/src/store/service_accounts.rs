//! Service accounts (the inventory) and the owner map.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{
    entity_item, from_item, key_map, s, set_index, values, Item, Page, PageRequest, QuerySpec,
    SortRange, Store, StoreError,
};
use crate::ids::ServiceAccountId;
use crate::keys::{self, attr, index, item_type};
use crate::model::{MigrationState, OwnerMapEntry, ServiceAccount, ServiceAccountKind};
use crate::time::Timestamp;

/// What a conditional write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No item yet.
    Absent,
    /// An item last changed at exactly this time (optimistic concurrency).
    UpdatedAt(Timestamp),
    /// As `UpdatedAt`, and in this migration state. Two writers acting at the same instant
    /// (two sweeps at one scheduled time) write the same `updatedAt`; the state still differs
    /// after the first one's transition, so the second one's condition fails.
    UpdatedAtIn(Timestamp, MigrationState),
    /// Whatever is there.
    Any,
}

impl Expect {
    /// The condition expression (and its values) that checks this expectation.
    pub(crate) fn condition(self) -> (Option<&'static str>, Vec<(&'static str, AttributeValue)>) {
        match self {
            Self::Absent => (Some("attribute_not_exists(PK)"), vec![]),
            Self::UpdatedAt(at) => (
                Some("updatedAt = :seen"),
                vec![(":seen", s(at.to_string()))],
            ),
            Self::UpdatedAtIn(at, state) => (
                Some("updatedAt = :seen AND migrationState = :state"),
                vec![(":seen", s(at.to_string())), (":state", s(state.as_str()))],
            ),
            Self::Any => (None, vec![]),
        }
    }
}

pub(crate) fn service_account_item(sa: &ServiceAccount) -> Result<Item, StoreError> {
    let mut item = entity_item(
        sa,
        &keys::service_account(&sa.service_account_id),
        item_type::SERVICE_ACCOUNT,
    )?;
    // Sparse: org-owned accounts have no entry, so no work list can ever include them.
    if let Some(entry) = keys::account_by_state(sa.migration_state, &sa.service_account_id) {
        set_index(&mut item, attr::GSI2PK, attr::GSI2SK, &entry);
    }
    Ok(item)
}

pub(crate) fn check_account(sa: &ServiceAccount) -> Result<(), StoreError> {
    let org_owned = sa.kind == ServiceAccountKind::OrgOwned;
    let exempt = sa.migration_state == MigrationState::Exempt;
    if org_owned != exempt {
        return Err(StoreError::Validation(
            "an account is exempt from migration exactly when it is org-owned".into(),
        ));
    }
    Ok(())
}

impl Store {
    /// Writes a service account, replacing the stored one, on the condition `expect`.
    /// `ConditionFailed("service_account_changed")` when the stored item is not as expected.
    pub async fn put_service_account(
        &self,
        sa: &ServiceAccount,
        expect: Expect,
    ) -> Result<(), StoreError> {
        check_account(sa)?;
        let mut request = self
            .client
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(service_account_item(sa)?));
        let (condition, condition_values) = expect.condition();
        if let Some(condition) = condition {
            request = request
                .condition_expression(condition)
                .set_expression_attribute_values(
                    (!condition_values.is_empty()).then(|| values(condition_values)),
                );
        }
        request
            .send()
            .await
            .map_err(StoreError::condition("service_account_changed"))?;
        Ok(())
    }

    /// A service account, read strongly consistently.
    pub async fn get_service_account(
        &self,
        id: &ServiceAccountId,
    ) -> Result<Option<ServiceAccount>, StoreError> {
        self.get_consistent(&keys::service_account(id), "service account")
            .await
    }

    /// The accounts in one migration state (sparse GSI2, never a scan).
    pub async fn list_service_accounts_by_state(
        &self,
        state: MigrationState,
        page: &PageRequest,
    ) -> Result<Page<ServiceAccount>, StoreError> {
        if !state.is_indexed() {
            return Err(StoreError::Validation(format!(
                "accounts in state {state} are not indexed"
            )));
        }
        let spec = QuerySpec {
            index: Some(index::GSI2),
            pk_attr: attr::GSI2PK,
            sk_attr: attr::GSI2SK,
            pk: keys::accounts_in_state(state),
            range: SortRange::BeginsWith("SA#".into()),
            forward: true,
        };
        let (items, next) = self.query_page(spec, page).await?;
        let items = items
            .into_iter()
            .map(|item| from_item(item, "service account"))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next })
    }

    /// Writes an account's owner-map entry, replacing any previous one.
    pub async fn put_owner_map(&self, entry: &OwnerMapEntry) -> Result<(), StoreError> {
        let item = entity_item(
            entry,
            &keys::owner_map(&entry.service_account_id),
            item_type::OWNER_MAP,
        )?;
        self.client
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(item))
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(())
    }

    /// An account's owner-map entry, read strongly consistently.
    pub async fn get_owner_map(
        &self,
        id: &ServiceAccountId,
    ) -> Result<Option<OwnerMapEntry>, StoreError> {
        self.get_consistent(&keys::owner_map(id), "owner map entry")
            .await
    }

    /// Deletes an account's owner-map entry; deleting a missing entry is not an error, so the
    /// purge can be re-run.
    pub async fn delete_owner_map(&self, id: &ServiceAccountId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(self.table_name())
            .set_key(Some(key_map(&keys::owner_map(id))))
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(())
    }
}
