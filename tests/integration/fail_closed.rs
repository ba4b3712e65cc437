//! The audit write fails closed: with the DynamoDB-compatible server stopped, recording answers
//! 503 and the caller's action must not proceed; once it is back, a retry stores the event
//! exactly once. The test runs its own server, so pausing it disturbs no other test.

use std::process::Command;
use std::time::Duration;

use agentid_integration::{audit_request, now, spawn_app_with};
use serde_json::json;

/// A server of the suite's kind on its own port, stopped when dropped.
struct OwnServer {
    pid: i32,
    endpoint: String,
    pidfile: std::path::PathBuf,
}

impl OwnServer {
    fn start() -> Self {
        let server = std::env::var("AGENTID_LOCAL_SERVER").unwrap_or_else(|_| "ministack".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/localddb.py");
        let pidfile =
            std::env::temp_dir().join(format!("agentid-{}.pid", uuid::Uuid::new_v4().simple()));
        let out = Command::new("python3")
            .args([script, "start", &server])
            .arg(&pidfile)
            .output()
            .expect("start a local server");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let endpoint = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let pid = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Self {
            pid,
            endpoint,
            pidfile,
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.pid)])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.signal("-CONT");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/localddb.py");
        let _ = Command::new("python3")
            .args([script, "stop"])
            .arg(&self.pidfile)
            .status();
        let _ = std::fs::remove_file(&self.pidfile);
    }
}

#[tokio::test]
async fn a_stopped_store_gives_503_and_a_retry_after_restart_stores_once() {
    let server = OwnServer::start();
    let endpoint = server.endpoint.clone();
    let app = spawn_app_with(move |config| {
        config.endpoint_url(endpoint).timeout_config(
            aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_millis(400))
                .operation_timeout(Duration::from_secs(2))
                .build(),
        )
    })
    .await;
    let agent = app.owner_with_agent("govind", &[]).await;
    let attribution = app
        .verify(agent["credential"]["secret"].as_str().unwrap())
        .await;
    let body = json!({"action": "deploy.start", "resource": "repo:acme/api", "outcome": "success",
        "requestId": "during-outage", "occurredAt": now().to_string()});

    server.signal("-STOP");
    let (status, refused) = app
        .call_audit(audit_request(
            "POST",
            "/v1/audit-events",
            &attribution,
            Some(&body),
        ))
        .await;
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["error"]["code"], "audit_unavailable");

    server.signal("-CONT");
    // The paused server may still apply the request it had buffered: either way, the retry
    // must end with exactly one event.
    let mut status = 0;
    for _ in 0..20 {
        let (got, _) = app
            .call_audit(audit_request(
                "POST",
                "/v1/audit-events",
                &attribution,
                Some(&body),
            ))
            .await;
        status = got;
        if got != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        status == 201 || status == 200,
        "retry after restart: {status}"
    );
    let events: Vec<_> = app
        .dump()
        .await
        .into_iter()
        .filter(|i| {
            i.get("requestId")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
                == Some("during-outage")
        })
        .collect();
    assert_eq!(events.len(), 1, "no event lost, none doubled");
}
