//! The first thing to run: `cargo run --release --example quickstart`.
//!
//! Starts a stoker runtime on the embedded SQLite default (./stoker-data), enqueues a few jobs
//! of different kinds into the workspace `quickstart`, and prints each state they pass through
//! until they settle: one that succeeds, one that fails twice and then succeeds, one that
//! panics until its retries run out, and one delayed by two seconds.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stoker::{Job, JobContext, JobError, JobId, JobState, NewJob, RetryPolicy, Stoker, Workspace};

/// Succeeds at once.
#[derive(Serialize, Deserialize)]
struct SendWelcomeEmail {
    to: String,
}

impl Job for SendWelcomeEmail {
    const NAME: &'static str = "send_welcome_email";

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        println!("    (sending a welcome email to {})", self.to);
        Ok(())
    }
}

/// Fails its first two attempts, as a flaky payment network would.
#[derive(Serialize, Deserialize)]
struct ChargeCard {
    order: u32,
    cents: u64,
}

impl Job for ChargeCard {
    const NAME: &'static str = "charge_card";

    fn retry_policy() -> RetryPolicy {
        RetryPolicy::attempts(5).with_delays([Duration::from_secs(1)])
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        if ctx.attempt() <= 2 {
            return Err(JobError::retry("card network timed out"));
        }
        println!(
            "    (charged {} cents for order {})",
            self.cents, self.order
        );
        Ok(())
    }
}

/// Panics every time: a bug, caught and recorded as a failed attempt.
#[derive(Serialize, Deserialize)]
struct ResizeImage {
    path: String,
}

impl Job for ResizeImage {
    const NAME: &'static str = "resize_image";

    fn retry_policy() -> RetryPolicy {
        RetryPolicy::attempts(1).with_delays([Duration::from_secs(1)])
    }

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        panic!("index out of bounds while resizing {}", self.path)
    }
}

fn settled(state: JobState) -> bool {
    matches!(
        state,
        JobState::Succeeded | JobState::Failed | JobState::Deleted
    )
}

/// Prints every state the jobs enter until all of them settle.
async fn follow(workspace: &Workspace, jobs: &[JobId]) -> stoker::Result<()> {
    let mut seen: HashMap<JobId, usize> = HashMap::new();
    loop {
        let mut all_settled = true;
        for &id in jobs {
            let job = workspace.job(id).await?;
            let shown = seen.entry(id).or_default();
            for entry in job.history.iter().rev().skip(*shown) {
                let reason = entry
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                println!(
                    "job {id:>3} {:<18} {}{reason}",
                    job.summary.job_type, entry.state
                );
            }
            *shown = job.history.len();
            all_settled &= settled(job.summary.state);
        }
        if all_settled {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_rt::main]
async fn main() -> anyhow::Result<()> {
    let stoker = Stoker::builder()
        .register::<SendWelcomeEmail>()
        .register::<ChargeCard>()
        .register::<ResizeImage>()
        .build()?;
    let workspace = stoker.workspace("quickstart").await?;

    let jobs = vec![
        workspace
            .enqueue(SendWelcomeEmail {
                to: "ada@example.com".into(),
            })
            .await?,
        workspace
            .enqueue(ChargeCard {
                order: 42,
                cents: 1999,
            })
            .await?,
        workspace
            .enqueue(ResizeImage {
                path: "cat.png".into(),
            })
            .await?,
        workspace
            .enqueue_job(
                NewJob::of(&SendWelcomeEmail {
                    to: "later@example.com".into(),
                })
                .delay(Duration::from_secs(2)),
            )
            .await?
            .id,
    ];
    let ids: Vec<String> = jobs.iter().map(JobId::to_string).collect();
    println!(
        "enqueued jobs {} in workspace `quickstart` (./stoker-data/quickstart.db)\n",
        ids.join(", ")
    );
    follow(&workspace, &jobs).await?;

    let stats = workspace.stats().await?;
    println!(
        "\nsucceeded so far: {}, failed now: {}",
        stats.succeeded, stats.failed
    );
    stoker.shutdown().await;
    Ok(())
}
