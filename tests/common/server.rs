//! The real `stoker` binary serving on a loopback port, and a client for it.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::{PATIENCE, wait_for};

/// A `stoker serve` process on a temporary data directory (or a fresh PostgreSQL database); stopped with SIGTERM when dropped.
pub struct Server {
    child: Child,
    log: Log,
    pub base: String,
    pub client: awc::Client,
    killed: bool,
    _dir: tempfile::TempDir,
}

/// An answer: its status and its JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Server {
    /// Starts `stoker serve` with `args` besides bind and storage (a temporary data
    /// directory, or a fresh PostgreSQL database), and waits until it answers its health check.
    pub async fn start(args: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let storage = super::backend::cli_flags(&super::backend::storage(dir.path()));
        Server::spawn(dir, &storage, args).await
    }

    /// Starts `stoker serve` on `storage`, which servers started before or after may share.
    pub async fn start_on(storage: &stoker::StorageConfig, args: &[&str]) -> Server {
        let flags = super::backend::cli_flags(storage);
        Server::spawn(tempfile::tempdir().unwrap(), &flags, args).await
    }

    /// Starts `stoker serve` on the PostgreSQL database `url`, which other servers may share.
    pub async fn start_on_postgres(url: &str, args: &[&str]) -> Server {
        let storage = ["--database-url".to_owned(), url.to_owned()];
        Server::spawn(tempfile::tempdir().unwrap(), &storage, args).await
    }

    async fn spawn(dir: tempfile::TempDir, storage: &[String], args: &[&str]) -> Server {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_stoker"))
            .arg("serve")
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .args(storage)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Log::follow(child.stdout.take().unwrap());
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .finish();
        let server = Server {
            child,
            log,
            base: format!("http://127.0.0.1:{port}"),
            client,
            killed: false,
            _dir: dir,
        };
        wait_for("the server to answer", PATIENCE, || async {
            let health = server
                .client
                .get(format!("{}/healthz", server.base))
                .send()
                .await;
            health
                .ok()
                .filter(|answer| answer.status().is_success())
                .map(drop)
        })
        .await;
        server
    }

    /// Runs `stoker serve` with `args` (and a data directory of its own), which must stop at
    /// start with an error before it creates anything; answers what it wrote to stderr.
    pub fn refuses_to_start(args: &[&str]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_stoker"))
            .arg("serve")
            .args(["--bind", &format!("127.0.0.1:{}", free_port())])
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env_remove("STOKER_TOKENS")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("stoker serve {args:?} kept running");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(
            !status.success(),
            "stoker serve {args:?} stopped without an error"
        );
        let created: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(created.is_empty(), "created {created:?} before refusing");
        stderr
    }

    /// The data directory of a SQLite server from [`Server::start`].
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Waits until the server has logged a line containing `text`.
    pub async fn wait_for_log(&self, text: &str) {
        let what = format!("the server to log {text:?}");
        wait_for(&what, PATIENCE, || async {
            self.log.contains(text).then_some(())
        })
        .await
    }

    /// The server's process id (part of its server id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL: no shutdown, no cleanup.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.killed = true;
    }

    async fn answer<S>(mut response: awc::ClientResponse<S>) -> Answer
    where
        S: futures::Stream<Item = Result<actix_web::web::Bytes, actix_web::error::PayloadError>>
            + Unpin,
    {
        let status = response.status().as_u16();
        let bytes = response.body().limit(16 * 1024 * 1024).await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer { status, body }
    }

    /// `GET path` with `headers`.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        Server::answer(request.send().await.unwrap()).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Answer {
        self.get_with(path, &[]).await
    }

    /// `method path` with a JSON body and `headers`.
    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Answer {
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        Server::answer(request.send_json(body).await.unwrap()).await
    }

    /// `POST path` without a body, with `headers`: what a page of any site can make a browser
    /// send without asking first (no preflight).
    pub async fn post_bare(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = self.client.post(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        Server::answer(request.send().await.unwrap()).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send_with("POST", path, &body, &[]).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.send_with("PUT", path, &body, &[]).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Answer {
        let request = self.client.delete(format!("{}{path}", self.base));
        Server::answer(request.send().await.unwrap()).await
    }

    /// `POST path` with a raw body and content type.
    pub async fn post_raw(&self, path: &str, body: Vec<u8>, content_type: &str) -> Answer {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .insert_header(("content-type", content_type));
        Server::answer(request.send_body(body).await.unwrap()).await
    }

    /// Waits until job `id` of workspace `ws` is in `state`; returns its details.
    pub async fn wait_for_job(&self, ws: &str, id: &str, state: &str) -> Value {
        let path = format!("/api/workspaces/{ws}/jobs/{id}");
        wait_for(&format!("job {id} to be {state}"), PATIENCE, || async {
            let answer = self.get(&path).await;
            (answer.body["state"] == state).then_some(answer.body)
        })
        .await
    }
}

impl Server {
    /// Enqueues `jobs` into workspace `ws` in one batch, which must be accepted.
    pub async fn enqueue_batch(&self, ws: &str, jobs: Vec<Value>) {
        let path = format!("/api/workspaces/{ws}/jobs/batch");
        let answer = self.post(&path, serde_json::json!({ "jobs": jobs })).await;
        assert_eq!(answer.status, 201, "{:?}", answer.body);
    }

    /// Waits until workspace `ws` holds exactly `count` jobs, every one of them succeeded:
    /// all accepted jobs ran, and none was lost or left failed.
    pub async fn wait_for_all_succeeded(&self, ws: &str, count: u64) {
        let path = format!("/api/workspaces/{ws}/stats");
        let what = format!("all {count} jobs of {ws} to succeed");
        let unfinished = [
            "enqueued",
            "scheduled",
            "processing",
            "failed",
            "deleted",
            "awaiting",
        ];
        wait_for(&what, PATIENCE * 2, || async {
            let stats = self.get(&path).await.body;
            let done =
                stats["succeeded"] == count && unfinished.iter().all(|state| stats[state] == 0);
            done.then_some(())
        })
        .await;
    }
}

/// What a server logs: each line is passed on to the test's own output and kept, so that a
/// test can wait for the server to report something.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<String>>);

impl Log {
    fn follow(output: ChildStdout) -> Log {
        let log = Log::default();
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(output).lines().map_while(Result::ok) {
                println!("{line}");
                let mut text = kept.0.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        log
    }

    fn contains(&self, text: &str) -> bool {
        self.0.lock().unwrap().contains(text)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.killed {
            return;
        }
        // SIGTERM: the graceful path the binary promises.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
