//! # agentid-local
//!
//! The whole system on one machine: every function's handler behind the routes of
//! `template.yaml`, with what API Gateway and Lambda do around them reproduced.
//!
//! - [`jwt`]: local HS256 JWTs for humans (the JWT authorizer's part).
//! - [`event`]: HTTP requests turned into the API Gateway HTTP API (payload 2.0) events the
//!   handlers receive, with the authorizer's context in place.
//! - [`stream`]: the table's DynamoDB stream fed to the usage aggregator, as the event source
//!   mapping would.
//! - [`demo`]: a demo organisation walked through the six steps over HTTP.
//! - [`Gateway`]: routing, authorization and dispatch; also `POST /_local/token` (a dev JWT) and
//!   `POST /_local/sweep?at=` (run the sweep at a chosen time).
//!
//! Routes come from the handlers' own route tables, which a test holds equal to
//! `template.yaml`'s, so the local gateway and the deployed API cannot drift apart.

pub mod demo;
pub mod event;
pub mod jwt;
pub mod stream;

use agentid::api::audit::AuditApi;
use agentid::api::authorizer::Authorizer;
use agentid::api::mint::Mint;
use agentid::sweep::Sweep;
use agentid::time::Timestamp;
use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::event::{match_route, Auth, RouteMatch};
use crate::jwt::DevJwt;

/// The gateway as an HTTP service: every request, whatever its path, goes to
/// [`Gateway::handle`].
pub fn router(gateway: std::sync::Arc<Gateway>) -> axum::Router {
    async fn handle(
        axum::extract::State(gateway): axum::extract::State<std::sync::Arc<Gateway>>,
        method: Method,
        uri: http::Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response<axum::body::Body> {
        let target = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        gateway
            .handle(&method, &target, &headers, body)
            .await
            .map(axum::body::Body::from)
    }
    axum::Router::new().fallback(handle).with_state(gateway)
}

/// How long a dev token from `POST /_local/token` lives.
pub const DEV_TOKEN_SECONDS: u64 = 12 * 3600;

/// Every function, and what stands in front of them.
#[derive(Debug)]
pub struct Gateway {
    /// The management API.
    pub mint: Mint,
    /// The audit API.
    pub audit: AuditApi,
    /// The Lambda authorizer.
    pub authorizer: Authorizer,
    /// The sweep.
    pub sweep: Sweep,
    /// Local JWTs.
    pub jwt: DevJwt,
}

fn gateway_error(status: StatusCode, message: &str) -> Response<Bytes> {
    json_response(status, &json!({"message": message}))
}

fn json_response(status: StatusCode, body: &Value) -> Response<Bytes> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_string()))
        .unwrap_or_default()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl Gateway {
    /// Handles one HTTP request as API Gateway and the function behind it would.
    pub async fn handle(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Response<Bytes> {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        if let Some(local) = path.strip_prefix("/_local/") {
            return self.local(method, local, query, &body).await;
        }
        let Some(route) = match_route(method.as_str(), path) else {
            return gateway_error(StatusCode::NOT_FOUND, "Not Found");
        };
        match route.auth {
            Auth::Jwt => {
                let Some(token) = bearer(headers) else {
                    return gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized");
                };
                let Ok(claims) = self.jwt.verify(token) else {
                    return gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized");
                };
                let mut claim_map = serde_json::Map::new();
                claim_map.insert("sub".into(), claims.sub.into());
                claim_map.insert("iss".into(), claims.iss.into());
                claim_map.insert("aud".into(), claims.aud.into());
                claim_map.insert("exp".into(), claims.exp.to_string().into());
                if !claims.groups.is_empty() {
                    // API Gateway passes array claims as "[a b]".
                    claim_map.insert(
                        "groups".into(),
                        format!("[{}]", claims.groups.join(" ")).into(),
                    );
                }
                let authorizer = json!({"jwt": {"claims": claim_map, "scopes": null}});
                self.dispatch(&route, method, path, query, headers, body, authorizer)
                    .await
            }
            Auth::Credential => {
                if bearer(headers).is_none() {
                    return gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized");
                }
                let request = event::authorizer_request(&route, method, path, query, headers);
                let request: ApiGatewayV2CustomAuthorizerV2Request =
                    match serde_json::from_value(request) {
                        Ok(r) => r,
                        Err(_) => {
                            return gateway_error(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                "Internal Server Error",
                            )
                        }
                    };
                match self.authorizer.authorize(&request, Timestamp::now()).await {
                    Ok(answer) if answer.is_authorized => {
                        let authorizer = json!({"lambda": answer.context});
                        self.dispatch(&route, method, path, query, headers, body, authorizer)
                            .await
                    }
                    Ok(_) => gateway_error(StatusCode::FORBIDDEN, "Forbidden"),
                    Err(err) => {
                        tracing::error!(error = %err, "authorizer failed");
                        gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn dispatch(
        &self,
        route: &RouteMatch,
        method: &Method,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        body: Bytes,
        authorizer: Value,
    ) -> Response<Bytes> {
        let event = event::http_event(route, method, path, query, headers, &body, authorizer);
        let request = match lambda_http::request::from_str(&event.to_string()) {
            Ok(request) => request,
            Err(_) => return gateway_error(StatusCode::BAD_REQUEST, "Bad Request"),
        };
        let response = if route.function == "audit" {
            self.audit.handle(request).await
        } else {
            self.mint.handle(request).await
        };
        let (parts, body) = response.into_parts();
        let bytes = match body {
            lambda_http::Body::Text(text) => Bytes::from(text),
            lambda_http::Body::Binary(data) => Bytes::from(data),
            _ => Bytes::new(),
        };
        Response::from_parts(parts, bytes)
    }

    async fn local(
        &self,
        method: &Method,
        what: &str,
        query: &str,
        body: &Bytes,
    ) -> Response<Bytes> {
        match (method.as_str(), what) {
            ("GET", "health") => json_response(StatusCode::OK, &json!({"ok": true})),
            ("POST", "token") => {
                let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                let Some(sub) = request["sub"].as_str() else {
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        &json!({"error": {"code": "invalid_request", "message": "give {\"sub\": ..., \"admin\": bool}"}}),
                    );
                };
                let admin = request["admin"].as_bool().unwrap_or(false);
                match self.jwt.issue(sub, admin, DEV_TOKEN_SECONDS) {
                    Ok(token) => json_response(
                        StatusCode::OK,
                        &json!({"token": token, "expiresIn": DEV_TOKEN_SECONDS}),
                    ),
                    Err(_) => {
                        gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
                    }
                }
            }
            ("POST", "sweep") => {
                let params = event::query_map(query);
                let at = match params.get("at") {
                    Some(text) => match Timestamp::parse(text) {
                        Ok(at) => at,
                        Err(e) => {
                            return json_response(
                                StatusCode::BAD_REQUEST,
                                &json!({"error": {"code": "invalid_at", "message": e.to_string()}}),
                            )
                        }
                    },
                    None => Timestamp::now(),
                };
                let dry_run = params.get("dryRun").is_some_and(|v| v == "true");
                match self.sweep.run(at, dry_run).await {
                    Ok(report) => json_response(
                        StatusCode::OK,
                        &serde_json::to_value(report).unwrap_or_default(),
                    ),
                    Err(err) => json_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &json!({"error": {"code": "sweep_failed", "message": err.to_string()}}),
                    ),
                }
            }
            _ => gateway_error(StatusCode::NOT_FOUND, "Not Found"),
        }
    }
}
