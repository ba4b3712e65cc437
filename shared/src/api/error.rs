//! The API's one error type, and its mapping to HTTP status, in one place.

use http::StatusCode;
use serde_json::json;

use crate::store::StoreError;

/// Every way an API call can fail. The `code` strings are stable: clients branch on them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; `code` names what (e.g. `invalid_scope`).
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// 401: no verified caller.
    #[error("authentication required")]
    Unauthenticated,
    /// 403: the caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: the named thing does not exist (`code` e.g. `agent_not_found`).
    #[error("{message}")]
    NotFound {
        /// Stable code.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// 405: the route exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: the request conflicts with the current state (e.g. `owner_not_active`).
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// 422: well-formed but not acceptable (e.g. `scope_exceeds_owner`).
    #[error("{message}")]
    Unprocessable {
        /// Stable code.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// 503: a dependency is unavailable; safe to retry (`code` e.g. `audit_unavailable`).
    #[error("{message}")]
    Unavailable {
        /// Stable code.
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
    /// 500: a fault of the service.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// A 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// A 404 with `code`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }

    /// A 409 with `code`.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    /// A 422 with `code`.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::Unavailable { code, .. } => code,
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Internal => "internal",
        }
    }

    /// The response body: `{"error": {"code": ..., "message": ...}}`.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code(), "message": self.to_string()}})
    }
}

impl From<StoreError> for ApiError {
    /// Store errors the handlers did not map themselves: precondition failures become 409s
    /// named by the precondition; faults become 503 (transient) or 500.
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => Self::not_found("not_found", format!("{what} not found")),
            StoreError::ConditionFailed(code) => Self::conflict(
                code,
                format!("the request conflicts with the current state: {code}"),
            ),
            StoreError::Validation(message) => Self::bad_request("invalid_request", message),
            StoreError::Transient(message) => {
                tracing::warn!(%message, "store unavailable");
                Self::Unavailable {
                    code: "store_unavailable",
                    message: "storage is temporarily unavailable; retry".into(),
                }
            }
            StoreError::Internal(message) => {
                tracing::error!(%message, "store fault");
                Self::Internal
            }
        }
    }
}
