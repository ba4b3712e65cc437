//! `authorizer`: the HTTP API Lambda authorizer (payload 2.0, simple responses).

use agentid::api::authorizer::Authorizer;
use agentid::runtime;
use agentid::time::Timestamp;
use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let sdk = runtime::aws_config()?;
    let authorizer = Authorizer::new(runtime::store(&sdk)?, runtime::pepper(&sdk).await?);
    let authorizer = &authorizer;
    run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
            Ok::<_, Error>(
                authorizer
                    .authorize(&event.payload, Timestamp::now())
                    .await?,
            )
        },
    ))
    .await
}
