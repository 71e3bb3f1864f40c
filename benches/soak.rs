//! Soak: the standalone server (release build, SQLite) under a steady mixed load for a long
//! while: enqueues, delayed jobs, recurring jobs every ten seconds, API reads and dashboard
//! pages. Every minute it prints requests, errors, latency percentiles, the server's resident
//! memory and CPU; at the end it waits for the delayed jobs and checks that every accepted job
//! succeeded.
//!
//! `cargo bench --bench soak`; `STOKER_SOAK_SECONDS` (default 1800), `STOKER_SOAK_RATE`
//! (requests per second, default 200).

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::server::ServerProcess;
use common::{cpu_seconds, percentile, process_memory_mib};
use serde_json::{Value, json};

const WS: &str = "soak";
const CLIENTS: u64 = 8;
const RECURRING: usize = 5;
const LONGEST_DELAY_SECONDS: u64 = 60;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// What the clients saw in the current minute, and in all.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
    requests: u64,
    accepted: u64,
    total_requests: u64,
    total_errors: u64,
}

/// The request a client sends as its `n`th: half enqueues, the rest delayed jobs, reads of
/// the job it enqueued last (stats until it has one), stats, lists, recurring jobs and
/// dashboard pages.
fn request(n: u64, last_id: Option<&str>) -> (&'static str, String, Option<Value>) {
    let api = format!("/api/workspaces/{WS}");
    match (n % 20, last_id) {
        (0..=9, _) => ("POST", format!("{api}/jobs"), Some(json!({"type": "noop"}))),
        (10..=12, _) => {
            let delay = n % LONGEST_DELAY_SECONDS + 1;
            let job = json!({"type": "noop", "delay_seconds": delay});
            ("POST", format!("{api}/jobs"), Some(job))
        }
        (13 | 14, Some(id)) => ("GET", format!("{api}/jobs/{id}"), None),
        (13..=15, _) => ("GET", format!("{api}/stats"), None),
        (16, _) => ("GET", format!("{api}/jobs?state=succeeded&limit=50"), None),
        (17, _) => ("GET", format!("/dashboard/{WS}"), None),
        (18, _) => ("GET", format!("/dashboard/{WS}/jobs?state=succeeded"), None),
        _ => ("GET", format!("{api}/recurring"), None),
    }
}

/// One client: `rate` requests per second until `end`.
async fn load_client(base: String, index: u64, rate: f64, end: Instant, tally: Rc<RefCell<Tally>>) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_id: Option<String> = None;
    let mut n = index;
    while Instant::now() < end {
        ticks.tick().await;
        n += CLIENTS;
        let (method, path, body) = request(n, last_id.as_deref());
        let started = Instant::now();
        let url = format!("{base}{path}");
        let sent = match (method, body) {
            ("POST", Some(body)) => client.post(url).send_json(&body).await,
            _ => client.get(url).send().await,
        };
        let elapsed = started.elapsed();
        let answer = match sent {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let body = response.body().limit(4 << 20).await.unwrap_or_default();
                Ok((status, body))
            }
            Err(error) => Err(error.to_string()),
        };
        let mut tally = tally.borrow_mut();
        tally.requests += 1;
        tally.latencies.push(elapsed);
        match answer {
            Ok((201, body)) => {
                let created: Value = serde_json::from_slice(&body).unwrap_or_default();
                if let Some(id) = created["id"].as_str() {
                    last_id = Some(id.to_owned());
                }
                tally.accepted += 1;
            }
            Ok((200, _)) => {}
            Ok((status, body)) => {
                tally.errors += 1;
                if tally.total_errors + tally.errors <= 5 {
                    eprintln!(
                        "{method} {path}: {status} {}",
                        String::from_utf8_lossy(&body)
                    );
                }
            }
            Err(error) => {
                tally.errors += 1;
                eprintln!("{method} {path}: {error}");
            }
        }
    }
}

/// Prints the minute's figures and starts the next minute.
fn report(minute: u64, tally: &RefCell<Tally>, server: &ServerProcess, cpu_before: &mut f64) {
    let mut tally = tally.borrow_mut();
    let (rss, peak) = process_memory_mib(&server.pid());
    let cpu = cpu_seconds(&server.pid());
    let mut latencies = std::mem::take(&mut tally.latencies);
    println!(
        "minute {minute:>3}: {:>6} requests, {} errors, p50 {:>6.2} ms, p99 {:>6.2} ms, max {:>7.2} ms, server {rss:.0} MiB (peak {peak:.0}), CPU {:.0}%",
        tally.requests,
        tally.errors,
        percentile(&mut latencies, 50).as_secs_f64() * 1e3,
        percentile(&mut latencies, 99).as_secs_f64() * 1e3,
        percentile(&mut latencies, 100).as_secs_f64() * 1e3,
        (cpu - *cpu_before) / 60.0 * 100.0,
    );
    *cpu_before = cpu;
    tally.total_requests += tally.requests;
    tally.total_errors += tally.errors;
    tally.requests = 0;
    tally.errors = 0;
}

/// Puts `RECURRING` recurring jobs firing every ten seconds.
async fn add_recurring(client: &awc::Client, base: &str) {
    for n in 0..RECURRING {
        let url = format!("{base}/api/workspaces/{WS}/recurring/tick-{n}");
        let definition = json!({"type": "sleep", "args": {"ms": 1}, "cron": "*/10 * * * * *"});
        let answer = client.put(url).send_json(&definition).await.unwrap();
        assert_eq!(answer.status().as_u16(), 200);
    }
}

/// Waits for the delayed jobs to fall due and run; the workspace's stats then.
async fn drained(client: &awc::Client, base: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(LONGEST_DELAY_SECONDS * 2);
    loop {
        let url = format!("{base}/api/workspaces/{WS}/stats");
        let stats: Value = client.get(url).send().await.unwrap().json().await.unwrap();
        let waiting = ["enqueued", "scheduled", "processing"]
            .iter()
            .map(|state| stats[state].as_u64().unwrap_or(0))
            .sum::<u64>();
        if waiting == 0 || Instant::now() > deadline {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn main() {
    let seconds = setting("STOKER_SOAK_SECONDS", 1800);
    let rate = setting("STOKER_SOAK_RATE", 200) as f64;
    actix_rt::System::new().block_on(async move {
        let server = ServerProcess::start(&["--workspace", WS]).await;
        let client = awc::Client::default();
        add_recurring(&client, &server.base).await;
        println!("soak: {seconds} s at {rate} requests/s, {CLIENTS} clients, SQLite");
        let (rss, _) = process_memory_mib(&server.pid());
        println!("server at start: {rss:.0} MiB");
        let tally = Rc::new(RefCell::new(Tally::default()));
        let end = Instant::now() + Duration::from_secs(seconds);
        for index in 0..CLIENTS {
            let load = load_client(server.base.clone(), index, rate / CLIENTS as f64, end, tally.clone());
            actix_rt::spawn(load);
        }
        let mut cpu = cpu_seconds(&server.pid());
        let mut minutes = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(60),
            Duration::from_secs(60),
        );
        for minute in 1..=seconds.div_ceil(60) {
            minutes.tick().await;
            report(minute, &tally, &server, &mut cpu);
        }
        let stats = drained(&client, &server.base).await;
        let noop = format!("{}/api/workspaces/{WS}/jobs?type=noop&state=succeeded&limit=1", server.base);
        let page: Value = client.get(noop).send().await.unwrap().json().await.unwrap();
        let tally = tally.borrow();
        println!(
            "total: {} requests, {} errors; {} jobs accepted, {} of them succeeded; {} failed, {} still waiting",
            tally.total_requests,
            tally.total_errors,
            tally.accepted,
            page["total"],
            stats["failed"],
            stats["enqueued"].as_u64().unwrap_or(0) + stats["scheduled"].as_u64().unwrap_or(0),
        );
    });
}
