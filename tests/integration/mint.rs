//! The management API through its handler, against a real table.

use agentid::credential::Token;
use agentid::ids::{AgentId, CredentialId, ServiceAccountId};
use agentid::model::{CredentialStatus, MigrationState, UsageSubject};
use agentid_integration::{http_request, now, spawn_app, test_pepper, As, TestApp};
use serde_json::{json, Value};

const ADMIN: As<'static> = As::Admin("root");

async fn register(app: &TestApp, id: &str, scopes: &[&str]) {
    let (status, body) = app
        .send(
            "PUT",
            &format!("/v1/users/{id}"),
            ADMIN,
            Some(json!({"email": format!("{id}@example.com"), "scopes": scopes})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn create_agent(app: &TestApp, owner: &str, scopes: &[&str]) -> Value {
    let (status, body) = app
        .send(
            "POST",
            "/v1/agents",
            As::User(owner),
            Some(json!({"name": "deploy bot", "scopes": scopes})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

/// Asserts that a request failed with `status`/`code` and left the table as it was.
async fn refused(
    app: &TestApp,
    status: u16,
    expected_code: &str,
    method: &str,
    path: &str,
    caller: As<'_>,
    body: Option<Value>,
) {
    let before = app.dump().await;
    let (got, response) = app.send(method, path, caller, body).await;
    assert_eq!(
        (got, code(&response)),
        (status, expected_code),
        "{method} {path}: {response}"
    );
    assert_eq!(app.dump().await, before, "{method} {path} wrote something");
}

#[tokio::test]
async fn users_register_update_and_refuse_bad_input() {
    let app = spawn_app().await;
    register(&app, "govind", &["repo:read"]).await;
    let (status, body) = app
        .send("PUT", "/v1/users/govind", ADMIN, Some(json!({"email": "Govind@Example.com", "scopes": ["repo:read", "repo:write"], "admin": true})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["user"]["email"], "govind@example.com");
    assert_eq!(body["user"]["scopes"], json!(["repo:read", "repo:write"]));

    refused(
        &app,
        400,
        "invalid_email",
        "PUT",
        "/v1/users/priya",
        ADMIN,
        Some(json!({"email": "nope"})),
    )
    .await;
    refused(
        &app,
        400,
        "invalid_scope",
        "PUT",
        "/v1/users/priya",
        ADMIN,
        Some(json!({"email": "p@example.com", "scopes": ["BAD"]})),
    )
    .await;
    refused(
        &app,
        400,
        "invalid_request",
        "PUT",
        "/v1/users/priya",
        ADMIN,
        Some(json!({"email": "p@example.com", "role": "x"})),
    )
    .await;
    refused(
        &app,
        400,
        "invalid_user_id",
        "PUT",
        "/v1/users/a%23b",
        ADMIN,
        Some(json!({"email": "p@example.com"})),
    )
    .await;
    refused(
        &app,
        403,
        "forbidden",
        "PUT",
        "/v1/users/priya",
        As::User("govind"),
        Some(json!({"email": "p@example.com"})),
    )
    .await;

    let (status, _) = app
        .send(
            "POST",
            "/v1/users/govind/offboard",
            ADMIN,
            Some(json!({"reason": "left"})),
        )
        .await;
    assert_eq!(status, 200);
    refused(
        &app,
        409,
        "user_offboarded",
        "PUT",
        "/v1/users/govind",
        ADMIN,
        Some(json!({"email": "g@example.com"})),
    )
    .await;
    refused(
        &app,
        404,
        "user_not_found",
        "POST",
        "/v1/users/ghost/offboard",
        ADMIN,
        None,
    )
    .await;
}

#[tokio::test]
async fn creating_an_agent_returns_its_secret_once_and_stores_only_a_hash() {
    let app = spawn_app().await;
    register(&app, "govind", &["repo:read", "repo:write"]).await;
    let body = create_agent(&app, "govind", &["repo:read"]).await;
    let secret = body["credential"]["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("agid_ag_"));
    let agent_id = body["agent"]["agentId"].as_str().unwrap();
    assert_eq!(body["agent"]["ownerUserId"], "govind");
    assert_eq!(body["agent"]["scopes"], json!(["repo:read"]));

    let token = Token::parse(&secret).unwrap();
    assert_eq!(
        token.credential_id.as_str(),
        body["credential"]["credentialId"].as_str().unwrap()
    );
    let stored = app
        .store
        .get_credential(&token.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert!(test_pepper().verify_token(&token, &stored.secret_hash));
    let dump = format!("{:?}", app.dump().await);
    assert!(
        !dump.contains(&secret[8..40]),
        "no part of the secret is stored"
    );

    let (status, got) = app
        .send(
            "GET",
            &format!("/v1/agents/{agent_id}"),
            As::User("govind"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(got["agent"]["agentId"], agent_id);
    assert!(
        got.to_string().find("secret").is_none(),
        "reads never carry a secret"
    );
    let (status, _) = app
        .send(
            "GET",
            &format!("/v1/agents/{}", AgentId::generate()),
            As::User("govind"),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn agent_creation_refuses_missing_offboarded_and_over_scoped_owners() {
    let app = spawn_app().await;
    register(&app, "govind", &["repo:read"]).await;
    register(&app, "leaver", &["repo:read"]).await;
    app.send("POST", "/v1/users/leaver/offboard", ADMIN, None)
        .await;
    let body = |owner: &str, scopes: &[&str]| {
        Some(json!({"name": "bot", "ownerUserId": owner, "scopes": scopes}))
    };
    refused(
        &app,
        409,
        "owner_not_active",
        "POST",
        "/v1/agents",
        ADMIN,
        body("ghost", &[]),
    )
    .await;
    refused(
        &app,
        409,
        "owner_not_active",
        "POST",
        "/v1/agents",
        ADMIN,
        body("leaver", &[]),
    )
    .await;
    refused(
        &app,
        422,
        "scope_exceeds_owner",
        "POST",
        "/v1/agents",
        As::User("govind"),
        body("govind", &["repo:read", "repo:admin"]),
    )
    .await;
    refused(
        &app,
        403,
        "forbidden",
        "POST",
        "/v1/agents",
        As::User("govind"),
        body("leaver", &[]),
    )
    .await;
    refused(
        &app,
        401,
        "unauthenticated",
        "POST",
        "/v1/agents",
        As::Nobody,
        body("govind", &[]),
    )
    .await;
    refused(
        &app,
        400,
        "invalid_request",
        "POST",
        "/v1/agents",
        As::User("govind"),
        None,
    )
    .await;
    let (status, created) = app
        .send("POST", "/v1/agents", ADMIN, body("govind", &["repo:read"]))
        .await;
    assert_eq!(status, 201, "an admin may create for an owner: {created}");
}

#[tokio::test]
async fn idempotent_creates_replay_without_the_secret_and_refuse_reuse() {
    let app = spawn_app().await;
    register(&app, "govind", &["repo:read", "repo:write"]).await;
    let body = json!({"name": "bot", "scopes": ["repo:read"]});
    let key = [("idempotency-key", "create-bot-1")];
    let (status, first) = app
        .call(http_request(
            "POST",
            "/v1/agents",
            As::User("govind"),
            Some(&body),
            &key,
        ))
        .await;
    assert_eq!(status, 201);
    assert!(first["credential"]["secret"].is_string());
    let before = app.dump().await;
    let (status, replay) = app
        .call(http_request(
            "POST",
            "/v1/agents",
            As::User("govind"),
            Some(&body),
            &key,
        ))
        .await;
    assert_eq!(status, 200, "{replay}");
    assert_eq!(replay["agent"]["agentId"], first["agent"]["agentId"]);
    assert_eq!(
        replay["credential"]["credentialId"],
        first["credential"]["credentialId"]
    );
    assert!(replay["credential"].get("secret").is_none());
    assert_eq!(replay["credential"]["secretAlreadyReturned"], true);
    assert_eq!(app.dump().await, before, "a replay stores nothing");

    let other = json!({"name": "bot", "scopes": ["repo:write"]});
    let (status, reused) = app
        .call(http_request(
            "POST",
            "/v1/agents",
            As::User("govind"),
            Some(&other),
            &key,
        ))
        .await;
    assert_eq!((status, code(&reused)), (422, "idempotency_key_reused"));
    assert_eq!(app.dump().await, before);
    // The key is the caller's own: another user using the same key creates their own agent.
    register(&app, "priya", &["repo:read"]).await;
    let (status, theirs) = app
        .call(http_request(
            "POST",
            "/v1/agents",
            As::User("priya"),
            Some(&body),
            &key,
        ))
        .await;
    assert_eq!(status, 201);
    assert_ne!(theirs["agent"]["agentId"], first["agent"]["agentId"]);
}

#[tokio::test]
async fn rotation_keeps_at_most_two_credentials_and_expires_the_old_after_its_grace() {
    let app = spawn_app().await;
    register(&app, "govind", &["repo:read"]).await;
    let created = create_agent(&app, "govind", &["repo:read"]).await;
    let agent = created["agent"]["agentId"].as_str().unwrap().to_owned();
    let first =
        CredentialId::parse(created["credential"]["credentialId"].as_str().unwrap()).unwrap();
    let path = format!("/v1/agents/{agent}/credentials");

    let started = now();
    let (status, rotated) = app
        .send(
            "POST",
            &path,
            As::User("govind"),
            Some(json!({"graceSeconds": 3600})),
        )
        .await;
    assert_eq!(status, 201, "{rotated}");
    assert!(rotated["credential"]["secret"]
        .as_str()
        .unwrap()
        .starts_with("agid_ag_"));
    assert_eq!(rotated["expiring"], json!([first.as_str()]));
    let old = app.store.get_credential(&first).await.unwrap().unwrap();
    let expires = old.expires_at.expect("the old credential now expires");
    let delta = expires.as_datetime() - started.as_datetime();
    assert!(
        delta >= chrono::Duration::seconds(3599) && delta <= chrono::Duration::seconds(3700),
        "{delta}"
    );
    assert_eq!(
        old.status,
        CredentialStatus::Active,
        "still usable during its grace"
    );

    refused(
        &app,
        409,
        "too_many_credentials",
        "POST",
        &path,
        As::User("govind"),
        Some(json!({})),
    )
    .await;
    refused(
        &app,
        400,
        "invalid_grace_seconds",
        "POST",
        &path,
        As::User("govind"),
        Some(json!({"graceSeconds": 604_801})),
    )
    .await;
    refused(
        &app,
        403,
        "forbidden",
        "POST",
        &path,
        As::User("priya"),
        Some(json!({})),
    )
    .await;

    // Revoking the one in its grace period frees the slot.
    let (status, _) = app
        .send(
            "DELETE",
            &format!("/v1/credentials/{first}"),
            As::User("govind"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, third) = app
        .send(
            "POST",
            &path,
            As::User("govind"),
            Some(json!({"graceSeconds": 0})),
        )
        .await;
    assert_eq!(status, 201, "{third}");
    let agent = app
        .store
        .get_agent(&AgentId::parse(agent).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(agent.active_credential_ids.len(), 2);
    assert_eq!(
        agent.credential_id.as_str(),
        third["credential"]["credentialId"].as_str().unwrap()
    );
}

#[tokio::test]
async fn idempotent_rotation_replays() {
    let app = spawn_app().await;
    register(&app, "govind", &[]).await;
    let created = create_agent(&app, "govind", &[]).await;
    let path = format!(
        "/v1/agents/{}/credentials",
        created["agent"]["agentId"].as_str().unwrap()
    );
    let key = [("idempotency-key", "rotate-1")];
    let body = json!({"graceSeconds": 60});
    let (status, first) = app
        .call(http_request(
            "POST",
            &path,
            As::User("govind"),
            Some(&body),
            &key,
        ))
        .await;
    assert_eq!(status, 201);
    let (status, replay) = app
        .call(http_request(
            "POST",
            &path,
            As::User("govind"),
            Some(&body),
            &key,
        ))
        .await;
    assert_eq!(status, 200, "{replay}");
    assert_eq!(
        replay["credential"]["credentialId"],
        first["credential"]["credentialId"]
    );
    assert!(replay["credential"].get("secret").is_none());
    let other = json!({"graceSeconds": 61});
    let (status, reused) = app
        .call(http_request(
            "POST",
            &path,
            As::User("govind"),
            Some(&other),
            &key,
        ))
        .await;
    assert_eq!((status, code(&reused)), (422, "idempotency_key_reused"));
}

#[tokio::test]
async fn who_is_responsible_is_one_call_and_two_get_items() {
    let app = spawn_app().await;
    register(&app, "govind", &[]).await;
    let agent = create_agent(&app, "govind", &[]).await["agent"]["agentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let req = http_request(
        "GET",
        &format!("/v1/agents/{agent}/accountable"),
        ADMIN,
        None,
        &[],
    );
    app.requests.take();
    let response = app.mint.handle(req).await;
    assert_eq!(app.requests.take(), ["GetItem", "GetItem"]);
    let body: Value = match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
        _ => panic!("no body"),
    };
    assert_eq!(body["agentId"], agent.as_str());
    assert_eq!(body["ownerUserId"], "govind");
    assert_eq!(body["email"], "govind@example.com");
}

#[tokio::test]
async fn transfer_moves_ownership_but_not_history() {
    let app = spawn_app().await;
    register(&app, "govind", &["repo:read"]).await;
    register(&app, "priya", &["repo:read"]).await;
    register(&app, "narrow", &[]).await;
    let created = create_agent(&app, "govind", &["repo:read"]).await;
    let agent = created["agent"]["agentId"].as_str().unwrap().to_owned();
    let cred =
        CredentialId::parse(created["credential"]["credentialId"].as_str().unwrap()).unwrap();
    let path = format!("/v1/agents/{agent}/transfer");

    refused(
        &app,
        403,
        "forbidden",
        "POST",
        &path,
        As::User("govind"),
        Some(json!({"newOwnerUserId": "priya"})),
    )
    .await;
    refused(
        &app,
        409,
        "owner_not_active",
        "POST",
        &path,
        ADMIN,
        Some(json!({"newOwnerUserId": "ghost"})),
    )
    .await;
    refused(
        &app,
        422,
        "scope_exceeds_owner",
        "POST",
        &path,
        ADMIN,
        Some(json!({"newOwnerUserId": "narrow"})),
    )
    .await;
    refused(
        &app,
        409,
        "same_owner",
        "POST",
        &path,
        ADMIN,
        Some(json!({"newOwnerUserId": "govind"})),
    )
    .await;

    let (status, moved) = app
        .send(
            "POST",
            &path,
            ADMIN,
            Some(json!({"newOwnerUserId": "priya"})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["agent"]["ownerUserId"], "priya");
    let stored = app.store.get_credential(&cred).await.unwrap().unwrap();
    assert_eq!(stored.accountable_principal_id.unwrap().as_str(), "priya");
    let (_, accountable) = app
        .send(
            "GET",
            &format!("/v1/agents/{agent}/accountable"),
            As::User("priya"),
            None,
        )
        .await;
    assert_eq!(accountable["ownerUserId"], "priya");
    let (status, _) = app
        .send(
            "GET",
            &format!("/v1/agents/{agent}"),
            As::User("govind"),
            None,
        )
        .await;
    assert_eq!(status, 403, "the previous owner no longer acts on it");
    let (_, listed) = app
        .send(
            "GET",
            "/v1/agents?ownerUserId=priya",
            As::User("priya"),
            None,
        )
        .await;
    assert_eq!(listed["items"][0]["agentId"], agent.as_str());
    // The transfer itself is audited, attributed to the admin who made it.
    let events = app
        .store
        .query_audit_events(
            &agentid::store::AuditQuery {
                selector: agentid::store::EventSelector::Actor(agentid::model::Actor::user(
                    &agentid::ids::UserId::parse("root").unwrap(),
                )),
                since: None,
                until: None,
            },
            &agentid::store::PageRequest::first(),
        )
        .await
        .unwrap();
    assert!(events
        .items
        .iter()
        .any(|e| e.action.as_str() == "agent.transfer"));
}

#[tokio::test]
async fn revocations_are_idempotent_and_owner_scoped() {
    let app = spawn_app().await;
    register(&app, "govind", &[]).await;
    register(&app, "priya", &[]).await;
    let created = create_agent(&app, "govind", &[]).await;
    let agent = created["agent"]["agentId"].as_str().unwrap().to_owned();
    let cred = created["credential"]["credentialId"]
        .as_str()
        .unwrap()
        .to_owned();
    refused(
        &app,
        403,
        "forbidden",
        "DELETE",
        &format!("/v1/agents/{agent}"),
        As::User("priya"),
        None,
    )
    .await;
    refused(
        &app,
        403,
        "forbidden",
        "DELETE",
        &format!("/v1/credentials/{cred}"),
        As::User("priya"),
        None,
    )
    .await;
    refused(
        &app,
        404,
        "credential_not_found",
        "DELETE",
        &format!("/v1/credentials/{}", CredentialId::generate()),
        As::User("govind"),
        None,
    )
    .await;

    let (status, revoked) = app
        .send(
            "DELETE",
            &format!("/v1/agents/{agent}"),
            As::User("govind"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(revoked["agent"]["status"], "revoked");
    assert_eq!(revoked["agent"]["revokeReason"], "revoked_by_owner");
    assert_eq!(revoked["revokedCredentials"], json!([cred]));
    let before = app.dump().await;
    let (status, again) = app
        .send(
            "DELETE",
            &format!("/v1/agents/{agent}"),
            As::User("govind"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        app.dump().await,
        before,
        "a repeated DELETE changes nothing"
    );
    let (status, _) = app
        .send(
            "POST",
            &format!("/v1/agents/{agent}/credentials"),
            As::User("govind"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 409, "a revoked agent gets no new credential");
}

#[tokio::test]
async fn offboarding_revokes_every_agent_and_audits_each() {
    let app = spawn_app().await;
    register(&app, "leaver", &[]).await;
    let a = create_agent(&app, "leaver", &[]).await;
    let b = create_agent(&app, "leaver", &[]).await;
    let (status, report) = app
        .send(
            "POST",
            "/v1/users/leaver/offboard",
            ADMIN,
            Some(json!({"reason": "left"})),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["revokedAgents"].as_array().unwrap().len(), 2);
    for created in [&a, &b] {
        let id = AgentId::parse(created["agent"]["agentId"].as_str().unwrap()).unwrap();
        let agent = app.store.get_agent(&id).await.unwrap().unwrap();
        assert_eq!(
            agent.revoke_reason,
            Some(agentid::model::RevocationReason::OwnerOffboarded)
        );
    }
    let events = app
        .store
        .query_audit_events(
            &agentid::store::AuditQuery {
                selector: agentid::store::EventSelector::Actor(agentid::model::Actor::user(
                    &agentid::ids::UserId::parse("root").unwrap(),
                )),
                since: None,
                until: None,
            },
            &agentid::store::PageRequest::first(),
        )
        .await
        .unwrap();
    let revokes = events
        .items
        .iter()
        .filter(|e| e.action.as_str() == "agent.revoke")
        .count();
    assert_eq!(revokes, 2, "one audit event per agent revoked");
    // Re-running records nothing new.
    let before = app.dump().await;
    let (status, _) = app
        .send(
            "POST",
            "/v1/users/leaver/offboard",
            ADMIN,
            Some(json!({"reason": "left"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.dump().await.len(), before.len());
}

async fn inventory(
    app: &TestApp,
    id: &str,
    kind: &str,
    reviewed: bool,
    secret: Option<&str>,
) -> Value {
    let mut body = json!({"name": format!("{id} automation"), "kind": kind, "scopes": ["repo:read", "deploy:run"],
        "integrations": [{"kind": "cron", "location": "cron:ops/nightly"}], "integrationsReviewed": reviewed});
    if let Some(secret) = secret {
        body["legacySecret"] = secret.into();
    }
    let (status, response) = app
        .send(
            "PUT",
            &format!("/v1/service-accounts/{id}"),
            ADMIN,
            Some(body),
        )
        .await;
    assert!(status == 201 || status == 200, "{response}");
    response
}

#[tokio::test]
async fn inventory_imports_a_legacy_secret_once_and_hashed() {
    let app = spawn_app().await;
    let secret = "sk_legacy_5f8a2c71e0b94d36";
    let created = inventory(&app, "sa-deploy", "migrate", false, Some(secret)).await;
    assert_eq!(created["serviceAccount"]["migrationState"], "inventoried");
    assert_eq!(created["serviceAccount"]["legacyCredentialImported"], true);
    let sa = app
        .store
        .get_service_account(&ServiceAccountId::parse("sa-deploy").unwrap())
        .await
        .unwrap()
        .unwrap();
    let legacy = app
        .store
        .get_credential(sa.legacy_credential_id.as_ref().unwrap())
        .await
        .unwrap()
        .unwrap();
    let presented = agentid::credential::LegacySecret::parse(secret).unwrap();
    assert!(test_pepper().verify_legacy(&presented, &legacy.secret_hash));
    assert_eq!(
        test_pepper().legacy_credential_id(&presented),
        legacy.credential_id
    );
    assert!(
        !format!("{:?}", app.dump().await).contains(secret),
        "never stored in plaintext"
    );

    let again = inventory(&app, "sa-deploy", "migrate", true, Some(secret)).await;
    assert_eq!(
        again["serviceAccount"]["integrationsReviewed"], true,
        "same secret again: an update"
    );
    refused(
        &app,
        409,
        "legacy_secret_mismatch",
        "PUT",
        "/v1/service-accounts/sa-deploy",
        ADMIN,
        Some(json!({"name": "x", "kind": "migrate", "legacySecret": "sk_legacy_other_value_1"})),
    )
    .await;
    refused(
        &app,
        409,
        "legacy_secret_in_use",
        "PUT",
        "/v1/service-accounts/sa-copy",
        ADMIN,
        Some(json!({"name": "x", "kind": "migrate", "legacySecret": secret})),
    )
    .await;
    refused(
        &app,
        400,
        "invalid_legacy_secret",
        "PUT",
        "/v1/service-accounts/sa-x",
        ADMIN,
        Some(json!({"name": "x", "kind": "migrate", "legacySecret": "short"})),
    )
    .await;
    refused(
        &app,
        400,
        "invalid_request",
        "PUT",
        "/v1/service-accounts/sa-x",
        ADMIN,
        Some(json!({"name": "x", "kind": "robot"})),
    )
    .await;
    refused(
        &app,
        400,
        "invalid_name",
        "PUT",
        "/v1/service-accounts/sa-x",
        ADMIN,
        Some(json!({"name": "x".repeat(129), "kind": "migrate"})),
    )
    .await;
}

#[tokio::test]
async fn migrate_refuses_each_unready_account_and_writes_nothing() {
    let app = spawn_app().await;
    register(&app, "govind", &["repo:read"]).await;
    register(&app, "leaver", &["repo:read"]).await;
    inventory(&app, "billing", "org_owned", true, None).await;
    inventory(&app, "unowned", "migrate", true, None).await;
    inventory(&app, "unreviewed", "migrate", false, None).await;
    inventory(&app, "orphaned", "migrate", true, None).await;
    for (id, owner) in [
        ("unreviewed", "govind"),
        ("orphaned", "leaver"),
        ("billing", "govind"),
    ] {
        let (status, body) = app
            .send(
                "PUT",
                &format!("/v1/service-accounts/{id}/owner"),
                ADMIN,
                Some(json!({"ownerUserId": owner})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    app.send("POST", "/v1/users/leaver/offboard", ADMIN, None)
        .await;
    for (id, status, expected) in [
        ("billing", 409, "org_owned_account"),
        ("unowned", 409, "no_owner"),
        ("unreviewed", 409, "integrations_not_reviewed"),
        ("orphaned", 409, "owner_not_active"),
        ("missing", 404, "service_account_not_found"),
    ] {
        refused(
            &app,
            status,
            expected,
            "POST",
            &format!("/v1/service-accounts/{id}/migrate"),
            ADMIN,
            None,
        )
        .await;
    }
    refused(
        &app,
        400,
        "invalid_dual_write_days",
        "POST",
        "/v1/service-accounts/unowned/migrate",
        ADMIN,
        Some(json!({"dualWriteDays": 0})),
    )
    .await;
    refused(
        &app,
        409,
        "owner_not_active",
        "PUT",
        "/v1/service-accounts/unowned/owner",
        ADMIN,
        Some(json!({"ownerUserId": "ghost"})),
    )
    .await;
}

#[tokio::test]
async fn migrate_issues_a_fresh_credential_to_the_mapped_owner_and_rollback_undoes_it() {
    let app = spawn_app().await;
    register(&app, "lead", &["repo:read"]).await;
    let secret = "sk_legacy_shared_ci_0001";
    inventory(&app, "shared-ci", "migrate", true, Some(secret)).await;
    let (status, owner) = app
        .send("PUT", "/v1/service-accounts/shared-ci/owner", ADMIN, Some(json!({"ownerUserId": "lead", "ownerOfRecord": true, "note": "shared by the platform team"})))
        .await;
    assert_eq!(status, 200, "{owner}");
    assert_eq!(owner["serviceAccount"]["migrationState"], "owner_assigned");

    let started = now();
    let (status, migrated) = app
        .send(
            "POST",
            "/v1/service-accounts/shared-ci/migrate",
            ADMIN,
            Some(json!({"dualWriteDays": 3})),
        )
        .await;
    assert_eq!(status, 201, "{migrated}");
    let new_secret = migrated["credential"]["secret"].as_str().unwrap();
    assert!(
        new_secret.starts_with("agid_ag_") && new_secret != secret,
        "a fresh credential, never the legacy secret"
    );
    assert_eq!(migrated["agent"]["ownerUserId"], "lead");
    assert_eq!(
        migrated["agent"]["scopes"],
        json!(["repo:read"]),
        "the account's scopes, narrowed to the owner's"
    );
    assert_eq!(
        migrated["agent"]["migratedFromServiceAccountId"],
        "shared-ci"
    );
    assert_eq!(migrated["serviceAccount"]["migrationState"], "dual_writing");
    let sa = app
        .store
        .get_service_account(&ServiceAccountId::parse("shared-ci").unwrap())
        .await
        .unwrap()
        .unwrap();
    let until = sa.dual_write_until.unwrap();
    let window = until.as_datetime() - started.as_datetime();
    assert!(
        window >= chrono::Duration::days(3)
            && window < chrono::Duration::days(3) + chrono::Duration::minutes(1)
    );
    let legacy = app
        .store
        .get_credential(sa.legacy_credential_id.as_ref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        legacy.agent_id.as_ref().map(|a| a.as_str()),
        migrated["agent"]["agentId"].as_str()
    );
    assert_eq!(legacy.dual_write_until, Some(until));
    assert_eq!(legacy.accountable_principal_id.unwrap().as_str(), "lead");
    let new_cred = app
        .store
        .get_credential(&Token::parse(new_secret).unwrap().credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        new_cred.legacy_service_account_id.unwrap().as_str(),
        "shared-ci"
    );

    refused(
        &app,
        409,
        "migration_in_progress",
        "POST",
        "/v1/service-accounts/shared-ci/migrate",
        ADMIN,
        None,
    )
    .await;
    refused(
        &app,
        409,
        "migration_in_progress",
        "PUT",
        "/v1/service-accounts/shared-ci/owner",
        ADMIN,
        Some(json!({"ownerUserId": "lead"})),
    )
    .await;

    let (status, status_body) = app
        .send(
            "GET",
            "/v1/service-accounts/shared-ci/migration",
            ADMIN,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(status_body["state"], "dual_writing");
    assert_eq!(status_body["owner"]["ownerOfRecord"], true);
    assert_eq!(
        status_body["legacyCredential"]["dailyUsage"]
            .as_array()
            .unwrap()
            .len(),
        14
    );

    let (status, rolled) = app
        .send(
            "POST",
            "/v1/service-accounts/shared-ci/rollback",
            ADMIN,
            None,
        )
        .await;
    assert_eq!(status, 200, "{rolled}");
    assert_eq!(rolled["serviceAccount"]["migrationState"], "owner_assigned");
    let agent_id = AgentId::parse(migrated["agent"]["agentId"].as_str().unwrap()).unwrap();
    let agent = app.store.get_agent(&agent_id).await.unwrap().unwrap();
    assert_eq!(
        agent.revoke_reason,
        Some(agentid::model::RevocationReason::MigrationRolledBack)
    );
    assert_eq!(
        new_cred_status(&app, new_secret).await,
        CredentialStatus::Revoked
    );
    let legacy = app
        .store
        .get_credential(sa.legacy_credential_id.as_ref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        legacy.agent_id.is_none() && legacy.dual_write_until.is_none(),
        "back to single attribution"
    );
    assert_eq!(
        legacy.status,
        CredentialStatus::Active,
        "the legacy credential keeps working"
    );
    refused(
        &app,
        409,
        "not_migrating",
        "POST",
        "/v1/service-accounts/shared-ci/rollback",
        ADMIN,
        None,
    )
    .await;

    // Once the legacy credential is revoked, there is no way back.
    let (status, _) = app
        .send(
            "POST",
            "/v1/service-accounts/shared-ci/migrate",
            ADMIN,
            None,
        )
        .await;
    assert_eq!(status, 201, "migrating again after a rollback works");
    let mut sa = app
        .store
        .get_service_account(&ServiceAccountId::parse("shared-ci").unwrap())
        .await
        .unwrap()
        .unwrap();
    let seen = sa.updated_at;
    sa.migration_state = MigrationState::Revoked;
    sa.updated_at = now();
    app.store
        .put_service_account(&sa, agentid::store::Expect::UpdatedAt(seen))
        .await
        .unwrap();
    refused(
        &app,
        409,
        "already_revoked",
        "POST",
        "/v1/service-accounts/shared-ci/rollback",
        ADMIN,
        None,
    )
    .await;
    refused(
        &app,
        409,
        "already_revoked",
        "POST",
        "/v1/service-accounts/shared-ci/migrate",
        ADMIN,
        None,
    )
    .await;
}

async fn new_cred_status(app: &TestApp, secret: &str) -> CredentialStatus {
    app.store
        .get_credential(&Token::parse(secret).unwrap().credential_id)
        .await
        .unwrap()
        .unwrap()
        .status
}

#[tokio::test]
async fn migration_status_shows_the_legacy_credentials_daily_use() {
    let app = spawn_app().await;
    inventory(
        &app,
        "sa-7",
        "migrate",
        true,
        Some("sk_legacy_sa7_000000001"),
    )
    .await;
    let sa = app
        .store
        .get_service_account(&ServiceAccountId::parse("sa-7").unwrap())
        .await
        .unwrap()
        .unwrap();
    let subject = UsageSubject::Credential(sa.legacy_credential_id.clone().unwrap());
    let today = now();
    app.store.increment_usage(&subject, 5, today).await.unwrap();
    let (status, body) = app
        .send("GET", "/v1/service-accounts/sa-7/migration", ADMIN, None)
        .await;
    assert_eq!(status, 200);
    let daily = body["legacyCredential"]["dailyUsage"].as_array().unwrap();
    assert_eq!(daily.last().unwrap()["count"], 5);
    assert_eq!(
        daily
            .iter()
            .map(|d| d["count"].as_u64().unwrap())
            .sum::<u64>(),
        5
    );
    assert_eq!(body["legacyCredential"]["lastUsedAt"], today.to_string());
}

#[tokio::test]
async fn no_response_carries_a_hash_and_no_row_carries_a_secret() {
    let app = spawn_app().await;
    register(&app, "govind", &["repo:read"]).await;
    let created = create_agent(&app, "govind", &["repo:read"]).await;
    let agent = created["agent"]["agentId"].as_str().unwrap().to_owned();
    let mut secrets = vec![created["credential"]["secret"].as_str().unwrap().to_owned()];
    let (_, rotated) = app
        .send(
            "POST",
            &format!("/v1/agents/{agent}/credentials"),
            As::User("govind"),
            Some(json!({"graceSeconds": 60})),
        )
        .await;
    secrets.push(rotated["credential"]["secret"].as_str().unwrap().to_owned());
    let legacy = "sk_legacy_hygiene_check_01";
    inventory(&app, "sa-hygiene", "migrate", true, Some(legacy)).await;
    app.send(
        "PUT",
        "/v1/service-accounts/sa-hygiene/owner",
        ADMIN,
        Some(json!({"ownerUserId": "govind"})),
    )
    .await;
    let (_, migrated) = app
        .send(
            "POST",
            "/v1/service-accounts/sa-hygiene/migrate",
            ADMIN,
            None,
        )
        .await;
    secrets.push(
        migrated["credential"]["secret"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    secrets.push(legacy.to_owned());

    let hashes: Vec<String> = app
        .dump()
        .await
        .iter()
        .filter_map(|item| item.get("secretHash").and_then(|v| v.as_s().ok()).cloned())
        .collect();
    assert_eq!(hashes.len(), 4);
    let mut responses = vec![
        created.to_string(),
        rotated.to_string(),
        migrated.to_string(),
    ];
    for (method, path) in [
        ("GET", format!("/v1/agents/{agent}")),
        ("GET", "/v1/agents?ownerUserId=govind".to_owned()),
        ("GET", format!("/v1/agents/{agent}/accountable")),
        (
            "GET",
            "/v1/service-accounts/sa-hygiene/migration".to_owned(),
        ),
        ("GET", "/v1/migration".to_owned()),
        ("PUT", "/v1/service-accounts/sa-hygiene".to_owned()),
    ] {
        let body = (method == "PUT").then(
            || json!({"name": "sa-hygiene", "kind": "migrate", "integrationsReviewed": true}),
        );
        let (_, response) = app.send(method, &path, ADMIN, body).await;
        responses.push(response.to_string());
    }
    for response in &responses {
        assert!(!response.contains("secretHash"), "{response}");
        for hash in &hashes {
            assert!(
                !response.contains(hash.as_str()),
                "a hash leaked into {response}"
            );
        }
    }
    let table = format!("{:?}", app.dump().await);
    for secret in &secrets {
        // Any 24 characters of a secret would be a leak.
        let probe = &secret[secret.len() - 24..];
        assert!(!table.contains(probe), "a secret is stored in the table");
    }
}
