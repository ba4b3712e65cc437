//! Init variants for the cold-start comparison: each builds the AWS configuration and the
//! DynamoDB client one way the functions do not, then serves like a function, so `cold-start`
//! can time them beside the functions and `hello-lambda` in the same run.

use std::sync::Arc;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

/// How init builds the configuration.
#[derive(Debug, Clone, Copy)]
pub enum Variant {
    /// `aws_config::defaults(..).load()` (every provider chain: profile files, environment,
    /// then the rest), with the functions' HTTP client.
    Loader,
    /// The functions' configuration, trusting the platform's root certificates
    /// (`AGENTID_TLS_NATIVE_ROOTS=1`).
    NativeRoots,
}

/// Builds the configuration and the client as `variant` says, loads the pepper, then serves.
pub async fn serve(variant: Variant) -> Result<(), Error> {
    agentid::runtime::init_tracing();
    let sdk = match variant {
        Variant::Loader => {
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .http_client(agentid::runtime::http_client())
                .load()
                .await
        }
        Variant::NativeRoots => agentid::runtime::aws_config_with(
            agentid::runtime::http_client_trusting(agentid::runtime::Roots::Platform),
        )?,
    };
    let store = agentid::runtime::store(&sdk)?;
    let pepper = agentid::runtime::pepper(&sdk).await?;
    let state = Arc::new((store, pepper));
    run(service_fn(move |event: LambdaEvent<Value>| {
        let _state = state.clone();
        async move { Ok::<_, Error>(event.payload) }
    }))
    .await
}
