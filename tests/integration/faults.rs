//! The store behind a fault-injecting proxy: delays past the attempt timeout, connections
//! dropped before and after the server applied a write, HTTP 500s and both throttling errors.
//! Callers retry what failed, as a client of the API would; the table must end exactly as a
//! fault-free run leaves it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use agentid::api::authorizer::Attribution;
use agentid::ids::CredentialId;
use agentid::model::{AuditEvent, UsageSubject};
use agentid::usage::Aggregator;
use agentid_integration::faults::{FaultMix, FaultProxy};
use agentid_integration::{
    audit_request, event_by, http_request, now, spawn_app_behind_faults, stream_batch, text, As,
    TestApp,
};
use aws_sdk_dynamodb::types::AttributeValue;
use futures::StreamExt;
use lambda_http::Request;
use serde_json::{json, Value};

const ADMIN: As<'static> = As::Admin("root");
type Item = HashMap<String, AttributeValue>;

/// 58% of requests faulted: the SDK's five attempts all fail for about one request in
/// fifteen, so the callers' own retries (and the stream's redelivery) are exercised too.
/// Delays reach past the harness's 300 ms attempt timeout, so some attempts time out while
/// the server still applies them.
fn mix() -> FaultMix {
    FaultMix::harsh(Duration::from_millis(450)).times(2)
}

/// Sends the request until the answer is not a 5xx, as a client of an unavailable service
/// does: with exponential backoff (40 ms doubling to 1 s, about a minute in all), which also
/// lets the SDK's retry quota refill once a run of faults has drained it. Returns the final
/// status, the body and how many 5xx came first.
async fn with_retries(mut send: impl AsyncFnMut() -> (u16, Value)) -> (u16, Value, u32) {
    let mut unavailable = 0;
    loop {
        let (status, body) = send().await;
        if status < 500 || unavailable >= 64 {
            return (status, body, unavailable);
        }
        unavailable += 1;
        let backoff = 20u64 << unavailable.min(6);
        tokio::time::sleep(Duration::from_millis(backoff.min(1000))).await;
    }
}

async fn mint(app: &TestApp, build: impl Fn() -> Request) -> (u16, Value, u32) {
    with_retries(async || app.call(build()).await).await
}

fn of_type<'a>(items: &'a [Item], kind: &str) -> Vec<&'a Item> {
    items.iter().filter(|i| text(i, "type") == kind).collect()
}

async fn agent_secret(app: &TestApp, owner: &str) -> String {
    let created = app.owner_with_agent(owner, &["deploy:run"]).await;
    created["credential"]["secret"].as_str().unwrap().to_owned()
}

fn report(name: &str, proxy: &FaultProxy, extra: &str) {
    eprintln!(
        "[faults] {name} on {}: {} faults injected {:?}; {extra}",
        std::env::var("AGENTID_LOCAL_SERVER").unwrap_or_default(),
        proxy.total_injected(),
        proxy.injected()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_audit_writes_through_faults_store_each_event_once() {
    let (app, proxy) = spawn_app_behind_faults(mix(), 0x5eed_0001).await;
    let secret = agent_secret(&app, "govind").await;
    let attribution: Attribution = app.verify(&secret).await;
    let occurred_at = now().to_string();

    proxy.inject(true);
    let outcomes: Vec<(u16, u32)> = futures::stream::iter(0..1000)
        .map(|i| {
            let (app, attribution) = (&app, &attribution);
            let body = json!({"action": "deploy.step", "resource": "repo:acme/api",
                "outcome": "success", "requestId": format!("write-{i:04}"), "occurredAt": occurred_at});
            async move {
                let (status, _, unavailable) = with_retries(async || {
                    app.call_audit(audit_request(
                        "POST",
                        "/v1/audit-events",
                        attribution,
                        Some(&body),
                    ))
                    .await
                })
                .await;
                (status, unavailable)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    proxy.inject(false);

    let created = outcomes.iter().filter(|(s, _)| *s == 201).count();
    let replayed = outcomes.iter().filter(|(s, _)| *s == 200).count();
    let client_retries: u32 = outcomes.iter().map(|(_, u)| u).sum();
    assert_eq!(created + replayed, 1000, "every write ends acknowledged");
    let injected = proxy.injected();
    assert!(
        proxy.total_injected() >= 150 && injected.get("drop_after").copied().unwrap_or(0) >= 20,
        "the proxy really disturbed the run: {injected:?}"
    );

    let items = app.dump().await;
    let events: Vec<_> = of_type(&items, "audit_event")
        .into_iter()
        .filter(|e| text(e, "action") == "deploy.step")
        .collect();
    let distinct: HashSet<_> = events.iter().map(|e| text(e, "requestId")).collect();
    assert_eq!(events.len(), 1000, "exactly 1,000 events stored");
    assert_eq!(distinct.len(), 1000, "none doubled, none lost");
    report(
        "1000 audit writes",
        &proxy,
        &format!("{created} created, {replayed} answered as replays, {client_retries} client retries after a 503"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mint_rotate_and_offboard_through_faults_keep_every_invariant() {
    let (app, proxy) = spawn_app_behind_faults(mix(), 0x5eed_0002).await;
    let users: Vec<String> = (0..12).map(|i| format!("owner-{i:02}")).collect();
    for user in &users {
        app.register(user, &["repo:read"]).await;
    }

    proxy.inject(true);
    let flows: Vec<(String, Vec<String>, bool, u32)> =
        futures::stream::iter(users.iter().enumerate())
            .map(|(i, user)| {
                let app = &app;
                async move {
                    let mut agents = Vec::new();
                    let mut retries = 0;
                    for k in 0..3 {
                        let body = json!({"name": format!("bot {k}"), "scopes": ["repo:read"]});
                        let key = format!("create-{user}-{k}");
                        let (status, created, r) = mint(app, || {
                            http_request(
                                "POST",
                                "/v1/agents",
                                As::User(user),
                                Some(&body),
                                &[("idempotency-key", &key)],
                            )
                        })
                        .await;
                        retries += r;
                        assert!(status == 201 || status == 200, "create: {status} {created}");
                        let agent = created["agent"]["agentId"].as_str().unwrap().to_owned();
                        let rotate = json!({"graceSeconds": 3600});
                        let key = format!("rotate-{agent}");
                        let path = format!("/v1/agents/{agent}/credentials");
                        let (status, rotated, r) = mint(app, || {
                            http_request(
                                "POST",
                                &path,
                                As::User(user),
                                Some(&rotate),
                                &[("idempotency-key", &key)],
                            )
                        })
                        .await;
                        retries += r;
                        assert!(status == 201 || status == 200, "rotate: {status} {rotated}");
                        agents.push(agent);
                    }
                    let offboarded = i % 2 == 0;
                    if offboarded {
                        let path = format!("/v1/users/{user}/offboard");
                        let (status, body, r) = mint(app, || {
                            http_request("POST", &path, ADMIN, Some(&json!({})), &[])
                        })
                        .await;
                        retries += r;
                        assert_eq!(status, 200, "offboard: {body}");
                    }
                    (user.clone(), agents, offboarded, retries)
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
    proxy.inject(false);

    let items = app.dump().await;
    let agents: BTreeMap<&str, &Item> = of_type(&items, "agent")
        .into_iter()
        .map(|a| (text(a, "agentId"), a))
        .collect();
    let credentials: BTreeMap<&str, &Item> = of_type(&items, "credential")
        .into_iter()
        .map(|c| (text(c, "credentialId"), c))
        .collect();
    let offboarded: HashSet<&str> = flows.iter().filter(|f| f.2).map(|f| f.0.as_str()).collect();

    assert_eq!(
        agents.len(),
        36,
        "3 agents per owner, none doubled by a retry"
    );
    for (user, created, _, _) in &flows {
        for agent in created {
            assert_eq!(text(agents[agent.as_str()], "ownerUserId"), user);
        }
    }
    let mut checked_credentials = 0;
    for (id, cred) in &credentials {
        let agent = text(cred, "agentId");
        assert!(
            agents.contains_key(agent),
            "credential {id} without its agent"
        );
        checked_credentials += 1;
    }
    for (id, agent) in &agents {
        let owner = text(agent, "ownerUserId");
        let latest = text(agent, "credentialId");
        assert!(
            credentials.contains_key(latest),
            "agent {id} without its credential"
        );
        let listed = agent
            .get("credentialIds")
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default();
        for cred in &listed {
            assert!(
                credentials.contains_key(cred.as_str()),
                "agent {id} lists a missing credential"
            );
        }
        let active: Vec<_> = credentials
            .values()
            .filter(|c| text(c, "agentId") == *id && text(c, "status") == "active")
            .collect();
        if offboarded.contains(owner) {
            assert_eq!(
                text(agent, "status"),
                "revoked",
                "active agent {id} of offboarded {owner}"
            );
            assert!(active.is_empty(), "active credential of offboarded {owner}");
        } else {
            assert_eq!(text(agent, "status"), "active");
            assert_eq!(
                active.len(),
                2,
                "agent {id}: the first credential in grace and the rotated one"
            );
            assert_eq!(listed.len(), 2);
        }
    }
    for user in &offboarded {
        let item = app.raw_item(&format!("USER#{user}"), "USER").await.unwrap();
        assert_eq!(text(&item, "status"), "offboarded");
    }
    let retries: u32 = flows.iter().map(|f| f.3).sum();
    assert!(proxy.total_injected() >= 30, "{:?}", proxy.injected());
    report(
        "mint/rotate/offboard (12 owners, 36 agents, 6 offboarded)",
        &proxy,
        &format!("{checked_credentials} credentials checked, {retries} client retries after a 503"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn usage_counts_stay_exact_through_faults() {
    let (app, proxy) = spawn_app_behind_faults(mix(), 0x5eed_0003).await;
    let mut secrets = Vec::new();
    for owner in ["ana", "ben", "cai"] {
        secrets.push(agent_secret(&app, owner).await);
    }
    let mut attributions = Vec::new();
    for secret in &secrets {
        attributions.push(app.verify(secret).await);
    }
    let t0 = now();
    let mut expected: BTreeMap<(String, chrono::NaiveDate), u64> = BTreeMap::new();
    let events: Vec<AuditEvent> = (0..600u32)
        .map(|i| {
            let attribution = &attributions[(i % 3) as usize];
            let at = t0.plus(chrono::Duration::days(i64::from(i % 4)));
            *expected
                .entry((attribution.credential_id.to_string(), at.day()))
                .or_default() += 1;
            event_by(attribution, &format!("use-{i}"), at)
        })
        .collect();
    let items: Vec<Item> = futures::stream::iter(&events)
        .map(|event| {
            let app = &app;
            async move {
                // Faults are off, but a busy server can still outlast the harness's 300 ms
                // attempt timeout; a writer retries the same event, as the contract says.
                let mut attempts = 0;
                while let Err(err) = app.store.put_audit_event(event).await {
                    attempts += 1;
                    assert!(
                        attempts < 5 && matches!(err, agentid::store::StoreError::Transient(_)),
                        "{err}"
                    );
                }
                let key =
                    agentid::keys::audit_event(&event.actor, event.occurred_at, &event.event_id);
                app.raw_item(&key.pk, &key.sk).await.unwrap()
            }
        })
        .buffered(8)
        .collect()
        .await;

    // Lambda's contract with ReportBatchItemFailures: redeliver from the named record on.
    let aggregator = Aggregator::new(app.store.clone());
    proxy.inject(true);
    let mut deliveries = 0;
    for (b, batch) in items.chunks(100).enumerate() {
        let first_sequence = 1 + 100 * b as u64;
        let mut from = 0;
        loop {
            deliveries += 1;
            assert!(deliveries < 500, "the consumer never caught up");
            let (response, _) = aggregator
                .handle(stream_batch(&batch[from..], first_sequence + from as u64))
                .await;
            let Some(failure) = response.batch_item_failures.first() else {
                break;
            };
            let sequence: u128 = failure.item_identifier.as_deref().unwrap().parse().unwrap();
            from =
                (sequence - 100_000_000_000_000_000_000u128 - u128::from(first_sequence)) as usize;
        }
    }
    proxy.inject(false);

    let mut counted = BTreeMap::new();
    for (cred, _) in expected.keys() {
        let usage = app
            .store
            .recent_usage(
                &UsageSubject::Credential(CredentialId::parse(cred).unwrap()),
                t0.plus(chrono::Duration::days(3)).day(),
                4,
            )
            .await
            .unwrap();
        for day in usage {
            counted.insert((cred.clone(), day.day), day.count);
        }
    }
    assert_eq!(counted, expected, "every use counted exactly once");
    assert!(
        deliveries > 6,
        "some batches were redelivered ({deliveries} deliveries)"
    );
    report(
        "usage consumer (600 events, 6 batches, 12 counters)",
        &proxy,
        &format!("{deliveries} deliveries"),
    );
}

#[tokio::test]
async fn a_create_or_rotation_whose_answer_was_lost_still_hands_out_its_secret() {
    let (app, proxy) = spawn_app_behind_faults(mix(), 0x5eed_0004).await;
    app.register("govind", &[]).await;

    // No Idempotency-Key: only the SDK's own retry can recover this.
    proxy.lose_next_answer_to("TransactWriteItems");
    let (status, created) = app
        .send(
            "POST",
            "/v1/agents",
            As::User("govind"),
            Some(json!({"name": "bot"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(proxy.injected().get("drop_after"), Some(&1));
    let first = created["credential"]["secret"].as_str().unwrap();
    app.verify(first).await;
    let agent = created["agent"]["agentId"].as_str().unwrap();

    proxy.lose_next_answer_to("TransactWriteItems");
    let (status, rotated) = app
        .send(
            "POST",
            &format!("/v1/agents/{agent}/credentials"),
            As::User("govind"),
            Some(json!({"graceSeconds": 600})),
        )
        .await;
    assert_eq!(status, 201, "{rotated}");
    assert_eq!(proxy.injected().get("drop_after"), Some(&2));
    assert_eq!(
        rotated["expiring"],
        json!([created["credential"]["credentialId"]])
    );
    app.verify(rotated["credential"]["secret"].as_str().unwrap())
        .await;

    let items = app.dump().await;
    assert_eq!(of_type(&items, "agent").len(), 1, "one agent");
    assert_eq!(of_type(&items, "credential").len(), 2, "two credentials");
}
