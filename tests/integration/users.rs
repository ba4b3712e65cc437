use agentid::ids::UserId;
use agentid::model::{AgentStatus, CredentialStatus, RevocationReason, UserStatus};
use agentid::store::StoreError;
use agentid::values::{Email, Note, ScopeSet};
use agentid_integration::{now, spawn_app};

#[tokio::test]
async fn a_registered_user_reads_back_and_updates_keep_their_creation_time() {
    let app = spawn_app().await;
    let first = app.user("govind", &["repo:read"]).await;
    let got = app.store.get_user(&first.user_id).await.unwrap().unwrap();
    assert_eq!(got, first);
    assert_eq!(got.status, UserStatus::Active);

    let updated = app
        .store
        .upsert_user(
            &first.user_id,
            &Email::parse("govind@new.example.com").unwrap(),
            &ScopeSet::parse(["repo:read", "repo:write"]).unwrap(),
            true,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(updated.created_at, first.created_at);
    assert_eq!(updated.email.as_str(), "govind@new.example.com");
    assert!(updated.admin);
    assert_eq!(updated.scopes.len(), 2);
    assert!(app
        .store
        .get_user(&UserId::parse("nobody").unwrap())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn offboarding_revokes_every_agent_and_credential_and_can_be_rerun() {
    let app = spawn_app().await;
    let owner = app.user("leaver", &["repo:read"]).await.user_id;
    let other = app.user("stayer", &["repo:read"]).await.user_id;
    let (a1, c1) = app.agent(&owner).await;
    let (a2, c2) = app.agent(&owner).await;
    let (kept, kept_cred) = app.agent(&other).await;

    let report = app
        .store
        .offboard_user(
            &owner,
            Some(&Note::parse("left the company").unwrap()),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(report.user.status, UserStatus::Offboarded);
    assert_eq!(
        report.user.offboard_reason.unwrap().as_str(),
        "left the company"
    );
    let mut revoked = report.revoked_agents.clone();
    revoked.sort();
    let mut expected = vec![a1.agent_id.clone(), a2.agent_id.clone()];
    expected.sort();
    assert_eq!(revoked, expected);
    assert_eq!(report.revoked_credentials.len(), 2);

    for (agent, cred) in [(&a1, &c1), (&a2, &c2)] {
        let agent = app.store.get_agent(&agent.agent_id).await.unwrap().unwrap();
        assert_eq!(agent.status, AgentStatus::Revoked);
        assert_eq!(agent.revoke_reason, Some(RevocationReason::OwnerOffboarded));
        assert!(agent.active_credential_ids.is_empty());
        let cred = app
            .store
            .get_credential(&cred.credential_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cred.status, CredentialStatus::Revoked);
        assert_eq!(cred.revoke_reason, Some(RevocationReason::OwnerOffboarded));
    }
    let untouched = app.store.get_agent(&kept.agent_id).await.unwrap().unwrap();
    assert_eq!(untouched.status, AgentStatus::Active);
    let untouched = app
        .store
        .get_credential(&kept_cred.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.status, CredentialStatus::Active);

    let again = app.store.offboard_user(&owner, None, now()).await.unwrap();
    assert!(again.revoked_agents.is_empty());
    assert_eq!(again.user.offboarded_at, report.user.offboarded_at);
}

#[tokio::test]
async fn an_offboarded_user_cannot_be_registered_again() {
    let app = spawn_app().await;
    let user = app.user("gone", &[]).await;
    app.store
        .offboard_user(&user.user_id, None, now())
        .await
        .unwrap();
    let before = app.dump().await;
    let err = app
        .store
        .upsert_user(&user.user_id, &user.email, &user.scopes, true, now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::ConditionFailed("user_offboarded")),
        "{err:?}"
    );
    assert_eq!(app.dump().await, before);
}

#[tokio::test]
async fn offboarding_an_unknown_user_is_not_found_and_writes_nothing() {
    let app = spawn_app().await;
    let before = app.dump().await;
    let err = app
        .store
        .offboard_user(&UserId::parse("ghost").unwrap(), None, now())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound("user")), "{err:?}");
    assert_eq!(app.dump().await, before);
    assert!(before.is_empty());
}
