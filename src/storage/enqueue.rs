//! Creating jobs: many rows per statement, all of a batch in one transaction; each statement
//! appends its jobs' first history rows (see [`history`]). Only the columns that vary are
//! bound; the rest take their defaults (no attempt yet, no lease). A continuation whose
//! parent is already final is released in the same transaction; one whose parent is still
//! queued announces the parent again (see [`insert`]).

use std::collections::{BTreeSet, HashMap};

use entities::job;
use sea_orm::sea_query::{Query, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::unique::{self, UniqueRow};
use super::{Retention, Storage, StorageError, StorageResult, continuations, history};
use crate::state::{ContinueOn, JobState};

/// How long a continuation waits for its parent before it expires (Hangfire: a year).
const AWAITING_EXPIRY_MS: i64 = 365 * 24 * 3600 * 1000;

/// Rows per `INSERT`, well under SQLite's and PostgreSQL's bound-parameter limits.
const ROWS_PER_STATEMENT: usize = 1000;

/// A checked job, ready to be stored.
#[derive(Clone, Debug)]
pub(crate) struct NewJobRow {
    pub(crate) job_type: String,
    pub(crate) queue: String,
    pub(crate) args: String,
    pub(crate) max_retries: i32,
    pub(crate) retry_delays: Option<String>,
    pub(crate) on_exhausted: JobState,
    /// `Some` for a job that waits until then (`scheduled`).
    pub(crate) run_at: Option<i64>,
    /// `Some` for a continuation (`awaiting`): its parent and what it waits for.
    pub(crate) parent: Option<(i64, ContinueOn)>,
    /// Why it was created, when not by a plain enqueue (a recurring job, say).
    pub(crate) reason: Option<String>,
    /// Details for its first history row, as JSON.
    pub(crate) data: Option<serde_json::Value>,
    /// The W3C `traceparent` of the span that enqueued it, if it was in a trace.
    pub(crate) trace_parent: Option<String>,
    /// Within its queue, lower starts first (0..9).
    pub(crate) priority: i16,
    /// Its unique key, if it has one.
    pub(crate) unique: Option<UniqueRow>,
}

/// A job an enqueue asked for: the one it created, or for a duplicate the one that holds its
/// unique key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Created {
    pub(crate) id: i64,
    pub(crate) state: JobState,
    pub(crate) duplicate: bool,
}

/// The columns an enqueue sets, in the order of [`NewJobRow::values`].
const COLUMNS: [job::Column; 20] = [
    job::Column::Workspace,
    job::Column::JobType,
    job::Column::Queue,
    job::Column::State,
    job::Column::Args,
    job::Column::MaxRetries,
    job::Column::RetryDelays,
    job::Column::OnExhausted,
    job::Column::RunAt,
    job::Column::CreatedAt,
    job::Column::StateAt,
    job::Column::ParentId,
    job::Column::ContinueOn,
    job::Column::Reason,
    job::Column::Data,
    job::Column::ExpireAt,
    job::Column::TraceParent,
    job::Column::Priority,
    job::Column::UniqueKey,
    job::Column::UniqueScope,
];

/// The leading [`COLUMNS`] every job sets; the others are flow control's, whose defaults
/// (priority 0, no unique key) the table gives.
const PLAIN_COLUMNS: usize = 17;

/// How many times an enqueue goes back to a unique key whose holder left its scope between the
/// insert that saw it and the read that looked for it, before it gives up.
const UNIQUE_ROUNDS: usize = 8;

impl NewJobRow {
    /// A job of type `test` in `queue`, without arguments, to run now: the row the storage
    /// tests start from.
    #[cfg(test)]
    pub(crate) fn plain(queue: &str, max_retries: i32) -> Self {
        NewJobRow {
            job_type: "test".into(),
            queue: queue.into(),
            args: "{}".into(),
            max_retries,
            retry_delays: None,
            on_exhausted: JobState::Failed,
            run_at: None,
            parent: None,
            reason: None,
            data: None,
            trace_parent: None,
            priority: 0,
            unique: None,
        }
    }

    fn state(&self) -> JobState {
        match (self.parent, self.run_at) {
            (Some(_), _) => JobState::Awaiting,
            (None, Some(_)) => JobState::Scheduled,
            (None, None) => JobState::Enqueued,
        }
    }

    /// The row's values for the workspace whose rows carry `key`.
    fn values(&self, key: &str, now: i64) -> [SimpleExpr; 20] {
        let state = self.state();
        let expire_at = (state == JobState::Awaiting).then_some(now + AWAITING_EXPIRY_MS);
        [
            key.into(),
            self.job_type.as_str().into(),
            self.queue.as_str().into(),
            state.as_str().into(),
            self.args.as_str().into(),
            self.max_retries.into(),
            self.retry_delays.clone().into(),
            self.on_exhausted.as_str().into(),
            self.run_at.into(),
            now.into(),
            now.into(),
            self.parent.map(|(parent, _)| parent).into(),
            self.parent.map(|(_, on)| on.as_str()).into(),
            self.reason.clone().into(),
            self.data.as_ref().map(|data| data.to_string()).into(),
            expire_at.into(),
            self.trace_parent.clone().into(),
            self.priority.into(),
            self.unique.as_ref().map(|unique| unique.key.clone()).into(),
            self.unique
                .as_ref()
                .map(|unique| unique.scope.as_str())
                .into(),
        ]
    }
}

impl Storage {
    /// Stores `jobs` in one transaction and answers each, in order (see [`insert`]).
    pub(crate) async fn insert_jobs(
        &self,
        jobs: Vec<NewJobRow>,
        now: i64,
    ) -> StorageResult<Vec<Created>> {
        let retention = self.retention;
        self.durably(async |txn| insert(txn, self.key(), jobs, now, retention).await)
            .await
    }
}

/// Stores `jobs` in the workspace whose rows carry `key` (within the caller's transaction)
/// and answers each, in order: created, or a duplicate of the job that holds its unique key.
/// Continuations of parents that ended already are released at once (those deleted expiring
/// as `retention` says).
pub(super) async fn insert(
    txn: &impl ConnectionTrait,
    key: &str,
    jobs: Vec<NewJobRow>,
    now: i64,
    retention: Retention,
) -> StorageResult<Vec<Created>> {
    let parents: BTreeSet<i64> = jobs
        .iter()
        .filter_map(|job| job.parent)
        .map(|(id, _)| id)
        .collect();
    // The parents stay locked until this transaction ends: a parent finishing meanwhile waits,
    // and then finds the new continuations to release (without the lock, on PostgreSQL, a
    // parent could finish between this read and the commit and leave them waiting forever).
    let parent_states = states_of(txn, key, parents.iter().copied(), Lock::Share).await?;
    if let Some(missing) = parents.iter().find(|id| !parent_states.contains_key(id)) {
        return Err(StorageError::MissingParent(*missing));
    }
    // A claim passes over rows that others lock (`SKIP LOCKED`): one that ran while this
    // transaction held an enqueued parent took nothing of it, and nothing else might ever
    // tell the queue again. So the commit announces the parents' workspace once more.
    #[cfg(feature = "postgres")]
    if parent_states
        .values()
        .any(|state| *state == JobState::Enqueued)
    {
        super::postgres::announce_enqueued(txn, key).await?;
    }
    let mut created = Vec::with_capacity(jobs.len());
    for chunk in jobs.chunks(ROWS_PER_STATEMENT) {
        created.extend(insert_chunk(txn, key, chunk, now).await?);
    }
    let final_parents: Vec<_> = parent_states
        .into_iter()
        .filter(|(_, state)| state.is_final())
        .collect();
    if !final_parents.is_empty() {
        for (parent, state) in final_parents {
            continuations::release(txn, key, vec![parent], state, now, retention).await?;
        }
        let awaiting = created
            .iter()
            .filter(|job| job.state == JobState::Awaiting && !job.duplicate);
        let states = states_of(txn, key, awaiting.map(|job| job.id), Lock::None).await?;
        for job in created.iter_mut().filter(|job| !job.duplicate) {
            job.state = states.get(&job.id).copied().unwrap_or(job.state);
        }
    }
    Ok(created)
}

/// Stores `rows` (a statement's worth) and answers each. A row whose unique key is held is
/// answered with its holder; one whose holder left the scope before it could be named is
/// tried again. Only the first row of each key is sent: the database would turn the others
/// away one failed insertion at a time (on PostgreSQL, a speculative insertion undone each).
async fn insert_chunk(
    txn: &impl ConnectionTrait,
    key: &str,
    rows: &[NewJobRow],
    now: i64,
) -> StorageResult<Vec<Created>> {
    let mut answers: Vec<Option<Created>> = vec![None; rows.len()];
    let (mut pending, followers) =
        unique::first_of_each_key(rows.iter().map(|row| row.unique.as_ref()));
    for _ in 0..UNIQUE_ROUNDS {
        let keys = pending.iter().map(|&i| rows[i].unique.as_ref());
        let taken = unique::take_periods(txn, key, keys, now).await?;
        let sent: Vec<usize> = pending
            .iter()
            .zip(taken)
            .filter(|(_, t)| *t)
            .map(|(&i, _)| i)
            .collect();
        let written = write_rows(txn, key, sent.iter().map(|&i| &rows[i]), now).await?;
        for (&i, id) in sent.iter().zip(written) {
            answers[i] = id.map(|id| Created {
                id,
                state: rows[i].state(),
                duplicate: false,
            });
        }
        let holders = sent
            .iter()
            .filter_map(|&i| Some((rows[i].unique.as_ref()?, answers[i]?.id)));
        unique::record_period_holders(txn, key, holders).await?;
        pending.retain(|&i| answers[i].is_none());
        if pending.is_empty() {
            break;
        }
        let wanted: Vec<&UniqueRow> = pending
            .iter()
            .filter_map(|&i| rows[i].unique.as_ref())
            .collect();
        let holders = unique::holders(txn, key, &wanted).await?;
        let states = states_of(txn, key, holders.values().copied(), Lock::None).await?;
        for &i in &pending {
            let row = rows[i]
                .unique
                .as_ref()
                .expect("only a unique row is turned away");
            answers[i] = unique::holder_of(&holders, row).map(|id| Created {
                id,
                // A period's holder may have expired since; it is gone as if deleted.
                state: states.get(&id).copied().unwrap_or(JobState::Deleted),
                duplicate: true,
            });
        }
        pending.retain(|&i| answers[i].is_none());
        if pending.is_empty() {
            break;
        }
    }
    if !pending.is_empty() {
        return Err(StorageError::Contended(format!(
            "the unique keys of {} jobs changed hands {UNIQUE_ROUNDS} times during one enqueue",
            pending.len()
        )));
    }
    // A later row of a key sent in this chunk has the answer of the first, as a duplicate.
    for (follower, first) in followers {
        answers[follower] = answers[first].map(|first| Created {
            duplicate: true,
            ..first
        });
    }
    Ok(answers.into_iter().flatten().collect())
}

/// Inserts `rows` in one statement; returns each one's id, in order, or none for a row the
/// unique index turned away.
async fn write_rows<'a>(
    txn: &impl ConnectionTrait,
    key: &str,
    rows: impl Iterator<Item = &'a NewJobRow>,
    now: i64,
) -> StorageResult<Vec<Option<i64>>> {
    let rows: Vec<&NewJobRow> = rows.collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // Rows that all take the defaults of flow control leave its columns out: fewer values to
    // bind on the common path.
    let flow = rows
        .iter()
        .any(|row| row.priority != 0 || row.unique.is_some());
    let columns = if flow { COLUMNS.len() } else { PLAIN_COLUMNS };
    let mut insert = Query::insert();
    insert
        .into_table(job::Entity)
        .columns(COLUMNS.into_iter().take(columns));
    for row in &rows {
        insert.values_panic(row.values(key, now).into_iter().take(columns));
    }
    let by_index = |row: &&NewJobRow| row.unique.as_ref().is_some_and(UniqueRow::by_index);
    if !rows.iter().any(by_index) {
        let mut ids = history::run_recorded(txn, &insert).await?;
        // One statement assigns ascending ids in the order of its rows.
        ids.sort_unstable();
        return Ok(ids.into_iter().map(Some).collect());
    }
    insert.on_conflict(unique::turned_away_by_index());
    let returned = [
        job::Column::Id,
        job::Column::UniqueScope,
        job::Column::UniqueKey,
    ];
    let mut written = history::run_recorded_rows(txn, &insert, &returned)
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get("", "id")?,
                row.try_get("", "unique_scope")?,
                row.try_get("", "unique_key")?,
            ))
        })
        .collect::<Result<Vec<_>, sea_orm::DbErr>>()?;
    written.sort_unstable_by_key(|(id, _, _)| *id);
    let sent: Vec<_> = rows
        .iter()
        .map(|row| unique::sent_name(row.unique.as_ref()))
        .collect();
    Ok(unique::match_written(&sent, &written))
}

/// Whether reading jobs' states locks them against changes until the transaction ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lock {
    None,
    /// `FOR SHARE`, in id order (SQLite, with its single writer, needs and has no such lock).
    Share,
}

/// The states of the jobs `ids` that exist in the workspace whose rows carry `key`.
async fn states_of(
    db: &impl ConnectionTrait,
    key: &str,
    ids: impl Iterator<Item = i64>,
    lock: Lock,
) -> StorageResult<HashMap<i64, JobState>> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    let mut states = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut query = job::Entity::find()
            .select_only()
            .columns([job::Column::Id, job::Column::State])
            .filter(job::Column::Workspace.eq(key))
            .filter(job::Column::Id.is_in(chunk.iter().copied()))
            .order_by_asc(job::Column::Id);
        if lock == Lock::Share {
            query = query.lock_shared();
        }
        let rows: Vec<(i64, String)> = query.into_tuple().all(db).await?;
        for (id, state) in rows {
            let state = state
                .parse()
                .map_err(|error| StorageError::Corrupt(format!("job {id}: {error}")))?;
            states.insert(id, state);
        }
    }
    Ok(states)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;

    use super::*;
    use crate::name::WorkspaceName;
    use crate::storage::{ClaimFloors, Databases, Notice, StorageConfig};

    fn job(parent: Option<i64>) -> NewJobRow {
        NewJobRow {
            parent: parent.map(|id| (id, ContinueOn::Succeeded)),
            ..NewJobRow::plain("default", 0)
        }
    }

    /// The next thing the listener hears of workspace `name` (other tests' workspaces share
    /// the database), within a deadline.
    async fn heard(
        notices: &mut (impl StreamExt<Item = Notice> + Unpin),
        name: &str,
    ) -> Option<Notice> {
        let of_name = async {
            loop {
                match notices.next().await {
                    Some(Notice::Enqueued(other)) if other != name => continue,
                    notice => return notice,
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), of_name)
            .await
            .ok()
            .flatten()
    }

    /// On PostgreSQL a claim skips the rows other transactions lock, and adding a
    /// continuation locks its parent: a claim at that moment leaves the parent queued, and
    /// the queue must hear of it again once the continuation is stored.
    #[test]
    #[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
    fn a_queued_parent_a_claim_passed_over_while_its_continuation_was_added_is_announced_again() {
        // SQLite claims skip nothing (one writer).
        let url = std::env::var("STOKER_TEST_DATABASE_URL").expect("the PostgreSQL pass");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (databases, mut notices) = Databases::new(StorageConfig::postgres(url), 4);
            let name = format!("passed_over_{}", std::process::id());
            let storage = databases
                .open(&WorkspaceName::new(&name).unwrap())
                .await
                .unwrap();
            let listening = Some(Notice::Reconnected(None));
            assert_eq!(heard(&mut notices, &name).await, listening);
            let parent = storage.insert_jobs(vec![job(None)], 1).await.unwrap()[0].id;
            assert_eq!(
                heard(&mut notices, &name).await,
                Some(Notice::Enqueued(name.clone()))
            );

            let (queues, floors) = (["default".to_owned()], ClaimFloors::default());
            let adding = storage.write().await.unwrap();
            let key = storage.key();
            insert(
                &adding,
                key,
                vec![job(Some(parent))],
                2,
                Retention::default(),
            )
            .await
            .unwrap();
            let claimed = storage
                .claim(&queues, 10, &floors, "server", 3, 1000)
                .await
                .unwrap();
            assert!(
                claimed.is_empty(),
                "the claim passed over the locked parent"
            );
            adding.commit().await.unwrap();

            assert_eq!(
                heard(&mut notices, &name).await,
                Some(Notice::Enqueued(name.clone()))
            );
            let claimed = storage
                .claim(&queues, 10, &floors, "server", 4, 1000)
                .await
                .unwrap();
            assert_eq!(
                claimed.iter().map(|job| job.id).collect::<Vec<_>>(),
                [parent]
            );
            databases.close().await;
        });
    }
}
