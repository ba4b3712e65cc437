//! `sweep`: the scheduled sweep; "now" is the scheduled event's `time`.

use agentid::runtime;
use agentid::sweep::{Sweep, SweepConfig};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_tracing();
    let sweep = Sweep::new(runtime::store_from_env()?, SweepConfig::from_env());
    let sweep = &sweep;
    run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| async move {
            Ok::<_, Error>(sweep.handle(event.payload).await?)
        },
    ))
    .await
}
