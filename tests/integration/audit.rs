use agentid::ids::{AgentId, CredentialId, EventId, RequestId, ServiceAccountId, UserId};
use agentid::keys;
use agentid::model::{Actor, AuditEvent, Outcome};
use agentid::store::{AuditQuery, EventSelector, PageRequest, PageToken, PutOutcome, StoreError};
use agentid::time::Timestamp;
use agentid::values::{Action, Resource};
use agentid_integration::{at, spawn_app};

struct Who {
    agent: AgentId,
    owner: UserId,
    cred: CredentialId,
    legacy: Option<ServiceAccountId>,
}

fn event(who: &Who, request: &str, occurred_at: Timestamp) -> AuditEvent {
    let request_id = RequestId::parse(request).unwrap();
    AuditEvent {
        event_id: EventId::derive(who.cred.as_str(), &request_id),
        actor: Actor::agent(&who.agent),
        accountable_principal_id: Some(who.owner.clone()),
        agent_id: Some(who.agent.clone()),
        legacy_service_account_id: who.legacy.clone(),
        credential_id: Some(who.cred.clone()),
        action: Action::parse("deploy.start").unwrap(),
        resource: Resource::parse("repo:acme/api").unwrap(),
        outcome: Outcome::Success,
        request_id,
        details: Some(serde_json::json!({"commit": "abc123", "attempt": 1})),
        occurred_at,
        received_at: occurred_at,
    }
}

fn who(legacy: Option<&str>) -> Who {
    Who {
        agent: AgentId::generate(),
        owner: UserId::parse("govind").unwrap(),
        cred: CredentialId::generate(),
        legacy: legacy.map(|s| ServiceAccountId::parse(s).unwrap()),
    }
}

#[tokio::test]
async fn a_duplicate_event_is_stored_once() {
    let app = spawn_app().await;
    let w = who(None);
    let first = event(&w, "req-1", at("2026-05-01T10:00:00Z"));
    assert_eq!(
        app.store.put_audit_event(&first).await.unwrap(),
        PutOutcome::Created(first.clone())
    );
    let mut retry = first.clone();
    retry.received_at = at("2026-05-01T10:00:03Z");
    let replay = app.store.put_audit_event(&retry).await.unwrap();
    assert_eq!(
        replay,
        PutOutcome::Replayed(first.clone()),
        "the stored event, as first written"
    );
    let events: Vec<_> = app
        .dump()
        .await
        .into_iter()
        .filter(|i| i["type"].as_s().unwrap() == "audit_event")
        .collect();
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn index_entries_follow_the_attribution() {
    let app = spawn_app().await;
    let during = who(Some("sa-7"));
    let after = who(None);
    let e1 = event(&during, "r1", at("2026-05-01T10:00:00Z"));
    let e2 = event(&after, "r2", at("2026-05-01T10:00:00Z"));
    app.store.put_audit_event(&e1).await.unwrap();
    app.store.put_audit_event(&e2).await.unwrap();
    let sk1 = format!("EVT#2026-05-01T10:00:00.000Z#{}", e1.event_id);
    let raw = app
        .raw_item(&format!("ACTOR#agent#{}", during.agent), &sk1)
        .await
        .unwrap();
    assert_eq!(
        raw["GSI1PK"].as_s().unwrap(),
        &format!(
            "ACCOUNTABLE#govind#{}",
            keys::accountable_shard(&e1.event_id)
        )
    );
    assert_eq!(raw["GSI2PK"].as_s().unwrap(), "LEGACYSA#sa-7");
    assert_eq!(raw["legacyServiceAccountId"].as_s().unwrap(), "sa-7");
    let sk2 = format!("EVT#2026-05-01T10:00:00.000Z#{}", e2.event_id);
    let raw = app
        .raw_item(&format!("ACTOR#agent#{}", after.agent), &sk2)
        .await
        .unwrap();
    assert_eq!(
        raw["GSI1PK"].as_s().unwrap(),
        &format!(
            "ACCOUNTABLE#govind#{}",
            keys::accountable_shard(&e2.event_id)
        )
    );
    assert!(!raw.contains_key("GSI2PK") && !raw.contains_key("legacyServiceAccountId"));

    let mut unowned = event(&after, "r3", at("2026-05-01T10:00:00Z"));
    unowned.actor = Actor::service_account(&ServiceAccountId::parse("nightly").unwrap());
    unowned.accountable_principal_id = None;
    unowned.agent_id = None;
    app.store.put_audit_event(&unowned).await.unwrap();
    let sk3 = format!("EVT#2026-05-01T10:00:00.000Z#{}", unowned.event_id);
    let raw = app
        .raw_item("ACTOR#service_account#nightly", &sk3)
        .await
        .unwrap();
    assert!(
        !raw.contains_key("GSI1PK"),
        "no accountable human, no GSI1 entry"
    );
    assert!(
        !raw.contains_key("accountablePrincipalId"),
        "absent, not NULL"
    );
}

#[tokio::test]
async fn events_query_by_actor_accountable_and_legacy_account_newest_first() {
    let app = spawn_app().await;
    let w = who(Some("sa-7"));
    let mut other = who(None);
    other.owner = UserId::parse("someone").unwrap();
    let days = ["2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04"];
    let mut written = Vec::new();
    for (i, day) in days.iter().enumerate() {
        let e = event(&w, &format!("req-{i}"), at(&format!("{day}T12:00:00Z")));
        app.store.put_audit_event(&e).await.unwrap();
        written.push(e);
        app.store
            .put_audit_event(&event(
                &other,
                &format!("o-{i}"),
                at(&format!("{day}T12:00:00Z")),
            ))
            .await
            .unwrap();
    }
    let newest_first: Vec<_> = written.iter().rev().cloned().collect();
    for selector in [
        EventSelector::Actor(Actor::agent(&w.agent)),
        EventSelector::AccountableTo(w.owner.clone()),
        EventSelector::DualWrittenFor(ServiceAccountId::parse("sa-7").unwrap()),
    ] {
        let all = AuditQuery {
            selector: selector.clone(),
            since: None,
            until: None,
        };
        let got = app
            .store
            .query_audit_events(&all, &PageRequest::first())
            .await
            .unwrap();
        assert_eq!(got.items, newest_first, "{selector:?}");

        let window = AuditQuery {
            selector: selector.clone(),
            since: Some(at("2026-05-02T12:00:00Z")),
            until: Some(at("2026-05-03T12:00:00Z")),
        };
        let got = app
            .store
            .query_audit_events(&window, &PageRequest::first())
            .await
            .unwrap();
        assert_eq!(
            got.items,
            vec![written[2].clone(), written[1].clone()],
            "inclusive bounds, {selector:?}"
        );

        let p1 = app
            .store
            .query_audit_events(&all, &PageRequest::new(3, None).unwrap())
            .await
            .unwrap();
        assert_eq!(p1.items.len(), 3);
        let p2 = app
            .store
            .query_audit_events(&all, &PageRequest::new(3, p1.next.clone()).unwrap())
            .await
            .unwrap();
        assert_eq!(p2.items, vec![written[0].clone()]);
    }
}

#[tokio::test]
async fn bad_queries_and_oversized_events_are_refused() {
    let app = spawn_app().await;
    let w = who(None);
    let backwards = AuditQuery {
        selector: EventSelector::AccountableTo(w.owner.clone()),
        since: Some(at("2026-05-03T00:00:00Z")),
        until: Some(at("2026-05-01T00:00:00Z")),
    };
    assert!(matches!(
        app.store
            .query_audit_events(&backwards, &PageRequest::first())
            .await,
        Err(StoreError::Validation(_))
    ));
    let forged = PageRequest::new(10, Some(PageToken::parse("bm90LWEtdG9rZW4").unwrap())).unwrap();
    let q = AuditQuery {
        selector: EventSelector::AccountableTo(w.owner.clone()),
        since: None,
        until: None,
    };
    assert!(matches!(
        app.store.query_audit_events(&q, &forged).await,
        Err(StoreError::Validation(_))
    ));

    let mut big = event(&w, "big", at("2026-05-01T00:00:00Z"));
    big.details = Some(serde_json::json!({"blob": "x".repeat(5000)}));
    let before = app.dump().await;
    assert!(matches!(
        app.store.put_audit_event(&big).await,
        Err(StoreError::Validation(_))
    ));
    assert_eq!(app.dump().await, before);
}

#[tokio::test]
async fn an_owners_page_is_full_even_when_one_shard_holds_everything() {
    let app = spawn_app().await;
    let w = who(None);
    // Request ids whose events all hash to one shard: the worst skew the merge can meet.
    let mut written = Vec::new();
    let mut n = 0;
    while written.len() < 12 {
        n += 1;
        let request = format!("skew-{n}");
        let id = EventId::derive(w.cred.as_str(), &RequestId::parse(&request).unwrap());
        if keys::accountable_shard(&id) != 2 {
            continue;
        }
        let e = event(
            &w,
            &request,
            at("2026-05-01T10:00:00Z").plus(chrono::Duration::seconds(written.len() as i64)),
        );
        app.store.put_audit_event(&e).await.unwrap();
        written.push(e);
    }
    let newest_first: Vec<_> = written.iter().rev().cloned().collect();
    let all = AuditQuery {
        selector: EventSelector::AccountableTo(w.owner.clone()),
        since: None,
        until: None,
    };
    let mut listed = Vec::new();
    let mut next = None;
    loop {
        let page = app
            .store
            .query_audit_events(&all, &PageRequest::new(5, next).unwrap())
            .await
            .unwrap();
        if page.next.is_some() {
            assert_eq!(page.items.len(), 5, "a full page before the end");
        }
        listed.extend(page.items);
        next = page.next;
        if next.is_none() {
            break;
        }
    }
    assert_eq!(listed, newest_first);
}
