use agentid::ids::{ServiceAccountId, UserId};
use agentid::model::{
    Integration, IntegrationKind, MigrationState, OwnerMapEntry, ServiceAccount,
    ServiceAccountKind, ServiceAccountStatus,
};
use agentid::store::{Expect, PageRequest, StoreError};
use agentid::time::Timestamp;
use agentid::values::{Name, Note, Resource};
use agentid_integration::{now, spawn_app};

fn account(
    id: &str,
    kind: ServiceAccountKind,
    state: MigrationState,
    at: Timestamp,
) -> ServiceAccount {
    ServiceAccount {
        service_account_id: ServiceAccountId::parse(id).unwrap(),
        name: Name::parse(format!("{id} automation")).unwrap(),
        kind,
        status: ServiceAccountStatus::Active,
        migration_state: state,
        integrations: vec![Integration {
            kind: IntegrationKind::Cron,
            location: Resource::parse("cron:ops-box/etc/cron.d/nightly").unwrap(),
            note: Some(Note::parse("rotate with the deploy key").unwrap()),
        }],
        integrations_reviewed: false,
        scopes: Default::default(),
        legacy_credential_id: None,
        migrated_to_agent_id: None,
        migrated_at: None,
        dual_write_until: None,
        dual_write_ended_at: None,
        revoked_at: None,
        created_at: at,
        updated_at: at,
    }
}

#[tokio::test]
async fn service_accounts_round_trip_with_optimistic_concurrency() {
    let app = spawn_app().await;
    let t0 = now();
    let sa = account(
        "sa-7",
        ServiceAccountKind::Migrate,
        MigrationState::Inventoried,
        t0,
    );
    app.store
        .put_service_account(&sa, Expect::Absent)
        .await
        .unwrap();
    assert_eq!(
        app.store
            .get_service_account(&sa.service_account_id)
            .await
            .unwrap(),
        Some(sa.clone())
    );

    let err = app
        .store
        .put_service_account(&sa, Expect::Absent)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::ConditionFailed("service_account_changed")),
        "{err:?}"
    );

    let mut next = sa.clone();
    next.integrations_reviewed = true;
    next.updated_at = t0.plus(chrono::Duration::seconds(1));
    app.store
        .put_service_account(&next, Expect::UpdatedAt(sa.updated_at))
        .await
        .unwrap();
    // A writer that read the old version loses.
    let mut stale = sa.clone();
    stale.name = Name::parse("stale").unwrap();
    let before = app.dump().await;
    let err = app
        .store
        .put_service_account(&stale, Expect::UpdatedAt(sa.updated_at))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::ConditionFailed("service_account_changed")
    ));
    assert_eq!(app.dump().await, before);
    assert_eq!(
        app.store
            .get_service_account(&sa.service_account_id)
            .await
            .unwrap(),
        Some(next)
    );
}

#[tokio::test]
async fn org_owned_accounts_are_exempt_and_never_indexed() {
    let app = spawn_app().await;
    let t = now();
    let bad = account(
        "billing",
        ServiceAccountKind::OrgOwned,
        MigrationState::Inventoried,
        t,
    );
    let before = app.dump().await;
    assert!(matches!(
        app.store.put_service_account(&bad, Expect::Any).await,
        Err(StoreError::Validation(_))
    ));
    assert_eq!(app.dump().await, before);

    let org = account(
        "billing",
        ServiceAccountKind::OrgOwned,
        MigrationState::Exempt,
        t,
    );
    app.store
        .put_service_account(&org, Expect::Absent)
        .await
        .unwrap();
    let raw = app.raw_item("SA#billing", "SA").await.unwrap();
    assert!(
        !raw.contains_key("GSI2PK") && !raw.contains_key("GSI2SK"),
        "sparse: no work-list key"
    );
    assert!(matches!(
        app.store
            .list_service_accounts_by_state(MigrationState::Exempt, &PageRequest::first())
            .await,
        Err(StoreError::Validation(_))
    ));
}

#[tokio::test]
async fn accounts_list_by_migration_state_from_the_sparse_index() {
    let app = spawn_app().await;
    let t = now();
    for id in ["sa-1", "sa-2", "sa-3"] {
        let sa = account(
            id,
            ServiceAccountKind::Migrate,
            MigrationState::DualWriting,
            t,
        );
        app.store
            .put_service_account(&sa, Expect::Absent)
            .await
            .unwrap();
    }
    let waiting = account(
        "sa-4",
        ServiceAccountKind::Migrate,
        MigrationState::OwnerAssigned,
        t,
    );
    app.store
        .put_service_account(&waiting, Expect::Absent)
        .await
        .unwrap();
    let org = account(
        "nightly-cleanup",
        ServiceAccountKind::OrgOwned,
        MigrationState::Exempt,
        t,
    );
    app.store
        .put_service_account(&org, Expect::Absent)
        .await
        .unwrap();
    app.requests.take();

    let first = app
        .store
        .list_service_accounts_by_state(
            MigrationState::DualWriting,
            &PageRequest::new(2, None).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    let rest = app
        .store
        .list_service_accounts_by_state(
            MigrationState::DualWriting,
            &PageRequest::new(2, first.next.clone()).unwrap(),
        )
        .await
        .unwrap();
    let ids: Vec<String> = first
        .items
        .iter()
        .chain(rest.items.iter())
        .map(|s| s.service_account_id.to_string())
        .collect();
    assert_eq!(ids, ["sa-1", "sa-2", "sa-3"]);
    assert!(
        app.requests.take().iter().all(|op| op == "Query"),
        "work lists come from a Query, never a Scan"
    );
    let assigned = app
        .store
        .list_service_accounts_by_state(MigrationState::OwnerAssigned, &PageRequest::first())
        .await
        .unwrap();
    assert_eq!(assigned.items, vec![waiting]);
}

#[tokio::test]
async fn the_owner_map_puts_reads_and_deletes() {
    let app = spawn_app().await;
    let id = ServiceAccountId::parse("shared-ci").unwrap();
    let entry = OwnerMapEntry {
        service_account_id: id.clone(),
        owner_user_id: UserId::parse("team-lead").unwrap(),
        owner_of_record: true,
        assigned_by: UserId::parse("admin").unwrap(),
        assigned_at: now(),
        note: Some(Note::parse("shared by the platform team; lead is owner of record").unwrap()),
    };
    app.store.put_owner_map(&entry).await.unwrap();
    assert_eq!(
        app.store.get_owner_map(&id).await.unwrap(),
        Some(entry.clone())
    );
    let mut reassigned = entry.clone();
    reassigned.owner_user_id = UserId::parse("new-lead").unwrap();
    app.store.put_owner_map(&reassigned).await.unwrap();
    assert_eq!(
        app.store.get_owner_map(&id).await.unwrap(),
        Some(reassigned)
    );
    app.store.delete_owner_map(&id).await.unwrap();
    assert_eq!(app.store.get_owner_map(&id).await.unwrap(), None);
    app.store.delete_owner_map(&id).await.unwrap();
}
