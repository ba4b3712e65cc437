//! Asks the server to report the capacity each request consumes, and records it: the figures
//! behind the requests-and-capacity table in BENCHMARKS.md.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::operation::{
    batch_get_item::{BatchGetItemInput, BatchGetItemOutput},
    batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput},
    delete_item::{DeleteItemInput, DeleteItemOutput},
    get_item::{GetItemInput, GetItemOutput},
    put_item::{PutItemInput, PutItemOutput},
    query::{QueryInput, QueryOutput},
    scan::{ScanInput, ScanOutput},
    transact_get_items::{TransactGetItemsInput, TransactGetItemsOutput},
    transact_write_items::{TransactWriteItemsInput, TransactWriteItemsOutput},
    update_item::{UpdateItemInput, UpdateItemOutput},
};
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// What one request consumed, as the server reported it (`None` when it reported nothing, as
/// on a failed condition).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Consumed {
    /// The operation, and whether it failed (`PutItem`, `PutItem (failed)`).
    pub operation: String,
    /// Capacity units by where they were spent: `table`, or an index name.
    pub units: Option<BTreeMap<String, f64>>,
}

/// Sets `ReturnConsumedCapacity = INDEXES` on every request and records the answer.
#[derive(Debug, Clone, Default)]
pub struct CapacityRecorder(Arc<Mutex<Vec<Consumed>>>);

impl CapacityRecorder {
    /// What was consumed since the last call, in order; clears the record.
    pub fn take(&self) -> Vec<Consumed> {
        std::mem::take(&mut *self.0.lock().expect("recorder lock"))
    }
}

fn fold(into: &mut BTreeMap<String, f64>, capacity: &ConsumedCapacity) {
    let indexes: f64 = capacity
        .global_secondary_indexes
        .iter()
        .flatten()
        .filter_map(|(_, units)| units.capacity_units)
        .sum();
    // Without a table figure (transactions, servers that give only the total), the table's
    // share is what the indexes did not take.
    let table = capacity
        .table
        .as_ref()
        .and_then(|c| c.capacity_units)
        .or_else(|| capacity.capacity_units.map(|total| total - indexes))
        .unwrap_or(0.0);
    *into.entry("table".into()).or_default() += table;
    for (index, units) in capacity.global_secondary_indexes.iter().flatten() {
        *into.entry(index.clone()).or_default() += units.capacity_units.unwrap_or(0.0);
    }
}

fn units<'a>(
    capacities: impl IntoIterator<Item = &'a ConsumedCapacity>,
) -> Option<BTreeMap<String, f64>> {
    let mut total = BTreeMap::new();
    let mut any = false;
    for capacity in capacities {
        any = true;
        fold(&mut total, capacity);
    }
    any.then_some(total)
}

macro_rules! ask_for_capacity {
    ($input:expr, $($ty:ty),*) => {
        $(
            if let Some(input) = $input.downcast_mut::<$ty>() {
                input.return_consumed_capacity = Some(ReturnConsumedCapacity::Indexes);
            }
        )*
    };
}

impl Intercept for CapacityRecorder {
    fn name(&self) -> &'static str {
        "CapacityRecorder"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        ask_for_capacity!(
            input,
            GetItemInput,
            PutItemInput,
            UpdateItemInput,
            DeleteItemInput,
            QueryInput,
            ScanInput,
            BatchGetItemInput,
            BatchWriteItemInput,
            TransactGetItemsInput,
            TransactWriteItemsInput
        );
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg
            .load::<Metadata>()
            .map_or("unknown", Metadata::name)
            .to_owned();
        let Ok(output) = context.output_or_error() else {
            // A failed condition is charged, but the error does not say how much.
            self.0.lock().expect("recorder lock").push(Consumed {
                operation: format!("{name} (failed)"),
                units: None,
            });
            return Ok(());
        };
        let units = if let Some(o) = output.downcast_ref::<GetItemOutput>() {
            units(&o.consumed_capacity)
        } else if let Some(o) = output.downcast_ref::<PutItemOutput>() {
            units(&o.consumed_capacity)
        } else if let Some(o) = output.downcast_ref::<UpdateItemOutput>() {
            units(&o.consumed_capacity)
        } else if let Some(o) = output.downcast_ref::<DeleteItemOutput>() {
            units(&o.consumed_capacity)
        } else if let Some(o) = output.downcast_ref::<QueryOutput>() {
            units(&o.consumed_capacity)
        } else if let Some(o) = output.downcast_ref::<ScanOutput>() {
            units(&o.consumed_capacity)
        } else if let Some(o) = output.downcast_ref::<BatchGetItemOutput>() {
            units(o.consumed_capacity.iter().flatten())
        } else if let Some(o) = output.downcast_ref::<BatchWriteItemOutput>() {
            units(o.consumed_capacity.iter().flatten())
        } else if let Some(o) = output.downcast_ref::<TransactGetItemsOutput>() {
            units(o.consumed_capacity.iter().flatten())
        } else if let Some(o) = output.downcast_ref::<TransactWriteItemsOutput>() {
            units(o.consumed_capacity.iter().flatten())
        } else {
            None
        };
        self.0.lock().expect("recorder lock").push(Consumed {
            operation: name,
            units,
        });
        Ok(())
    }
}

/// An item's size by DynamoDB's rules (attribute names plus values; a number about one byte
/// per two digits plus one), what its write units are computed from.
pub fn item_size(item: &std::collections::HashMap<String, AttributeValue>) -> usize {
    fn value_size(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.len().div_ceil(2) + 1,
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
            AttributeValue::L(v) => 3 + v.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
            AttributeValue::M(m) => {
                3 + m
                    .iter()
                    .map(|(k, x)| 1 + k.len() + value_size(x))
                    .sum::<usize>()
            }
            _ => 0,
        }
    }
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}
