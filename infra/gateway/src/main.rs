//! `agentid-local`: run the whole system on this machine.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use agentid::api::audit::AuditApi;
use agentid::api::authorizer::Authorizer;
use agentid::api::mint::Mint;
use agentid::credential::Pepper;
use agentid::store::{client_config, Store};
use agentid::sweep::{Sweep, SweepConfig};
use agentid::time::Timestamp;
use agentid::usage::Aggregator;
use agentid_local::jwt::DevJwt;
use agentid_local::Gateway;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clap::Parser;

/// The whole system locally: a DynamoDB-compatible server, the table, every function behind
/// the template's routes, local JWTs, the authorizer, the stream consumer and the sweep.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Port of the HTTP API on 127.0.0.1.
    #[arg(long, default_value_t = 8080, env = "AGENTID_LOCAL_PORT")]
    port: u16,
    /// Local DynamoDB-compatible server to start (ignored when AWS_ENDPOINT_URL_DYNAMODB is set).
    #[arg(long, default_value = "ministack", value_parser = ["ministack", "moto"])]
    server: String,
    /// Table name.
    #[arg(long, default_value = "agentid", env = "TABLE_NAME")]
    table: String,
    /// Seconds between scheduled sweeps (0: only on demand, POST /_local/sweep?at=...).
    #[arg(long, default_value_t = 3600)]
    sweep_every: u64,
    /// Where the dev JWT key and the local pepper live (generated on first run).
    #[arg(long, default_value = ".agentid-local")]
    state_dir: PathBuf,
    /// Walk a demo organisation through the six steps once the system is up.
    #[arg(long)]
    demo: bool,
    /// With --demo: stop everything when the demo ends (exit code 0 when it succeeded).
    #[arg(long, requires = "demo")]
    exit_after_demo: bool,
}

/// A local server this process started; stopped when dropped.
struct StartedServer {
    pidfile: PathBuf,
}

impl Drop for StartedServer {
    fn drop(&mut self) {
        let _ = Command::new("python3")
            .args([script().as_str(), "stop"])
            .arg(&self.pidfile)
            .status();
        let _ = std::fs::remove_file(&self.pidfile);
        eprintln!("agentid-local: local DynamoDB server stopped");
    }
}

fn script() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../localddb.py").to_owned()
}

fn local_pepper(args: &Args) -> Result<Pepper, Box<dyn std::error::Error>> {
    if let Ok(text) = std::env::var(agentid::runtime::PEPPER_VAR) {
        return Ok(Pepper::from_base64(&text)?);
    }
    let path = args.state_dir.join("pepper");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok(Pepper::from_base64(&text)?);
    }
    let mut bytes = vec![0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&args.state_dir)?;
    std::fs::write(&path, STANDARD.encode(&bytes))?;
    Ok(Pepper::from_bytes(bytes)?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    // Logs to stderr, so stdout carries only the demo's narrative and outcome.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();

    let mut started = None;
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
        let pidfile =
            std::env::temp_dir().join(format!("agentid-local-{}.pid", std::process::id()));
        let out = Command::new("python3")
            .args([script().as_str(), "start", &args.server])
            .arg(&pidfile)
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "could not start {}: {}",
                args.server,
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        let endpoint = String::from_utf8(out.stdout)?.trim().to_owned();
        // Set before the AWS configuration loads, which reads them; nothing else runs yet.
        std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", &endpoint);
        for (name, value) in [
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_REGION", "us-east-1"),
        ] {
            if std::env::var_os(name).is_none() {
                std::env::set_var(name, value);
            }
        }
        started = Some(StartedServer { pidfile });
        eprintln!("agentid-local: {} answering at {endpoint}", args.server);
    }
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")?;

    let sdk = agentid::runtime::aws_config()?;
    let client = aws_sdk_dynamodb::Client::from_conf(client_config(&sdk).build());
    if client
        .describe_table()
        .table_name(&args.table)
        .send()
        .await
        .is_err()
    {
        agentid::table::create_table(&client, &args.table).await?;
        eprintln!("agentid-local: created table {}", args.table);
    }
    let store = Store::new(client.clone(), args.table.clone());
    let pepper = local_pepper(&args)?;
    let jwt = DevJwt::load_or_create(&args.state_dir.join("dev-jwt.key"))?;
    let gateway = Arc::new(Gateway {
        mint: Mint::new(store.clone(), pepper.clone()),
        audit: AuditApi::new(store.clone()),
        authorizer: Authorizer::new(store.clone(), pepper),
        sweep: Sweep::new(store.clone(), SweepConfig::from_env()),
        jwt,
    });

    let streams = aws_sdk_dynamodbstreams::Client::from_conf(
        aws_sdk_dynamodbstreams::config::Builder::from(&sdk)
            .endpoint_url(&endpoint)
            .build(),
    );
    let follower = tokio::spawn(agentid_local::stream::follow(
        client,
        streams,
        args.table.clone(),
        Aggregator::new(store.clone()),
        Duration::from_millis(500),
    ));
    let sweeper = (args.sweep_every > 0).then(|| {
        let sweep = Sweep::new(store, SweepConfig::from_env());
        let every = Duration::from_secs(args.sweep_every);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match sweep.run(Timestamp::now(), false).await {
                    Ok(report) => tracing::info!(report = %serde_json::to_string(&report).unwrap_or_default(), "scheduled sweep"),
                    Err(err) => tracing::warn!(error = %err, "scheduled sweep failed"),
                }
            }
        })
    });

    let app = agentid_local::router(gateway);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    eprintln!(
        "agentid-local: API at {base} (dev tokens: POST /_local/token {{\"sub\": \"you\", \"admin\": true}}; sweep: POST /_local/sweep?at=<RFC 3339>). Ctrl-C stops everything."
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = stopped => {}
                }
            })
            .await
    });
    let mut failed = false;
    if args.demo {
        match agentid_local::demo::run(&base).await {
            Ok(outcome) => println!("demo outcome: {}", serde_json::to_string(&outcome)?),
            Err(err) => {
                eprintln!("agentid-local: {err}");
                failed = true;
            }
        }
        if args.exit_after_demo {
            let _ = stop.send(());
        }
    }
    server.await??;
    follower.abort();
    if let Some(sweeper) = sweeper {
        sweeper.abort();
    }
    drop(started);
    if failed {
        return Err("the demo failed".into());
    }
    Ok(())
}
