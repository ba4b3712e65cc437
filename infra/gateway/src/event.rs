//! From an HTTP request to the API Gateway HTTP API (payload 2.0) event a handler receives.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::{json, Map, Value};

/// What stands in front of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The JWT authorizer (humans).
    Jwt,
    /// The Lambda authorizer (agent and legacy credentials).
    Credential,
}

/// A request matched to a route of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// `mint` or `audit`.
    pub function: &'static str,
    /// The route's path template, e.g. `/v1/agents/{agentId}`.
    pub template: &'static str,
    /// The path parameters.
    pub params: BTreeMap<String, String>,
    /// The authorizer in front of it.
    pub auth: Auth,
}

/// Every route: (function, method, template, authorizer), as `template.yaml` declares them.
pub fn routes() -> Vec<(&'static str, &'static str, &'static str, Auth)> {
    let mint = agentid::api::mint::ROUTES
        .iter()
        .map(|(m, p)| ("mint", *m, *p, Auth::Jwt));
    let audit = agentid::api::audit::ROUTES.iter().map(|(m, p)| {
        let auth = if *m == "POST" {
            Auth::Credential
        } else {
            Auth::Jwt
        };
        ("audit", *m, *p, auth)
    });
    mint.chain(audit).collect()
}

/// The route a method and path reach, if any.
pub fn match_route(method: &str, path: &str) -> Option<RouteMatch> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    routes()
        .into_iter()
        .find_map(|(function, m, template, auth)| {
            if m != method {
                return None;
            }
            let parts: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut params = BTreeMap::new();
            for (part, segment) in parts.iter().zip(&segments) {
                if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    params.insert(name.to_owned(), percent_decode(segment));
                } else if part != segment {
                    return None;
                }
            }
            Some(RouteMatch {
                function,
                template,
                params,
                auth,
            })
        })
}

/// Decodes `%XX` escapes (and `+` in query strings) as API Gateway does.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters, decoded; the first value of a repeated name wins.
pub fn query_map(query: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        map.entry(percent_decode(&k.replace('+', " ")))
            .or_insert_with(|| percent_decode(&v.replace('+', " ")));
    }
    map
}

fn header_map(headers: &HeaderMap) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in headers {
        if let Ok(value) = value.to_str() {
            map.entry(name.as_str().to_owned())
                .and_modify(|v| {
                    // API Gateway joins repeated headers with commas.
                    if let Value::String(existing) = v {
                        existing.push(',');
                        existing.push_str(value);
                    }
                })
                .or_insert_with(|| Value::String(value.to_owned()));
        }
    }
    map
}

fn request_context(route: &RouteMatch, method: &Method, path: &str) -> Value {
    let now = chrono::Utc::now();
    json!({
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": "127.0.0.1",
        "domainPrefix": "local",
        "http": {"method": method.as_str(), "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "agentid-local"},
        "requestId": uuid::Uuid::new_v4().to_string(),
        "routeKey": format!("{} {}", method.as_str(), route.template),
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "timeEpoch": now.timestamp_millis(),
    })
}

/// The HTTP API event for a request that passed its authorizer (`authorizer` is the
/// `requestContext.authorizer` object).
pub fn http_event(
    route: &RouteMatch,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &Bytes,
    authorizer: Value,
) -> Value {
    let mut context = request_context(route, method, path);
    context["authorizer"] = authorizer;
    let mut event = json!({
        "version": "2.0",
        "routeKey": format!("{} {}", method.as_str(), route.template),
        "rawPath": path,
        "rawQueryString": query,
        "headers": header_map(headers),
        "requestContext": context,
        "isBase64Encoded": false,
    });
    let params = query_map(query);
    if !params.is_empty() {
        event["queryStringParameters"] = json!(params);
    }
    if !route.params.is_empty() {
        event["pathParameters"] = json!(route.params);
    }
    if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) => event["body"] = Value::String(text.to_owned()),
            Err(_) => {
                event["body"] = Value::String(STANDARD.encode(body));
                event["isBase64Encoded"] = Value::Bool(true);
            }
        }
    }
    event
}

/// The Lambda authorizer's request (payload 2.0) for a request to `route`.
pub fn authorizer_request(
    route: &RouteMatch,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
) -> Value {
    let identity: Vec<String> = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| vec![v.to_owned()])
        .unwrap_or_default();
    json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": format!("arn:aws:execute-api:local:000000000000:local/$default/{}{}", method.as_str(), path),
        "identitySource": identity,
        "routeKey": format!("{} {}", method.as_str(), route.template),
        "rawPath": path,
        "rawQueryString": query,
        "headers": header_map(headers),
        "requestContext": request_context(route, method, path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_with_their_parameters() {
        let m = match_route("GET", "/v1/agents/agt_1/accountable").unwrap();
        assert_eq!(
            (m.function, m.template),
            ("mint", "/v1/agents/{agentId}/accountable")
        );
        assert_eq!(m.params["agentId"], "agt_1");
        assert_eq!(
            match_route("POST", "/v1/audit-events").unwrap().auth,
            Auth::Credential
        );
        assert_eq!(
            match_route("GET", "/v1/audit-events").unwrap().auth,
            Auth::Jwt
        );
        assert!(match_route("PATCH", "/v1/agents").is_none());
        assert!(match_route("GET", "/v1/nothing").is_none());
    }

    #[test]
    fn query_strings_decode_like_api_gateway() {
        let q = query_map("since=2026-05-01T00%3A00%3A00%2B02%3A00&limit=5&limit=6&x=a+b");
        assert_eq!(q["since"], "2026-05-01T00:00:00+02:00");
        assert_eq!(q["limit"], "5");
        assert_eq!(q["x"], "a b");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
