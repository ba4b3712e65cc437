//! A fault-injecting HTTP proxy between the store and the DynamoDB-compatible server, on
//! loopback only.
//!
//! Each request the proxy receives draws one [`Fault`] from a seeded, reproducible sequence:
//! pass it through, delay it, close the connection before or after forwarding it (the second
//! is the dangerous one: the write happened and the caller never heard), answer HTTP 500, or
//! answer with DynamoDB's throttling errors. Faults are off until [`FaultProxy::inject`] turns
//! them on, so a test sets up its table cleanly first.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// What the proxy does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Forwarded untouched.
    None,
    /// Forwarded after a pause (long enough, in some draws, to exceed the attempt timeout).
    Delay(Duration),
    /// The connection closes before the request reaches the server.
    DropBefore,
    /// The server applies the request; the connection closes before the response.
    DropAfter,
    /// HTTP 500 with DynamoDB's `InternalServerError`.
    ServerError,
    /// HTTP 400 with `ProvisionedThroughputExceededException`.
    ThroughputExceeded,
    /// HTTP 400 with `ThrottlingException`.
    Throttling,
}

impl Fault {
    /// A short stable name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::Delay(_) => "delay",
            Fault::DropBefore => "drop_before",
            Fault::DropAfter => "drop_after",
            Fault::ServerError => "http_500",
            Fault::ThroughputExceeded => "throughput_exceeded",
            Fault::Throttling => "throttling",
        }
    }
}

/// How often each fault is drawn, in requests per thousand.
#[derive(Debug, Clone, Copy)]
pub struct FaultMix {
    /// Delayed requests.
    pub delay: u64,
    /// Shortest delay.
    pub min_delay: Duration,
    /// Longest delay; each delayed request waits a uniform draw between the two.
    pub max_delay: Duration,
    /// Connections closed before forwarding.
    pub drop_before: u64,
    /// Connections closed after the server answered.
    pub drop_after: u64,
    /// HTTP 500 answers.
    pub server_error: u64,
    /// `ProvisionedThroughputExceededException` answers.
    pub throughput_exceeded: u64,
    /// `ThrottlingException` answers.
    pub throttling: u64,
}

impl FaultMix {
    /// Every fault at once: more than one request in four is disturbed.
    pub fn harsh(max_delay: Duration) -> Self {
        Self {
            delay: 60,
            min_delay: Duration::ZERO,
            max_delay,
            drop_before: 30,
            drop_after: 50,
            server_error: 30,
            throughput_exceeded: 40,
            throttling: 40,
        }
    }

    /// No fault, but every request held for `latency` before it is forwarded: a network round
    /// trip, so that requests sent at once are seen to overlap.
    pub fn round_trip(latency: Duration) -> Self {
        Self {
            delay: 1000,
            min_delay: latency,
            max_delay: latency,
            drop_before: 0,
            drop_after: 0,
            server_error: 0,
            throughput_exceeded: 0,
            throttling: 0,
        }
    }

    /// Every share multiplied by `factor` (the total must stay within 1,000 per mille).
    pub fn times(self, factor: u64) -> Self {
        let mix = Self {
            delay: self.delay * factor,
            drop_before: self.drop_before * factor,
            drop_after: self.drop_after * factor,
            server_error: self.server_error * factor,
            throughput_exceeded: self.throughput_exceeded * factor,
            throttling: self.throttling * factor,
            ..self
        };
        assert!(mix.total() <= 1000, "more than every request faulted");
        mix
    }

    /// Faulted requests per thousand.
    pub fn total(&self) -> u64 {
        self.delay
            + self.drop_before
            + self.drop_after
            + self.server_error
            + self.throughput_exceeded
            + self.throttling
    }

    fn draw(&self, roll: u64) -> Fault {
        let per_mille = roll % 1000;
        let mut edge = 0;
        let mut next = |share: u64| {
            edge += share;
            per_mille < edge
        };
        if next(self.delay) {
            let min = self.min_delay.as_millis() as u64;
            let span = (self.max_delay.as_millis() as u64)
                .saturating_sub(min)
                .max(1);
            Fault::Delay(Duration::from_millis(
                (min + (roll / 1000) % span + 1).min(self.max_delay.as_millis().max(1) as u64),
            ))
        } else if next(self.drop_before) {
            Fault::DropBefore
        } else if next(self.drop_after) {
            Fault::DropAfter
        } else if next(self.server_error) {
            Fault::ServerError
        } else if next(self.throughput_exceeded) {
            Fault::ThroughputExceeded
        } else if next(self.throttling) {
            Fault::Throttling
        } else {
            Fault::None
        }
    }
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    /// The URL to give the SDK as its endpoint.
    pub endpoint: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

struct State {
    upstream: String,
    mix: FaultMix,
    seed: u64,
    enabled: AtomicBool,
    sequence: AtomicU64,
    lose_answers_to: Mutex<Vec<String>>,
    injected: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (an `http://host:port` URL) drawing faults from `mix`
    /// with `seed`. Faults start switched off.
    pub async fn start(upstream: &str, mix: FaultMix, seed: u64) -> Self {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind the fault proxy on loopback");
        let endpoint = format!("http://{}", listener.local_addr().expect("local address"));
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_owned(),
            mix,
            seed,
            enabled: AtomicBool::new(false),
            sequence: AtomicU64::new(0),
            lose_answers_to: Mutex::default(),
            injected: Mutex::default(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let accept_state = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = accept_state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { state.serve(req).await }
                    });
                    // A closed connection is the point of some faults: its error is expected.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            endpoint,
            state,
            task,
        }
    }

    /// Switches fault injection on or off.
    pub fn inject(&self, on: bool) {
        self.state.enabled.store(on, Ordering::SeqCst);
    }

    /// Applies the next request of `operation` (e.g. `TransactWriteItems`) and loses its
    /// answer, once, whether or not random faults are on: the SDK's retry then meets its own
    /// applied write.
    pub fn lose_next_answer_to(&self, operation: &str) {
        self.state
            .lose_answers_to
            .lock()
            .expect("one-shot faults")
            .push(operation.to_owned());
    }

    /// How many of each fault were injected, by [`Fault::name`].
    pub fn injected(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.state.injected.lock().expect("fault counts").clone()
    }

    /// Total faults injected (every kind but `none`).
    pub fn total_injected(&self) -> u64 {
        self.injected()
            .iter()
            .filter(|(name, _)| **name != "none")
            .map(|(_, n)| n)
            .sum()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The service error that makes hyper close the connection without a response.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

impl State {
    fn next_fault(&self, operation: &str) -> Fault {
        let mut one_shots = self.lose_answers_to.lock().expect("one-shot faults");
        let fault = if let Some(i) = one_shots.iter().position(|o| o == operation) {
            one_shots.remove(i);
            Fault::DropAfter
        } else if self.enabled.load(Ordering::SeqCst) {
            let n = self.sequence.fetch_add(1, Ordering::SeqCst);
            self.mix.draw(splitmix64(self.seed ^ n))
        } else {
            return Fault::None;
        };
        drop(one_shots);
        *self
            .injected
            .lock()
            .expect("fault counts")
            .entry(fault.name())
            .or_default() += 1;
        fault
    }

    async fn serve(
        &self,
        req: hyper::Request<Incoming>,
    ) -> Result<hyper::Response<Full<Bytes>>, Dropped> {
        // DynamoDB's JSON protocol names the operation in X-Amz-Target: "DynamoDB_20120810.PutItem".
        let operation = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default()
            .to_owned();
        let fault = self.next_fault(&operation);
        let (parts, body) = req.into_parts();
        let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
        match fault {
            Fault::DropBefore => return Err(Dropped),
            Fault::ServerError => {
                return Ok(error_response(
                    500,
                    "com.amazonaws.dynamodb.v20120810#InternalServerError",
                    "Internal server error (injected)",
                ))
            }
            Fault::ThroughputExceeded => {
                return Ok(error_response(
                    400,
                    "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                    "The level of configured provisioned throughput for the table was exceeded (injected)",
                ))
            }
            Fault::Throttling => {
                return Ok(error_response(
                    400,
                    "com.amazon.coral.availability#ThrottlingException",
                    "Rate of requests exceeds the allowed throughput (injected)",
                ))
            }
            Fault::Delay(pause) => tokio::time::sleep(pause).await,
            Fault::None | Fault::DropAfter => {}
        }
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut upstream = hyper::Request::builder()
            .method(parts.method)
            .uri(format!("{}{path}", self.upstream));
        for (name, value) in &parts.headers {
            upstream = upstream.header(name, value);
        }
        let upstream = upstream.body(Full::new(body)).map_err(|_| Dropped)?;
        let response = self.client.request(upstream).await.map_err(|_| Dropped)?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
        if fault == Fault::DropAfter {
            return Err(Dropped);
        }
        Ok(hyper::Response::from_parts(parts, Full::new(body)))
    }
}

fn error_response(status: u16, error_type: &str, message: &str) -> hyper::Response<Full<Bytes>> {
    let body = serde_json::json!({"__type": error_type, "message": message}).to_string();
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-requestid", uuid::Uuid::new_v4().to_string())
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

/// A well-mixed 64-bit value from `x`, so a seed and a counter give a reproducible sequence.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_draws_each_fault_near_its_share() {
        let mix = FaultMix::harsh(Duration::from_millis(50));
        let mut counts = std::collections::HashMap::new();
        for n in 0..100_000u64 {
            *counts
                .entry(mix.draw(splitmix64(7 ^ n)).name())
                .or_insert(0u64) += 1;
        }
        for (name, share) in [
            ("delay", 60),
            ("drop_before", 30),
            ("drop_after", 50),
            ("http_500", 30),
            ("throughput_exceeded", 40),
            ("throttling", 40),
        ] {
            let got = counts[name];
            let want = share * 100;
            assert!(
                got.abs_diff(want) < want / 10,
                "{name}: {got} of 100000, want about {want}"
            );
        }
    }

    #[test]
    fn delays_stay_within_the_maximum() {
        let mix = FaultMix {
            delay: 1000,
            ..FaultMix::harsh(Duration::from_millis(40))
        };
        for n in 0..10_000u64 {
            match mix.draw(splitmix64(n)) {
                Fault::Delay(d) => {
                    assert!(d >= Duration::from_millis(1) && d <= Duration::from_millis(40))
                }
                other => panic!("expected a delay, drew {other:?}"),
            }
        }
    }

    #[test]
    fn a_round_trip_delays_every_request_by_exactly_its_latency() {
        let mix = FaultMix::round_trip(Duration::from_millis(5));
        for n in 0..10_000u64 {
            assert_eq!(
                mix.draw(splitmix64(n)),
                Fault::Delay(Duration::from_millis(5))
            );
        }
    }
}
