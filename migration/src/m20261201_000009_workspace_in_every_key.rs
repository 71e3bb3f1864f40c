//! The workspace in every key, so that many workspaces (tenants) can share one set of tables, a
//! store: every table gains `workspace`, first in its primary key, and the new `workspaces`
//! lists the workspaces of a shared store, one row each.
//!
//! A store of one workspace's own (a file, schema or database per workspace) keeps `''` in
//! every row, and leaves `workspaces` empty: the store is the workspace. An append-only
//! migration takes no parameter to name the workspace by, and renaming a file or schema renames
//! its workspace, which a name written into the rows would not follow. `ADD COLUMN … DEFAULT ''`
//! rewrites no row on either backend.
//!
//! The indexes of the paths that serve one workspace lead with it: the claim's, the running
//! jobs', the lists' and the continuations'. The store-wide passes keep theirs led by time
//! (`jobs_scheduled`, `jobs_expire_at`, `recurring_jobs_due`), so that one pass per store finds
//! the earliest instant of all its workspaces in one index step. `counters_expire_at` is new: the
//! expiry of counters would otherwise read the counters of every workspace in the store.
//!
//! The triggers follow. Job counts are kept per workspace (still in key order on PostgreSQL,
//! which keeps two transactions sharing a slot from deadlocking), SQLite's history rows carry
//! their job's workspace, and PostgreSQL's notification names the workspace: the row's, or the
//! schema's name where the rows say `''`.
//!
//! PostgreSQL changes the primary keys in place. SQLite cannot change a primary key. `jobs` and
//! `job_history` keep theirs, since their `id` is the rowid (`AUTOINCREMENT`, so ids are still
//! never reused); they only gain the column and, for the lists of one workspace's jobs,
//! `jobs_by_workspace` and a `job_history_job_id` that leads with it. The five small tables are
//! rebuilt with their new keys: created anew, copied, dropped, renamed. SQLite checks every
//! trigger when a table is renamed, and fails on one that names a table just dropped, so the
//! triggers go before the rebuilds and come back after them. The migration runs in one
//! transaction on SQLite too: a rebuild stopped half-way would lose a table's rows.
//!
//! `down` is the exact reverse. On a shared store it keeps only the `''` rows, the store's own
//! workspace's: the old keys cannot tell the other workspaces' rows apart, so they are deleted.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum RecurringJobs {
    Table,
    NextExecution,
    Paused,
}

/// Every table of stoker's, with its primary key before this migration (on PostgreSQL; SQLite's
/// `job_history` is keyed by its rowid). The key after it is `workspace` followed by these.
const KEYS: [(&str, &str); 7] = [
    ("jobs", "id"),
    ("job_history", "job_id, id"),
    ("job_counts", "state, queue, slot"),
    ("counters", "key"),
    ("recurring_jobs", "id"),
    ("servers", "id"),
    ("locks", "name"),
];

const WORKSPACES: &str =
    "CREATE TABLE workspaces (name text COLLATE \"C\" PRIMARY KEY, created_at bigint NOT NULL)";
const SQLITE_WORKSPACES: &str =
    "CREATE TABLE workspaces (name TEXT NOT NULL PRIMARY KEY, created_at INTEGER NOT NULL)";

/// The rows of other workspaces than the store's own, which `down` deletes from `table`.
fn delete_shared(table: &str) -> String {
    format!("DELETE FROM {table} WHERE workspace <> ''")
}

/// An index this migration creates, drops or replaces: `before` as m1..m8 left it (the text
/// they created it with), `after` as this migration leaves it.
struct Change {
    name: &'static str,
    before: Option<&'static str>,
    after: Option<&'static str>,
}

impl Change {
    fn up(&self) -> Vec<String> {
        Self::swap(self.name, self.before, self.after)
    }

    fn down(&self) -> Vec<String> {
        Self::swap(self.name, self.after, self.before)
    }

    fn swap(name: &str, from: Option<&str>, to: Option<&str>) -> Vec<String> {
        let drop = from.map(|_| format!("DROP INDEX {name}"));
        drop.into_iter().chain(to.map(str::to_owned)).collect()
    }
}

const RUNNING: Change = Change {
    name: "jobs_running",
    before: Some("CREATE INDEX jobs_running ON jobs (id) WHERE state = 'processing'"),
    after: Some("CREATE INDEX jobs_running ON jobs (workspace, id) WHERE state = 'processing'"),
};
const WAITING_OR_ENDED: Change = Change {
    name: "jobs_waiting_or_ended",
    before: Some(
        "CREATE INDEX jobs_waiting_or_ended ON jobs (state, id) \
         WHERE state = 'scheduled' OR state = 'awaiting' OR state = 'failed' OR state = 'deleted'",
    ),
    after: Some(
        "CREATE INDEX jobs_waiting_or_ended ON jobs (workspace, state, id) \
         WHERE state = 'scheduled' OR state = 'awaiting' OR state = 'failed' OR state = 'deleted'",
    ),
};
const AWAITING_PARENT: Change = Change {
    name: "jobs_awaiting_parent",
    before: Some(
        "CREATE INDEX \"jobs_awaiting_parent\" ON \"jobs\" (\"parent_id\") \
         WHERE \"state\" = 'awaiting'",
    ),
    after: Some(
        "CREATE INDEX jobs_awaiting_parent ON jobs (workspace, parent_id) \
         WHERE state = 'awaiting'",
    ),
};
const COUNTERS_EXPIRE_AT: Change = Change {
    name: "counters_expire_at",
    before: None,
    after: Some(
        "CREATE INDEX counters_expire_at ON counters (expire_at) WHERE expire_at IS NOT NULL",
    ),
};

fn postgres_indexes() -> [Change; 5] {
    [
        Change {
            name: "jobs_enqueued_fifo",
            before: Some(
                "CREATE INDEX jobs_enqueued_fifo ON jobs (queue, (id + 0)) \
                 WHERE state = 'enqueued'",
            ),
            after: Some(
                "CREATE INDEX jobs_enqueued_fifo ON jobs (workspace, queue, (id + 0)) \
                 WHERE state = 'enqueued'",
            ),
        },
        RUNNING,
        WAITING_OR_ENDED,
        AWAITING_PARENT,
        COUNTERS_EXPIRE_AT,
    ]
}

fn sqlite_indexes() -> [Change; 7] {
    [
        Change {
            name: "jobs_enqueued",
            before: Some(
                "CREATE INDEX \"jobs_enqueued\" ON \"jobs\" (\"queue\", \"id\") \
                 WHERE \"state\" = 'enqueued'",
            ),
            after: Some(
                "CREATE INDEX jobs_enqueued ON jobs (workspace, queue, id) \
                 WHERE state = 'enqueued'",
            ),
        },
        RUNNING,
        WAITING_OR_ENDED,
        AWAITING_PARENT,
        COUNTERS_EXPIRE_AT,
        // The lists of enqueued and succeeded jobs, newest first, which walk the rowid from the
        // newest job down on a store of one workspace's own.
        Change {
            name: "jobs_by_workspace",
            before: None,
            after: Some("CREATE INDEX jobs_by_workspace ON jobs (workspace)"),
        },
        Change {
            name: "job_history_job_id",
            before: Some(
                "CREATE INDEX \"job_history_job_id\" ON \"job_history\" (\"job_id\", \"id\")",
            ),
            after: Some("CREATE INDEX job_history_job_id ON job_history (workspace, job_id, id)"),
        },
    ]
}

/// The signed changes to the counts a PostgreSQL count function adds up, by `keys`.
fn added(keys: &str) -> String {
    format!("SELECT {keys}, 1 AS delta FROM new_rows")
}

fn removed(keys: &str) -> String {
    format!("SELECT {keys}, -1 AS delta FROM old_rows")
}

/// m4's count function `name`, adding the `changes` to the connection's slot of the counts by
/// `keys` (`state, queue` before this migration, `workspace, state, queue` after), in key order.
fn count_function(name: &str, changes: &str, keys: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         INSERT INTO job_counts ({keys}, slot, n) \
         SELECT {keys}, pg_backend_pid() % 16, SUM(delta) FROM ({changes}) AS changes \
         GROUP BY {keys} HAVING SUM(delta) <> 0 ORDER BY {keys} \
         ON CONFLICT ({keys}, slot) DO UPDATE SET n = job_counts.n + EXCLUDED.n; \
         RETURN NULL; END $$"
    )
}

/// m3's notification: the schema's name, or (after this migration) the row's workspace when
/// it names one.
fn notify_function(payload: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION jobs_notify_enqueued() RETURNS trigger \
         LANGUAGE plpgsql AS $$ BEGIN \
         PERFORM pg_notify('stoker_enqueued', {payload}); RETURN NULL; END $$"
    )
}

/// `INSERT INTO job_history` of the row `NEW`, as m1 wrote it, with the workspace or without.
fn history_insert(workspace: bool) -> String {
    let (column, value) = match workspace {
        true => ("workspace, ", "NEW.workspace, "),
        false => ("", ""),
    };
    format!(
        "INSERT INTO job_history ({column}job_id, state, reason, data, at) \
         VALUES ({value}NEW.id, NEW.state, NEW.reason, NEW.data, NEW.state_at);"
    )
}

/// m1's history function, which no trigger calls since m6 but m6's `down` brings back.
fn history_function(workspace: bool) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION jobs_append_history() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN {} RETURN NULL; END $$",
        history_insert(workspace)
    )
}

/// PostgreSQL's functions, with the workspace or as m1, m3 and m4 left them.
fn postgres_functions(workspace: bool) -> Vec<String> {
    let keys = match workspace {
        true => "workspace, state, queue",
        false => "state, queue",
    };
    let payload = match workspace {
        true => "CASE NEW.workspace WHEN '' THEN TG_TABLE_SCHEMA ELSE NEW.workspace END",
        false => "TG_TABLE_SCHEMA",
    };
    let moved = format!("{} UNION ALL {}", added(keys), removed(keys));
    vec![
        notify_function(payload),
        count_function("jobs_count_insert", &added(keys), keys),
        count_function("jobs_count_delete", &removed(keys), keys),
        count_function("jobs_count_update", &moved, keys),
        history_function(workspace),
    ]
}

fn postgres_up() -> Vec<String> {
    let mut up = Vec::new();
    for (table, _) in KEYS {
        up.push(format!(
            "ALTER TABLE {table} ADD COLUMN workspace text COLLATE \"C\" NOT NULL DEFAULT ''"
        ));
    }
    up.push(WORKSPACES.to_owned());
    for (table, key) in KEYS {
        up.push(format!(
            "ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, \
             ADD PRIMARY KEY (workspace, {key})"
        ));
    }
    up.extend(postgres_indexes().iter().flat_map(Change::up));
    up.extend(postgres_functions(true));
    up
}

fn postgres_down() -> Vec<String> {
    let mut down: Vec<String> = KEYS.iter().map(|(table, _)| delete_shared(table)).collect();
    down.extend(postgres_functions(false));
    down.extend(postgres_indexes().iter().rev().flat_map(Change::down));
    for (table, key) in KEYS.iter().rev() {
        down.push(format!(
            "ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, ADD PRIMARY KEY ({key})"
        ));
    }
    down.push("DROP TABLE workspaces".to_owned());
    for (table, _) in KEYS.iter().rev() {
        down.push(format!("ALTER TABLE {table} DROP COLUMN workspace"));
    }
    down
}

/// A table SQLite rebuilds with `workspace` in its key: `before` as m1..m4 created it (the
/// text sea-query wrote), `after` as this migration does, and the columns they share.
struct Rebuild {
    table: &'static str,
    columns: &'static str,
    before: &'static str,
    after: &'static str,
}

impl Rebuild {
    /// Replaces the table by one of `definition`, with the rows the two share.
    fn replace_with(&self, definition: &str) -> [String; 4] {
        let Self { table, columns, .. } = self;
        [
            format!("CREATE TABLE {table}_new {definition}"),
            format!("INSERT INTO {table}_new ({columns}) SELECT {columns} FROM {table}"),
            format!("DROP TABLE {table}"),
            format!("ALTER TABLE {table}_new RENAME TO {table}"),
        ]
    }
}

const REBUILDS: [Rebuild; 5] = [
    Rebuild {
        table: "counters",
        columns: "\"key\", \"value\", \"expire_at\"",
        before: "( \"key\" varchar NOT NULL PRIMARY KEY, \"value\" integer NOT NULL, \
                 \"expire_at\" integer NULL )",
        after: "( workspace TEXT NOT NULL DEFAULT '', \"key\" varchar NOT NULL, \
                \"value\" integer NOT NULL, \"expire_at\" integer NULL, \
                PRIMARY KEY (workspace, \"key\") )",
    },
    Rebuild {
        table: "job_counts",
        columns: "\"state\", \"queue\", \"slot\", \"n\"",
        before: "( \"state\" varchar NOT NULL, \"queue\" varchar NOT NULL, \
                 \"slot\" integer NOT NULL, \"n\" integer NOT NULL, \
                 PRIMARY KEY (\"state\", \"queue\", \"slot\") )",
        after: "( workspace TEXT NOT NULL DEFAULT '', \"state\" varchar NOT NULL, \
                \"queue\" varchar NOT NULL, \"slot\" integer NOT NULL, \"n\" integer NOT NULL, \
                PRIMARY KEY (workspace, \"state\", \"queue\", \"slot\") )",
    },
    Rebuild {
        table: "recurring_jobs",
        columns: "\"id\", \"job_type\", \"args\", \"queue\", \"cron\", \"time_zone\", \
                  \"misfire\", \"paused\", \"next_execution\", \"last_execution\", \
                  \"last_job_id\", \"error\", \"created_at\", \"updated_at\"",
        before: "( \"id\" varchar NOT NULL PRIMARY KEY, \"job_type\" varchar NOT NULL, \
                 \"args\" text NOT NULL, \"queue\" varchar NOT NULL, \"cron\" varchar NOT NULL, \
                 \"time_zone\" varchar NOT NULL, \"misfire\" varchar NOT NULL, \
                 \"paused\" boolean NOT NULL DEFAULT FALSE, \"next_execution\" integer NULL, \
                 \"last_execution\" integer NULL, \"last_job_id\" integer NULL, \
                 \"error\" text NULL, \"created_at\" integer NOT NULL, \
                 \"updated_at\" integer NOT NULL )",
        after: "( workspace TEXT NOT NULL DEFAULT '', \"id\" varchar NOT NULL, \
                \"job_type\" varchar NOT NULL, \"args\" text NOT NULL, \
                \"queue\" varchar NOT NULL, \"cron\" varchar NOT NULL, \
                \"time_zone\" varchar NOT NULL, \"misfire\" varchar NOT NULL, \
                \"paused\" boolean NOT NULL DEFAULT FALSE, \"next_execution\" integer NULL, \
                \"last_execution\" integer NULL, \"last_job_id\" integer NULL, \
                \"error\" text NULL, \"created_at\" integer NOT NULL, \
                \"updated_at\" integer NOT NULL, PRIMARY KEY (workspace, \"id\") )",
    },
    Rebuild {
        table: "servers",
        columns: "\"id\", \"workers\", \"queues\", \"started_at\", \"heartbeat_at\"",
        before: "( \"id\" varchar NOT NULL PRIMARY KEY, \"workers\" integer NOT NULL, \
                 \"queues\" text NOT NULL, \"started_at\" integer NOT NULL, \
                 \"heartbeat_at\" integer NOT NULL )",
        after: "( workspace TEXT NOT NULL DEFAULT '', \"id\" varchar NOT NULL, \
                \"workers\" integer NOT NULL, \"queues\" text NOT NULL, \
                \"started_at\" integer NOT NULL, \"heartbeat_at\" integer NOT NULL, \
                PRIMARY KEY (workspace, \"id\") )",
    },
    Rebuild {
        table: "locks",
        columns: "\"name\", \"owner\", \"expires_at\"",
        before: "( \"name\" varchar NOT NULL PRIMARY KEY, \"owner\" varchar NOT NULL, \
                 \"expires_at\" integer NOT NULL )",
        after: "( workspace TEXT NOT NULL DEFAULT '', \"name\" varchar NOT NULL, \
                \"owner\" varchar NOT NULL, \"expires_at\" integer NOT NULL, \
                PRIMARY KEY (workspace, \"name\") )",
    },
];

/// m2's `recurring_jobs_due`, built by the same call: the firing's `WHERE` must name one of its
/// predicate's terms as SQLite spells it for SQLite to use the index.
fn recurring_jobs_due() -> String {
    Index::create()
        .name("recurring_jobs_due")
        .table(RecurringJobs::Table)
        .col(RecurringJobs::NextExecution)
        .and_where(Expr::col(RecurringJobs::Paused).eq(false))
        .to_owned()
        .to_string(SqliteQueryBuilder)
}

/// Adds `n` to the count of (`state`, `queue`) in SQLite's single slot, in the workspace's
/// count after this migration (`workspace` names the row, `NEW` or `OLD`) or as m4 did.
fn sqlite_add(workspace: Option<&str>, state: &str, queue: &str, n: i32) -> String {
    match workspace {
        Some(row) => format!(
            "INSERT INTO job_counts (workspace, state, queue, slot, n) \
             VALUES ({row}.workspace, {state}, {queue}, 0, {n}) \
             ON CONFLICT (workspace, state, queue, slot) DO UPDATE SET n = n + {n};"
        ),
        None => format!(
            "INSERT INTO job_counts (state, queue, slot, n) VALUES ({state}, {queue}, 0, {n}) \
             ON CONFLICT (state, queue, slot) DO UPDATE SET n = n + {n};"
        ),
    }
}

const SQLITE_TRIGGERS: [&str; 5] = [
    "jobs_history_on_insert",
    "jobs_history_on_update",
    "jobs_count_insert",
    "jobs_count_delete",
    "jobs_count_update",
];

/// SQLite's triggers of m1 and m4 (named in [`SQLITE_TRIGGERS`]' order), with the workspace or
/// as they were.
fn sqlite_triggers(workspace: bool) -> [String; 5] {
    let (new, old) = match workspace {
        true => (Some("NEW"), Some("OLD")),
        false => (None, None),
    };
    [
        format!(
            "CREATE TRIGGER jobs_history_on_insert AFTER INSERT ON jobs BEGIN {} END",
            history_insert(workspace)
        ),
        format!(
            "CREATE TRIGGER jobs_history_on_update AFTER UPDATE OF state_at ON jobs BEGIN {} END",
            history_insert(workspace)
        ),
        format!(
            "CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN {} END",
            sqlite_add(new, "NEW.state", "NEW.queue", 1)
        ),
        format!(
            "CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN {} END",
            sqlite_add(old, "OLD.state", "OLD.queue", -1)
        ),
        // `workspace` never changes, so the column list stays.
        format!(
            "CREATE TRIGGER jobs_count_update AFTER UPDATE OF state, queue ON jobs \
             WHEN OLD.state <> NEW.state OR OLD.queue <> NEW.queue BEGIN {} {} END",
            sqlite_add(old, "OLD.state", "OLD.queue", -1),
            sqlite_add(new, "NEW.state", "NEW.queue", 1)
        ),
    ]
}

fn drop_sqlite_triggers() -> impl Iterator<Item = String> {
    SQLITE_TRIGGERS
        .iter()
        .rev()
        .map(|name| format!("DROP TRIGGER {name}"))
}

fn sqlite_up() -> Vec<String> {
    let mut up: Vec<String> = drop_sqlite_triggers().collect();
    for table in ["jobs", "job_history"] {
        up.push(format!(
            "ALTER TABLE {table} ADD COLUMN workspace TEXT NOT NULL DEFAULT ''"
        ));
    }
    up.push(SQLITE_WORKSPACES.to_owned());
    for rebuild in &REBUILDS {
        up.extend(rebuild.replace_with(rebuild.after));
        if rebuild.table == "recurring_jobs" {
            up.push(recurring_jobs_due());
        }
    }
    up.extend(sqlite_indexes().iter().flat_map(Change::up));
    up.extend(sqlite_triggers(true));
    up
}

fn sqlite_down() -> Vec<String> {
    let mut down: Vec<String> = KEYS.iter().map(|(table, _)| delete_shared(table)).collect();
    down.extend(drop_sqlite_triggers());
    down.extend(sqlite_indexes().iter().rev().flat_map(Change::down));
    for rebuild in REBUILDS.iter().rev() {
        down.extend(rebuild.replace_with(rebuild.before));
        if rebuild.table == "recurring_jobs" {
            down.push(recurring_jobs_due());
        }
    }
    down.push("DROP TABLE workspaces".to_owned());
    for table in ["job_history", "jobs"] {
        down.push(format!("ALTER TABLE {table} DROP COLUMN workspace"));
    }
    down.extend(sqlite_triggers(false));
    down
}

async fn run(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(&statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DbBackend::Sqlite => sqlite_up(),
            _ => postgres_up(),
        };
        run(manager, statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DbBackend::Sqlite => sqlite_down(),
            _ => postgres_down(),
        };
        run(manager, statements).await
    }

    /// PostgreSQL runs every migration in a transaction; this one asks SQLite to as well, for
    /// its rebuilds.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
