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

/// Set to `1` to trust the platform's root certificates instead of the compiled-in Amazon
/// roots (for a partition whose endpoints chain elsewhere, or a TLS-inspecting proxy).
pub const NATIVE_ROOTS_VAR: &str = "AGENTID_TLS_NATIVE_ROOTS";

/// The Amazon Trust Services roots, and the Starfield root they are cross-signed by: every AWS
/// service endpoint's certificate chains to one of them. Compiled in, so init reads no
/// certificate files (loading the platform store is most of a naive function's init time; see
/// BENCHMARKS.md, cold start).
const AMAZON_ROOTS: &str = include_str!("amazon_roots.pem");

/// Which root certificates the HTTP client trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roots {
    /// The compiled-in Amazon roots.
    Amazon,
    /// The platform's root store (read from disk when the client is built).
    Platform,
}

/// An HTTP client for AWS clients: rustls (ring), trusting `roots`.
pub fn http_client_trusting(
    roots: Roots,
) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let trust = match roots {
        Roots::Platform => tls::TrustStore::default(),
        Roots::Amazon => tls::TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(AMAZON_ROOTS.as_bytes()),
    };
    let context = tls::TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("the compiled-in roots are valid PEM");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(context)
        .build_https()
}

/// The HTTP client of every AWS client: the compiled-in Amazon roots, or the platform's with
/// `AGENTID_TLS_NATIVE_ROOTS=1`.
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    let native = std::env::var(NATIVE_ROOTS_VAR).is_ok_and(|v| v == "1");
    http_client_trusting(if native {
        Roots::Platform
    } else {
        Roots::Amazon
    })
}

/// The AWS configuration from the environment Lambda gives a function, and nothing else: the
/// region from `AWS_REGION` (or `AWS_DEFAULT_REGION`), credentials from `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`. No profile files are read and no metadata
/// service is asked, so init probes nothing. `AWS_ENDPOINT_URL_DYNAMODB` still points the
/// DynamoDB client elsewhere (local servers; see [`client_config`]).
pub fn aws_config() -> Result<aws_config::SdkConfig, InitError> {
    aws_config_with(http_client())
}

/// As [`aws_config`], with the given HTTP client.
pub fn aws_config_with(
    http: aws_smithy_runtime_api::client::http::SharedHttpClient,
) -> Result<aws_config::SdkConfig, InitError> {
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .map_err(|_| InitError::Config("AWS_REGION must be set".into()))?;
    Ok(aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            ),
        )
        .http_client(http)
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        .time_source(aws_smithy_async::time::SystemTimeSource::new())
        .build())
}

/// The store over the table named by `TABLE_NAME`, with the client built once.
pub fn store(sdk: &aws_config::SdkConfig) -> Result<Store, InitError> {
    let table = std::env::var(TABLE_NAME_VAR)
        .map_err(|_| InitError::Config(format!("{TABLE_NAME_VAR} must be set")))?;
    let client = aws_sdk_dynamodb::Client::from_conf(client_config(sdk).build());
    Ok(Store::new(client, table))
}

/// The store, from the environment's configuration.
pub fn store_from_env() -> Result<Store, InitError> {
    store(&aws_config()?)
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
