//! Integration tests of the store against a real DynamoDB-compatible server, one fresh table
//! per test. Run through `infra/localddb.py run <server> -- cargo nextest run`.

mod agents;
mod audit;
mod audit_api;
mod credentials;
mod fail_closed;
mod faults;
mod hostile;
mod lifecycle;
mod mint;
mod races;
mod requests;
mod service_accounts;
mod usage;
mod users;
