//! # agentid
//!
//! Agent identities that each belong to one owning human, replacing org-owned service accounts so
//! that every action an agent takes is attributable to a specific person with one lookup.
//!
//! This crate is the domain: every Lambda function is a thin `main` over it.
//!
//! ## Layout
//! - [`api`]: the HTTP API handlers (management routes) and their one error type.
//! - [`credential`]: token format, pepper, keyed hashing, legacy secrets.
//! - [`ids`]: identifier newtypes (user, agent, service account, credential, event, request).
//! - [`values`]: other validated values: emails, scopes and scope sets, names.
//! - [`time`]: fixed-width UTC timestamps that sort as strings.
//! - [`model`]: the entities of the single table (users, agents, service accounts, the owner
//!   map, credentials, audit events, usage days).
//! - [`runtime`]: what every function does once at init (logging, client, pepper).
//! - [`sweep`]: the scheduled sweep: closes windows, revokes quiet legacy credentials, purges.
//! - [`usage`]: the stream consumer that counts each credential's and account's daily use.
//! - [`keys`]: every DynamoDB key format, in one place.
//! - [`table`]: the table's definition (keys, indexes, stream, TTL) and its creation.
//! - [`store`]: the DynamoDB store over `aws-sdk-dynamodb` and `serde_dynamo`.
//!
//! The data model and every access pattern are described in `docs/data-model.md`.

pub mod api;
pub mod credential;
pub mod ids;
pub mod keys;
pub mod model;
pub mod runtime;
pub mod store;
pub mod sweep;
pub mod table;
pub mod time;
pub mod usage;
pub mod values;
