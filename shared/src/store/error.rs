//! The store's one error type, and how SDK errors map onto it.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};

/// Everything a store operation can fail with.
///
/// Callers decide on these alone: `NotFound`, `ConditionFailed` and `Validation` are the caller's
/// to handle (a 4xx at the API); `Transient` and `Internal` are faults (a 5xx), safe to retry
/// because every write is conditional or idempotent.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The item does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A precondition did not hold; the code names which (e.g. `owner_not_active`). Nothing was
    /// written.
    #[error("precondition failed: {0}")]
    ConditionFailed(&'static str),
    /// The request was refused as malformed, by the store's own checks or by DynamoDB.
    #[error("invalid request: {0}")]
    Validation(String),
    /// Throttling, timeouts, dropped connections, server errors: retry later.
    #[error("DynamoDB unavailable: {0}")]
    Transient(String),
    /// A fault that retrying will not fix (missing table, an item that does not decode).
    #[error("store fault: {0}")]
    Internal(String),
}

/// Error codes DynamoDB uses for conditions that pass with time.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionInProgressException",
    "TransactionConflictException",
];

impl StoreError {
    /// Maps any SDK error. Conditional-check failures on a single-item write become
    /// `ConditionFailed("condition_failed")`; callers that know which condition failed use
    /// [`StoreError::condition`] instead.
    pub(crate) fn from_sdk<E>(err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match &err {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => Self::Transient(display_chain(&err)),
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let code = inner.code().unwrap_or_default();
                let message = inner.message().unwrap_or_default().to_owned();
                if code == "ConditionalCheckFailedException" {
                    Self::ConditionFailed("condition_failed")
                } else if code == "ValidationException" {
                    Self::Validation(message)
                } else if TRANSIENT_CODES.contains(&code)
                    || service.raw().status().is_server_error()
                {
                    Self::Transient(format!("{code}: {message}"))
                } else {
                    Self::Internal(format!("{code}: {message}"))
                }
            }
            _ => Self::Internal(display_chain(&err)),
        }
    }

    /// Maps an SDK error where a conditional-check failure means the named precondition.
    pub(crate) fn condition<E>(
        precondition: &'static str,
    ) -> impl FnOnce(SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        move |err| match Self::from_sdk(err) {
            Self::ConditionFailed(_) => Self::ConditionFailed(precondition),
            other => other,
        }
    }

    /// A request the SDK refused to build: a bug in the store, not the caller's input.
    pub(crate) fn build(err: BuildError) -> Self {
        Self::Internal(format!("request build: {err}"))
    }

    /// An item that does not decode into its entity.
    pub(crate) fn corrupt(what: &str, err: impl std::fmt::Display) -> Self {
        Self::Internal(format!("stored {what} does not decode: {err}"))
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

fn display_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
