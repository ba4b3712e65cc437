//! Response shapes. Built field by field from the entities so nothing internal (hashes,
//! fingerprints, versions) can leak into a response by accident.

use serde::Serialize;

use crate::credential::RevealedSecret;
use crate::ids::{AgentId, CredentialId, ServiceAccountId, UserId};
use crate::model::{
    Agent, AgentStatus, Credential, CredentialStatus, Integration, MigrationState, OwnerMapEntry,
    RevocationReason, ServiceAccount, ServiceAccountKind, ServiceAccountStatus, User, UserStatus,
};
use crate::time::Timestamp;
use crate::values::{Email, Name, Note, ScopeSet};

/// A user.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserView {
    user_id: UserId,
    email: Email,
    status: UserStatus,
    scopes: ScopeSet,
    admin: bool,
    created_at: Timestamp,
    updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    offboarded_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offboard_reason: Option<Note>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            user_id: u.user_id.clone(),
            email: u.email.clone(),
            status: u.status,
            scopes: u.scopes.clone(),
            admin: u.admin,
            created_at: u.created_at,
            updated_at: u.updated_at,
            offboarded_at: u.offboarded_at,
            offboard_reason: u.offboard_reason.clone(),
        }
    }
}

/// An agent.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AgentView {
    agent_id: AgentId,
    name: Name,
    owner_user_id: UserId,
    scopes: ScopeSet,
    status: AgentStatus,
    credential_id: CredentialId,
    active_credential_ids: Vec<CredentialId>,
    created_at: Timestamp,
    updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoke_reason: Option<RevocationReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    migrated_from_service_account_id: Option<ServiceAccountId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dual_write_until: Option<Timestamp>,
}

impl From<&Agent> for AgentView {
    fn from(a: &Agent) -> Self {
        Self {
            agent_id: a.agent_id.clone(),
            name: a.name.clone(),
            owner_user_id: a.owner_user_id.clone(),
            scopes: a.scopes.clone(),
            status: a.status,
            credential_id: a.credential_id.clone(),
            active_credential_ids: a.active_credential_ids.iter().cloned().collect(),
            created_at: a.created_at,
            updated_at: a.updated_at,
            revoked_at: a.revoked_at,
            revoke_reason: a.revoke_reason,
            migrated_from_service_account_id: a.migrated_from_service_account_id.clone(),
            dual_write_until: a.dual_write_until,
        }
    }
}

/// A credential: its metadata, and its secret only in the one response that mints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CredentialView {
    credential_id: CredentialId,
    principal_type: &'static str,
    principal_id: String,
    status: CredentialStatus,
    created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoke_reason: Option<RevocationReason>,
    /// The token, present exactly once: in the response that minted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    /// True on a replayed request: the secret was returned by the first response and is not
    /// stored anywhere, so it cannot be shown again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    secret_already_returned: bool,
}

impl CredentialView {
    /// Metadata only.
    pub(crate) fn of(c: &Credential) -> Self {
        Self {
            credential_id: c.credential_id.clone(),
            principal_type: c.principal.kind(),
            principal_id: c.principal.id().to_owned(),
            status: c.status,
            created_at: c.created_at,
            expires_at: c.expires_at,
            revoked_at: c.revoked_at,
            revoke_reason: c.revoke_reason,
            secret: None,
            secret_already_returned: false,
        }
    }

    /// With the secret, for the minting response.
    pub(crate) fn minted(c: &Credential, secret: &RevealedSecret) -> Self {
        Self {
            secret: Some(secret.expose().to_owned()),
            ..Self::of(c)
        }
    }

    /// For a replayed mint: no secret, and says so.
    pub(crate) fn replayed(c: &Credential) -> Self {
        Self {
            secret_already_returned: true,
            ..Self::of(c)
        }
    }
}

/// A service account, as inventoried.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceAccountView {
    service_account_id: ServiceAccountId,
    name: Name,
    kind: ServiceAccountKind,
    status: ServiceAccountStatus,
    migration_state: MigrationState,
    integrations: Vec<Integration>,
    integrations_reviewed: bool,
    scopes: ScopeSet,
    legacy_credential_imported: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    legacy_credential_id: Option<CredentialId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    migrated_to_agent_id: Option<AgentId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    migrated_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dual_write_until: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<&ServiceAccount> for ServiceAccountView {
    fn from(s: &ServiceAccount) -> Self {
        Self {
            service_account_id: s.service_account_id.clone(),
            name: s.name.clone(),
            kind: s.kind,
            status: s.status,
            migration_state: s.migration_state,
            integrations: s.integrations.clone(),
            integrations_reviewed: s.integrations_reviewed,
            scopes: s.scopes.clone(),
            legacy_credential_imported: s.legacy_credential_id.is_some(),
            legacy_credential_id: s.legacy_credential_id.clone(),
            migrated_to_agent_id: s.migrated_to_agent_id.clone(),
            migrated_at: s.migrated_at,
            dual_write_until: s.dual_write_until,
            revoked_at: s.revoked_at,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// An owner-map entry.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OwnerView {
    service_account_id: ServiceAccountId,
    owner_user_id: UserId,
    owner_of_record: bool,
    assigned_by: UserId,
    assigned_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<Note>,
}

impl From<&OwnerMapEntry> for OwnerView {
    fn from(o: &OwnerMapEntry) -> Self {
        Self {
            service_account_id: o.service_account_id.clone(),
            owner_user_id: o.owner_user_id.clone(),
            owner_of_record: o.owner_of_record,
            assigned_by: o.assigned_by.clone(),
            assigned_at: o.assigned_at,
            note: o.note.clone(),
        }
    }
}
