//! The runtime: actix actors per workspace behind two handles, [`Stoker`] (the runtime) and
//! [`Workspace`] (one tenant). The only module that names actix actors.
//!
//! ```text
//! Stoker ── open workspaces by name; Slots, the server-wide cap on running jobs
//!   ├─ Keeper     releases idle workspaces, opens them again when due or woken
//!   ├─ Scheduler, Janitor of a shared store (one each for all its workspaces)
//!   └─ Supervisor (per open workspace, on the control arbiter)
//!        ├─ Queue      claims at most as many jobs as it may start and has slots for
//!        ├─ Worker × N one job at a time, started as needed, over one arbiter per core
//!        ├─ Completer  stores outcomes in batches
//!        ├─ Scheduler  in a store of its own: promotes due scheduled jobs, fires
//!        │             recurring ones; sleeps until the next one
//!        └─ Janitor    in a store of its own: heartbeat and leases, recovery; expiry on
//!                      the lease holder
//! ```

mod activity;
mod builder;
mod completer;
mod events;
mod group_commit;
mod housekeeping;
mod janitor;
mod keeper;
mod lock;
mod panics;
mod prepare;
mod queue;
mod recurring;
mod scheduler;
mod settings;
mod slots;
mod stoker;
mod supervisor;
mod trace_context;
mod transaction;
mod worker;
mod workspace;

pub use builder::StokerBuilder;
pub use events::{Event, EventKind, EventStream};
pub use lock::DistributedLock;
pub use recurring::RecurringOptions;
pub use settings::WorkspaceOptions;
pub use stoker::Stoker;
pub use transaction::Transaction;
pub use workspace::{Enqueued, Workspace};
