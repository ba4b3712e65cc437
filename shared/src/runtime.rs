//! What every function's `main` does once at init: logging, the DynamoDB client, the pepper.

use crate::credential::Pepper;
use crate::store::{client_config, Store};

/// Environment variable naming the table.
pub const TABLE_NAME_VAR: &str = "TABLE_NAME";
/// Environment variable holding the credential pepper (base64, at least 32 bytes).
pub const PEPPER_VAR: &str = "AGENTID_PEPPER";

/// An init-time failure: the function cannot start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A required environment variable is missing or invalid.
    #[error("{0}")]
    Config(String),
}

/// JSON logs to stdout (CloudWatch), filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .try_init();
}

/// The store over the table named by `TABLE_NAME`, with the client built once.
pub async fn store_from_env() -> Result<Store, InitError> {
    let table = std::env::var(TABLE_NAME_VAR)
        .map_err(|_| InitError::Config(format!("{TABLE_NAME_VAR} must be set")))?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::from_conf(client_config(&sdk).build());
    Ok(Store::new(client, table))
}

/// The pepper from `AGENTID_PEPPER`.
pub fn pepper_from_env() -> Result<Pepper, InitError> {
    let text = std::env::var(PEPPER_VAR)
        .map_err(|_| InitError::Config(format!("{PEPPER_VAR} must be set")))?;
    Pepper::from_base64(&text).map_err(|e| InitError::Config(format!("{PEPPER_VAR}: {e}")))
}
