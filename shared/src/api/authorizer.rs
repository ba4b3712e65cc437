//! The Lambda authorizer: verifies a presented agent token or legacy service-account secret and
//! hands the audit routes who is acting and who is accountable.
//!
//! A malformed bearer is denied without any I/O. Otherwise verification is ONE strongly
//! consistent GetItem of the credential, whose item carries everything needed (status, expiry,
//! owner, agent, cutover window); the keyed hash is compared in constant time. Nothing secret is
//! logged: only the credential id and the reason for a denial.

use std::collections::HashMap;

use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use serde_json::{Map, Value};

use crate::credential::{classify, Pepper, Presented};
use crate::ids::{AgentId, CredentialId, ServiceAccountId, UserId};
use crate::model::{Actor, Credential, Principal};
use crate::store::{Store, StoreError};
use crate::time::Timestamp;
use crate::values::ScopeSet;

/// Who is acting, as the authorizer established it. Passed to the audit routes as the
/// authorizer context; the audit function takes attribution from here, never from a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// The principal the credential authenticates.
    pub principal: Principal,
    /// The human accountable, when there is one.
    pub accountable_principal_id: Option<UserId>,
    /// The credential presented.
    pub credential_id: CredentialId,
    /// The agent identity involved: the principal itself, or the agent replacing a migrating
    /// legacy account.
    pub agent_id: Option<AgentId>,
    /// The old service account, while events are dual-written for it.
    pub legacy_service_account_id: Option<ServiceAccountId>,
    /// What the bearer may do.
    pub scopes: ScopeSet,
}

/// Why a bearer was refused. Logged; never returned to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// No `Authorization: Bearer` header.
    MissingToken,
    /// Not a well-formed token nor a plausible legacy secret (no I/O was done).
    Malformed,
    /// No such credential.
    Unknown,
    /// The secret does not match the stored hash.
    BadSecret,
    /// Revoked, expired, or past its grace period.
    NotUsable,
}

impl Denial {
    /// A stable name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::Malformed => "malformed_token",
            Self::Unknown => "unknown_credential",
            Self::BadSecret => "bad_secret",
            Self::NotUsable => "credential_not_usable",
        }
    }
}

impl Attribution {
    /// The attribution a usable credential carries at `now`.
    pub fn of(cred: &Credential, now: Timestamp) -> Self {
        let dual_writing = cred.dual_write_until.is_some_and(|until| now < until);
        let legacy = match &cred.principal {
            // An agent's events name the old account only inside its cutover window.
            Principal::Agent(_) => cred
                .legacy_service_account_id
                .clone()
                .filter(|_| dual_writing),
            // A legacy credential in use during its migration names its own account, with the
            // agent that replaces it.
            Principal::ServiceAccount(account) => cred.agent_id.as_ref().map(|_| account.clone()),
        };
        let agent_id = match &cred.principal {
            Principal::Agent(id) => Some(id.clone()),
            Principal::ServiceAccount(_) => cred.agent_id.clone(),
        };
        Self {
            principal: cred.principal.clone(),
            accountable_principal_id: cred.accountable_principal_id.clone(),
            credential_id: cred.credential_id.clone(),
            agent_id,
            legacy_service_account_id: legacy,
            scopes: cred.scopes.clone(),
        }
    }

    /// The acting principal as an audit actor.
    pub fn actor(&self) -> Actor {
        match &self.principal {
            Principal::Agent(id) => Actor::agent(id),
            Principal::ServiceAccount(id) => Actor::service_account(id),
        }
    }

    /// The authorizer context: string values only, absent values left out.
    pub fn to_context(&self) -> Value {
        let mut map = Map::new();
        let mut put = |k: &str, v: String| {
            map.insert(k.to_owned(), Value::String(v));
        };
        put("principalType", self.principal.kind().to_owned());
        put("principalId", self.principal.id().to_owned());
        put("credentialId", self.credential_id.to_string());
        if let Some(owner) = &self.accountable_principal_id {
            put("accountablePrincipalId", owner.to_string());
        }
        if let Some(agent) = &self.agent_id {
            put("agentId", agent.to_string());
        }
        if let Some(legacy) = &self.legacy_service_account_id {
            put("legacyServiceAccountId", legacy.to_string());
        }
        put(
            "scopes",
            self.scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        );
        Value::Object(map)
    }

    /// Reads an authorizer context back; `None` if it is not one this authorizer wrote.
    pub fn from_context(context: &Value) -> Option<Self> {
        let get = |k: &str| context.get(k).and_then(Value::as_str);
        let principal = match get("principalType")? {
            "agent" => Principal::Agent(AgentId::parse(get("principalId")?).ok()?),
            "service_account" => {
                Principal::ServiceAccount(ServiceAccountId::parse(get("principalId")?).ok()?)
            }
            _ => return None,
        };
        let optional = |k: &str| get(k).filter(|v| !v.is_empty());
        Some(Self {
            principal,
            accountable_principal_id: optional("accountablePrincipalId")
                .map(UserId::parse)
                .transpose()
                .ok()?,
            credential_id: CredentialId::parse(get("credentialId")?).ok()?,
            agent_id: optional("agentId").map(AgentId::parse).transpose().ok()?,
            legacy_service_account_id: optional("legacyServiceAccountId")
                .map(ServiceAccountId::parse)
                .transpose()
                .ok()?,
            scopes: ScopeSet::parse(get("scopes").unwrap_or_default().split_whitespace()).ok()?,
        })
    }
}

/// The authorizer's state: built once at init.
#[derive(Debug, Clone)]
pub struct Authorizer {
    store: Store,
    pepper: Pepper,
}

impl Authorizer {
    /// An authorizer over `store`, verifying under `pepper`.
    pub fn new(store: Store, pepper: Pepper) -> Self {
        Self { store, pepper }
    }

    /// Verifies a bearer string at `now`. Faults are errors (the request fails rather than
    /// being cached as a denial); refusals are `Ok(Err(denial))`.
    pub async fn verify(
        &self,
        bearer: &str,
        now: Timestamp,
    ) -> Result<Result<Attribution, Denial>, StoreError> {
        let presented = match classify(bearer) {
            Ok(presented) => presented,
            Err(_) => return Ok(Err(Denial::Malformed)),
        };
        let credential_id = match &presented {
            Presented::Token(token) => token.credential_id.clone(),
            Presented::Legacy(secret) => self.pepper.legacy_credential_id(secret),
        };
        let Some(cred) = self.store.get_credential(&credential_id).await? else {
            return Ok(Err(Denial::Unknown));
        };
        let matches = match &presented {
            Presented::Token(token) => self.pepper.verify_token(token, &cred.secret_hash),
            Presented::Legacy(secret) => self.pepper.verify_legacy(secret, &cred.secret_hash),
        };
        if !matches {
            return Ok(Err(Denial::BadSecret));
        }
        if !cred.is_usable_at(now) {
            return Ok(Err(Denial::NotUsable));
        }
        Ok(Ok(Attribution::of(&cred, now)))
    }

    /// Handles an HTTP API (payload 2.0) authorizer request with a simple response.
    pub async fn authorize(
        &self,
        request: &ApiGatewayV2CustomAuthorizerV2Request,
        now: Timestamp,
    ) -> Result<ApiGatewayV2CustomAuthorizerSimpleResponse, StoreError> {
        let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
        response.context = Value::Object(Map::new());
        let outcome = match bearer(request) {
            None => Err(Denial::MissingToken),
            Some(token) => self.verify(token, now).await?,
        };
        match outcome {
            Ok(attribution) => {
                tracing::info!(credential_id = %attribution.credential_id, principal = attribution.principal.id(), "authorized");
                response.is_authorized = true;
                response.context = attribution.to_context();
            }
            Err(denial) => {
                tracing::info!(reason = denial.as_str(), "denied");
            }
        }
        Ok(response)
    }
}

/// The bearer credential: the identity source if configured, else the `Authorization` header.
fn bearer(request: &ApiGatewayV2CustomAuthorizerV2Request) -> Option<&str> {
    let header = request
        .identity_source
        .as_ref()
        .and_then(|sources| sources.first().map(String::as_str))
        .or_else(|| {
            request
                .headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
        })?;
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The authorizer context of a request that passed the Lambda authorizer: the event's
/// `requestContext.authorizer.lambda` map.
pub fn context_of(lambda_context: &HashMap<String, Value>) -> Option<Attribution> {
    let map: Map<String, Value> = lambda_context
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Attribution::from_context(&Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CredentialStatus, SecretHash};

    fn cred(principal: Principal) -> Credential {
        Credential {
            credential_id: CredentialId::generate(),
            principal,
            secret_hash: SecretHash("x".into()),
            status: CredentialStatus::Active,
            created_at: Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
            expires_at: None,
            revoked_at: None,
            revoke_reason: None,
            accountable_principal_id: Some(UserId::parse("govind").unwrap()),
            agent_id: None,
            legacy_service_account_id: None,
            dual_write_until: None,
            scopes: ScopeSet::parse(["repo:read", "deploy:run"]).unwrap(),
            request_fingerprint: None,
        }
    }

    #[test]
    fn agent_events_name_the_old_account_only_inside_the_window() {
        let agent = AgentId::generate();
        let mut c = cred(Principal::Agent(agent.clone()));
        c.agent_id = Some(agent.clone());
        c.legacy_service_account_id = Some(ServiceAccountId::parse("sa-7").unwrap());
        c.dual_write_until = Some(Timestamp::parse("2026-01-08T00:00:00Z").unwrap());
        let inside = Attribution::of(&c, Timestamp::parse("2026-01-07T23:59:59Z").unwrap());
        assert_eq!(inside.legacy_service_account_id.unwrap().as_str(), "sa-7");
        assert_eq!(inside.agent_id, Some(agent));
        let after = Attribution::of(&c, Timestamp::parse("2026-01-08T00:00:00Z").unwrap());
        assert_eq!(after.legacy_service_account_id, None);
    }

    #[test]
    fn legacy_credentials_name_their_account_while_migrating() {
        let account = ServiceAccountId::parse("sa-7").unwrap();
        let mut c = cred(Principal::ServiceAccount(account.clone()));
        let now = Timestamp::parse("2026-01-02T00:00:00Z").unwrap();
        let plain = Attribution::of(&c, now);
        assert_eq!(
            (
                plain.agent_id.clone(),
                plain.legacy_service_account_id.clone()
            ),
            (None, None)
        );
        let agent = AgentId::generate();
        c.agent_id = Some(agent.clone());
        let migrating = Attribution::of(&c, now);
        assert_eq!(migrating.agent_id, Some(agent));
        assert_eq!(migrating.legacy_service_account_id, Some(account));
    }

    #[tokio::test]
    async fn malformed_tokens_are_denied_without_io() {
        let fixture = crate::api::test_support::fixture("authorizer-request");
        let request: ApiGatewayV2CustomAuthorizerV2Request =
            serde_json::from_str(&fixture).unwrap();
        let authorizer = Authorizer::new(
            crate::api::test_support::offline_store(),
            Pepper::from_bytes(vec![1; 32]).unwrap(),
        );
        // The fixture's token has the right shape but a wrong checksum: denied before any
        // request (the offline store would fail the call if one were made).
        let response = authorizer
            .authorize(&request, Timestamp::now())
            .await
            .unwrap();
        assert!(!response.is_authorized);
        assert_eq!(response.context, serde_json::json!({}));
        let mut missing = request.clone();
        missing.identity_source = None;
        missing.headers.clear();
        assert!(
            !authorizer
                .authorize(&missing, Timestamp::now())
                .await
                .unwrap()
                .is_authorized
        );
        assert_eq!(
            bearer(&request).map(str::len),
            Some(crate::credential::TOKEN_LEN)
        );
    }

    #[tokio::test]
    async fn a_fault_is_an_error_not_a_cached_denial() {
        let authorizer = Authorizer::new(
            crate::api::test_support::offline_store(),
            Pepper::from_bytes(vec![1; 32]).unwrap(),
        );
        let token =
            crate::credential::Token::generate(crate::credential::TokenKind::Agent).unwrap();
        let result = authorizer
            .verify(token.reveal().expose(), Timestamp::now())
            .await;
        assert!(
            matches!(result, Err(StoreError::Transient(_))),
            "{result:?}"
        );
    }

    #[test]
    fn context_round_trips_as_strings() {
        let agent = AgentId::generate();
        let mut c = cred(Principal::Agent(agent.clone()));
        c.agent_id = Some(agent);
        let attribution = Attribution::of(&c, Timestamp::now());
        let context = attribution.to_context();
        assert!(context.as_object().unwrap().values().all(Value::is_string));
        assert!(context.get("legacyServiceAccountId").is_none());
        assert_eq!(Attribution::from_context(&context), Some(attribution));
        assert_eq!(
            Attribution::from_context(&serde_json::json!({"principalType": "user"})),
            None
        );
    }
}
