//! The runtime: actix actors per workspace behind two handles, [`Stoker`] (the runtime) and
//! [`Workspace`] (one tenant). The only module that names actix actors.
//!
//! ```text
//! Stoker ── workspaces by name
//!   └─ Supervisor (per workspace, on the control arbiter)
//!        ├─ Queue      claims at most as many jobs as it has idle workers
//!        ├─ Worker × N one job at a time, spread over one arbiter per core
//!        ├─ Completer  stores outcomes in batches
//!        ├─ Scheduler  promotes due scheduled jobs; sleeps until the next one
//!        └─ Janitor    heartbeat and leases, recovery; expiry on the lease holder
//! ```

mod builder;
mod completer;
mod group_commit;
mod janitor;
mod lock;
mod panics;
mod prepare;
mod queue;
mod recurring;
mod scheduler;
mod settings;
mod stoker;
mod supervisor;
mod worker;
mod workspace;

pub use builder::StokerBuilder;
pub use lock::DistributedLock;
pub use recurring::RecurringOptions;
pub use stoker::Stoker;
pub use workspace::{Enqueued, Workspace};
