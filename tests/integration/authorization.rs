//! The authorization matrix: every management route, called as the owner, another user, an
//! admin and nobody. Every cell is asserted, and every refusal leaves the table unchanged.

use agentid_integration::{spawn_app, As, TestApp};
use serde_json::{json, Value};

const ADMIN: As<'static> = As::Admin("root");

async fn ok(app: &TestApp, method: &str, path: &str, body: Value) -> Value {
    let (status, response) = app.send(method, path, ADMIN, Some(body)).await;
    assert!((200..300).contains(&status), "{method} {path}: {response}");
    response
}

async fn agent_of_govind(app: &TestApp) -> (String, String) {
    let created = ok(
        app,
        "POST",
        "/v1/agents",
        json!({"name": "bot", "ownerUserId": "govind", "scopes": ["repo:read"]}),
    )
    .await;
    (
        created["agent"]["agentId"].as_str().unwrap().to_owned(),
        created["credential"]["credentialId"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

async fn account(app: &TestApp, id: &str, owner: bool, migrate: bool) {
    ok(app, "PUT", &format!("/v1/service-accounts/{id}"), json!({"name": id, "kind": "migrate", "integrationsReviewed": true, "scopes": ["repo:read"]})).await;
    if owner {
        ok(
            app,
            "PUT",
            &format!("/v1/service-accounts/{id}/owner"),
            json!({"ownerUserId": "govind"}),
        )
        .await;
    }
    if migrate {
        ok(
            app,
            "POST",
            &format!("/v1/service-accounts/{id}/migrate"),
            json!({}),
        )
        .await;
    }
}

#[tokio::test]
async fn every_route_for_owner_other_user_admin_and_nobody() {
    let app = spawn_app().await;
    for user in ["govind", "priya"] {
        ok(
            &app,
            "PUT",
            &format!("/v1/users/{user}"),
            json!({"email": format!("{user}@example.com"), "scopes": ["repo:read"]}),
        )
        .await;
    }
    let callers = [
        ("owner", As::User("govind")),
        ("other", As::User("priya")),
        ("admin", ADMIN),
        ("nobody", As::Nobody),
    ];
    let mut cells = 0;
    for (i, (who, caller)) in callers.into_iter().enumerate() {
        let off = format!("off-{i}");
        ok(
            &app,
            "PUT",
            &format!("/v1/users/{off}"),
            json!({"email": "off@example.com"}),
        )
        .await;
        let (agent, _) = agent_of_govind(&app).await;
        let (to_transfer, _) = agent_of_govind(&app).await;
        let (to_revoke, _) = agent_of_govind(&app).await;
        let (_, cred) = agent_of_govind(&app).await;
        account(&app, &format!("own-{i}"), false, false).await;
        account(&app, &format!("mig-{i}"), true, false).await;
        account(&app, &format!("rb-{i}"), true, true).await;
        account(&app, &format!("st-{i}"), true, false).await;

        // (method, path, body, expected status for owner, other, admin, nobody)
        let matrix: Vec<(&str, String, Value, [u16; 4])> = vec![
            (
                "PUT",
                format!("/v1/users/{off}"),
                json!({"email": "x@example.com"}),
                [403, 403, 200, 401],
            ),
            (
                "POST",
                format!("/v1/users/{off}/offboard"),
                json!({}),
                [403, 403, 200, 401],
            ),
            (
                "POST",
                "/v1/agents".into(),
                json!({"name": "n", "ownerUserId": "govind"}),
                [201, 403, 201, 401],
            ),
            (
                "GET",
                "/v1/agents?ownerUserId=govind".into(),
                Value::Null,
                [200, 403, 200, 401],
            ),
            (
                "GET",
                format!("/v1/agents/{agent}"),
                Value::Null,
                [200, 403, 200, 401],
            ),
            (
                "DELETE",
                format!("/v1/agents/{to_revoke}"),
                Value::Null,
                [200, 403, 200, 401],
            ),
            (
                "GET",
                format!("/v1/agents/{agent}/accountable"),
                Value::Null,
                [200, 403, 200, 401],
            ),
            (
                "POST",
                format!("/v1/agents/{agent}/credentials"),
                json!({"graceSeconds": 0}),
                [201, 403, 201, 401],
            ),
            (
                "POST",
                format!("/v1/agents/{to_transfer}/transfer"),
                json!({"newOwnerUserId": "priya"}),
                [403, 403, 200, 401],
            ),
            (
                "DELETE",
                format!("/v1/credentials/{cred}"),
                Value::Null,
                [200, 403, 200, 401],
            ),
            (
                "PUT",
                format!("/v1/service-accounts/put-{i}"),
                json!({"name": "n", "kind": "migrate"}),
                [403, 403, 201, 401],
            ),
            (
                "PUT",
                format!("/v1/service-accounts/own-{i}/owner"),
                json!({"ownerUserId": "govind"}),
                [403, 403, 200, 401],
            ),
            (
                "POST",
                format!("/v1/service-accounts/mig-{i}/migrate"),
                json!({}),
                [403, 403, 201, 401],
            ),
            (
                "POST",
                format!("/v1/service-accounts/rb-{i}/rollback"),
                Value::Null,
                [403, 403, 200, 401],
            ),
            (
                "GET",
                format!("/v1/service-accounts/st-{i}/migration"),
                Value::Null,
                [403, 403, 200, 401],
            ),
            (
                "GET",
                "/v1/migration".into(),
                Value::Null,
                [403, 403, 200, 401],
            ),
        ];
        assert_eq!(
            matrix.len(),
            agentid::api::mint::ROUTES.len(),
            "every route is in the matrix"
        );
        for (method, path, body, expected) in matrix {
            let want = expected[i];
            let before = if want >= 400 {
                Some(app.dump().await)
            } else {
                None
            };
            let body = (!body.is_null()).then_some(body);
            let (status, response) = app.send(method, &path, caller, body).await;
            assert_eq!(status, want, "{who}: {method} {path}: {response}");
            if let Some(before) = before {
                assert_eq!(
                    app.dump().await,
                    before,
                    "{who}: refused {method} {path} wrote something"
                );
                let code = response["error"]["code"].as_str().unwrap();
                assert_eq!(
                    code,
                    if want == 401 {
                        "unauthenticated"
                    } else {
                        "forbidden"
                    }
                );
            }
            cells += 1;
        }
    }
    assert_eq!(cells, 64);
}
