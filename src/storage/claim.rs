//! The claim: enqueued jobs become `processing` under this server's lease, queue by queue in
//! the order the queues are worked, by priority then oldest first within a queue (the order of
//! the claim's index, which a claim walks without sorting). Each queue's share is one
//! statement (`UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING …`), which also appends the
//! history rows (see `history`).
//!
//! A claim starts looking at its queue's [`ClaimFloors`]: the first job (in claim order) the
//! queue's last full claim took. PostgreSQL keeps the index entry of every job claimed since the table's last
//! vacuum, and a claim from the start of the queue steps over all of them: a millisecond per
//! hundred thousand, and under steady load autovacuum comes round once a minute. Jobs that come
//! back to the queue older than the floor (a retry, a recovered job, a transaction that
//! committed after newer jobs, a job of a lower priority number than the floor's) are taken by
//! the next claim from the start, which follows any claim that did not fill its batch and comes
//! at least every [`RESCAN_AFTER`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use entities::job;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Order, Query, SelectStatement};
use serde_json::json;

use super::moves::Move;
use super::{Storage, StorageError, StorageResult, states};
use crate::state::JobState;

/// The columns of a claimed job the worker needs.
const CLAIMED: [job::Column; 9] = [
    job::Column::Id,
    job::Column::Priority,
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

/// A place in a queue's claim order: a priority, and an id within it.
type Place = (i16, i64);

#[derive(Default)]
struct Floors {
    by_queue: HashMap<String, Place>,
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

    /// The place a claim from `queue` starts at, or none to look from the start.
    fn floor(&self, queue: &str) -> Option<Place> {
        let mut floors = self.lock();
        if floors
            .since
            .is_some_and(|since| since.elapsed() >= RESCAN_AFTER)
        {
            *floors = Floors::default();
        }
        floors.by_queue.get(queue).copied()
    }

    /// After a claim from `queue` that took `claimed` (in claim order): a full batch moves the
    /// floor to its first job, anything less sends the next claim to the start.
    fn record(&self, queue: &str, claimed: &[ClaimedJob], full: bool) {
        let mut floors = self.lock();
        match claimed.first().filter(|_| full) {
            Some(oldest) => {
                floors
                    .by_queue
                    .insert(queue.to_owned(), (oldest.priority, oldest.id));
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
    /// Where it stood in its queue: lower started first.
    pub(crate) priority: i16,
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
    /// `lease_until`: from the first queue, in claim order (from its floor), then what is left of
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

    /// Claims up to `limit` enqueued jobs of `queue`, in claim order from `floor`; returns
    /// them in that order.
    async fn claim_from(
        &self,
        queue: &str,
        limit: usize,
        floor: Option<Place>,
        lease: &Lease<'_>,
    ) -> StorageResult<Vec<ClaimedJob>> {
        let Lease { server, now, until } = *lease;
        let first = claimable(self.key(), queue, floor, self.claim_order());
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
            .and_where(self.taken_once(first, limit))
            .to_owned();
        let rows = self.claiming(&claim, &CLAIMED).await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok(ClaimedJob {
                    id: row.try_get("", "id")?,
                    priority: row.try_get("", "priority")?,
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
        claimed.sort_unstable_by_key(|job| (job.priority, job.id));
        Ok(claimed)
    }
}

/// The enqueued jobs of `queue` in the workspace whose rows carry `key`, in claim order
/// (`order` within a priority) from `floor`, locked as they are read, skipping those others
/// lock.
fn claimable(key: &str, queue: &str, floor: Option<Place>, order: Expr) -> SelectStatement {
    let mut claimable = Query::select();
    claimable
        .column(job::Column::Id)
        .from(job::Entity)
        .and_where(Expr::col(job::Column::Workspace).eq(key))
        .and_where(states::is(JobState::Enqueued))
        .and_where(Expr::col(job::Column::Queue).eq(queue));
    if let Some((priority, id)) = floor {
        let place = Expr::tuple([Expr::col(job::Column::Priority), order.clone()]);
        claimable.and_where(place.gte(Expr::tuple([priority.into(), id.into()])));
    }
    claimable
        .order_by(job::Column::Priority, Order::Asc)
        .order_by_expr(order, Order::Asc)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::WorkspaceName;
    use crate::storage::{Databases, NewJobRow, StorageConfig};

    /// SQLite walks the claim's index from a floor in claim order, priorities and all: no
    /// sort of the backlog.
    #[tokio::test]
    async fn a_claim_from_a_floor_walks_the_index_in_priority_order_without_sorting() {
        let first = claimable("", "default", Some((3, 5_000)), Expr::col(job::Column::Id));
        let (sql, steps) = crate::storage::query_plans::sqlite_plan(&first).await;
        let walk = "INDEX jobs_enqueued (workspace=? AND queue=? AND priority";
        assert!(
            steps.iter().any(|step| step.contains(walk)),
            "{sql}: {steps:?}"
        );
        assert!(
            !steps.iter().any(|s| s.contains("B-TREE")),
            "{sql}: {steps:?}"
        );
    }

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
            let ids: Vec<i64> = created.iter().map(|job| job.id).collect();
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
