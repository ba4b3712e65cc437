//! `usage`: the DynamoDB Streams consumer counting each credential's and account's daily use.

use agentid::runtime;
use agentid::usage::Aggregator;
use aws_lambda_events::dynamodb::Event;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let aggregator = Aggregator::new(runtime::store_from_env()?);
    let aggregator = &aggregator;
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(aggregator.handle(event.payload).await.0)
    }))
    .await
}
