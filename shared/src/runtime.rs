//! What every function's `main` does once at init: logging, the AWS configuration, the
//! DynamoDB client, the pepper.

use crate::credential::Pepper;
use crate::store::{client_config, Store};

/// Environment variable naming the table.
pub const TABLE_NAME_VAR: &str = "TABLE_NAME";
/// Environment variable holding the credential pepper itself (base64, at least 32 bytes): for
/// local runs.
pub const PEPPER_VAR: &str = "AGENTID_PEPPER";
/// Environment variable naming the SSM SecureString parameter that holds the pepper: in AWS.
pub const PEPPER_PARAMETER_VAR: &str = "AGENTID_PEPPER_PARAMETER";

/// An init-time failure: the function cannot start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A required setting is missing or invalid.
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

/// The AWS configuration from the environment (region, credentials, endpoint overrides such
/// as `AWS_ENDPOINT_URL_DYNAMODB`).
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// The store over the table named by `TABLE_NAME`, with the client built once.
pub fn store(sdk: &aws_config::SdkConfig) -> Result<Store, InitError> {
    let table = std::env::var(TABLE_NAME_VAR)
        .map_err(|_| InitError::Config(format!("{TABLE_NAME_VAR} must be set")))?;
    let client = aws_sdk_dynamodb::Client::from_conf(client_config(sdk).build());
    Ok(Store::new(client, table))
}

/// The store, from a freshly loaded configuration.
pub async fn store_from_env() -> Result<Store, InitError> {
    store(&aws_config().await)
}

/// The pepper: `AGENTID_PEPPER` when set (local runs), otherwise the SSM SecureString named by
/// `AGENTID_PEPPER_PARAMETER`, read once, decrypted.
pub async fn pepper(sdk: &aws_config::SdkConfig) -> Result<Pepper, InitError> {
    if let Ok(text) = std::env::var(PEPPER_VAR) {
        return Pepper::from_base64(&text)
            .map_err(|e| InitError::Config(format!("{PEPPER_VAR}: {e}")));
    }
    let name = std::env::var(PEPPER_PARAMETER_VAR)
        .map_err(|_| InitError::Config(format!("set {PEPPER_VAR} or {PEPPER_PARAMETER_VAR}")))?;
    let out = aws_sdk_ssm::Client::new(sdk)
        .get_parameter()
        .name(&name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| InitError::Config(format!("reading the pepper from {name}: {e}")))?;
    let text = out
        .parameter
        .and_then(|p| p.value)
        .ok_or_else(|| InitError::Config(format!("{name} has no value")))?;
    Pepper::from_base64(&text).map_err(|e| InitError::Config(format!("{name}: {e}")))
}
