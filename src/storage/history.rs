//! Appending state history rows, many per statement.

use entities::job_history;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, NotSet};

use super::StorageResult;
use crate::state::JobState;

/// Rows per `INSERT`, well under SQLite's and PostgreSQL's bound-parameter limits.
pub(super) const ROWS_PER_STATEMENT: usize = 1000;

/// One state a job entered, to be appended.
pub(super) struct Entry {
    pub(super) job_id: i64,
    pub(super) state: JobState,
    pub(super) reason: Option<String>,
    pub(super) data: Option<serde_json::Value>,
}

impl Entry {
    pub(super) fn new(job_id: i64, state: JobState, reason: impl Into<Option<String>>) -> Self {
        Entry {
            job_id,
            state,
            reason: reason.into(),
            data: None,
        }
    }

    pub(super) fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// Appends `entries`, all stamped `at`.
pub(super) async fn append(
    db: &impl ConnectionTrait,
    entries: impl IntoIterator<Item = Entry>,
    at: i64,
) -> StorageResult<()> {
    let rows: Vec<job_history::ActiveModel> = entries
        .into_iter()
        .map(|entry| job_history::ActiveModel {
            id: NotSet,
            job_id: Set(entry.job_id),
            state: Set(entry.state.as_str().to_owned()),
            reason: Set(entry.reason),
            data: Set(entry.data.map(|data| data.to_string())),
            at: Set(at),
        })
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        job_history::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
