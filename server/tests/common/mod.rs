//! Starting the real `nocturne` binary for tests: a fresh data directory,
//! port 0, and the address read from the line the server prints once ready.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset; `expect` would fail in those that use all of it"
)]

pub mod agent;
pub mod browser;
pub mod client;
pub mod look;
pub mod mesh;

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// How long a server may take to become ready before the test fails. A
/// bound on waiting, not a synchronisation point: readiness is the printed line.
const STARTUP_LIMIT: Duration = Duration::from_secs(60);

/// The release binary with the site embedded, which `cargo xtask test`
/// builds and names in `NOCTURNE_TEST_BIN`. Tests that are about the shipped
/// artifact use this and refuse to run on anything else.
pub fn release_binary() -> PathBuf {
    std::env::var_os("NOCTURNE_TEST_BIN")
        .map(PathBuf::from)
        .expect(
            "NOCTURNE_TEST_BIN is not set: this test checks the release binary; run it through \
         `cargo xtask test`",
        )
}

/// The binary under test: `NOCTURNE_TEST_BIN` (the release build with the
/// site embedded, set by `cargo xtask test`), else the one cargo built for
/// this test run.
pub fn binary() -> PathBuf {
    std::env::var_os("NOCTURNE_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_nocturne")))
}

/// A running server, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// Where the server's stderr (its logs) goes.
    log: tempfile::NamedTempFile,
}

impl Server {
    /// Starts `binary` in `cwd` with `envs` on top of a clean environment
    /// (only PATH is kept) and port 0 on loopback; logs go to a file.
    pub async fn start(binary: &Path, cwd: &Path, envs: &[(&str, &str)]) -> Server {
        Server::start_after(binary, cwd, envs, 0).await.0
    }

    /// Like [`Server::start`], for a server that prints `preamble` lines
    /// before the one with its address (with the storage mesh on, the mesh
    /// tracker's address); returns the lines it printed before that one
    /// (fewer than `preamble` if the address came early).
    pub async fn start_after(
        binary: &Path,
        cwd: &Path,
        envs: &[(&str, &str)],
        preamble: usize,
    ) -> (Server, Vec<String>) {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PORT", "0")
            .env("NOCTURNE_BIND", "127.0.0.1")
            .env("RUST_LOG", "warn")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.reopen().expect("log file"))
            .kill_on_drop(true);
        let mut child = command.spawn().expect("start nocturne");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut before = Vec::with_capacity(preamble);
        let line = tokio::time::timeout(STARTUP_LIMIT, async {
            loop {
                let line = lines.next_line().await.expect("read stdout");
                let line = line.unwrap_or_else(|| {
                    panic!(
                        "nocturne exited before listening; its log:\n{}",
                        std::fs::read_to_string(log.path()).unwrap_or_default()
                    )
                });
                // The address line ends the preamble early, so a missing
                // preamble line shows as such rather than as a timeout.
                if before.len() == preamble || line.starts_with("nocturne listening on ") {
                    return line;
                }
                before.push(line);
            }
        })
        .await
        .expect("nocturne did not report its address in time");
        let base = line
            .strip_prefix("nocturne listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        (Server { child, base, log }, before)
    }

    /// Everything the server has logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        tokio::time::timeout(STARTUP_LIMIT, self.child.wait())
            .await
            .expect("nocturne did not stop after SIGTERM")
            .expect("wait")
    }
}
