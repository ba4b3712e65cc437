use agentid::ids::{CredentialId, ServiceAccountId};
use agentid::model::{Credential, CredentialStatus, Principal, RevocationReason, SecretHash};
use agentid::store::{PageRequest, StoreError};
use agentid::values::ScopeSet;
use agentid_integration::{now, spawn_app};

fn legacy(account: &str) -> Credential {
    Credential {
        credential_id: CredentialId::generate(),
        principal: Principal::ServiceAccount(ServiceAccountId::parse(account).unwrap()),
        secret_hash: SecretHash("a".repeat(64)),
        status: CredentialStatus::Active,
        created_at: now(),
        expires_at: None,
        revoked_at: None,
        revoke_reason: None,
        accountable_principal_id: None,
        agent_id: None,
        legacy_service_account_id: None,
        dual_write_until: None,
        scopes: ScopeSet::parse(["billing:read"]).unwrap(),
        request_fingerprint: None,
    }
}

#[tokio::test]
async fn an_imported_credential_is_stored_once_and_read_consistently() {
    let app = spawn_app().await;
    let cred = legacy("sa-7");
    app.store.put_credential(&cred).await.unwrap();
    assert_eq!(
        app.store.get_credential(&cred.credential_id).await.unwrap(),
        Some(cred.clone())
    );
    let err = app.store.put_credential(&cred).await.unwrap_err();
    assert!(
        matches!(err, StoreError::ConditionFailed("credential_exists")),
        "{err:?}"
    );
    assert_eq!(
        app.store
            .get_credential(&CredentialId::generate())
            .await
            .unwrap(),
        None
    );

    let listed = app
        .store
        .list_credentials_of(&cred.principal, &PageRequest::first())
        .await
        .unwrap();
    assert_eq!(listed.items, vec![cred]);
}

#[tokio::test]
async fn revoking_a_credential_requires_it_active() {
    let app = spawn_app().await;
    let cred = legacy("sa-8");
    app.store.put_credential(&cred).await.unwrap();
    let revoked = app
        .store
        .revoke_credential(&cred.credential_id, RevocationReason::LegacyQuiet, now())
        .await
        .unwrap();
    assert_eq!(revoked.status, CredentialStatus::Revoked);
    let stored = app
        .store
        .get_credential(&cred.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, CredentialStatus::Revoked);
    assert_eq!(stored.revoke_reason, Some(RevocationReason::LegacyQuiet));

    let before = app.dump().await;
    let err = app
        .store
        .revoke_credential(&cred.credential_id, RevocationReason::LegacyQuiet, now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::ConditionFailed("credential_not_active")),
        "{err:?}"
    );
    assert_eq!(app.dump().await, before);
    assert!(matches!(
        app.store
            .revoke_credential(
                &CredentialId::generate(),
                RevocationReason::LegacyQuiet,
                now()
            )
            .await,
        Err(StoreError::NotFound("credential"))
    ));
}

#[tokio::test]
async fn revoking_an_agent_credential_removes_it_from_the_agent() {
    let app = spawn_app().await;
    let owner = app.user("govind", &[]).await.user_id;
    let (agent, cred) = app.agent(&owner).await;
    app.store
        .revoke_credential(&cred.credential_id, RevocationReason::RevokedByOwner, now())
        .await
        .unwrap();
    let stored = app.store.get_agent(&agent.agent_id).await.unwrap().unwrap();
    assert!(stored.active_credential_ids.is_empty());
}
