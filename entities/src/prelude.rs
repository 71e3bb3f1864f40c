//! The entities under short names, for `use entities::prelude::*`.

pub use super::counter::Entity as Counter;
pub use super::job::Entity as Job;
pub use super::job_history::Entity as JobHistory;
pub use super::lock::Entity as Lock;
pub use super::recurring_job::Entity as RecurringJob;
pub use super::server::Entity as Server;
pub use super::unique_period::Entity as UniquePeriod;
pub use super::workspace::Entity as Workspace;
