//! Evidence for the suite-wide secret check (`infra/secret_scan.py`).
//!
//! With `AGENTID_SECRET_SCAN_DIR` set, every request body the tests send and every response
//! body they receive is appended to a file there (one JSON line each), and the product's own
//! logs (every `agentid` target, at trace level) are written beside it. After the suite, the
//! scan takes the secrets out of those exchanges (issued `secret`s, supplied `legacySecret`s)
//! and looks for them in every table on the server and in the logs, and for every stored
//! credential hash in the responses. Without the variable nothing is recorded.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

struct Recorder {
    exchanges: Mutex<File>,
}

fn recorder() -> Option<&'static Recorder> {
    static RECORDER: OnceLock<Option<Recorder>> = OnceLock::new();
    RECORDER
        .get_or_init(|| {
            let dir = PathBuf::from(std::env::var_os("AGENTID_SECRET_SCAN_DIR")?);
            std::fs::create_dir_all(&dir).expect("create the secret scan directory");
            let name = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
            let open = |suffix: &str| {
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join(format!("{name}.{suffix}")))
                    .expect("open a secret scan file")
            };
            let logs = open("log");
            let _ = tracing_subscriber::fmt()
                .json()
                .with_env_filter(tracing_subscriber::EnvFilter::new(
                    "info,agentid=trace,agentid_local=trace",
                ))
                .with_writer(Mutex::new(logs))
                .try_init();
            Some(Recorder {
                exchanges: Mutex::new(open("exchanges.jsonl")),
            })
        })
        .as_ref()
}

/// Starts recording, if asked to (called by every app the harness spawns).
pub fn init() {
    let _ = recorder();
}

/// Records one exchange: the request body sent, the response's status and body.
pub fn record(request: &[u8], status: u16, response: &[u8]) {
    let Some(recorder) = recorder() else {
        return;
    };
    let line = serde_json::json!({
        "request": String::from_utf8_lossy(request),
        "status": status,
        "response": String::from_utf8_lossy(response),
    });
    let mut file = recorder.exchanges.lock().expect("exchanges file");
    writeln!(file, "{line}").expect("record an exchange");
}

/// The bytes of a Lambda HTTP body.
pub fn body_bytes(body: &lambda_http::Body) -> &[u8] {
    match body {
        lambda_http::Body::Text(text) => text.as_bytes(),
        lambda_http::Body::Binary(bytes) => bytes,
        _ => b"",
    }
}
