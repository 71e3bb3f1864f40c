//! What a test may want to know of a workspace's storage that an application has no use for.

use crate::error::Result;
use crate::runtime::Workspace;

/// How many SQL statements `workspace`'s storage has run since it opened (an idle workspace
/// runs none between heartbeats).
pub fn statements_executed(workspace: &Workspace) -> u64 {
    workspace.statements_executed()
}

/// What SQLite reports as the journal mode of `workspace`'s database (`wal`); an
/// invalid-configuration error on PostgreSQL, which has none.
pub async fn journal_mode(workspace: &Workspace) -> Result<String> {
    workspace.journal_mode().await
}
