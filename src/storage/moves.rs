//! [`Move`]: the columns a state change sets, and the statements that apply it. Every move
//! sets `state_at` and appends the job's history row with the move's reason and data (see
//! [`history`]). A move into a final state also releases the job's continuations; a move out
//! of a unique scope's states releases the job's unique key (see [`unique`]).

use std::borrow::Cow;

use entities::job;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};

use super::{StorageResult, continuations, history, states, text, unique};
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

    /// Why, for people: kept on the job and in its history, made storable (see
    /// [`text::storable`]): a reason often carries a job's own error.
    pub(super) fn reason(mut self, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        self.reason = Some(match text::storable(&reason) {
            Cow::Borrowed(_) => reason,
            Cow::Owned(storable) => storable,
        });
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

    /// Also releases the job's `queued` or `active` unique key (see [`unique::released`]).
    pub(super) fn release_unique(self) -> Self {
        self.set(job::Column::UniqueScope, unique::released())
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
        if let Some(scope) = unique::released_by(self.state) {
            values.push((job::Column::UniqueScope, scope));
        }
        if self.state != JobState::Processing {
            values.extend([
                (job::Column::LeaseOwner, Expr::val(Option::<String>::None)),
                (job::Column::LeaseUntil, Expr::val(Option::<i64>::None)),
            ]);
        }
        values
    }
}

/// How long jobs are kept once they end: succeeded and deleted jobs for `finished_ms`,
/// failed ones (which a person may still want to requeue) for `failed_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Retention {
    pub(crate) finished_ms: i64,
    pub(crate) failed_ms: i64,
}

impl Default for Retention {
    /// A day for succeeded and deleted jobs, a week for failed ones.
    fn default() -> Self {
        const HOUR_MS: i64 = 3_600_000;
        Retention {
            finished_ms: 24 * HOUR_MS,
            failed_ms: 7 * 24 * HOUR_MS,
        }
    }
}

impl Retention {
    /// When a job that enters `state` at `now` expires: never while it waits or runs.
    pub(super) fn expire_at(self, state: JobState, now: i64) -> Option<i64> {
        match state {
            JobState::Succeeded | JobState::Deleted => Some(now.saturating_add(self.finished_ms)),
            JobState::Failed => Some(now.saturating_add(self.failed_ms)),
            _ => None,
        }
    }
}

/// The jobs a move moved, and how many continuations that released to their queues.
#[derive(Debug, Default)]
pub(super) struct Moved {
    pub(super) ids: Vec<i64>,
    pub(super) released: usize,
}

/// The jobs a move applies to: those of `ids`, in the workspace whose rows carry `key`, that
/// are in state `from` (and, with `owner`, leased to it).
#[derive(Clone, Copy)]
pub(super) struct Jobs<'a> {
    pub(super) key: &'a str,
    pub(super) ids: &'a [i64],
    pub(super) from: JobState,
    pub(super) owner: Option<&'a str>,
}

impl<'a> Jobs<'a> {
    /// Those of `ids` in state `from`.
    pub(super) fn of(key: &'a str, ids: &'a [i64], from: JobState) -> Self {
        Jobs {
            key,
            ids,
            from,
            owner: None,
        }
    }

    /// Those of `ids` that `server` runs.
    pub(super) fn run_by(key: &'a str, ids: &'a [i64], server: &'a str) -> Self {
        Jobs {
            owner: Some(server),
            ..Jobs::of(key, ids, JobState::Processing)
        }
    }
}

/// Applies `change` at `now` to `jobs`. The moved jobs expire as `retention` says for their
/// new state (a job that goes back to waiting no longer expires), and a move into a final
/// state releases their continuations.
pub(super) async fn apply(
    db: &impl ConnectionTrait,
    jobs: Jobs<'_>,
    change: Move,
    now: i64,
    retention: Retention,
) -> StorageResult<Moved> {
    let Jobs {
        key,
        ids,
        from,
        owner,
    } = jobs;
    let state = change.state;
    let change = change.set(job::Column::ExpireAt, retention.expire_at(state, now));
    let mut update = Query::update();
    update
        .table(job::Entity)
        .values(change.assignments(now))
        .and_where(Expr::col(job::Column::Workspace).eq(key))
        .and_where(Expr::col(job::Column::Id).is_in(ids.iter().copied()))
        .and_where(states::is(from));
    if let Some(owner) = owner {
        update.and_where(Expr::col(job::Column::LeaseOwner).eq(owner));
    }
    let ids = history::run_recorded(db, &update).await?;
    let released = match state.is_final() && !ids.is_empty() {
        true => continuations::release(db, key, ids.clone(), state, now, retention).await?,
        false => 0,
    };
    Ok(Moved { ids, released })
}
