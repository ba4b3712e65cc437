//! DynamoDB requests and the capacity the server reports for every API route, the usage
//! aggregator and the sweep, driven once each in the order a migration runs; then the naive
//! dual-write (two rows per action, each with its index entries) for comparison.
//!
//! Run: `infra/localddb.py run ministack -- cargo bench -p agentid-integration --bench capacity`
//! (moto reports one unit per request whatever it writes; ministack counts item sizes and the
//! index entries written.)

use std::collections::BTreeMap;

use agentid::api::authorizer::Attribution;
use agentid::store::MAX_BATCH;
use agentid::sweep::{Sweep, SweepConfig};
use agentid::time::Timestamp;
use agentid::usage::Aggregator;
use agentid_integration::capacity::{item_size, CapacityRecorder, Consumed};
use agentid_integration::{
    audit_request, http_request, spawn_app_with, stream_batch, text, As, TestApp,
};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};

const ADMIN: As<'static> = As::Admin("root");

const READS: &[&str] = &[
    "GetItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "TransactGetItems",
];

/// One row of the table: the requests an operation sent and what they consumed.
struct Row {
    operation: String,
    requests: BTreeMap<String, usize>,
    read_units: f64,
    write_units: BTreeMap<String, f64>,
    unreported: usize,
}

fn row(operation: impl Into<String>, consumed: Vec<Consumed>) -> Row {
    let mut row = Row {
        operation: operation.into(),
        requests: BTreeMap::new(),
        read_units: 0.0,
        write_units: BTreeMap::new(),
        unreported: 0,
    };
    for c in consumed {
        *row.requests.entry(c.operation.clone()).or_default() += 1;
        let Some(units) = c.units else {
            row.unreported += 1;
            continue;
        };
        if READS.contains(&c.operation.as_str()) {
            row.read_units += units.values().sum::<f64>();
        } else {
            for (place, n) in units {
                *row.write_units.entry(place).or_default() += n;
            }
        }
    }
    row
}

impl Row {
    fn print(&self) {
        let requests = self
            .requests
            .iter()
            .map(|(op, n)| format!("{n} {op}"))
            .collect::<Vec<_>>()
            .join(" + ");
        let total: f64 = self.write_units.values().sum();
        let places = self
            .write_units
            .iter()
            .filter(|(_, n)| **n > 0.0)
            .map(|(place, n)| format!("{place} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let writes = if total > 0.0 {
            format!("{total} ({places})")
        } else {
            "0".into()
        };
        let unreported = if self.unreported > 0 {
            format!(" ({} not reported)", self.unreported)
        } else {
            String::new()
        };
        println!(
            "| {} | {requests} | {}{unreported} | {writes} |",
            self.operation, self.read_units
        );
    }
}

struct Run {
    app: TestApp,
    recorder: CapacityRecorder,
    rows: Vec<Row>,
}

impl Run {
    /// Sends a management request, expecting `status`; records its row.
    async fn mint(
        &mut self,
        label: &str,
        method: &str,
        path: &str,
        caller: As<'_>,
        body: Option<Value>,
        status: u16,
    ) -> Value {
        self.recorder.take();
        let (got, answer) = self.app.send(method, path, caller, body).await;
        assert_eq!(got, status, "{label}: {answer}");
        self.rows.push(row(label, self.recorder.take()));
        answer
    }

    /// Sends an audit request, expecting `status`; records its row.
    async fn audit(&mut self, label: &str, req: lambda_http::Request, status: u16) -> Value {
        self.recorder.take();
        let (got, answer) = self.app.call_audit(req).await;
        assert_eq!(got, status, "{label}: {answer}");
        self.rows.push(row(label, self.recorder.take()));
        answer
    }

    async fn verify(&mut self, label: &str, secret: &str) -> Attribution {
        self.recorder.take();
        let attribution = self.app.verify(secret).await;
        self.rows.push(row(label, self.recorder.take()));
        attribution
    }
}

fn event(request_id: &str) -> Value {
    json!({
        "action": "deploy.start",
        "resource": "repo:acme/api",
        "outcome": "success",
        "requestId": request_id,
        "occurredAt": Timestamp::now().to_string(),
        "details": {"commit": "9c1e2f0", "pipeline": "deploy"}
    })
}

#[tokio::main]
async fn main() {
    let recorder = CapacityRecorder::default();
    let app = spawn_app_with({
        let recorder = recorder.clone();
        move |config| config.interceptor(recorder)
    })
    .await;
    let mut run = Run {
        app,
        recorder,
        rows: Vec::new(),
    };
    let user = |email: &str| json!({"email": email, "scopes": ["repo:read", "deploy:run"]});

    run.mint(
        "PUT /v1/users/{id} (new)",
        "PUT",
        "/v1/users/govind",
        ADMIN,
        Some(user("govind@example.com")),
        200,
    )
    .await;
    run.mint(
        "PUT /v1/users/{id} (unchanged)",
        "PUT",
        "/v1/users/govind",
        ADMIN,
        Some(user("govind@example.com")),
        200,
    )
    .await;
    run.app.register("lead", &["repo:read", "deploy:run"]).await;
    let created = run
        .mint(
            "POST /v1/agents",
            "POST",
            "/v1/agents",
            As::User("govind"),
            Some(json!({"name": "notebook agent", "scopes": ["repo:read"]})),
            201,
        )
        .await;
    let agent = created["agent"]["agentId"].as_str().unwrap().to_owned();
    let first_credential = created["credential"]["credentialId"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = created["credential"]["secret"].as_str().unwrap().to_owned();
    run.mint(
        "GET /v1/agents?ownerUserId=",
        "GET",
        "/v1/agents?ownerUserId=govind",
        As::User("govind"),
        None,
        200,
    )
    .await;
    run.mint(
        "GET /v1/agents/{id}",
        "GET",
        &format!("/v1/agents/{agent}"),
        As::User("govind"),
        None,
        200,
    )
    .await;
    run.mint(
        "GET /v1/agents/{id}/accountable",
        "GET",
        &format!("/v1/agents/{agent}/accountable"),
        As::User("govind"),
        None,
        200,
    )
    .await;

    let attribution = run
        .verify("authorizer: verify an agent credential", &secret)
        .await;
    let first = event("cap-1");
    run.audit(
        "POST /v1/audit-events (agent)",
        audit_request("POST", "/v1/audit-events", &attribution, Some(&first)),
        201,
    )
    .await;
    run.audit(
        "POST /v1/audit-events (a retry)",
        audit_request("POST", "/v1/audit-events", &attribution, Some(&first)),
        200,
    )
    .await;
    let batch: Vec<Value> = (0..MAX_BATCH)
        .map(|i| event(&format!("cap-batch-{i}")))
        .collect();
    let batch_request = || {
        audit_request(
            "POST",
            "/v1/audit-events/batch",
            &attribution,
            Some(&json!({"events": batch})),
        )
    };
    run.audit("POST /v1/audit-events/batch (25 new)", batch_request(), 201)
        .await;
    run.audit(
        "POST /v1/audit-events/batch (25 retried)",
        batch_request(),
        200,
    )
    .await;
    run.audit(
        "GET /v1/audit-events?accountablePrincipalId= (27 events, 4 shards)",
        http_request(
            "GET",
            "/v1/audit-events?accountablePrincipalId=govind&since=7d",
            As::User("govind"),
            None,
            &[],
        ),
        200,
    )
    .await;
    run.audit(
        "GET /v1/audit-events?actorId=",
        http_request(
            "GET",
            &format!("/v1/audit-events?actorId={agent}&since=7d"),
            As::User("govind"),
            None,
            &[],
        ),
        200,
    )
    .await;

    let rotated = run
        .mint(
            "POST /v1/agents/{id}/credentials (rotate)",
            "POST",
            &format!("/v1/agents/{agent}/credentials"),
            As::User("govind"),
            Some(json!({"graceSeconds": 3600})),
            201,
        )
        .await;
    assert!(rotated["credential"]["secret"].is_string());
    run.mint(
        "DELETE /v1/credentials/{id}",
        "DELETE",
        &format!("/v1/credentials/{first_credential}"),
        As::User("govind"),
        None,
        200,
    )
    .await;

    let legacy = "sk_legacy_deploy_0000000001";
    run.mint("PUT /v1/service-accounts/{id} (new, with legacy secret)", "PUT", "/v1/service-accounts/sa-deploy", ADMIN,
        Some(json!({"name": "deploy", "kind": "migrate", "scopes": ["deploy:run"], "integrationsReviewed": true, "legacySecret": legacy})), 201).await;
    run.mint(
        "PUT /v1/service-accounts/{id}/owner",
        "PUT",
        "/v1/service-accounts/sa-deploy/owner",
        ADMIN,
        Some(json!({"ownerUserId": "govind"})),
        200,
    )
    .await;
    let legacy_attribution = run
        .verify("authorizer: verify a legacy secret", legacy)
        .await;
    run.audit(
        "POST /v1/audit-events (legacy credential)",
        audit_request(
            "POST",
            "/v1/audit-events",
            &legacy_attribution,
            Some(&event("cap-legacy")),
        ),
        201,
    )
    .await;
    let migrated = run
        .mint(
            "POST /v1/service-accounts/{id}/migrate",
            "POST",
            "/v1/service-accounts/sa-deploy/migrate",
            ADMIN,
            Some(json!({})),
            201,
        )
        .await;
    let migrated_secret = migrated["credential"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let dual = run
        .verify("authorizer: verify the migrated agent", &migrated_secret)
        .await;
    run.audit(
        "POST /v1/audit-events (inside the cutover window)",
        audit_request("POST", "/v1/audit-events", &dual, Some(&event("cap-dual"))),
        201,
    )
    .await;
    run.audit(
        "GET /v1/audit-events?serviceAccountId=",
        http_request(
            "GET",
            "/v1/audit-events?serviceAccountId=sa-deploy",
            ADMIN,
            None,
            &[],
        ),
        200,
    )
    .await;
    run.mint(
        "GET /v1/service-accounts/{id}/migration",
        "GET",
        "/v1/service-accounts/sa-deploy/migration",
        ADMIN,
        None,
        200,
    )
    .await;
    run.mint(
        "GET /v1/migration",
        "GET",
        "/v1/migration",
        ADMIN,
        None,
        200,
    )
    .await;
    run.mint(
        "POST /v1/service-accounts/{id}/rollback",
        "POST",
        "/v1/service-accounts/sa-deploy/rollback",
        ADMIN,
        None,
        200,
    )
    .await;
    run.mint(
        "POST /v1/agents/{id}/transfer",
        "POST",
        &format!("/v1/agents/{agent}/transfer"),
        ADMIN,
        Some(json!({"newOwnerUserId": "lead"})),
        200,
    )
    .await;
    run.mint(
        "DELETE /v1/agents/{id}",
        "DELETE",
        &format!("/v1/agents/{agent}"),
        As::User("lead"),
        None,
        200,
    )
    .await;
    let spare = run.app.owner_with_agent("priya", &["repo:read"]).await;
    assert!(spare["agent"]["agentId"].is_string());
    run.mint(
        "POST /v1/users/{id}/offboard (one agent)",
        "POST",
        "/v1/users/priya/offboard",
        ADMIN,
        Some(json!({"reason": "left the company"})),
        200,
    )
    .await;

    // The usage aggregator over every event written so far, as one stream batch.
    let items: Vec<_> = run
        .app
        .dump()
        .await
        .into_iter()
        .filter(|item| text(item, "type") == "audit_event")
        .collect();
    let credentials: std::collections::BTreeSet<&str> = items
        .iter()
        .map(|item| text(item, "credentialId"))
        .filter(|c| !c.is_empty())
        .collect();
    let label = format!(
        "usage aggregator: a stream batch of {} events from {} credentials",
        items.len(),
        credentials.len()
    );
    run.recorder.take();
    let (response, _) = Aggregator::new(run.app.store.clone())
        .handle(stream_batch(&items, 1))
        .await;
    assert!(response.batch_item_failures.is_empty());
    run.rows.push(row(label, run.recorder.take()));

    run.recorder.take();
    let report = Sweep::new(run.app.store.clone(), SweepConfig::from_env())
        .run(Timestamp::now(), false)
        .await
        .unwrap();
    let label = format!(
        "sweep run: {} offboarded owner's agents confirmed, {} accounts examined",
        report.revoked_agents_of_offboarded_owners.len(),
        report.not_yet_quiet.len() + report.revoked_legacy.len() + report.dual_write_ended.len()
    );
    run.rows.push(row(label, run.recorder.take()));

    // The naive dual-write: the agent's row and a second row under the legacy account, each
    // with its own GSI1 entry, written as two PutItems.
    let dual_item = run
        .app
        .dump()
        .await
        .into_iter()
        .find(|item| item.contains_key("GSI2PK") && text(item, "type") == "audit_event")
        .expect("the dual-written event");
    let mut agent_row = dual_item.clone();
    agent_row.remove("GSI2PK");
    agent_row.remove("GSI2SK");
    agent_row.remove("legacyServiceAccountId");
    let sk = AttributeValue::S(format!("EVT#{}#naive", Timestamp::now()));
    agent_row.insert("SK".into(), sk.clone());
    agent_row.insert("GSI1SK".into(), sk.clone());
    let mut account_row = agent_row.clone();
    account_row.insert(
        "PK".into(),
        AttributeValue::S("ACTOR#service_account#sa-deploy".into()),
    );
    account_row.insert(
        "actorType".into(),
        AttributeValue::S("service_account".into()),
    );
    account_row.insert("actorId".into(), AttributeValue::S("sa-deploy".into()));
    run.recorder.take();
    for item in [agent_row.clone(), account_row] {
        run.app
            .client
            .put_item()
            .table_name(run.app.store.table_name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .unwrap();
    }
    run.rows.push(row(
        "naive dual-write: two rows, each with its GSI1 entry",
        run.recorder.take(),
    ));

    println!("server: {}", run.app.server);
    println!();
    println!("| operation | DynamoDB requests | read units | write units (where) |");
    println!("|---|---|---|---|");
    for row in &run.rows {
        row.print();
    }
    println!();
    let mut sizes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for item in run.app.dump().await {
        sizes
            .entry(text(&item, "type").to_owned())
            .or_default()
            .push(item_size(&item));
    }
    println!("| item type | items | median size | largest |");
    println!("|---|---|---|---|");
    for (kind, mut list) in sizes {
        list.sort();
        println!(
            "| {kind} | {} | {} B | {} B |",
            list.len(),
            list[list.len() / 2],
            list[list.len() - 1]
        );
    }
    println!(
        "dual-written event: {} B; the same event after the window: {} B",
        item_size(&dual_item),
        item_size(&agent_row)
    );
}
