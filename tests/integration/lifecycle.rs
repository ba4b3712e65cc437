//! Steps 5 and 6 over time: usage counted exactly from the stream, and sweeps run at chosen
//! dates that close windows, revoke quiet legacy credentials, purge after the buffer, and leave
//! org-owned automation alone.

use std::collections::HashMap;

use agentid::api::authorizer::Attribution;
use agentid::ids::ServiceAccountId;
use agentid::model::{CredentialStatus, MigrationState, UsageSubject};
use agentid::sweep::{Sweep, SweepConfig};
use agentid::time::Timestamp;
use agentid::usage::Aggregator;
use agentid_integration::{event_by, now, spawn_app, stream_batch, test_pepper, As, TestApp};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Duration;
use serde_json::{json, Value};

const ADMIN: As<'static> = As::Admin("root");
type Item = HashMap<String, AttributeValue>;

async fn ok(app: &TestApp, method: &str, path: &str, body: Value) -> Value {
    let (status, response) = app.send(method, path, ADMIN, Some(body)).await;
    assert!((200..300).contains(&status), "{method} {path}: {response}");
    response
}

fn day(t0: Timestamp, n: i64) -> Timestamp {
    t0.plus(Duration::days(n))
}

struct Migrated {
    legacy_secret: String,
    agent_secret: String,
    agent_id: String,
    t0: Timestamp,
}

/// An account migrated now ("day 0") with a 7-day window.
async fn migrate(app: &TestApp, id: &str, legacy_secret: &str) -> Migrated {
    ok(
        app,
        "PUT",
        "/v1/users/govind",
        json!({"email": "govind@example.com", "scopes": ["deploy:run"]}),
    )
    .await;
    ok(app, "PUT", &format!("/v1/service-accounts/{id}"), json!({"name": id, "kind": "migrate", "scopes": ["deploy:run"], "integrationsReviewed": true, "legacySecret": legacy_secret})).await;
    ok(
        app,
        "PUT",
        &format!("/v1/service-accounts/{id}/owner"),
        json!({"ownerUserId": "govind"}),
    )
    .await;
    let t0 = now();
    let migrated = ok(
        app,
        "POST",
        &format!("/v1/service-accounts/{id}/migrate"),
        json!({"dualWriteDays": 7}),
    )
    .await;
    Migrated {
        legacy_secret: legacy_secret.to_owned(),
        agent_secret: migrated["credential"]["secret"]
            .as_str()
            .unwrap()
            .to_owned(),
        agent_id: migrated["agent"]["agentId"].as_str().unwrap().to_owned(),
        t0,
    }
}

/// Records an action by the holder of `secret` at `at` (verified at that time, as the
/// authorizer would), and returns the stored item as the stream would carry it.
async fn act(app: &TestApp, secret: &str, at: Timestamp, request: &str) -> Item {
    let attribution: Attribution = app
        .authorizer
        .verify(secret, at)
        .await
        .unwrap()
        .expect("authorized");
    let event = event_by(&attribution, request, at);
    app.store.put_audit_event(&event).await.unwrap();
    let key = agentid::keys::audit_event(&event.actor, event.occurred_at, &event.event_id);
    app.raw_item(&key.pk, &key.sk).await.unwrap()
}

fn sweep(app: &TestApp) -> Sweep {
    Sweep::new(app.store.clone(), SweepConfig::default())
}

async fn state(app: &TestApp, id: &str) -> Option<MigrationState> {
    app.store
        .get_service_account(&ServiceAccountId::parse(id).unwrap())
        .await
        .unwrap()
        .map(|sa| sa.migration_state)
}

#[tokio::test]
async fn the_whole_timeline_from_migration_to_purge() {
    let app = spawn_app().await;
    let aggregator = Aggregator::new(app.store.clone());
    // Pre-migration era: the service account acting before anything changed.
    ok(
        &app,
        "PUT",
        "/v1/users/govind",
        json!({"email": "govind@example.com", "scopes": ["deploy:run"]}),
    )
    .await;
    ok(&app, "PUT", "/v1/service-accounts/sa-7", json!({"name": "sa-7", "kind": "migrate", "scopes": ["deploy:run"], "integrationsReviewed": true, "legacySecret": "sk_legacy_sa7_timeline_01"})).await;
    let before = now().minus(Duration::hours(1));
    let pre = act(&app, "sk_legacy_sa7_timeline_01", before, "pre-migration").await;
    ok(
        &app,
        "PUT",
        "/v1/service-accounts/sa-7/owner",
        json!({"ownerUserId": "govind"}),
    )
    .await;
    let t0 = now();
    let migrated = ok(
        &app,
        "POST",
        "/v1/service-accounts/sa-7/migrate",
        json!({"dualWriteDays": 7}),
    )
    .await;
    let agent_secret = migrated["credential"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let agent_id = migrated["agent"]["agentId"].as_str().unwrap().to_owned();

    // Legacy traffic on days 0-2, only the new credential from day 3.
    let mut items = vec![pre];
    for d in 0..3 {
        items.push(
            act(
                &app,
                "sk_legacy_sa7_timeline_01",
                day(t0, d),
                &format!("legacy-{d}"),
            )
            .await,
        );
    }
    for d in 3..8 {
        items.push(act(&app, &agent_secret, day(t0, d), &format!("agent-{d}")).await);
    }
    let (response, report) = aggregator.handle(stream_batch(&items, 1)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(report.events, 9);

    let report = sweep(&app).run(day(t0, 5), false).await.unwrap();
    assert!(
        report.revoked_legacy.is_empty() && report.dual_write_ended.is_empty(),
        "{report:?}"
    );
    assert_eq!(state(&app, "sa-7").await, Some(MigrationState::DualWriting));

    let report = sweep(&app).run(day(t0, 8), false).await.unwrap();
    assert_eq!(
        report.dual_write_ended,
        [ServiceAccountId::parse("sa-7").unwrap()]
    );
    assert_eq!(
        report.revoked_legacy,
        [ServiceAccountId::parse("sa-7").unwrap()],
        "{report:?}"
    );
    assert_eq!(state(&app, "sa-7").await, Some(MigrationState::Revoked));
    let denied = app
        .authorizer
        .verify("sk_legacy_sa7_timeline_01", day(t0, 8))
        .await
        .unwrap();
    assert!(
        denied.is_err(),
        "the legacy credential is denied once revoked"
    );
    assert!(app
        .authorizer
        .verify(&agent_secret, day(t0, 8))
        .await
        .unwrap()
        .is_ok());
    let again = sweep(&app).run(day(t0, 8), false).await.unwrap();
    assert!(
        again.revoked_legacy.is_empty() && again.dual_write_ended.is_empty(),
        "re-running does nothing new"
    );

    let report = sweep(&app).run(day(t0, 14), false).await.unwrap();
    assert!(report.purged.is_empty(), "the buffer is still running");
    let report = sweep(&app).run(day(t0, 15), false).await.unwrap();
    assert_eq!(report.purged, [ServiceAccountId::parse("sa-7").unwrap()]);
    assert_eq!(
        state(&app, "sa-7").await,
        None,
        "the deprecated row is gone"
    );
    assert!(
        app.raw_item("SA#sa-7", "OWNERMAP").await.is_none(),
        "the owner map entry is gone"
    );

    // Both eras still answer: the account's own history, and what govind's agents did.
    let (status, history) = app
        .query_audit("/v1/audit-events?serviceAccountId=sa-7", ADMIN)
        .await;
    assert_eq!(status, 200);
    let requests: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["requestId"].as_str().unwrap())
        .collect();
    for expected in ["pre-migration", "legacy-0", "legacy-2", "agent-3"] {
        assert!(
            requests.contains(&expected),
            "{expected} missing from {requests:?}"
        );
    }
    let (_, govind) = app
        .query_audit(
            "/v1/audit-events?accountablePrincipalId=govind&limit=100",
            ADMIN,
        )
        .await;
    let govinds: Vec<&str> = govind["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["requestId"].as_str())
        .collect();
    assert!(govinds.contains(&"agent-7") && govinds.contains(&"legacy-1"));
    let (status, who) = app
        .send(
            "GET",
            &format!("/v1/agents/{agent_id}/accountable"),
            ADMIN,
            None,
        )
        .await;
    assert_eq!((status, who["ownerUserId"].as_str()), (200, Some("govind")));
    // Usage history stays too.
    let legacy_id = test_pepper().legacy_credential_id(
        &agentid::credential::LegacySecret::parse("sk_legacy_sa7_timeline_01").unwrap(),
    );
    let usage = app
        .store
        .recent_usage(&UsageSubject::Credential(legacy_id), day(t0, 2).day(), 3)
        .await
        .unwrap();
    let pre_on_day_0 = u64::from(before.day() == t0.day());
    assert_eq!(usage.iter().map(|u| u.count).sum::<u64>(), 3 + pre_on_day_0);
}

#[tokio::test]
async fn a_legacy_use_on_day_6_pushes_revocation_to_day_10() {
    let app = spawn_app().await;
    let m = migrate(&app, "sa-late", "sk_legacy_late_user_0001").await;
    let aggregator = Aggregator::new(app.store.clone());
    let items = vec![
        act(&app, &m.legacy_secret, day(m.t0, 0), "l0").await,
        act(&app, &m.legacy_secret, day(m.t0, 6), "l6").await,
    ];
    aggregator.handle(stream_batch(&items, 1)).await;
    for d in [8, 9] {
        let report = sweep(&app).run(day(m.t0, d), false).await.unwrap();
        assert!(report.revoked_legacy.is_empty(), "day {d}: {report:?}");
    }
    let report = sweep(&app).run(day(m.t0, 9), false).await.unwrap();
    let eligible = report.not_yet_quiet[0].eligible_at;
    assert_eq!(eligible, Timestamp::start_of_day(day(m.t0, 10).day()));
    let report = sweep(&app).run(day(m.t0, 10), false).await.unwrap();
    assert_eq!(report.revoked_legacy.len(), 1);
    let _ = (m.agent_secret, m.agent_id);
}

#[tokio::test]
async fn usage_counts_are_exact_under_redelivery_and_coalesced() {
    let app = spawn_app().await;
    let m = migrate(&app, "sa-usage", "sk_legacy_usage_count_01").await;
    let mut items = Vec::new();
    for i in 0..12 {
        let secret = if i % 3 == 0 {
            &m.legacy_secret
        } else {
            &m.agent_secret
        };
        let at = day(m.t0, i % 2);
        items.push(act(&app, secret, at, &format!("u-{i}")).await);
    }
    // Noise the aggregator must ignore: a modification and a non-event item.
    let aggregator = Aggregator::new(app.store.clone());
    let (first_half, second_half) = items.split_at(5);
    app.requests.take();
    let (_, report) = aggregator.handle(stream_batch(first_half, 1)).await;
    let writes = app.requests.take();
    assert_eq!(
        writes.len(),
        report.counters,
        "one write per distinct counter: {writes:?}"
    );
    // A bisected retry delivers the halves; then the whole batch arrives again.
    aggregator.handle(stream_batch(second_half, 6)).await;
    let (_, replay) = aggregator.handle(stream_batch(&items, 1)).await;
    assert_eq!(replay.counted, 0, "{replay:?}");
    aggregator.handle(stream_batch(&items, 1)).await;

    let legacy_id = test_pepper()
        .legacy_credential_id(&agentid::credential::LegacySecret::parse(&m.legacy_secret).unwrap());
    let agent_cred = agentid::credential::Token::parse(&m.agent_secret)
        .unwrap()
        .credential_id;
    let count = |subject: UsageSubject| {
        let app = &app;
        async move {
            app.store
                .recent_usage(&subject, day(m.t0, 1).day(), 2)
                .await
                .unwrap()
                .iter()
                .map(|u| (u.day, u.count))
                .collect::<Vec<_>>()
        }
    };
    let (d0, d1) = (m.t0.day(), day(m.t0, 1).day());
    // i = 0..12: legacy at i % 3 == 0 (0, 3, 6, 9), days alternate by parity.
    assert_eq!(
        count(UsageSubject::Credential(legacy_id)).await,
        vec![(d0, 2), (d1, 2)]
    );
    assert_eq!(
        count(UsageSubject::ServiceAccount(
            ServiceAccountId::parse("sa-usage").unwrap()
        ))
        .await,
        vec![(d0, 2), (d1, 2)]
    );
    assert_eq!(
        count(UsageSubject::Credential(agent_cred)).await,
        vec![(d0, 4), (d1, 4)]
    );

    let mut modified = stream_batch(&items[..1], 100);
    modified.records[0].event_name = "MODIFY".into();
    let (_, ignored) = aggregator.handle(modified).await;
    assert_eq!((ignored.ignored, ignored.counted), (1, 0));
    let user = app.raw_item("USER#govind", "USER").await.unwrap();
    let (_, other) = aggregator.handle(stream_batch(&[user], 200)).await;
    assert_eq!((other.ignored, other.counted), (1, 0));
}

#[tokio::test]
async fn a_thousand_records_from_ten_credentials_are_ten_writes() {
    let app = spawn_app().await;
    ok(
        &app,
        "PUT",
        "/v1/users/govind",
        json!({"email": "govind@example.com"}),
    )
    .await;
    let mut secrets = Vec::new();
    for _ in 0..10 {
        let created = ok(
            &app,
            "POST",
            "/v1/agents",
            json!({"name": "bot", "ownerUserId": "govind"}),
        )
        .await;
        secrets.push(created["credential"]["secret"].as_str().unwrap().to_owned());
    }
    let at = now();
    let mut templates = Vec::new();
    for (i, secret) in secrets.iter().enumerate() {
        templates.push(act(&app, secret, at, &format!("t-{i}")).await);
    }
    // 1,000 records: 100 per credential (copies with distinct sort keys, as the stream would
    // carry distinct events).
    let items: Vec<Item> = (0..1000)
        .map(|i| {
            let mut item = templates[i % 10].clone();
            item.insert(
                "SK".into(),
                AttributeValue::S(format!("EVT#{at}#evt_{i:032}")),
            );
            item
        })
        .collect();
    let aggregator = Aggregator::new(app.store.clone());
    app.requests.take();
    let (response, report) = aggregator.handle(stream_batch(&items, 1)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(app.requests.take(), vec!["UpdateItem"; 10]);
    assert_eq!(
        (report.events, report.counters, report.counted),
        (1000, 10, 1000)
    );
}

#[tokio::test]
async fn a_dry_run_reports_and_writes_nothing_and_the_cap_defers_the_rest() {
    let app = spawn_app().await;
    let mut t0 = None;
    for i in 0..3 {
        let m = migrate(
            &app,
            &format!("sa-cap-{i}"),
            &format!("sk_legacy_cap_account_0{i}"),
        )
        .await;
        t0.get_or_insert(m.t0);
    }
    let t0 = t0.unwrap();
    let before = app.dump().await;
    let dry = sweep(&app).run(day(t0, 12), true).await.unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.dual_write_ended.len(), 3);
    assert_eq!(dry.revoked_legacy.len(), 3, "{dry:?}");
    assert_eq!(app.dump().await, before, "a dry run writes nothing");

    let capped = Sweep::new(
        app.store.clone(),
        SweepConfig {
            max_revocations: 2,
            ..SweepConfig::default()
        },
    );
    let first = capped.run(day(t0, 12), false).await.unwrap();
    assert_eq!(
        (first.revoked_legacy.len(), first.deferred_by_cap.len()),
        (2, 1)
    );
    let second = capped
        .run(day(t0, 12).plus(Duration::hours(1)), false)
        .await
        .unwrap();
    assert_eq!(
        (second.revoked_legacy.len(), second.deferred_by_cap.len()),
        (1, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sweeps_at_once_act_once() {
    let app = spawn_app().await;
    let mut t0 = None;
    for i in 0..4 {
        let m = migrate(
            &app,
            &format!("sa-race-{i}"),
            &format!("sk_legacy_race_account_{i}"),
        )
        .await;
        t0.get_or_insert(m.t0);
    }
    let at = day(t0.unwrap(), 12);
    let (first, second) = (sweep(&app), sweep(&app));
    let a = tokio::spawn(async move { first.run(at, false).await });
    let b = tokio::spawn(async move { second.run(at, false).await });
    let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
    let mut revoked: Vec<_> = a
        .revoked_legacy
        .iter()
        .chain(&b.revoked_legacy)
        .cloned()
        .collect();
    revoked.sort();
    revoked.dedup();
    assert_eq!(revoked.len(), 4);
    assert_eq!(
        a.revoked_legacy.len() + b.revoked_legacy.len(),
        4,
        "each revocation once: {a:?} {b:?}"
    );
    let events: Vec<_> = app
        .dump()
        .await
        .into_iter()
        .filter(|i| {
            i.get("action")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
                == Some("service_account.revoke_legacy")
        })
        .collect();
    assert_eq!(events.len(), 4, "one audit event per revocation");
}

#[tokio::test]
async fn org_owned_automation_is_never_touched() {
    let app = spawn_app().await;
    ok(&app, "PUT", "/v1/service-accounts/nightly-cleanup", json!({"name": "nightly cleanup", "kind": "org_owned", "legacySecret": "sk_legacy_cleanup_never_01"})).await;
    let before = app.dump().await;
    let report = sweep(&app)
        .run(now().plus(Duration::days(60)), false)
        .await
        .unwrap();
    assert_eq!(
        report,
        agentid::sweep::SweepReport {
            now: report.now,
            ..Default::default()
        }
    );
    assert_eq!(app.dump().await, before);
    assert!(app
        .authorizer
        .verify("sk_legacy_cleanup_never_01", now().plus(Duration::days(60)))
        .await
        .unwrap()
        .is_ok());
}

#[tokio::test]
async fn rotated_credentials_expire_and_missed_cascades_finish() {
    let app = spawn_app().await;
    ok(
        &app,
        "PUT",
        "/v1/users/govind",
        json!({"email": "govind@example.com"}),
    )
    .await;
    let created = ok(
        &app,
        "POST",
        "/v1/agents",
        json!({"name": "bot", "ownerUserId": "govind"}),
    )
    .await;
    let agent = created["agent"]["agentId"].as_str().unwrap().to_owned();
    let old =
        agentid::ids::CredentialId::parse(created["credential"]["credentialId"].as_str().unwrap())
            .unwrap();
    ok(
        &app,
        "POST",
        &format!("/v1/agents/{agent}/credentials"),
        json!({"graceSeconds": 60}),
    )
    .await;
    let report = sweep(&app).run(now(), false).await.unwrap();
    assert!(
        report.expired_credentials.is_empty(),
        "still inside its grace"
    );
    let report = sweep(&app)
        .run(now().plus(Duration::minutes(2)), false)
        .await
        .unwrap();
    assert_eq!(report.expired_credentials, std::slice::from_ref(&old));
    assert_eq!(
        app.store
            .get_credential(&old)
            .await
            .unwrap()
            .unwrap()
            .status,
        CredentialStatus::Expired
    );
    let stored = app
        .store
        .get_agent(&agentid::ids::AgentId::parse(agent.as_str()).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.active_credential_ids.len(), 1);

    // A cascade that never ran: the owner is offboarded but the agent is still active.
    ok(
        &app,
        "PUT",
        "/v1/users/leaver",
        json!({"email": "leaver@example.com"}),
    )
    .await;
    let orphan = ok(
        &app,
        "POST",
        "/v1/agents",
        json!({"name": "bot", "ownerUserId": "leaver"}),
    )
    .await;
    let orphan_id = orphan["agent"]["agentId"].as_str().unwrap().to_owned();
    app.client
        .update_item()
        .table_name(app.store.table_name())
        .key("PK", AttributeValue::S("USER#leaver".into()))
        .key("SK", AttributeValue::S("USER".into()))
        .update_expression("SET #s = :off, GSI2PK = :pk, GSI2SK = :sk")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":off", AttributeValue::S("offboarded".into()))
        .expression_attribute_values(":pk", AttributeValue::S("OFFBOARDED".into()))
        .expression_attribute_values(":sk", AttributeValue::S(format!("{}#leaver", now())))
        .send()
        .await
        .unwrap();
    let report = sweep(&app).run(now(), false).await.unwrap();
    assert_eq!(
        report
            .revoked_agents_of_offboarded_owners
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>(),
        [orphan_id]
    );
    let user = app.raw_item("USER#leaver", "USER").await.unwrap();
    assert!(
        !user.contains_key("GSI2PK"),
        "the cascade is confirmed and leaves the work list"
    );
    let report = sweep(&app).run(now(), false).await.unwrap();
    assert!(report.revoked_agents_of_offboarded_owners.is_empty());
}

#[tokio::test]
async fn the_migration_overview_counts_states_and_names_the_cutover() {
    let app = spawn_app().await;
    let m = migrate(&app, "sa-view", "sk_legacy_overview_0001").await;
    ok(
        &app,
        "PUT",
        "/v1/service-accounts/sa-shared",
        json!({"name": "shared", "kind": "migrate"}),
    )
    .await;
    ok(
        &app,
        "PUT",
        "/v1/service-accounts/sa-shared/owner",
        json!({"ownerUserId": "govind", "ownerOfRecord": true, "note": "team lead"}),
    )
    .await;
    let (status, overview) = app.send("GET", "/v1/migration", ADMIN, None).await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["counts"]["dual_writing"], 1);
    assert_eq!(overview["counts"]["owner_assigned"], 1);
    assert_eq!(
        overview["ownersOfRecord"][0]["serviceAccountId"],
        "sa-shared"
    );
    let cutover = Timestamp::parse(overview["cutoverDate"].as_str().unwrap()).unwrap();
    assert!(
        (cutover.as_datetime() - m.t0.as_datetime())
            .num_seconds()
            .abs()
            < 60
    );
    let row = overview["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["serviceAccountId"] == "sa-view")
        .unwrap();
    assert!(row["revokeEligibleAt"].is_string());
    assert_eq!(
        row["legacyCredential"]["dailyUsage"]
            .as_array()
            .unwrap()
            .len(),
        14
    );
    let _ = (m.agent_secret, m.agent_id);
}

#[tokio::test]
async fn a_counter_that_cannot_be_written_is_retried_from_its_earliest_record() {
    let app = spawn_app().await;
    ok(
        &app,
        "PUT",
        "/v1/users/govind",
        json!({"email": "govind@example.com"}),
    )
    .await;
    let created = ok(
        &app,
        "POST",
        "/v1/agents",
        json!({"name": "bot", "ownerUserId": "govind"}),
    )
    .await;
    let secret = created["credential"]["secret"].as_str().unwrap().to_owned();
    let items = vec![
        act(&app, &secret, now(), "f-1").await,
        act(&app, &secret, now(), "f-2").await,
    ];
    let batch = stream_batch(&items, 41);
    let first = batch.records[0].change.sequence_number.clone();
    // The same batch against a table that cannot be written.
    let broken = Aggregator::new(agentid::store::Store::new(
        app.client.clone(),
        "no-such-table",
    ));
    let (response, report) = broken.handle(batch).await;
    assert_eq!(report.failed_counters, 1);
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(response.batch_item_failures[0].item_identifier, first);
    // Lambda retries from there against the healthy table: counted once.
    let healthy = Aggregator::new(app.store.clone());
    let (response, report) = healthy.handle(stream_batch(&items, 41)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(report.counted, 2);
}
