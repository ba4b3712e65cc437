//! `audit`: records audit events (behind the Lambda authorizer) and serves the audit queries
//! (behind the JWT authorizer).

use agentid::api::audit::AuditApi;
use agentid::runtime;
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let api = AuditApi::new(runtime::store_from_env()?);
    let api = &api;
    run(service_fn(move |req| async move {
        Ok::<_, Error>(api.handle(req).await)
    }))
    .await
}
