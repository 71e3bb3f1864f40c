//! Storage that cannot be written for a while, seen through the standalone server: a SQLite
//! file locked by another process, a full disk (a file-size limit of zero), PostgreSQL
//! stopped. The server keeps answering, says `unavailable` (503) where it needs storage,
//! recovers by itself when storage comes back, and every job it accepted runs.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{HttpResponse, web};
use common::backend;
use common::listener::Listener;
use common::private_postgres::PrivatePostgres;
use common::server::{Answer, Server};
use common::{PATIENCE, wait_for};
use serde_json::{Value, json};
use tokio::sync::watch;

const WS: &str = "default";
const JOBS: usize = 200;

/// Accepts, in one batch, a job that calls `gate` and then `JOBS` short sleeping jobs; their
/// count.
async fn accept_jobs(server: &Server, gate: &Gate) -> u64 {
    let call = json!({"type": "http", "args": {"url": gate.url()}});
    let sleeps = (0..JOBS).map(|_| json!({"type": "sleep", "args": {"ms": 20}}));
    let jobs: Vec<Value> = std::iter::once(call).chain(sleeps).collect();
    let count = jobs.len() as u64;
    server.enqueue_batch(WS, jobs).await;
    count
}

/// An HTTP endpoint that answers only once opened: an `http` job calling it keeps running
/// until the test lets it finish.
struct Gate {
    listener: Listener,
    calls: Arc<AtomicUsize>,
    open: watch::Sender<bool>,
}

impl Gate {
    async fn start() -> Gate {
        let calls = Arc::new(AtomicUsize::new(0));
        let (open, opened) = watch::channel(false);
        let counted = calls.clone();
        let listener = Listener::start(move |routes| {
            let (calls, opened) = (counted.clone(), opened.clone());
            routes.default_service(web::to(move || {
                calls.fetch_add(1, Ordering::SeqCst);
                let mut opened = opened.clone();
                async move {
                    let _ = opened.wait_for(|open| *open).await;
                    HttpResponse::NoContent().finish()
                }
            }));
        });
        Gate {
            listener,
            calls,
            open,
        }
    }

    fn url(&self) -> String {
        self.listener.url("/")
    }

    async fn wait_for_a_call(&self) {
        wait_for("the gated job to call", PATIENCE, || async {
            (self.calls.load(Ordering::SeqCst) > 0).then_some(())
        })
        .await
    }

    fn open(&self) {
        self.open.send_replace(true);
    }

    async fn stop(self) {
        self.listener.stop().await;
    }
}

/// Asks to enqueue one no-op job.
async fn enqueue_one(server: &Server) -> Answer {
    let job = json!({"type": "noop"});
    server
        .post(&format!("/api/workspaces/{WS}/jobs"), job)
        .await
}

/// What a server says while its storage is gone: 503 `unavailable` for an enqueue, and still
/// 200 for its health check.
async fn assert_unavailable(server: &Server) {
    let refused = enqueue_one(server).await;
    assert_eq!(
        (refused.status, refused.code()),
        (503, "unavailable"),
        "{:?}",
        refused.body
    );
    assert_eq!(server.get("/healthz").await.status, 200);
}

/// Enqueues one job once storage is back (the server found it again by itself). A pooled
/// PostgreSQL connection the outage ended fails its first statement, as during the outage:
/// the client is told 503 and tries again, as clients do. Nothing refused is stored (the
/// caller counts the jobs that run).
async fn assert_accepts_again(server: &Server) {
    wait_for("an enqueue accepted after the outage", PATIENCE, || async {
        let answer = enqueue_one(server).await;
        match answer.status {
            201 => Some(()),
            503 => None,
            status => panic!("answered {status}: {:?}", answer.body),
        }
    })
    .await;
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

/// Accepts jobs, starts an outage with `outage` (dropping what it returns ends it), checks
/// the server's answers while it lasts (reads too, when `readers_go_on`), then that the
/// server recovers by itself and runs every job it accepted.
///
/// A job is running when the outage begins and finishes during it, and the outage lasts
/// until the server has failed to store that job's outcome: a failed write inside the
/// runtime, not only in a request, is what once left SQLite's writer in a transaction that
/// never committed.
async fn survives<G>(server: &Server, readers_go_on: bool, outage: impl FnOnce() -> G) {
    let gate = Gate::start().await;
    let accepted = accept_jobs(server, &gate).await;
    gate.wait_for_a_call().await;
    let ongoing = outage();
    assert_unavailable(server).await;
    if readers_go_on {
        let read = server
            .get(&format!("/api/workspaces/{WS}/jobs?limit=1"))
            .await;
        assert_eq!(read.status, 200, "{:?}", read.body);
    }
    gate.open();
    server.wait_for_log("storing outcomes failed").await;
    drop(ongoing);
    assert_accepts_again(server).await;
    server.wait_for_all_succeeded(WS, accepted + 1).await;
    gate.stop().await;
}

#[actix_rt::test]
async fn a_sqlite_file_locked_by_another_process() {
    if backend::on_postgres() {
        eprintln!("a SQLite file lock: nothing to test on PostgreSQL");
        return;
    }
    let server = Server::start(&["--workers", "4", "--http-allow", "127.0.0.1"]).await;
    let file = backend::sqlite_file(&backend::storage(server.data_dir()), WS).unwrap();
    survives(&server, true, || LockHolder::take(&file)).await;
}

/// A soft file-size limit on a process, as `ulimit -f` sets it, until dropped.
struct FileSizeLimit {
    pid: u32,
}

impl FileSizeLimit {
    fn set(pid: u32, bytes: u64) -> FileSizeLimit {
        prlimit(pid, &bytes.to_string());
        FileSizeLimit { pid }
    }
}

impl Drop for FileSizeLimit {
    fn drop(&mut self) {
        prlimit(self.pid, "unlimited");
    }
}

fn prlimit(pid: u32, soft: &str) {
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
    let server = Server::start(&["--workers", "4", "--http-allow", "127.0.0.1"]).await;
    // No file of the server's may grow any more: every write fails as on a full disk. Reads
    // are not asserted: one that needs a new reader connection fails too under this limit,
    // since SQLite writes to the `-shm` file when it connects (readers connect on first use).
    survives(&server, false, || FileSizeLimit::set(server.pid(), 0)).await;
}

/// A PostgreSQL server stopped until dropped.
struct Stopped<'a>(&'a PrivatePostgres);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        self.0.resume();
    }
}

#[actix_rt::test]
#[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
async fn postgresql_stopped() {
    backend::required_postgres_url();
    assert!(
        PrivatePostgres::available(),
        "PostgreSQL 15 binaries are installed"
    );
    let postgres = PrivatePostgres::start();
    let server = Server::start_on_postgres(
        &postgres.url(),
        &["--workers", "4", "--http-allow", "127.0.0.1"],
    )
    .await;
    survives(&server, false, || {
        postgres.stop();
        Stopped(&postgres)
    })
    .await;
}
