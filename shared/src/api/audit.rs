//! The audit API: action handlers record what an agent (or legacy service account) did, with
//! attribution stamped from the Lambda authorizer's context at write time; humans query the log.
//!
//! # The fail-closed contract for callers
//!
//! Record the action *before* performing it, and perform it only on a 201 or 200. Any other
//! answer (a 503 `audit_unavailable`, a timeout, a dropped connection) means the action must not
//! proceed. Retrying is always safe: an event is identified by the credential and the caller's
//! `requestId`, and placed in time by `occurredAt`; resending the same body stores nothing new and
//! answers 200 with the event as first stored.

use chrono::Duration;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::authorizer::{context_of, Attribution};
use super::{
    error_response, field, json_body, page_request, query_param, respond, ApiError, Caller,
};
use crate::ids::{AgentId, EventId, RequestId, ServiceAccountId, UserId};
use crate::model::{details_fit, Actor, ActorType, AuditEvent, Outcome, MAX_DETAILS_BYTES};
use crate::store::{
    AuditQuery, EventSelector, PageToken, PutOutcome, Store, StoreError, MAX_BATCH,
};
use crate::time::Timestamp;
use crate::values::{Action, Resource};

/// Every route this function serves: method and path template, as in `template.yaml`.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/audit-events"),
    ("POST", "/v1/audit-events/batch"),
    ("GET", "/v1/audit-events"),
];

/// How far in the past `occurredAt` may be: a caller retrying for longer records a new attempt.
pub const MAX_PAST_SKEW_MINUTES: i64 = 10;
/// How far in the future `occurredAt` may be (clock skew).
pub const MAX_FUTURE_SKEW_MINUTES: i64 = 2;

/// The audit API's state: built once at init.
#[derive(Debug, Clone)]
pub struct AuditApi {
    store: Store,
}

impl AuditApi {
    /// The API over `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Handles one request. Never fails: errors become their JSON responses.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        match self.route(&req).await {
            Ok(response) => response,
            Err(err) => error_response(&err),
        }
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let path = req.uri().path().trim_end_matches('/').to_owned();
        match (req.method().as_str(), path.as_str()) {
            ("POST", "/v1/audit-events") => self.record(req).await,
            ("POST", "/v1/audit-events/batch") => self.record_batch(req).await,
            ("GET", "/v1/audit-events") => self.query(req).await,
            (_, "/v1/audit-events" | "/v1/audit-events/batch") => Err(ApiError::MethodNotAllowed),
            _ => Err(ApiError::not_found(
                "route_not_found",
                format!("no route {path}"),
            )),
        }
    }

    async fn record(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let attribution = attribution_of(req)?;
        let body: EventBody = json_body(req)?;
        let now = Timestamp::now();
        let event = build_event(&attribution, body, now)?;
        let outcome = self
            .store
            .put_audit_event(&event)
            .await
            .map_err(unavailable)?;
        match outcome {
            PutOutcome::Created(stored) => {
                Ok(respond(201, &json!({"event": stored, "replayed": false})))
            }
            PutOutcome::Replayed(stored) => {
                check_same_action(&stored, &event)?;
                Ok(respond(200, &json!({"event": stored, "replayed": true})))
            }
        }
    }

    async fn record_batch(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let attribution = attribution_of(req)?;
        let body: BatchBody = json_body(req)?;
        if body.events.is_empty() || body.events.len() > MAX_BATCH {
            return Err(ApiError::bad_request(
                "invalid_batch_size",
                format!("a batch holds 1 to {MAX_BATCH} events"),
            ));
        }
        let now = Timestamp::now();
        let mut events = Vec::with_capacity(body.events.len());
        for (i, item) in body.events.into_iter().enumerate() {
            let event = build_event(&attribution, item, now).map_err(|e| match e {
                ApiError::BadRequest { code, message } => {
                    ApiError::bad_request(code, format!("events[{i}]: {message}"))
                }
                other => other,
            })?;
            if events
                .iter()
                .any(|e: &AuditEvent| e.event_id == event.event_id)
            {
                return Err(ApiError::bad_request(
                    "duplicate_request_id",
                    format!("events[{i}]: requestId appears twice in the batch"),
                ));
            }
            events.push(event);
        }
        let outcomes = self
            .store
            .put_audit_events(&events)
            .await
            .map_err(unavailable)?;
        let mut created = false;
        let mut results = Vec::with_capacity(outcomes.len());
        for (outcome, event) in outcomes.iter().zip(&events) {
            match outcome {
                PutOutcome::Created(stored) => {
                    created = true;
                    results.push(json!({"event": stored, "replayed": false}));
                }
                PutOutcome::Replayed(stored) => {
                    check_same_action(stored, event)?;
                    results.push(json!({"event": stored, "replayed": true}));
                }
            }
        }
        Ok(respond(
            if created { 201 } else { 200 },
            &json!({"events": results}),
        ))
    }

    async fn query(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let caller = Caller::from_request(req)?;
        let now = Timestamp::now();
        let since = query_param(req, "since")
            .map(|v| field("invalid_since", parse_time(&v, now)))
            .transpose()?;
        let until = query_param(req, "until")
            .map(|v| field("invalid_until", parse_time(&v, now)))
            .transpose()?;
        if let (Some(since), Some(until)) = (since, until) {
            if since > until {
                return Err(ApiError::bad_request(
                    "invalid_range",
                    "since must not be after until",
                ));
            }
        }
        let page = page_request(req)?;
        let accountable = query_param(req, "accountablePrincipalId");
        let actor = query_param(req, "actorId");
        let account = query_param(req, "serviceAccountId");
        let chosen = [&accountable, &actor, &account]
            .iter()
            .filter(|p| p.is_some())
            .count();
        if chosen != 1 {
            return Err(ApiError::bad_request(
                "invalid_query",
                "give exactly one of accountablePrincipalId, actorId, serviceAccountId",
            ));
        }
        let result = if let Some(user) = accountable {
            let user = field("invalid_user_id", UserId::parse(user))?;
            if !caller.may_act_for(&user) {
                return Err(ApiError::Forbidden(
                    "you may see only events you are accountable for".into(),
                ));
            }
            let query = AuditQuery {
                selector: EventSelector::AccountableTo(user),
                since,
                until,
            };
            self.store.query_audit_events(&query, &page).await
        } else if let Some(actor_id) = actor {
            let actor = self.actor_for(req, &caller, &actor_id).await?;
            let query = AuditQuery {
                selector: EventSelector::Actor(actor),
                since,
                until,
            };
            self.store.query_audit_events(&query, &page).await
        } else {
            let account = field(
                "invalid_service_account_id",
                ServiceAccountId::parse(account.unwrap_or_default()),
            )?;
            self.require_account_owner(&caller, &account).await?;
            self.store
                .query_service_account_events(&account, since, until, &page)
                .await
        };
        let events = result.map_err(|e| match e {
            StoreError::Validation(message) => ApiError::bad_request("invalid_next_token", message),
            other => other.into(),
        })?;
        Ok(respond(
            200,
            &json!({"items": events.items, "nextToken": events.next.as_ref().map(PageToken::as_str)}),
        ))
    }

    /// The actor named by `actorId` (and `actorType`, needed unless the id is an agent's), if
    /// the caller may read its events: an agent's owner, the human themself, a service account's
    /// mapped owner, or an admin.
    async fn actor_for(
        &self,
        req: &Request,
        caller: &Caller,
        actor_id: &str,
    ) -> Result<Actor, ApiError> {
        let actor_type = match query_param(req, "actorType").as_deref() {
            Some("agent") => ActorType::Agent,
            Some("service_account") => ActorType::ServiceAccount,
            Some("user") => ActorType::User,
            Some("system") => ActorType::System,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_actor_type",
                    "actorType must be agent, service_account, user or system",
                ))
            }
            None if actor_id.starts_with("agt_") => ActorType::Agent,
            None => {
                return Err(ApiError::bad_request(
                    "invalid_actor_type",
                    "actorType is required unless actorId is an agent id",
                ))
            }
        };
        let actor = field("invalid_actor_id", Actor::parse(actor_type, actor_id))?;
        if caller.admin {
            return Ok(actor);
        }
        let allowed = match actor_type {
            ActorType::Agent => {
                let id = field("invalid_actor_id", AgentId::parse(actor_id))?;
                self.store
                    .get_agent(&id)
                    .await?
                    .is_some_and(|a| a.owner_user_id == caller.user_id)
            }
            ActorType::User => caller.user_id.as_str() == actor_id,
            ActorType::ServiceAccount => {
                let id = field("invalid_actor_id", ServiceAccountId::parse(actor_id))?;
                self.store
                    .get_owner_map(&id)
                    .await?
                    .is_some_and(|o| o.owner_user_id == caller.user_id)
            }
            ActorType::System => false,
        };
        if allowed {
            Ok(actor)
        } else {
            Err(ApiError::Forbidden(
                "you may see only your own agents' events".into(),
            ))
        }
    }

    async fn require_account_owner(
        &self,
        caller: &Caller,
        account: &ServiceAccountId,
    ) -> Result<(), ApiError> {
        if caller.admin {
            return Ok(());
        }
        let owner = self.store.get_owner_map(account).await?;
        if owner.is_some_and(|o| o.owner_user_id == caller.user_id) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only the account's owner or an admin may see its events".into(),
            ))
        }
    }
}

/// The attribution the Lambda authorizer established; 401 without one.
fn attribution_of(req: &Request) -> Result<Attribution, ApiError> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| context_of(&a.fields))
            .ok_or(ApiError::Unauthenticated),
        _ => Err(ApiError::Unauthenticated),
    }
}

fn unavailable(err: StoreError) -> ApiError {
    tracing::error!(error = %err, "audit write failed");
    match err {
        StoreError::Validation(message) => ApiError::bad_request("invalid_event", message),
        _ => ApiError::Unavailable {
            code: "audit_unavailable",
            message: "the event could not be stored; the action must not proceed. Retry with the same body.".into(),
        },
    }
}

fn check_same_action(stored: &AuditEvent, retry: &AuditEvent) -> Result<(), ApiError> {
    let same = stored.action == retry.action
        && stored.resource == retry.resource
        && stored.outcome == retry.outcome
        && stored.details == retry.details;
    if same {
        Ok(())
    } else {
        Err(ApiError::conflict(
            "request_id_reused",
            "this requestId was already recorded for a different action",
        ))
    }
}

/// Builds an event: what happened from the body, who from the authorizer.
fn build_event(
    attribution: &Attribution,
    body: EventBody,
    now: Timestamp,
) -> Result<AuditEvent, ApiError> {
    let action = field("invalid_action", Action::parse(&body.action))?;
    let resource = field("invalid_resource", Resource::parse(&body.resource))?;
    let outcome = match body.outcome.as_str() {
        "success" => Outcome::Success,
        "failure" => Outcome::Failure,
        "denied" => Outcome::Denied,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_outcome",
                "outcome must be success, failure or denied",
            ))
        }
    };
    let request_id = field("invalid_request_id", RequestId::parse(body.request_id))?;
    let occurred_at = field("invalid_occurred_at", Timestamp::parse(&body.occurred_at))?;
    if occurred_at < now.minus(Duration::minutes(MAX_PAST_SKEW_MINUTES))
        || occurred_at > now.plus(Duration::minutes(MAX_FUTURE_SKEW_MINUTES))
    {
        return Err(ApiError::bad_request(
            "occurred_at_out_of_range",
            format!("occurredAt must be within {MAX_PAST_SKEW_MINUTES} minutes before and {MAX_FUTURE_SKEW_MINUTES} after the server's clock"),
        ));
    }
    if let Some(details) = &body.details {
        if !details.is_object() {
            return Err(ApiError::bad_request(
                "invalid_details",
                "details must be a JSON object",
            ));
        }
        if !details_fit(details) {
            return Err(ApiError::bad_request(
                "details_too_large",
                format!("details must be at most {MAX_DETAILS_BYTES} bytes"),
            ));
        }
    }
    Ok(AuditEvent {
        event_id: EventId::derive(attribution.credential_id.as_str(), &request_id),
        actor: attribution.actor(),
        accountable_principal_id: attribution.accountable_principal_id.clone(),
        agent_id: attribution.agent_id.clone(),
        legacy_service_account_id: attribution.legacy_service_account_id.clone(),
        credential_id: Some(attribution.credential_id.clone()),
        action,
        resource,
        outcome,
        request_id,
        details: body.details,
        occurred_at,
        received_at: now,
    })
}

/// RFC 3339, or a relative form before `now`: `30m`, `24h`, `7d`.
fn parse_time(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    if let Ok(at) = Timestamp::parse(text) {
        return Ok(at);
    }
    let bad = || format!("{text:?} is neither RFC 3339 nor a relative time such as 7d, 24h or 30m");
    let unit_at = text.char_indices().next_back().map_or(0, |(i, _)| i);
    let (number, unit) = text.split_at(unit_at);
    let n: i64 = number.parse().map_err(|_| bad())?;
    if !(0..=3650 * 24 * 60).contains(&n) {
        return Err(bad());
    }
    let delta = match unit {
        "d" => Duration::days(n),
        "h" => Duration::hours(n),
        "m" => Duration::minutes(n),
        _ => return Err(bad()),
    };
    Ok(now.minus(delta))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EventBody {
    action: String,
    resource: String,
    outcome: String,
    request_id: String,
    occurred_at: String,
    details: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BatchBody {
    events: Vec<EventBody>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_support::{fixture, offline_store};

    async fn call(name: &str, edit: impl FnOnce(&mut Value)) -> (u16, Value) {
        let mut event: Value = serde_json::from_str(&fixture(name)).unwrap();
        edit(&mut event);
        let req = lambda_http::request::from_str(&event.to_string()).unwrap();
        let response = AuditApi::new(offline_store()).handle(req).await;
        let body = match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap(),
            _ => Value::Null,
        };
        (response.status().as_u16(), body)
    }

    fn with_body(event: &mut Value, body: Value) {
        event["body"] = Value::String(body.to_string());
    }

    fn fresh(event: &mut Value) -> Value {
        let mut body: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
        body["occurredAt"] = Value::String(Timestamp::now().to_string());
        body
    }

    #[test]
    fn the_fixture_carries_the_authorizer_context() {
        let req = lambda_http::request::from_str(&fixture("audit-record-event")).unwrap();
        let attribution = attribution_of(&req).unwrap();
        assert_eq!(
            attribution.accountable_principal_id.unwrap().as_str(),
            "govind"
        );
        assert_eq!(
            attribution.legacy_service_account_id.unwrap().as_str(),
            "sa-deploy"
        );
    }

    #[tokio::test]
    async fn when_the_store_is_unreachable_the_write_fails_closed() {
        let (status, body) = call("audit-record-event", |e| {
            let b = fresh(e);
            with_body(e, b)
        })
        .await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "audit_unavailable");
    }

    #[tokio::test]
    async fn bad_events_are_refused_before_any_write() {
        type Edit = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|b: &mut Value| {
                    b.as_object_mut().unwrap().remove("action");
                }),
                "invalid_request",
            ),
            (
                Box::new(|b: &mut Value| b["outcome"] = "maybe".into()),
                "invalid_outcome",
            ),
            (
                Box::new(|b: &mut Value| b["action"] = "x".repeat(129).into()),
                "invalid_action",
            ),
            (
                Box::new(|b: &mut Value| b["requestId"] = "a b".into()),
                "invalid_request_id",
            ),
            (
                Box::new(|b: &mut Value| b["details"] = json!({"blob": "x".repeat(5000)})),
                "details_too_large",
            ),
            (
                Box::new(|b: &mut Value| b["details"] = json!([1, 2])),
                "invalid_details",
            ),
            (
                Box::new(|b: &mut Value| b["occurredAt"] = "2020-01-01T00:00:00Z".into()),
                "occurred_at_out_of_range",
            ),
            (
                Box::new(|b: &mut Value| b["occurredAt"] = "soon".into()),
                "invalid_occurred_at",
            ),
            (
                Box::new(|b: &mut Value| b["actorId"] = "someone-else".into()),
                "invalid_request",
            ),
        ];
        for (edit, code) in cases {
            let (status, body) = call("audit-record-event", |e| {
                let mut b = fresh(e);
                edit(&mut b);
                with_body(e, b);
            })
            .await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (400, Some(code)),
                "{body}"
            );
        }
    }

    #[tokio::test]
    async fn batches_are_bounded() {
        let (status, body) = call("audit-record-batch", |e| {
            let mut b: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
            let one = b["events"][0].clone();
            b["events"] = Value::Array(vec![one; 26]);
            with_body(e, b);
        })
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_batch_size"))
        );
        let (status, body) = call("audit-record-batch", |e| {
            with_body(e, json!({"events": []}))
        })
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_batch_size"))
        );
    }

    #[tokio::test]
    async fn writes_need_the_authorizer_context_and_queries_a_human() {
        let (status, _) = call("audit-record-event", |e| {
            e["requestContext"]
                .as_object_mut()
                .unwrap()
                .remove("authorizer");
        })
        .await;
        assert_eq!(status, 401);
        let (status, _) = call("audit-query-accountable", |e| {
            e["requestContext"]
                .as_object_mut()
                .unwrap()
                .remove("authorizer");
        })
        .await;
        assert_eq!(status, 401);
        let (status, body) = call("audit-query-accountable", |e| {
            e["queryStringParameters"]["accountablePrincipalId"] = "someone-else".into();
            e["rawQueryString"] = "accountablePrincipalId=someone-else".into();
        })
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("forbidden"))
        );
        let (status, body) = call("audit-query-accountable", |e| {
            e["queryStringParameters"]["since"] = "2026-05-09T00:00:00Z".into();
            e["queryStringParameters"]["until"] = "2026-05-01T00:00:00Z".into();
            e["rawQueryString"] =
                "accountablePrincipalId=govind&since=2026-05-09T00:00:00Z&until=2026-05-01T00:00:00Z".into();
        })
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_range"))
        );
    }

    #[test]
    fn relative_and_absolute_times() {
        let now = Timestamp::parse("2026-05-08T12:00:00Z").unwrap();
        assert_eq!(
            parse_time("7d", now).unwrap().to_string(),
            "2026-05-01T12:00:00.000Z"
        );
        assert_eq!(
            parse_time("24h", now).unwrap().to_string(),
            "2026-05-07T12:00:00.000Z"
        );
        assert_eq!(
            parse_time("30m", now).unwrap().to_string(),
            "2026-05-08T11:30:00.000Z"
        );
        assert_eq!(
            parse_time("2026-05-01T00:00:00+02:00", now)
                .unwrap()
                .to_string(),
            "2026-04-30T22:00:00.000Z"
        );
        for bad in [
            "",
            "d",
            "7w",
            "-1d",
            "yesterday",
            "99999999d",
            "7¥",
            "¥",
            "{¥",
        ] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }
}
