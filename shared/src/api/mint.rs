//! The management API: users, agents and their credentials, the service-account inventory, the
//! owner map, migrate and rollback (steps 1-3 of the migration, and the owner lifecycle).
//!
//! Callers are humans verified by the API Gateway JWT authorizer. Owners act on their own
//! agents; members of [`super::ADMIN_GROUP`] on everything. Every change is also an audit event
//! whose actor is the calling human, written idempotently so a retried request converges.

use chrono::Duration;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::idempotency::{check_replay, IdempotencyKey};
use super::views::{AgentView, CredentialView, OwnerView, ServiceAccountView, UserView};
use super::{
    error_response, field, json_body, page_request, query_param, respond, ApiError, Caller,
};
use crate::credential::{LegacySecret, Pepper, Token, TokenKind};
use crate::ids::{AgentId, CredentialId, EventId, RequestId, ServiceAccountId, UserId};
use crate::model::{
    Actor, Agent, AgentStatus, AuditEvent, Credential, CredentialStatus, Integration,
    MigrationState, Outcome, OwnerMapEntry, Principal, RevocationReason, ServiceAccount,
    ServiceAccountKind, ServiceAccountStatus, UsageSubject, User, UserStatus,
};
use crate::store::{Expect, PageRequest, PageToken, Rotation, Store, StoreError};
use crate::sweep::SweepConfig;
use crate::time::{day_key, Timestamp};
use crate::values::{Action, Email, Name, Note, Resource, ScopeSet};

/// Every route this function serves: method and path template, as in `template.yaml`.
pub const ROUTES: &[(&str, &str)] = &[
    ("PUT", "/v1/users/{userId}"),
    ("POST", "/v1/users/{userId}/offboard"),
    ("POST", "/v1/agents"),
    ("GET", "/v1/agents"),
    ("GET", "/v1/agents/{agentId}"),
    ("DELETE", "/v1/agents/{agentId}"),
    ("GET", "/v1/agents/{agentId}/accountable"),
    ("POST", "/v1/agents/{agentId}/credentials"),
    ("POST", "/v1/agents/{agentId}/transfer"),
    ("DELETE", "/v1/credentials/{credentialId}"),
    ("PUT", "/v1/service-accounts/{saId}"),
    ("PUT", "/v1/service-accounts/{saId}/owner"),
    ("POST", "/v1/service-accounts/{saId}/migrate"),
    ("POST", "/v1/service-accounts/{saId}/rollback"),
    ("GET", "/v1/service-accounts/{saId}/migration"),
    ("GET", "/v1/migration"),
];

/// Default grace period of a rotated credential.
pub const DEFAULT_GRACE_SECONDS: u32 = 86_400;
/// Longest grace period of a rotated credential.
pub const MAX_GRACE_SECONDS: u32 = 604_800;
/// Default cutover window.
pub const DEFAULT_DUAL_WRITE_DAYS: u32 = 7;
/// Longest cutover window accepted.
pub const MAX_DUAL_WRITE_DAYS: u32 = 90;
/// Days of legacy usage shown in a migration status.
pub const USAGE_HISTORY_DAYS: u16 = 14;

const AUDIT_NAMESPACE: Uuid = Uuid::from_u128(0x41c3_5e0a_9b7d_4f62_a8e1_03d6_7c5b_2e94);

/// The management API's state: built once at init, shared by every invocation.
#[derive(Debug, Clone)]
pub struct Mint {
    store: Store,
    pepper: Pepper,
    sweep: SweepConfig,
}

impl Mint {
    /// The API over `store`, hashing with `pepper`.
    pub fn new(store: Store, pepper: Pepper) -> Self {
        Self {
            store,
            pepper,
            sweep: SweepConfig::from_env(),
        }
    }

    /// Handles one request. Never fails: errors become their JSON responses.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        match self.route(&req).await {
            Ok(response) => response,
            Err(err) => error_response(&err),
        }
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let caller = Caller::from_request(req)?;
        let path = req.uri().path().to_owned();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let method = req.method().as_str();
        match (method, segments.as_slice()) {
            ("PUT", ["v1", "users", id]) => self.put_user(req, &caller, id).await,
            ("POST", ["v1", "users", id, "offboard"]) => self.offboard(req, &caller, id).await,
            ("POST", ["v1", "agents"]) => self.create_agent(req, &caller).await,
            ("GET", ["v1", "agents"]) => self.list_agents(req, &caller).await,
            ("GET", ["v1", "agents", id]) => self.get_agent(&caller, id).await,
            ("DELETE", ["v1", "agents", id]) => self.revoke_agent(&caller, id).await,
            ("GET", ["v1", "agents", id, "accountable"]) => self.accountable(&caller, id).await,
            ("POST", ["v1", "agents", id, "credentials"]) => self.rotate(req, &caller, id).await,
            ("POST", ["v1", "agents", id, "transfer"]) => self.transfer(req, &caller, id).await,
            ("DELETE", ["v1", "credentials", id]) => self.revoke_credential(&caller, id).await,
            ("PUT", ["v1", "service-accounts", id]) => {
                self.put_service_account(req, &caller, id).await
            }
            ("PUT", ["v1", "service-accounts", id, "owner"]) => {
                self.put_owner(req, &caller, id).await
            }
            ("POST", ["v1", "service-accounts", id, "migrate"]) => {
                self.migrate(req, &caller, id).await
            }
            ("POST", ["v1", "service-accounts", id, "rollback"]) => {
                self.rollback(&caller, id).await
            }
            ("GET", ["v1", "service-accounts", id, "migration"]) => {
                self.migration_status(&caller, id).await
            }
            ("GET", ["v1", "migration"]) => self.migration_overview(&caller).await,
            (_, segments) if route_exists(segments) => Err(ApiError::MethodNotAllowed),
            _ => Err(ApiError::not_found(
                "route_not_found",
                format!("no route {method} {path}"),
            )),
        }
    }

    // ----- users -------------------------------------------------------------------------

    async fn put_user(
        &self,
        req: &Request,
        caller: &Caller,
        id: &str,
    ) -> Result<Response<Body>, ApiError> {
        caller.require_admin()?;
        let user_id = field("invalid_user_id", UserId::parse(id))?;
        let body: PutUserBody = json_body(req)?;
        let email = field("invalid_email", Email::parse(&body.email))?;
        let scopes = field("invalid_scope", ScopeSet::parse(body.scopes))?;
        let user = self
            .store
            .upsert_user(&user_id, &email, &scopes, body.admin, Timestamp::now())
            .await
            .map_err(|e| match e {
                StoreError::ConditionFailed(_) => ApiError::conflict(
                    "user_offboarded",
                    "an offboarded user cannot be registered again under the same id",
                ),
                other => other.into(),
            })?;
        self.audit(
            caller,
            "user.put",
            format!("user:{user_id}"),
            user.updated_at,
            None,
            json!({"scopes": user.scopes, "admin": user.admin}),
        )
        .await?;
        Ok(respond(200, &json!({"user": UserView::from(&user)})))
    }

    async fn offboard(
        &self,
        req: &Request,
        caller: &Caller,
        id: &str,
    ) -> Result<Response<Body>, ApiError> {
        caller.require_admin()?;
        let user_id = field("invalid_user_id", UserId::parse(id))?;
        let body: OffboardBody = json_body(req)?;
        let reason = body
            .reason
            .map(|r| field("invalid_reason", Note::parse(r)))
            .transpose()?;
        let report = self
            .store
            .offboard_user(&user_id, reason.as_ref(), Timestamp::now())
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => ApiError::not_found("user_not_found", "no such user"),
                other => other.into(),
            })?;
        let offboarded_at = report.user.offboarded_at.unwrap_or(report.user.updated_at);
        self.audit(
            caller,
            "user.offboard",
            format!("user:{user_id}"),
            offboarded_at,
            None,
            json!({"reason": reason, "revokedAgents": report.revoked_agents}),
        )
        .await?;
        // One event per agent revoked by the cascade. Re-running the offboarding re-records
        // every agent revoked for this reason (same keys, stored once), so an interrupted
        // cascade still ends fully audited.
        let mut page = PageRequest::first();
        loop {
            let agents = self.store.list_agents_by_owner(&user_id, &page).await?;
            for agent in &agents.items {
                if agent.revoke_reason == Some(RevocationReason::OwnerOffboarded) {
                    let at = agent.revoked_at.unwrap_or(offboarded_at);
                    self.audit(
                        caller,
                        "agent.revoke",
                        format!("agent:{}", agent.agent_id),
                        at,
                        Some(&agent.agent_id),
                        json!({"reason": RevocationReason::OwnerOffboarded}),
                    )
                    .await?;
                }
            }
            match agents.next {
                Some(next) => page = PageRequest::new(PageRequest::DEFAULT_LIMIT, Some(next))?,
                None => break,
            }
        }
        Ok(respond(
            200,
            &json!({
                "user": UserView::from(&report.user),
                "revokedAgents": report.revoked_agents,
                "revokedCredentials": report.revoked_credentials,
            }),
        ))
    }

    // ----- agents ------------------------------------------------------------------------

    async fn create_agent(
        &self,
        req: &Request,
        caller: &Caller,
    ) -> Result<Response<Body>, ApiError> {
        let body: CreateAgentBody = json_body(req)?;
        let name = field("invalid_name", Name::parse(&body.name))?;
        let owner = match body.owner_user_id {
            Some(id) => field("invalid_user_id", UserId::parse(id))?,
            None => caller.user_id.clone(),
        };
        let scopes = field("invalid_scope", ScopeSet::parse(body.scopes))?;
        if !caller.may_act_for(&owner) {
            return Err(ApiError::Forbidden(
                "only an administrator may create an agent for another owner".into(),
            ));
        }
        let key = IdempotencyKey::from_request(req, &caller.user_id, "agent.create")?;
        let fingerprint = key
            .as_ref()
            .map(|k| k.fingerprint(&json!({"name": name, "owner": owner, "scopes": scopes})));
        if let Some(key) = &key {
            if let Some(existing) = self.store.get_agent(&key.agent_id()).await? {
                return self
                    .replay_create(caller, existing, fingerprint.as_deref())
                    .await;
            }
        }
        let owner_user = self.active_user(&owner).await?;
        check_scopes(&scopes, &owner_user)?;

        let now = Timestamp::now();
        let agent_id = key
            .as_ref()
            .map_or_else(AgentId::generate, IdempotencyKey::agent_id);
        let credential_id = key
            .as_ref()
            .map_or_else(CredentialId::generate, IdempotencyKey::credential_id);
        let token = Token::generate_with_id(TokenKind::Agent, credential_id)
            .map_err(|_| ApiError::Internal)?;
        let agent = Agent {
            agent_id: agent_id.clone(),
            name,
            owner_user_id: owner.clone(),
            scopes: scopes.clone(),
            status: AgentStatus::Active,
            credential_id: token.credential_id.clone(),
            active_credential_ids: [token.credential_id.clone()].into(),
            created_at: now,
            updated_at: now,
            revoked_at: None,
            revoke_reason: None,
            migrated_from_service_account_id: None,
            dual_write_until: None,
            request_fingerprint: fingerprint.clone(),
        };
        let cred = self.agent_credential(&agent, &token, now, fingerprint.clone());
        match self.store.create_agent(&agent, &cred).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed(reason @ ("agent_exists" | "credential_exists"))) => {
                let existing = self.store.get_agent(&agent_id).await?;
                match existing {
                    // An SDK retry of this very write, whose first answer was lost: the
                    // agent is ours and its secret is still in hand.
                    Some(stored)
                        if stored.credential_id == agent.credential_id
                            && stored.created_at == agent.created_at => {}
                    Some(stored) if key.is_some() => {
                        return self
                            .replay_create(caller, stored, fingerprint.as_deref())
                            .await;
                    }
                    _ => return Err(StoreError::ConditionFailed(reason).into()),
                }
            }
            Err(StoreError::ConditionFailed("owner_not_active")) => return Err(owner_not_active()),
            Err(other) => return Err(other.into()),
        }
        self.audit(
            caller,
            "agent.create",
            format!("agent:{agent_id}"),
            now,
            Some(&agent_id),
            json!({"owner": owner, "scopes": scopes}),
        )
        .await?;
        Ok(respond(
            201,
            &json!({
                "agent": AgentView::from(&agent),
                "credential": CredentialView::minted(&cred, &token.reveal()),
                "warning": SECRET_WARNING,
            }),
        ))
    }

    async fn replay_create(
        &self,
        caller: &Caller,
        existing: Agent,
        fingerprint: Option<&str>,
    ) -> Result<Response<Body>, ApiError> {
        check_replay(
            existing.request_fingerprint.as_deref(),
            fingerprint.unwrap_or_default(),
        )?;
        let first = self
            .store
            .get_credential(&existing.credential_id)
            .await?
            .ok_or(ApiError::Internal)?;
        self.audit(
            caller,
            "agent.create",
            format!("agent:{}", existing.agent_id),
            existing.created_at,
            Some(&existing.agent_id),
            json!({"owner": existing.owner_user_id, "scopes": existing.scopes}),
        )
        .await?;
        Ok(respond(
            200,
            &json!({
                "agent": AgentView::from(&existing),
                "credential": CredentialView::replayed(&first),
                "replayed": true,
            }),
        ))
    }

    async fn get_agent(&self, caller: &Caller, id: &str) -> Result<Response<Body>, ApiError> {
        let agent = self.agent_for(caller, id).await?;
        Ok(respond(200, &json!({"agent": AgentView::from(&agent)})))
    }

    async fn list_agents(
        &self,
        req: &Request,
        caller: &Caller,
    ) -> Result<Response<Body>, ApiError> {
        let owner = match query_param(req, "ownerUserId") {
            Some(id) => field("invalid_user_id", UserId::parse(id))?,
            None => caller.user_id.clone(),
        };
        if !caller.may_act_for(&owner) {
            return Err(ApiError::Forbidden(
                "you may list only your own agents".into(),
            ));
        }
        let page = page_request(req)?;
        let agents = self.store.list_agents_by_owner(&owner, &page).await?;
        Ok(respond(
            200,
            &json!({
                "items": agents.items.iter().map(AgentView::from).collect::<Vec<_>>(),
                "nextToken": agents.next.as_ref().map(PageToken::as_str),
            }),
        ))
    }

    async fn accountable(&self, caller: &Caller, id: &str) -> Result<Response<Body>, ApiError> {
        let agent = self.agent_for(caller, id).await?;
        let owner = self
            .store
            .get_user(&agent.owner_user_id)
            .await?
            .ok_or(ApiError::Internal)?;
        Ok(respond(
            200,
            &json!({
                "agentId": agent.agent_id,
                "ownerUserId": owner.user_id,
                "email": owner.email,
                "ownerStatus": owner.status,
            }),
        ))
    }

    async fn rotate(
        &self,
        req: &Request,
        caller: &Caller,
        id: &str,
    ) -> Result<Response<Body>, ApiError> {
        let agent = self.agent_for(caller, id).await?;
        let body: RotateBody = json_body(req)?;
        let grace = body.grace_seconds.unwrap_or(DEFAULT_GRACE_SECONDS);
        if grace > MAX_GRACE_SECONDS {
            return Err(ApiError::bad_request(
                "invalid_grace_seconds",
                format!("graceSeconds must be between 0 and {MAX_GRACE_SECONDS}"),
            ));
        }
        if agent.status != AgentStatus::Active {
            return Err(ApiError::conflict(
                "agent_not_active",
                "the agent is revoked",
            ));
        }
        let key = IdempotencyKey::from_request(
            req,
            &caller.user_id,
            &format!("credential.rotate\n{}", agent.agent_id),
        )?;
        let fingerprint = key
            .as_ref()
            .map(|k| k.fingerprint(&json!({"graceSeconds": grace})));
        if let Some(key) = &key {
            if let Some(existing) = self.store.get_credential(&key.credential_id()).await? {
                return self
                    .replay_rotate(caller, &agent, existing, fingerprint.as_deref())
                    .await;
            }
        }
        let now = Timestamp::now();
        let credential_id = key
            .as_ref()
            .map_or_else(CredentialId::generate, IdempotencyKey::credential_id);
        let token = Token::generate_with_id(TokenKind::Agent, credential_id)
            .map_err(|_| ApiError::Internal)?;
        let cred = self.agent_credential(&agent, &token, now, fingerprint.clone());
        let grace_until = now.plus(Duration::seconds(i64::from(grace)));
        let rotation = match self
            .store
            .rotate_credential(&agent.agent_id, &cred, grace_until, now)
            .await
        {
            Ok(rotation) => rotation,
            Err(StoreError::ConditionFailed("too_many_credentials")) => {
                return Err(ApiError::conflict(
                    "too_many_credentials",
                    "the agent already has two active credentials; revoke one or wait for its grace period to end",
                ))
            }
            Err(StoreError::ConditionFailed("credential_exists")) => {
                let existing = self
                    .store
                    .get_credential(&cred.credential_id)
                    .await?
                    .ok_or(ApiError::Internal)?;
                if existing.created_at != cred.created_at || existing.principal != cred.principal {
                    return self
                        .replay_rotate(caller, &agent, existing, fingerprint.as_deref())
                        .await;
                }
                // An SDK retry of this very rotation, whose first answer was lost.
                let stored = self.existing_agent(&agent.agent_id).await?;
                Rotation {
                    expiring: stored
                        .active_credential_ids
                        .iter()
                        .filter(|c| **c != cred.credential_id)
                        .cloned()
                        .collect(),
                    agent: stored,
                    credential: cred.clone(),
                }
            }
            Err(StoreError::ConditionFailed("agent_not_active")) => {
                return Err(ApiError::conflict("agent_not_active", "the agent is revoked"))
            }
            Err(other) => return Err(other.into()),
        };
        self.audit(
            caller,
            "credential.rotate",
            format!("credential:{}", cred.credential_id),
            now,
            Some(&agent.agent_id),
            json!({"expiring": rotation.expiring, "graceUntil": grace_until}),
        )
        .await?;
        Ok(respond(
            201,
            &json!({
                "agentId": agent.agent_id,
                "credential": CredentialView::minted(&cred, &token.reveal()),
                "expiring": rotation.expiring,
                "graceUntil": grace_until,
                "warning": SECRET_WARNING,
            }),
        ))
    }

    async fn replay_rotate(
        &self,
        caller: &Caller,
        agent: &Agent,
        existing: Credential,
        fingerprint: Option<&str>,
    ) -> Result<Response<Body>, ApiError> {
        if existing.principal != Principal::Agent(agent.agent_id.clone()) {
            return Err(ApiError::Internal);
        }
        check_replay(
            existing.request_fingerprint.as_deref(),
            fingerprint.unwrap_or_default(),
        )?;
        self.audit(
            caller,
            "credential.rotate",
            format!("credential:{}", existing.credential_id),
            existing.created_at,
            Some(&agent.agent_id),
            Value::Null,
        )
        .await?;
        Ok(respond(
            200,
            &json!({
                "agentId": agent.agent_id,
                "credential": CredentialView::replayed(&existing),
                "replayed": true,
            }),
        ))
    }

    async fn transfer(
        &self,
        req: &Request,
        caller: &Caller,
        id: &str,
    ) -> Result<Response<Body>, ApiError> {
        caller.require_admin()?;
        let agent_id = field("invalid_agent_id", AgentId::parse(id))?;
        let body: TransferBody = json_body(req)?;
        let new_owner = field("invalid_user_id", UserId::parse(body.new_owner_user_id))?;
        let agent = self.existing_agent(&agent_id).await?;
        if agent.status != AgentStatus::Active {
            return Err(ApiError::conflict(
                "agent_not_active",
                "the agent is revoked",
            ));
        }
        if agent.owner_user_id == new_owner {
            return Err(ApiError::conflict(
                "same_owner",
                "the agent already belongs to that owner",
            ));
        }
        let new_owner_user = self.active_user(&new_owner).await?;
        check_scopes(&agent.scopes, &new_owner_user)?;
        let now = Timestamp::now();
        let moved = match self.store.transfer_agent(&agent_id, &new_owner, now).await {
            Ok(agent) => agent,
            Err(StoreError::ConditionFailed("owner_not_active")) => return Err(owner_not_active()),
            Err(StoreError::ConditionFailed("same_owner")) => {
                return Err(ApiError::conflict(
                    "same_owner",
                    "the agent already belongs to that owner",
                ))
            }
            Err(StoreError::ConditionFailed("agent_not_active")) => {
                return Err(ApiError::conflict(
                    "agent_not_active",
                    "the agent is revoked",
                ))
            }
            Err(other) => return Err(other.into()),
        };
        self.audit(
            caller,
            "agent.transfer",
            format!("agent:{agent_id}"),
            now,
            Some(&agent_id),
            json!({"from": agent.owner_user_id, "to": new_owner}),
        )
        .await?;
        Ok(respond(
            200,
            &json!({"agent": AgentView::from(&moved), "previousOwnerUserId": agent.owner_user_id}),
        ))
    }

    async fn revoke_agent(&self, caller: &Caller, id: &str) -> Result<Response<Body>, ApiError> {
        let agent = self.agent_for(caller, id).await?;
        let reason = if caller.user_id == agent.owner_user_id {
            RevocationReason::RevokedByOwner
        } else {
            RevocationReason::RevokedByAdmin
        };
        // DELETE is idempotent: revoking a revoked agent answers with it as it is.
        let (agent, revoked) = if agent.status == AgentStatus::Revoked {
            (agent, Vec::new())
        } else {
            match self
                .store
                .revoke_agent(&agent.agent_id, reason, Timestamp::now())
                .await
            {
                Ok(done) => (done.agent, done.credentials),
                Err(StoreError::ConditionFailed("agent_not_active")) => {
                    let current = self.existing_agent(&agent.agent_id).await?;
                    (current, Vec::new())
                }
                Err(other) => return Err(other.into()),
            }
        };
        let at = agent.revoked_at.unwrap_or(agent.updated_at);
        self.audit(
            caller,
            "agent.revoke",
            format!("agent:{}", agent.agent_id),
            at,
            Some(&agent.agent_id),
            json!({"reason": agent.revoke_reason}),
        )
        .await?;
        Ok(respond(
            200,
            &json!({"agent": AgentView::from(&agent), "revokedCredentials": revoked}),
        ))
    }

    async fn revoke_credential(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Response<Body>, ApiError> {
        let credential_id = field("invalid_credential_id", CredentialId::parse(id))?;
        let cred = self
            .store
            .get_credential(&credential_id)
            .await?
            .ok_or_else(|| ApiError::not_found("credential_not_found", "no such credential"))?;
        let (agent_id, reason) = match &cred.principal {
            Principal::Agent(agent_id) => {
                let agent = self.existing_agent(agent_id).await?;
                if !caller.may_act_for(&agent.owner_user_id) {
                    return Err(ApiError::Forbidden("not your agent's credential".into()));
                }
                let reason = if caller.user_id == agent.owner_user_id {
                    RevocationReason::RevokedByOwner
                } else {
                    RevocationReason::RevokedByAdmin
                };
                (Some(agent.agent_id), reason)
            }
            Principal::ServiceAccount(_) => {
                caller.require_admin()?;
                (None, RevocationReason::RevokedByAdmin)
            }
        };
        let cred = if cred.status == CredentialStatus::Active {
            match self
                .store
                .revoke_credential(&credential_id, reason, Timestamp::now())
                .await
            {
                Ok(revoked) => revoked,
                Err(StoreError::ConditionFailed("credential_not_active")) => self
                    .store
                    .get_credential(&credential_id)
                    .await?
                    .ok_or(ApiError::Internal)?,
                Err(other) => return Err(other.into()),
            }
        } else {
            cred
        };
        let at = cred.revoked_at.unwrap_or(cred.created_at);
        self.audit(
            caller,
            "credential.revoke",
            format!("credential:{credential_id}"),
            at,
            agent_id.as_ref(),
            json!({"status": cred.status}),
        )
        .await?;
        Ok(respond(
            200,
            &json!({"credential": CredentialView::of(&cred)}),
        ))
    }

    // ----- service accounts ------------------------------------------------------------------

    async fn put_service_account(
        &self,
        req: &Request,
        caller: &Caller,
        id: &str,
    ) -> Result<Response<Body>, ApiError> {
        caller.require_admin()?;
        let sa_id = field("invalid_service_account_id", ServiceAccountId::parse(id))?;
        let body: PutServiceAccountBody = json_body(req)?;
        let name = field("invalid_name", Name::parse(&body.name))?;
        let kind = body.kind;
        let scopes = field("invalid_scope", ScopeSet::parse(body.scopes))?;
        if body.integrations.len() > 50 {
            return Err(ApiError::bad_request(
                "invalid_integrations",
                "at most 50 integrations",
            ));
        }
        let legacy = body
            .legacy_secret
            .as_deref()
            .map(|s| field("invalid_legacy_secret", LegacySecret::parse(s)))
            .transpose()?;

        let existing = self.store.get_service_account(&sa_id).await?;
        let owner = self.store.get_owner_map(&sa_id).await?;
        let now = Timestamp::now();
        let state = match (&existing, kind) {
            (Some(sa), _) if migration_started(sa.migration_state) => {
                if sa.kind != kind {
                    return Err(ApiError::conflict(
                        "migration_in_progress",
                        "an account's kind cannot change once its migration has started",
                    ));
                }
                sa.migration_state
            }
            (_, ServiceAccountKind::OrgOwned) => MigrationState::Exempt,
            (_, ServiceAccountKind::Migrate) if owner.is_some() => MigrationState::OwnerAssigned,
            (_, ServiceAccountKind::Migrate) => MigrationState::Inventoried,
        };

        let mut legacy_cred = None;
        let mut legacy_credential_id = existing
            .as_ref()
            .and_then(|sa| sa.legacy_credential_id.clone());
        if let Some(secret) = &legacy {
            let derived = self.pepper.legacy_credential_id(secret);
            match &legacy_credential_id {
                Some(current) if *current == derived => {}
                Some(_) => {
                    return Err(ApiError::conflict(
                        "legacy_secret_mismatch",
                        "a different legacy secret was already imported for this account",
                    ))
                }
                None => {
                    legacy_cred = Some(Credential {
                        credential_id: derived.clone(),
                        principal: Principal::ServiceAccount(sa_id.clone()),
                        secret_hash: self.pepper.hash_legacy(secret),
                        status: CredentialStatus::Active,
                        created_at: now,
                        expires_at: None,
                        revoked_at: None,
                        revoke_reason: None,
                        accountable_principal_id: owner.as_ref().map(|o| o.owner_user_id.clone()),
                        agent_id: None,
                        legacy_service_account_id: None,
                        dual_write_until: None,
                        scopes: scopes.clone(),
                        request_fingerprint: None,
                    });
                    legacy_credential_id = Some(derived);
                }
            }
        }

        let sa = ServiceAccount {
            service_account_id: sa_id.clone(),
            name,
            kind,
            status: existing
                .as_ref()
                .map_or(ServiceAccountStatus::Active, |s| s.status),
            migration_state: state,
            integrations: body.integrations,
            integrations_reviewed: body.integrations_reviewed,
            scopes,
            legacy_credential_id,
            migrated_to_agent_id: existing
                .as_ref()
                .and_then(|s| s.migrated_to_agent_id.clone()),
            migrated_at: existing.as_ref().and_then(|s| s.migrated_at),
            dual_write_until: existing.as_ref().and_then(|s| s.dual_write_until),
            dual_write_ended_at: existing.as_ref().and_then(|s| s.dual_write_ended_at),
            revoked_at: existing.as_ref().and_then(|s| s.revoked_at),
            created_at: existing.as_ref().map_or(now, |s| s.created_at),
            updated_at: now,
        };
        let expect = existing
            .as_ref()
            .map_or(Expect::Absent, |s| Expect::UpdatedAt(s.updated_at));
        self.store
            .put_inventory(&sa, expect, legacy_cred.as_ref())
            .await
            .map_err(|e| match e {
                StoreError::ConditionFailed("legacy_credential_exists") => ApiError::conflict(
                    "legacy_secret_in_use",
                    "that legacy secret is already imported for another account",
                ),
                StoreError::ConditionFailed("service_account_changed") => changed_concurrently(),
                other => other.into(),
            })?;
        self.audit(caller, "service_account.put", format!("service_account:{sa_id}"), now, None, json!({"kind": sa.kind, "integrationsReviewed": sa.integrations_reviewed, "legacySecretImported": legacy_cred.is_some()}))
            .await?;
        let status = if existing.is_some() { 200 } else { 201 };
        Ok(respond(
            status,
            &json!({"serviceAccount": ServiceAccountView::from(&sa)}),
        ))
    }

    async fn put_owner(
        &self,
        req: &Request,
        caller: &Caller,
        id: &str,
    ) -> Result<Response<Body>, ApiError> {
        caller.require_admin()?;
        let sa_id = field("invalid_service_account_id", ServiceAccountId::parse(id))?;
        let body: PutOwnerBody = json_body(req)?;
        let owner_id = field("invalid_user_id", UserId::parse(body.owner_user_id))?;
        let note = body
            .note
            .map(|n| field("invalid_note", Note::parse(n)))
            .transpose()?;
        let sa = self.existing_account(&sa_id).await?;
        if migration_started(sa.migration_state) {
            return Err(ApiError::conflict(
                "migration_in_progress",
                "the owner cannot change once the migration has started; transfer the agent instead",
            ));
        }
        self.active_user(&owner_id).await?;
        let now = Timestamp::now();
        let entry = OwnerMapEntry {
            service_account_id: sa_id.clone(),
            owner_user_id: owner_id,
            owner_of_record: body.owner_of_record,
            assigned_by: caller.user_id.clone(),
            assigned_at: now,
            note,
        };
        let mut updated = sa.clone();
        if updated.migration_state == MigrationState::Inventoried {
            updated.migration_state = MigrationState::OwnerAssigned;
        }
        updated.updated_at = now;
        self.store
            .assign_owner(&updated, sa.updated_at, &entry)
            .await
            .map_err(|e| match e {
                StoreError::ConditionFailed("service_account_changed") => changed_concurrently(),
                other => other.into(),
            })?;
        self.audit(
            caller,
            "service_account.assign_owner",
            format!("service_account:{sa_id}"),
            now,
            None,
            json!({"owner": entry.owner_user_id, "ownerOfRecord": entry.owner_of_record}),
        )
        .await?;
        Ok(respond(
            200,
            &json!({"owner": OwnerView::from(&entry), "serviceAccount": ServiceAccountView::from(&updated)}),
        ))
    }

    async fn migrate(
        &self,
        req: &Request,
        caller: &Caller,
        id: &str,
    ) -> Result<Response<Body>, ApiError> {
        caller.require_admin()?;
        let sa_id = field("invalid_service_account_id", ServiceAccountId::parse(id))?;
        let body: MigrateBody = json_body(req)?;
        let days = body.dual_write_days.unwrap_or(DEFAULT_DUAL_WRITE_DAYS);
        if !(1..=MAX_DUAL_WRITE_DAYS).contains(&days) {
            return Err(ApiError::bad_request(
                "invalid_dual_write_days",
                format!("dualWriteDays must be between 1 and {MAX_DUAL_WRITE_DAYS}"),
            ));
        }
        let sa = self.existing_account(&sa_id).await?;
        if sa.kind == ServiceAccountKind::OrgOwned {
            return Err(ApiError::conflict(
                "org_owned_account",
                "org-owned automation stays a service account and is never migrated",
            ));
        }
        match sa.migration_state {
            MigrationState::Revoked => return Err(already_revoked()),
            MigrationState::DualWriting | MigrationState::AwaitingQuiet => {
                return Err(ApiError::conflict(
                    "migration_in_progress",
                    format!(
                        "already migrated to {}",
                        sa.migrated_to_agent_id
                            .as_ref()
                            .map(AgentId::as_str)
                            .unwrap_or("an agent")
                    ),
                ))
            }
            _ => {}
        }
        let owner_entry = match self.store.get_owner_map(&sa_id).await? {
            Some(entry) if sa.migration_state == MigrationState::OwnerAssigned => entry,
            _ => {
                return Err(ApiError::conflict(
                    "no_owner",
                    "assign an owner (PUT /v1/service-accounts/{saId}/owner) before migrating",
                ))
            }
        };
        if !sa.integrations_reviewed {
            return Err(ApiError::conflict(
                "integrations_not_reviewed",
                "review the account's CI, cron and vendor integrations before issuing its new credential",
            ));
        }
        let owner = self.active_user(&owner_entry.owner_user_id).await?;

        let now = Timestamp::now();
        let until = now.plus(Duration::days(i64::from(days)));
        let token = Token::generate(TokenKind::Agent).map_err(|_| ApiError::Internal)?;
        let agent = Agent {
            agent_id: AgentId::generate(),
            name: sa.name.clone(),
            owner_user_id: owner.user_id.clone(),
            scopes: sa.scopes.intersection(&owner.scopes),
            status: AgentStatus::Active,
            credential_id: token.credential_id.clone(),
            active_credential_ids: [token.credential_id.clone()].into(),
            created_at: now,
            updated_at: now,
            revoked_at: None,
            revoke_reason: None,
            migrated_from_service_account_id: Some(sa_id.clone()),
            dual_write_until: Some(until),
            request_fingerprint: None,
        };
        let cred = self.agent_credential(&agent, &token, now, None);
        let mut migrated = sa.clone();
        migrated.migration_state = MigrationState::DualWriting;
        migrated.migrated_to_agent_id = Some(agent.agent_id.clone());
        migrated.migrated_at = Some(now);
        migrated.dual_write_until = Some(until);
        migrated.dual_write_ended_at = None;
        migrated.updated_at = now;
        self.store
            .migrate_account(&migrated, sa.updated_at, &agent, &cred)
            .await
            .map_err(|e| match e {
                StoreError::ConditionFailed("owner_not_active") => owner_not_active(),
                StoreError::ConditionFailed("service_account_changed") => changed_concurrently(),
                StoreError::ConditionFailed("legacy_credential_not_active") => ApiError::conflict(
                    "legacy_credential_not_active",
                    "the account's legacy credential is no longer active",
                ),
                other => other.into(),
            })?;
        self.audit(
            caller,
            "service_account.migrate",
            format!("service_account:{sa_id}"),
            now,
            Some(&agent.agent_id),
            json!({"owner": owner.user_id, "dualWriteUntil": until}),
        )
        .await?;
        Ok(respond(
            201,
            &json!({
                "serviceAccount": ServiceAccountView::from(&migrated),
                "agent": AgentView::from(&agent),
                "credential": CredentialView::minted(&cred, &token.reveal()),
                "warning": SECRET_WARNING,
            }),
        ))
    }

    async fn rollback(&self, caller: &Caller, id: &str) -> Result<Response<Body>, ApiError> {
        caller.require_admin()?;
        let sa_id = field("invalid_service_account_id", ServiceAccountId::parse(id))?;
        let sa = self.existing_account(&sa_id).await?;
        match sa.migration_state {
            MigrationState::DualWriting | MigrationState::AwaitingQuiet => {}
            MigrationState::Revoked => return Err(already_revoked()),
            _ => {
                return Err(ApiError::conflict(
                    "not_migrating",
                    "the account has no migration to roll back",
                ))
            }
        }
        let now = Timestamp::now();
        let mut rolled = sa.clone();
        rolled.migration_state = MigrationState::OwnerAssigned;
        rolled.migrated_to_agent_id = None;
        rolled.migrated_at = None;
        rolled.dual_write_until = None;
        rolled.dual_write_ended_at = None;
        rolled.updated_at = now;
        self.store
            .rollback_migration(
                &rolled,
                sa.updated_at,
                sa.migrated_to_agent_id.as_ref(),
                now,
            )
            .await
            .map_err(|e| match e {
                StoreError::ConditionFailed("service_account_changed") => changed_concurrently(),
                StoreError::ConditionFailed("agent_changed") => changed_concurrently(),
                other => other.into(),
            })?;
        self.audit(
            caller,
            "service_account.rollback",
            format!("service_account:{sa_id}"),
            now,
            sa.migrated_to_agent_id.as_ref(),
            json!({"revokedAgent": sa.migrated_to_agent_id}),
        )
        .await?;
        Ok(respond(
            200,
            &json!({
                "serviceAccount": ServiceAccountView::from(&rolled),
                "revokedAgentId": sa.migrated_to_agent_id,
            }),
        ))
    }

    async fn migration_status(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Response<Body>, ApiError> {
        caller.require_admin()?;
        let sa_id = field("invalid_service_account_id", ServiceAccountId::parse(id))?;
        let sa = self.existing_account(&sa_id).await?;
        let status = self.account_status(&sa, Timestamp::now()).await?;
        Ok(respond(200, &status))
    }

    /// The whole migration: counts per state, every migrating account's status and legacy usage
    /// trend, the owners of record to revisit, what is overdue, and the cutover date.
    async fn migration_overview(&self, caller: &Caller) -> Result<Response<Body>, ApiError> {
        caller.require_admin()?;
        let now = Timestamp::now();
        let mut counts = serde_json::Map::new();
        let mut accounts = Vec::new();
        let mut owners_of_record = Vec::new();
        let mut overdue = Vec::new();
        for state in MigrationState::ALL.into_iter().filter(|s| s.is_indexed()) {
            let mut page = PageRequest::new(100, None)?;
            let mut count = 0u64;
            loop {
                let got = self
                    .store
                    .list_service_accounts_by_state(state, &page)
                    .await?;
                for sa in &got.items {
                    count += 1;
                    let status = self.account_status(sa, now).await?;
                    if status["owner"]["ownerOfRecord"] == true {
                        owners_of_record.push(json!({
                            "serviceAccountId": sa.service_account_id,
                            "ownerUserId": status["owner"]["ownerUserId"],
                            "note": status["owner"]["note"],
                        }));
                    }
                    if status["overdueDualWrite"] == true {
                        overdue.push(json!({"serviceAccountId": sa.service_account_id, "kind": "dual_write_past_window", "since": sa.dual_write_until}));
                    }
                    accounts.push(status);
                }
                match got.next {
                    Some(next) => page = PageRequest::new(100, Some(next))?,
                    None => break,
                }
            }
            counts.insert(state.as_str().to_owned(), json!(count));
        }
        Ok(respond(
            200,
            &json!({
                "asOf": now,
                "cutoverDate": self.store.cutover().await?,
                "counts": counts,
                "accounts": accounts,
                "ownersOfRecord": owners_of_record,
                "overdue": overdue,
                "quietDays": self.sweep.quiet_days,
                "bufferDays": self.sweep.buffer_days,
            }),
        ))
    }

    /// One account's place in the migration, with its legacy credential's recent use.
    async fn account_status(&self, sa: &ServiceAccount, now: Timestamp) -> Result<Value, ApiError> {
        let owner = self.store.get_owner_map(&sa.service_account_id).await?;
        let today = now.day();
        let mut legacy = Value::Null;
        let mut eligible_at = None;
        if let Some(cred_id) = &sa.legacy_credential_id {
            let subject = UsageSubject::Credential(cred_id.clone());
            let days = self
                .store
                .recent_usage(&subject, today, USAGE_HISTORY_DAYS)
                .await?;
            let last_used_at = match days.last().map(|d| d.last_at) {
                Some(at) => Some(at),
                None => self.store.last_use(&subject).await?,
            };
            let daily: Vec<Value> = (0..USAGE_HISTORY_DAYS)
                .rev()
                .filter_map(|back| today.checked_sub_days(chrono::Days::new(u64::from(back))))
                .map(|day| {
                    let count = days.iter().find(|d| d.day == day).map_or(0, |d| d.count);
                    json!({"day": day_key(day), "count": count})
                })
                .collect();
            let quiet_since = SweepConfig::quiet_since(last_used_at, sa.migrated_at);
            if matches!(
                sa.migration_state,
                MigrationState::DualWriting | MigrationState::AwaitingQuiet
            ) {
                let quiet = quiet_since.map(|q| self.sweep.revoke_eligible_at(q));
                eligible_at = match (quiet, sa.dual_write_until) {
                    (Some(q), Some(window)) => Some(q.max(window)),
                    (q, w) => q.or(w),
                };
            }
            legacy = json!({
                "credentialId": cred_id,
                "lastUsedAt": last_used_at,
                "quietSince": quiet_since,
                "dailyUsage": daily,
            });
        }
        let overdue = sa.migration_state == MigrationState::DualWriting
            && sa.dual_write_until.is_some_and(|until| until <= now);
        Ok(json!({
            "serviceAccountId": sa.service_account_id,
            "name": sa.name,
            "kind": sa.kind,
            "state": sa.migration_state,
            "status": sa.status,
            "owner": owner.as_ref().map(OwnerView::from),
            "integrationsReviewed": sa.integrations_reviewed,
            "agentId": sa.migrated_to_agent_id,
            "migratedAt": sa.migrated_at,
            "dualWriteUntil": sa.dual_write_until,
            "dualWriteEndedAt": sa.dual_write_ended_at,
            "overdueDualWrite": overdue,
            "revokeEligibleAt": eligible_at,
            "revokedAt": sa.revoked_at,
            "purgeAt": sa.revoked_at.map(|at| self.sweep.purge_at(at)),
            "legacyCredential": legacy,
        }))
    }

    // ----- helpers ---------------------------------------------------------------------------

    fn agent_credential(
        &self,
        agent: &Agent,
        token: &Token,
        now: Timestamp,
        fingerprint: Option<String>,
    ) -> Credential {
        Credential {
            credential_id: token.credential_id.clone(),
            principal: Principal::Agent(agent.agent_id.clone()),
            secret_hash: self.pepper.hash_token(token),
            status: CredentialStatus::Active,
            created_at: now,
            expires_at: None,
            revoked_at: None,
            revoke_reason: None,
            accountable_principal_id: Some(agent.owner_user_id.clone()),
            agent_id: Some(agent.agent_id.clone()),
            legacy_service_account_id: agent.migrated_from_service_account_id.clone(),
            dual_write_until: agent.dual_write_until,
            scopes: agent.scopes.clone(),
            request_fingerprint: fingerprint,
        }
    }

    async fn existing_agent(&self, agent_id: &AgentId) -> Result<Agent, ApiError> {
        self.store
            .get_agent(agent_id)
            .await?
            .ok_or_else(|| ApiError::not_found("agent_not_found", "no such agent"))
    }

    /// The agent named by a path segment, if the caller may act on it.
    async fn agent_for(&self, caller: &Caller, id: &str) -> Result<Agent, ApiError> {
        let agent_id = field("invalid_agent_id", AgentId::parse(id))?;
        let agent = self.existing_agent(&agent_id).await?;
        if !caller.may_act_for(&agent.owner_user_id) {
            return Err(ApiError::Forbidden("not your agent".into()));
        }
        Ok(agent)
    }

    async fn existing_account(&self, id: &ServiceAccountId) -> Result<ServiceAccount, ApiError> {
        self.store.get_service_account(id).await?.ok_or_else(|| {
            ApiError::not_found("service_account_not_found", "no such service account")
        })
    }

    async fn active_user(&self, id: &UserId) -> Result<User, ApiError> {
        match self.store.get_user(id).await? {
            Some(user) if user.status == UserStatus::Active => Ok(user),
            _ => Err(owner_not_active()),
        }
    }

    /// Records an administrative action; fails closed (503) if the event cannot be stored.
    /// The event's key derives from the action, its resource and `occurred_at`, so a retried
    /// request that re-records it stores it once.
    async fn audit(
        &self,
        caller: &Caller,
        action: &str,
        resource: String,
        occurred_at: Timestamp,
        agent_id: Option<&AgentId>,
        details: Value,
    ) -> Result<(), ApiError> {
        let request_key = format!("{action}\n{resource}\n{occurred_at}");
        let request_id = RequestId::parse(format!(
            "mint-{}",
            Uuid::new_v5(&AUDIT_NAMESPACE, request_key.as_bytes()).simple()
        ))
        .map_err(|_| ApiError::Internal)?;
        let actor = Actor::user(&caller.user_id);
        let event = AuditEvent {
            event_id: EventId::derive(&format!("user:{}", caller.user_id), &request_id),
            actor,
            accountable_principal_id: Some(caller.user_id.clone()),
            agent_id: agent_id.cloned(),
            legacy_service_account_id: None,
            credential_id: None,
            action: Action::parse(action).map_err(|_| ApiError::Internal)?,
            resource: Resource::parse(resource).map_err(|_| ApiError::Internal)?,
            outcome: Outcome::Success,
            request_id,
            details: (!details.is_null()).then_some(details),
            occurred_at,
            received_at: Timestamp::now(),
        };
        match self.store.put_audit_event(&event).await {
            Ok(_) => Ok(()),
            Err(err) => {
                tracing::error!(error = %err, action, "audit write failed");
                Err(ApiError::Unavailable {
                    code: "audit_unavailable",
                    message: "the change could not be audited; retry the request".into(),
                })
            }
        }
    }
}

const SECRET_WARNING: &str =
    "store this credential now: it is shown once and cannot be retrieved again";

fn migration_started(state: MigrationState) -> bool {
    matches!(
        state,
        MigrationState::DualWriting | MigrationState::AwaitingQuiet | MigrationState::Revoked
    )
}

fn owner_not_active() -> ApiError {
    ApiError::conflict(
        "owner_not_active",
        "the owner does not exist or has been offboarded",
    )
}

fn already_revoked() -> ApiError {
    ApiError::conflict(
        "already_revoked",
        "the legacy credential is already revoked; the migration can no longer be rolled back",
    )
}

fn changed_concurrently() -> ApiError {
    ApiError::conflict(
        "conflict",
        "the account changed while this request ran; retry",
    )
}

fn check_scopes(scopes: &ScopeSet, owner: &User) -> Result<(), ApiError> {
    if scopes.is_subset_of(&owner.scopes) {
        return Ok(());
    }
    let excess: Vec<String> = scopes
        .excess_over(&owner.scopes)
        .into_iter()
        .map(String::from)
        .collect();
    Err(ApiError::unprocessable(
        "scope_exceeds_owner",
        format!(
            "an agent's scopes must be a subset of its owner's; not held by the owner: {}",
            excess.join(", ")
        ),
    ))
}

fn route_exists(segments: &[&str]) -> bool {
    ROUTES.iter().any(|(_, template)| {
        let parts: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
        parts.len() == segments.len()
            && parts
                .iter()
                .zip(segments)
                .all(|(p, s)| p.starts_with('{') || p == s)
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PutUserBody {
    email: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    admin: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OffboardBody {
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateAgentBody {
    name: String,
    owner_user_id: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RotateBody {
    grace_seconds: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TransferBody {
    new_owner_user_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PutServiceAccountBody {
    name: String,
    kind: ServiceAccountKind,
    #[serde(default)]
    integrations: Vec<Integration>,
    #[serde(default)]
    integrations_reviewed: bool,
    #[serde(default)]
    scopes: Vec<String>,
    legacy_secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PutOwnerBody {
    owner_user_id: String,
    #[serde(default)]
    owner_of_record: bool,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MigrateBody {
    dual_write_days: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_support::{fixture, offline_store};

    fn request(name: &str) -> Request {
        lambda_http::request::from_str(&fixture(name)).expect("a valid HTTP API v2 event")
    }

    fn offline_mint() -> Mint {
        Mint::new(offline_store(), Pepper::from_bytes(vec![1; 32]).unwrap())
    }

    async fn call(req: Request) -> (u16, Value) {
        let response = offline_mint().handle(req).await;
        let status = response.status().as_u16();
        let body = match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap(),
            _ => Value::Null,
        };
        (status, body)
    }

    const FIXTURES: &[&str] = &[
        "mint-put-user",
        "mint-offboard-user",
        "mint-create-agent",
        "mint-list-agents",
        "mint-get-agent",
        "mint-revoke-agent",
        "mint-accountable",
        "mint-rotate-credential",
        "mint-transfer-agent",
        "mint-revoke-credential",
        "mint-put-service-account",
        "mint-put-owner",
        "mint-migrate",
        "mint-rollback",
        "mint-migration-status",
        "mint-migration-overview",
    ];

    #[test]
    fn every_route_has_a_fixture_whose_route_key_matches() {
        let mut keys: Vec<String> = FIXTURES
            .iter()
            .map(|name| {
                let event: Value = serde_json::from_str(&fixture(name)).unwrap();
                event["routeKey"].as_str().unwrap().to_owned()
            })
            .collect();
        keys.sort();
        let mut routes: Vec<String> = ROUTES.iter().map(|(m, p)| format!("{m} {p}")).collect();
        routes.sort();
        assert_eq!(keys, routes);
    }

    #[test]
    fn fixtures_carry_the_verified_caller() {
        let req = request("mint-create-agent");
        let caller = Caller::from_request(&req).unwrap();
        assert_eq!(caller.user_id.as_str(), "govind");
        assert!(!caller.admin);
        let admin = Caller::from_request(&request("mint-migrate")).unwrap();
        assert!(admin.admin);
        for name in FIXTURES {
            let req = request(name);
            let segments: Vec<&str> = req
                .uri()
                .path()
                .split('/')
                .filter(|s| !s.is_empty())
                .collect();
            assert!(route_exists(&segments), "{name}: {}", req.uri().path());
        }
    }

    #[tokio::test]
    async fn no_claims_is_401_before_anything_else() {
        let (status, body) = call(request("mint-create-agent-no-claims")).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "unauthenticated");
    }

    #[tokio::test]
    async fn admin_routes_refuse_a_plain_user_without_io() {
        let mut event: Value = serde_json::from_str(&fixture("mint-put-user")).unwrap();
        let claims = &mut event["requestContext"]["authorizer"]["jwt"]["claims"];
        claims.as_object_mut().unwrap().remove("cognito:groups");
        claims["sub"] = "govind".into();
        let (status, body) =
            call(lambda_http::request::from_str(&event.to_string()).unwrap()).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }

    #[tokio::test]
    async fn malformed_bodies_are_400_with_stable_codes() {
        let event: Value = serde_json::from_str(&fixture("mint-create-agent")).unwrap();
        let with_body = |body: &str| {
            let mut e = event.clone();
            e["body"] = Value::String(body.to_owned());
            lambda_http::request::from_str(&e.to_string()).unwrap()
        };
        for (body, code) in [
            ("{not json", "invalid_json"),
            (r#"{"name": "x", "colour": "blue"}"#, "invalid_request"),
            (r#"{"name": ""}"#, "invalid_name"),
            (
                &format!(r#"{{"name": "{}"}}"#, "n".repeat(129)),
                "invalid_name",
            ),
            (
                r#"{"name": "ok", "scopes": ["Not A Scope"]}"#,
                "invalid_scope",
            ),
            (r#"{"name": "ok", "ownerUserId": "a#b"}"#, "invalid_user_id"),
            (
                r#"{"name": "ok", "ownerUserId": "someone-else"}"#,
                "forbidden",
            ),
        ] {
            let (status, response) = call(with_body(body)).await;
            let expected = if code == "forbidden" { 403 } else { 400 };
            assert_eq!(status, expected, "{body}: {response}");
            assert_eq!(response["error"]["code"], code, "{body}");
        }
    }

    #[tokio::test]
    async fn unknown_routes_and_methods() {
        let mut event: Value = serde_json::from_str(&fixture("mint-get-agent")).unwrap();
        event["requestContext"]["http"]["method"] = "PATCH".into();
        let (status, body) =
            call(lambda_http::request::from_str(&event.to_string()).unwrap()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (405, Some("method_not_allowed"))
        );
        event["rawPath"] = "/v1/nothing-here".into();
        event["requestContext"]["http"]["path"] = "/v1/nothing-here".into();
        event["requestContext"]["http"]["method"] = "GET".into();
        let (status, body) =
            call(lambda_http::request::from_str(&event.to_string()).unwrap()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("route_not_found"))
        );
    }
}
