//! The storage mesh as real processes: a server with its mesh on (it is the
//! tracker), `nocturne node connect` processes, each with its own data
//! directory, and waiting on observable state with a deadline.
//!
//! Nothing here sleeps to synchronise: [`wait_until`] polls a condition the
//! test can see (a node's status, the admin's mesh view, the file list) and
//! fails with the last thing it saw once the deadline has passed.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset; `expect` would fail in those that use all of it"
)]

use std::{
    fmt::Write as _,
    fs::OpenOptions,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use tokio::process::{Child, Command};

use super::{
    Server, binary,
    client::{Client, encrypt},
};

/// The pause between two looks at a condition.
pub const POLL_PAUSE: Duration = Duration::from_millis(100);
/// How long a node may take to answer `node status` after it was started.
pub const NODE_STARTUP: Duration = Duration::from_secs(60);
/// How long every node may take to show up as connected at the tracker.
pub const JOIN_DEADLINE: Duration = Duration::from_secs(90);
/// A bound on any single command the tests run (`node status`, …).
const COMMAND_LIMIT: Duration = Duration::from_secs(30);
/// A bound on one download, so a read that hangs fails instead.
pub const DOWNLOAD_LIMIT: Duration = Duration::from_secs(300);
/// A bound on `node disconnect`, which hands every fragment on first.
pub const DISCONNECT_LIMIT: Duration = Duration::from_secs(300);
/// The coding every mesh test runs with: k data + m parity fragments.
pub const CODING: &str = "4+2";
pub const K: u64 = 4;
pub const FRAGMENTS: u64 = 6;
/// Upload parts: the server's default, so a 50 MiB file is a few requests.
pub const PART: u64 = 8 * 1024 * 1024;
pub const MIB: usize = 1024 * 1024;
/// What a test logs at: `NOCTURNE_TEST_LOG` when set (e.g. `debug`), else `warn`.
fn log_level() -> String {
    std::env::var("NOCTURNE_TEST_LOG").unwrap_or_else(|_| "warn".to_owned())
}

/// Polls `check` until it gives `Ok`, pausing [`POLL_PAUSE`] between looks.
/// `Err` carries what was seen; after `deadline` the test fails with `what`
/// and the last observation. Progress goes to stderr.
pub async fn wait_until<T>(
    what: &str,
    deadline: Duration,
    mut check: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut polls = 0u64;
    eprintln!("waiting until {what} (up to {deadline:?})");
    loop {
        polls += 1;
        let seen = match check().await {
            Ok(value) => {
                eprintln!(
                    "  {what}: after {:.1}s ({polls} looks)",
                    started.elapsed().as_secs_f64()
                );
                return value;
            }
            Err(seen) => seen,
        };
        if started.elapsed() >= deadline {
            panic!(
                "gave up after {deadline:?} ({polls} looks) waiting until {what}; last seen: {seen}"
            );
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            eprintln!(
                "  still waiting until {what} ({:.0}s): {seen}",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(POLL_PAUSE).await;
    }
}

/// A port that was free on `ip` a moment ago: bound, read, released. The
/// server's mesh listens on it, so a restarted server is at the same
/// address and the nodes, which redial the address they were given, find it.
pub fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap_or_else(|e| panic!("bind {ip}:0: {e}"))
        .local_addr()
        .expect("local address")
        .port()
}

/// `n` random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut bytes);
    bytes
}

/// Asserts `got == want` without printing megabytes when they differ.
pub fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if got == want {
        return;
    }
    let first = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    panic!(
        "{what}: {} bytes where {} were expected, first difference at byte {first}",
        got.len(),
        want.len()
    );
}

/// The last `max` bytes of `text`, on a character boundary.
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// The settings every mesh test runs with: quick grace, audits and repairs.
fn mesh_envs(mode: &str, listen: &str) -> Vec<(String, String)> {
    [
        ("NOCTURNE_MESH", mode),
        ("NOCTURNE_MESH_LISTEN", listen),
        ("NOCTURNE_MESH_CODING", CODING),
        ("NOCTURNE_MESH_GRACE", "2s"),
        ("NOCTURNE_MESH_AUDIT_INTERVAL", "1s"),
        ("NOCTURNE_MESH_REPAIR_INTERVAL", "1s"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// A server with its storage mesh on, in its own temporary directory.
pub struct MeshServer {
    pub server: Server,
    /// The multiaddr it printed (`…/p2p/<peer id>`): what nodes bootstrap from.
    pub tracker: String,
    /// What `NOCTURNE_MESH_LISTEN` was set to (a fixed port, see [`free_port`]).
    pub listen: String,
    /// The working directory; the server's data is in `data/` under it.
    pub dir: tempfile::TempDir,
    envs: Vec<(String, String)>,
    /// The logs of earlier runs of this server (before restarts).
    earlier_logs: String,
    running: bool,
}

impl MeshServer {
    /// A server on loopback in `mode` (`replicate` or `offload`) with the
    /// tests' settings; `extra` comes last, so it overrides them.
    pub async fn start(mode: &str, extra: &[(&str, &str)]) -> MeshServer {
        MeshServer::start_on("127.0.0.1", mode, extra).await
    }

    /// Like [`MeshServer::start`], its mesh listening on `ip` (which must be
    /// one of this machine's addresses); the HTTP side stays on loopback.
    pub async fn start_on(ip: &str, mode: &str, extra: &[(&str, &str)]) -> MeshServer {
        let listen = format!("/ip4/{ip}/tcp/{}", free_port(ip));
        let mut envs = mesh_envs(mode, &listen);
        envs.push(("RUST_LOG".to_owned(), log_level()));
        envs.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let (server, tracker) = MeshServer::launch(dir.path(), &envs, &listen).await;
        eprintln!("server at {}, mesh tracker at {tracker}", server.base);
        MeshServer {
            server,
            tracker,
            listen,
            dir,
            envs,
            earlier_logs: String::new(),
            running: true,
        }
    }

    async fn launch(cwd: &Path, envs: &[(String, String)], listen: &str) -> (Server, String) {
        let pairs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (server, before) = Server::start_after(&binary(), cwd, &pairs, 1).await;
        let line = before.first().unwrap_or_else(|| {
            panic!(
                "with the mesh on, the server printed no tracker line before its address; log:\n{}",
                server.logs()
            )
        });
        let tracker = line
            .strip_prefix("nocturne mesh tracker at ")
            .unwrap_or_else(|| panic!("unexpected line before the address: {line}"))
            .to_owned();
        assert!(
            tracker.starts_with(&format!("{listen}/p2p/")),
            "the tracker's address {tracker} is not {listen}/p2p/<peer id>"
        );
        (server, tracker)
    }

    pub fn base(&self) -> &str {
        &self.server.base
    }

    /// The tracker's peer id (the end of its multiaddr).
    pub fn peer_id(&self) -> &str {
        self.tracker
            .rsplit_once("/p2p/")
            .map(|(_, id)| id)
            .expect("the tracker's address ends with /p2p/<id>")
    }

    /// Where the server keeps a file's local blob.
    pub fn blob_path(&self, id: &str) -> PathBuf {
        self.dir.path().join("data/blobs").join(&id[..2]).join(id)
    }

    /// SIGKILL, then wait for the process to be gone.
    pub async fn kill(&mut self) {
        if !self.running {
            return;
        }
        self.server.child.start_kill().expect("SIGKILL the server");
        self.server.child.wait().await.expect("wait for the server");
        self.running = false;
        eprintln!("server killed");
    }

    /// Kills the server if it runs and starts it again on the same data
    /// and the same mesh address: it must come back as the same tracker
    /// (same peer id), or no node would find it again.
    pub async fn restart(&mut self) {
        self.kill().await;
        let _ = writeln!(
            self.earlier_logs,
            "--- server run before a restart ---\n{}",
            self.server.logs()
        );
        let (server, tracker) = MeshServer::launch(self.dir.path(), &self.envs, &self.listen).await;
        assert_eq!(
            tracker, self.tracker,
            "a restarted server must keep its mesh identity and address"
        );
        self.server = server;
        self.running = true;
        eprintln!("server restarted at {}", self.server.base);
    }

    /// Everything the server logged, earlier runs included.
    pub fn logs(&self) -> String {
        format!("{}{}", self.earlier_logs, self.server.logs())
    }
}

impl Drop for MeshServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- server log (tail) ---\n{}\n--- end of server log ---",
                tail(&self.logs(), 12_000)
            );
        }
    }
}

/// A `nocturne node connect` process and its data directory, which
/// outlives the process so the node can be restarted on it.
pub struct Node {
    pub name: String,
    pub child: Option<Child>,
    /// Known once it first answered `node status`; kept across restarts.
    pub peer_id: String,
    pub data_dir: PathBuf,
    pub tracker: String,
    pub max_storage: String,
    pub listen: String,
    /// Run inside this network namespace (`ip netns exec`), if any.
    pub netns: Option<String>,
    root: tempfile::TempDir,
    log: PathBuf,
}

/// What `node status --json` always has.
pub const STATUS_KEYS: [&str; 10] = [
    "peer_id",
    "listen_addrs",
    "connected_peers",
    "fragments",
    "bytes_used",
    "max_storage",
    "audits_passed",
    "audits_failed",
    "uptime_s",
    "state",
];

/// What each node of `GET /api/mesh` has.
pub const VIEW_NODE_KEYS: [&str; 8] = [
    "peer_id",
    "connected",
    "last_seen",
    "fragments",
    "bytes_used",
    "max_storage",
    "audits_passed",
    "audits_failed",
];

/// `ip`, wherever the distribution put it.
pub fn ip_binary() -> PathBuf {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("ip"))
}

impl Node {
    /// A node that is not started yet, on loopback, in a fresh directory.
    pub fn new(name: &str, tracker: &str, max_storage: &str) -> Node {
        let root = tempfile::tempdir().expect("tempdir");
        let data_dir = root.path().join("data");
        let log = root.path().join("node.log");
        Node {
            name: name.to_owned(),
            child: None,
            peer_id: String::new(),
            data_dir,
            tracker: tracker.to_owned(),
            max_storage: max_storage.to_owned(),
            listen: "/ip4/127.0.0.1/tcp/0".to_owned(),
            netns: None,
            root,
            log,
        }
    }

    /// Starts a node on loopback and waits until it answers `node status`.
    pub async fn start(name: &str, tracker: &str, max_storage: &str) -> Node {
        let mut node = Node::new(name, tracker, max_storage);
        node.launch().await;
        node
    }

    /// `nocturne …` for this node: the binary under test, directly or
    /// through `ip netns exec`, in a clean environment like the server's.
    fn command(&self) -> Command {
        let mut command = match &self.netns {
            Some(ns) => {
                let mut c = Command::new(ip_binary());
                c.args(["netns", "exec", ns]).arg(binary());
                c
            }
            None => Command::new(binary()),
        };
        command
            .current_dir(self.root.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", log_level())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// Starts `node connect` on this node's data directory and waits until
    /// it answers `node status`. The log file is appended to across restarts.
    pub async fn launch(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("node log");
        let mut command = self.command();
        command
            .args(["node", "connect", "--max-storage", &self.max_storage])
            .args(["--tracker", &self.tracker])
            .args(["--listen", &self.listen])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .stdout(log.try_clone().expect("node log"))
            .stderr(log);
        self.child = Some(command.spawn().expect("start nocturne node"));
        let started = Instant::now();
        let status = loop {
            if let Some(exit) = self
                .child
                .as_mut()
                .expect("started")
                .try_wait()
                .expect("try_wait")
            {
                panic!(
                    "{} exited during startup ({exit}); log:\n{}",
                    self.name,
                    self.logs()
                );
            }
            let seen = match self.try_status().await {
                Ok(status) if status["peer_id"].as_str().is_some_and(|p| !p.is_empty()) => {
                    break status;
                }
                Ok(status) => format!("a status without a peer id: {status}"),
                Err(e) => e,
            };
            assert!(
                started.elapsed() < NODE_STARTUP,
                "{} did not answer `node status` within {NODE_STARTUP:?}: {seen}; log:\n{}",
                self.name,
                self.logs()
            );
            tokio::time::sleep(POLL_PAUSE).await;
        };
        let peer_id = status["peer_id"].as_str().expect("peer id").to_owned();
        assert_eq!(status["state"], "running", "{}: {status}", self.name);
        for key in STATUS_KEYS {
            assert!(
                status.get(key).is_some(),
                "{}: `node status --json` lacks `{key}`: {status}",
                self.name
            );
        }
        assert!(status["listen_addrs"].is_array(), "{status}");
        if self.peer_id.is_empty() {
            self.peer_id = peer_id;
        } else {
            assert_eq!(
                peer_id, self.peer_id,
                "{} came back with another peer id on the same data dir",
                self.name
            );
        }
        eprintln!(
            "{} running as {} (pid {:?})",
            self.name,
            self.peer_id,
            self.child.as_ref().and_then(Child::id)
        );
    }

    /// Runs a `nocturne node …` subcommand on this node's data directory
    /// with `args` after it; returns (exit status, stdout, stderr).
    pub async fn run(
        &self,
        sub: &str,
        args: &[&str],
        limit: Duration,
    ) -> (ExitStatus, String, String) {
        let mut command = self.command();
        command
            .args(["node", sub])
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = tokio::time::timeout(limit, command.output())
            .await
            .unwrap_or_else(|_| panic!("`node {sub}` on {} did not finish in {limit:?}", self.name))
            .expect("run nocturne node");
        (
            output.status,
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// `node status --json`, or what went wrong.
    pub async fn try_status(&self) -> Result<Value, String> {
        let (status, stdout, stderr) = self.run("status", &["--json"], COMMAND_LIMIT).await;
        if !status.success() {
            return Err(format!(
                "`node status` on {}: {status}: {}{}",
                self.name,
                stdout.trim(),
                stderr.trim()
            ));
        }
        serde_json::from_str(&stdout).map_err(|e| {
            format!(
                "`node status --json` on {} is not JSON ({e}): {stdout}",
                self.name
            )
        })
    }

    /// `node status --json` of a node that must be running.
    pub async fn status(&self) -> Value {
        self.try_status()
            .await
            .unwrap_or_else(|e| panic!("{e}; log:\n{}", self.logs()))
    }

    /// The fragments it holds, by its own count.
    pub async fn fragments(&self) -> u64 {
        let status = self.status().await;
        status["fragments"]
            .as_u64()
            .unwrap_or_else(|| panic!("{}: no fragment count in {status}", self.name))
    }

    /// Whether the process is still there.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => child.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    /// SIGKILL, then wait for the process to be gone.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().expect("SIGKILL the node");
            child.wait().await.expect("wait for the node");
            eprintln!("{} ({}) killed", self.name, self.peer_id);
        }
    }

    /// Starts it again on the same data directory (killing it first if it
    /// still runs); it must come back with the same peer id.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.launch().await;
    }

    /// `nocturne node disconnect [args] --data-dir <dir>`: (exit status,
    /// stdout, stderr).
    pub async fn disconnect(&self, args: &[&str]) -> (ExitStatus, String, String) {
        self.run("disconnect", args, DISCONNECT_LIMIT).await
    }

    /// Waits for the node process to exit on its own.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("a running node");
        let status = tokio::time::timeout(limit, child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not exit within {limit:?}", self.name))
            .expect("wait for the node");
        eprintln!("{} exited: {status}", self.name);
        status
    }

    /// Every regular file under `<data-dir>/fragments/`, whatever its name.
    pub fn all_fragment_dir_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.data_dir.join("fragments")];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            // Entries may come and go while the node works: skip those.
            for entry in entries.flatten() {
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    stack.push(entry.path());
                } else if kind.is_file() {
                    out.push(entry.path());
                }
            }
        }
        out.sort();
        out
    }

    /// The fragment files it holds on disk: `fragments/<aa>/<32 hex>`, no
    /// extension (the `.meta` sidecars are left out).
    pub fn fragment_files(&self) -> Vec<PathBuf> {
        self.all_fragment_dir_files()
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()))
            })
            .collect()
    }

    /// Its log (stdout and stderr of every run).
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- {} ({}) log (tail) ---\n{}",
                self.name,
                self.peer_id,
                tail(&self.logs(), 3_000)
            );
        }
    }
}

/// The health the file list gives a file on the mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    pub healthy: u64,
    pub total: u64,
    pub local: bool,
}

/// `GET /api/mesh` as the administrator, or what went wrong.
pub async fn mesh_view(admin: &Client) -> Result<Value, String> {
    let response = admin
        .req(reqwest::Method::GET, "/api/mesh")
        .send()
        .await
        .map_err(|e| format!("GET /api/mesh: {e}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status != 200 {
        return Err(format!("GET /api/mesh: {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET /api/mesh is not JSON ({e}): {body}"))
}

/// A node's entry in the mesh view.
pub fn view_node<'a>(view: &'a Value, peer_id: &str) -> Option<&'a Value> {
    view["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["peer_id"] == peer_id)
}

/// A file's entry in `GET /api/files`, or what went wrong.
pub async fn listed_file(client: &Client, id: &str) -> Result<Value, String> {
    let response = client
        .req(reqwest::Method::GET, "/api/files")
        .send()
        .await
        .map_err(|e| format!("GET /api/files: {e}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status != 200 {
        return Err(format!("GET /api/files: {status}: {body}"));
    }
    let list: Value =
        serde_json::from_str(&body).map_err(|e| format!("GET /api/files is not JSON ({e})"))?;
    list["files"]
        .as_array()
        .and_then(|files| files.iter().find(|f| f["id"] == id))
        .cloned()
        .ok_or_else(|| format!("{id} is not in the file list: {body}"))
}

/// A file's mesh health from the file list: `None` while it is not on the
/// mesh (`"mesh": null`).
pub async fn health(client: &Client, id: &str) -> Result<Option<Health>, String> {
    let file = listed_file(client, id).await?;
    let mesh = &file["mesh"];
    if mesh.is_null() {
        return Ok(None);
    }
    let number = |k: &str| {
        mesh[k]
            .as_u64()
            .ok_or_else(|| format!("`mesh.{k}` is not a number in {file}"))
    };
    Ok(Some(Health {
        healthy: number("healthy")?,
        total: number("total")?,
        local: mesh["local"]
            .as_bool()
            .ok_or_else(|| format!("`mesh.local` is not a boolean in {file}"))?,
    }))
}

/// Every fragment confirmed on the mesh and, with `offload`, the local blob gone.
pub const OFFLOADED: Health = Health {
    healthy: FRAGMENTS,
    total: FRAGMENTS,
    local: false,
};

/// A download: (status, content-range header, body).
pub async fn download(
    client: &Client,
    id: &str,
    range: Option<&str>,
) -> (u16, Option<String>, Vec<u8>) {
    let mut request = client.req(reqwest::Method::GET, &format!("/api/files/{id}/content"));
    if let Some(range) = range {
        request = request.header("range", range);
    }
    let fetch = async {
        let response = request.send().await.expect("download");
        let status = response.status().as_u16();
        let content_range = response
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.expect("download body").to_vec();
        (status, content_range, body)
    };
    tokio::time::timeout(DOWNLOAD_LIMIT, fetch)
        .await
        .unwrap_or_else(|_| panic!("downloading {id} ({range:?}) took over {DOWNLOAD_LIMIT:?}"))
}

/// The whole file and three ranges of it (the start, a span across the
/// middle, the last 100 bytes) come back byte for byte.
pub async fn assert_downloads(client: &Client, id: &str, ciphertext: &[u8], when: &str) {
    let started = Instant::now();
    let (status, _, body) = download(client, id, None).await;
    assert_eq!(
        status,
        200,
        "{when}: whole download: {}",
        String::from_utf8_lossy(&body)
    );
    assert_same(&body, ciphertext, &format!("{when}: whole download"));
    let len = ciphertext.len();
    let middle_start = len / 5;
    let middle_end = (len / 5) * 3 + 6;
    for (range, from, to) in [
        (format!("bytes=0-{}", 999.min(len - 1)), 0, 1000.min(len)),
        (
            format!("bytes={middle_start}-{middle_end}"),
            middle_start,
            middle_end + 1,
        ),
        ("bytes=-100".to_owned(), len - 100, len),
    ] {
        let (status, content_range, body) = download(client, id, Some(&range)).await;
        assert_eq!(status, 206, "{when}: {range}");
        assert_eq!(
            content_range.as_deref(),
            Some(format!("bytes {from}-{}/{len}", to - 1).as_str()),
            "{when}: {range}"
        );
        assert_same(&body, &ciphertext[from..to], &format!("{when}: {range}"));
    }
    eprintln!(
        "{when}: downloads byte-exact ({:.1}s)",
        started.elapsed().as_secs_f64()
    );
}

/// A test's whole mesh: the server, its nodes, and the administrator (the
/// first account, logged in).
/// The administrator's password (also typed into a browser's log-in form).
pub const ADMIN_PASSWORD: &str = "an administrator's password, long enough";

pub struct Mesh {
    pub server: MeshServer,
    pub nodes: Vec<Node>,
    pub admin: Client,
}

impl Mesh {
    /// An `offload` server and one node per entry of `max_storage` (its
    /// `--max-storage`), all connected to it.
    pub async fn start(max_storage: &[&str], extra: &[(&str, &str)]) -> Mesh {
        let server = MeshServer::start("offload", extra).await;
        let nodes = start_nodes(&server.tracker, max_storage).await;
        Mesh::with(server, nodes).await
    }

    /// Puts a started server and nodes together: registers the
    /// administrator and waits until every node is connected.
    pub async fn with(server: MeshServer, nodes: Vec<Node>) -> Mesh {
        let mut admin = Client::new(server.base(), "admin");
        assert_eq!(admin.register(ADMIN_PASSWORD, None).await.status(), 201);
        assert_eq!(admin.login(ADMIN_PASSWORD).await, 200);
        let mesh = Mesh {
            server,
            nodes,
            admin,
        };
        let view = mesh_view(&mesh.admin)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(view["coding"], CODING, "{view}");
        mesh.wait_connected(&mesh.live_indices()).await;
        let view = mesh.view().await;
        assert!(view["mode"].is_string(), "{view}");
        for key in ["total", "placed", "pending", "degraded"] {
            assert!(view["files"][key].is_u64(), "`files.{key}` in {view}");
        }
        for node in view["nodes"].as_array().expect("nodes") {
            for key in VIEW_NODE_KEYS {
                assert!(node.get(key).is_some(), "`{key}` of a node in {view}");
            }
        }
        mesh
    }

    /// Indices of the nodes whose process runs (not killed, not exited).
    pub fn live_indices(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.child.is_some())
            .map(|(i, _)| i)
            .collect()
    }

    /// Waits until the mesh view shows each of `nodes` connected.
    pub async fn wait_connected(&self, nodes: &[usize]) {
        let peers: Vec<&str> = nodes
            .iter()
            .map(|&i| self.nodes[i].peer_id.as_str())
            .collect();
        wait_until(
            &format!("{} nodes are connected to the tracker", peers.len()),
            JOIN_DEADLINE,
            async || {
                let view = mesh_view(&self.admin).await?;
                let missing: Vec<&&str> = peers
                    .iter()
                    .filter(|p| view_node(&view, p).is_none_or(|n| n["connected"] != true))
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!("not connected: {missing:?}; view: {view}"))
                }
            },
        )
        .await;
    }

    /// Uploads `plaintext` encrypted as the browser would; returns the
    /// file's id and its ciphertext (what the server and the mesh hold).
    pub async fn upload(&self, name: &str, plaintext: &[u8]) -> (String, Vec<u8>) {
        let started = Instant::now();
        let file = encrypt(name, plaintext, noctis::format::CipherId::Aes256Gcm);
        let meta = self.admin.upload(&file, PART).await;
        let id = meta["id"].as_str().expect("id").to_owned();
        eprintln!(
            "uploaded {name}: {id}, {} bytes of ciphertext ({:.1}s)",
            file.ciphertext.len(),
            started.elapsed().as_secs_f64()
        );
        (id, file.ciphertext)
    }

    /// `GET /api/mesh`, which must answer.
    pub async fn view(&self) -> Value {
        mesh_view(&self.admin)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Node `i`'s entry in the mesh view, or what was seen instead.
    pub async fn node_view(&self, i: usize) -> Result<Value, String> {
        let view = mesh_view(&self.admin).await?;
        let peer = &self.nodes[i].peer_id;
        view_node(&view, peer).cloned().ok_or_else(|| {
            format!(
                "{} ({peer}) is not in the mesh view: {view}",
                self.nodes[i].name
            )
        })
    }

    /// The file's health from the file list (see [`health`]).
    pub async fn health(&self, id: &str) -> Result<Option<Health>, String> {
        health(&self.admin, id).await
    }

    /// Waits until the file is at full health with its local blob dropped,
    /// from the server's disk too.
    pub async fn wait_offloaded(&self, id: &str, deadline: Duration) {
        wait_until(
            &format!("{id} is on {FRAGMENTS} fragments and off the server"),
            deadline,
            async || {
                let health = self.health(id).await?;
                let blob = self.server.blob_path(id).exists();
                if health == Some(OFFLOADED) && !blob {
                    Ok(())
                } else {
                    Err(format!("health {health:?}, local blob on disk: {blob}"))
                }
            },
        )
        .await;
    }

    /// Each running node's fragment count (by `node status`), by index.
    pub async fn counts(&self) -> Result<Vec<(usize, u64)>, String> {
        let mut out = Vec::new();
        for i in self.live_indices() {
            let status = self.nodes[i].try_status().await?;
            let n = status["fragments"]
                .as_u64()
                .ok_or_else(|| format!("{}: no fragment count in {status}", self.nodes[i].name))?;
            out.push((i, n));
        }
        Ok(out)
    }

    /// Running nodes holding at least one fragment.
    pub async fn holders(&self) -> Vec<usize> {
        self.counts()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .filter(|&(_, n)| n > 0)
            .map(|(i, _)| i)
            .collect()
    }

    /// Waits until the (only) file is at full health, its blob off the
    /// server, and its fragments sit one each on [`FRAGMENTS`] distinct
    /// running nodes, by the nodes' own counts.
    pub async fn wait_spread(&self, id: &str, what: &str, deadline: Duration) {
        wait_until(what, deadline, async || {
            let health = self.health(id).await?;
            let counts = self.counts().await?;
            let sum: u64 = counts.iter().map(|&(_, n)| n).sum();
            let spread = counts.iter().all(|&(_, n)| n <= 1);
            if health == Some(OFFLOADED) && sum == FRAGMENTS && spread {
                Ok(())
            } else {
                Err(format!(
                    "health {health:?}, fragments per running node {counts:?}"
                ))
            }
        })
        .await;
    }

    /// Checks each holder really has its fragment on disk, each at least a
    /// k-th of the ciphertext (what any k of them must add up to).
    pub fn assert_fragments_on_disk(&self, holders: &[usize], ciphertext_len: usize) {
        for &i in holders {
            let node = &self.nodes[i];
            let files = node.fragment_files();
            assert!(
                !files.is_empty(),
                "{} reports fragments but has no fragment file under {}: {:?}",
                node.name,
                node.data_dir.display(),
                node.all_fragment_dir_files()
            );
            for f in &files {
                let len = std::fs::metadata(f).expect("fragment file").len();
                assert!(
                    len >= (ciphertext_len as u64).div_ceil(K),
                    "{}: fragment {} is {len} bytes, less than a {K}th of {ciphertext_len}",
                    node.name,
                    f.display()
                );
            }
        }
    }
}

/// Starts one node per entry of `max_storage`, all at once.
pub async fn start_nodes(tracker: &str, max_storage: &[&str]) -> Vec<Node> {
    futures_util::future::join_all(
        max_storage
            .iter()
            .enumerate()
            .map(|(i, size)| async move { Node::start(&format!("node-{i}"), tracker, size).await }),
    )
    .await
}
