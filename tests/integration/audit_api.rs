//! The authorizer and the audit API end to end: verification, the dual-attribution matrix,
//! idempotent retries, batches, the seed's two questions, and the audit write failing closed.

use agentid::credential::{Token, TokenKind};
use agentid::model::{RevocationReason, UsageSubject};
use agentid::time::Timestamp;
use agentid_integration::{audit_request, now, spawn_app, text, As, TestApp};
use serde_json::{json, Value};

const ADMIN: As<'static> = As::Admin("root");

async fn ok(app: &TestApp, method: &str, path: &str, body: Value) -> Value {
    let (status, response) = app.send(method, path, ADMIN, Some(body)).await;
    assert!((200..300).contains(&status), "{method} {path}: {response}");
    response
}

fn event_body(request_id: &str) -> Value {
    json!({
        "action": "deploy.start",
        "resource": "repo:acme/api",
        "outcome": "success",
        "requestId": request_id,
        "occurredAt": now().to_string(),
        "details": {"commit": "9c1e2f0"}
    })
}

/// Records one event with the attribution of `secret` verified at `at`.
async fn record_as(app: &TestApp, secret: &str, at: Timestamp, body: &Value) -> (u16, Value) {
    let attribution = app
        .authorizer
        .verify(secret, at)
        .await
        .unwrap()
        .expect("authorized");
    app.call_audit(audit_request(
        "POST",
        "/v1/audit-events",
        &attribution,
        Some(body),
    ))
    .await
}

/// An org with every kind of credential the matrix needs.
struct Org {
    plain_agent: String,
    migrated_agent_secret: String,
    migrated_agent_id: String,
    legacy_migrating: String,
    legacy_org_owned_mapped: String,
    legacy_org_owned_unmapped: String,
}

async fn org(app: &TestApp) -> Org {
    for (user, scopes) in [
        ("govind", json!(["repo:read", "deploy:run"])),
        ("lead", json!(["billing:read"])),
    ] {
        ok(
            app,
            "PUT",
            &format!("/v1/users/{user}"),
            json!({"email": format!("{user}@example.com"), "scopes": scopes}),
        )
        .await;
    }
    let plain = ok(
        app,
        "POST",
        "/v1/agents",
        json!({"name": "notebook agent", "ownerUserId": "govind", "scopes": ["repo:read"]}),
    )
    .await;
    let legacy_migrating = "sk_legacy_deploy_0000000001".to_owned();
    ok(app, "PUT", "/v1/service-accounts/sa-deploy", json!({"name": "deploy", "kind": "migrate", "scopes": ["deploy:run"], "integrationsReviewed": true, "legacySecret": legacy_migrating})).await;
    ok(
        app,
        "PUT",
        "/v1/service-accounts/sa-deploy/owner",
        json!({"ownerUserId": "govind"}),
    )
    .await;
    let migrated = ok(
        app,
        "POST",
        "/v1/service-accounts/sa-deploy/migrate",
        json!({"dualWriteDays": 7}),
    )
    .await;
    let mapped = "sk_legacy_billing_000000001".to_owned();
    ok(
        app,
        "PUT",
        "/v1/service-accounts/billing",
        json!({"name": "billing batch", "kind": "org_owned", "legacySecret": mapped}),
    )
    .await;
    ok(
        app,
        "PUT",
        "/v1/service-accounts/billing/owner",
        json!({"ownerUserId": "lead", "ownerOfRecord": true}),
    )
    .await;
    let unmapped = "sk_legacy_cleanup_000000001".to_owned();
    ok(
        app,
        "PUT",
        "/v1/service-accounts/nightly-cleanup",
        json!({"name": "nightly cleanup", "kind": "org_owned", "legacySecret": unmapped}),
    )
    .await;
    Org {
        plain_agent: plain["credential"]["secret"].as_str().unwrap().to_owned(),
        migrated_agent_secret: migrated["credential"]["secret"]
            .as_str()
            .unwrap()
            .to_owned(),
        migrated_agent_id: migrated["agent"]["agentId"].as_str().unwrap().to_owned(),
        legacy_migrating,
        legacy_org_owned_mapped: mapped,
        legacy_org_owned_unmapped: unmapped,
    }
}

fn attribution(event: &Value) -> [Option<&str>; 5] {
    let e = &event["event"];
    [
        e["actorType"].as_str(),
        e["actorId"].as_str(),
        e["accountablePrincipalId"].as_str(),
        e["agentId"].as_str(),
        e["legacyServiceAccountId"].as_str(),
    ]
}

#[tokio::test]
async fn the_dual_attribution_matrix() {
    let app = spawn_app().await;
    let org = org(&app).await;
    let agent = org.migrated_agent_id.as_str();
    let plain_id = Token::parse(&org.plain_agent).unwrap();
    let plain_agent = app
        .store
        .get_credential(&plain_id.credential_id)
        .await
        .unwrap()
        .unwrap()
        .agent_id
        .unwrap();
    let after_window = now().plus(chrono::Duration::days(8));

    // agent credential, inside its dual-write window: both identities.
    let (status, inside) =
        record_as(&app, &org.migrated_agent_secret, now(), &event_body("r1")).await;
    assert_eq!(status, 201, "{inside}");
    assert_eq!(
        attribution(&inside),
        [
            Some("agent"),
            Some(agent),
            Some("govind"),
            Some(agent),
            Some("sa-deploy")
        ]
    );
    assert!(
        inside["event"]["credentialId"].is_string() && inside["event"]["receivedAt"].is_string()
    );

    // agent credential, after the window: the agent only.
    let (_, after) = record_as(
        &app,
        &org.migrated_agent_secret,
        after_window,
        &event_body("r2"),
    )
    .await;
    assert_eq!(
        attribution(&after),
        [
            Some("agent"),
            Some(agent),
            Some("govind"),
            Some(agent),
            None
        ]
    );

    // agent credential, never migrated: the agent only.
    let (_, never) = record_as(&app, &org.plain_agent, now(), &event_body("r3")).await;
    assert_eq!(
        attribution(&never),
        [
            Some("agent"),
            Some(plain_agent.as_str()),
            Some("govind"),
            Some(plain_agent.as_str()),
            None
        ]
    );

    // legacy credential, migration open: the account, its mapped owner, the new agent.
    let (_, legacy) = record_as(&app, &org.legacy_migrating, now(), &event_body("r4")).await;
    assert_eq!(
        attribution(&legacy),
        [
            Some("service_account"),
            Some("sa-deploy"),
            Some("govind"),
            Some(agent),
            Some("sa-deploy")
        ]
    );

    // legacy credential, not migrated (org-owned): owner of record if mapped, else nobody.
    let (_, billing) =
        record_as(&app, &org.legacy_org_owned_mapped, now(), &event_body("r5")).await;
    assert_eq!(
        attribution(&billing),
        [
            Some("service_account"),
            Some("billing"),
            Some("lead"),
            None,
            None
        ]
    );
    let (_, cleanup) = record_as(
        &app,
        &org.legacy_org_owned_unmapped,
        now(),
        &event_body("r6"),
    )
    .await;
    assert_eq!(
        attribution(&cleanup),
        [
            Some("service_account"),
            Some("nightly-cleanup"),
            None,
            None,
            None
        ]
    );

    // One event is one item; the legacy-account index entry exists only for the dual-written one.
    let items = app.dump().await;
    let events: Vec<_> = items
        .iter()
        .filter(|i| {
            i["type"].as_s().unwrap() == "audit_event" && i["actorType"].as_s().unwrap() != "user"
        })
        .collect();
    assert_eq!(events.len(), 6);
    let dual: Vec<_> = events.iter().filter(|i| i.contains_key("GSI2PK")).collect();
    assert_eq!(dual.len(), 1);
    assert_eq!(dual[0]["requestId"].as_s().unwrap(), "r1");

    // The account's history: its own (legacy) events and the dual-written ones, once each.
    let (status, history) = app
        .query_audit("/v1/audit-events?serviceAccountId=sa-deploy", ADMIN)
        .await;
    assert_eq!(status, 200, "{history}");
    let ids: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["requestId"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, ["r1", "r4"]);
}

#[tokio::test]
async fn the_authorizer_denies_everything_it_should_with_one_get_item_at_most() {
    let app = spawn_app().await;
    let org = org(&app).await;
    let check = |secret: String,
                 at: Timestamp,
                 expect_ok: bool,
                 expect_requests: &'static [&'static str]| {
        let app = &app;
        async move {
            app.requests.take();
            let result = app.authorizer.verify(&secret, at).await.unwrap();
            assert_eq!(result.is_ok(), expect_ok, "{result:?}");
            assert_eq!(app.requests.take(), expect_requests);
        }
    };
    check(org.plain_agent.clone(), now(), true, &["GetItem"]).await;
    check(
        org.legacy_org_owned_mapped.clone(),
        now(),
        true,
        &["GetItem"],
    )
    .await;
    // Malformed: no request at all.
    let mut bad = org.plain_agent.clone();
    bad.replace_range(20..21, if &bad[20..21] == "A" { "B" } else { "A" });
    check(bad, now(), false, &[]).await;
    check("short".into(), now(), false, &[]).await;
    // Unknown credential, and a right id with the wrong secret.
    check(
        Token::generate(TokenKind::Agent)
            .unwrap()
            .reveal()
            .expose()
            .to_owned(),
        now(),
        false,
        &["GetItem"],
    )
    .await;
    let id = Token::parse(&org.plain_agent).unwrap().credential_id;
    let forged = Token::generate_with_id(TokenKind::Agent, id.clone()).unwrap();
    check(
        forged.reveal().expose().to_owned(),
        now(),
        false,
        &["GetItem"],
    )
    .await;
    check(
        "sk_legacy_never_imported_1".into(),
        now(),
        false,
        &["GetItem"],
    )
    .await;

    // Expired after a rotation's grace; revoked; the owner offboarded; the legacy account revoked.
    let agent = app
        .store
        .get_credential(&id)
        .await
        .unwrap()
        .unwrap()
        .agent_id
        .unwrap();
    let (status, rotated) = app
        .send(
            "POST",
            &format!("/v1/agents/{agent}/credentials"),
            As::User("govind"),
            Some(json!({"graceSeconds": 60})),
        )
        .await;
    assert_eq!(status, 201);
    check(org.plain_agent.clone(), now(), true, &["GetItem"]).await;
    check(
        org.plain_agent.clone(),
        now().plus(chrono::Duration::seconds(61)),
        false,
        &["GetItem"],
    )
    .await;
    let new_secret = rotated["credential"]["secret"].as_str().unwrap().to_owned();
    check(new_secret.clone(), now(), true, &["GetItem"]).await;
    let (status, _) = app
        .send(
            "DELETE",
            &format!(
                "/v1/credentials/{}",
                rotated["credential"]["credentialId"].as_str().unwrap()
            ),
            As::User("govind"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    check(new_secret, now(), false, &["GetItem"]).await;

    check(org.migrated_agent_secret.clone(), now(), true, &["GetItem"]).await;
    app.send(
        "POST",
        "/v1/users/govind/offboard",
        ADMIN,
        Some(json!({"reason": "left"})),
    )
    .await;
    check(
        org.migrated_agent_secret.clone(),
        now(),
        false,
        &["GetItem"],
    )
    .await;

    let legacy_id = agentid::credential::LegacySecret::parse(&org.legacy_org_owned_mapped).unwrap();
    let legacy_id = agentid_integration::test_pepper().legacy_credential_id(&legacy_id);
    app.store
        .revoke_credential(&legacy_id, RevocationReason::LegacyQuiet, now())
        .await
        .unwrap();
    check(
        org.legacy_org_owned_mapped.clone(),
        now(),
        false,
        &["GetItem"],
    )
    .await;
}

#[tokio::test]
async fn retries_are_stored_once_and_a_reused_request_id_is_refused() {
    let app = spawn_app().await;
    let org = org(&app).await;
    let body = event_body("retry-1");
    let attribution = app.verify(&org.plain_agent).await;
    app.requests.take();
    let (status, first) = app
        .call_audit(audit_request(
            "POST",
            "/v1/audit-events",
            &attribution,
            Some(&body),
        ))
        .await;
    assert_eq!(status, 201);
    assert_eq!(app.requests.take(), ["PutItem"], "an event is one PutItem");
    let before = app.dump().await;
    let (status, replay) = app
        .call_audit(audit_request(
            "POST",
            "/v1/audit-events",
            &attribution,
            Some(&body),
        ))
        .await;
    assert_eq!(status, 200, "{replay}");
    assert_eq!(replay["replayed"], true);
    assert_eq!(replay["event"], first["event"], "the event as first stored");
    assert_eq!(app.dump().await, before, "nothing new stored");

    let mut other = body.clone();
    other["action"] = "deploy.rollback".into();
    let (status, reused) = app
        .call_audit(audit_request(
            "POST",
            "/v1/audit-events",
            &attribution,
            Some(&other),
        ))
        .await;
    assert_eq!(
        (status, reused["error"]["code"].as_str()),
        (409, Some("request_id_reused"))
    );
    assert_eq!(app.dump().await, before);
}

#[tokio::test]
async fn batches_write_once_and_replay_without_rewriting() {
    let app = spawn_app().await;
    let org = org(&app).await;
    let attribution = app.verify(&org.migrated_agent_secret).await;
    let events: Vec<Value> = (0..25).map(|i| event_body(&format!("b-{i}"))).collect();
    let body = json!({"events": events});
    app.requests.take();
    let (status, first) = app
        .call_audit(audit_request(
            "POST",
            "/v1/audit-events/batch",
            &attribution,
            Some(&body),
        ))
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["events"].as_array().unwrap().len(), 25);
    assert_eq!(app.requests.take(), ["BatchGetItem", "BatchWriteItem"]);
    let before = app.dump().await;
    let (status, replay) = app
        .call_audit(audit_request(
            "POST",
            "/v1/audit-events/batch",
            &attribution,
            Some(&body),
        ))
        .await;
    assert_eq!(status, 200);
    assert!(replay["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["replayed"] == true));
    assert_eq!(
        app.dump().await,
        before,
        "a replayed batch rewrites nothing"
    );

    let mut too_many = events.clone();
    too_many.push(event_body("b-25"));
    let (status, body) = app
        .call_audit(audit_request(
            "POST",
            "/v1/audit-events/batch",
            &attribution,
            Some(&json!({"events": too_many})),
        ))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_batch_size"))
    );
    let mut bad = events[..2].to_vec();
    bad[1]["outcome"] = "perhaps".into();
    let (status, body) = app
        .call_audit(audit_request(
            "POST",
            "/v1/audit-events/batch",
            &attribution,
            Some(&json!({"events": bad})),
        ))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_outcome"))
    );
    assert_eq!(app.dump().await, before, "a bad batch writes nothing");
}

#[tokio::test]
async fn the_seed_questions_are_one_call_each() {
    let app = spawn_app().await;
    let org = org(&app).await;
    let attribution = app.verify(&org.plain_agent).await;
    for i in 0..3 {
        let (status, _) = app
            .call_audit(audit_request(
                "POST",
                "/v1/audit-events",
                &attribution,
                Some(&event_body(&format!("q-{i}"))),
            ))
            .await;
        assert_eq!(status, 201);
    }
    // "What did Govind's agents do this week": one API call; one Query per shard of his
    // events, sent at once.
    app.requests.take();
    let req = agentid_integration::http_request(
        "GET",
        "/v1/audit-events?accountablePrincipalId=govind&since=7d",
        As::User("govind"),
        None,
        &[],
    );
    let response = app.audit.handle(req).await;
    assert_eq!(
        app.requests.take(),
        vec!["Query"; agentid::keys::ACCOUNTABLE_SHARDS as usize]
    );
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
        _ => panic!(),
    };
    let agent_events: Vec<&Value> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actorType"] == "agent")
        .collect();
    assert_eq!(agent_events.len(), 3);
    let times: Vec<&str> = agent_events
        .iter()
        .map(|e| e["occurredAt"].as_str().unwrap())
        .collect();
    let mut newest_first = times.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, newest_first);
    // Another user may not ask about govind; an admin may.
    let (status, _) = app
        .query_audit(
            "/v1/audit-events?accountablePrincipalId=govind",
            As::User("lead"),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .query_audit("/v1/audit-events?accountablePrincipalId=govind", ADMIN)
        .await;
    assert_eq!(status, 200);
    // By actor: the owner, yes; someone else, no.
    let agent = attribution.agent_id.unwrap();
    let (status, by_actor) = app
        .query_audit(
            &format!("/v1/audit-events?actorId={agent}&limit=2"),
            As::User("govind"),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(by_actor["items"].as_array().unwrap().len(), 2);
    let next = by_actor["nextToken"].as_str().unwrap();
    let (_, rest) = app
        .query_audit(
            &format!("/v1/audit-events?actorId={agent}&limit=2&nextToken={next}"),
            As::User("govind"),
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    let (status, _) = app
        .query_audit(
            &format!("/v1/audit-events?actorId={agent}"),
            As::User("lead"),
        )
        .await;
    assert_eq!(status, 403);
    let (status, bad) = app
        .query_audit(
            &format!("/v1/audit-events?actorId={agent}&nextToken=bm9wZQ"),
            As::User("govind"),
        )
        .await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("invalid_next_token"))
    );
    let (status, bad) = app
        .query_audit(
            "/v1/audit-events?accountablePrincipalId=govind&actorId=x",
            As::User("govind"),
        )
        .await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );
    let _ = UsageSubject::Credential(attribution.credential_id);
}

#[tokio::test]
async fn an_accounts_history_pages_across_both_eras_without_repeats() {
    let app = spawn_app().await;
    let org = org(&app).await;
    let legacy = app.verify(&org.legacy_migrating).await;
    let agent = app.verify(&org.migrated_agent_secret).await;
    let mut written = Vec::new();
    for i in 0..7 {
        let who = if i % 2 == 0 { &legacy } else { &agent };
        let body = event_body(&format!("h-{i}"));
        let (status, _) = app
            .call_audit(audit_request("POST", "/v1/audit-events", who, Some(&body)))
            .await;
        assert_eq!(status, 201);
        written.push(format!("h-{i}"));
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let mut seen = Vec::new();
    let mut path = "/v1/audit-events?serviceAccountId=sa-deploy&limit=3".to_owned();
    for _ in 0..10 {
        let (status, page) = app.query_audit(&path, ADMIN).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|e| e["requestId"].as_str().unwrap().to_owned()),
        );
        match page["nextToken"].as_str() {
            Some(next) => {
                path =
                    format!("/v1/audit-events?serviceAccountId=sa-deploy&limit=3&nextToken={next}")
            }
            None => break,
        }
    }
    written.reverse();
    assert_eq!(
        seen, written,
        "every event once, newest first, across pages and sources"
    );
    // The mapped owner may read the account's history; another user may not.
    let (status, _) = app
        .query_audit(
            "/v1/audit-events?serviceAccountId=sa-deploy",
            As::User("govind"),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .query_audit(
            "/v1/audit-events?serviceAccountId=sa-deploy",
            As::User("lead"),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_busy_owners_events_spread_over_every_shard_and_still_list_in_one_call() {
    let app = spawn_app().await;
    let first = app.owner_with_agent("govind", &["repo:read"]).await;
    let mut secrets = vec![first["credential"]["secret"].as_str().unwrap().to_owned()];
    for _ in 0..2 {
        let (status, created) = app
            .send(
                "POST",
                "/v1/agents",
                As::User("govind"),
                Some(json!({"name": "bot", "scopes": ["repo:read"]})),
            )
            .await;
        assert_eq!(status, 201);
        secrets.push(created["credential"]["secret"].as_str().unwrap().to_owned());
    }
    let start = now();
    for (a, secret) in secrets.iter().enumerate() {
        let attribution = app.verify(secret).await;
        for i in 0..20 {
            let mut body = event_body(&format!("busy-{a}-{i}"));
            // Some events of different agents share a millisecond.
            let offset = chrono::Duration::milliseconds(i64::from(i) * 7 + (a as i64 % 2));
            body["occurredAt"] = start.minus(offset).to_string().into();
            let (status, stored) = app
                .call_audit(audit_request(
                    "POST",
                    "/v1/audit-events",
                    &attribution,
                    Some(&body),
                ))
                .await;
            assert_eq!(status, 201, "{stored}");
        }
    }
    let partitions: std::collections::BTreeSet<String> = app
        .dump()
        .await
        .iter()
        .filter(|item| text(item, "type") == "audit_event" && text(item, "actorType") == "agent")
        .map(|item| text(item, "GSI1PK").to_owned())
        .collect();
    assert_eq!(
        partitions,
        agentid::keys::all_events_accountable_to(&agentid::ids::UserId::parse("govind").unwrap())
            .into_iter()
            .collect(),
        "60 events land in every shard"
    );

    // Page through: each page is one API call fanning out to at most one Query per shard.
    // (His own management actions are listed with his agents' events.)
    let mut listed: Vec<(String, String)> = Vec::new();
    let mut agent_events = 0;
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &next {
            None => "/v1/audit-events?accountablePrincipalId=govind&limit=7".to_owned(),
            Some(token) => {
                format!("/v1/audit-events?accountablePrincipalId=govind&limit=7&nextToken={token}")
            }
        };
        app.requests.take();
        let (status, page) = app.query_audit(&path, As::User("govind")).await;
        assert_eq!(status, 200, "{page}");
        let sent = app.requests.take();
        assert!(
            !sent.is_empty() && sent.iter().all(|op| op == "Query"),
            "{sent:?}"
        );
        let items = page["items"].as_array().unwrap();
        if page["nextToken"].is_string() {
            assert_eq!(items.len(), 7, "every page but the last is full: {page}");
        } else {
            // The last page may be short, or even empty when the page before ended exactly
            // where the events did.
            assert!(items.len() <= 7, "{page}");
        }
        agent_events += items.iter().filter(|e| e["actorType"] == "agent").count();
        listed.extend(items.iter().map(|e| {
            (
                e["occurredAt"].as_str().unwrap().to_owned(),
                e["eventId"].as_str().unwrap().to_owned(),
            )
        }));
        pages += 1;
        match page["nextToken"].as_str() {
            Some(token) => next = Some(token.to_owned()),
            None => break,
        }
        assert!(pages < 60, "paging must end");
    }
    assert_eq!(agent_events, 60, "every agent event once");
    let mut newest_first = listed.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    newest_first.dedup();
    assert_eq!(
        listed, newest_first,
        "newest first, across shards, no repeats"
    );

    // A time window over the shards: exactly the events inside it.
    let since = start.minus(chrono::Duration::milliseconds(70));
    let (status, window) = app
        .query_audit(
            &format!(
                "/v1/audit-events?accountablePrincipalId=govind&since={since}&until={start}&limit=100"
            ),
            As::User("govind"),
        )
        .await;
    assert_eq!(status, 200);
    let expected = listed
        .iter()
        .filter(|(at, _)| at.as_str() >= since.to_string().as_str())
        .count();
    assert_eq!(window["items"].as_array().unwrap().len(), expected);
    assert!(window["nextToken"].is_null());
}
