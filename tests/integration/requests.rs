//! The requests each hot operation sends: the cost users pay.

use agentid::ids::{EventId, RequestId};
use agentid::model::{Actor, AuditEvent, Outcome};
use agentid::values::{Action, Resource};
use agentid_integration::{new_agent, now, spawn_app};

#[tokio::test]
async fn hot_paths_send_the_minimum_requests() {
    let app = spawn_app().await;
    let owner = app.user("govind", &["repo:read"]).await.user_id;

    let (agent, cred) = new_agent(&owner, now());
    app.requests.take();
    app.store.create_agent(&agent, &cred).await.unwrap();
    assert_eq!(
        app.requests.take(),
        ["TransactWriteItems"],
        "create-agent is one transaction"
    );

    app.store
        .get_credential(&cred.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        app.requests.take(),
        ["GetItem"],
        "a credential lookup is one GetItem"
    );

    let request_id = RequestId::parse("req-1").unwrap();
    let event = AuditEvent {
        event_id: EventId::derive(cred.credential_id.as_str(), &request_id),
        actor: Actor::agent(&agent.agent_id),
        accountable_principal_id: Some(owner.clone()),
        agent_id: Some(agent.agent_id.clone()),
        legacy_service_account_id: None,
        credential_id: Some(cred.credential_id.clone()),
        action: Action::parse("deploy.start").unwrap(),
        resource: Resource::parse("repo:acme/api").unwrap(),
        outcome: Outcome::Success,
        request_id,
        details: None,
        occurred_at: now(),
        received_at: now(),
    };
    app.store.put_audit_event(&event).await.unwrap();
    assert_eq!(
        app.requests.take(),
        ["PutItem"],
        "an audit write is one PutItem"
    );

    app.store.put_audit_event(&event).await.unwrap();
    let replay = app.requests.take();
    assert_eq!(
        replay,
        ["PutItem"],
        "a replay is one PutItem returning the stored event"
    );
}
