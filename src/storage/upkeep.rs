//! A server's rounds in a store of one workspace's own, or once for every workspace of a
//! shared store (see [`Scope`]): the janitor's upkeep round — for the one server holding the
//! upkeep lease, expiry of finished jobs and dropping silent servers; for every server, its
//! heartbeat (which renews the leases of the jobs it runs) and recovery of jobs whose server
//! died — in one transaction; and leaving at shutdown, in another. Every statement a round
//! saves is saved in each of the many idle workspaces a server keeps.

use entities::{counter, job, job_history, lock, server, unique_period};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait,
};

use super::moves::{self, Move, Retention};
use super::scope::STORE_KEY;
use super::{Scope, Storage, StorageResult, counters, due, history, leases, states};
use crate::state::JobState;

/// The lease whose holder does the upkeep only one server should do.
const UPKEEP_LEASE: &str = "stoker:janitor";

/// Jobs removed per expiry statement.
const EXPIRE_BATCH: usize = 1000;

/// How a server announces itself.
#[derive(Clone, Debug)]
pub(crate) struct ServerRow {
    pub(crate) id: String,
    pub(crate) workers: i32,
    pub(crate) queues: Vec<String>,
    pub(crate) started_at: i64,
}

/// One round of a server's upkeep, as of `now`.
pub(crate) struct Round<'a> {
    pub(crate) server: &'a ServerRow,
    pub(crate) now: i64,
    /// Until when the jobs the server runs (and the upkeep lease) are held.
    pub(crate) lease_until: i64,
    /// Servers silent since before this instant are dropped from the list.
    pub(crate) silent_before: i64,
}

/// What a round of upkeep did.
#[derive(Debug, Default)]
pub(crate) struct Upkept {
    /// The key of the workspace of each abandoned job put back (or exhausted).
    pub(crate) recovered: Vec<String>,
    /// Silent servers dropped from the list.
    pub(crate) dropped: Vec<String>,
    /// Expiry stopped at its batch limit: more jobs may have expired (see [`Storage::expire`]).
    pub(crate) more_to_expire: bool,
}

/// A job found `processing` with nobody left to finish it.
struct Abandoned {
    workspace: String,
    id: i64,
    attempt: i32,
    max_retries: i32,
    on_exhausted: String,
    owner: Option<String>,
}

impl Abandoned {
    /// The lost run counts as an attempt: with none left the job is exhausted.
    fn next_state(&self) -> JobState {
        if self.attempt > self.max_retries {
            self.on_exhausted.parse().unwrap_or(JobState::Failed)
        } else {
            JobState::Enqueued
        }
    }
}

impl Storage {
    /// One round of upkeep in one transaction, over the rows of [`Storage::scope`]. Expiry and
    /// pruning come first, if this server is the one that does them (alone with its storage,
    /// or holding the upkeep lease); then the heartbeat, then recovery. The heartbeat locks
    /// the rows of the server's running jobs until the round commits, so it comes late: the
    /// completer finishing those jobs waits for the recovery only, not for an expiry batch
    /// too. It comes before recovery so that a server whose last rounds failed renews its own
    /// leases before it looks for lapsed ones.
    pub(crate) async fn upkeep(&self, round: &Round<'_>) -> StorageResult<Upkept> {
        let Round { server, now, .. } = *round;
        let (txn, key, scope) = (self.write().await?, self.key(), self.scope());
        let mut done = Upkept::default();
        let sole = self.is_exclusive()
            || leases::take(&txn, key, UPKEEP_LEASE, &server.id, now, round.lease_until).await?;
        if sole {
            done.more_to_expire = expire(&txn, scope, now).await? == EXPIRE_BATCH;
            done.dropped = prune_silent(&txn, key, round.silent_before, &server.id).await?;
        }
        heartbeat(&txn, scope, server, now, round.lease_until).await?;
        done.recovered = recover(&txn, scope, now, now, &|key| self.retention_for(key)).await?;
        txn.commit().await?;
        Ok(done)
    }

    /// Removes the next batch of jobs whose expiry passed at `now` (after an upkeep round
    /// that stopped at its limit); true when this one did too.
    pub(crate) async fn expire(&self, now: i64) -> StorageResult<bool> {
        let txn = self.write().await?;
        let expired = expire(&txn, self.scope(), now).await?;
        txn.commit().await?;
        Ok(expired == EXPIRE_BATCH)
    }

    /// Recovers `processing` jobs whose lease ends before `cutoff` (see [`recover`]); returns
    /// the key of each one's workspace.
    pub(crate) async fn recover_abandoned(
        &self,
        cutoff: i64,
        now: i64,
    ) -> StorageResult<Vec<String>> {
        let txn = self.write().await?;
        let retention_of = |key: &str| self.retention_for(key);
        let recovered = recover(&txn, self.scope(), cutoff, now, &retention_of).await?;
        txn.commit().await?;
        Ok(recovered)
    }

    /// Takes `server` out of the workspace at shutdown, in one transaction: gives back the
    /// jobs it still runs (their attempt not counted) and the leases it holds (so another
    /// server takes them over at once). In a store of its own it also forgets the server's
    /// row and tells when the workspace next has something to do by itself (see
    /// [`due::wake_at`]); a shared store's housekeeping covers its released workspaces, and
    /// its server rows are the store's (see [`Storage::leave_store`]). Returns how many jobs
    /// went back, and that instant.
    pub(crate) async fn leave(
        &self,
        server: &str,
        queues: &[String],
        now: i64,
    ) -> StorageResult<(usize, Option<i64>)> {
        let (txn, key) = (self.write().await?, self.key());
        let released = release_owned(&txn, key, server, now).await?;
        let wake_at = match self.in_shared_store() {
            true => {
                forget_leases(&txn, key, server).await?;
                None
            }
            false => {
                forget_server(&txn, key, server).await?;
                due::wake_at(&txn, key, queues, now, self.is_exclusive()).await?
            }
        };
        txn.commit().await?;
        Ok((released, wake_at))
    }

    /// Takes `server` out of a shared store at shutdown, once its workspaces have left: forgets
    /// its row and the store's leases it holds.
    pub(crate) async fn leave_store(&self, server: &str) -> StorageResult<()> {
        let txn = self.write().await?;
        forget_server(&txn, self.key(), server).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// Forgets `server`'s row and the leases it holds among the rows that carry `key`.
async fn forget_server(db: &impl ConnectionTrait, key: &str, server: &str) -> StorageResult<()> {
    server::Entity::delete_by_id((key.to_owned(), server.to_owned()))
        .exec(db)
        .await?;
    forget_leases(db, key, server).await
}

/// Gives up the leases `server` holds among the rows that carry `key`.
async fn forget_leases(db: &impl ConnectionTrait, key: &str, server: &str) -> StorageResult<()> {
    lock::Entity::delete_many()
        .filter(lock::Column::Workspace.eq(key))
        .filter(lock::Column::Owner.eq(server))
        .exec(db)
        .await?;
    Ok(())
}

/// Records `server`'s heartbeat at `now` among the rows of `scope` (a store's own rows carry
/// [`STORE_KEY`]) and extends the leases of the jobs it runs there.
pub(crate) async fn heartbeat(
    db: &impl ConnectionTrait,
    scope: Scope<'_>,
    server: &ServerRow,
    now: i64,
    lease_until: i64,
) -> StorageResult<()> {
    let row = server::ActiveModel {
        workspace: Set(scope.key().unwrap_or(STORE_KEY).to_owned()),
        id: Set(server.id.clone()),
        workers: Set(server.workers),
        queues: Set(server.queues.join(",")),
        started_at: Set(server.started_at),
        heartbeat_at: Set(now),
    };
    server::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([server::Column::Workspace, server::Column::Id])
                .update_column(server::Column::HeartbeatAt)
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    // Rows locked meanwhile are being finished (by this server's completer): skipping
    // them, rather than waiting, keeps the two from deadlocking on PostgreSQL. Job ids are
    // one sequence per store, so the id alone names the row.
    let running = Query::select()
        .column(job::Column::Id)
        .from(job::Entity)
        .and_where_option(scope.only(job::Column::Workspace))
        .and_where(states::is(JobState::Processing))
        .and_where(Expr::col(job::Column::LeaseOwner).eq(server.id.as_str()))
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .to_owned();
    let renew = Query::update()
        .table(job::Entity)
        .value(job::Column::LeaseUntil, lease_until)
        .and_where_option(scope.only(job::Column::Workspace))
        .and_where(Expr::col(job::Column::Id).in_subquery(running))
        .to_owned();
    db.execute(&renew).await?;
    Ok(())
}

/// Recovers the `processing` jobs of `scope` whose lease ends before `cutoff`: back to
/// `enqueued`, or to their exhausted state when the lost run was their last (expiring as
/// `retention_of` their workspace says). Returns the key of each one's workspace.
pub(crate) async fn recover(
    db: &impl ConnectionTrait,
    scope: Scope<'_>,
    cutoff: i64,
    now: i64,
    retention_of: &(dyn Fn(&str) -> Retention + Sync),
) -> StorageResult<Vec<String>> {
    let abandoned: Vec<Abandoned> = job::Entity::find()
        .select_only()
        .columns([
            job::Column::Workspace,
            job::Column::Id,
            job::Column::Attempt,
            job::Column::MaxRetries,
            job::Column::OnExhausted,
            job::Column::LeaseOwner,
        ])
        .apply_if(scope.key(), |find, key| {
            find.filter(job::Column::Workspace.eq(key))
        })
        .filter(states::is(JobState::Processing))
        .filter(job::Column::LeaseUntil.lt(cutoff))
        .into_tuple::<(String, i64, i32, i32, String, Option<String>)>()
        .all(db)
        .await?
        .into_iter()
        .map(
            |(workspace, id, attempt, max_retries, on_exhausted, owner)| Abandoned {
                workspace,
                id,
                attempt,
                max_retries,
                on_exhausted,
                owner,
            },
        )
        .collect();
    let mut recovered = Vec::new();
    let mut failed = std::collections::BTreeMap::<&str, i64>::new();
    for job in &abandoned {
        let key = job.workspace.as_str();
        let state = job.next_state();
        let owner = job.owner.as_deref().unwrap_or("unknown");
        let reason = format!(
            "abandoned: server {owner} stopped during attempt {}",
            job.attempt
        );
        let change = Move::to(state).reason(reason);
        let running = moves::Jobs {
            owner: job.owner.as_deref(),
            ..moves::Jobs::of(key, std::slice::from_ref(&job.id), JobState::Processing)
        };
        let retention = retention_of(key);
        if !moves::apply(db, running, change, now, retention)
            .await?
            .ids
            .is_empty()
        {
            recovered.push(job.workspace.clone());
            *failed.entry(key).or_default() += i64::from(state == JobState::Failed);
        }
    }
    for (key, failed) in failed {
        counters::add(db, key, JobState::Failed, failed, now).await?;
    }
    Ok(recovered)
}

/// Puts the jobs `server` still runs back in their queues, their attempt not counted: the
/// server is shutting down and gave them up.
async fn release_owned(
    db: &impl ConnectionTrait,
    key: &str,
    server: &str,
    now: i64,
) -> StorageResult<usize> {
    let release = Move::to(JobState::Enqueued)
        .reason("server shut down before the job finished")
        .set(job::Column::Attempt, Expr::col(job::Column::Attempt).sub(1));
    let release = Query::update()
        .table(job::Entity)
        .values(release.assignments(now))
        .and_where(Expr::col(job::Column::Workspace).eq(key))
        .and_where(states::is(JobState::Processing))
        .and_where(Expr::col(job::Column::LeaseOwner).eq(server))
        .to_owned();
    Ok(history::run_recorded(db, &release).await?.len())
}

/// Removes up to [`EXPIRE_BATCH`] jobs of `scope` whose expiry passed, with their history,
/// and its expired counters and unique periods. Returns how many jobs went. Job ids are one sequence per store,
/// so the ids alone name the rows.
async fn expire(db: &impl ConnectionTrait, scope: Scope<'_>, now: i64) -> StorageResult<usize> {
    let ids: Vec<i64> = job::Entity::find()
        .select_only()
        .column(job::Column::Id)
        .apply_if(scope.key(), |find, key| {
            find.filter(job::Column::Workspace.eq(key))
        })
        .filter(job::Column::ExpireAt.lte(now))
        .limit(EXPIRE_BATCH as u64)
        .into_tuple()
        .all(db)
        .await?;
    if !ids.is_empty() {
        job_history::Entity::delete_many()
            .apply_if(scope.key(), |delete, key| {
                delete.filter(job_history::Column::Workspace.eq(key))
            })
            .filter(job_history::Column::JobId.is_in(ids.iter().copied()))
            .exec(db)
            .await?;
        job::Entity::delete_many()
            .apply_if(scope.key(), |delete, key| {
                delete.filter(job::Column::Workspace.eq(key))
            })
            .filter(job::Column::Id.is_in(ids.iter().copied()))
            .exec(db)
            .await?;
    }
    counter::Entity::delete_many()
        .apply_if(scope.key(), |delete, key| {
            delete.filter(counter::Column::Workspace.eq(key))
        })
        .filter(counter::Column::ExpireAt.lte(now))
        .exec(db)
        .await?;
    unique_period::Entity::delete_many()
        .apply_if(scope.key(), |delete, key| {
            delete.filter(unique_period::Column::Workspace.eq(key))
        })
        .filter(unique_period::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    Ok(ids.len())
}

/// Drops the servers silent since before `cutoff` from the list, except `own` (whose round
/// this is: it writes its heartbeat next); returns their ids. A row locked at this moment
/// belongs to a server writing its heartbeat: it is not silent, and skipping it keeps two
/// upkeep rounds from waiting on each other.
async fn prune_silent(
    db: &impl ConnectionTrait,
    key: &str,
    cutoff: i64,
    own: &str,
) -> StorageResult<Vec<String>> {
    let silent = Query::select()
        .column(server::Column::Id)
        .from(server::Entity)
        .and_where(Expr::col(server::Column::Workspace).eq(key))
        .and_where(Expr::col(server::Column::HeartbeatAt).lt(cutoff))
        .and_where(Expr::col(server::Column::Id).ne(own))
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .to_owned();
    let prune = Query::delete()
        .from_table(server::Entity)
        .and_where(Expr::col(server::Column::Workspace).eq(key))
        .and_where(Expr::col(server::Column::Id).in_subquery(silent))
        .returning_col(server::Column::Id)
        .to_owned();
    let rows = db.query_all(&prune).await?;
    Ok(rows
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::name::WorkspaceName;
    use crate::storage::{Databases, StorageConfig};

    fn server(id: &str) -> ServerRow {
        ServerRow {
            id: id.to_owned(),
            workers: 1,
            queues: vec!["default".to_owned()],
            started_at: 0,
        }
    }

    /// On PostgreSQL a server's heartbeat locks its row until the round commits. Another
    /// server's round must not take it for silent then, nor wait for it.
    #[test]
    #[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
    fn a_round_neither_drops_nor_waits_for_a_server_writing_its_heartbeat() {
        // SQLite rounds never overlap (one writer).
        let url = std::env::var("STOKER_TEST_DATABASE_URL").expect("the PostgreSQL pass");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (databases, _notices) = Databases::new(StorageConfig::postgres(url), 4);
            let name = format!("beating_{}", std::process::id());
            let storage = databases
                .open(&WorkspaceName::new(&name).unwrap())
                .await
                .unwrap();
            let (quiet, pruner) = (server("quiet"), server("pruner"));
            let round = |server, now| Round {
                server,
                now,
                lease_until: now + 1_000,
                silent_before: now - 10_000,
            };
            storage.upkeep(&round(&quiet, 0)).await.unwrap();

            let beating = storage.write().await.unwrap();
            heartbeat(&beating, storage.scope(), &quiet, 60_000, 61_000)
                .await
                .unwrap();
            let pruning = round(&pruner, 60_000);
            let done = tokio::time::timeout(Duration::from_secs(5), storage.upkeep(&pruning))
                .await
                .expect("the round waited for the heartbeat's lock")
                .unwrap();
            assert!(done.dropped.is_empty(), "dropped {:?}", done.dropped);
            beating.commit().await.unwrap();

            // Once the quiet server is silent past the timeout it goes; the pruning server,
            // as silent by its last heartbeat, stays: its heartbeat comes later in the round.
            let later = storage.upkeep(&round(&pruner, 80_000)).await.unwrap();
            assert_eq!(later.dropped, ["quiet"]);
            databases.close().await;
        });
    }
}
