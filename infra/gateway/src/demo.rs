//! The demo: a small organisation walked through the six steps of the migration with real HTTP
//! calls to a running gateway, narrated as it goes.

use bytes::Bytes;
use chrono::Duration;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::{json, Value};

use agentid::time::Timestamp;

/// What the demo ended with; a test checks these, not the narrative.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoOutcome {
    /// Accounts migrated to agents.
    pub migrated: Vec<String>,
    /// Accounts whose legacy credential the day-8 sweep revoked.
    pub revoked: Vec<String>,
    /// Accounts the day-15 sweep purged.
    pub purged: Vec<String>,
    /// Whether the org-owned account was refused migration and left alone.
    pub org_owned_untouched: bool,
    /// Whether a legacy credential was refused after its revocation.
    pub legacy_denied_after_revocation: bool,
    /// Events the lead was accountable for this week.
    pub lead_events_this_week: usize,
    /// The email answering "who is responsible for" the deploy agent.
    pub responsible_email: String,
    /// Agents revoked by offboarding.
    pub offboarded_agents: usize,
    /// Whether the CI-hard-coded account was refused until its integrations were reviewed.
    pub integrations_gate_held: bool,
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
#[error("demo step failed: {0}")]
pub struct DemoError(String);

struct Api {
    base: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<(u16, Value), DemoError> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let request = request
            .body(Full::new(body))
            .map_err(|e| DemoError(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| DemoError(e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| DemoError(e.to_string()))?
            .to_bytes();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    async fn expect(
        &self,
        status: u16,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<Value, DemoError> {
        let (got, response) = self.call(method, path, token, body).await?;
        if got != status {
            return Err(DemoError(format!(
                "{method} {path}: expected {status}, got {got}: {response}"
            )));
        }
        Ok(response)
    }

    async fn token(&self, sub: &str, admin: bool) -> Result<String, DemoError> {
        let response = self
            .expect(
                200,
                "POST",
                "/_local/token",
                None,
                Some(json!({"sub": sub, "admin": admin})),
            )
            .await?;
        Ok(response["token"].as_str().unwrap_or_default().to_owned())
    }
}

fn say(line: &str) {
    println!("{line}");
}

fn event(request_id: &str, action: &str) -> Value {
    json!({"action": action, "resource": "repo:acme/api", "outcome": "success", "requestId": request_id, "occurredAt": Timestamp::now().to_string()})
}

/// Walks the demo organisation through the migration against the gateway at `base`
/// (e.g. `http://127.0.0.1:8080`).
pub async fn run(base: &str) -> Result<DemoOutcome, DemoError> {
    let api = Api {
        base: base.trim_end_matches('/').to_owned(),
        client: Client::builder(TokioExecutor::new()).build_http(),
    };
    let mut outcome = DemoOutcome::default();
    let admin = api.token("platform-admin", true).await?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
    let id = |name: &str| format!("{name}-{run_id}");

    say("== The organisation");
    for (user, scopes) in [
        ("priya", json!(["deploy:run", "repo:read", "db:maintain"])),
        ("govind", json!(["deploy:run", "repo:read"])),
        ("dana", json!(["repo:read"])),
    ] {
        api.expect(
            200,
            "PUT",
            &format!("/v1/users/{}", id(user)),
            Some(&admin),
            Some(json!({"email": format!("{user}@example.com"), "scopes": scopes})),
        )
        .await?;
    }
    say(&format!(
        "   three humans: {} (platform team lead), {}, {}",
        id("priya"),
        id("govind"),
        id("dana")
    ));

    say("== Step 1: an Agent always has an owning human");
    let refused = api
        .call(
            "POST",
            "/v1/agents",
            Some(&admin),
            Some(json!({"name": "orphan", "ownerUserId": "nobody"})),
        )
        .await?;
    say(&format!(
        "   an agent for a non-existent owner is refused: {} {}",
        refused.0, refused.1["error"]["code"]
    ));
    let dana = api.token(&id("dana"), false).await?;
    let danas_agent = api
        .expect(
            201,
            "POST",
            "/v1/agents",
            Some(&dana),
            Some(json!({"name": "dana's notebook agent", "scopes": ["repo:read"]})),
        )
        .await?;
    say(&format!(
        "   {} creates her own agent {}",
        id("dana"),
        danas_agent["agent"]["agentId"].as_str().unwrap_or_default()
    ));

    say("== Step 2: inventory the service accounts and assign owners");
    let accounts = [
        ("nightly-cleanup", "org_owned", json!([]), true, None),
        (
            "deploy-bot",
            "migrate",
            json!([{"kind": "cron", "location": "cron:ops-1/etc/cron.d/deploy"}]),
            true,
            Some((id("govind"), false)),
        ),
        (
            "platform-shared",
            "migrate",
            json!([{"kind": "vendor", "location": "slack:acme/alerts", "note": "rotate in lockstep"}]),
            true,
            Some((id("priya"), true)),
        ),
        (
            "ci-release",
            "migrate",
            json!([{"kind": "ci", "location": "github:acme/api/.github/workflows/release.yml"}]),
            false,
            Some((id("govind"), false)),
        ),
    ];
    let mut legacy = std::collections::BTreeMap::new();
    for (name, kind, integrations, reviewed, owner) in &accounts {
        let secret = format!("sk_legacy_{name}_{run_id}_0000");
        api.expect(201, "PUT", &format!("/v1/service-accounts/{}", id(name)), Some(&admin), Some(json!({"name": name, "kind": kind, "scopes": ["deploy:run", "repo:read"], "integrations": integrations, "integrationsReviewed": reviewed, "legacySecret": secret}))).await?;
        legacy.insert(name.to_string(), secret);
        if let Some((owner, of_record)) = owner {
            let note = if *of_record {
                "shared by the platform team; the lead is owner of record"
            } else {
                "runs it day to day"
            };
            api.expect(
                200,
                "PUT",
                &format!("/v1/service-accounts/{}/owner", id(name)),
                Some(&admin),
                Some(json!({"ownerUserId": owner, "ownerOfRecord": of_record, "note": note})),
            )
            .await?;
        }
        say(&format!(
            "   {} ({kind}){}",
            id(name),
            owner
                .as_ref()
                .map(|(o, r)| format!(", owner {o}{}", if *r { " (owner of record)" } else { "" }))
                .unwrap_or_default()
        ));
    }

    say("== Step 3: fresh per-agent credentials");
    let refused = api
        .call(
            "POST",
            &format!("/v1/service-accounts/{}/migrate", id("nightly-cleanup")),
            Some(&admin),
            None,
        )
        .await?;
    outcome.org_owned_untouched =
        refused.0 == 409 && refused.1["error"]["code"] == "org_owned_account";
    say(&format!(
        "   nightly cleanup is org-owned automation: {}",
        refused.1["error"]["code"]
    ));
    let refused = api
        .call(
            "POST",
            &format!("/v1/service-accounts/{}/migrate", id("ci-release")),
            Some(&admin),
            None,
        )
        .await?;
    outcome.integrations_gate_held =
        refused.0 == 409 && refused.1["error"]["code"] == "integrations_not_reviewed";
    say(&format!(
        "   ci-release is hard-coded in CI; until that is reviewed: {}",
        refused.1["error"]["code"]
    ));
    api.expect(200, "PUT", &format!("/v1/service-accounts/{}", id("ci-release")), Some(&admin), Some(json!({"name": "ci-release", "kind": "migrate", "scopes": ["deploy:run", "repo:read"], "integrations": [{"kind": "ci", "location": "github:acme/api/.github/workflows/release.yml", "note": "secret rotated in the pipeline"}], "integrationsReviewed": true, "legacySecret": legacy["ci-release"]}))).await?;
    let mut agents = std::collections::BTreeMap::new();
    for name in ["deploy-bot", "platform-shared", "ci-release"] {
        let migrated = api
            .expect(
                201,
                "POST",
                &format!("/v1/service-accounts/{}/migrate", id(name)),
                Some(&admin),
                Some(json!({"dualWriteDays": 7})),
            )
            .await?;
        let agent = migrated["agent"]["agentId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let secret = migrated["credential"]["secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        say(&format!(
            "   {} -> agent {agent} owned by {} (new secret shown once)",
            id(name),
            migrated["agent"]["ownerUserId"]
                .as_str()
                .unwrap_or_default()
        ));
        agents.insert(name.to_owned(), (agent, secret));
        outcome.migrated.push(id(name));
    }

    say("== Step 4: the cutover window records both identities");
    let (_, old) = api
        .call(
            "POST",
            "/v1/audit-events",
            Some(&legacy["deploy-bot"]),
            Some(event("demo-legacy-1", "deploy.start")),
        )
        .await?;
    say(&format!(
        "   old credential: actor {} {}, accountable {}, agent {}",
        old["event"]["actorType"],
        old["event"]["actorId"],
        old["event"]["accountablePrincipalId"],
        old["event"]["agentId"]
    ));
    for (name, (_, secret)) in &agents {
        for i in 0..2 {
            api.expect(
                201,
                "POST",
                "/v1/audit-events",
                Some(secret),
                Some(event(&format!("demo-{name}-{i}"), "deploy.start")),
            )
            .await?;
        }
    }
    let (_, new) = api
        .call(
            "POST",
            "/v1/audit-events",
            Some(&agents["deploy-bot"].1),
            Some(event("demo-new-1", "deploy.finish")),
        )
        .await?;
    say(&format!(
        "   new credential: actor {} {}, accountable {}, old account {}",
        new["event"]["actorType"],
        new["event"]["actorId"],
        new["event"]["accountablePrincipalId"],
        new["event"]["legacyServiceAccountId"]
    ));

    say("== Step 5: usage of the old credentials trends to zero");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let status = api
        .expect(
            200,
            "GET",
            &format!("/v1/service-accounts/{}/migration", id("deploy-bot")),
            Some(&admin),
            None,
        )
        .await?;
    say(&format!(
        "   deploy-bot's old credential: last used {}, revocable from {}",
        status["legacyCredential"]["lastUsedAt"], status["revokeEligibleAt"]
    ));

    say("== The two questions only this model answers");
    let lead = api.token(&id("priya"), false).await?;
    let week = api
        .expect(
            200,
            "GET",
            &format!(
                "/v1/audit-events?accountablePrincipalId={}&since=7d",
                id("priya")
            ),
            Some(&lead),
            None,
        )
        .await?;
    outcome.lead_events_this_week = week["items"].as_array().map_or(0, Vec::len);
    say(&format!(
        "   what did {}'s agents do this week: {} events",
        id("priya"),
        outcome.lead_events_this_week
    ));
    let who = api
        .expect(
            200,
            "GET",
            &format!("/v1/agents/{}/accountable", agents["deploy-bot"].0),
            Some(&admin),
            None,
        )
        .await?;
    outcome.responsible_email = who["email"].as_str().unwrap_or_default().to_owned();
    say(&format!(
        "   who is responsible for {}: {}",
        agents["deploy-bot"].0, outcome.responsible_email
    ));

    say("== Step 6: the sweep revokes quiet credentials, then purges after the buffer");
    let now = Timestamp::now();
    for day in [4, 8, 15] {
        let at = now.plus(Duration::days(day));
        let report = api
            .expect(200, "POST", &format!("/_local/sweep?at={at}"), None, None)
            .await?;
        let names = |field: &str| -> Vec<String> {
            report[field]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .filter(|n| n.ends_with(&run_id))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (ended, revoked, purged) = (
            names("dualWriteEnded"),
            names("revokedLegacy"),
            names("purged"),
        );
        say(&format!(
            "   day {day}: windows closed {ended:?}, revoked {revoked:?}, purged {purged:?}"
        ));
        if day == 8 {
            outcome.revoked = revoked;
            let (status, _) = api
                .call(
                    "POST",
                    "/v1/audit-events",
                    Some(&legacy["deploy-bot"]),
                    Some(event("demo-after-revoke", "deploy.start")),
                )
                .await?;
            outcome.legacy_denied_after_revocation = status == 403;
            say(&format!(
                "   the old deploy-bot credential now gets {status}"
            ));
        }
        if day == 15 {
            outcome.purged = purged;
        }
    }

    say("== An owner leaves");
    let offboarded = api
        .expect(
            200,
            "POST",
            &format!("/v1/users/{}/offboard", id("dana")),
            Some(&admin),
            Some(json!({"reason": "left the company"})),
        )
        .await?;
    outcome.offboarded_agents = offboarded["revokedAgents"].as_array().map_or(0, Vec::len);
    say(&format!(
        "   {} offboarded: {} agent revoked with her",
        id("dana"),
        outcome.offboarded_agents
    ));

    say("== The migration");
    let report = api
        .expect(200, "GET", "/v1/migration", Some(&admin), None)
        .await?;
    say(&format!(
        "   accounts per state: {}; cutover date {}",
        report["counts"], report["cutoverDate"]
    ));
    Ok(outcome)
}
