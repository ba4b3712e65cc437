//! The HTTP API, as plain async handlers over `lambda_http` requests.
//!
//! - [`error`]: the one error type and its HTTP mapping.
//! - [`audit`]: recording audit events with attribution from the authorizer; the audit queries.
//! - [`authorizer`]: the Lambda authorizer: verifies a credential with one GetItem.
//! - [`mint`]: the management routes (users, agents, credentials, inventory, migration).
//! - `caller`: who is calling, from the API Gateway JWT authorizer's claims.
//! - `idempotency`: `Idempotency-Key` handling without ever storing a secret.
//! - `views`: the JSON shapes of responses (never a hash, never a stored secret).
//!
//! Every body is JSON, camelCase, unknown fields refused. Errors are
//! `{"error": {"code", "message"}}`, 4xx for the caller's mistakes with nothing written.

pub mod audit;
pub mod authorizer;
mod caller;
pub mod error;
mod idempotency;
pub mod mint;
mod views;

use lambda_http::{Body, Request, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use caller::{Caller, ADMIN_GROUP};
pub use error::ApiError;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Parses a JSON body into `T` (which should refuse unknown fields).
pub(crate) fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::bad_request(
            "body_too_large",
            format!("request body must be at most {MAX_BODY_BYTES} bytes"),
        ));
    }
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        bytes
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("invalid_json", "request body is not UTF-8"))?;
    serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::bad_request("invalid_request", e.to_string())
        }
        _ => ApiError::bad_request(
            "invalid_json",
            format!("request body is not valid JSON: {e}"),
        ),
    })
}

/// A JSON response.
pub(crate) fn respond(status: u16, value: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Body::Text(body))
        .unwrap_or_default()
}

/// The error response for `err`.
pub fn error_response(err: &ApiError) -> Response<Body> {
    respond(err.status().as_u16(), &err.body())
}

/// One query-string parameter.
pub(crate) fn query_param(req: &Request, name: &str) -> Option<String> {
    use lambda_http::RequestExt;
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name).map(str::to_owned))
        .or_else(|| {
            req.uri().query().and_then(|q| {
                q.split('&').find_map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (k == name).then(|| v.to_owned())
                })
            })
        })
}

/// `limit` (1-100, default 50) and `nextToken` from the query string.
pub(crate) fn page_request(req: &Request) -> Result<crate::store::PageRequest, ApiError> {
    use crate::store::{PageRequest, PageToken};
    let limit = match query_param(req, "limit") {
        Some(text) => text
            .parse::<u16>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request("invalid_limit", "limit must be between 1 and 100")
            })?,
        None => PageRequest::DEFAULT_LIMIT,
    };
    let next = query_param(req, "nextToken")
        .map(|t| field("invalid_next_token", PageToken::parse(t)))
        .transpose()?;
    field("invalid_next_token", PageRequest::new(limit, next))
}

/// Maps a parse result to a 400 with `code`.
pub(crate) fn field<T, E: std::fmt::Display>(
    code: &'static str,
    result: Result<T, E>,
) -> Result<T, ApiError> {
    result.map_err(|e| ApiError::bad_request(code, e.to_string()))
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Fixtures from `events/`, and a store that must never be reached.

    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

    use crate::store::Store;

    /// The text of `events/<name>.json`.
    pub(crate) fn fixture(name: &str) -> String {
        let path = format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A store whose endpoint refuses connections, with no retries: a test that reaches it sees
    /// a fault at once.
    pub(crate) fn offline_store() -> Store {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(Credentials::new("x", "x", None, None, "test"))
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build();
        Store::new(aws_sdk_dynamodb::Client::from_conf(config), "unused")
    }
}

#[cfg(test)]
mod template_tests {
    use serde_yaml::Value;

    /// `(method, path, authorizer)` of every HTTP API event in template.yaml.
    fn template_routes() -> Vec<(String, String, String)> {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
                .expect("template.yaml");
        let doc: Value = serde_yaml::from_str(&text).expect("template.yaml parses");
        let mut routes = Vec::new();
        for resource in doc["Resources"].as_mapping().unwrap().values() {
            let Some(events) = resource["Properties"]["Events"].as_mapping() else {
                continue;
            };
            for event in events.values() {
                if event["Type"].as_str() != Some("HttpApi") {
                    continue;
                }
                let p = &event["Properties"];
                routes.push((
                    p["Method"].as_str().unwrap().to_owned(),
                    p["Path"].as_str().unwrap().to_owned(),
                    p["Auth"]["Authorizer"]
                        .as_str()
                        .unwrap_or("HumanJwt")
                        .to_owned(),
                ));
            }
        }
        routes.sort();
        routes
    }

    #[test]
    fn openapi_documents_exactly_the_handlers_routes() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml"))
                .expect("docs/openapi.yaml");
        let doc: Value = serde_yaml::from_str(&text).expect("openapi.yaml parses");
        let mut documented = Vec::new();
        for (path, item) in doc["paths"].as_mapping().unwrap() {
            for method in ["get", "put", "post", "delete", "patch"] {
                if item.get(method).is_some() {
                    documented.push((method.to_uppercase(), path.as_str().unwrap().to_owned()));
                }
            }
        }
        documented.sort();
        let mut routes: Vec<(String, String)> = super::mint::ROUTES
            .iter()
            .chain(super::audit::ROUTES)
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        routes.sort();
        assert_eq!(documented, routes);
        assert_eq!(doc["openapi"].as_str(), Some("3.1.0"));
    }

    #[test]
    fn template_routes_are_exactly_the_handlers_routes_behind_the_right_authorizer() {
        let mut expected: Vec<(String, String, String)> = super::mint::ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned(), "HumanJwt".to_owned()))
            .chain(super::audit::ROUTES.iter().map(|(m, p)| {
                // Recording is for credentials; querying is for humans.
                let auth = if *m == "POST" {
                    "AgentCredential"
                } else {
                    "HumanJwt"
                };
                ((*m).to_owned(), (*p).to_owned(), auth.to_owned())
            }))
            .collect();
        expected.sort();
        assert_eq!(template_routes(), expected);
    }
}
