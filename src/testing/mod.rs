//! Helpers for testing an application's jobs, as Oban.Testing and River's `rivertest` give them:
//!
//! - [`TestContext`] builds the [`JobContext`](crate::JobContext) a unit test hands a job
//!   (its attempt, workspace, data, clock, cancellation), and [`run_inline`] runs one job with
//!   it, its arguments through JSON as the runtime stores them;
//! - [`enqueued`] and [`assert_enqueued`] check what an application enqueued;
//! - [`statements_executed`] and [`journal_mode`] look at a workspace's storage;
//! - [`drain`] waits until a workspace has run what is due (with a
//!   [`ManualClock`](crate::ManualClock), what the test made due).
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use stoker::testing::{TestContext, run_inline};
//! use stoker::{Job, JobContext, JobError};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Remind {
//!     days_late: u32,
//! }
//!
//! impl Job for Remind {
//!     const NAME: &'static str = "remind";
//!
//!     async fn run(self, ctx: JobContext) -> Result<(), JobError> {
//!         match (self.days_late, ctx.attempt()) {
//!             (0, _) => Err(JobError::fatal("not late")),
//!             (_, 1) => Err(JobError::retry("mail server busy")),
//!             _ => Ok(()),
//!         }
//!     }
//! }
//!
//! # actix::System::new().block_on(async {
//! let first = run_inline(Remind { days_late: 3 }, TestContext::new().build()).await;
//! assert!(first.unwrap_err().is_retryable());
//! let second = TestContext::new().attempt(2).build();
//! assert!(run_inline(Remind { days_late: 3 }, second).await.is_ok());
//! # });
//! ```

mod context;
mod diagnostics;
mod drain;
mod enqueued;

pub use context::{TestContext, run_inline};
pub use diagnostics::{journal_mode, statements_executed};
pub use drain::drain;
pub use enqueued::{assert_enqueued, enqueued};
