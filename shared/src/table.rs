//! The table's definition, in one place: tests create their tables from it, the local gateway
//! creates the local table from it, and a test holds `template.yaml` to it.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use crate::keys::{attr, index};
use crate::store::StoreError;

/// A global secondary index: both keys are strings, every attribute projected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDefinition {
    /// Index name.
    pub name: &'static str,
    /// Partition key attribute.
    pub partition_key: &'static str,
    /// Sort key attribute.
    pub sort_key: &'static str,
}

/// The shape of the single table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    /// Partition key attribute (a string).
    pub partition_key: &'static str,
    /// Sort key attribute (a string).
    pub sort_key: &'static str,
    /// Global secondary indexes, each projecting all attributes.
    pub indexes: Vec<IndexDefinition>,
    /// The stream view the usage consumer reads: new images only.
    pub stream_view: &'static str,
    /// The TTL attribute.
    pub ttl_attribute: &'static str,
    /// Capacity mode: on-demand.
    pub billing_mode: &'static str,
}

impl TableDefinition {
    /// Every key attribute the table declares (all strings).
    pub fn key_attributes(&self) -> Vec<&'static str> {
        let mut names = vec![self.partition_key, self.sort_key];
        for index in &self.indexes {
            names.push(index.partition_key);
            names.push(index.sort_key);
        }
        names
    }
}

/// The table definition.
pub fn definition() -> TableDefinition {
    TableDefinition {
        partition_key: attr::PK,
        sort_key: attr::SK,
        indexes: vec![
            IndexDefinition {
                name: index::GSI1,
                partition_key: attr::GSI1PK,
                sort_key: attr::GSI1SK,
            },
            IndexDefinition {
                name: index::GSI2,
                partition_key: attr::GSI2PK,
                sort_key: attr::GSI2SK,
            },
        ],
        stream_view: "NEW_IMAGE",
        ttl_attribute: attr::TTL,
        billing_mode: "PAY_PER_REQUEST",
    }
}

fn key_schema(partition: &str, sort: &str) -> Result<Vec<KeySchemaElement>, StoreError> {
    Ok(vec![
        KeySchemaElement::builder()
            .attribute_name(partition)
            .key_type(KeyType::Hash)
            .build()
            .map_err(StoreError::build)?,
        KeySchemaElement::builder()
            .attribute_name(sort)
            .key_type(KeyType::Range)
            .build()
            .map_err(StoreError::build)?,
    ])
}

/// Creates the table, waits until it is active, and turns on TTL.
pub async fn create_table(client: &Client, table_name: &str) -> Result<(), StoreError> {
    let def = definition();
    let mut request = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(def.partition_key, def.sort_key)?))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(def.stream_view))
                .build()
                .map_err(StoreError::build)?,
        );
    for name in def.key_attributes() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(StoreError::build)?,
        );
    }
    for gsi in &def.indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(gsi.name)
                .set_key_schema(Some(key_schema(gsi.partition_key, gsi.sort_key)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(StoreError::build)?,
        );
    }
    request.send().await.map_err(StoreError::from_sdk)?;

    for _ in 0..600 {
        let described = client
            .describe_table()
            .table_name(table_name)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    client
        .update_time_to_live()
        .table_name(table_name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(def.ttl_attribute)
                .build()
                .map_err(StoreError::build)?,
        )
        .send()
        .await
        .map_err(StoreError::from_sdk)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_yaml::Value;

    fn template_table() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
        let text = std::fs::read_to_string(path).expect("template.yaml at the workspace root");
        let doc: Value = serde_yaml::from_str(&text).expect("template.yaml parses");
        let resources = doc["Resources"].as_mapping().expect("Resources");
        let tables: Vec<&Value> = resources
            .values()
            .filter(|r| r["Type"].as_str() == Some("AWS::DynamoDB::Table"))
            .collect();
        assert_eq!(tables.len(), 1, "exactly one table in template.yaml");
        tables[0]["Properties"].clone()
    }

    fn key_pair(schema: &Value) -> (String, String) {
        let mut hash = None;
        let mut range = None;
        for element in schema.as_sequence().expect("KeySchema list") {
            let name = element["AttributeName"].as_str().unwrap().to_owned();
            match element["KeyType"].as_str() {
                Some("HASH") => hash = Some(name),
                Some("RANGE") => range = Some(name),
                other => panic!("unexpected KeyType {other:?}"),
            }
        }
        (hash.expect("HASH key"), range.expect("RANGE key"))
    }

    #[test]
    fn template_yaml_table_matches_the_definition() {
        let def = definition();
        let table = template_table();

        assert_eq!(table["BillingMode"].as_str(), Some(def.billing_mode));
        assert_eq!(
            key_pair(&table["KeySchema"]),
            (def.partition_key.to_owned(), def.sort_key.to_owned())
        );

        let mut declared: Vec<(String, String)> = table["AttributeDefinitions"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["AttributeName"].as_str().unwrap().to_owned(),
                    a["AttributeType"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        declared.sort();
        let mut expected: Vec<(String, String)> = def
            .key_attributes()
            .into_iter()
            .map(|n| (n.to_owned(), "S".to_owned()))
            .collect();
        expected.sort();
        assert_eq!(declared, expected);

        let gsis = table["GlobalSecondaryIndexes"].as_sequence().unwrap();
        assert_eq!(gsis.len(), def.indexes.len());
        for want in &def.indexes {
            let got = gsis
                .iter()
                .find(|g| g["IndexName"].as_str() == Some(want.name))
                .unwrap_or_else(|| panic!("index {} missing from template.yaml", want.name));
            assert_eq!(
                key_pair(&got["KeySchema"]),
                (want.partition_key.to_owned(), want.sort_key.to_owned())
            );
            assert_eq!(got["Projection"]["ProjectionType"].as_str(), Some("ALL"));
        }

        assert_eq!(
            table["StreamSpecification"]["StreamViewType"].as_str(),
            Some(def.stream_view)
        );
        assert_eq!(
            table["TimeToLiveSpecification"]["AttributeName"].as_str(),
            Some(def.ttl_attribute)
        );
        assert_eq!(
            table["TimeToLiveSpecification"]["Enabled"].as_bool(),
            Some(true)
        );
    }
}
