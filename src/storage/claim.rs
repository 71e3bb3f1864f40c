//! The claim: enqueued jobs become `processing` under this server's lease, queue by queue in
//! the order the queues are worked, oldest first within a queue. Each queue's share is one
//! statement (`UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING …`), which also appends the
//! history rows (see `history`).

use entities::job;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Order, Query};
use serde_json::json;

use super::moves::Move;
use super::{Storage, StorageError, StorageResult};
use crate::state::JobState;

/// `'enqueued'` as an SQL literal (see [`JobState::Enqueued`]).
const ENQUEUED_LITERAL: &str = "'enqueued'";

/// The columns of a claimed job the worker needs.
const CLAIMED: [job::Column; 7] = [
    job::Column::Id,
    job::Column::JobType,
    job::Column::Args,
    job::Column::Attempt,
    job::Column::MaxRetries,
    job::Column::RetryDelays,
    job::Column::OnExhausted,
];

/// Who claims, when, and until when the claim holds.
#[derive(Clone, Copy)]
struct Lease<'a> {
    server: &'a str,
    now: i64,
    until: i64,
}

/// A job this server now runs.
#[derive(Clone, Debug)]
pub(crate) struct ClaimedJob {
    pub(crate) id: i64,
    pub(crate) job_type: String,
    pub(crate) args: String,
    /// The run starting now: 1 for the first.
    pub(crate) attempt: i32,
    pub(crate) max_retries: i32,
    pub(crate) retry_delays: Option<String>,
    pub(crate) on_exhausted: String,
}

/// Oldest first. On PostgreSQL as `id + 0`, the order of the claim's own index
/// (`jobs_enqueued_fifo`), which the primary key cannot give: a planner misled by
/// statistics from before a burst cannot walk the primary key past every finished job.
/// The `0` is a literal: `id + $1` is not the index's expression, and the planner would
/// sort every enqueued job on each claim.
fn claim_order(postgres: bool) -> Expr {
    if postgres {
        Expr::cust(r#""id" + 0"#)
    } else {
        Expr::col(job::Column::Id)
    }
}

impl Storage {
    /// Claims up to `limit` enqueued jobs of `queues`, leased to `server` until
    /// `lease_until`: from the first queue, oldest first, then what is left of `limit` from
    /// the next, so that a queue listed earlier always goes first.
    pub(crate) async fn claim(
        &self,
        queues: &[String],
        limit: usize,
        server: &str,
        now: i64,
        lease_until: i64,
    ) -> StorageResult<Vec<ClaimedJob>> {
        let lease = Lease {
            server,
            now,
            until: lease_until,
        };
        let mut claimed = Vec::new();
        for queue in queues {
            let left = limit - claimed.len();
            if left == 0 {
                break;
            }
            claimed.extend(self.claim_from(queue, left, &lease).await?);
        }
        Ok(claimed)
    }

    /// Claims up to `limit` enqueued jobs of `queue`, oldest first.
    async fn claim_from(
        &self,
        queue: &str,
        limit: usize,
        lease: &Lease<'_>,
    ) -> StorageResult<Vec<ClaimedJob>> {
        let Lease { server, now, until } = *lease;
        let oldest = Query::select()
            .column(job::Column::Id)
            .from(job::Entity)
            // A literal, not a parameter: the planner proves the partial index's `WHERE` from it.
            .and_where(Expr::col(job::Column::State).eq(Expr::cust(ENQUEUED_LITERAL)))
            .and_where(Expr::col(job::Column::Queue).eq(queue))
            .order_by_expr(claim_order(self.is_postgres()), Order::Asc)
            .limit(limit as u64)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let claim = Query::update()
            .table(job::Entity)
            .values(
                Move::to(JobState::Processing)
                    .data(json!({ "server": server }))
                    .set(job::Column::Attempt, Expr::col(job::Column::Attempt).add(1))
                    .set(job::Column::LeaseOwner, server)
                    .set(job::Column::LeaseUntil, until)
                    .assignments(now),
            )
            .and_where(Expr::col(job::Column::Id).in_subquery(oldest))
            .to_owned();
        let rows = self.claiming(&claim, &CLAIMED).await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok(ClaimedJob {
                    id: row.try_get("", "id")?,
                    job_type: row.try_get("", "job_type")?,
                    args: row.try_get("", "args")?,
                    attempt: row.try_get("", "attempt")?,
                    max_retries: row.try_get("", "max_retries")?,
                    retry_delays: row.try_get("", "retry_delays")?,
                    on_exhausted: row.try_get("", "on_exhausted")?,
                })
            })
            .collect::<Result<Vec<_>, sea_orm::DbErr>>()
            .map_err(StorageError::from)?;
        claimed.sort_unstable_by_key(|job| job.id);
        Ok(claimed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_literal_names_the_enqueued_state() {
        let quoted = format!("'{}'", JobState::Enqueued.as_str());
        assert_eq!(ENQUEUED_LITERAL, quoted);
    }

    #[test]
    fn the_postgresql_claim_orders_by_its_index_expression_without_a_parameter() {
        use sea_orm::sea_query::PostgresQueryBuilder;
        let (sql, values) = Query::select()
            .expr(claim_order(true))
            .build(PostgresQueryBuilder);
        assert!(sql.ends_with(r#""id" + 0"#), "{sql}");
        assert!(values.0.is_empty(), "bound: {values:?}");
    }
}
