//! SeaORM entities of stoker's tables: one module per table, no logic.
//!
//! Every instant is stored as `i64` milliseconds since the Unix epoch (UTC). Integers compare,
//! index and round-trip the same way on SQLite and PostgreSQL, which keeps the claim and
//! promotion queries identical on both backends; the runtime converts at its edge.

pub mod counter;
pub mod job;
pub mod job_count;
pub mod job_history;
pub mod lock;
pub mod prelude;
pub mod recurring_job;
pub mod server;
pub mod unique_period;
pub mod workspace;
