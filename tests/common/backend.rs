//! The backend a test stores in: SQLite in its temporary directory, or — when
//! `STOKER_TEST_DATABASE_URL` names a PostgreSQL server — a database of its own there, named
//! after that directory, so that tests run in parallel without meeting and a test that opens
//! its storage twice finds what it stored.
//!
//! `STOKER_TEST_PLACEMENT` picks where the workspaces' rows live: `files` (a SQLite file per
//! workspace, the default without PostgreSQL), `file` (one SQLite file for all), `shared` (the
//! shared tables of schema `stoker`, the default with PostgreSQL), `schemas` (a schema per
//! workspace) or `databases` (a database per workspace).

use std::hash::{Hash, Hasher};
use std::path::Path;

use sea_orm::sqlx::postgres::PgConnection;
use sea_orm::sqlx::{self, Connection};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use stoker::StorageConfig;

/// The server tests run on PostgreSQL with, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("STOKER_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// The PostgreSQL server of the PostgreSQL pass, for a test that needs one (such tests are
/// `#[ignore]`d, so that the SQLite pass shows them skipped, and run by the PostgreSQL pass).
pub fn required_postgres_url() -> String {
    postgres_url().expect("a PostgreSQL-only test runs in the PostgreSQL pass of scripts/test")
}

/// Whether this run stores in PostgreSQL.
pub fn on_postgres() -> bool {
    postgres_url().is_some()
}

/// Where this run puts the workspaces' rows (see the module's documentation).
pub fn placement() -> String {
    let default = match on_postgres() {
        true => "shared",
        false => "files",
    };
    std::env::var("STOKER_TEST_PLACEMENT")
        .ok()
        .filter(|placement| !placement.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// Storage for one test, in this run's placement: SQLite in `dir`, or the PostgreSQL
/// database that goes with `dir`.
pub fn storage(dir: &Path) -> StorageConfig {
    let placement = placement();
    let Some(url) = postgres_url() else {
        return match placement.as_str() {
            "files" => StorageConfig::sqlite(dir),
            "file" => StorageConfig::sqlite_file(dir.join("stoker.db")),
            other => panic!("STOKER_TEST_PLACEMENT={other} needs STOKER_TEST_DATABASE_URL"),
        };
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut hasher);
    let name = format!("t{:015x}", hasher.finish() >> 4);
    match placement.as_str() {
        "shared" => StorageConfig::postgres(database(&url, &name)),
        "schemas" => StorageConfig::postgres_schema_per_workspace(database(&url, &name)),
        // Stoker creates each workspace's database, named after the test and the workspace.
        "databases" => {
            StorageConfig::postgres(with_database(&url, &format!("{name}_{{workspace}}")))
        }
        other => panic!("STOKER_TEST_PLACEMENT={other} is not a PostgreSQL placement"),
    }
}

/// The `stoker` command's flags for `storage`.
pub fn cli_flags(storage: &StorageConfig) -> Vec<String> {
    match storage {
        StorageConfig::Sqlite { dir } => vec!["--data-dir".into(), dir.display().to_string()],
        StorageConfig::SqliteFile { path } => {
            vec![
                "--database-url".into(),
                format!("sqlite:{}", path.display()),
            ]
        }
        StorageConfig::Postgres { url } => vec!["--database-url".into(), url.clone()],
        StorageConfig::PostgresSchemas { url } => vec![
            "--database-url".into(),
            url.clone(),
            "--schema-per-workspace".into(),
        ],
        other => panic!("no flags for {other:?}"),
    }
}

/// A new, empty database on the server `url` names; returns its URL.
pub fn fresh_database(url: &str) -> String {
    database(url, &format!("test_{:016x}", rand::random::<u64>()))
}

/// Database `name` on the server `url` names, created unless it exists; returns its URL.
fn database(url: &str, name: &str) -> String {
    let name = name.to_owned();
    let admin = url.to_owned();
    let create = name.clone();
    // Tests call this from inside their runtime: a thread of its own may block on another.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut connection = PgConnection::connect(&admin).await.unwrap();
            let exists: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                    .bind(&create)
                    .fetch_optional(&mut connection)
                    .await
                    .unwrap();
            if exists.is_none() {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {create}")))
                    .execute(&mut connection)
                    .await
                    .unwrap();
            }
        });
    })
    .join()
    .unwrap();
    with_database(url, &name)
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (server, query) = url
        .split_once('?')
        .map_or((url, None), |(s, q)| (s, Some(q)));
    let authority_end = server
        .find("://")
        .map(|scheme| scheme + 3)
        .and_then(|start| server[start..].find('/').map(|slash| start + slash))
        .unwrap_or(server.len());
    let base = &server[..authority_end];
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// A connection to the tables that hold workspace `name`'s rows, to check what was stored
/// (or plant a row); [`key`] is the `workspace` value of its rows there.
pub async fn connect(storage: &StorageConfig, name: &str) -> DatabaseConnection {
    let (url, schema) = store_of(storage, name);
    let mut options = ConnectOptions::new(url);
    options.max_connections(1).sqlx_logging(false);
    if let Some(schema) = schema {
        options.set_schema_search_path(format!("\"{schema}\""));
    }
    Database::connect(options).await.unwrap()
}

/// A connection to the database that holds workspace `name`'s rows as an application
/// connects to its own database: with the server's default search path on PostgreSQL.
pub async fn application_database(storage: &StorageConfig, name: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(store_of(storage, name).0);
    options.sqlx_logging(false);
    Database::connect(options).await.unwrap()
}

/// The URL of the database that holds workspace `name`'s rows, and the schema they are in.
fn store_of<'a>(storage: &StorageConfig, name: &'a str) -> (String, Option<&'a str>) {
    match storage {
        StorageConfig::Sqlite { .. } | StorageConfig::SqliteFile { .. } => {
            let file = sqlite_file(storage, name).unwrap();
            (format!("sqlite://{}?mode=rw", file.display()), None)
        }
        StorageConfig::Postgres { url } if url.contains("{workspace}") => {
            (url.replace("{workspace}", name), Some(name))
        }
        StorageConfig::Postgres { url } => (url.clone(), Some("stoker")),
        StorageConfig::PostgresSchemas { url } => (url.clone(), Some(name)),
        other => panic!("no connection for {other:?}"),
    }
}

/// The SQLite file that holds workspace `name`'s rows, if `storage` is SQLite.
pub fn sqlite_file(storage: &StorageConfig, name: &str) -> Option<std::path::PathBuf> {
    match storage {
        StorageConfig::Sqlite { dir } => Some(dir.join(format!("{name}.db"))),
        StorageConfig::SqliteFile { path } => Some(path.clone()),
        _ => None,
    }
}

/// The `workspace` value of workspace `name`'s rows in `storage`: its name where workspaces
/// share the tables, `''` in a store of its own.
pub fn key<'a>(storage: &StorageConfig, name: &'a str) -> &'a str {
    match storage {
        StorageConfig::SqliteFile { .. } => name,
        StorageConfig::Postgres { url } if !url.contains("{workspace}") => name,
        _ => "",
    }
}

/// How many connections stoker holds to database `database` on the server `url` names.
pub async fn count_connections(url: &str, database: &str) -> i64 {
    let mut connection = PgConnection::connect(url).await.unwrap();
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = $1 AND application_name = 'stoker'",
    )
    .bind(database)
    .fetch_one(&mut connection)
    .await
    .unwrap();
    let _ = connection.close().await;
    count
}
