//! Test harness: a fresh table per test on the DynamoDB-compatible server named by
//! `AWS_ENDPOINT_URL_DYNAMODB`, reached through the same store code production uses, with an
//! interceptor that records every request the store sends.
//!
//! Run the suite through `infra/localddb.py run <server> -- cargo nextest run`, which starts the
//! server and sets the endpoint. Without an endpoint the harness refuses to run rather than
//! reach a real AWS account.

pub mod capacity;
pub mod faults;
pub mod hygiene;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use agentid::api::audit::AuditApi;
use agentid::api::authorizer::{Attribution, Authorizer};
use agentid::api::mint::Mint;
use agentid::credential::Pepper;
use agentid::ids::{AgentId, CredentialId, EventId, RequestId, UserId};
use agentid::model::{
    Agent, AgentStatus, AuditEvent, Credential, CredentialStatus, Outcome, Principal, SecretHash,
    User,
};
use agentid::store::{client_config, Store, SDK_MAX_ATTEMPTS};
use agentid::table::create_table;
use agentid::time::Timestamp;
use agentid::values::{Action, Email, Name, Resource, ScopeSet};
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use faults::{FaultMix, FaultProxy};
use lambda_http::Request;
use serde_json::{json, Value};
use std::time::Duration;

/// Records the DynamoDB operation of every request attempt sent.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<Mutex<Vec<String>>>);

impl RequestCounter {
    /// The operations sent since the last call, in order; clears the record.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("counter lock"))
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // DynamoDB's JSON protocol names the operation in X-Amz-Target: "DynamoDB_20120810.PutItem".
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        self.0.lock().expect("counter lock").push(operation);
        Ok(())
    }
}

/// The pepper every test table's credentials are hashed with.
pub fn test_pepper() -> Pepper {
    Pepper::from_bytes(b"agentid-integration-test-pepper!".to_vec()).expect("32 bytes")
}

/// A human caller as the API Gateway JWT authorizer presents them.
#[derive(Debug, Clone, Copy)]
pub enum As<'a> {
    /// A plain user with this `sub`.
    User(&'a str),
    /// A member of the admin group with this `sub`.
    Admin(&'a str),
    /// No verified claims at all.
    Nobody,
}

/// An HTTP API (payload 2.0) event, parsed exactly as Lambda delivers it.
pub fn http_request(
    method: &str,
    path_and_query: &str,
    caller: As<'_>,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Request {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut header_map = serde_json::Map::new();
    header_map.insert("host".into(), "api.local".into());
    if body.is_some() {
        header_map.insert("content-type".into(), "application/json".into());
    }
    for (k, v) in headers {
        header_map.insert((*k).to_owned(), (*v).into());
    }
    let mut context = json!({
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": "api.local",
        "domainPrefix": "api",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "tests"},
        "requestId": uuid::Uuid::new_v4().to_string(),
        "routeKey": "$default",
        "stage": "$default",
        "time": "03/Dec/2026:10:00:00 +0000",
        "timeEpoch": 1_796_292_000_000_i64
    });
    let claims = match caller {
        As::User(sub) => Some(json!({"sub": sub})),
        As::Admin(sub) => Some(json!({"sub": sub, "cognito:groups": "[agentid-admins]"})),
        As::Nobody => None,
    };
    if let Some(claims) = claims {
        context["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": header_map,
        "requestContext": context,
        "isBase64Encoded": false
    });
    if !query.is_empty() {
        let params: serde_json::Map<String, Value> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
            .collect();
        event["queryStringParameters"] = Value::Object(params);
    }
    if let Some(body) = body {
        event["body"] = Value::String(body.to_string());
    }
    lambda_http::request::from_str(&event.to_string()).expect("a valid HTTP API v2 event")
}

/// An audit-route event that passed the Lambda authorizer with `attribution`.
pub fn audit_request(
    method: &str,
    path_and_query: &str,
    attribution: &Attribution,
    body: Option<&Value>,
) -> Request {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "api.local", "content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "domainName": "api.local", "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "tests"},
            "requestId": uuid::Uuid::new_v4().to_string(), "routeKey": "$default", "stage": "$default",
            "time": "03/Dec/2026:10:00:00 +0000", "timeEpoch": 1_796_292_000_000_i64,
            "authorizer": {"lambda": attribution.to_context()}
        },
        "isBase64Encoded": false
    });
    if let Some(body) = body {
        event["body"] = Value::String(body.to_string());
    }
    lambda_http::request::from_str(&event.to_string()).expect("a valid HTTP API v2 event")
}

/// DynamoDB JSON (`{"S": ...}`) of an SDK attribute value, as stream records carry it.
pub fn dynamodb_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::Ss(v) => json!({"SS": v}),
        AttributeValue::L(v) => json!({"L": v.iter().map(dynamodb_json).collect::<Vec<_>>()}),
        AttributeValue::M(m) => {
            json!({"M": m.iter().map(|(k, v)| (k.clone(), dynamodb_json(v))).collect::<serde_json::Map<_, _>>()})
        }
        other => panic!("unexpected attribute value {other:?}"),
    }
}

/// A DynamoDB Streams batch (as Lambda delivers it) of INSERT records of `items`, with
/// sequence numbers `first_sequence`, `first_sequence + 1`, ...
pub fn stream_batch(
    items: &[HashMap<String, AttributeValue>],
    first_sequence: u64,
) -> aws_lambda_events::dynamodb::Event {
    let records: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let image: serde_json::Map<String, Value> = item.iter().map(|(k, v)| (k.clone(), dynamodb_json(v))).collect();
            let keys: serde_json::Map<String, Value> = ["PK", "SK"].iter().filter_map(|k| item.get(*k).map(|v| ((*k).to_owned(), dynamodb_json(v)))).collect();
            json!({
                "eventID": format!("{:032x}", first_sequence + i as u64),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_796_292_000,
                    "Keys": keys,
                    "NewImage": image,
                    "SequenceNumber": format!("{}", 100_000_000_000_000_000_000u128 + u128::from(first_sequence) + i as u128),
                    "SizeBytes": 512,
                    "StreamViewType": "NEW_IMAGE"
                },
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/agentid/stream/2026-12-03T00:00:00.000"
            })
        })
        .collect();
    serde_json::from_value(json!({"Records": records})).expect("a valid DynamoDB stream event")
}

/// One test's world: a store over a table of its own.
pub struct TestApp {
    /// The store under test.
    pub store: Store,
    /// The raw client (the same configuration, with the counter attached; always direct to
    /// the server).
    pub client: Client,
    /// Requests sent through `client`.
    pub requests: RequestCounter,
    /// Which local server this runs against (`ministack`, `moto`, or `unknown`).
    pub server: String,
    /// The management API over the same store.
    pub mint: Mint,
    /// The audit API over the same store.
    pub audit: AuditApi,
    /// The Lambda authorizer over the same store.
    pub authorizer: Authorizer,
}

/// Creates a fresh table and a store over it.
pub async fn spawn_app() -> TestApp {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some(),
        "integration tests need a local DynamoDB-compatible server: \
         run them through `infra/localddb.py run ministack -- cargo nextest run`"
    );
    spawn_app_with(|config| config).await
}

/// Like [`spawn_app`], with the production client configuration adjusted by `adjust` (a test
/// of faults shortens the timeouts) and at the endpoint in `AWS_ENDPOINT_URL_DYNAMODB`.
pub async fn spawn_app_with(
    adjust: impl FnOnce(aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder,
) -> TestApp {
    hygiene::init();
    let sdk =
        agentid::runtime::aws_config().expect("AWS_REGION and credentials in the environment");
    let requests = RequestCounter::default();
    let config = adjust(client_config(&sdk).interceptor(requests.clone())).build();
    let client = Client::from_conf(config);
    let table = format!("agentid-test-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table)
        .await
        .expect("create the test table");
    requests.take();
    let store = Store::new(client.clone(), table);
    TestApp {
        mint: Mint::new(store.clone(), test_pepper()),
        audit: AuditApi::new(store.clone()),
        authorizer: Authorizer::new(store.clone(), test_pepper()),
        store,
        client,
        requests,
        server: std::env::var("AGENTID_LOCAL_SERVER").unwrap_or_else(|_| "unknown".into()),
    }
}

/// Like [`spawn_app`], with the store (and the APIs over it) reaching the server through a
/// [`FaultProxy`] drawing from `mix` with `seed`; [`TestApp::client`], which creates the table
/// and dumps it, stays direct. Faults start off. The production retry policy is kept, with
/// shorter backoff and a 300 ms attempt timeout so a delayed request times out while the
/// server may still apply it.
pub async fn spawn_app_behind_faults(mix: FaultMix, seed: u64) -> (TestApp, FaultProxy) {
    let mut app = spawn_app().await;
    let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("checked by spawn_app");
    let proxy = FaultProxy::start(&upstream, mix, seed).await;
    let sdk =
        agentid::runtime::aws_config().expect("AWS_REGION and credentials in the environment");
    let config = client_config(&sdk)
        .endpoint_url(proxy.endpoint.clone())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(SDK_MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(5))
                .with_max_backoff(Duration::from_millis(200)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_millis(300))
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
        .interceptor(app.requests.clone())
        .build();
    let store = Store::new(Client::from_conf(config), app.store.table_name());
    app.mint = Mint::new(store.clone(), test_pepper());
    app.audit = AuditApi::new(store.clone());
    app.authorizer = Authorizer::new(store.clone(), test_pepper());
    app.store = store;
    (app, proxy)
}

impl TestApp {
    /// Sends a request to the management API; returns the status and the JSON body.
    pub async fn call(&self, req: Request) -> (u16, Value) {
        let sent = hygiene::body_bytes(req.body()).to_vec();
        let response = self.mint.handle(req).await;
        hygiene::record(
            &sent,
            response.status().as_u16(),
            hygiene::body_bytes(response.body()),
        );
        let status = response.status().as_u16();
        let body = match response.body() {
            lambda_http::Body::Text(text) => serde_json::from_str(text).expect("JSON body"),
            _ => Value::Null,
        };
        self.requests.take();
        (status, body)
    }

    /// Sends a request to the audit API; returns the status and the JSON body.
    pub async fn call_audit(&self, req: Request) -> (u16, Value) {
        let sent = hygiene::body_bytes(req.body()).to_vec();
        let response = self.audit.handle(req).await;
        hygiene::record(
            &sent,
            response.status().as_u16(),
            hygiene::body_bytes(response.body()),
        );
        let status = response.status().as_u16();
        let body = match response.body() {
            lambda_http::Body::Text(text) => serde_json::from_str(text).expect("JSON body"),
            _ => Value::Null,
        };
        (status, body)
    }

    /// A human's GET on the audit API.
    pub async fn query_audit(&self, path: &str, caller: As<'_>) -> (u16, Value) {
        self.call_audit(http_request("GET", path, caller, None, &[]))
            .await
    }

    /// Verifies a bearer secret now, expecting success.
    pub async fn verify(&self, secret: &str) -> Attribution {
        self.authorizer
            .verify(secret, now())
            .await
            .expect("no fault")
            .expect("authorized")
    }

    /// Sends a request built from its parts (see [`http_request`]).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        caller: As<'_>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call(http_request(method, path, caller, body.as_ref(), &[]))
            .await
    }

    /// Every item in the table, sorted by key: for "nothing was written" assertions.
    pub async fn dump(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(self.store.table_name())
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan the test table");
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        let sort_key = |item: &HashMap<String, AttributeValue>| {
            let get = |name: &str| {
                item.get(name)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            (get("PK"), get("SK"))
        };
        items.sort_by_key(sort_key);
        self.requests.take();
        items
    }

    /// One raw item by key, strongly consistent.
    pub async fn raw_item(&self, pk: &str, sk: &str) -> Option<HashMap<String, AttributeValue>> {
        let out = self
            .client
            .get_item()
            .table_name(self.store.table_name())
            .key("PK", AttributeValue::S(pk.into()))
            .key("SK", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("raw get");
        self.requests.take();
        out.item
    }

    /// Registers `user` with `scopes` through the management API, as an administrator.
    pub async fn register(&self, user: &str, scopes: &[&str]) {
        let (status, body) = self
            .send(
                "PUT",
                &format!("/v1/users/{user}"),
                As::Admin("root"),
                Some(json!({"email": format!("{user}@example.com"), "scopes": scopes})),
            )
            .await;
        assert_eq!(status, 200, "register {user}: {body}");
    }

    /// Registers `owner` with `scopes` and creates their agent with those scopes, through the
    /// management API; returns the create response (agent, and credential with its secret).
    pub async fn owner_with_agent(&self, owner: &str, scopes: &[&str]) -> Value {
        self.register(owner, scopes).await;
        let (status, created) = self
            .send(
                "POST",
                "/v1/agents",
                As::User(owner),
                Some(json!({"name": "bot", "scopes": scopes})),
            )
            .await;
        assert_eq!(status, 201, "create {owner}'s agent: {created}");
        created
    }

    /// Registers an active user with the given scopes.
    pub async fn user(&self, id: &str, scopes: &[&str]) -> User {
        let user = self
            .store
            .upsert_user(
                &UserId::parse(id).unwrap(),
                &Email::parse(format!("{id}@example.com")).unwrap(),
                &ScopeSet::parse(scopes.iter().copied()).unwrap(),
                false,
                now(),
            )
            .await
            .expect("register user");
        self.requests.take();
        user
    }

    /// Creates an agent with its first credential for `owner`.
    pub async fn agent(&self, owner: &UserId) -> (Agent, Credential) {
        let (agent, cred) = new_agent(owner, now());
        self.store
            .create_agent(&agent, &cred)
            .await
            .expect("create agent");
        self.requests.take();
        (agent, cred)
    }
}

/// The event the holder of `attribution` records for `request_id` at `at` (action
/// `deploy.start` on `repo:acme/api`), as the audit API would build it.
pub fn event_by(attribution: &Attribution, request_id: &str, at: Timestamp) -> AuditEvent {
    let request_id = RequestId::parse(request_id).expect("test request id");
    AuditEvent {
        event_id: EventId::derive(attribution.credential_id.as_str(), &request_id),
        actor: attribution.actor(),
        accountable_principal_id: attribution.accountable_principal_id.clone(),
        agent_id: attribution.agent_id.clone(),
        legacy_service_account_id: attribution.legacy_service_account_id.clone(),
        credential_id: Some(attribution.credential_id.clone()),
        action: Action::parse("deploy.start").expect("action"),
        resource: Resource::parse("repo:acme/api").expect("resource"),
        outcome: Outcome::Success,
        request_id,
        details: None,
        occurred_at: at,
        received_at: at,
    }
}

/// The string attribute `name` of a raw item, or "" when it is absent or not a string.
pub fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

/// The current time.
pub fn now() -> Timestamp {
    Timestamp::now()
}

/// A fixed instant, for tests that place events in time.
pub fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("test timestamp")
}

/// A new agent and its first credential, consistent with each other, not yet stored.
pub fn new_agent(owner: &UserId, now: Timestamp) -> (Agent, Credential) {
    let agent_id = AgentId::generate();
    let cred_id = CredentialId::generate();
    let scopes = ScopeSet::parse(["repo:read"]).unwrap();
    let agent = Agent {
        agent_id: agent_id.clone(),
        name: Name::parse("deploy bot").unwrap(),
        owner_user_id: owner.clone(),
        scopes: scopes.clone(),
        status: AgentStatus::Active,
        credential_id: cred_id.clone(),
        active_credential_ids: [cred_id.clone()].into(),
        created_at: now,
        updated_at: now,
        revoked_at: None,
        revoke_reason: None,
        migrated_from_service_account_id: None,
        dual_write_until: None,
        request_fingerprint: None,
    };
    let cred = Credential {
        credential_id: cred_id,
        principal: Principal::Agent(agent_id.clone()),
        secret_hash: SecretHash("0".repeat(64)),
        status: CredentialStatus::Active,
        created_at: now,
        expires_at: None,
        revoked_at: None,
        revoke_reason: None,
        accountable_principal_id: Some(owner.clone()),
        agent_id: Some(agent_id),
        legacy_service_account_id: None,
        dual_write_until: None,
        scopes,
        request_fingerprint: None,
    };
    (agent, cred)
}
