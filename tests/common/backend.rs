//! The backend a test stores in: SQLite files in its temporary directory, or — when
//! `STOKER_TEST_DATABASE_URL` names a PostgreSQL server — a database of its own there, named
//! after that directory, so that tests run in parallel without meeting and a test that opens
//! its storage twice finds what it stored.

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

/// Storage for one test: SQLite in `dir`, or the PostgreSQL database that goes with `dir`.
pub fn storage(dir: &Path) -> StorageConfig {
    match postgres_url() {
        Some(url) => {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            dir.hash(&mut hasher);
            StorageConfig::postgres(database(&url, &format!("test_{:016x}", hasher.finish())))
        }
        None => StorageConfig::sqlite(dir),
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

/// A connection to workspace `name`'s tables, to check what was stored (or plant a row).
pub async fn connect(storage: &StorageConfig, name: &str) -> DatabaseConnection {
    match storage {
        StorageConfig::Sqlite { dir } => {
            let file = dir.join(format!("{name}.db"));
            Database::connect(format!("sqlite://{}?mode=rw", file.display()))
                .await
                .unwrap()
        }
        StorageConfig::Postgres { url } => {
            let mut options = ConnectOptions::new(url.clone());
            options
                .set_schema_search_path(format!("\"{name}\""))
                .max_connections(1)
                .sqlx_logging(false);
            Database::connect(options).await.unwrap()
        }
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
