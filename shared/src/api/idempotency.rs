//! `Idempotency-Key` without storing a secret.
//!
//! The key fixes the ids of what the request creates (derived from the caller and the key), so a
//! retry collides with the first attempt's conditional write instead of creating a second agent.
//! The created item keeps a fingerprint of the request (caller, key, body); a retry with the same
//! fingerprint is a replay (the same agent and credential id, without the secret, which was
//! returned once and never stored); any other body under the same key is refused.

use lambda_http::Request;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::ApiError;
use crate::ids::{AgentId, CredentialId, UserId};

/// Header carrying the client's key.
pub(crate) const HEADER: &str = "idempotency-key";
const NAMESPACE: Uuid = Uuid::from_u128(0x2b9c_77d1_0e4f_4a3a_8f16_5c0d_b1e2_a9f3);

/// A validated idempotency key, scoped to its caller and its operation.
#[derive(Debug, Clone)]
pub(crate) struct IdempotencyKey {
    scope: String,
}

impl IdempotencyKey {
    /// The key from the request, if any: 1-128 printable ASCII characters.
    pub(crate) fn from_request(
        req: &Request,
        caller: &UserId,
        operation: &str,
    ) -> Result<Option<Self>, ApiError> {
        let Some(value) = req.headers().get(HEADER) else {
            return Ok(None);
        };
        let text = value
            .to_str()
            .ok()
            .filter(|t| !t.is_empty() && t.len() <= 128 && t.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_idempotency_key",
                    "Idempotency-Key must be 1-128 printable ASCII characters",
                )
            })?;
        Ok(Some(Self {
            scope: format!("{operation}\n{caller}\n{text}"),
        }))
    }

    fn uuid(&self, purpose: &str) -> Uuid {
        Uuid::new_v5(&NAMESPACE, format!("{purpose}\n{}", self.scope).as_bytes())
    }

    /// The agent id this key creates.
    pub(crate) fn agent_id(&self) -> AgentId {
        AgentId::parse(format!("agt_{}", self.uuid("agent").simple()))
            .expect("agt_ and 32 hex digits is an agent id")
    }

    /// The credential id this key creates.
    pub(crate) fn credential_id(&self) -> CredentialId {
        CredentialId::parse(format!("crd_{}", self.uuid("credential").simple()))
            .expect("crd_ and 32 hex digits is a credential id")
    }

    /// Fingerprint of this key with a canonical form of the request body.
    pub(crate) fn fingerprint(&self, canonical_body: &serde_json::Value) -> String {
        let mut hash = Sha256::new();
        hash.update(self.scope.as_bytes());
        hash.update(b"\n");
        hash.update(canonical_body.to_string().as_bytes());
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Refuses a key reused with a different request.
pub(crate) fn check_replay(stored: Option<&str>, fingerprint: &str) -> Result<(), ApiError> {
    if stored == Some(fingerprint) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request",
        ))
    }
}
