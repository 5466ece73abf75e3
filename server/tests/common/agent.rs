//! The agent mesh as real processes: `nocturne agent setup`, `start`,
//! `status`, `endorse`, `enroll` and `stop`, each agent in its own data
//! directory, its local API reached with its bearer token.
//!
//! Nothing here sleeps to synchronise: readiness is the two lines `agent
//! start` prints, and everything else waits on what the agents report with
//! [`wait_until`] and a deadline.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset; `expect` would fail in those that use all of it"
)]

use std::{
    collections::BTreeSet,
    fs::OpenOptions,
    io::Write as _,
    path::{Path, PathBuf},
    process::{ExitStatus, Output, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use super::{
    binary,
    mesh::{random_bytes, wait_until},
};

/// How long `agent start` may take to print its two ready lines, and then
/// to answer `agent status`.
pub const STARTUP: Duration = Duration::from_secs(90);
/// A bound on any one command that should finish quickly (`setup`,
/// `status`, `endorse`, `stop`, a refused `enroll`).
pub const COMMAND_LIMIT: Duration = Duration::from_secs(60);
/// A bound on `agent enroll`, which waits until the certificate is stored.
pub const ENROLL_LIMIT: Duration = Duration::from_secs(120);
/// How long every agent may take to connect to the swarm.
pub const JOIN_DEADLINE: Duration = Duration::from_secs(120);
/// A bound on one request to the local API (a query may walk the DHT).
const REQUEST_LIMIT: Duration = Duration::from_secs(90);
/// The largest content a knowledge entry may have, in bytes.
pub const MAX_CONTENT: usize = 16 * 1024;
/// What `agent status --json` (and `GET /api/status`) always has.
pub const STATUS_KEYS: [&str; 9] = [
    "peer_id",
    "operator",
    "label",
    "enrolled",
    "network",
    "listen_addrs",
    "peers",
    "records",
    "api",
];
/// What every knowledge entry the API returns has.
pub const ENTRY_KEYS: [&str; 12] = [
    "id",
    "author",
    "author_enrolled",
    "author_quarantined",
    "domain",
    "content",
    "kind",
    "confidence",
    "sources",
    "tags",
    "created_at",
    "untrusted",
];

/// Numbers the files this module writes, so no two have the same name.
static FILES: AtomicUsize = AtomicUsize::new(0);

/// What a test logs at: `NOCTURNE_TEST_LOG` when set (e.g. `debug`), else `warn`.
fn log_level() -> String {
    std::env::var("NOCTURNE_TEST_LOG").unwrap_or_else(|_| "warn".to_owned())
}

/// Bytes a process printed, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A temporary path as the `&str` a command line takes.
pub fn path_str(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()))
}

/// Whether `s` is an operator id or a network: 64 lowercase hex digits.
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// `n` random bytes as lowercase hex (an operator id for `n` = 32).
pub fn random_hex(n: usize) -> String {
    hex(&random_bytes(n))
}

/// A random word of `n` lowercase letters, to find an entry by its text.
pub fn random_word(n: usize) -> String {
    random_bytes(n)
        .iter()
        .map(|b| char::from(b'a' + b % 26))
        .collect()
}

/// The last `max` bytes of `text`, on a character boundary.
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Writes a genesis file: a comment, then one operator id per line.
pub fn write_genesis(path: &Path, operators: &[&str]) {
    let mut body = String::from("# the founding operators of a test network\n");
    for op in operators {
        body.push_str(op);
        body.push('\n');
    }
    std::fs::write(path, body).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// `nocturne agent …` in `cwd`, in a clean environment (only PATH and
/// RUST_LOG), killed if the test lets go of it.
pub fn agent_command(cwd: &Path) -> Command {
    let mut command = Command::new(binary());
    command
        .arg("agent")
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", log_level())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs `nocturne agent <args>` in `cwd` to its end, within `limit`.
pub async fn run_agent(cwd: &Path, args: &[&str], limit: Duration) -> Output {
    let what = format!("`nocturne agent {}`", args.join(" "));
    let mut command = agent_command(cwd);
    command.args(args);
    tokio::time::timeout(limit, command.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}"))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Checks a command failed with one readable line on stderr, nothing on
/// stdout and no panic; returns that line.
pub fn one_line(output: &Output, what: &str) -> String {
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert!(
        !output.status.success(),
        "{what} must fail; stdout: {stdout}; stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{what} panicked: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{what}: one line on stderr, not: {stderr:?}"
    );
    assert!(
        stdout.trim().is_empty(),
        "{what} printed on stdout: {stdout}"
    );
    eprintln!("{what}: {}", stderr.trim_end());
    stderr.trim_end().to_owned()
}

/// An agent: its data directory (in a temporary directory of its own,
/// beside its log), its process once started, and what it reported.
pub struct Agent {
    pub name: String,
    /// What `setup` printed.
    pub operator: String,
    pub label: String,
    /// What the first line of `start` said; kept across restarts.
    pub peer_id: String,
    pub network: String,
    /// From `agent status` once started, each ending in `/p2p/<peer id>`.
    pub listen_addrs: Vec<String>,
    /// The local API's base URL, `http://127.0.0.1:<port>`.
    pub api: String,
    /// The local API's bearer token, from `<data dir>/api.token`.
    pub token: String,
    pub data_dir: PathBuf,
    /// Declared before `root` so the process goes before its directory.
    child: Option<Child>,
    http: reqwest::Client,
    log: PathBuf,
    root: tempfile::TempDir,
}

impl Agent {
    /// An agent not set up yet, in a fresh temporary directory.
    pub fn new(name: &str) -> Agent {
        let root = tempfile::tempdir().expect("tempdir");
        let data_dir = root.path().join("agent");
        let log = root.path().join("agent.log");
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_LIMIT)
            .build()
            .expect("an HTTP client");
        Agent {
            name: name.to_owned(),
            operator: String::new(),
            label: String::new(),
            peer_id: String::new(),
            network: String::new(),
            listen_addrs: Vec::new(),
            api: String::new(),
            token: String::new(),
            data_dir,
            child: None,
            http,
            log,
            root,
        }
    }

    /// The temporary directory holding the data directory and the log:
    /// the working directory of every command, and where files go.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The data directory, for a command line.
    pub fn dir(&self) -> &str {
        path_str(&self.data_dir)
    }

    /// `<data dir>/operator.key`.
    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join("operator.key")
    }

    /// A path in the agent's temporary directory no other call returned.
    pub fn fresh_path(&self, prefix: &str, extension: &str) -> PathBuf {
        let n = FILES.fetch_add(1, Ordering::Relaxed);
        self.root.path().join(format!("{prefix}-{n}.{extension}"))
    }

    /// Runs `nocturne agent <args>` in the agent's directory (the caller
    /// adds `--data-dir` where it wants one).
    pub async fn run(&self, args: &[&str], limit: Duration) -> Output {
        run_agent(self.root.path(), args, limit).await
    }

    /// `agent setup --label <label>`: checks it printed the operator id
    /// alone on stdout, and returns it.
    pub async fn setup(&mut self, label: &str) -> String {
        let output = self
            .run(
                &["setup", "--label", label, "--data-dir", self.dir()],
                COMMAND_LIMIT,
            )
            .await;
        let stdout = text(&output.stdout);
        assert!(
            output.status.success(),
            "{}: `agent setup` failed ({}): {}",
            self.name,
            output.status,
            text(&output.stderr)
        );
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "{}: `agent setup` must print the operator id alone: {stdout:?}",
            self.name
        );
        assert!(
            is_hex64(lines[0]),
            "{}: `agent setup` printed {:?}, not 64 lowercase hex digits",
            self.name,
            lines[0]
        );
        self.operator = lines[0].to_owned();
        self.label = label.to_owned();
        eprintln!("{} set up: operator {}", self.name, self.operator);
        self.operator.clone()
    }

    /// `agent start --genesis <genesis> [--bootstrap …]` on loopback with
    /// port 0 for the API; waits for its two ready lines, its token and
    /// port files and its answer to `agent status`, and checks they agree.
    pub async fn start(&mut self, genesis: &Path, bootstrap: &[String]) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let started = Instant::now();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("agent log");
        let mut command = agent_command(self.root.path());
        command
            .args(["start", "--data-dir", self.dir(), "--genesis"])
            .arg(genesis)
            .args(["--listen", "/ip4/127.0.0.1/tcp/0", "--api-port", "0"]);
        for addr in bootstrap {
            command.args(["--bootstrap", addr.as_str()]);
        }
        command.stdout(Stdio::piped()).stderr(log);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.name));
        let stdout = child.stdout.take().expect("stdout piped");
        self.child = Some(child);

        let mut lines = BufReader::new(stdout).lines();
        let read = tokio::time::timeout(STARTUP, async {
            let mut got = Vec::new();
            while got.len() < 2 {
                match lines.next_line().await {
                    Ok(Some(line)) => got.push(line),
                    Ok(None) => {
                        return Err(format!("it exited after printing {got:?}"));
                    }
                    Err(e) => return Err(format!("reading its stdout: {e}")),
                }
            }
            Ok(got)
        })
        .await;
        let got = match read {
            Ok(Ok(got)) => got,
            Ok(Err(e)) => panic!("{} did not start: {e}; log:\n{}", self.name, self.logs()),
            Err(_) => panic!(
                "{} did not print its two ready lines within {STARTUP:?}; log:\n{}",
                self.name,
                self.logs()
            ),
        };
        // Whatever else it prints goes to its log, so it never writes to a
        // closed pipe.
        let log_path = self.log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut file) = OpenOptions::new().append(true).open(&log_path) {
                    let _ = writeln!(file, "(stdout) {line}");
                }
            }
        });

        let (peer_id, network) = got[0]
            .strip_prefix("nocturne agent ")
            .and_then(|rest| rest.split_once(" on network "))
            .map(|(peer, network)| (peer.to_owned(), network.to_owned()))
            .unwrap_or_else(|| {
                panic!(
                    "{}: the first line of `agent start` is {:?}, not \
                     `nocturne agent <peer id> on network <64 hex>`",
                    self.name, got[0]
                )
            });
        assert!(
            !peer_id.is_empty() && !peer_id.contains(char::is_whitespace),
            "{}: peer id {peer_id:?}",
            self.name
        );
        assert!(
            is_hex64(&network),
            "{}: network {network:?} is not 64 lowercase hex digits",
            self.name
        );
        let api = got[1]
            .strip_prefix("nocturne agent api at ")
            .unwrap_or_else(|| {
                panic!(
                    "{}: the second line of `agent start` is {:?}, not \
                     `nocturne agent api at http://127.0.0.1:<port>`",
                    self.name, got[1]
                )
            })
            .to_owned();
        let port: u16 = api
            .strip_prefix("http://127.0.0.1:")
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "{}: the API is at {api}, not http://127.0.0.1:<port>",
                    self.name
                )
            });
        if !self.peer_id.is_empty() {
            assert_eq!(
                peer_id, self.peer_id,
                "{} came back with another peer id on the same data directory",
                self.name
            );
        }
        self.peer_id = peer_id;
        self.network = network;
        self.api = api.trim_end_matches('/').to_owned();

        let dir = self.data_dir.clone();
        let (token, written_port) = wait_until(
            &format!("{} has written api.token and api.port", self.name),
            Duration::from_secs(30),
            async || {
                let token = std::fs::read_to_string(dir.join("api.token"))
                    .map_err(|e| format!("api.token: {e}"))?;
                let port = std::fs::read_to_string(dir.join("api.port"))
                    .map_err(|e| format!("api.port: {e}"))?;
                if token.trim().is_empty() || port.trim().is_empty() {
                    return Err(format!("api.token {token:?}, api.port {port:?}"));
                }
                Ok((token.trim().to_owned(), port.trim().to_owned()))
            },
        )
        .await;
        assert_eq!(
            token.lines().count(),
            1,
            "{}: api.token is not one line",
            self.name
        );
        assert_eq!(
            written_port.parse::<u16>().ok(),
            Some(port),
            "{}: api.port says {written_port:?}, the printed line {}",
            self.name,
            self.api
        );
        self.token = token;

        let status = wait_until(
            &format!("{} answers `agent status`", self.name),
            STARTUP,
            async || self.try_status().await,
        )
        .await;
        self.check_status(&status);
        let listen_addrs: Vec<String> = status["listen_addrs"]
            .as_array()
            .map(|addrs| {
                addrs
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            !listen_addrs.is_empty(),
            "{}: no listen address in {status}",
            self.name
        );
        self.listen_addrs = listen_addrs;
        eprintln!(
            "{} running as {} (pid {:?}), api {}, listening on {:?} ({:.1}s)",
            self.name,
            self.peer_id,
            self.child.as_ref().and_then(Child::id),
            self.api,
            self.listen_addrs,
            started.elapsed().as_secs_f64()
        );
    }

    /// Checks a status (from the CLI or the API) has every key, of the
    /// right type, and agrees with what the agent printed when it started.
    pub fn check_status(&self, status: &Value) {
        let name = &self.name;
        for key in STATUS_KEYS {
            assert!(
                status.get(key).is_some(),
                "{name}: the status lacks `{key}`: {status}"
            );
        }
        assert_eq!(
            status["peer_id"].as_str(),
            Some(self.peer_id.as_str()),
            "{name}: {status}"
        );
        assert_eq!(
            status["operator"].as_str(),
            Some(self.operator.as_str()),
            "{name}: {status}"
        );
        assert_eq!(
            status["label"].as_str(),
            Some(self.label.as_str()),
            "{name}: {status}"
        );
        assert_eq!(
            status["network"].as_str(),
            Some(self.network.as_str()),
            "{name}: {status}"
        );
        assert_eq!(
            status["api"].as_str().map(|a| a.trim_end_matches('/')),
            Some(self.api.as_str()),
            "{name}: {status}"
        );
        assert!(status["enrolled"].is_boolean(), "{name}: {status}");
        assert!(status["peers"].is_u64(), "{name}: {status}");
        assert!(status["records"].is_u64(), "{name}: {status}");
        let addrs = status["listen_addrs"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: `listen_addrs` is not an array: {status}"));
        let suffix = format!("/p2p/{}", self.peer_id);
        for addr in addrs {
            assert!(
                addr.as_str().is_some_and(|a| a.ends_with(&suffix)),
                "{name}: listen address {addr} does not end in {suffix}"
            );
        }
    }

    /// The address other agents bootstrap from: its first loopback
    /// listen address.
    pub fn bootstrap_addr(&self) -> String {
        self.listen_addrs
            .iter()
            .find(|a| a.starts_with("/ip4/127.0.0.1/"))
            .or_else(|| self.listen_addrs.first())
            .unwrap_or_else(|| panic!("{} has no listen address", self.name))
            .clone()
    }

    /// `agent status --json`, or what went wrong.
    pub async fn try_status(&self) -> Result<Value, String> {
        let output = self
            .run(
                &["status", "--json", "--data-dir", self.dir()],
                COMMAND_LIMIT,
            )
            .await;
        let stdout = text(&output.stdout);
        if !output.status.success() {
            return Err(format!(
                "`agent status` on {}: {}: {}{}",
                self.name,
                output.status,
                stdout.trim(),
                text(&output.stderr).trim()
            ));
        }
        serde_json::from_str(&stdout).map_err(|e| {
            format!(
                "`agent status --json` on {} is not JSON ({e}): {stdout}",
                self.name
            )
        })
    }

    /// `agent status --json` of an agent that must be running.
    pub async fn status(&self) -> Value {
        let status = self
            .try_status()
            .await
            .unwrap_or_else(|e| panic!("{e}; log:\n{}", tail(&self.logs(), 3_000)));
        self.check_status(&status);
        status
    }

    /// Whether its process was started and not killed or stopped since.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// `<api><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    /// A request to the local API with the agent's token, to add to.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    /// A request to the local API with the token and, if any, a JSON
    /// body: (status, body as JSON, or as a JSON string if it is not JSON).
    pub async fn try_api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let what = format!("{}: {method} {path}", self.name);
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| format!("{what}: {e}"))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| format!("{what}: reading the body: {e}"))?;
        let value = match serde_json::from_str(&body) {
            Ok(value) => value,
            Err(_) => Value::String(body),
        };
        Ok((status, value))
    }

    /// `GET <path>` on the local API, which must answer.
    pub async fn api_get(&self, path: &str) -> (u16, Value) {
        self.try_api(reqwest::Method::GET, path, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `POST <path>` with a JSON body on the local API, which must answer.
    pub async fn api_post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.try_api(reqwest::Method::POST, path, Some(body))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `GET <path>` expecting 200: its body, or what was seen instead.
    pub async fn try_get_ok(&self, path: &str) -> Result<Value, String> {
        let (status, body) = self.try_api(reqwest::Method::GET, path, None).await?;
        if status == 200 {
            Ok(body)
        } else {
            Err(format!("{}: GET {path}: {status}: {body}", self.name))
        }
    }

    /// `GET /api/status`, or what went wrong.
    pub async fn api_status(&self) -> Result<Value, String> {
        self.try_get_ok("/api/status").await
    }

    /// The enrolled operators by `GET /api/operators`, or what went wrong.
    pub async fn operators(&self) -> Result<BTreeSet<String>, String> {
        let body = self.try_get_ok("/api/operators").await?;
        let list = body["enrolled"].as_array().ok_or_else(|| {
            format!(
                "{}: `enrolled` is not an array in GET /api/operators: {body}",
                self.name
            )
        })?;
        list.iter()
            .map(|op| {
                op.as_str().map(str::to_owned).ok_or_else(|| {
                    format!(
                        "{}: an enrolled operator that is not a string: {body}",
                        self.name
                    )
                })
            })
            .collect()
    }

    /// `POST /api/knowledge`, which must answer 201 with an id of 64 hex
    /// digits; returns the id.
    pub async fn publish(&self, entry: &Value) -> String {
        let (status, body) = self.api_post("/api/knowledge", entry).await;
        assert_eq!(
            status, 201,
            "{}: POST /api/knowledge {entry}: {body}",
            self.name
        );
        let id = body["id"].as_str().unwrap_or_else(|| {
            panic!(
                "{}: no id in the answer to POST /api/knowledge: {body}",
                self.name
            )
        });
        assert!(
            is_hex64(id),
            "{}: the id {id:?} is not 64 lowercase hex digits",
            self.name
        );
        eprintln!(
            "{} published {id} ({} bytes of content)",
            self.name,
            entry["content"].as_str().map_or(0, str::len)
        );
        id.to_owned()
    }

    /// `GET /api/knowledge?<query>`: its entries, or what went wrong.
    pub async fn query(&self, query: &str) -> Result<Vec<Value>, String> {
        let path = format!("/api/knowledge?{query}");
        let body = self.try_get_ok(&path).await?;
        body["entries"].as_array().cloned().ok_or_else(|| {
            format!(
                "{}: `entries` is not an array in GET {path}: {body}",
                self.name
            )
        })
    }

    /// The entry `id` from `GET /api/knowledge?<query>`, or what was seen.
    pub async fn find(&self, query: &str, id: &str) -> Result<Value, String> {
        let entries = self.query(query).await?;
        entries
            .iter()
            .find(|e| e["id"].as_str() == Some(id))
            .cloned()
            .ok_or_else(|| {
                let ids: Vec<&str> = entries.iter().filter_map(|e| e["id"].as_str()).collect();
                format!(
                    "{}: {id} is not among the {} entries of ?{query}: {ids:?}",
                    self.name,
                    entries.len()
                )
            })
    }

    /// SIGKILL, then wait for the process to be gone.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().expect("SIGKILL the agent");
            child.wait().await.expect("wait for the agent");
            eprintln!("{} ({}) killed", self.name, self.peer_id);
        }
    }

    /// `agent stop`, which must succeed once the peer has exited; returns
    /// the peer's own exit status.
    pub async fn stop(&mut self) -> ExitStatus {
        let output = self
            .run(&["stop", "--data-dir", self.dir()], COMMAND_LIMIT)
            .await;
        assert!(
            output.status.success(),
            "{}: `agent stop` failed ({}): {}{}",
            self.name,
            output.status,
            text(&output.stdout),
            text(&output.stderr)
        );
        let mut child = self.child.take().expect("a running agent");
        let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{}: `agent stop` returned but the peer still runs 30 s later",
                    self.name
                )
            })
            .expect("wait for the agent");
        eprintln!("{} stopped: {exit}", self.name);
        exit
    }

    /// `agent enroll --endorsements <files, comma-separated>`.
    pub async fn enroll(&self, endorsements: &[PathBuf]) -> Output {
        let list = endorsements
            .iter()
            .map(|p| path_str(p).to_owned())
            .collect::<Vec<_>>()
            .join(",");
        self.run(
            &["enroll", "--endorsements", &list, "--data-dir", self.dir()],
            ENROLL_LIMIT,
        )
        .await
    }

    /// Its log: stderr of every run, and any stdout after the ready lines.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- {} ({}) log (tail) ---\n{}",
                self.name,
                self.peer_id,
                tail(&self.logs(), 2_000)
            );
        }
    }
}

/// Checks `agent endorse` wrote an endorsement to `out`.
fn check_endorsement(output: &Output, out: &Path, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        text(&output.stderr)
    );
    let body = std::fs::read_to_string(out)
        .unwrap_or_else(|e| panic!("{what}: no endorsement in {}: {e}", out.display()));
    let json: Result<Value, _> = serde_json::from_str(&body);
    assert!(
        json.as_ref().is_ok_and(Value::is_object),
        "{what}: the endorsement is not a JSON object: {body}"
    );
}

/// `endorser` endorses `operator` on its own network (the one its data
/// directory recorded when its peer started): `agent endorse --operator
/// <operator> --key <its operator.key> --data-dir <its dir> --out <file>`.
/// Returns the file, in the endorser's directory.
pub async fn endorse(endorser: &Agent, operator: &str) -> PathBuf {
    let out = endorser.fresh_path("endorsement", "json");
    let key = endorser.key_path();
    let output = endorser
        .run(
            &[
                "endorse",
                "--operator",
                operator,
                "--key",
                path_str(&key),
                "--data-dir",
                endorser.dir(),
                "--out",
                path_str(&out),
            ],
            COMMAND_LIMIT,
        )
        .await;
    let what = format!("{} endorsing {operator}", endorser.name);
    check_endorsement(&output, &out, &what);
    out
}

/// Like [`endorse`], for the network `genesis` names (`--genesis` instead
/// of `--data-dir`).
pub async fn endorse_on(endorser: &Agent, operator: &str, genesis: &Path) -> PathBuf {
    let out = endorser.fresh_path("endorsement", "json");
    let key = endorser.key_path();
    let output = endorser
        .run(
            &[
                "endorse",
                "--operator",
                operator,
                "--key",
                path_str(&key),
                "--genesis",
                path_str(genesis),
                "--out",
                path_str(&out),
            ],
            COMMAND_LIMIT,
        )
        .await;
    let what = format!(
        "{} endorsing {operator} on the network of {}",
        endorser.name,
        genesis.display()
    );
    check_endorsement(&output, &out, &what);
    out
}

/// A test network: agents set up in their own directories, the genesis
/// file naming the first of them, all started on loopback, each but the
/// first bootstrapping from the first.
pub struct Swarm {
    pub agents: Vec<Agent>,
    pub genesis: PathBuf,
    dir: tempfile::TempDir,
}

impl Swarm {
    /// `n` agents (`agent-0` …) set up; the genesis lists the first
    /// `founders` of them. `agent-0` starts first, then the others at once,
    /// bootstrapping from it; waits until every one has a peer.
    pub async fn start(n: usize, founders: usize) -> Swarm {
        Swarm::start_with(n, founders, "").await
    }

    /// As [`Swarm::start`], with network rules (`name = value` lines)
    /// appended to the genesis file.
    pub async fn start_with(n: usize, founders: usize, rules: &str) -> Swarm {
        assert!(
            n >= 1 && (1..=n).contains(&founders),
            "{n} agents, {founders} founders"
        );
        let started = Instant::now();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut agents = Vec::with_capacity(n);
        for i in 0..n {
            let mut agent = Agent::new(&format!("agent-{i}"));
            agent.setup(&format!("test agent {i}")).await;
            agents.push(agent);
        }
        let genesis = dir.path().join("genesis.txt");
        let founding: Vec<&str> = agents[..founders]
            .iter()
            .map(|a| a.operator.as_str())
            .collect();
        write_genesis(&genesis, &founding);
        if !rules.is_empty() {
            let mut text = std::fs::read_to_string(&genesis).expect("genesis");
            text.push_str(rules);
            std::fs::write(&genesis, text).expect("genesis");
        }

        agents[0].start(&genesis, &[]).await;
        let bootstrap = [agents[0].bootstrap_addr()];
        futures_util::future::join_all(
            agents[1..]
                .iter_mut()
                .map(|a| a.start(&genesis, &bootstrap)),
        )
        .await;
        let swarm = Swarm {
            agents,
            genesis,
            dir,
        };
        let network = &swarm.agents[0].network;
        for agent in &swarm.agents {
            assert_eq!(
                &agent.network, network,
                "{} is on another network than agent-0",
                agent.name
            );
        }
        swarm.wait_connected().await;
        eprintln!(
            "{n} agents up and connected ({:.1}s)",
            started.elapsed().as_secs_f64()
        );
        swarm
    }

    /// The temporary directory holding the genesis file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where others bootstrap from: `agent-0`'s first listen address.
    pub fn bootstrap(&self) -> Vec<String> {
        vec![self.agents[0].bootstrap_addr()]
    }

    /// Waits until every running agent reports at least one connected
    /// peer (when there is more than one agent).
    pub async fn wait_connected(&self) {
        if self.agents.iter().filter(|a| a.running()).count() < 2 {
            return;
        }
        wait_until(
            "every running agent is connected to a peer",
            JOIN_DEADLINE,
            async || {
                let mut alone = Vec::new();
                for agent in self.agents.iter().filter(|a| a.running()) {
                    let status = agent.api_status().await?;
                    if status["peers"].as_u64().unwrap_or(0) == 0 {
                        alone.push(agent.name.as_str());
                    }
                }
                if alone.is_empty() {
                    Ok(())
                } else {
                    Err(format!("without a peer: {alone:?}"))
                }
            },
        )
        .await;
    }

    /// Sets up and starts one more agent, bootstrapping from `agent-0`,
    /// and waits until it has a peer; returns its index.
    pub async fn add(&mut self) -> usize {
        let i = self.agents.len();
        let mut agent = Agent::new(&format!("agent-{i}"));
        agent.setup(&format!("test agent {i}")).await;
        agent.start(&self.genesis, &self.bootstrap()).await;
        assert_eq!(
            agent.network, self.agents[0].network,
            "{} is on another network than agent-0",
            agent.name
        );
        self.agents.push(agent);
        let agent = &self.agents[i];
        wait_until(
            &format!("{} is connected to a peer", agent.name),
            JOIN_DEADLINE,
            async || {
                let status = agent.api_status().await?;
                if status["peers"].as_u64().unwrap_or(0) > 0 {
                    Ok(())
                } else {
                    Err(format!("status: {status}"))
                }
            },
        )
        .await;
        i
    }

    /// Waits until `observer` lists `operator` as enrolled.
    pub async fn wait_sees_enrolled(&self, observer: usize, operator: &str, deadline: Duration) {
        let agent = &self.agents[observer];
        wait_until(
            &format!("{} lists {operator} as enrolled", agent.name),
            deadline,
            async || {
                let enrolled = agent.operators().await?;
                if enrolled.contains(operator) {
                    Ok(())
                } else {
                    Err(format!("enrolled: {enrolled:?}"))
                }
            },
        )
        .await;
    }

    /// Waits until every running agent lists `operator` as enrolled.
    pub async fn wait_all_see_enrolled(&self, operator: &str, deadline: Duration) {
        wait_until(
            &format!("every running agent lists {operator} as enrolled"),
            deadline,
            async || {
                let mut behind = Vec::new();
                for agent in self.agents.iter().filter(|a| a.running()) {
                    if !agent.operators().await?.contains(operator) {
                        behind.push(agent.name.as_str());
                    }
                }
                if behind.is_empty() {
                    Ok(())
                } else {
                    Err(format!("not yet: {behind:?}"))
                }
            },
        )
        .await;
    }
}
