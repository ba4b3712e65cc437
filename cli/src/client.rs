//! The HTTP API, over blocking HTTPS (or HTTP locally).
//!
//! Reads, PUTs, DELETEs and POSTs carrying an `Idempotency-Key` are retried on a dropped
//! connection or a 503, since the API makes each of them safe to repeat; any other POST is
//! sent once.

use std::time::Duration;

use serde_json::Value;
use ureq::http;

use crate::error::CliError;

/// Attempts for a request that is safe to repeat.
const ATTEMPTS: u32 = 3;
/// Pause before the first retry; doubled for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Longest a single request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to the API as one caller.
pub(crate) struct Api {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A request's method, and whether repeating it is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Put,
    Post,
    Delete,
}

impl Method {
    fn as_http(self) -> http::Method {
        match self {
            Method::Get => http::Method::GET,
            Method::Put => http::Method::PUT,
            Method::Post => http::Method::POST,
            Method::Delete => http::Method::DELETE,
        }
    }
}

impl Api {
    /// The API at `base` (no trailing slash), calling with `token` if given.
    pub(crate) fn new(base: String, token: Option<String>) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .user_agent(concat!("agentctl/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent: ureq::Agent::new_with_config(config),
            base,
            token,
        }
    }

    /// The API's base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The same API as another caller.
    pub(crate) fn with_token(self, token: String) -> Self {
        Self {
            token: Some(token),
            ..self
        }
    }

    /// GET `path` (with its query): the JSON body of a 2xx answer.
    pub(crate) fn get(&self, path: &str) -> Result<Value, CliError> {
        self.call(Method::Get, path, None, None)
    }

    /// One request; `idempotency_key` makes a POST safe to retry.
    pub(crate) fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, CliError> {
        let repeatable = method != Method::Post || idempotency_key.is_some();
        let attempts = if repeatable { ATTEMPTS } else { 1 };
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.once(method, path, body, idempotency_key) {
                Err(err) if attempt < attempts && is_transient(&err) => {
                    std::thread::sleep(backoff);
                    backoff *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn once(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.base);
        let mut request = http::Request::builder()
            .method(method.as_http())
            .uri(&url)
            .header("accept", "application/json");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let payload = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                json.to_string()
            }
            None => String::new(),
        };
        let request = request
            .body(payload)
            .map_err(|e| CliError::Usage(format!("{url}: {e}")))?;
        let mut response = self.agent.run(request).map_err(|e| CliError::Unreachable {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| CliError::Unreachable {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let json: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .map_err(|_| CliError::BadResponse(format!("{status} from {url} is not JSON")))?
        };
        if (200..300).contains(&status) {
            return Ok(json);
        }
        Err(api_error(status, &json))
    }
}

/// The API's `{"error": {code, message}}`, or API Gateway's own `{"message"}`.
fn api_error(status: u16, body: &Value) -> CliError {
    let error = &body["error"];
    let code = error["code"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| match status {
            401 => "unauthenticated".to_owned(),
            403 => "forbidden".to_owned(),
            404 => "route_not_found".to_owned(),
            _ => format!("http_{status}"),
        });
    let message = error["message"]
        .as_str()
        .or_else(|| body["message"].as_str())
        .unwrap_or("no message")
        .to_owned();
    CliError::Api {
        status,
        code,
        message,
    }
}

fn is_transient(err: &CliError) -> bool {
    matches!(
        err,
        CliError::Unreachable { .. } | CliError::Api { status: 503, .. }
    )
}

/// `text` escaped for one URL path segment or query value.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_apis_error_shape_and_the_gateways_both_read_as_one_line() {
        let ours = api_error(
            409,
            &json!({"error": {"code": "no_owner", "message": "assign an owner first"}}),
        );
        assert_eq!(ours.to_string(), "assign an owner first (409 no_owner)");
        let gateway = api_error(401, &json!({"message": "Unauthorized"}));
        assert_eq!(gateway.to_string(), "Unauthorized (401 unauthenticated)");
        assert_eq!(api_error(404, &Value::Null).exit_code(), 3);
    }

    #[test]
    fn only_dropped_connections_and_503s_are_retried() {
        assert!(is_transient(&api_error(503, &Value::Null)));
        assert!(!is_transient(&api_error(500, &Value::Null)));
        assert!(!is_transient(&api_error(409, &Value::Null)));
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let api = Api::new("http://x".into(), Some("eyJ-secret-token".into()));
        let shown = format!("{api:?}");
        assert!(!shown.contains("eyJ-secret-token"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode("sa-ci_1.x~"), "sa-ci_1.x~");
        assert_eq!(encode("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(
            encode("2026-12-03T10:00:00.000Z"),
            "2026-12-03T10%3A00%3A00.000Z"
        );
    }
}
