//! The sweep's cost as the table grows: requests and time for a run over 200 migrating
//! accounts with 10,000 audit events in the table, then with 100,000. Cost must follow the
//! candidates (accounts), not the table size.
//!
//! Run: `infra/localddb.py run ministack -- cargo bench -p agentid-integration --bench sweep_growth`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use agentid::ids::{CredentialId, ServiceAccountId};
use agentid::model::{
    MigrationState, ServiceAccount, ServiceAccountKind, ServiceAccountStatus, UsageSubject,
};
use agentid::store::Expect;
use agentid::sweep::{Sweep, SweepConfig};
use agentid::time::Timestamp;
use agentid::values::{Name, ScopeSet};
use agentid_integration::spawn_app;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};

const ACCOUNTS: usize = 200;

async fn add_events(app: &agentid_integration::TestApp, from: usize, to: usize, now: Timestamp) {
    let mut batch = Vec::new();
    for i in from..to {
        let account = format!("sa-{}", i % ACCOUNTS);
        let at = now.minus(chrono::Duration::seconds((i % 86_400) as i64));
        let item: HashMap<String, AttributeValue> = [
            ("PK", format!("ACTOR#service_account#{account}")),
            ("SK", format!("EVT#{at}#evt_{i:032}")),
            ("type", "audit_event".into()),
            ("actorType", "service_account".into()),
            ("actorId", account),
            ("action", "nightly.run".into()),
            ("resource", "db:orders".into()),
            ("outcome", "success".into()),
            ("requestId", format!("r-{i}")),
            ("occurredAt", at.to_string()),
            ("receivedAt", at.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), AttributeValue::S(v)))
        .collect();
        batch.push(
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build(),
        );
        if batch.len() == 25 || i + 1 == to {
            let mut pending = std::mem::take(&mut batch);
            while !pending.is_empty() {
                let out = app
                    .client
                    .batch_write_item()
                    .request_items(app.store.table_name(), pending)
                    .send()
                    .await
                    .unwrap();
                pending = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(app.store.table_name()))
                    .unwrap_or_default();
            }
        }
    }
    app.requests.take();
}

async fn measure(
    app: &agentid_integration::TestApp,
    sweep: &Sweep,
    now: Timestamp,
) -> (usize, Duration) {
    let mut times = Vec::new();
    let mut requests = 0;
    for _ in 0..5 {
        app.requests.take();
        let t = Instant::now();
        let report = sweep.run(now, true).await.unwrap();
        times.push(t.elapsed());
        requests = app.requests.take().len();
        assert_eq!(report.not_yet_quiet.len(), ACCOUNTS);
    }
    times.sort();
    (requests, times[times.len() / 2])
}

#[tokio::main]
async fn main() {
    let app = spawn_app().await;
    let now = Timestamp::now();
    for i in 0..ACCOUNTS {
        let id = ServiceAccountId::parse(format!("sa-{i}")).unwrap();
        let legacy = CredentialId::generate();
        let sa = ServiceAccount {
            service_account_id: id.clone(),
            name: Name::parse(format!("account {i}")).unwrap(),
            kind: ServiceAccountKind::Migrate,
            status: ServiceAccountStatus::Active,
            migration_state: MigrationState::AwaitingQuiet,
            integrations: vec![],
            integrations_reviewed: true,
            scopes: ScopeSet::default(),
            legacy_credential_id: Some(legacy.clone()),
            migrated_to_agent_id: None,
            migrated_at: Some(now.minus(chrono::Duration::days(8))),
            dual_write_until: Some(now.minus(chrono::Duration::days(1))),
            dual_write_ended_at: Some(now.minus(chrono::Duration::days(1))),
            revoked_at: None,
            created_at: now,
            updated_at: now,
        };
        app.store
            .put_service_account(&sa, Expect::Absent)
            .await
            .unwrap();
        // Used today: not quiet, so the run reads every account and changes nothing.
        app.store
            .increment_usage(&UsageSubject::Credential(legacy), 1, now)
            .await
            .unwrap();
    }
    let sweep = Sweep::new(app.store.clone(), SweepConfig::default());
    add_events(&app, 0, 10_000, now).await;
    let (small_requests, small_time) = measure(&app, &sweep, now).await;
    add_events(&app, 10_000, 100_000, now).await;
    let (large_requests, large_time) = measure(&app, &sweep, now).await;
    println!("server: {}", app.server);
    println!("accounts: {ACCOUNTS}; dry-run sweep, median of 5 runs");
    println!(
        "10,000 events: {small_requests} requests ({:.2} per account), {small_time:?}",
        small_requests as f64 / ACCOUNTS as f64
    );
    println!(
        "100,000 events: {large_requests} requests ({:.2} per account), {large_time:?}",
        large_requests as f64 / ACCOUNTS as f64
    );
    println!(
        "ratio 100k/10k: requests {:.3}, time {:.3}",
        large_requests as f64 / small_requests as f64,
        large_time.as_secs_f64() / small_time.as_secs_f64()
    );
}
