//! Storage that cannot be written for a while, seen through the standalone server: a SQLite
//! file locked by another process, a full disk (a file-size limit of zero), PostgreSQL
//! stopped. The server keeps answering, says `unavailable` (503) where it needs storage,
//! recovers by itself when storage comes back, and every job it accepted runs.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use common::backend;
use common::private_postgres::PrivatePostgres;
use common::server::Server;
use serde_json::{Value, json};

const WS: &str = "default";
const JOBS: usize = 200;

/// Accepts `JOBS` short sleeping jobs in one batch; their count.
async fn accept_jobs(server: &Server) -> u64 {
    let jobs: Vec<Value> = (0..JOBS)
        .map(|_| json!({"type": "sleep", "args": {"ms": 20}}))
        .collect();
    let answer = server
        .post(
            &format!("/api/workspaces/{WS}/jobs/batch"),
            json!({"jobs": jobs}),
        )
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    JOBS as u64
}

/// What a server says while its storage is gone: 503 `unavailable` for an enqueue, and still
/// 200 for its health check.
async fn assert_unavailable(server: &Server) {
    let refused = server
        .post(
            &format!("/api/workspaces/{WS}/jobs"),
            json!({"type": "noop"}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (503, "unavailable"),
        "{:?}",
        refused.body
    );
    assert_eq!(server.get("/healthz").await.status, 200);
}

/// Enqueues one job once storage is back (the server found it again by itself).
async fn assert_accepts_again(server: &Server) {
    let accepted = server
        .post(
            &format!("/api/workspaces/{WS}/jobs"),
            json!({"type": "noop"}),
        )
        .await;
    assert_eq!(accepted.status, 201, "{:?}", accepted.body);
}

/// Another process holding SQLite's write lock on a database file until dropped.
struct LockHolder {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl LockHolder {
    const SCRIPT: &str = "import sqlite3, sys\n\
        db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n\
        db.execute('BEGIN EXCLUSIVE')\n\
        print('locked', flush=True)\n\
        sys.stdin.read()\n\
        db.execute('ROLLBACK')\n";

    fn take(file: &Path) -> LockHolder {
        let mut child = Command::new("python3")
            .args(["-c", Self::SCRIPT])
            .arg(file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut said = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut said)
            .unwrap();
        assert_eq!(
            said.trim(),
            "locked",
            "the lock holder did not get its lock"
        );
        let stdin = child.stdin.take();
        LockHolder { child, stdin }
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.flush();
        }
        let _ = self.child.wait();
    }
}

#[actix_rt::test]
async fn a_sqlite_file_locked_by_another_process() {
    if backend::on_postgres() {
        eprintln!("a SQLite file lock: nothing to test on PostgreSQL");
        return;
    }
    let server = Server::start(&["--workers", "4"]).await;
    let accepted = accept_jobs(&server).await;

    let lock = LockHolder::take(&server.data_dir().join(format!("{WS}.db")));
    assert_unavailable(&server).await;
    let read = server
        .get(&format!("/api/workspaces/{WS}/jobs?limit=1"))
        .await;
    assert_eq!(read.status, 200, "readers are not blocked: {:?}", read.body);
    drop(lock);

    assert_accepts_again(&server).await;
    server.wait_for_all_succeeded(WS, accepted + 1).await;
}

/// Sets the soft file-size limit of process `pid` (`None`: no limit), as `ulimit -f` would.
fn limit_file_size(pid: u32, bytes: Option<u64>) {
    let soft = bytes.map_or("unlimited".to_owned(), |bytes| bytes.to_string());
    let status = Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--fsize={soft}:unlimited"),
        ])
        .status()
        .expect("prlimit runs");
    assert!(status.success(), "prlimit failed");
}

#[actix_rt::test]
async fn a_full_disk() {
    if backend::on_postgres() {
        eprintln!("the disk under PostgreSQL is the database server's: tested on SQLite");
        return;
    }
    let server = Server::start(&["--workers", "4"]).await;
    let accepted = accept_jobs(&server).await;

    // No file of the server's may grow any more: every write fails as on a full disk.
    limit_file_size(server.pid(), Some(0));
    assert_unavailable(&server).await;
    limit_file_size(server.pid(), None);

    assert_accepts_again(&server).await;
    server.wait_for_all_succeeded(WS, accepted + 1).await;
}

#[actix_rt::test]
async fn postgresql_stopped() {
    if !backend::on_postgres() || !PrivatePostgres::available() {
        eprintln!("not the PostgreSQL pass, or no PostgreSQL binaries: skipping");
        return;
    }
    let postgres = PrivatePostgres::start();
    let server = Server::start_on_postgres(&postgres.url(), &["--workers", "4"]).await;
    let accepted = accept_jobs(&server).await;

    postgres.stop();
    assert_unavailable(&server).await;
    postgres.resume();

    assert_accepts_again(&server).await;
    server.wait_for_all_succeeded(WS, accepted + 1).await;
}
