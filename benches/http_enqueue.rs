//! Single-job `POST /jobs` over HTTP against the real `stoker` binary on loopback (SQLite):
//! requests per second and latency percentiles with concurrent clients. Bounded: 20,000
//! requests or 60 seconds, whichever comes first. Run with `cargo bench --bench http_enqueue`.

mod common;

use std::time::{Duration, Instant};

use common::percentile;
use common::server::ServerProcess;
use serde_json::json;

const CLIENTS: usize = 64;
const REQUESTS: usize = 20_000;
const TIME_LIMIT: Duration = Duration::from_secs(60);

fn main() {
    actix_rt::System::new().block_on(async move {
        let server = ServerProcess::start(&[]).await;
        let base = &server.base;
        let client = awc::Client::builder().timeout(Duration::from_secs(10)).finish();
        // Jobs go to a queue nobody works: only enqueueing is measured.
        let body = json!({"type": "noop", "queue": "parked"});
        let url = format!("{base}/api/workspaces/default/jobs");
        let started = Instant::now();
        let clients = (0..CLIENTS).map(|_| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            async move {
                let mut latencies = Vec::new();
                while latencies.len() < REQUESTS / CLIENTS && started.elapsed() < TIME_LIMIT {
                    let one = Instant::now();
                    let answer = client.post(&url).send_json(&body).await.expect("request");
                    assert_eq!(answer.status().as_u16(), 201);
                    latencies.push(one.elapsed());
                }
                latencies
            }
        });
        let mut latencies: Vec<Duration> = futures::future::join_all(clients).await.concat();
        let elapsed = started.elapsed();
        let rate = latencies.len() as f64 / elapsed.as_secs_f64();
        println!(
            "POST /jobs over HTTP (SQLite, {CLIENTS} clients, {} requests): {rate:.0} enqueues/s, p50 {:?}, p99 {:?}",
            latencies.len(),
            percentile(&mut latencies, 50),
            percentile(&mut latencies, 99)
        );
    });
}
