//! Hostile input against every route, over a real table: generated bodies, path ids and query
//! strings never cause a panic or a 5xx, and every refusal carries a stable error code; bodies
//! that are too large, too deep or not UTF-8 are 400 and write nothing.

use std::collections::HashMap;

use agentid::api::authorizer::Attribution;
use agentid_integration::{audit_request, http_request, spawn_app, As, TestApp};
use lambda_http::{Body, Request, RequestExt};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

const ADMIN: As<'static> = As::Admin("root");

/// Every field name any route reads, and a few it does not.
const FIELDS: &[&str] = &[
    "name",
    "ownerUserId",
    "scopes",
    "email",
    "graceSeconds",
    "newOwnerUserId",
    "kind",
    "integrations",
    "integrationsReviewed",
    "legacySecret",
    "dualWriteDays",
    "reason",
    "action",
    "resource",
    "outcome",
    "requestId",
    "occurredAt",
    "details",
    "events",
    "__proto__",
    "",
];

/// Every query parameter any route reads, and one it does not.
const PARAMS: &[&str] = &[
    "limit",
    "nextToken",
    "ownerUserId",
    "since",
    "until",
    "accountablePrincipalId",
    "actorId",
    "serviceAccountId",
    "actorType",
    "dryRun",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
        "[a-z][a-z0-9:._-]{0,20}".prop_map(Value::from),
        Just(Value::from("2026-12-03T10:00:00.000Z")),
        Just(Value::from("x".repeat(5000))),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::hash_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body: an object of known fields with arbitrary values, any JSON at all, or not JSON.
fn body() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => prop::collection::hash_map(prop::sample::select(FIELDS), json_value(), 0..6)
            .prop_map(|m| Some(Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()).to_string())),
        2 => json_value().prop_map(|v| Some(v.to_string())),
        1 => ".{0,80}".prop_map(Some),
        1 => Just(None),
    ]
}

/// A path id as API Gateway delivers it: percent-encoded arbitrary text, or something close
/// to a real id.
fn path_id() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}".prop_map(|s| percent_encode(&s)),
        "(agt|crd|sa)_[0-9a-f]{0,34}".prop_map(String::from),
        Just("govind".to_owned()),
        Just("x".repeat(300)),
    ]
}

fn query() -> impl Strategy<Value = HashMap<String, String>> {
    prop::collection::hash_map(
        prop_oneof![
            prop::sample::select(PARAMS).prop_map(String::from),
            ".{0,8}"
        ],
        prop_oneof![
            ".{0,40}",
            "[0-9-]{1,25}",
            Just("7d".to_owned()),
            Just("agent".to_owned())
        ],
        0..4,
    )
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Case {
    route: usize,
    caller: u8,
    id: String,
    query: HashMap<String, String>,
    body: Option<String>,
}

fn case() -> impl Strategy<Value = Case> {
    let routes = agentid::api::mint::ROUTES.len() + agentid::api::audit::ROUTES.len();
    (0..routes, 0u8..3, path_id(), query(), body()).prop_map(|(route, caller, id, query, body)| {
        Case {
            route,
            caller,
            id,
            query,
            body,
        }
    })
}

fn request(case: &Case, attribution: &Attribution) -> (bool, Request) {
    let mint_routes = agentid::api::mint::ROUTES;
    let (method, template) = mint_routes
        .get(case.route)
        .copied()
        .unwrap_or_else(|| agentid::api::audit::ROUTES[case.route - mint_routes.len()]);
    let path: String = template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                case.id.as_str()
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let is_audit = case.route >= mint_routes.len();
    let caller = [As::User("govind"), ADMIN, As::User("priya")][usize::from(case.caller)];
    let mut req = if is_audit && method == "POST" {
        audit_request(method, &path, attribution, None)
    } else {
        http_request(method, &path, caller, None, &[])
    };
    if let Some(body) = &case.body {
        *req.body_mut() = Body::Text(body.clone());
    }
    let req = req.with_query_string_parameters(case.query.clone());
    (is_audit, req)
}

async fn send(app: &TestApp, is_audit: bool, req: Request) -> (u16, Value) {
    if is_audit {
        app.call_audit(req).await
    } else {
        app.call(req).await
    }
}

async fn world(app: &TestApp) -> Attribution {
    app.register("priya", &["repo:read"]).await;
    let created = app.owner_with_agent("govind", &["repo:read"]).await;
    app.verify(created["credential"]["secret"].as_str().unwrap())
        .await
}

#[test]
fn generated_requests_never_panic_or_fail_with_5xx() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (app, attribution) = runtime.block_on(async {
        let app = spawn_app().await;
        let attribution = world(&app).await;
        (app, attribution)
    });
    let mut runner = TestRunner::new(Config {
        cases: 1500,
        failure_persistence: None,
        ..Config::default()
    });
    let statuses: std::cell::RefCell<std::collections::BTreeMap<u16, u32>> = Default::default();
    runner
        .run(&case(), |case| {
            let (is_audit, req) = request(&case, &attribution);
            let (status, body) = runtime.block_on(send(&app, is_audit, req));
            *statuses.borrow_mut().entry(status).or_default() += 1;
            prop_assert!(status < 500, "{case:?} -> {status} {body}");
            if status >= 400 {
                let code = body["error"]["code"].as_str().unwrap_or_default();
                prop_assert!(
                    !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{case:?} -> {status} without a stable code: {body}"
                );
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "[hostile] 1500 generated requests on {}: statuses {statuses:?}",
        app.server,
        statuses = statuses.borrow()
    );
}

#[tokio::test]
async fn oversized_deep_and_non_utf8_bodies_are_400_and_write_nothing() {
    let app = spawn_app().await;
    let attribution = world(&app).await;
    let before = app.dump().await;
    let oversized = format!(
        "{{\"name\": \"{}\"}}",
        "a".repeat(agentid::api::MAX_BODY_BYTES)
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    // A deep value is refused by the recursion limit (invalid_json) or, where the route
    // expects a flat shape, at its first token (invalid_request).
    let bodies: [(&str, Body, &[&str]); 5] = [
        ("oversized", Body::Text(oversized), &["body_too_large"]),
        (
            "deep array",
            Body::Text(deep),
            &["invalid_json", "invalid_request"],
        ),
        (
            "deep object",
            Body::Text(deep_object),
            &["invalid_json", "invalid_request"],
        ),
        (
            "deep details",
            Body::Text(format!(
                "{{\"details\": {}1{}}}",
                "[".repeat(10_000),
                "]".repeat(10_000)
            )),
            &["invalid_json", "invalid_request"],
        ),
        (
            "invalid UTF-8",
            Body::Binary(vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}']),
            &["invalid_json"],
        ),
    ];
    let routes = agentid::api::mint::ROUTES
        .iter()
        .map(|r| (false, *r))
        .chain(agentid::api::audit::ROUTES.iter().map(|r| (true, *r)))
        .filter(|(_, (method, _))| *method == "POST" || *method == "PUT")
        // Rollback takes no body at all.
        .filter(|(_, (_, template))| !template.ends_with("/rollback"));
    let mut cells = 0;
    let mut routes_checked = 0;
    for (is_audit, (method, template)) in routes {
        routes_checked += 1;
        let path = template
            .replace("{userId}", "govind")
            .replace("{agentId}", attribution.agent_id.as_ref().unwrap().as_str())
            .replace("{saId}", "sa-hostile");
        for (what, body, code) in &bodies {
            let mut req = if is_audit {
                audit_request(method, &path, &attribution, None)
            } else {
                http_request(method, &path, ADMIN, None, &[])
            };
            *req.body_mut() = body.clone();
            let (status, response) = send(&app, is_audit, req).await;
            let got = response["error"]["code"].as_str().unwrap_or_default();
            assert!(
                status == 400 && code.contains(&got),
                "{what} to {method} {path}: {status} {response}"
            );
            cells += 1;
        }
    }
    assert_eq!(routes_checked, 10, "every route that reads a body");
    assert_eq!(cells, 5 * routes_checked, "each refused every body");
    assert_eq!(app.dump().await, before, "a refused body wrote something");
}
