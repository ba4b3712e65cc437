//! The server's own ceiling for the load test: bare PutItem requests of an audit-event item,
//! `--concurrency` at a time for `--seconds`, against the table of `AWS_ENDPOINT_URL_DYNAMODB`.
//! Each request writes a new key, as each audited action does. Prints throughput and latency
//! percentiles in the same form as the HTTP load test (see bench/load.sh).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use clap::Parser;

/// Bare PutItem throughput.
#[derive(Parser)]
struct Args {
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// How long to run.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let sdk =
        agentid::runtime::aws_config().expect("AWS_REGION and credentials in the environment");
    let client = aws_sdk_dynamodb::Client::from_conf(agentid::store::client_config(&sdk).build());
    let table = format!("agentid-put-load-{}", std::process::id());
    agentid::table::create_table(&client, &table)
        .await
        .expect("create the table");
    let sequence = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (client, table, sequence) = (client.clone(), table.clone(), sequence.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let n = sequence.fetch_add(1, Ordering::Relaxed);
                let s = |v: &str| AttributeValue::S(v.to_owned());
                let started = Instant::now();
                let result = client
                    .put_item()
                    .table_name(&table)
                    .item("PK", s("ACTOR#agent#agt_0123456789abcdef0123456789abcdef"))
                    .item(
                        "SK",
                        s(&format!("EVT#2026-12-03T10:00:00.000Z#evt_{n:032x}")),
                    )
                    .item("GSI1PK", s("ACCOUNTABLE#govind"))
                    .item(
                        "GSI1SK",
                        s(&format!("EVT#2026-12-03T10:00:00.000Z#evt_{n:032x}")),
                    )
                    .item("type", s("audit_event"))
                    .item("eventId", s(&format!("evt_{n:032x}")))
                    .item("actorType", s("agent"))
                    .item("actorId", s("agt_0123456789abcdef0123456789abcdef"))
                    .item("accountablePrincipalId", s("govind"))
                    .item("agentId", s("agt_0123456789abcdef0123456789abcdef"))
                    .item("credentialId", s("crd_0123456789abcdef0123456789abcdef"))
                    .item("action", s("deploy.step"))
                    .item("resource", s("repo:acme/api"))
                    .item("outcome", s("success"))
                    .item("requestId", s(&format!("load-{n}")))
                    .item("occurredAt", s("2026-12-03T10:00:00.000Z"))
                    .item("receivedAt", s("2026-12-03T10:00:00.000Z"))
                    .condition_expression("attribute_not_exists(PK)")
                    .send()
                    .await;
                latencies.push(started.elapsed());
                if result.is_err() {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await.expect("load task");
        latencies.extend(l);
        errors += e;
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "put-load: {} requests in {} s at concurrency {}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
        latencies.len(),
        args.seconds,
        args.concurrency,
        latencies.len() as f64 / args.seconds as f64,
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        errors
    );
}
