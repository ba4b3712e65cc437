//! `agentctl` driven from outside, as an operator would, against the local gateway over HTTP on
//! a real DynamoDB-compatible server, one fresh table per test.

use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use agentid::sweep::{Sweep, SweepConfig};
use agentid::usage::Aggregator;
use agentid_integration::{spawn_app, test_pepper, TestApp};
use agentid_local::jwt::DevJwt;
use agentid_local::Gateway;
use serde_json::{json, Value};

/// The key of every test gateway's dev tokens.
const DEV_KEY: [u8; 32] = [9; 32];

/// An administrator's token, as `AGENTID_TOKEN` carries one in AWS: nothing is asked of the
/// gateway to get it.
fn admin_token() -> String {
    DevJwt::from_key(DEV_KEY.to_vec())
        .issue("root", true, 600)
        .unwrap()
}

/// One test's world: a gateway on a free port over a fresh table, and a config directory.
struct Env {
    base: String,
    dir: tempfile::TempDir,
    app: TestApp,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Env {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What one run of the command printed, and how it exited.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// The secret a minting command printed.
    fn secret(&self) -> String {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix("secret: "))
            .unwrap_or_else(|| panic!("no secret in: {}", self.stdout))
            .to_owned()
    }

    /// Asserts the run failed with `code` and said why in one line naming `mentioning`.
    #[track_caller]
    fn fails(self, code: i32, mentioning: &str) -> Self {
        assert_eq!(
            self.code, code,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert_eq!(self.stderr.lines().count(), 1, "{}", self.stderr);
        assert!(
            self.stderr.contains(mentioning),
            "no {mentioning:?} in {}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }

    #[track_caller]
    fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

async fn spawn_gateway() -> Env {
    let app = spawn_app().await;
    let gateway = Arc::new(Gateway {
        mint: agentid::api::mint::Mint::new(app.store.clone(), test_pepper()),
        audit: agentid::api::audit::AuditApi::new(app.store.clone()),
        authorizer: agentid::api::authorizer::Authorizer::new(app.store.clone(), test_pepper()),
        sweep: Sweep::new(app.store.clone(), SweepConfig::default()),
        jwt: DevJwt::from_key(DEV_KEY.to_vec()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, agentid_local::router(gateway))
            .await
            .unwrap();
    });
    let sdk = agentid::runtime::aws_config().unwrap();
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(
        aws_sdk_dynamodbstreams::config::Builder::from(&sdk)
            .endpoint_url(std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap())
            .build(),
    );
    let stream = tokio::spawn(agentid_local::stream::follow(
        app.client.clone(),
        streams,
        app.store.table_name().to_owned(),
        Aggregator::new(app.store.clone()),
        Duration::from_millis(100),
    ));
    Env {
        base,
        dir: tempfile::tempdir().unwrap(),
        app,
        tasks: vec![server, stream],
    }
}

impl Env {
    /// Whether the table holds the service account `id`.
    async fn has_account(&self, id: &str) -> bool {
        let id = agentid::ids::ServiceAccountId::parse(id).unwrap();
        self.app
            .store
            .get_service_account(&id)
            .await
            .unwrap()
            .is_some()
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Runs `agentctl ARGS` against this gateway, as the logged-in user.
    fn agentctl(&self, args: &[&str]) -> Run {
        self.agentctl_at(&self.base, args)
    }

    fn agentctl_at(&self, base: &str, args: &[&str]) -> Run {
        self.agentctl_with(base, None, args)
    }

    /// Runs `agentctl ARGS` against `base`, with `AGENTID_TOKEN` set to `token` if given.
    fn agentctl_with(&self, base: &str, token: Option<&str>, args: &[&str]) -> Run {
        let mut command = assert_cmd::Command::cargo_bin("agentctl").unwrap();
        command
            .args(args)
            .env("AGENTCTL_CONFIG", self.config_path())
            .env("AGENTID_API_URL", base)
            .env_remove("AGENTID_TOKEN")
            .env("NO_COLOR", "1")
            .envs(LEGACY_SECRETS);
        if let Some(token) = token {
            command.env("AGENTID_TOKEN", token);
        }
        let output: Output = tokio::task::block_in_place(|| command.output().unwrap());
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// Logs in as a local administrator and creates the humans the tests use.
    fn admin_with_users(&self) {
        self.agentctl(&["login", "--dev", "--user", "root", "--admin"])
            .ok();
        for (user, scopes) in [("priya", "repo:read"), ("lead", "repo:read")] {
            self.agentctl(&[
                "users",
                "put",
                user,
                "--email",
                &format!("{user}@example.com"),
                "--scope",
                scopes,
            ])
            .ok();
        }
    }

    /// Records one audit event with `secret` as the bearer, over HTTP, as an agent would.
    fn record_event(&self, secret: &str, request_id: &str) -> u16 {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        );
        let occurred_at = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        tokio::task::block_in_place(|| {
            agent
                .post(format!("{}/v1/audit-events", self.base))
                .header("authorization", format!("Bearer {secret}"))
                .send_json(json!({
                    "action": "repo.push",
                    "resource": "repo:acme/api",
                    "outcome": "success",
                    "requestId": request_id,
                    "occurredAt": occurred_at,
                }))
                .unwrap()
                .status()
                .as_u16()
        })
    }
}

/// Polls `check` until it holds (the usage consumer follows the stream every 100 ms).
async fn eventually(mut check: impl FnMut() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("condition not reached within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_saves_the_user_and_never_a_token() {
    let env = spawn_gateway().await;
    let refused = env.agentctl(&["agents", "list"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("not logged in"),
        "{}",
        refused.stderr
    );

    let login = env
        .agentctl(&["login", "--dev", "--user", "priya", "--admin"])
        .ok();
    assert!(login.stdout.contains("acting as priya (administrator)"));
    let saved = std::fs::read_to_string(env.config_path()).unwrap();
    let config: Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(config["dev"], json!({"user": "priya", "admin": true}));
    assert!(!saved.contains("eyJ"), "a JWT was written: {saved}");

    // The saved user acts: an admin may create users.
    env.agentctl(&["users", "put", "sam", "--email", "sam@example.com"])
        .ok();
    env.agentctl(&["logout"]).ok();
    assert_eq!(env.agentctl(&["agents", "list"]).code, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn agents_are_created_listed_rotated_transferred_and_revoked() {
    let env = spawn_gateway().await;
    env.admin_with_users();

    let created = env
        .agentctl(&[
            "agents",
            "create",
            "--name",
            "deploy-bot",
            "--owner",
            "priya",
            "--scope",
            "repo:read",
        ])
        .ok();
    let first_secret = created.secret();
    assert!(first_secret.starts_with("agid_ag_"));
    assert!(created.stderr.contains("shown once"), "{}", created.stderr);
    let listed = env
        .agentctl(&["agents", "list", "--owner", "priya", "--json"])
        .ok()
        .json();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let agent = items[0]["agentId"].as_str().unwrap().to_owned();
    assert_eq!(items[0]["ownerUserId"], "priya");
    let table = env.agentctl(&["agents", "list", "--owner", "priya"]).ok();
    assert!(table.stdout.starts_with("AGENT"), "{}", table.stdout);
    assert!(table.stdout.contains(&agent) && table.stdout.contains("deploy-bot"));

    let who = env.agentctl(&["who-is-responsible", &agent]).ok();
    assert_eq!(
        who.stdout.trim(),
        format!("{agent} → priya <priya@example.com> (active)")
    );
    assert_eq!(env.record_event(&first_secret, "req-1"), 201);

    let rotated = env
        .agentctl(&["agents", "rotate", &agent, "--grace", "0"])
        .ok();
    let second_secret = rotated.secret();
    assert_ne!(second_secret, first_secret);
    assert_eq!(env.record_event(&first_secret, "req-2"), 403);
    assert_eq!(env.record_event(&second_secret, "req-3"), 201);

    let moved = env
        .agentctl(&["agents", "transfer", &agent, "--to", "lead"])
        .ok();
    assert_eq!(
        moved.stdout.trim(),
        format!("{agent} now belongs to lead (was priya)")
    );
    let who = env
        .agentctl(&["who-is-responsible", &agent, "--json"])
        .ok()
        .json();
    assert_eq!(who["ownerUserId"], "lead");

    let revoked = env.agentctl(&["agents", "revoke", &agent]).ok();
    assert!(revoked.stdout.contains("revoked"), "{}", revoked.stdout);
    assert_eq!(env.record_event(&second_secret, "req-4"), 403);

    let offboarded = env
        .agentctl(&["users", "offboard", "priya", "--reason", "left"])
        .ok();
    assert!(offboarded.stdout.starts_with("offboarded priya"));
    // Nothing the command line handled is on disk.
    let saved = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(!saved.contains(&first_secret) && !saved.contains(&second_secret));
}

const INVENTORY: &str = "\
id,name,kind,integrations,owner,ownerOfRecord,integrationsReviewed,legacySecretEnv
sa-deploy,Deploy bot,migrate,ci:github:acme/api/deploy.yml,priya,false,true,LEGACY_DEPLOY
sa-shared,Platform shared,migrate,cron:ops-1/crontab,lead,true,true,LEGACY_SHARED
sa-nightly,Nightly cleanup,org_owned,,,,,
";

/// The legacy secrets the inventory names, as the operator's environment holds them.
const LEGACY_SECRETS: [(&str, &str); 2] = [
    ("LEGACY_DEPLOY", "legacy-deploy-secret-0123456789"),
    ("LEGACY_SHARED", "legacy-shared-secret-0123456789"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_import_with_bad_rows_writes_only_the_good_ones_and_names_each_bad_line() {
    let env = spawn_gateway().await;
    env.admin_with_users();
    let file = env.file(
        "inventory.csv",
        "id,name,kind,owner,ownerOfRecord\n\
         sa-good,Good,migrate,priya,false\n\
         sa bad,Space in id,migrate,priya,false\n\
         sa-kind,Wrong kind,robot,priya,false\n\
         sa-orphan,Owner of record without owner,migrate,,true\n\
         sa-ghost,Unknown owner,migrate,nobody,false\n",
    );
    let dry = env.agentctl(&["sa", "import", file.to_str().unwrap(), "--dry-run"]);
    assert_eq!(dry.code, 1);
    assert!(
        dry.stdout.contains("2 rows would be applied"),
        "{}",
        dry.stdout
    );
    let sa = |id: &str| agentid::ids::ServiceAccountId::parse(id).unwrap();
    assert!(!env.has_account("sa-good").await);
    assert!(!PathBuf::from(format!("{}.progress", file.display())).exists());

    let run = env.agentctl(&["sa", "import", file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let name = file.display().to_string();
    for (line, reason) in [(3, "id: "), (4, "kind: \"robot\""), (5, "ownerOfRecord: ")] {
        let expected = format!("{name}:{line}: {reason}");
        assert!(
            run.stderr.contains(&expected),
            "no {expected:?} in {}",
            run.stderr
        );
    }
    // Valid in the file, refused by the API: reported with its line too.
    assert!(
        run.stderr.contains(&format!("{name}:6: sa-ghost:")),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("imported 1 rows"), "{}", run.stdout);
    assert!(env.has_account("sa-good").await);
    assert_eq!(
        env.app
            .store
            .get_owner_map(&sa("sa-good"))
            .await
            .unwrap()
            .unwrap()
            .owner_user_id
            .as_str(),
        "priya"
    );
    for refused in ["sa-kind", "sa-orphan"] {
        assert!(!env.has_account(refused).await);
    }
    assert!(env
        .app
        .store
        .get_owner_map(&sa("sa-ghost"))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resumed_import_skips_the_rows_already_applied() {
    let env = spawn_gateway().await;
    env.admin_with_users();
    let two_rows: String = INVENTORY
        .lines()
        .take(3)
        .map(|l| format!("{l}\n"))
        .collect();
    let file = env.file("inventory.csv", &two_rows);
    let first = env
        .agentctl(&["sa", "import", file.to_str().unwrap(), "--json"])
        .ok()
        .json();
    assert_eq!(first["applied"], json!(["sa-deploy", "sa-shared"]));

    // The server goes away mid-import: nothing is lost, the re-run resumes.
    std::fs::write(&file, INVENTORY).unwrap();
    let token = admin_token();
    let down = env.agentctl_with(
        "http://127.0.0.1:9",
        Some(&token),
        &["sa", "import", file.to_str().unwrap()],
    );
    assert_eq!(down.code, 1);
    assert!(down.stderr.contains("re-run to resume"), "{}", down.stderr);
    assert_eq!(down.stderr.lines().count(), 1, "{}", down.stderr);

    let resumed = env.agentctl(&["sa", "import", file.to_str().unwrap()]).ok();
    assert!(
        resumed.stdout.contains("resuming: 2 rows already applied"),
        "{}",
        resumed.stdout
    );
    assert!(
        resumed
            .stdout
            .contains("imported 1 rows (2 already applied"),
        "{}",
        resumed.stdout
    );
    // An edited row is applied again.
    std::fs::write(&file, INVENTORY.replace("Deploy bot", "Deploy bot v2")).unwrap();
    let edited = env
        .agentctl(&["sa", "import", file.to_str().unwrap(), "--json"])
        .ok()
        .json();
    assert_eq!(edited["applied"], json!(["sa-deploy"]));
    let sa = agentid::ids::ServiceAccountId::parse("sa-deploy").unwrap();
    let stored = env
        .app
        .store
        .get_service_account(&sa)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.name.as_str(), "Deploy bot v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrate_audit_status_and_rollback_from_the_command_line() {
    let env = spawn_gateway().await;
    env.admin_with_users();
    let file = env.file("inventory.csv", INVENTORY);
    env.agentctl(&["sa", "import", file.to_str().unwrap()]).ok();
    env.agentctl(&[
        "sa",
        "owner",
        "sa-shared",
        "--user",
        "lead",
        "--owner-of-record",
        "--note",
        "team lead",
    ])
    .ok();

    let migrated = env.agentctl(&["sa", "migrate", "sa-deploy"]).ok();
    let secret = migrated.secret();
    assert!(
        migrated.stdout.contains("owned by priya"),
        "{}",
        migrated.stdout
    );
    assert!(migrated.stderr.contains("shown once"));
    assert_eq!(env.record_event(&secret, "deploy-1"), 201);
    env.agentctl(&["sa", "migrate", "sa-nightly"])
        .fails(1, "org_owned_account");

    let events = env
        .agentctl(&[
            "audit",
            "--service-account",
            "sa-deploy",
            "--since",
            "1h",
            "--json",
        ])
        .ok()
        .json();
    let items = events["items"].as_array().unwrap();
    let pushed = items.iter().find(|e| e["action"] == "repo.push").unwrap();
    assert_eq!(pushed["legacyServiceAccountId"], "sa-deploy");
    assert_eq!(pushed["accountablePrincipalId"], "priya");
    let table = env
        .agentctl(&["audit", "--owner", "priya", "--since", "1h"])
        .ok();
    assert!(table.stdout.contains("repo.push") && table.stdout.contains("sa-deploy"));
    let agent = pushed["actorId"].as_str().unwrap();
    let by_actor = env
        .agentctl(&["audit", "--actor", agent, "--actor-type", "agent", "--json"])
        .ok()
        .json();
    let actions: Vec<&str> = by_actor["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["repo.push"]);
    let limited = env
        .agentctl(&["audit", "--owner", "root", "--limit", "2", "--json"])
        .ok()
        .json();
    assert_eq!(limited["items"].as_array().unwrap().len(), 2);
    assert_eq!(limited["more"], true);

    let status = env.agentctl(&["migration", "status"]).ok();
    let row = |id: &str| {
        status
            .stdout
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("no {id} in {}", status.stdout))
            .to_owned()
    };
    assert!(
        row("sa-deploy").contains("dual_writing"),
        "{}",
        status.stdout
    );
    assert!(
        row("sa-shared").contains("lead (of record)"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("dual_writing 1"),
        "{}",
        status.stdout
    );
    let json = env.agentctl(&["migration", "status", "--json"]).ok().json();
    assert_eq!(json["counts"]["dual_writing"], 1);

    let rolled = env.agentctl(&["sa", "rollback", "sa-deploy"]).ok();
    assert!(rolled.stdout.contains("rolled back"), "{}", rolled.stdout);
    assert_eq!(env.record_event(&secret, "deploy-2"), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_one_line_and_the_documented_exit_code() {
    let env = spawn_gateway().await;
    env.admin_with_users();
    let missing_agent = "agt_00000000000000000000000000000000";
    env.agentctl(&["agents", "list", "--colour"])
        .fails(2, "--colour");
    let help = env.agentctl(&["--help"]).ok();
    assert!(help.stdout.contains("The six steps"), "{}", help.stdout);
    assert_eq!(env.agentctl(&[]).code, 2);
    env.agentctl(&["who-is-responsible", missing_agent])
        .fails(3, "agent_not_found");
    env.agentctl(&["agents", "revoke", "not-an-agent"])
        .fails(1, "invalid_agent_id");
    env.agentctl(&["sa", "import", "/nonexistent/inventory.csv"])
        .fails(2, "/nonexistent/inventory.csv");
    let text_file = env.file("inv.txt", "x");
    env.agentctl(&["sa", "import", text_file.to_str().unwrap()])
        .fails(2, ".csv or .json");
    let odd_columns = env.file("cols.csv", "id,name,kind,colour\nsa-a,A,migrate,red\n");
    env.agentctl(&["sa", "import", odd_columns.to_str().unwrap()])
        .fails(2, "colour");
    env.agentctl(&["agents", "rotate", missing_agent, "--grace", "1w"])
        .fails(2, "--grace");
    env.agentctl_at("http://127.0.0.1:9", &["migration", "status"])
        .fails(1, "cannot reach");
    env.agentctl_at("localhost:8080", &["migration", "status"])
        .fails(2, "localhost:8080");

    // Something that is not the API answers.
    let impostor = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let impostor_url = format!("http://{}", impostor.local_addr().unwrap());
    let answering = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let (mut socket, _) = impostor.accept().await.unwrap();
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let page = "<html>captive portal</html>";
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    env.agentctl_with(
        &impostor_url,
        Some(&admin_token()),
        &["migration", "status"],
    )
    .fails(1, "not JSON");
    answering.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_report_renders_in_chromium_with_every_chart_drawn_and_no_console_error() {
    let env = spawn_gateway().await;
    env.admin_with_users();
    let file = env.file("inventory.csv", INVENTORY);
    env.agentctl(&["sa", "import", file.to_str().unwrap()]).ok();
    // The old credentials are in use; the deploy bot's owner has already switched.
    for (i, (_, secret)) in LEGACY_SECRETS.iter().enumerate() {
        assert_eq!(env.record_event(secret, &format!("legacy-{i}")), 201);
    }
    env.agentctl(&["sa", "migrate", "sa-deploy"]).ok();
    env.agentctl(&["sa", "migrate", "sa-shared"]).ok();
    eventually(|| {
        let status = env.agentctl(&["migration", "status", "--json"]).ok().json();
        status["accounts"].as_array().unwrap().iter().all(|a| {
            a["legacyCredential"]["dailyUsage"]
                .as_array()
                .is_some_and(|days| days.iter().any(|d| d["count"].as_u64() > Some(0)))
        })
    })
    .await;
    let status = env.agentctl(&["migration", "status"]).ok();
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.starts_with("sa-deploy") && l.contains("·█")),
        "no usage sparkline: {}",
        status.stdout
    );
    let report = env.dir.path().join("report.html");
    env.agentctl(&["migration", "report", "--html", report.to_str().unwrap()])
        .ok();
    let page = std::fs::read_to_string(&report).unwrap();
    for external in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!page.contains(external), "the page fetches {external}");
    }

    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok()
        })
        .expect("headless Chromium is needed for this test: apt-get install chromium");
    let output = tokio::task::block_in_place(|| {
        std::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=5000",
                "--dump-dom",
            ])
            .arg(format!("file://{}", report.display()))
            .output()
            .unwrap()
    });
    let dom = String::from_utf8_lossy(&output.stdout);
    let log = String::from_utf8_lossy(&output.stderr);
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console output: {console:?}");
    assert!(
        dom.contains("data-rendered=\"true\""),
        "the script did not finish: {log}"
    );
    for chart in ["usage", "states"] {
        let marker = format!("data-chart=\"{chart}\" data-marks=\"");
        let at = dom
            .find(&marker)
            .unwrap_or_else(|| panic!("no {chart} chart in the DOM"));
        let marks: usize = dom[at + marker.len()..]
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(marks > 0, "the {chart} chart is empty");
    }
}
