//! The local gateway in front of the real handlers, against a real DynamoDB-compatible server:
//! JWT validation, the Lambda authorizer on the audit routes, dispatch, the stream feeding usage,
//! and the template's routes.

use std::time::Duration;

use agentid::api::audit::AuditApi;
use agentid::api::authorizer::Authorizer;
use agentid::api::mint::Mint;
use agentid::sweep::{Sweep, SweepConfig};
use agentid::usage::Aggregator;
use agentid_integration::{hygiene, spawn_app, test_pepper, TestApp};
use agentid_local::jwt::{Claims, DevJwt, AUDIENCE, ISSUER};
use agentid_local::Gateway;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{json, Value};

fn gateway(app: &TestApp) -> Gateway {
    Gateway {
        mint: Mint::new(app.store.clone(), test_pepper()),
        audit: AuditApi::new(app.store.clone()),
        authorizer: Authorizer::new(app.store.clone(), test_pepper()),
        sweep: Sweep::new(app.store.clone(), SweepConfig::default()),
        jwt: DevJwt::from_key(vec![7; 32]),
    }
}

/// The table's stream feeding the usage aggregator, polled every 100 ms, as the gateway runs it.
async fn follow_stream(app: &TestApp) -> tokio::task::JoinHandle<()> {
    let sdk =
        agentid::runtime::aws_config().expect("AWS_REGION and credentials in the environment");
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap();
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(
        aws_sdk_dynamodbstreams::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .build(),
    );
    tokio::spawn(agentid_local::stream::follow(
        app.client.clone(),
        streams,
        app.store.table_name().to_owned(),
        Aggregator::new(app.store.clone()),
        Duration::from_millis(100),
    ))
}

async fn call(
    gw: &Gateway,
    method: Method,
    target: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(token) = bearer {
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
    }
    let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    let sent = body.clone();
    let response = gw.handle(&method, target, &headers, body).await;
    hygiene::record(&sent, response.status().as_u16(), response.body());
    let status = response.status().as_u16();
    let json = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    (status, json)
}

#[tokio::test]
async fn tampered_or_missing_jwts_are_401_before_any_handler() {
    let app = spawn_app().await;
    let gw = gateway(&app);
    let good = gw.jwt.issue("root", true, 60).unwrap();
    let (status, _) = call(
        &gw,
        Method::PUT,
        "/v1/users/govind",
        Some(&good),
        Some(json!({"email": "g@example.com"})),
    )
    .await;
    assert_eq!(status, 200);

    let other_key = DevJwt::from_key(vec![1; 32])
        .issue("root", true, 60)
        .unwrap();
    let payload = good.split('.').nth(1).unwrap();
    let alg_none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
    );
    let now = chrono::Utc::now().timestamp() as u64;
    let sign = |claims: &Claims| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(&[7; 32]).unwrap(),
        )
        .unwrap()
    };
    let expired = sign(&Claims {
        sub: "root".into(),
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        exp: now - 5,
        iat: now - 60,
        groups: vec!["agentid-admins".into()],
    });
    let wrong_audience = sign(&Claims {
        sub: "root".into(),
        iss: ISSUER.into(),
        aud: "elsewhere".into(),
        exp: now + 60,
        iat: now,
        groups: vec![],
    });
    let before = app.dump().await;
    for (name, token) in [
        ("other key", Some(other_key.as_str())),
        ("alg none", Some(alg_none.as_str())),
        ("expired", Some(expired.as_str())),
        ("wrong audience", Some(wrong_audience.as_str())),
        ("none", None),
    ] {
        let (status, body) = call(
            &gw,
            Method::PUT,
            "/v1/users/mallory",
            token,
            Some(json!({"email": "m@example.com"})),
        )
        .await;
        assert_eq!(status, 401, "{name}: {body}");
    }
    assert_eq!(app.dump().await, before, "nothing written");
}

#[tokio::test]
async fn credentials_pass_the_authorizer_and_events_carry_its_attribution() {
    let app = spawn_app().await;
    let gw = gateway(&app);
    let admin = gw.jwt.issue("root", true, 60).unwrap();
    call(
        &gw,
        Method::PUT,
        "/v1/users/govind",
        Some(&admin),
        Some(json!({"email": "g@example.com", "scopes": ["repo:read"]})),
    )
    .await;
    let (status, created) = call(
        &gw,
        Method::POST,
        "/v1/agents",
        Some(&admin),
        Some(json!({"name": "bot", "ownerUserId": "govind", "scopes": ["repo:read"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["credential"]["secret"].as_str().unwrap().to_owned();
    let event = json!({"action": "deploy.start", "resource": "repo:acme/api", "outcome": "success", "requestId": "gw-1", "occurredAt": agentid::time::Timestamp::now().to_string()});
    let (status, recorded) = call(
        &gw,
        Method::POST,
        "/v1/audit-events",
        Some(&secret),
        Some(event.clone()),
    )
    .await;
    assert_eq!(status, 201, "{recorded}");
    assert_eq!(recorded["event"]["accountablePrincipalId"], "govind");
    // A JWT is not a credential, a forged token is denied, no token is 401.
    let (status, _) = call(
        &gw,
        Method::POST,
        "/v1/audit-events",
        Some(&admin),
        Some(event.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &gw,
        Method::POST,
        "/v1/audit-events",
        Some("agid_ag_forged"),
        Some(event.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(&gw, Method::POST, "/v1/audit-events", None, Some(event)).await;
    assert_eq!(status, 401);
    // Queries take a human's JWT, with query strings decoded as API Gateway does.
    let govind = gw.jwt.issue("govind", false, 60).unwrap();
    let (status, listed) = call(
        &gw,
        Method::GET,
        "/v1/audit-events?accountablePrincipalId=govind&since=1d",
        Some(&govind),
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["items"][0]["requestId"], "gw-1");
    let (status, _) = call(&gw, Method::GET, "/v1/nowhere", Some(&govind), None).await;
    assert_eq!(status, 404);
    // The sweep on demand, at a chosen time.
    let (status, report) = call(
        &gw,
        Method::POST,
        "/_local/sweep?at=2030-01-01T00:00:00Z&dryRun=true",
        None,
        None,
    )
    .await;
    assert_eq!((status, report["dryRun"].as_bool()), (200, Some(true)));
}

#[tokio::test]
async fn the_stream_feeds_usage() {
    let app = spawn_app().await;
    let gw = gateway(&app);
    let admin = gw.jwt.issue("root", true, 60).unwrap();
    call(
        &gw,
        Method::PUT,
        "/v1/users/govind",
        Some(&admin),
        Some(json!({"email": "g@example.com"})),
    )
    .await;
    let (_, created) = call(
        &gw,
        Method::POST,
        "/v1/agents",
        Some(&admin),
        Some(json!({"name": "bot", "ownerUserId": "govind"})),
    )
    .await;
    let secret = created["credential"]["secret"].as_str().unwrap().to_owned();
    for i in 0..3 {
        let event = json!({"action": "a", "resource": "r", "outcome": "success", "requestId": format!("s-{i}"), "occurredAt": agentid::time::Timestamp::now().to_string()});
        let (status, _) = call(
            &gw,
            Method::POST,
            "/v1/audit-events",
            Some(&secret),
            Some(event),
        )
        .await;
        assert_eq!(status, 201);
    }
    let follower = follow_stream(&app).await;
    let credential = agentid::credential::Token::parse(&secret)
        .unwrap()
        .credential_id;
    let subject = agentid::model::UsageSubject::Credential(credential);
    let mut counted = 0;
    for _ in 0..100 {
        counted = app
            .store
            .recent_usage(&subject, agentid::time::Timestamp::now().day(), 1)
            .await
            .unwrap()
            .first()
            .map_or(0, |d| d.count);
        if counted >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    follower.abort();
    assert_eq!(counted, 3, "every event counted once from the stream");
}

#[test]
fn the_gateway_serves_exactly_the_templates_routes() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
        .unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut template = Vec::new();
    for resource in doc["Resources"].as_mapping().unwrap().values() {
        if let Some(events) = resource["Properties"]["Events"].as_mapping() {
            for event in events
                .values()
                .filter(|e| e["Type"].as_str() == Some("HttpApi"))
            {
                let p = &event["Properties"];
                let credential = p["Auth"]["Authorizer"].as_str() == Some("AgentCredential");
                template.push((
                    p["Method"].as_str().unwrap().to_owned(),
                    p["Path"].as_str().unwrap().to_owned(),
                    credential,
                ));
            }
        }
    }
    template.sort();
    let mut served: Vec<(String, String, bool)> = agentid_local::event::routes()
        .into_iter()
        .map(|(_, m, p, auth)| {
            (
                m.to_owned(),
                p.to_owned(),
                auth == agentid_local::event::Auth::Credential,
            )
        })
        .collect();
    served.sort();
    assert_eq!(served, template);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_walks_the_six_steps_to_the_expected_outcome() {
    let app = spawn_app().await;
    let gw = std::sync::Arc::new(gateway(&app));
    let app_router = axum::Router::new()
        .fallback(
            |axum::extract::State(gw): axum::extract::State<std::sync::Arc<Gateway>>,
             method: Method,
             uri: http::Uri,
             headers: HeaderMap,
             body: Bytes| async move {
                let target = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
                let sent = body.clone();
                let response = gw.handle(&method, &target, &headers, body).await;
                hygiene::record(&sent, response.status().as_u16(), response.body());
                response.map(axum::body::Body::from)
            },
        )
        .with_state(gw);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app_router).await });
    let follower = follow_stream(&app).await;

    let outcome = agentid_local::demo::run(&base)
        .await
        .expect("the demo runs to the end");
    follower.abort();
    server.abort();
    assert_eq!(outcome.migrated.len(), 3);
    let mut migrated = outcome.migrated.clone();
    migrated.sort();
    assert_eq!(
        outcome.revoked, migrated,
        "day 8 revokes every quiet legacy credential"
    );
    assert_eq!(outcome.purged, migrated, "day 15 purges them");
    assert!(outcome.org_owned_untouched);
    assert!(outcome.integrations_gate_held);
    assert!(outcome.legacy_denied_after_revocation);
    assert_eq!(outcome.lead_events_this_week, 2);
    assert_eq!(outcome.responsible_email, "govind@example.com");
    assert_eq!(outcome.offboarded_agents, 1);
}

/// Who calls, in the matrix's column order.
const CALLERS: [&str; 5] = ["owner", "other", "admin", "agent", "none"];

#[tokio::test]
async fn every_route_for_owner_other_user_admin_agent_credential_and_nobody() {
    let app = spawn_app().await;
    let gw = gateway(&app);
    let admin = gw.jwt.issue("root", true, 600).unwrap();
    let ok = |method: Method, path: String, body: Value| {
        let (gw, admin) = (&gw, &admin);
        async move {
            let (status, response) = call(gw, method.clone(), &path, Some(admin), Some(body)).await;
            assert!((200..300).contains(&status), "{method} {path}: {response}");
            response
        }
    };
    for user in ["govind", "priya"] {
        ok(
            Method::PUT,
            format!("/v1/users/{user}"),
            json!({"email": format!("{user}@example.com"), "scopes": ["repo:read"]}),
        )
        .await;
    }
    let agent_of_govind = || async {
        let created = ok(
            Method::POST,
            "/v1/agents".into(),
            json!({"name": "bot", "ownerUserId": "govind", "scopes": ["repo:read"]}),
        )
        .await;
        let field = |v: &Value| v.as_str().unwrap().to_owned();
        (
            field(&created["agent"]["agentId"]),
            field(&created["credential"]["credentialId"]),
            field(&created["credential"]["secret"]),
        )
    };
    let (_, _, agent_secret) = agent_of_govind().await;
    let tokens = [
        Some(gw.jwt.issue("govind", false, 600).unwrap()),
        Some(gw.jwt.issue("priya", false, 600).unwrap()),
        Some(admin.clone()),
        Some(agent_secret),
        None,
    ];

    let mut cells = 0;
    for (i, who) in CALLERS.iter().enumerate() {
        let off = format!("off-{i}");
        ok(
            Method::PUT,
            format!("/v1/users/{off}"),
            json!({"email": "off@example.com"}),
        )
        .await;
        let (agent, _, _) = agent_of_govind().await;
        let (to_transfer, _, _) = agent_of_govind().await;
        let (to_revoke, _, _) = agent_of_govind().await;
        let (_, cred, _) = agent_of_govind().await;
        for (id, owner, migrate) in [
            (format!("own-{i}"), false, false),
            (format!("mig-{i}"), true, false),
            (format!("rb-{i}"), true, true),
            (format!("st-{i}"), true, false),
        ] {
            ok(Method::PUT, format!("/v1/service-accounts/{id}"), json!({"name": id, "kind": "migrate", "integrationsReviewed": true, "scopes": ["repo:read"]})).await;
            if owner {
                ok(
                    Method::PUT,
                    format!("/v1/service-accounts/{id}/owner"),
                    json!({"ownerUserId": "govind"}),
                )
                .await;
            }
            if migrate {
                ok(
                    Method::POST,
                    format!("/v1/service-accounts/{id}/migrate"),
                    json!({}),
                )
                .await;
            }
        }
        let event = json!({"action": "deploy.start", "resource": "repo:acme/api", "outcome": "success",
            "requestId": format!("matrix-{i}"), "occurredAt": agentid::time::Timestamp::now().to_string()});

        let mut batch_event = event.clone();
        batch_event["requestId"] = format!("matrix-batch-{i}").into();

        // Management routes sit behind the JWT authorizer: a credential is not a JWT (401).
        // Recording takes a credential through the Lambda authorizer: a JWT is denied (403).
        // (method, path, body, expected status for owner, other, admin, agent, none)
        let matrix: Vec<(Method, String, Value, [u16; 5])> = vec![
            (
                Method::PUT,
                format!("/v1/users/{off}"),
                json!({"email": "x@example.com"}),
                [403, 403, 200, 401, 401],
            ),
            (
                Method::POST,
                format!("/v1/users/{off}/offboard"),
                json!({}),
                [403, 403, 200, 401, 401],
            ),
            (
                Method::POST,
                "/v1/agents".into(),
                json!({"name": "n", "ownerUserId": "govind"}),
                [201, 403, 201, 401, 401],
            ),
            (
                Method::GET,
                "/v1/agents?ownerUserId=govind".into(),
                Value::Null,
                [200, 403, 200, 401, 401],
            ),
            (
                Method::GET,
                format!("/v1/agents/{agent}"),
                Value::Null,
                [200, 403, 200, 401, 401],
            ),
            (
                Method::DELETE,
                format!("/v1/agents/{to_revoke}"),
                Value::Null,
                [200, 403, 200, 401, 401],
            ),
            (
                Method::GET,
                format!("/v1/agents/{agent}/accountable"),
                Value::Null,
                [200, 403, 200, 401, 401],
            ),
            (
                Method::POST,
                format!("/v1/agents/{agent}/credentials"),
                json!({"graceSeconds": 0}),
                [201, 403, 201, 401, 401],
            ),
            (
                Method::POST,
                format!("/v1/agents/{to_transfer}/transfer"),
                json!({"newOwnerUserId": "priya"}),
                [403, 403, 200, 401, 401],
            ),
            (
                Method::DELETE,
                format!("/v1/credentials/{cred}"),
                Value::Null,
                [200, 403, 200, 401, 401],
            ),
            (
                Method::PUT,
                format!("/v1/service-accounts/put-{i}"),
                json!({"name": "n", "kind": "migrate"}),
                [403, 403, 201, 401, 401],
            ),
            (
                Method::PUT,
                format!("/v1/service-accounts/own-{i}/owner"),
                json!({"ownerUserId": "govind"}),
                [403, 403, 200, 401, 401],
            ),
            (
                Method::POST,
                format!("/v1/service-accounts/mig-{i}/migrate"),
                json!({}),
                [403, 403, 201, 401, 401],
            ),
            (
                Method::POST,
                format!("/v1/service-accounts/rb-{i}/rollback"),
                Value::Null,
                [403, 403, 200, 401, 401],
            ),
            (
                Method::GET,
                format!("/v1/service-accounts/st-{i}/migration"),
                Value::Null,
                [403, 403, 200, 401, 401],
            ),
            (
                Method::GET,
                "/v1/migration".into(),
                Value::Null,
                [403, 403, 200, 401, 401],
            ),
            (
                Method::POST,
                "/v1/audit-events".into(),
                event.clone(),
                [403, 403, 403, 201, 401],
            ),
            (
                Method::POST,
                "/v1/audit-events/batch".into(),
                json!({"events": [batch_event]}),
                [403, 403, 403, 201, 401],
            ),
            (
                Method::GET,
                "/v1/audit-events?accountablePrincipalId=govind".into(),
                Value::Null,
                [200, 403, 200, 401, 401],
            ),
        ];
        assert_eq!(
            matrix.len(),
            agentid::api::mint::ROUTES.len() + agentid::api::audit::ROUTES.len(),
            "every route is in the matrix"
        );
        for (method, path, body, expected) in matrix {
            let want = expected[i];
            let before = (want >= 400).then_some(app.dump().await);
            let body = (!body.is_null()).then_some(body);
            let (status, response) =
                call(&gw, method.clone(), &path, tokens[i].as_deref(), body).await;
            assert_eq!(status, want, "{who}: {method} {path}: {response}");
            if let Some(before) = before {
                assert_eq!(
                    app.dump().await,
                    before,
                    "{who}: refused {method} {path} wrote something"
                );
                // The gateway refuses with API Gateway's own body; a handler with its code.
                let refusal = response["error"]["code"]
                    .as_str()
                    .or(response["message"].as_str())
                    .unwrap_or_default();
                let allowed: &[&str] = match want {
                    401 => &["Unauthorized", "unauthenticated"],
                    _ => &["Forbidden", "forbidden"],
                };
                assert!(
                    allowed.contains(&refusal),
                    "{who}: {method} {path}: {response}"
                );
            }
            cells += 1;
        }
    }
    assert_eq!(cells, 19 * 5);
}
