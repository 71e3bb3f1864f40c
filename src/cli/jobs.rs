//! The job types built into the `stoker` binary, as API.md lists them: `noop`, `sleep` and
//! `fail`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use stoker::{Job, JobContext, JobError, StokerBuilder};

/// Registers every built-in job type.
pub(super) fn register(builder: StokerBuilder) -> StokerBuilder {
    builder
        .register::<Noop>()
        .register::<Sleep>()
        .register::<Fail>()
}

/// Does nothing and succeeds.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Noop {}

impl Job for Noop {
    const NAME: &'static str = "noop";

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

/// Waits `ms` milliseconds (cancellable), then succeeds.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sleep {
    ms: u64,
}

impl Job for Sleep {
    const NAME: &'static str = "sleep";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(self.ms)) => Ok(()),
            () = ctx.cancelled() => Err(JobError::retry("cancelled while sleeping")),
        }
    }
}

/// Fails its first `times` attempts (all of them when absent) with `message`, then succeeds.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fail {
    message: Option<String>,
    times: Option<u32>,
}

impl Job for Fail {
    const NAME: &'static str = "fail";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        if self.times.is_none_or(|times| ctx.attempt() <= times) {
            let message = self
                .message
                .unwrap_or_else(|| "failed on purpose".to_owned());
            return Err(JobError::retry(message));
        }
        Ok(())
    }
}
