//! CPU cost of minting and verifying credentials, I/O excluded.

use agentid::api::authorizer::Attribution;
use agentid::credential::{Pepper, Token, TokenKind};
use agentid::ids::{AgentId, EventId, RequestId, ServiceAccountId, UserId};
use agentid::model::{Actor, AuditEvent, Credential, CredentialStatus, Outcome, Principal};
use agentid::time::Timestamp;
use agentid::values::{Action, Resource, ScopeSet};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn credentials(c: &mut Criterion) {
    let pepper = Pepper::from_bytes(vec![42u8; 32]).unwrap();
    c.bench_function("generate + format + hash", |b| {
        b.iter(|| {
            let token = Token::generate(TokenKind::Agent).unwrap();
            let text = token.reveal();
            black_box((pepper.hash_token(&token), text))
        })
    });
    let token = Token::generate(TokenKind::Agent).unwrap();
    let text = token.reveal().expose().to_owned();
    let stored = pepper.hash_token(&token);
    c.bench_function("parse + verify", |b| {
        b.iter(|| {
            let parsed = Token::parse(black_box(&text)).unwrap();
            black_box(pepper.verify_token(&parsed, &stored))
        })
    });
    let cred = Credential {
        credential_id: token.credential_id.clone(),
        principal: Principal::Agent(AgentId::generate()),
        secret_hash: stored.clone(),
        status: CredentialStatus::Active,
        created_at: Timestamp::now(),
        expires_at: None,
        revoked_at: None,
        revoke_reason: None,
        accountable_principal_id: Some(UserId::parse("govind").unwrap()),
        agent_id: None,
        legacy_service_account_id: Some(ServiceAccountId::parse("sa-deploy").unwrap()),
        dual_write_until: Some(Timestamp::now().plus(chrono::Duration::days(7))),
        scopes: ScopeSet::parse(["repo:read", "deploy:run"]).unwrap(),
        request_fingerprint: None,
    };
    c.bench_function(
        "authorizer CPU: parse + verify + attribution + context",
        |b| {
            b.iter(|| {
                let parsed = Token::parse(black_box(&text)).unwrap();
                assert!(pepper.verify_token(&parsed, &cred.secret_hash));
                let now = Timestamp::now();
                assert!(cred.is_usable_at(now));
                black_box(Attribution::of(&cred, now).to_context())
            })
        },
    );
    let event = AuditEvent {
        event_id: EventId::derive(
            token.credential_id.as_str(),
            &RequestId::parse("req-1").unwrap(),
        ),
        actor: Actor::agent(&AgentId::generate()),
        accountable_principal_id: Some(UserId::parse("govind").unwrap()),
        agent_id: None,
        legacy_service_account_id: None,
        credential_id: Some(token.credential_id.clone()),
        action: Action::parse("deploy.start").unwrap(),
        resource: Resource::parse("repo:acme/api").unwrap(),
        outcome: Outcome::Success,
        request_id: RequestId::parse("req-1").unwrap(),
        details: Some(serde_json::json!({"commit": "9c1e2f0"})),
        occurred_at: Timestamp::now(),
        received_at: Timestamp::now(),
    };
    c.bench_function("audit CPU: event to DynamoDB item", |b| {
        b.iter(|| {
            let item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
                serde_dynamo::to_item(black_box(&event)).unwrap();
            black_box(item)
        })
    });
    c.bench_function("baseline: HMAC-SHA-256 of 32 bytes", |b| {
        b.iter(|| black_box(pepper.hash_token(black_box(&token))))
    });
}

criterion_group!(benches, credentials);
criterion_main!(benches);
