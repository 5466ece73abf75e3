//! `nocturne agent`: a peer of the agent mesh, its local API, and the
//! commands that manage an operator's identity and enrollment.
//!
//! - `setup` makes the operator key and the peer key in the data directory;
//! - `start` runs the peer (`mesh::agent`) and its local API (`api`) until
//!   SIGINT/SIGTERM or `stop`;
//! - `status`, `enroll` and `stop` talk to the running peer through that
//!   API (`local::call`); `endorse` only signs, with a key file.

mod api;
mod ballots;
mod collective;
pub(crate) mod commands;
pub(crate) mod local;
mod peer;
mod voting;

use std::{path::PathBuf, sync::Arc};

use mesh::{
    Multiaddr,
    agent::{self, Body, OperatorKey, Signed},
};
use tokio::sync::Notify;

use crate::Error;
use local::{API_PORT, API_TOKEN, GENESIS, OPERATOR_KEY, PEER_KEY, PROFILE};

/// The default data directory.
pub(crate) const DEFAULT_DIR: &str = "data/agent";

#[expect(clippy::print_stdout, reason = "the commands' output")]
fn say(line: &str) {
    println!("{line}");
}

/// A command's output on stdout.
pub(crate) fn print(text: &str) {
    say(text);
}

/// `agent setup --label NAME`.
pub(crate) fn setup(dir: &std::path::Path, label: &str) -> Result<(), Error> {
    if label.trim().is_empty() || label.len() > 64 {
        return Err(Error::Usage("--label must be 1 to 64 characters".into()));
    }
    local::private_dir(dir)?;
    let key_path = dir.join(OPERATOR_KEY);
    if key_path.exists() {
        return Err(Error::Usage(format!(
            "{} already holds an operator key; it is never overwritten",
            dir.display()
        )));
    }
    let key = OperatorKey::generate();
    local::write_private(&key_path, &key.to_file_text(), true)?;
    mesh::identity::load_or_create(&dir.join(PEER_KEY))
        .map_err(|e| Error::Config(e.to_string()))?;
    local::write_private(
        &dir.join(PROFILE),
        &serde_json::json!({ "label": label }).to_string(),
        false,
    )?;
    say(&key.id().to_string());
    hint(&format!(
        "next: `nocturne agent start --data-dir {d} --genesis FILE`; `nocturne agent config --data-dir {d}` prints your MCP client's settings",
        d = dir.display()
    ));
    Ok(())
}

/// A line for the person at the terminal, on stderr (stdout is the
/// command's output, which scripts read).
#[expect(clippy::print_stderr, reason = "a hint beside the output")]
fn hint(line: &str) {
    eprintln!("{line}");
}

/// What `start` was given.
#[derive(Debug)]
pub(crate) struct Start {
    pub(crate) dir: PathBuf,
    pub(crate) genesis: Option<PathBuf>,
    pub(crate) bootstrap: Vec<String>,
    pub(crate) listen: Vec<String>,
    pub(crate) api_port: u16,
    /// What this peer reports and quarantines locally.
    pub(crate) thresholds: agent::Thresholds,
}

fn multiaddrs(list: &[String], flag: &str) -> Result<Vec<Multiaddr>, Error> {
    list.iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| Error::Usage(format!("{flag}: `{s}` is not a multiaddr")))
        })
        .collect()
}

/// `agent start`: runs until a signal or `agent stop`.
pub(crate) async fn start(args: Start) -> Result<(), Error> {
    let launched = launch(args).await?;
    say(&format!(
        "nocturne agent {} on network {}",
        launched.client.peer_id(),
        launched.network
    ));
    say(&format!("nocturne agent api at {}", launched.api));
    launched.serve(crate::shutdown::signal()).await
}

/// A peer and its local API, started but not yet answering requests.
pub(crate) struct Launched {
    client: agent::Client,
    network: agent::NetworkId,
    api: String,
    dir: PathBuf,
    listener: tokio::net::TcpListener,
    router: axum::Router,
    stop: Arc<Notify>,
    runner: tokio::task::JoinHandle<()>,
    revealer: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Launched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launched")
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

impl Launched {
    /// What stops it (as `agent stop` does).
    pub(crate) fn stopper(&self) -> Arc<Notify> {
        self.stop.clone()
    }

    /// Serves the local API until `until` completes or `agent stop`, then
    /// stops the peer and removes `api.port` and `api.token`.
    pub(crate) async fn serve(
        self,
        until: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let stopped = self.stop.clone();
        let server = axum::serve(self.listener, self.router).with_graceful_shutdown(async move {
            tokio::select! {
                () = until => {}
                () = stopped.notified() => {}
            }
        });
        let result = server.await.map_err(|source| Error::Listen {
            addr: self.api.clone(),
            source,
        });
        self.revealer.abort();
        self.client.shutdown().await;
        self.runner.await.ok();
        std::fs::remove_file(self.dir.join(API_PORT)).ok();
        std::fs::remove_file(self.dir.join(API_TOKEN)).ok();
        result
    }
}

/// Starts the peer and binds its local API (writing `api.port` and
/// `api.token`), printing nothing: `start` and the MCP server both use it.
pub(crate) async fn launch(args: Start) -> Result<Launched, Error> {
    let dir = &args.dir;
    let key = local::read_key(&dir.join(OPERATOR_KEY))?;
    let genesis = local::genesis_for(dir, args.genesis.as_ref())?;
    let network = genesis.network();
    let rules = genesis.rules();
    let ballots = ballots::Ballots::open(dir)?;
    let bootstrap = multiaddrs(&args.bootstrap, "--bootstrap")?;
    let mut listen = multiaddrs(&args.listen, "--listen")?;
    if listen.is_empty() {
        listen = vec![
            "/ip4/0.0.0.0/tcp/0"
                .parse()
                .map_err(|_| Error::Usage("listen".into()))?,
        ];
    }
    let keypair = mesh::identity::load_or_create(&dir.join(PEER_KEY))
        .map_err(|e| Error::Config(e.to_string()))?;
    local::write_private(&dir.join(GENESIS), &genesis.to_text(), false)?;
    let (client, event_loop) = agent::new(agent::Config {
        keypair,
        genesis,
        listen,
        bootstrap,
        data_dir: dir.clone(),
        operator: key.clone(),
        clock: agent::Clock::system(),
        thresholds: args.thresholds,
    })
    .map_err(|e| Error::Config(e.to_string()))?;
    let runner = tokio::spawn(event_loop.run());

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.api_port))
        .await
        .map_err(|source| Error::Listen {
            addr: format!("127.0.0.1:{}", args.api_port),
            source,
        })?;
    let port = listener
        .local_addr()
        .map_err(|source| Error::Listen {
            addr: "127.0.0.1".into(),
            source,
        })?
        .port();
    let mut token_bytes = [0u8; 32];
    getrandom::fill(&mut token_bytes)
        .map_err(|e| Error::Config(format!("the OS random source: {e}")))?;
    let token = zeroize::Zeroizing::new(crate::secret::to_hex(&token_bytes));
    local::write_private(
        &dir.join(API_TOKEN),
        &format!("{}\n", token.as_str()),
        false,
    )?;
    local::write_private(&dir.join(API_PORT), &format!("{port}\n"), false)?;
    let api = format!("http://127.0.0.1:{port}");
    let stop = Arc::new(Notify::new());
    let peer = peer::Peer {
        client: client.clone(),
        key: Arc::new(key),
        network,
        label: local::label(dir),
        token: Arc::new(token),
        api: api.clone(),
        stop: stop.clone(),
        rules,
        ballots: ballots.clone(),
    };
    let revealer = tokio::spawn(ballots.reveal_forever(peer.clone()));
    Ok(Launched {
        client,
        network,
        api,
        dir: dir.clone(),
        listener,
        router: api::router(peer),
        stop,
        runner,
        revealer,
    })
}

/// `agent status [--json]`.
pub(crate) async fn status(dir: &std::path::Path, json: bool) -> Result<(), Error> {
    let (code, value) = local::call(dir, "GET", "/api/status", None).await?;
    if code != 200 {
        return Err(Error::Usage(local::message(&value)));
    }
    if json {
        say(&value.to_string());
        return Ok(());
    }
    let s = |k: &str| {
        value
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let n = |k: &str| {
        value
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    say(&format!(
        "peer       {}\noperator   {} ({})\nenrolled   {}\nnetwork    {}\npeers      {}\nrecords    {}\napi        {}",
        s("peer_id"),
        s("operator"),
        s("label"),
        value
            .get("enrolled")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
        s("network"),
        n("peers"),
        n("records"),
        s("api"),
    ));
    Ok(())
}

/// `agent endorse --operator HEX --key KEYFILE [--out FILE]`.
pub(crate) fn endorse(
    dir: &std::path::Path,
    operator: &str,
    key: &std::path::Path,
    out: Option<&std::path::Path>,
    genesis: Option<&PathBuf>,
) -> Result<(), Error> {
    let operator = parse_operator(operator)?;
    sign_to(dir, key, out, genesis, Body::Endorsement { operator })
}

/// `agent revoke-vote --operator HEX --key KEYFILE [--out FILE]`.
pub(crate) fn revoke_vote(
    dir: &std::path::Path,
    operator: &str,
    key: &std::path::Path,
    out: Option<&std::path::Path>,
    genesis: Option<&PathBuf>,
) -> Result<(), Error> {
    let operator = parse_operator(operator)?;
    sign_to(dir, key, out, genesis, Body::RevokeVote { operator })
}

/// `agent enroll --endorsements a.json,b.json,c.json`.
pub(crate) async fn enroll(dir: &std::path::Path, files: &[PathBuf]) -> Result<(), Error> {
    let key = local::read_key(&dir.join(OPERATOR_KEY))?;
    let network = local::genesis_for(dir, None)?.network();
    let me = key.id();
    let endorsements = read_signed(files, &network, |body| match body {
        Body::Endorsement { operator } if *operator == me => Ok(()),
        Body::Endorsement { .. } => Err("it endorses another operator".into()),
        _ => Err("it is not an endorsement".into()),
    })?;
    let cert = key.make(
        network,
        agent::now(),
        Body::Certificate {
            operator: me,
            endorsements,
        },
    );
    let body = serde_json::json!({ "certificate": cert });
    let (code, value) = local::call(dir, "POST", "/api/enroll", Some(&body)).await?;
    if code != 200 {
        return Err(Error::Usage(format!(
            "not enrolled: {}",
            local::message(&value)
        )));
    }
    if value.get("enrolled").and_then(serde_json::Value::as_bool) != Some(true) {
        return Err(Error::Usage(
            "the certificate was stored but does not enroll this operator yet".into(),
        ));
    }
    say(&format!("enrolled {me}"));
    Ok(())
}

/// `agent revoke --operator HEX --votes a.json,b.json,c.json`.
pub(crate) async fn revoke(
    dir: &std::path::Path,
    operator: &str,
    files: &[PathBuf],
) -> Result<(), Error> {
    let target = parse_operator(operator)?;
    let network = local::genesis_for(dir, None)?.network();
    let votes = read_signed(files, &network, |body| match body {
        Body::RevokeVote { operator } if *operator == target => Ok(()),
        Body::RevokeVote { .. } => Err("it votes to revoke another operator".into()),
        _ => Err("it is not a revoke vote".into()),
    })?;
    let body = serde_json::json!({ "operator": target.to_string(), "votes": votes });
    let (code, value) = local::call(dir, "POST", "/api/revoke", Some(&body)).await?;
    if code != 200 {
        return Err(Error::Usage(format!(
            "not revoked: {}",
            local::message(&value)
        )));
    }
    say(&format!("revoked {target}"));
    Ok(())
}

fn parse_operator(text: &str) -> Result<agent::OperatorId, Error> {
    text.parse().map_err(|_| {
        Error::Usage(format!(
            "--operator: `{text}` is not an operator id (64 hex digits)"
        ))
    })
}

/// Signs `body` with the key file and writes the record to `out` or stdout.
fn sign_to(
    dir: &std::path::Path,
    key: &std::path::Path,
    out: Option<&std::path::Path>,
    genesis: Option<&PathBuf>,
    body: Body,
) -> Result<(), Error> {
    let key = local::read_key(key)?;
    let network = local::genesis_for(dir, genesis)?.network();
    let signed = key.make(network, agent::now(), body);
    signed
        .verify(&network, agent::now())
        .map_err(|e| Error::Usage(format!("cannot sign: {e}")))?;
    let text =
        serde_json::to_string_pretty(&signed).map_err(|e| Error::Usage(e.to_string()))? + "\n";
    match out {
        Some(path) => std::fs::write(path, text).map_err(|e| Error::io("write", path, e)),
        None => {
            say(text.trim_end());
            Ok(())
        }
    }
}

/// Reads signed records from files, each checked on its own and by
/// `expected`; one line for each bad one.
fn read_signed(
    files: &[PathBuf],
    network: &agent::NetworkId,
    expected: impl Fn(&Body) -> Result<(), String>,
) -> Result<Vec<Signed>, Error> {
    let now = agent::now();
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for path in files {
        let checked = std::fs::read(path)
            .map_err(|e| format!("cannot read it: {e}"))
            .and_then(|bytes| Signed::from_bytes(&bytes).map_err(|e| e.to_string()))
            .and_then(|signed| {
                signed.verify(network, now).map_err(|e| e.to_string())?;
                expected(&signed.record.body)?;
                Ok(signed)
            });
        match checked {
            Ok(signed) => good.push(signed),
            Err(why) => bad.push(format!("{}: {why}", path.display())),
        }
    }
    if !bad.is_empty() {
        return Err(Error::Usage(bad.join("\n")));
    }
    if good.is_empty() {
        return Err(Error::Usage("no file named a record".into()));
    }
    Ok(good)
}

/// `agent stop`: asks the peer to stop and waits until its API is gone.
pub(crate) async fn stop(dir: &std::path::Path) -> Result<(), Error> {
    let (code, value) = local::call(dir, "POST", "/api/stop", None).await?;
    if code != 202 {
        return Err(Error::Usage(local::message(&value)));
    }
    for _ in 0..300 {
        if !dir.join(API_PORT).exists() {
            say("stopped");
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Err(Error::Usage(
        "the agent peer did not stop within 15 s".into(),
    ))
}
