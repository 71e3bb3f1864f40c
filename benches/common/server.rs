//! The real `stoker` binary serving on a loopback port, for benchmarks that measure it over
//! HTTP; stopped with SIGTERM when dropped.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub struct ServerProcess {
    child: Child,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts `stoker serve` on a temporary SQLite directory with `args` besides bind and
    /// storage, and waits until it answers its health check.
    pub async fn start(args: &[&str]) -> ServerProcess {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_stoker"))
            .args([
                "serve",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir.path())
            .args(args)
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap();
        let server = ServerProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let client = awc::Client::default();
        let started = Instant::now();
        while client
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server
    }

    /// The server's process id, as `/proc` names it.
    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid()).status();
        let _ = self.child.wait();
    }
}
