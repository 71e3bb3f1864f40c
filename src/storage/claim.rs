//! The claim: enqueued jobs become `processing` under this server's lease, queue by queue in
//! the order the queues are worked, oldest first within a queue. Each queue's share is one
//! statement (`UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING …`), which also appends the
//! history rows (see `history`).
//!
//! A claim starts looking at its queue's [`ClaimFloors`]: the oldest job the queue's last full
//! claim took. PostgreSQL keeps the index entry of every job claimed since the table's last
//! vacuum, and a claim from the start of the queue steps over all of them: a millisecond per
//! hundred thousand, and under steady load autovacuum comes round once a minute. Jobs that come
//! back to the queue older than the floor (a retry, a recovered job, a transaction that
//! committed after newer jobs) are taken by the next claim from the start, which follows any
//! claim that did not fill its batch and comes at least every [`RESCAN_AFTER`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use entities::job;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Order, Query};
use serde_json::json;

use super::moves::Move;
use super::{Storage, StorageError, StorageResult, states};
use crate::state::JobState;

/// The columns of a claimed job the worker needs.
const CLAIMED: [job::Column; 8] = [
    job::Column::Id,
    job::Column::JobType,
    job::Column::Args,
    job::Column::Attempt,
    job::Column::MaxRetries,
    job::Column::RetryDelays,
    job::Column::OnExhausted,
    job::Column::TraceParent,
];

/// How long claims may start at their queue's floor before one looks from the start again.
const RESCAN_AFTER: Duration = Duration::from_millis(250);

/// Where the claims of each queue start looking (see the module's documentation). Clones
/// share their floors; each queue actor keeps its own.
#[derive(Clone, Default)]
pub(crate) struct ClaimFloors(Arc<Mutex<Floors>>);

#[derive(Default)]
struct Floors {
    by_queue: HashMap<String, i64>,
    /// When the oldest floor still kept was set.
    since: Option<Instant>,
}

impl ClaimFloors {
    /// The floors; a panic elsewhere while they were held leaves them usable (each is only a
    /// hint).
    fn lock(&self) -> MutexGuard<'_, Floors> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The id a claim from `queue` starts at, or none to look from the start.
    fn floor(&self, queue: &str) -> Option<i64> {
        let mut floors = self.lock();
        if floors
            .since
            .is_some_and(|since| since.elapsed() >= RESCAN_AFTER)
        {
            *floors = Floors::default();
        }
        floors.by_queue.get(queue).copied()
    }

    /// After a claim from `queue` that took `claimed` (in id order): a full batch moves the
    /// floor to its oldest job, anything less sends the next claim to the start.
    fn record(&self, queue: &str, claimed: &[ClaimedJob], full: bool) {
        let mut floors = self.lock();
        match claimed.first().filter(|_| full) {
            Some(oldest) => {
                floors.by_queue.insert(queue.to_owned(), oldest.id);
                floors.since.get_or_insert_with(Instant::now);
            }
            None => {
                floors.by_queue.remove(queue);
                if floors.by_queue.is_empty() {
                    floors.since = None;
                }
            }
        }
    }
}

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
    /// The queue it was claimed from.
    pub(crate) queue: String,
    /// The run starting now: 1 for the first.
    pub(crate) attempt: i32,
    pub(crate) max_retries: i32,
    pub(crate) retry_delays: Option<String>,
    pub(crate) on_exhausted: String,
    /// The W3C `traceparent` of the span that enqueued it, if any.
    pub(crate) trace_parent: Option<String>,
}

impl Storage {
    /// Claims up to `limit` enqueued jobs of `queues`, leased to `server` until
    /// `lease_until`: from the first queue, oldest first (from its floor), then what is left of
    /// `limit` from the next, so that a queue listed earlier always goes first.
    pub(crate) async fn claim(
        &self,
        queues: &[String],
        limit: usize,
        floors: &ClaimFloors,
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
            let taken = self
                .claim_from(queue, left, floors.floor(queue), &lease)
                .await?;
            floors.record(queue, &taken, taken.len() == left);
            claimed.extend(taken);
        }
        Ok(claimed)
    }

    /// Claims up to `limit` enqueued jobs of `queue`, oldest first from `floor`; returns
    /// them in id order.
    async fn claim_from(
        &self,
        queue: &str,
        limit: usize,
        floor: Option<i64>,
        lease: &Lease<'_>,
    ) -> StorageResult<Vec<ClaimedJob>> {
        let Lease { server, now, until } = *lease;
        let order = self.claim_order();
        let mut oldest = Query::select();
        oldest
            .column(job::Column::Id)
            .from(job::Entity)
            .and_where(Expr::col(job::Column::Workspace).eq(self.key()))
            .and_where(states::is(JobState::Enqueued))
            .and_where(Expr::col(job::Column::Queue).eq(queue));
        if let Some(floor) = floor {
            oldest.and_where(order.clone().gte(floor));
        }
        oldest
            .order_by_expr(order, Order::Asc)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
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
            .and_where(Expr::col(job::Column::Workspace).eq(self.key()))
            .and_where(self.taken_once(oldest, limit))
            .to_owned();
        let rows = self.claiming(&claim, &CLAIMED).await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok(ClaimedJob {
                    id: row.try_get("", "id")?,
                    job_type: row.try_get("", "job_type")?,
                    args: row.try_get("", "args")?,
                    queue: queue.to_owned(),
                    attempt: row.try_get("", "attempt")?,
                    max_retries: row.try_get("", "max_retries")?,
                    retry_delays: row.try_get("", "retry_delays")?,
                    on_exhausted: row.try_get("", "on_exhausted")?,
                    trace_parent: row.try_get("", "trace_parent")?,
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
    use crate::name::WorkspaceName;
    use crate::storage::{Databases, NewJobRow, StorageConfig};

    /// A queue kept busy (every claim takes a full batch) and a job that comes back to it
    /// older than the floor, as a recovered job does: the claims pass over it at first and
    /// take it within the rescan, long before the queue runs dry.
    #[test]
    fn a_job_back_in_a_busy_queue_behind_the_floor_is_claimed_within_the_rescan() {
        let dir = tempfile::tempdir().unwrap();
        let config = match std::env::var("STOKER_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => StorageConfig::postgres(url),
            _ => StorageConfig::sqlite(dir.path()),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (databases, _notices) = Databases::new(config, 4);
            let name = format!("claim_floor_{}", std::process::id());
            let storage = databases
                .open(&WorkspaceName::new(&name).unwrap())
                .await
                .unwrap();
            let queues = ["busy".to_owned()];
            let rows = (0..200).map(|_| NewJobRow::plain("busy", 3)).collect();
            let created = storage.insert_jobs(rows, 1).await.unwrap();
            let ids: Vec<i64> = created.iter().map(|(id, _)| *id).collect();
            let floors = ClaimFloors::default();
            let claim = async |lease_until| {
                let claimed = storage.claim(&queues, 1, &floors, "s", 2, lease_until);
                claimed.await.unwrap()[0].id
            };
            assert_eq!(claim(10).await, ids[0]);
            assert_eq!(claim(1_000).await, ids[1]);
            assert_eq!(storage.recover_abandoned(100, 3).await.unwrap().len(), 1);

            assert_eq!(claim(1_000).await, ids[2], "the claim started at its floor");
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut taken = 3;
            while claim(1_000).await != ids[0] {
                taken += 1;
                assert!(
                    Instant::now() < deadline,
                    "the recovered job was left behind"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert!(taken < ids.len(), "taken only when the queue ran dry");
            databases.close().await;
        });
    }
}
