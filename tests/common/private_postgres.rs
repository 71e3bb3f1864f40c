//! A PostgreSQL server of a test's own, which the test may stop and start again: from the
//! machine's PostgreSQL 15 binaries, on a temporary data directory and a loopback port, run as
//! the `postgres` user when the test runs as root (`initdb` refuses root).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct PrivatePostgres {
    data: tempfile::TempDir,
    port: u16,
}

/// Runs PostgreSQL's `program` with `args`, as `postgres` when we are root; whether it
/// succeeded.
fn pg(program: &str, args: &[&str]) -> bool {
    let binary = Path::new(BIN).join(program);
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let mut command = if root {
        let mut runuser = Command::new("runuser");
        runuser.args(["-u", "postgres", "--"]).arg(&binary);
        runuser
    } else {
        Command::new(&binary)
    };
    let status = command.args(args).stdout(Stdio::null()).status();
    status.is_ok_and(|status| status.success())
}

fn run(program: &str, args: &[&str]) {
    assert!(pg(program, args), "{program} {args:?} failed");
}

impl PrivatePostgres {
    /// Whether the binaries are here.
    pub fn available() -> bool {
        Path::new(BIN).join("initdb").exists()
    }

    /// Initialises a cluster and starts it.
    pub fn start() -> PrivatePostgres {
        let data = tempfile::Builder::new()
            .prefix("stoker-pg")
            .tempdir()
            .unwrap();
        let _ = Command::new("chown")
            .args(["postgres"])
            .arg(data.path())
            .status();
        let dir = data.path().display().to_string();
        run(
            "initdb",
            &["-D", &dir, "-U", "postgres", "-A", "trust", "--no-sync"],
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = PrivatePostgres { data, port };
        server.resume();
        server
    }

    fn dir(&self) -> PathBuf {
        self.data.path().to_owned()
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server, dropping every connection.
    pub fn stop(&self) {
        let dir = self.dir().display().to_string();
        run("pg_ctl", &["-D", &dir, "-m", "fast", "-w", "stop"]);
    }

    /// Starts the (stopped) server again on the same port.
    pub fn resume(&self) {
        let dir = self.dir().display().to_string();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {dir} -c fsync=off",
            self.port
        );
        let log = format!("{dir}/server.log");
        run(
            "pg_ctl",
            &["-D", &dir, "-l", &log, "-o", &options, "-w", "start"],
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let dir = self.dir().display().to_string();
        pg("pg_ctl", &["-D", &dir, "-m", "immediate", "-w", "stop"]);
    }
}
