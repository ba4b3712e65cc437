//! Growth: the sweep's and the usage aggregator's requests and time as the data grows 10x and
//! 100x. The sweep runs over 200 migrating accounts with 1,000, 10,000 and 100,000 audit events
//! in the table, then with 2,000 and 20,000 accounts that are not its candidates (inventoried,
//! not yet migrating); the aggregator counts a stream batch of 1,000 records at each table size,
//! then with 10x and 100x the distinct credentials. Cost must follow the candidates and the
//! distinct counters, never the table size.
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
use agentid::usage::Aggregator;
use agentid::values::{Name, ScopeSet};
use agentid_integration::faults::FaultMix;
use agentid_integration::{spawn_app, spawn_app_behind_faults, stream_batch, TestApp};
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};

const ACCOUNTS: usize = 200;

async fn add_events(app: &TestApp, from: usize, to: usize, now: Timestamp) {
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

async fn measure(app: &TestApp, sweep: &Sweep, now: Timestamp) -> (usize, Duration) {
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

/// One stream batch of 1,000 audit-event records spread over `distinct` credentials: the
/// aggregator's requests and its median time over 5 batches.
async fn measure_aggregation(
    app: &TestApp,
    distinct: usize,
    next_sequence: &mut u64,
    now: Timestamp,
) -> (usize, Duration) {
    let aggregator = Aggregator::new(app.store.clone());
    let credentials: Vec<CredentialId> = (0..distinct).map(|_| CredentialId::generate()).collect();
    let mut times = Vec::new();
    let mut requests = 0;
    for run in 0..5 {
        let items: Vec<HashMap<String, AttributeValue>> = (0..1_000)
            .map(|i| {
                [
                    ("PK", "ACTOR#agent#agt_bench".to_owned()),
                    ("SK", format!("EVT#{now}#evt_{run}_{i:028}")),
                    ("type", "audit_event".into()),
                    ("actorType", "agent".into()),
                    ("actorId", "agt_bench".into()),
                    ("credentialId", credentials[i % distinct].to_string()),
                    ("occurredAt", now.to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), AttributeValue::S(v)))
                .collect()
            })
            .collect();
        app.requests.take();
        let t = Instant::now();
        let (response, report) = aggregator
            .handle(stream_batch(&items, *next_sequence))
            .await;
        times.push(t.elapsed());
        *next_sequence += 1_000;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(report.counted, 1_000);
        requests = app.requests.take().len();
    }
    times.sort();
    (requests, times[times.len() / 2])
}

/// Accounts the sweep never looks at: inventoried, not yet migrating.
async fn add_idle_accounts(app: &TestApp, from: usize, to: usize, now: Timestamp) {
    for i in from..to {
        let sa = ServiceAccount {
            service_account_id: ServiceAccountId::parse(format!("idle-{i}")).unwrap(),
            name: Name::parse(format!("idle account {i}")).unwrap(),
            kind: ServiceAccountKind::Migrate,
            status: ServiceAccountStatus::Active,
            migration_state: MigrationState::Inventoried,
            integrations: vec![],
            integrations_reviewed: false,
            scopes: ScopeSet::default(),
            legacy_credential_id: Some(CredentialId::generate()),
            migrated_to_agent_id: None,
            migrated_at: None,
            dual_write_until: None,
            dual_write_ended_at: None,
            revoked_at: None,
            created_at: now,
            updated_at: now,
        };
        app.store
            .put_service_account(&sa, Expect::Absent)
            .await
            .unwrap();
    }
    app.requests.take();
}

fn print_growth(what: &str, points: &[(String, usize, Duration)]) {
    println!();
    println!("| {what} | requests | median time | requests / first | time / first |");
    println!("|---|---|---|---|---|");
    let (first_requests, first_time) = (points[0].1, points[0].2);
    for (label, requests, time) in points {
        println!(
            "| {label} | {requests} | {time:.2?} | {:.3} | {:.3} |",
            *requests as f64 / first_requests as f64,
            time.as_secs_f64() / first_time.as_secs_f64()
        );
    }
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
    let mut sequence = 1;
    let (mut sweeps, mut aggregations) = (Vec::new(), Vec::new());
    let mut events = 0;
    for (target, label) in [(1_000, "1,000"), (10_000, "10,000"), (100_000, "100,000")] {
        add_events(&app, events, target, now).await;
        events = target;
        let (requests, time) = measure(&app, &sweep, now).await;
        sweeps.push((format!("{label} events, 200 candidates"), requests, time));
        let (requests, time) = measure_aggregation(&app, 10, &mut sequence, now).await;
        aggregations.push((
            format!("{label} events in the table, 10 credentials"),
            requests,
            time,
        ));
    }
    let mut accounts = 0;
    for (target, label) in [(2_000, "2,000"), (20_000, "20,000")] {
        add_idle_accounts(&app, accounts, target, now).await;
        accounts = target;
        let (requests, time) = measure(&app, &sweep, now).await;
        sweeps.push((
            format!("100,000 events, 200 candidates + {label} idle accounts"),
            requests,
            time,
        ));
    }
    for (distinct, label) in [(100, "100"), (1_000, "1,000")] {
        let (requests, time) = measure_aggregation(&app, distinct, &mut sequence, now).await;
        aggregations.push((
            format!("100,000 events in the table, {label} credentials"),
            requests,
            time,
        ));
    }
    println!("server: {}", app.server);
    println!("sweep: dry run over {ACCOUNTS} accounts awaiting quiet, median of 5 runs");
    print_growth("sweep", &sweeps);
    println!();
    println!("aggregator: stream batches of 1,000 records, median of 5 batches");
    print_growth("aggregator", &aggregations);
    println!();

    // The counters of a batch are applied 16 at a time. The local server answers one request at
    // a time, which hides that; with every request held 5 ms on its way (a network round trip)
    // it shows, beside 1,000 UpdateItem sent one after another through the same proxy.
    let latency = Duration::from_millis(5);
    let (mut far, proxy) = spawn_app_behind_faults(FaultMix::round_trip(latency), 8).await;
    let sdk = agentid::runtime::aws_config().unwrap();
    // The production client configuration (the fault harness shortens its timeouts).
    let through_proxy = || agentid::store::client_config(&sdk).endpoint_url(proxy.endpoint.clone());
    far.store = agentid::store::Store::new(
        aws_sdk_dynamodb::Client::from_conf(
            through_proxy().interceptor(far.requests.clone()).build(),
        ),
        far.store.table_name(),
    );
    let raw = aws_sdk_dynamodb::Client::from_conf(through_proxy().build());
    proxy.inject(true);
    let (requests, concurrent) = measure_aggregation(&far, 1_000, &mut sequence, now).await;
    let started = Instant::now();
    for i in 0..1_000 {
        raw.update_item()
            .table_name(far.store.table_name())
            .key("PK", AttributeValue::S(format!("BENCH#counter{i}")))
            .key("SK", AttributeValue::S("USAGE".into()))
            .update_expression("ADD #count :one")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await
            .unwrap();
    }
    let serial = started.elapsed();
    proxy.inject(false);
    println!("| aggregator, 5 ms round trip | requests | median time | baseline: 1,000 UpdateItem one after another | ratio |");
    println!("|---|---|---|---|---|");
    println!(
        "| 1,000 credentials, 1,000 records | {requests} | {concurrent:.2?} | {serial:.2?} | {:.3} |",
        concurrent.as_secs_f64() / serial.as_secs_f64()
    );
}
