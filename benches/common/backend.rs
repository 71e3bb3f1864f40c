//! The backend a benchmark measures: SQLite files in a temporary directory, or — when
//! `STOKER_BENCH_DATABASE_URL` names a PostgreSQL server (`scripts/bench-postgres` starts one)
//! — a fresh database there, whose committed transactions are counted from
//! `pg_stat_database.xact_commit`, and which is dropped when the run is over.
//!
//! `STOKER_BENCH_PLACEMENT` picks where the workspaces' rows live: `files` (a SQLite file per
//! workspace, the default on SQLite) or `file` (one SQLite file for all); `shared` (the shared
//! tables of schema `stoker`, the default on PostgreSQL) or `schemas` (a schema per
//! workspace).

use sea_orm::sqlx::postgres::PgConnection;
use sea_orm::sqlx::{self, Connection};
use stoker::StorageConfig;

/// Where one benchmark run stores its jobs.
pub struct Backend {
    pub storage: StorageConfig,
    /// The server's admin URL and the database's name, on PostgreSQL.
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

/// The placement `STOKER_BENCH_PLACEMENT` asks for, if any.
fn placement() -> Option<String> {
    std::env::var("STOKER_BENCH_PLACEMENT")
        .ok()
        .filter(|placement| !placement.is_empty())
}

impl Backend {
    /// A new, empty place to store in.
    pub async fn fresh() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        match std::env::var("STOKER_BENCH_DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                let name = format!("bench_{:016x}", rand::random::<u64>());
                let mut admin = PgConnection::connect(&url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let (server, _) = url.rsplit_once('/').unwrap();
                let database = format!("{server}/{name}");
                let storage = match placement().as_deref() {
                    None | Some("shared") => StorageConfig::postgres(database),
                    Some("schemas") => StorageConfig::postgres_schema_per_workspace(database),
                    Some(other) => panic!("STOKER_BENCH_PLACEMENT={other}: shared or schemas"),
                };
                Backend {
                    storage,
                    postgres: Some((url.clone(), name)),
                    _dir: dir,
                }
            }
            _ => Backend {
                storage: match placement().as_deref() {
                    None | Some("files") => StorageConfig::sqlite(dir.path()),
                    Some("file") => StorageConfig::sqlite_file(dir.path().join("stoker.db")),
                    Some(other) => panic!("STOKER_BENCH_PLACEMENT={other}: files or file"),
                },
                postgres: None,
                _dir: dir,
            },
        }
    }

    /// The placement, for the report.
    pub fn label(&self) -> String {
        self.storage.to_string()
    }

    /// Whether this run stores in PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// Connections open to the database now (PostgreSQL only).
    pub async fn connections(&self) -> Option<i64> {
        let (url, name) = self.postgres.as_ref()?;
        let mut admin = PgConnection::connect(url).await.unwrap();
        let count = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
            .bind(name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
        Some(count)
    }

    /// Transactions committed in the database so far (PostgreSQL only). Read after the
    /// runtime shut down: a backend reports its counts when it exits, at the latest.
    pub async fn commits(&self) -> Option<i64> {
        let (url, name) = self.postgres.as_ref()?;
        let mut admin = PgConnection::connect(url).await.unwrap();
        let commits =
            sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = $1")
                .bind(name)
                .fetch_one(&mut admin)
                .await
                .unwrap();
        Some(commits)
    }
}

/// Drops the run's database, so that runs do not leave tables behind for autovacuum to work
/// through while the next run is measured.
impl Drop for Backend {
    fn drop(&mut self) {
        let Some((url, name)) = self.postgres.take() else {
            return;
        };
        let dropping = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&url).await.unwrap();
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                    .execute(&mut admin)
                    .await
                    .unwrap();
            });
        });
        dropping.join().unwrap();
    }
}
