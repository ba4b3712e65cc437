//! Races through the management API and the authorizer, over many trials: an agent created
//! while its owner is offboarded, and a credential verified while it is revoked. (Concurrent
//! rotations are in `agents`, concurrent sweeps in `lifecycle`.)

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agentid::api::authorizer::Denial;
use agentid_integration::{now, spawn_app, text, As, TestApp};
use aws_sdk_dynamodb::types::AttributeValue;
use futures::StreamExt;
use serde_json::{json, Value};

const ADMIN: As<'static> = As::Admin("root");
type Item = HashMap<String, AttributeValue>;

/// One trial: two creates by the owner race the owner's offboarding, the offboarding started
/// a little later in some trials and first in others. Returns the agents created.
async fn create_racing_offboard(app: &TestApp, trial: u32) -> Vec<String> {
    let owner = format!("racer-{trial:04}");
    app.register(&owner, &[]).await;
    let create = |n: u32| {
        let owner = owner.clone();
        async move {
            let (status, body) = app
                .send(
                    "POST",
                    "/v1/agents",
                    As::User(&owner),
                    Some(json!({"name": format!("bot {n}")})),
                )
                .await;
            (status, body)
        }
    };
    let offboard = async {
        tokio::time::sleep(Duration::from_millis(u64::from(trial % 20) * 2)).await;
        app.send(
            "POST",
            &format!("/v1/users/{owner}/offboard"),
            ADMIN,
            Some(json!({})),
        )
        .await
    };
    let ((a, b), (status, offboarded)) =
        tokio::join!(async { tokio::join!(create(0), create(1)) }, offboard);
    assert_eq!(status, 200, "offboard: {offboarded}");
    let mut created = Vec::new();
    for (status, body) in [a, b] {
        match status {
            201 => created.push(body["agent"]["agentId"].as_str().unwrap().to_owned()),
            409 => assert_eq!(body["error"]["code"], "owner_not_active", "{body}"),
            other => panic!("create racing offboard: {other} {body}"),
        }
    }
    created
}

/// Trials per table: moto copies a whole table for every transaction, so tables stay small.
const TRIALS_PER_TABLE: u32 = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_creates_racing_offboard_leave_no_active_agent() {
    let mut won = 0;
    let mut server = String::new();
    for table in 0..1000 / TRIALS_PER_TABLE {
        let app = spawn_app().await;
        let first = table * TRIALS_PER_TABLE;
        let created: Vec<Vec<String>> = futures::stream::iter(first..first + TRIALS_PER_TABLE)
            .map(|trial| create_racing_offboard(&app, trial))
            .buffer_unordered(8)
            .collect()
            .await;
        let created: HashSet<String> = created.into_iter().flatten().collect();
        won += created.len();
        server.clone_from(&app.server);

        let items = app.dump().await;
        let agents: Vec<&Item> = items
            .iter()
            .filter(|i| text(i, "type") == "agent")
            .collect();
        let offboarded: HashSet<&str> = items
            .iter()
            .filter(|i| text(i, "type") == "user" && text(i, "status") == "offboarded")
            .map(|i| text(i, "userId"))
            .collect();
        assert_eq!(
            offboarded.len(),
            TRIALS_PER_TABLE as usize,
            "every owner offboarded"
        );
        assert_eq!(
            agents.len(),
            created.len(),
            "every stored agent was acknowledged"
        );
        let active_agents = agents
            .iter()
            .filter(|a| text(a, "status") != "revoked")
            .count();
        let active_credentials = items
            .iter()
            .filter(|i| text(i, "type") == "credential" && text(i, "status") == "active")
            .count();
        assert_eq!(
            (active_agents, active_credentials),
            (0, 0),
            "active agents or credentials of offboarded owners"
        );
        for agent in &agents {
            assert!(offboarded.contains(text(agent, "ownerUserId")));
        }
    }
    // The offboarding starts 0-38 ms after the creates, so some trials see both orders.
    assert!(
        won > 0 && won < 2000,
        "the race was never close: {won} of 2000 creates won"
    );
    eprintln!(
        "[races] create vs offboard on {server}: 1000 trials, {won} of 2000 creates won the race, 0 active afterwards"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_revoke_returns_the_next_verify_is_denied() {
    let mut app = Arc::new(spawn_app().await);
    let mut allowed_during = 0;
    for trial in 0..200 {
        if trial % TRIALS_PER_TABLE == 0 {
            app = Arc::new(spawn_app().await);
            app.register("govind", &[]).await;
        }
        let (status, created) = app
            .send(
                "POST",
                "/v1/agents",
                As::User("govind"),
                Some(json!({"name": format!("bot {trial}")})),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let secret = created["credential"]["secret"].as_str().unwrap().to_owned();
        let agent = created["agent"]["agentId"].as_str().unwrap().to_owned();
        let credential = created["credential"]["credentialId"]
            .as_str()
            .unwrap()
            .to_owned();

        // Verifiers hammer the credential while it is revoked.
        let stop = Arc::new(AtomicBool::new(false));
        let allowed = Arc::new(AtomicU32::new(0));
        let verifiers: Vec<_> = (0..2)
            .map(|_| {
                let (app, secret, stop, allowed) =
                    (app.clone(), secret.clone(), stop.clone(), allowed.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        if let Ok(Ok(_)) = app.authorizer.verify(&secret, now()).await {
                            allowed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_micros(300)).await;
        // Alternate the two ways to revoke: the agent, or the credential itself.
        let (method, path): (&str, String) = if trial % 2 == 0 {
            ("DELETE", format!("/v1/agents/{agent}"))
        } else {
            ("DELETE", format!("/v1/credentials/{credential}"))
        };
        let (status, body): (u16, Value) = app.send(method, &path, As::User("govind"), None).await;
        assert_eq!(status, 200, "{body}");
        let next = app.authorizer.verify(&secret, now()).await.unwrap();
        assert!(
            matches!(next, Err(Denial::NotUsable)),
            "trial {trial}: verify after {method} {path} returned {next:?}"
        );
        stop.store(true, Ordering::SeqCst);
        for verifier in verifiers {
            verifier.await.unwrap();
        }
        let after = app.authorizer.verify(&secret, now()).await.unwrap();
        assert!(after.is_err(), "trial {trial}: a late verify passed");
        allowed_during += allowed.load(Ordering::SeqCst);
    }
    eprintln!(
        "[races] revoke vs verify on {}: 200 trials, {allowed_during} concurrent verifies allowed before the revoke, 200 of 200 verifies after it denied",
        app.server
    );
}
