//! Hot paths against a local DynamoDB-compatible server, each beside the raw SDK request of the
//! same item in the same run, interleaved so machine noise hits both alike.
//!
//! Run: `infra/localddb.py run ministack -- cargo bench -p agentid-integration --bench hot_paths`

use std::time::{Duration, Instant};

use agentid::ids::{EventId, RequestId};
use agentid::model::{Actor, AuditEvent, Outcome};
use agentid::time::Timestamp;
use agentid::values::{Action, Resource};
use agentid_integration::{new_agent, spawn_app};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};

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

fn item_size(item: &std::collections::HashMap<String, AttributeValue>) -> usize {
    fn value_size(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.len(),
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
            AttributeValue::L(v) => 3 + v.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
            AttributeValue::M(m) => {
                3 + m
                    .iter()
                    .map(|(k, x)| 1 + k.len() + value_size(x))
                    .sum::<usize>()
            }
            _ => 0,
        }
    }
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
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
    println!("requests per verify: {verify_requests:?}");
    println!("requests per audit write: {write_requests:?}");
    println!(
        "event item: {size_after} B after the window (table + GSI1 = {} WCU), {size_during} B during (table + GSI1 + GSI2 = {} WCU); server-reported capacity of one put: {capacity:?}",
        units(size_after, 1),
        units(size_during, 2)
    );
}
