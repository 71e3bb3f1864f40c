//! The migrations go up, down one step at a time and up again, on the backend under test.

mod common;

use common::backend;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use stoker::StorageConfig;

/// An empty database (SQLite) or schema (PostgreSQL) to migrate by hand.
async fn empty_database(dir: &std::path::Path) -> DatabaseConnection {
    match backend::storage(dir) {
        StorageConfig::Sqlite { dir } => {
            let file = dir.join("m.db");
            Database::connect(format!("sqlite://{}?mode=rwc", file.display()))
                .await
                .unwrap()
        }
        StorageConfig::Postgres { url } => {
            let db = Database::connect(&url).await.unwrap();
            db.execute_unprepared("CREATE SCHEMA m").await.unwrap();
            db.close().await.unwrap();
            backend::connect(&StorageConfig::postgres(url), "m").await
        }
    }
}

async fn names(db: &DatabaseConnection, sqlite: &str, postgres: &str) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => sqlite,
        _ => postgres,
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get_by_index(0).unwrap())
        .collect()
}

async fn tables(db: &DatabaseConnection) -> Vec<String> {
    names(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name != 'seaql_migrations' ORDER BY name",
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name != 'seaql_migrations' \
         ORDER BY table_name",
    )
    .await
}

async fn job_columns(db: &DatabaseConnection) -> Vec<String> {
    names(
        db,
        "SELECT name FROM pragma_table_info('jobs') ORDER BY name",
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = 'jobs' ORDER BY column_name",
    )
    .await
}

/// The index the claim reads queued jobs through, by name.
async fn claim_index(db: &DatabaseConnection) -> Vec<String> {
    names(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' \
         AND name LIKE 'jobs_enqueued%'",
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() \
         AND tablename = 'jobs' AND indexname LIKE 'jobs_enqueued%'",
    )
    .await
}

/// The indexes of `jobs` and `job_history`, by name (SQLite's rowid and PostgreSQL's primary
/// keys aside).
async fn job_indexes(db: &DatabaseConnection) -> Vec<String> {
    names(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'index' \
         AND tbl_name IN ('jobs', 'job_history') ORDER BY name",
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() \
         AND tablename IN ('jobs', 'job_history') AND indexname NOT LIKE '%_pkey' ORDER BY 1",
    )
    .await
}

/// What appends history rows: SQLite's triggers by name, or the events PostgreSQL's trigger
/// fires on.
async fn history_triggers(db: &DatabaseConnection) -> Vec<String> {
    names(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'jobs_history%' \
         ORDER BY name",
        "SELECT event_manipulation::text FROM information_schema.triggers \
         WHERE event_object_schema = current_schema() AND trigger_name = 'jobs_history' \
         ORDER BY 1",
    )
    .await
}

/// [`history_triggers`] when statements append their own history rows (PostgreSQL), or not.
fn history_triggers_expected(backend: DbBackend, statements_append: bool) -> Vec<&'static str> {
    match (backend, statements_append) {
        (DbBackend::Postgres, true) => vec![],
        (DbBackend::Postgres, false) => vec!["INSERT", "UPDATE"],
        _ => vec!["jobs_history_on_insert", "jobs_history_on_update"],
    }
}

#[actix_rt::test]
async fn migrations_go_up_down_and_up_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = empty_database(dir.path()).await;
    Migrator::up(&db, None).await.unwrap();
    let all = [
        "counters",
        "job_counts",
        "job_history",
        "jobs",
        "locks",
        "recurring_jobs",
        "servers",
    ];
    assert_eq!(tables(&db).await, all);
    assert!(job_columns(&db).await.contains(&"parent_id".to_owned()));
    let fifo = match db.get_database_backend() {
        DbBackend::Postgres => "jobs_enqueued_fifo",
        _ => "jobs_enqueued",
    };
    assert_eq!(claim_index(&db).await, [fifo]);
    let backend = db.get_database_backend();
    assert_eq!(
        history_triggers(&db).await,
        history_triggers_expected(backend, true)
    );

    let indexes = job_indexes(&db).await;
    let has = |indexes: &[String], name: &str| indexes.iter().any(|index| index == name);
    assert!(!has(&indexes, "jobs_processing"));
    assert!(!has(&indexes, "jobs_state_id"));
    assert!(has(&indexes, "jobs_running") && has(&indexes, "jobs_waiting_or_ended"));
    assert_eq!(
        has(&indexes, "job_history_job_id"),
        backend != DbBackend::Postgres
    );

    // Each step down undoes one migration: the state index off the main path, the indexes
    // every job enters, who appends history, the claim's order, the counts, the locks, then
    // recurring jobs and continuations.
    Migrator::down(&db, Some(1)).await.unwrap();
    let indexes = job_indexes(&db).await;
    assert!(has(&indexes, "jobs_state_id"));
    assert!(!has(&indexes, "jobs_running") && !has(&indexes, "jobs_waiting_or_ended"));
    Migrator::down(&db, Some(1)).await.unwrap();
    let indexes = job_indexes(&db).await;
    assert!(has(&indexes, "jobs_processing"));
    assert!(has(&indexes, "job_history_job_id"));
    Migrator::down(&db, Some(1)).await.unwrap();
    assert_eq!(
        history_triggers(&db).await,
        history_triggers_expected(backend, false)
    );
    assert_eq!(claim_index(&db).await, [fifo]);
    Migrator::down(&db, Some(1)).await.unwrap();
    assert_eq!(claim_index(&db).await, ["jobs_enqueued"]);
    assert_eq!(tables(&db).await, all);
    Migrator::down(&db, Some(1)).await.unwrap();
    let without_counts: Vec<_> = all.into_iter().filter(|t| *t != "job_counts").collect();
    assert_eq!(tables(&db).await, without_counts);
    Migrator::down(&db, Some(1)).await.unwrap();
    let without_locks = [
        "counters",
        "job_history",
        "jobs",
        "recurring_jobs",
        "servers",
    ];
    assert_eq!(tables(&db).await, without_locks);
    Migrator::down(&db, Some(1)).await.unwrap();
    assert_eq!(
        tables(&db).await,
        ["counters", "job_history", "jobs", "servers"]
    );
    assert!(!job_columns(&db).await.contains(&"parent_id".to_owned()));

    Migrator::down(&db, None).await.unwrap();
    assert!(tables(&db).await.is_empty());
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(tables(&db).await, all);
    assert_eq!(claim_index(&db).await, [fifo]);
    assert_eq!(
        history_triggers(&db).await,
        history_triggers_expected(backend, true)
    );
}

/// The plan of a list of jobs in `state`, newest first, with the state bound as the lists
/// bind it.
async fn list_plan(db: &DatabaseConnection, state: &str) -> String {
    let backend = db.get_database_backend();
    let list = "SELECT id FROM jobs WHERE state = $1 ORDER BY id DESC LIMIT 20";
    let explain = match backend {
        DbBackend::Sqlite => format!("EXPLAIN QUERY PLAN {}", list.replace("$1", "?")),
        _ => format!("EXPLAIN {list}"),
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            explain,
            [state.into()],
        ))
        .await
        .unwrap();
    let column = match backend {
        DbBackend::Sqlite => 3,
        _ => 0,
    };
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(column).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[actix_rt::test]
async fn lists_of_running_waiting_and_ended_jobs_read_their_own_index_among_many_succeeded() {
    let dir = tempfile::tempdir().unwrap();
    let db = empty_database(dir.path()).await;
    Migrator::up(&db, None).await.unwrap();
    let rows: Vec<String> = (0..2_000)
        .map(|n| {
            let state = match n % 500 {
                0 => "failed",
                1 => "processing",
                2 => "scheduled",
                _ => "succeeded",
            };
            format!("('noop', 'default', '{state}', '{{}}', 0, 'failed', 0, 0)")
        })
        .collect();
    db.execute_unprepared(&format!(
        "INSERT INTO jobs (job_type, queue, state, args, max_retries, on_exhausted, \
         created_at, state_at) VALUES {}",
        rows.join(", ")
    ))
    .await
    .unwrap();
    db.execute_unprepared("ANALYZE").await.unwrap();

    for (state, index) in [
        ("processing", "jobs_running"),
        ("failed", "jobs_waiting_or_ended"),
        ("scheduled", "jobs_waiting_or_ended"),
    ] {
        let plan = list_plan(&db, state).await;
        assert!(plan.contains(index), "{state}: {plan}");
    }
}
