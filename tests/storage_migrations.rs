//! The migrations go up, down one step at a time and up again, on the backend under test; and a
//! store that 0.1 wrote keeps its rows when it is migrated.

mod common;

use std::time::Duration;

use common::backend;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};

/// An empty database (SQLite) or schema `m` of a new database (PostgreSQL) to migrate by hand,
/// and that database's URL on PostgreSQL.
async fn empty_database(dir: &std::path::Path) -> (DatabaseConnection, Option<String>) {
    let Some(server) = backend::postgres_url() else {
        let file = dir.join("m.db");
        let url = format!("sqlite://{}?mode=rwc", file.display());
        return (Database::connect(url).await.unwrap(), None);
    };
    let url = backend::fresh_database(&server);
    let db = Database::connect(&url).await.unwrap();
    db.execute_unprepared("CREATE SCHEMA m").await.unwrap();
    db.close().await.unwrap();
    let mut options = ConnectOptions::new(url.clone());
    options
        .set_schema_search_path("m")
        .max_connections(1)
        .sqlx_logging(false);
    (Database::connect(options).await.unwrap(), Some(url))
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

/// The rows `sql` answers on either backend, each as the text of its first column.
async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    names(db, sql, sql).await
}

/// Everything the migrations define, one line per table, column, index, constraint, function
/// and trigger, in an order of its own: two schemas are the same when their lines are.
async fn schema(db: &DatabaseConnection) -> Vec<String> {
    names(
        db,
        "SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master \
         WHERE name NOT LIKE 'sqlite_%' ORDER BY 1",
        "SELECT line FROM ( \
           SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type \
             || ' collate ' || coalesce(collation_name, '-') || ' null ' || is_nullable \
             || ' default ' || coalesce(column_default, '-') || ' identity ' || is_identity \
             AS line \
           FROM information_schema.columns WHERE table_schema = current_schema() \
           UNION ALL SELECT 'index ' || indexdef FROM pg_indexes \
           WHERE schemaname = current_schema() \
           UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' \
             || pg_get_constraintdef(oid) FROM pg_constraint \
           WHERE connamespace = current_schema()::text::regnamespace \
           UNION ALL SELECT 'function ' || proname || ': ' || prosrc FROM pg_proc \
           WHERE pronamespace = current_schema()::text::regnamespace \
           UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t \
           JOIN pg_class c ON c.oid = t.tgrelid \
           WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::text::regnamespace \
         ) AS lines ORDER BY 1",
    )
    .await
}

/// Each table's primary key, as `table (columns)` (on SQLite, `jobs` and `job_history` are
/// keyed by their rowid, `id`).
async fn primary_keys(db: &DatabaseConnection) -> Vec<String> {
    names(
        db,
        "SELECT t.name || ' (' || (SELECT group_concat(name, ', ') FROM \
           (SELECT name FROM pragma_table_info(t.name) WHERE pk > 0 ORDER BY pk)) || ')' \
         FROM sqlite_master t WHERE t.type = 'table' AND t.name NOT LIKE 'sqlite_%' \
         AND t.name != 'seaql_migrations' ORDER BY 1",
        "SELECT conrelid::regclass::text || ' ' || substr(pg_get_constraintdef(oid), 13) \
         FROM pg_constraint WHERE contype = 'p' \
         AND connamespace = current_schema()::text::regnamespace \
         AND conrelid::regclass::text != 'seaql_migrations' ORDER BY 1",
    )
    .await
}

/// Index `name`'s definition: its `CREATE INDEX` text on SQLite, PostgreSQL's rendering of it.
async fn index_definition(db: &DatabaseConnection, name: &str) -> String {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => format!("SELECT sql FROM sqlite_master WHERE name = '{name}'"),
        _ => format!(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() \
             AND indexname = '{name}'"
        ),
    };
    let definitions = rows(db, &sql).await;
    assert_eq!(definitions.len(), 1, "index {name}: {definitions:?}");
    definitions.into_iter().next().unwrap()
}

/// The job counts, summed over their slots, as `[workspace] state queue n`, where not zero.
async fn counts(db: &DatabaseConnection) -> Vec<String> {
    rows(
        db,
        "SELECT '[' || workspace || '] ' || state || ' ' || queue || ' ' \
         || CAST(SUM(n) AS TEXT) FROM job_counts GROUP BY workspace, state, queue \
         HAVING SUM(n) <> 0 ORDER BY 1",
    )
    .await
}

/// The tables of the migrations 1 to 8.
const TABLES_OF_0_1: [&str; 7] = [
    "counters",
    "job_counts",
    "job_history",
    "jobs",
    "locks",
    "recurring_jobs",
    "servers",
];

/// The indexes migration 9 leaves alone: the store-wide passes', led by time.
const STORE_WIDE_INDEXES: [&str; 3] = ["jobs_scheduled", "jobs_expire_at", "recurring_jobs_due"];

#[actix_rt::test]
async fn migrations_go_up_down_and_up_again() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = empty_database(dir.path()).await;
    let backend = db.get_database_backend();
    Migrator::up(&db, Some(8)).await.unwrap();
    let schema_of_0_1 = schema(&db).await;
    let mut store_wide = Vec::new();
    for index in STORE_WIDE_INDEXES {
        store_wide.push(index_definition(&db, index).await);
    }

    Migrator::up(&db, None).await.unwrap();
    let schema_of_now = schema(&db).await;
    let mut with_workspaces = TABLES_OF_0_1.to_vec();
    with_workspaces.extend(["unique_periods", "workspaces"]);
    assert_eq!(tables(&db).await, with_workspaces);
    let columns = job_columns(&db).await;
    for column in [
        "parent_id",
        "workspace",
        "trace_parent",
        "priority",
        "unique_key",
        "unique_scope",
    ] {
        assert!(
            columns.contains(&column.to_owned()),
            "{column}: {columns:?}"
        );
    }
    let fifo = match backend {
        DbBackend::Postgres => "jobs_enqueued_fifo",
        _ => "jobs_enqueued",
    };
    assert_eq!(claim_index(&db).await, [fifo]);
    assert_eq!(
        history_triggers(&db).await,
        history_triggers_expected(backend, true)
    );

    // Every table is keyed by workspace first, except SQLite's two rowid tables.
    let (jobs_key, history_key) = match backend {
        DbBackend::Postgres => ("(workspace, id)", "(workspace, job_id, id)"),
        _ => ("(id)", "(id)"),
    };
    assert_eq!(
        primary_keys(&db).await,
        [
            "counters (workspace, key)".to_owned(),
            "job_counts (workspace, state, queue, slot)".to_owned(),
            format!("job_history {history_key}"),
            format!("jobs {jobs_key}"),
            "locks (workspace, name)".to_owned(),
            "recurring_jobs (workspace, id)".to_owned(),
            "servers (workspace, id)".to_owned(),
            "unique_periods (workspace, key)".to_owned(),
            "workspaces (name)".to_owned(),
        ]
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
    assert_eq!(
        has(&indexes, "jobs_by_workspace"),
        backend != DbBackend::Postgres
    );
    // The paths of one workspace lead with it; the store-wide passes' indexes are as they were.
    let fifo_columns = match backend {
        DbBackend::Postgres => "(workspace, queue, priority, ((id + 0)))",
        _ => "(workspace, queue, priority, id)",
    };
    let mut leading = vec![
        (fifo, fifo_columns),
        ("jobs_running", "(workspace, id)"),
        ("jobs_waiting_or_ended", "(workspace, state, id)"),
        ("jobs_awaiting_parent", "(workspace, parent_id)"),
        ("counters_expire_at", "(expire_at)"),
        ("jobs_unique", "(workspace, unique_scope, unique_key)"),
    ];
    if backend == DbBackend::Sqlite {
        leading.push(("job_history_job_id", "(workspace, job_id, id)"));
        leading.push(("jobs_by_workspace", "(workspace)"));
    }
    for (index, columns) in leading {
        let definition = index_definition(&db, index).await;
        assert!(definition.contains(columns), "{definition}");
    }
    for (index, before) in STORE_WIDE_INDEXES.into_iter().zip(&store_wide) {
        assert_eq!(&index_definition(&db, index).await, before);
    }
    assert!(
        index_definition(&db, "counters_expire_at")
            .await
            .contains("expire_at IS NOT NULL")
    );

    // Down keeps the store's own rows (`''`) and deletes the other workspaces', whose keys
    // 0.1's tables could not tell apart, then leaves the schema as 0.1 had it.
    db.execute_unprepared(
        "INSERT INTO counters (workspace, key, value) VALUES ('', 'k', 1), ('x', 'k', 2); \
         INSERT INTO jobs (workspace, job_type, queue, state, args, max_retries, on_exhausted, \
         created_at, state_at) VALUES \
         ('', 'noop', 'default', 'enqueued', '{}', 0, 'failed', 0, 0), \
         ('x', 'noop', 'default', 'enqueued', '{}', 0, 'failed', 0, 0); \
         INSERT INTO workspaces (name, created_at) VALUES ('x', 0)",
    )
    .await
    .unwrap();
    // Priorities and unique keys go first: the claim's index as migration 9 left it, and the
    // jobs stay.
    Migrator::down(&db, Some(1)).await.unwrap();
    let columns = job_columns(&db).await;
    assert!(!columns.contains(&"priority".to_owned()), "{columns:?}");
    assert!(!columns.contains(&"unique_key".to_owned()), "{columns:?}");
    assert!(!tables(&db).await.contains(&"unique_periods".to_owned()));
    let fifo_of_9 = index_definition(&db, fifo).await;
    assert!(!fifo_of_9.contains("priority"), "{fifo_of_9}");
    assert_eq!(rows(&db, "SELECT job_type FROM jobs").await.len(), 2);
    // The trace context's column goes next, and the jobs with it stay.
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!job_columns(&db).await.contains(&"trace_parent".to_owned()));
    assert_eq!(rows(&db, "SELECT job_type FROM jobs").await.len(), 2);
    Migrator::down(&db, Some(1)).await.unwrap();
    assert_eq!(schema(&db).await, schema_of_0_1);
    let kept = "SELECT key || ' ' || CAST(value AS TEXT) FROM counters";
    assert_eq!(rows(&db, kept).await, ["k 1"]);
    assert_eq!(rows(&db, "SELECT job_type FROM jobs").await, ["noop"]);
    let counted = "SELECT state || ' ' || CAST(SUM(n) AS TEXT) FROM job_counts \
                   GROUP BY state HAVING SUM(n) <> 0";
    assert_eq!(rows(&db, counted).await, ["enqueued 1"]);

    // Each further step down undoes one migration: the state index off the main path, the
    // indexes every job enters, who appends history, the claim's order, the counts, the locks,
    // then recurring jobs and continuations.
    let all = TABLES_OF_0_1;
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
    assert_eq!(tables(&db).await, with_workspaces);
    assert_eq!(schema(&db).await, schema_of_now);
    assert_eq!(
        history_triggers(&db).await,
        history_triggers_expected(backend, true)
    );
}

/// The plan of a list of a store's own jobs (workspace `''`) in `state`, newest first, with
/// the workspace and the state bound as the lists bind them.
async fn list_plan(db: &DatabaseConnection, state: &str) -> String {
    let backend = db.get_database_backend();
    let list = "SELECT id FROM jobs WHERE workspace = $1 AND state = $2 ORDER BY id DESC LIMIT 20";
    let explain = match backend {
        DbBackend::Sqlite => format!(
            "EXPLAIN QUERY PLAN {}",
            list.replace("$1", "?").replace("$2", "?")
        ),
        _ => format!("EXPLAIN {list}"),
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            explain,
            ["".into(), state.into()],
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
    let (db, _) = empty_database(dir.path()).await;
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

/// Waits for the next notification of channel `stoker_enqueued` and answers its payload.
async fn next_enqueued(listener: &mut PgListener) -> String {
    let notification = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("a notification within 10 s")
        .unwrap();
    notification.payload().to_owned()
}

#[actix_rt::test]
async fn a_store_of_version_0_1_with_jobs_opens_and_keeps_its_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let (db, url) = empty_database(dir.path()).await;
    let backend = db.get_database_backend();
    Migrator::up(&db, Some(8)).await.unwrap();

    // Rows as 0.1 wrote them, by its statements: its triggers counted the jobs (and, on
    // SQLite, appended their history, which 0.1's statements appended on PostgreSQL).
    db.execute_unprepared(
        "INSERT INTO jobs (job_type, queue, state, args, max_retries, on_exhausted, \
         created_at, state_at) VALUES \
         ('noop', 'default', 'enqueued', '{}', 3, 'failed', 1, 1), \
         ('noop', 'default', 'succeeded', '{}', 3, 'failed', 1, 2), \
         ('noop', 'mail', 'failed', '{}', 0, 'failed', 1, 3)",
    )
    .await
    .unwrap();
    if backend == DbBackend::Postgres {
        db.execute_unprepared(
            "INSERT INTO job_history (job_id, state, reason, data, at) \
             SELECT id, state, NULL, NULL, state_at FROM jobs",
        )
        .await
        .unwrap();
    }
    db.execute_unprepared(
        "INSERT INTO recurring_jobs (id, job_type, args, queue, cron, time_zone, misfire, \
         paused, next_execution, created_at, updated_at) \
         VALUES ('nightly', 'noop', '{}', 'default', '0 3 * * *', 'UTC', 'skip', false, 1000, 1, 1)",
    )
    .await
    .unwrap();
    db.execute_unprepared(
        "INSERT INTO counters (key, value, expire_at) \
         VALUES ('succeeded', 1, NULL), ('succeeded:hour:2026-12-01T10', 1, 5000)",
    )
    .await
    .unwrap();
    db.execute_unprepared(
        "INSERT INTO servers (id, workers, queues, started_at, heartbeat_at) \
         VALUES ('host:1:abc', 10, '[\"default\"]', 1, 2)",
    )
    .await
    .unwrap();
    db.execute_unprepared(
        "INSERT INTO locks (name, owner, expires_at) VALUES ('stoker:janitor', 'host:1:abc', 100)",
    )
    .await
    .unwrap();
    let slots = "SELECT state || ' ' || queue || ' ' || CAST(slot AS TEXT) || ' ' \
                 || CAST(n AS TEXT) FROM job_counts ORDER BY 1";
    let slots_of_0_1 = rows(&db, slots).await;
    assert_eq!(slots_of_0_1.len(), 3, "{slots_of_0_1:?}");

    Migrator::up(&db, None).await.unwrap();

    // Every row is kept, as the store's own workspace's (`''`).
    let jobs = "SELECT '[' || workspace || '] ' || CAST(id AS TEXT) || ' ' || state FROM jobs \
                ORDER BY id";
    assert_eq!(
        rows(&db, jobs).await,
        ["[] 1 enqueued", "[] 2 succeeded", "[] 3 failed"]
    );
    let history = "SELECT '[' || workspace || '] ' || CAST(job_id AS TEXT) || ' ' || state \
                   FROM job_history ORDER BY job_id, id";
    assert_eq!(
        rows(&db, history).await,
        ["[] 1 enqueued", "[] 2 succeeded", "[] 3 failed"]
    );
    let recurring = "SELECT '[' || workspace || '] ' || id || ' ' || cron || ' ' \
                     || CAST(next_execution AS TEXT) FROM recurring_jobs";
    assert_eq!(rows(&db, recurring).await, ["[] nightly 0 3 * * * 1000"]);
    let counters = "SELECT '[' || workspace || '] ' || key || ' ' || CAST(value AS TEXT) \
                    FROM counters ORDER BY key";
    assert_eq!(
        rows(&db, counters).await,
        ["[] succeeded 1", "[] succeeded:hour:2026-12-01T10 1"]
    );
    let servers = "SELECT '[' || workspace || '] ' || id || ' ' || queues FROM servers";
    assert_eq!(rows(&db, servers).await, ["[] host:1:abc [\"default\"]"]);
    let locks = "SELECT '[' || workspace || '] ' || name || ' ' || owner FROM locks";
    assert_eq!(rows(&db, locks).await, ["[] stoker:janitor host:1:abc"]);
    let own_slots = "SELECT state || ' ' || queue || ' ' || CAST(slot AS TEXT) || ' ' \
                     || CAST(n AS TEXT) FROM job_counts WHERE workspace = '' ORDER BY 1";
    assert_eq!(rows(&db, own_slots).await, slots_of_0_1);
    assert_eq!(
        counts(&db).await,
        [
            "[] enqueued default 1",
            "[] failed mail 1",
            "[] succeeded default 1"
        ]
    );
    assert!(rows(&db, "SELECT name FROM workspaces").await.is_empty());

    // The triggers now keep each workspace's counts (and SQLite's history) apart: a job of
    // workspace `x` is counted under `x`, a move of the store's own job under `''`. Ids go on
    // from 0.1's.
    let mut listener = match &url {
        Some(url) => {
            let mut listener = PgListener::connect(url).await.unwrap();
            listener.listen("stoker_enqueued").await.unwrap();
            Some(listener)
        }
        None => None,
    };
    db.execute_unprepared(
        "INSERT INTO jobs (workspace, job_type, queue, state, args, max_retries, on_exhausted, \
         created_at, state_at) VALUES ('x', 'noop', 'default', 'enqueued', '{}', 0, 'failed', 4, 4)",
    )
    .await
    .unwrap();
    db.execute_unprepared(
        "UPDATE jobs SET state = 'processing', state_at = 5 WHERE workspace = '' AND id = 1",
    )
    .await
    .unwrap();
    db.execute_unprepared(
        "UPDATE jobs SET state = 'enqueued', state_at = 6 WHERE workspace = '' AND id = 3",
    )
    .await
    .unwrap();
    let ids = "SELECT CAST(id AS TEXT) FROM jobs WHERE workspace = 'x'";
    assert_eq!(rows(&db, ids).await, ["4"]);
    assert_eq!(
        counts(&db).await,
        [
            "[] enqueued mail 1",
            "[] processing default 1",
            "[] succeeded default 1",
            "[x] enqueued default 1"
        ]
    );
    if backend == DbBackend::Sqlite {
        assert_eq!(
            rows(&db, history).await,
            [
                "[] 1 enqueued",
                "[] 1 processing",
                "[] 2 succeeded",
                "[] 3 failed",
                "[] 3 enqueued",
                "[x] 4 enqueued"
            ]
        );
    }
    // PostgreSQL's notification names the workspace: the row's, or the schema's for `''`.
    if let Some(listener) = listener.as_mut() {
        assert_eq!(next_enqueued(listener).await, "x");
        assert_eq!(next_enqueued(listener).await, "m");
    }
}
