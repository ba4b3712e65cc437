//! The table's DynamoDB stream, read shard by shard and handed to the usage aggregator in
//! batches, as Lambda's event source mapping would: a batch that reports a failure is delivered
//! again from the failed record.

use std::collections::HashMap;
use std::time::Duration;

use agentid::usage::Aggregator;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use aws_sdk_dynamodbstreams::Client;
use serde_json::{json, Map, Value};

/// DynamoDB JSON of a stream attribute value.
fn dynamodb_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::Ss(v) => json!({"SS": v}),
        AttributeValue::Ns(v) => json!({"NS": v}),
        AttributeValue::L(v) => json!({"L": v.iter().map(dynamodb_json).collect::<Vec<_>>()}),
        AttributeValue::M(m) => json!({"M": image(m)}),
        _ => json!({"NULL": true}),
    }
}

fn image(item: &HashMap<String, AttributeValue>) -> Map<String, Value> {
    item.iter()
        .map(|(k, v)| (k.clone(), dynamodb_json(v)))
        .collect()
}

/// A stream record as the Lambda event carries it.
pub fn lambda_record(record: &Record, stream_arn: &str) -> Value {
    let change = record.dynamodb();
    json!({
        "eventID": record.event_id().unwrap_or_default(),
        "eventName": record.event_name().map(|n| n.as_str()).unwrap_or_default(),
        "eventVersion": record.event_version().unwrap_or("1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.aws_region().unwrap_or("us-east-1"),
        "dynamodb": {
            "ApproximateCreationDateTime": change.and_then(|c| c.approximate_creation_date_time()).map(|t| t.secs()).unwrap_or_default(),
            "Keys": change.and_then(|c| c.keys.as_ref()).map(image).unwrap_or_default(),
            "NewImage": change.and_then(|c| c.new_image.as_ref()).map(image).unwrap_or_default(),
            "SequenceNumber": change.and_then(|c| c.sequence_number()).unwrap_or_default(),
            "SizeBytes": change.and_then(|c| c.size_bytes()).unwrap_or_default(),
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": stream_arn,
    })
}

/// Follows the stream of `table` until the task is dropped, feeding `aggregator`.
pub async fn follow(
    dynamodb: aws_sdk_dynamodb::Client,
    streams: Client,
    table: String,
    aggregator: Aggregator,
    poll: Duration,
) {
    let mut iterators: HashMap<String, Option<String>> = HashMap::new();
    let mut pending: HashMap<String, Vec<Record>> = HashMap::new();
    loop {
        if let Err(err) = step(
            &dynamodb,
            &streams,
            &table,
            &aggregator,
            &mut iterators,
            &mut pending,
        )
        .await
        {
            tracing::warn!(error = %err, "stream poll failed; retrying");
        }
        tokio::time::sleep(poll).await;
    }
}

async fn step(
    dynamodb: &aws_sdk_dynamodb::Client,
    streams: &Client,
    table: &str,
    aggregator: &Aggregator,
    iterators: &mut HashMap<String, Option<String>>,
    pending: &mut HashMap<String, Vec<Record>>,
) -> Result<(), String> {
    let described = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let Some(arn) = described
        .table()
        .and_then(|t| t.latest_stream_arn())
        .map(str::to_owned)
    else {
        return Ok(());
    };
    let stream = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let shards: Vec<String> = stream
        .stream_description()
        .map(|d| {
            d.shards()
                .iter()
                .filter_map(|s| s.shard_id().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for shard in shards {
        if !iterators.contains_key(&shard) {
            let iterator = streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(&shard)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .shard_iterator;
            iterators.insert(shard.clone(), iterator);
        }
        // Records a failed batch left behind go first, as Lambda retries them.
        let mut records = pending.remove(&shard).unwrap_or_default();
        if let Some(Some(iterator)) = iterators.get(&shard).cloned() {
            let out = streams
                .get_records()
                .shard_iterator(iterator)
                .limit(1000)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            records.extend(out.records.unwrap_or_default());
            iterators.insert(shard.clone(), out.next_shard_iterator);
        }
        if records.is_empty() {
            continue;
        }
        let event =
            json!({"Records": records.iter().map(|r| lambda_record(r, &arn)).collect::<Vec<_>>()});
        let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
        let (response, _) = aggregator.handle(event).await;
        if let Some(failed) = response
            .batch_item_failures
            .first()
            .and_then(|f| f.item_identifier.clone())
        {
            let from = records
                .iter()
                .position(|r| {
                    r.dynamodb().and_then(|c| c.sequence_number()) == Some(failed.as_str())
                })
                .unwrap_or(0);
            pending.insert(shard, records.split_off(from));
        }
    }
    Ok(())
}
