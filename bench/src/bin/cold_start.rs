//! Cold start: the time from exec to a function's first poll of the Lambda Runtime API.
//!
//! A stand-in for the Runtime API listens on loopback; each binary is started with the
//! environment Lambda gives a function (runtime API address, region, credentials, table name,
//! pepper) and timed until its first `GET /2018-06-01/runtime/invocation/next`, which is the
//! moment Lambda counts init as done. The binaries are started in interleaved rounds so that
//! machine noise falls on all of them alike; figures are reported beside the first binary
//! (the baseline) as ratios.
//!
//! ```text
//! cargo build --release -p agentid-bench -p authorizer -p audit -p mint -p usage -p sweep
//! cargo run --release -p agentid-bench --bin cold-start -- \
//!     target/release/hello-lambda target/release/{authorizer,audit,mint,usage,sweep}
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Measure time to first Runtime API poll.
#[derive(Parser)]
struct Args {
    /// Rounds; each starts every binary once.
    #[arg(long, default_value_t = 30)]
    rounds: usize,
    /// The binaries, the baseline first.
    #[arg(required = true)]
    binaries: Vec<PathBuf>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind the stand-in runtime API");
    let address = listener.local_addr().expect("local address");
    let (polled, mut polls) = mpsc::unbounded_channel::<Instant>();
    let polled = Arc::new(polled);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let polled = polled.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let polled = polled.clone();
                    async move {
                        if req.uri().path().ends_with("/runtime/invocation/next") {
                            let _ = polled.send(Instant::now());
                            // Hold the poll: the process is killed before any invocation.
                            tokio::time::sleep(Duration::from_secs(60)).await;
                        }
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::new(),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); args.binaries.len()];
    for _ in 0..args.rounds {
        for (i, binary) in args.binaries.iter().enumerate() {
            let started = Instant::now();
            let mut child = tokio::process::Command::new(binary)
                .env_clear()
                .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
                .env("AWS_LAMBDA_FUNCTION_NAME", "cold-start")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
                .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/cold-start")
                .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "bench")
                .env("AWS_SECRET_ACCESS_KEY", "bench")
                .env("AWS_SESSION_TOKEN", "bench")
                .env("TABLE_NAME", "agentid")
                .env(
                    "AGENTID_PEPPER",
                    "YWdlbnRpZC1jb2xkLXN0YXJ0LWJlbmNoLXBlcHBlciEhIQ",
                )
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
            let first_poll = tokio::time::timeout(Duration::from_secs(10), polls.recv())
                .await
                .unwrap_or_else(|_| panic!("{} never polled", binary.display()))
                .expect("the runtime API is up");
            samples[i].push(first_poll - started);
            let _ = child.kill().await;
        }
    }

    let median = |d: &mut Vec<Duration>| {
        d.sort();
        d[d.len() / 2]
    };
    let p90 = |d: &Vec<Duration>| d[(d.len() * 9 / 10).min(d.len() - 1)];
    let baseline = median(&mut samples[0].clone());
    println!("| binary | size | median to first poll | p90 | median / baseline |");
    println!("|---|---|---|---|---|");
    for (binary, samples) in args.binaries.iter().zip(&mut samples) {
        let size = std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0);
        let m = median(samples);
        println!(
            "| {} | {:.1} MB | {:.2} ms | {:.2} ms | {:.2} |",
            binary.file_name().unwrap_or_default().to_string_lossy(),
            size as f64 / 1e6,
            m.as_secs_f64() * 1e3,
            p90(samples).as_secs_f64() * 1e3,
            m.as_secs_f64() / baseline.as_secs_f64()
        );
    }
}
