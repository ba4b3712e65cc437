//! `mint`: the management API behind the API Gateway JWT authorizer.

use agentid::api::mint::Mint;
use agentid::runtime;
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let sdk = runtime::aws_config()?;
    let mint = Mint::new(runtime::store(&sdk)?, runtime::pepper(&sdk).await?);
    let mint = &mint;
    run(service_fn(move |req| async move {
        Ok::<_, Error>(mint.handle(req).await)
    }))
    .await
}
