//! Hot paths against a local DynamoDB-compatible server, each beside the raw SDK request of the
//! same item in the same run, interleaved so machine noise hits both alike.
//!
//! Run: `infra/localddb.py run ministack -- cargo bench -p agentid-integration --bench hot_paths`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use agentid::ids::{EventId, RequestId};
use agentid::keys;
use agentid::model::{Actor, AuditEvent, Outcome};
use agentid::time::Timestamp;
use agentid::values::{Action, Resource};
use agentid_integration::capacity::item_size;
use agentid_integration::faults::FaultMix;
use agentid_integration::{http_request, new_agent, spawn_app, spawn_app_behind_faults, As};
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, PutRequest, ReturnConsumedCapacity, WriteRequest,
};

const WARMUP: usize = 50;
const ROUNDS: usize = 400;

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn p99(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() * 99 / 100]
}

/// One product path beside its raw baseline, measured in interleaved rounds.
struct Comparison {
    path: &'static str,
    baseline: &'static str,
    product: Vec<Duration>,
    raw: Vec<Duration>,
}

impl Comparison {
    fn row(&mut self, server: &str) -> String {
        let (product, raw) = (median(&mut self.product), median(&mut self.raw));
        format!(
            "| {} vs {} | {server} | {product:.2?} | {raw:.2?} | {:.3} | {:.2?} / {:.2?} |",
            self.path,
            self.baseline,
            product.as_secs_f64() / raw.as_secs_f64(),
            p99(&mut self.product),
            p99(&mut self.raw),
        )
    }
}

/// Rounds of the comparisons whose requests are heavy for a local server (batches, fan-out
/// queries over a large table).
const HEAVY_ROUNDS: usize = 100;

/// Runs `product` and `raw` in turn, `rounds` times after `WARMUP / 5` warm-up rounds, so noise
/// hits both alike.
async fn compare(
    path: &'static str,
    baseline: &'static str,
    rounds: usize,
    mut product: impl AsyncFnMut(usize),
    mut raw: impl AsyncFnMut(usize),
) -> Comparison {
    let started = Instant::now();
    let warmup = WARMUP / 5;
    let mut result = Comparison {
        path,
        baseline,
        product: Vec::new(),
        raw: Vec::new(),
    };
    for round in 0..warmup + rounds {
        let t = Instant::now();
        product(round).await;
        let dp = t.elapsed();
        let t = Instant::now();
        raw(round).await;
        let dr = t.elapsed();
        if round >= warmup {
            result.product.push(dp);
            result.raw.push(dr);
        }
    }
    eprintln!(
        "{path} vs {baseline}: {rounds} rounds in {:.1?}",
        started.elapsed()
    );
    result
}

/// The newest `limit` events of the last 7 days in GSI1 `partition`: one bare Query.
async fn bare_listing(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    partition: String,
    limit: i32,
) {
    let week_ago = Timestamp::now().minus(chrono::Duration::days(7));
    let out = client
        .query()
        .table_name(table)
        .index_name("GSI1")
        .key_condition_expression("GSI1PK = :pk AND GSI1SK BETWEEN :a AND :b")
        .expression_attribute_values(":pk", AttributeValue::S(partition))
        .expression_attribute_values(":a", AttributeValue::S(format!("EVT#{week_ago}")))
        .expression_attribute_values(":b", AttributeValue::S("EVT#~".into()))
        .scan_index_forward(false)
        .limit(limit)
        .send()
        .await
        .unwrap();
    assert_eq!(out.count, limit);
}

/// Govind's listing through the audit API.
async fn owner_listing(app: &agentid_integration::TestApp, path: &str) {
    let response = app
        .audit
        .handle(http_request("GET", path, As::User("govind"), None, &[]))
        .await;
    assert_eq!(response.status(), 200);
}

/// 200 copies of the stored event `stored` under one unsharded GSI1 partition,
/// `UNSHARDED#govind`: the baseline's partition for the owner's listing.
async fn write_unsharded_copies(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    stored: &HashMap<String, AttributeValue>,
) {
    let copies: Vec<WriteRequest> = (0..200)
        .map(|i| {
            let mut raw = stored.clone();
            let sk = AttributeValue::S(format!("EVT#{}#unsharded{i}", Timestamp::now()));
            raw.insert("PK".into(), AttributeValue::S("BENCH#unsharded".into()));
            raw.insert("SK".into(), sk.clone());
            raw.insert(
                "GSI1PK".into(),
                AttributeValue::S("UNSHARDED#govind".into()),
            );
            raw.insert("GSI1SK".into(), sk);
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(raw)).build().unwrap())
                .build()
        })
        .collect();
    for chunk in copies.chunks(25) {
        client
            .batch_write_item()
            .request_items(table, chunk.to_vec())
            .send()
            .await
            .unwrap();
    }
}

#[tokio::main]
async fn main() {
    let app = spawn_app().await;
    let owner = app.user("govind", &["repo:read"]).await.user_id;
    let (agent, _) = new_agent(&owner, Timestamp::now());
    // A real token, so verification runs the whole path.
    let token =
        agentid::credential::Token::generate(agentid::credential::TokenKind::Agent).unwrap();
    let mut agent = agent;
    agent.credential_id = token.credential_id.clone();
    agent.active_credential_ids = [token.credential_id.clone()].into();
    let (_, mut cred) = new_agent(&owner, Timestamp::now());
    cred.credential_id = token.credential_id.clone();
    cred.principal = agentid::model::Principal::Agent(agent.agent_id.clone());
    cred.agent_id = Some(agent.agent_id.clone());
    cred.secret_hash = agentid_integration::test_pepper().hash_token(&token);
    app.store.create_agent(&agent, &cred).await.unwrap();
    let secret = token.reveal().expose().to_owned();
    let table = app.store.table_name().to_owned();
    let key = |pk: String, sk: &str| {
        [
            ("PK".to_owned(), AttributeValue::S(pk)),
            ("SK".to_owned(), AttributeValue::S(sk.to_owned())),
        ]
        .into_iter()
        .collect::<std::collections::HashMap<_, _>>()
    };

    // verify vs GetItem
    let (mut verify, mut get) = (Vec::new(), Vec::new());
    for round in 0..WARMUP + ROUNDS {
        let t = Instant::now();
        let ok = app
            .authorizer
            .verify(&secret, Timestamp::now())
            .await
            .unwrap();
        let dv = t.elapsed();
        assert!(ok.is_ok());
        let t = Instant::now();
        app.client
            .get_item()
            .table_name(&table)
            .set_key(Some(key(format!("CRED#{}", cred.credential_id), "CRED")))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        let dg = t.elapsed();
        if round >= WARMUP {
            verify.push(dv);
            get.push(dg);
        }
    }
    eprintln!("verify vs GetItem: done");
    app.requests.take();
    app.authorizer
        .verify(&secret, Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    let verify_requests = app.requests.take();

    // audit write vs PutItem of an identical item
    let event = |i: usize, legacy: bool| AuditEvent {
        event_id: EventId::derive(
            cred.credential_id.as_str(),
            &RequestId::parse(format!("bench-{legacy}-{i}")).unwrap(),
        ),
        actor: Actor::agent(&agent.agent_id),
        accountable_principal_id: Some(owner.clone()),
        agent_id: Some(agent.agent_id.clone()),
        legacy_service_account_id: legacy
            .then(|| agentid::ids::ServiceAccountId::parse("sa-deploy").unwrap()),
        credential_id: Some(cred.credential_id.clone()),
        action: Action::parse("deploy.start").unwrap(),
        resource: Resource::parse("repo:acme/api").unwrap(),
        outcome: Outcome::Success,
        request_id: RequestId::parse(format!("bench-{legacy}-{i}")).unwrap(),
        details: Some(serde_json::json!({"commit": "9c1e2f0", "pipeline": "deploy"})),
        occurred_at: Timestamp::now(),
        received_at: Timestamp::now(),
    };
    let first = event(0, false);
    app.store.put_audit_event(&first).await.unwrap();
    let stored = app
        .client
        .get_item()
        .table_name(&table)
        .set_key(Some(key(
            format!("ACTOR#agent#{}", agent.agent_id),
            &format!("EVT#{}#{}", first.occurred_at, first.event_id),
        )))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let (mut write, mut put) = (Vec::new(), Vec::new());
    for round in 0..WARMUP + ROUNDS {
        let e = event(round + 1, false);
        let t = Instant::now();
        app.store.put_audit_event(&e).await.unwrap();
        let dw = t.elapsed();
        let mut raw = stored.clone();
        raw.insert(
            "SK".into(),
            AttributeValue::S(format!("EVT#{}#raw{round}", Timestamp::now())),
        );
        raw.insert("GSI1SK".into(), raw["SK"].clone());
        let t = Instant::now();
        app.client
            .put_item()
            .table_name(&table)
            .set_item(Some(raw))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .unwrap();
        let dp = t.elapsed();
        if round >= WARMUP {
            write.push(dw);
            put.push(dp);
        }
    }
    app.requests.take();
    app.store
        .put_audit_event(&event(10_000, false))
        .await
        .unwrap();
    let write_requests = app.requests.take();
    let capacity = app
        .client
        .put_item()
        .table_name(&table)
        .set_item(Some({
            let mut raw = stored.clone();
            raw.insert("SK".into(), AttributeValue::S("EVT#capacity".into()));
            raw
        }))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap()
        .consumed_capacity
        .and_then(|c| c.capacity_units);

    let during = event(20_000, true);
    app.store.put_audit_event(&during).await.unwrap();
    let during_item = app
        .client
        .get_item()
        .table_name(&table)
        .set_key(Some(key(
            format!("ACTOR#agent#{}", agent.agent_id),
            &format!("EVT#{}#{}", during.occurred_at, during.event_id),
        )))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();

    // "Who is responsible for agent X": the API call vs the two GetItems it needs.
    let accountable_path = format!("/v1/agents/{}/accountable", agent.agent_id);
    let mut responsible = compare(
        "who is responsible (API)",
        "2 GetItem",
        ROUNDS,
        async |_| {
            let response = app
                .mint
                .handle(http_request(
                    "GET",
                    &accountable_path,
                    As::User("govind"),
                    None,
                    &[],
                ))
                .await;
            assert_eq!(response.status(), 200);
        },
        async |_| {
            for (pk, sk) in [
                (format!("AGENT#{}", agent.agent_id), "AGENT"),
                (format!("USER#{owner}"), "USER"),
            ] {
                app.client
                    .get_item()
                    .table_name(&table)
                    .set_key(Some(key(pk, sk)))
                    .consistent_read(true)
                    .send()
                    .await
                    .unwrap();
            }
        },
    )
    .await;
    app.requests.take();
    app.mint
        .handle(http_request(
            "GET",
            &accountable_path,
            As::User("govind"),
            None,
            &[],
        ))
        .await;
    let responsible_requests = app.requests.take();

    // "What did Govind's agents do this week": the API call (four shards at once, merged) vs
    // the same four Queries sent bare, and vs one Query of an unsharded partition holding the
    // same items.
    write_unsharded_copies(&app.client, &table, &stored).await;
    let owner_path = "/v1/audit-events?accountablePrincipalId=govind&since=7d&limit=20";
    let owner_query = async || owner_listing(&app, owner_path).await;
    let bare_query = async |partition: String, limit: i32| {
        bare_listing(&app.client, &table, partition, limit).await
    };
    let shards = keys::all_events_accountable_to(&owner);
    let mut owner_vs_fanout = compare(
        "owner's events, 20 (API)",
        "the same 4 Queries at once",
        HEAVY_ROUNDS,
        async |_| owner_query().await,
        async |_| {
            // The first round the listing sends for a page of 20: 14 from each shard.
            futures::future::join_all(shards.iter().map(|pk| bare_query(pk.clone(), 14))).await;
        },
    )
    .await;
    let mut owner_vs_one = compare(
        "owner's events, 20 (API)",
        "1 Query, unsharded",
        HEAVY_ROUNDS,
        async |_| owner_query().await,
        async |_| bare_query("UNSHARDED#govind".into(), 20).await,
    )
    .await;
    app.requests.take();
    owner_query().await;
    let owner_requests = app.requests.take();

    // A batch of 25 vs one bare BatchWriteItem of 25 identical items, and vs the same two
    // requests the product sends (a consistent BatchGetItem of the keys, then the write).
    let raw_batch = |tag: &str, round: usize| -> (Vec<WriteRequest>, KeysAndAttributes) {
        let mut writes = Vec::new();
        let mut keys = KeysAndAttributes::builder().consistent_read(true);
        for i in 0..agentid::store::MAX_BATCH {
            let mut raw = stored.clone();
            let sk = AttributeValue::S(format!("EVT#{}#{tag}{round}-{i}", Timestamp::now()));
            raw.insert("SK".into(), sk.clone());
            raw.insert("GSI1SK".into(), sk.clone());
            keys = keys.keys(
                [("PK".to_owned(), raw["PK"].clone()), ("SK".to_owned(), sk)]
                    .into_iter()
                    .collect(),
            );
            writes.push(
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(raw)).build().unwrap())
                    .build(),
            );
        }
        (writes, keys.build().unwrap())
    };
    let batch_of = |from: usize| -> Vec<AuditEvent> {
        (0..agentid::store::MAX_BATCH)
            .map(|i| event(from + i, false))
            .collect()
    };
    let product_batch = async |from: usize| {
        let outcomes = app.store.put_audit_events(&batch_of(from)).await.unwrap();
        assert!(outcomes
            .iter()
            .all(|o| matches!(o, agentid::store::PutOutcome::Created(_))));
    };
    // One bare BatchWriteItem, every item processed.
    let raw_write = async |writes: Vec<WriteRequest>| {
        let out = app
            .client
            .batch_write_item()
            .request_items(&table, writes)
            .send()
            .await
            .unwrap();
        assert!(out.unprocessed_items.unwrap_or_default().is_empty());
    };
    let mut batch_vs_write = compare(
        "batch of 25",
        "BatchWriteItem",
        HEAVY_ROUNDS,
        async |round| product_batch(100_000 + round * 100).await,
        async |round| {
            let (writes, _) = raw_batch("rawb", round);
            raw_write(writes).await;
        },
    )
    .await;
    let mut batch_vs_both = compare(
        "batch of 25",
        "BatchGetItem + BatchWriteItem",
        HEAVY_ROUNDS,
        async |round| product_batch(200_000 + round * 100).await,
        async |round| {
            let (writes, keys) = raw_batch("rawg", round);
            app.client
                .batch_get_item()
                .request_items(&table, keys)
                .send()
                .await
                .unwrap();
            raw_write(writes).await;
        },
    )
    .await;
    app.requests.take();
    product_batch(900_000).await;
    let batch_requests = app.requests.take();

    let size_after = item_size(&stored);
    let size_during = item_size(&during_item);
    let units = |size: usize, indexes: usize| size.div_ceil(1024) * (1 + indexes);
    println!("server: {}", app.server);
    println!("rounds: {ROUNDS} (after {WARMUP} warm-up), interleaved");
    let (mv, mg) = (median(&mut verify), median(&mut get));
    println!(
        "verify: median {:?} p99 {:?} | raw GetItem: median {:?} p99 {:?} | ratio {:.3}",
        mv,
        p99(&mut verify),
        mg,
        p99(&mut get),
        mv.as_secs_f64() / mg.as_secs_f64()
    );
    let (mw, mp) = (median(&mut write), median(&mut put));
    println!(
        "audit write: median {:?} p99 {:?} | raw PutItem: median {:?} p99 {:?} | ratio {:.3}",
        mw,
        p99(&mut write),
        mp,
        p99(&mut put),
        mw.as_secs_f64() / mp.as_secs_f64()
    );
    println!();
    println!(
        "| path vs baseline | server | product median | raw median | ratio | p99 product / raw |"
    );
    println!("|---|---|---|---|---|---|");
    for comparison in [
        &mut batch_vs_write,
        &mut batch_vs_both,
        &mut responsible,
        &mut owner_vs_fanout,
        &mut owner_vs_one,
    ] {
        println!("{}", comparison.row(&app.server));
    }
    println!();
    // The owner's listing again, with every request held 5 ms on its way to the server (a
    // network round trip): the four Queries overlap, so the call costs about one round trip.
    let latency = Duration::from_millis(5);
    let (far, proxy) = spawn_app_behind_faults(FaultMix::round_trip(latency), 8).await;
    far.store
        .upsert_user(
            &owner,
            &agentid::values::Email::parse("govind@example.com").unwrap(),
            &agentid::values::ScopeSet::parse(["repo:read"]).unwrap(),
            false,
            Timestamp::now(),
        )
        .await
        .unwrap();
    let far_events: Vec<AuditEvent> = (0..200).map(|i| event(500_000 + i, false)).collect();
    for chunk in far_events.chunks(agentid::store::MAX_BATCH) {
        far.store.put_audit_events(chunk).await.unwrap();
    }
    let far_raw = aws_sdk_dynamodb::Client::from_conf(
        agentid::store::client_config(&agentid::runtime::aws_config().unwrap())
            .endpoint_url(proxy.endpoint.clone())
            .build(),
    );
    let far_table = far.store.table_name().to_owned();
    write_unsharded_copies(&far_raw, &far_table, &stored).await;
    proxy.inject(true);
    let mut far_owner = compare(
        "owner's events, 20 (API), 5 ms round trip",
        "1 Query, unsharded, 5 ms round trip",
        HEAVY_ROUNDS,
        async |_| owner_listing(&far, owner_path).await,
        async |_| bare_listing(&far_raw, &far_table, "UNSHARDED#govind".into(), 20).await,
    )
    .await;
    proxy.inject(false);
    println!("{}", far_owner.row(&app.server));
    println!();
    println!("requests per batch of 25: {batch_requests:?}");
    println!("requests per who-is-responsible: {responsible_requests:?}");
    println!("requests per owner query: {owner_requests:?}");
    println!("requests per verify: {verify_requests:?}");
    println!("requests per audit write: {write_requests:?}");
    println!(
        "event item: {size_after} B after the window (table + GSI1 = {} WCU), {size_during} B during (table + GSI1 + GSI2 = {} WCU); server-reported capacity of one put: {capacity:?}",
        units(size_after, 1),
        units(size_during, 2)
    );
}
