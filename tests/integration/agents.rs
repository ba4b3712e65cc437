use std::collections::BTreeSet;

use agentid::ids::{AgentId, CredentialId, UserId};
use agentid::model::{AgentStatus, CredentialStatus, Principal, RevocationReason};
use agentid::store::{PageRequest, StoreError};
use agentid_integration::{new_agent, now, spawn_app};

#[tokio::test]
async fn creating_an_agent_stores_agent_and_credential_together() {
    let app = spawn_app().await;
    let owner = app.user("govind", &["repo:read"]).await.user_id;
    let (agent, cred) = new_agent(&owner, now());
    app.store.create_agent(&agent, &cred).await.unwrap();

    let got = app.store.get_agent(&agent.agent_id).await.unwrap().unwrap();
    assert_eq!(got, agent);
    assert_eq!(
        got.active_credential_ids,
        BTreeSet::from([cred.credential_id.clone()])
    );
    let got_cred = app
        .store
        .get_credential(&cred.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got_cred, cred);
    assert_eq!(got_cred.principal, Principal::Agent(agent.agent_id.clone()));
    // The owner's user item records the agent, which is what makes offboarding race-free.
    let user = app
        .raw_item(&format!("USER#{owner}"), "USER")
        .await
        .unwrap();
    assert_eq!(
        user["agentIds"].as_ss().unwrap(),
        &vec![agent.agent_id.to_string()]
    );
}

#[tokio::test]
async fn no_agent_for_a_missing_or_offboarded_owner() {
    let app = spawn_app().await;
    let ghost = UserId::parse("ghost").unwrap();
    let (agent, cred) = new_agent(&ghost, now());
    let before = app.dump().await;
    let err = app.store.create_agent(&agent, &cred).await.unwrap_err();
    assert!(
        matches!(err, StoreError::ConditionFailed("owner_not_active")),
        "{err:?}"
    );
    assert_eq!(
        app.dump().await,
        before,
        "nothing written for a missing owner"
    );

    let leaver = app.user("leaver", &[]).await.user_id;
    app.store.offboard_user(&leaver, None, now()).await.unwrap();
    let (agent, cred) = new_agent(&leaver, now());
    let before = app.dump().await;
    let err = app.store.create_agent(&agent, &cred).await.unwrap_err();
    assert!(
        matches!(err, StoreError::ConditionFailed("owner_not_active")),
        "{err:?}"
    );
    assert_eq!(
        app.dump().await,
        before,
        "nothing written for an offboarded owner"
    );
}

#[tokio::test]
async fn an_agent_id_is_created_once() {
    let app = spawn_app().await;
    let owner = app.user("govind", &[]).await.user_id;
    let (agent, cred) = app.agent(&owner).await;
    let mut second_cred = cred.clone();
    second_cred.credential_id = CredentialId::generate();
    let mut same_agent = agent.clone();
    same_agent.credential_id = second_cred.credential_id.clone();
    same_agent.active_credential_ids = [second_cred.credential_id.clone()].into();
    let before = app.dump().await;
    let err = app
        .store
        .create_agent(&same_agent, &second_cred)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::ConditionFailed("agent_exists")),
        "{err:?}"
    );
    assert_eq!(app.dump().await, before);
}

#[tokio::test]
async fn a_half_made_agent_is_refused_before_any_request() {
    let app = spawn_app().await;
    let owner = app.user("govind", &["repo:read"]).await.user_id;
    let (agent, mut cred) = new_agent(&owner, now());
    cred.principal = Principal::Agent(AgentId::generate());
    let err = app.store.create_agent(&agent, &cred).await.unwrap_err();
    assert!(matches!(err, StoreError::Validation(_)), "{err:?}");

    let (agent, mut cred) = new_agent(&owner, now());
    cred.accountable_principal_id = Some(UserId::parse("someone-else").unwrap());
    assert!(matches!(
        app.store.create_agent(&agent, &cred).await,
        Err(StoreError::Validation(_))
    ));
    assert!(
        app.requests.take().is_empty(),
        "no request reached DynamoDB"
    );
    assert!(app
        .store
        .get_agent(&agent.agent_id)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn agents_list_by_owner_in_pages() {
    let app = spawn_app().await;
    let owner = app.user("govind", &[]).await.user_id;
    let other = app.user("other", &[]).await.user_id;
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(app.agent(&owner).await.0.agent_id);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    app.agent(&other).await;

    let mut seen = Vec::new();
    let mut page = PageRequest::new(2, None).unwrap();
    let mut pages = 0;
    loop {
        let got = app.store.list_agents_by_owner(&owner, &page).await.unwrap();
        assert!(got.items.len() <= 2);
        pages += 1;
        seen.extend(got.items.into_iter().map(|a| a.agent_id));
        match got.next {
            Some(token) => page = PageRequest::new(2, Some(token)).unwrap(),
            None => break,
        }
        assert!(pages < 10, "pagination must end");
    }
    assert_eq!(
        seen, created,
        "every agent of the owner, oldest first, none of another's"
    );
}

#[tokio::test]
async fn revoking_an_agent_revokes_its_credentials_once() {
    let app = spawn_app().await;
    let owner = app.user("govind", &[]).await.user_id;
    let (agent, cred) = app.agent(&owner).await;
    let revoked = app
        .store
        .revoke_agent(&agent.agent_id, RevocationReason::RevokedByOwner, now())
        .await
        .unwrap();
    assert_eq!(revoked.agent.status, AgentStatus::Revoked);
    assert_eq!(revoked.credentials, vec![cred.credential_id.clone()]);
    let stored = app.store.get_agent(&agent.agent_id).await.unwrap().unwrap();
    assert_eq!(stored.status, AgentStatus::Revoked);
    assert_eq!(stored.revoke_reason, Some(RevocationReason::RevokedByOwner));
    let stored_cred = app
        .store
        .get_credential(&cred.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored_cred.status, CredentialStatus::Revoked);
    let user = app
        .raw_item(&format!("USER#{owner}"), "USER")
        .await
        .unwrap();
    assert!(
        !user.contains_key("agentIds"),
        "the owner no longer lists it as active"
    );

    let err = app
        .store
        .revoke_agent(&agent.agent_id, RevocationReason::RevokedByOwner, now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::ConditionFailed("agent_not_active")),
        "{err:?}"
    );
    let missing = app
        .store
        .revoke_agent(
            &AgentId::generate(),
            RevocationReason::RevokedByOwner,
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound("agent")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_racing_an_offboard_leave_no_active_agent() {
    let app = spawn_app().await;
    for trial in 0..3 {
        let owner = app
            .user(&format!("racer-{trial}"), &["repo:read"])
            .await
            .user_id;
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let store = app.store.clone();
            let owner = owner.clone();
            tasks.push(tokio::spawn(async move {
                let (agent, cred) = new_agent(&owner, now());
                let result = store.create_agent(&agent, &cred).await;
                (agent.agent_id, result)
            }));
        }
        let store = app.store.clone();
        let offboarder = owner.clone();
        let offboard = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(5 * trial)).await;
            store.offboard_user(&offboarder, None, now()).await
        });
        let mut created = Vec::new();
        for task in tasks {
            let (id, result) = task.await.unwrap();
            match result {
                Ok(()) => created.push(id),
                Err(StoreError::ConditionFailed("owner_not_active")) => {
                    assert!(
                        app.store.get_agent(&id).await.unwrap().is_none(),
                        "refused agent stored"
                    );
                }
                Err(other) => panic!("unexpected create error: {other:?}"),
            }
        }
        offboard.await.unwrap().unwrap();

        let items = app.dump().await;
        let agents_of_owner: Vec<_> = items
            .iter()
            .filter(|i| i["type"].as_s().unwrap() == "agent")
            .filter(|i| i["ownerUserId"].as_s().unwrap() == owner.as_str())
            .collect();
        assert_eq!(
            agents_of_owner.len(),
            created.len(),
            "every stored agent was a successful create"
        );
        for item in agents_of_owner {
            assert_eq!(
                item["status"].as_s().unwrap(),
                "revoked",
                "trial {trial}: an active agent survived"
            );
        }
        for id in &created {
            let agent = app.store.get_agent(id).await.unwrap().unwrap();
            assert_eq!(agent.status, AgentStatus::Revoked);
            let cred = app
                .store
                .get_credential(&agent.credential_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(cred.status, CredentialStatus::Revoked);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_rotations_leave_at_most_two_active_credentials() {
    let app = spawn_app().await;
    let owner = app.user("govind", &["repo:read"]).await.user_id;
    let (agent, _) = app.agent(&owner).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = app.store.clone();
        let agent = agent.clone();
        tasks.push(tokio::spawn(async move {
            let (_, mut cred) = new_agent(&agent.owner_user_id, now());
            cred.principal = Principal::Agent(agent.agent_id.clone());
            cred.agent_id = Some(agent.agent_id.clone());
            let grace = now().plus(chrono::Duration::hours(1));
            store
                .rotate_credential(&agent.agent_id, &cred, grace, now())
                .await
        }));
    }
    let mut rotated = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => rotated += 1,
            Err(StoreError::ConditionFailed("too_many_credentials")) => {}
            Err(other) => panic!("unexpected rotation error: {other:?}"),
        }
    }
    assert_eq!(
        rotated, 1,
        "the first rotation fills the second slot; the rest are refused"
    );
    let stored = app.store.get_agent(&agent.agent_id).await.unwrap().unwrap();
    assert_eq!(stored.active_credential_ids.len(), 2);
    let creds = app
        .store
        .list_credentials_of(
            &Principal::Agent(agent.agent_id.clone()),
            &PageRequest::first(),
        )
        .await
        .unwrap();
    let usable = creds.items.iter().filter(|c| c.is_usable_at(now())).count();
    assert_eq!(usable, 2, "at most two credentials verify");
    assert_eq!(
        creds.items.len(),
        2,
        "a refused rotation stores no credential"
    );
}

#[tokio::test]
async fn a_rotation_applied_twice_is_recognised_not_refused() {
    // A retry of a rotation whose answer was lost finds its own credential in place: the API
    // turns that into a replay rather than "too many credentials".
    let app = spawn_app().await;
    let owner = app.user("govind", &["repo:read"]).await.user_id;
    let (agent, _) = app.agent(&owner).await;
    let (_, mut cred) = new_agent(&owner, now());
    cred.principal = Principal::Agent(agent.agent_id.clone());
    cred.agent_id = Some(agent.agent_id.clone());
    let grace = now().plus(chrono::Duration::hours(1));
    app.store
        .rotate_credential(&agent.agent_id, &cred, grace, now())
        .await
        .unwrap();
    let again = app
        .store
        .rotate_credential(&agent.agent_id, &cred, grace, now())
        .await
        .unwrap_err();
    assert!(
        matches!(again, StoreError::ConditionFailed("credential_exists")),
        "{again:?}"
    );
}
