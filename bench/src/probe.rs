//! Init variants for the cold-start experiment: each builds the SDK configuration and the
//! DynamoDB client a different way at init, then serves like a function. Measured by
//! `cold-start` beside `hello-lambda`.

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Region, SharedCredentialsProvider};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

/// How init builds the client.
#[derive(Debug, Clone, Copy)]
pub enum Variant {
    /// `aws_config::defaults(..).load()`: every provider chain, profile files included.
    Defaults,
    /// The loader with region and credentials given from the environment.
    Explicit,
    /// `SdkConfig` built directly from the environment: no loader, no profile files.
    Direct,
    /// As `Direct`, with an HTTP client that trusts only the compiled-in Amazon roots.
    DirectPinned,
}

const AMAZON_ROOTS: &str = concat!(include_str!("amazon_roots.pem"),);

fn direct(
    http: Option<aws_smithy_runtime_api::client::http::SharedHttpClient>,
) -> aws_config::SdkConfig {
    let region = std::env::var("AWS_REGION").expect("AWS_REGION");
    let mut builder = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        ))
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        .time_source(aws_smithy_async::time::SystemTimeSource::new());
    if let Some(http) = http {
        builder = builder.http_client(http);
    }
    builder.build()
}

fn pinned_http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let trust = tls::TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_ROOTS.as_bytes());
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(
            tls::TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .expect("TLS context"),
        )
        .build_https()
}

/// Builds the client as `variant` says, then serves.
pub async fn serve(variant: Variant) -> Result<(), Error> {
    agentid::runtime::init_tracing();
    let sdk = match variant {
        Variant::Defaults => aws_config::defaults(BehaviorVersion::latest()).load().await,
        Variant::Explicit => {
            let region = std::env::var("AWS_REGION").expect("AWS_REGION");
            aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(region))
                .credentials_provider(
                    aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
                )
                .load()
                .await
        }
        Variant::Direct => direct(None),
        Variant::DirectPinned => direct(Some(pinned_http_client())),
    };
    let client = aws_sdk_dynamodb::Client::from_conf(agentid::store::client_config(&sdk).build());
    let pepper = agentid::credential::Pepper::from_base64(
        &std::env::var("AGENTID_PEPPER").expect("AGENTID_PEPPER"),
    )
    .expect("pepper");
    let state = Arc::new((client, pepper));
    run(service_fn(move |event: LambdaEvent<Value>| {
        let _state = state.clone();
        async move { Ok::<_, Error>(event.payload) }
    }))
    .await
}
