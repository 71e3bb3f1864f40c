//! [`Move`]: the columns a state change sets, and the statements that apply it. Every move
//! sets `state_at` and appends the job's history row with the move's reason and data (see
//! [`history`]). A move into a final state also releases the job's continuations.

use entities::job;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};

use super::{StorageResult, continuations, history};
use crate::state::JobState;

/// A column and the value a move gives it.
pub(super) type Assignment = (job::Column, SimpleExpr);

/// A job's move into a state.
pub(super) struct Move {
    pub(super) state: JobState,
    reason: Option<String>,
    data: Option<serde_json::Value>,
    extra: Vec<Assignment>,
}

impl Move {
    pub(super) fn to(state: JobState) -> Self {
        Move {
            state,
            reason: None,
            data: None,
            extra: Vec::new(),
        }
    }

    /// Why, for people: kept on the job and in its history.
    pub(super) fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Details, such as a failed run's error, for the history row.
    pub(super) fn data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }

    /// Also sets `column`.
    pub(super) fn set(mut self, column: job::Column, value: impl Into<SimpleExpr>) -> Self {
        self.extra.push((column, value.into()));
        self
    }

    /// The assignments of this move at `now`. Leaving `processing` always ends the lease.
    pub(super) fn assignments(self, now: i64) -> Vec<Assignment> {
        let mut values = self.extra;
        values.extend([
            (job::Column::State, Expr::val(self.state.as_str())),
            (job::Column::StateAt, Expr::val(now)),
            (job::Column::Reason, Expr::val(self.reason)),
            (
                job::Column::Data,
                Expr::val(self.data.map(|data| data.to_string())),
            ),
        ]);
        if self.state != JobState::Processing {
            values.extend([
                (job::Column::LeaseOwner, Expr::val(Option::<String>::None)),
                (job::Column::LeaseUntil, Expr::val(Option::<i64>::None)),
            ]);
        }
        values
    }
}

/// The jobs a move moved, and how many continuations that released to their queues.
#[derive(Debug, Default)]
pub(super) struct Moved {
    pub(super) ids: Vec<i64>,
    pub(super) released: usize,
}

/// Applies `change` at `now` to those of `ids` that are in state `from` (and, with `owner`,
/// leased to it). A move into a final state releases the moved jobs' continuations.
pub(super) async fn apply(
    db: &impl ConnectionTrait,
    ids: &[i64],
    from: JobState,
    owner: Option<&str>,
    change: Move,
    now: i64,
) -> StorageResult<Moved> {
    let state = change.state;
    let mut update = Query::update();
    update
        .table(job::Entity)
        .values(change.assignments(now))
        .and_where(Expr::col(job::Column::Id).is_in(ids.iter().copied()))
        .and_where(Expr::col(job::Column::State).eq(from.as_str()));
    if let Some(owner) = owner {
        update.and_where(Expr::col(job::Column::LeaseOwner).eq(owner));
    }
    let ids = history::run_recorded(db, &update).await?;
    let released = match state.is_final() && !ids.is_empty() {
        true => continuations::release(db, ids.clone(), state, now).await?,
        false => 0,
    };
    Ok(Moved { ids, released })
}
