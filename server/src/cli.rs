//! The command line: `nocturne [serve]`, `node`, `agent`, `encrypt`, `decrypt`.
//!
//! `run` is the whole of `main`: it parses, dispatches, and turns any error
//! into one readable line on stderr and a non-zero exit status.

use std::{
    ffi::OsString,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    process::ExitCode,
};

use clap::{Args, Parser, Subcommand, builder::BoolishValueParser};
use tokio::net::TcpListener;

use std::time::Duration;

use mesh::storage::erasure::Coding;

use crate::{
    Config, Error, MeshConfig, MeshMode,
    config::{Registration, parse_duration, parse_size},
    crypt, http,
};

/// Self-hosted, end-to-end encrypted file storage and sharing.
///
/// With no command, `nocturne` runs the server: `nocturne --port 9000` is
/// `nocturne serve --port 9000`.
#[derive(Debug, Parser)]
#[command(
    name = "nocturne",
    version,
    about,
    long_about = None,
    after_help = "Without a command, `nocturne [OPTIONS]` runs the server: `nocturne serve --help` \
                  lists its options (--port, --data-dir, --registration, --mesh, …), each also an \
                  environment variable (PORT, NOCTURNE_DATA_DIR, …)."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web server (the default command).
    Serve(ServeArgs),
    /// Lend storage to the mesh: hold erasure-coded fragments of ciphertext.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Run an agent-mesh peer and its MCP server.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Encrypt a file into Nocturne's format with a password (Argon2id).
    Encrypt(EncryptArgs),
    /// Decrypt a file in Nocturne's format with its password (the cipher is
    /// read from the file).
    Decrypt(CryptArgs),
    /// Copy the data directory (a consistent database snapshot, the blobs,
    /// the secret) into a new directory, while the server runs.
    Backup {
        /// Where to write the backup (a new or empty directory).
        #[arg(long)]
        to: PathBuf,
        /// The server's data directory.
        #[arg(long, env = "NOCTURNE_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
    },
    /// Restore a backup into a data directory that holds no database yet.
    Restore {
        /// The backup's directory.
        #[arg(long)]
        from: PathBuf,
        /// The data directory to restore into.
        #[arg(long, env = "NOCTURNE_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
    },
}

/// Options of `nocturne serve`; each can also come from the environment.
#[derive(Debug, Args)]
struct ServeArgs {
    /// The TCP port to listen on (0 picks a free one and prints it).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    port: u16,
    /// The address to listen on. Loopback by default: put a TLS reverse proxy
    /// in front for other machines (browsers only give pages WebCrypto over
    /// HTTPS or on localhost).
    #[arg(long, env = "NOCTURNE_BIND", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// Where the database, blobs and generated secret are kept.
    #[arg(long, env = "NOCTURNE_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// A reverse proxy in front terminates TLS: send HSTS and trust its
    /// forwarded-for headers.
    #[arg(
        long,
        env = "NOCTURNE_TRUST_PROXY",
        value_parser = BoolishValueParser::new(),
        num_args = 0..=1,
        default_value_t = false,
        default_missing_value = "true"
    )]
    trust_proxy: bool,
    /// How many proxies in front append to X-Forwarded-For: the client is
    /// the entry this many from the right.
    #[arg(long, env = "NOCTURNE_TRUSTED_PROXIES", default_value_t = 1)]
    trusted_proxies: usize,
    /// Who may create accounts: `open`, `invite` (an administrator's invite
    /// code) or `closed`. The first account may always register and becomes
    /// the administrator.
    #[arg(
        long,
        env = "NOCTURNE_REGISTRATION",
        value_enum,
        default_value = "invite"
    )]
    registration: Registration,
    /// The largest file an upload may be (ciphertext), e.g. `10GiB`.
    #[arg(long, env = "NOCTURNE_MAX_FILE_SIZE", default_value = "10GiB", value_parser = parse_size)]
    max_file_size: u64,
    /// Storage per account (ciphertext, uploads in progress included), e.g. `100GiB`.
    #[arg(long, env = "NOCTURNE_QUOTA", default_value = "100GiB", value_parser = parse_size)]
    quota: u64,
    /// The storage mesh: `off`, `replicate` (files also go to the mesh) or
    /// `offload` (files go to the mesh and the local copy is dropped).
    #[arg(long, env = "NOCTURNE_MESH", value_enum, default_value = "off")]
    mesh: MeshMode,
    /// Where the mesh peer listens, comma-separated multiaddrs; each TCP
    /// address also listens over QUIC on the same port.
    #[arg(
        long,
        env = "NOCTURNE_MESH_LISTEN",
        default_value = "/ip4/0.0.0.0/tcp/4001"
    )]
    mesh_listen: String,
    /// Reed-Solomon coding, k data + m parity fragments, e.g. 4+2 or 10+4.
    #[arg(long, env = "NOCTURNE_MESH_CODING", default_value = "4+2")]
    mesh_coding: Coding,
    /// How long a node may be gone before its fragments are rebuilt elsewhere.
    #[arg(long, env = "NOCTURNE_MESH_GRACE", default_value = "1h", value_parser = parse_duration)]
    mesh_grace: Duration,
    /// How often fragments are audited.
    #[arg(long, env = "NOCTURNE_MESH_AUDIT_INTERVAL", default_value = "10m", value_parser = parse_duration)]
    mesh_audit_interval: Duration,
    /// How often placement and repair look for work.
    #[arg(long, env = "NOCTURNE_MESH_REPAIR_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    mesh_repair_interval: Duration,
    /// Files repaired at once.
    #[arg(long, env = "NOCTURNE_MESH_REPAIR_PARALLELISM", default_value_t = 2)]
    mesh_repair_parallelism: usize,
    /// Repair bandwidth per second, e.g. 50MiB.
    #[arg(long, env = "NOCTURNE_MESH_REPAIR_RATE", default_value = "50MiB", value_parser = parse_size)]
    mesh_repair_rate: u64,
    /// Repair at once, without waiting out the grace period, when fewer than
    /// this many fragments of a file are reachable (default k+1).
    #[arg(long, env = "NOCTURNE_MESH_REPAIR_THRESHOLD")]
    mesh_repair_threshold: Option<usize>,
    /// Bytes per shard (a stripe is k shards): even, at most 256KiB.
    #[arg(long, env = "NOCTURNE_MESH_SHARD_SIZE", default_value = "256KiB", value_parser = parse_size, hide = true)]
    mesh_shard_size: u64,
    /// How long blobs no row names are kept in `<data dir>/orphans/` before
    /// they are deleted (`0` keeps them forever).
    #[arg(long, env = "NOCTURNE_ORPHAN_RETENTION", default_value = "30d", value_parser = parse_duration)]
    orphan_retention: Duration,
    /// Connections served at once.
    #[arg(long, env = "NOCTURNE_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Connections from one client address (an IPv6 /64) at once; behind a
    /// proxy every connection comes from the proxy, so raise it there.
    #[arg(
        long,
        env = "NOCTURNE_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 64
    )]
    max_connections_per_client: usize,
    /// The longest a client may take to send a request's line and headers.
    #[arg(long, env = "NOCTURNE_HEADER_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    header_timeout: Duration,
    /// Tests only: a file whose number is added (in seconds) to the clock
    /// share links are judged by.
    #[arg(long, env = "NOCTURNE_TEST_CLOCK_FILE", hide = true)]
    test_clock_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum NodeCommand {
    /// Join the storage mesh and offer up to --max-storage of disk; runs
    /// until Ctrl-C, SIGTERM or `nocturne node disconnect`.
    Connect {
        /// How much disk to offer, such as 10GB or 500MiB.
        #[arg(long, value_parser = parse_size)]
        max_storage: u64,
        /// The tracker to join through: a multiaddr ending in /p2p/<id>, or
        /// host:port of a Nocturne server's mesh listener.
        #[arg(long, env = "NOCTURNE_TRACKER")]
        tracker: Option<String>,
        /// Addresses to listen on (none needed: the node is served over the
        /// connection it makes). Repeatable.
        #[arg(long)]
        listen: Vec<String>,
        /// Where the node keeps its key and fragments.
        #[arg(long, env = "NOCTURNE_NODE_DIR", default_value = crate::node::default_dir().as_os_str())]
        data_dir: PathBuf,
    },
    /// Show the running node's peers, fragments, space and audits.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The running node's data directory.
        #[arg(long, env = "NOCTURNE_NODE_DIR", default_value = crate::node::default_dir().as_os_str())]
        data_dir: PathBuf,
    },
    /// Hand every fragment on to other nodes, then stop the running node.
    Disconnect {
        /// Leave at once, deleting fragments without handing them on.
        #[arg(long)]
        force: bool,
        /// The running node's data directory.
        #[arg(long, env = "NOCTURNE_NODE_DIR", default_value = crate::node::default_dir().as_os_str())]
        data_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Create this agent's operator key (Ed25519) and peer key; prints the operator id.
    Setup {
        /// A name for this agent, shown in its status.
        #[arg(long)]
        label: String,
        /// Where the agent keeps its keys and records.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// Join the agent mesh and serve the local API, until Ctrl-C, SIGTERM or `stop`.
    Start {
        /// The network's genesis file (founding operator ids, one per line).
        #[arg(long, env = "NOCTURNE_GENESIS")]
        genesis: Option<PathBuf>,
        /// Peers to join through (multiaddrs ending in /p2p/<id>). Repeatable.
        #[arg(long)]
        bootstrap: Vec<String>,
        /// Addresses to listen on. Repeatable.
        #[arg(long)]
        listen: Vec<String>,
        /// The local API's port on 127.0.0.1 (0 picks one).
        #[arg(long, default_value_t = 0)]
        api_port: u16,
        /// Where the agent keeps its keys and records.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
        #[command(flatten)]
        watch: WatchArgs,
    },
    /// Vote +1 or -1 on an entry (committed now, revealed by the running peer in the reveal window).
    Vote {
        /// The entry's id (64 hex digits).
        entry: String,
        /// +1 or -1.
        #[arg(allow_hyphen_values = true)]
        vote: String,
        /// Why, in a few words (revealed with the vote).
        #[arg(long, default_value = "")]
        reason: String,
        /// The running peer's data directory.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// Show an entry's vote: phase, counts, outcome, your vote.
    Tally {
        /// The entry's id.
        entry: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The running peer's data directory.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// List compute tasks (text work items; nothing on the mesh executes anything).
    Tasks {
        /// Only tasks in this state.
        #[arg(long, value_parser = ["open", "claimed", "done", "all"])]
        state: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The running peer's data directory.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// Claim a task for a while (one claimer at a time).
    Claim {
        /// The task's id.
        task: String,
        /// How long to hold it (default 1h; at most the network's task.claim_max).
        #[arg(long = "for", value_parser = parse_duration)]
        hold: Option<Duration>,
        /// The running peer's data directory.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// Complete a task you hold by publishing its result as an entry.
    Complete {
        /// The task's id.
        task: String,
        /// The result.
        #[arg(long)]
        content: String,
        /// How sure you are, 0 to 1.
        #[arg(long, default_value_t = 0.7)]
        confidence: f64,
        /// The running peer's data directory.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// Report an operator for quarantine (two thirds of the quorum must agree).
    Report {
        /// The operator's id.
        operator: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        /// The running peer's data directory.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// Ask for an operator's quarantine to end (two thirds of the quorum must agree).
    Lift {
        /// The operator's id.
        operator: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        /// The running peer's data directory.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// Serve MCP on stdio: the agent mesh as seven tools for an AI agent (attaches to the
    /// peer running on --data-dir, or starts one in-process).
    Mcp {
        /// For a peer started in-process: the network's genesis file.
        #[arg(long, env = "NOCTURNE_GENESIS")]
        genesis: Option<PathBuf>,
        /// For a peer started in-process: peers to join through. Repeatable.
        #[arg(long)]
        bootstrap: Vec<String>,
        /// For a peer started in-process: addresses to listen on. Repeatable.
        #[arg(long)]
        listen: Vec<String>,
        /// The agent's data directory.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// Print what an MCP client needs to run `nocturne agent mcp` (Claude Code's `mcpServers` JSON).
    Config {
        /// The server's name in the client.
        #[arg(long, default_value = "nocturne-mesh")]
        name: String,
        /// Passed on to `agent mcp`.
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// Passed on to `agent mcp`. Repeatable.
        #[arg(long)]
        bootstrap: Vec<String>,
        /// The agent's data directory.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// The network as this peer sees it: operators, domains, votes, quarantines, tasks, activity.
    Awareness {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The running peer's data directory.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// Show the running peer: enrollment, peers, records.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The running peer's data directory.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// Sign an endorsement of another operator with your operator key.
    Endorse {
        /// The endorsed operator's id (64 hex digits).
        #[arg(long)]
        operator: String,
        /// Your operator key file.
        #[arg(long)]
        key: PathBuf,
        /// Write the endorsement here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The network's genesis file (else the one the peer in --data-dir ran with).
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// The agent directory whose network is meant.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// Enroll through the running peer with endorsements from enrolled operators.
    Enroll {
        /// Endorsement files, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        endorsements: Vec<PathBuf>,
        /// The running peer's data directory.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// Sign a vote to revoke an enrolled operator with your operator key.
    RevokeVote {
        /// The operator to revoke (64 hex digits).
        #[arg(long)]
        operator: String,
        /// Your operator key file.
        #[arg(long)]
        key: PathBuf,
        /// Write the vote here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The network's genesis file (else the one the peer in --data-dir ran with).
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// The agent directory whose network is meant.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// Revoke an operator through the running peer with the votes of 3 enrolled operators.
    Revoke {
        /// The operator to revoke (64 hex digits).
        #[arg(long)]
        operator: String,
        /// Vote files, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        votes: Vec<PathBuf>,
        /// The running peer's data directory.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
    /// Stop the running peer.
    Stop {
        /// The running peer's data directory.
        #[arg(long, env = "NOCTURNE_AGENT_DIR", default_value = crate::agent::DEFAULT_DIR)]
        data_dir: PathBuf,
    },
}

/// What an agent peer watches for (see docs/agent.md, "Anomalies").
#[derive(Debug, Args)]
struct WatchArgs {
    /// The anomaly window.
    #[arg(long, env = "NOCTURNE_AGENT_WINDOW", default_value = "60s", value_parser = parse_duration)]
    anomaly_window: Duration,
    /// Entries by one operator within the window beyond which it floods.
    #[arg(long, env = "NOCTURNE_AGENT_FLOOD", default_value_t = 60)]
    flood: usize,
    /// Vote records by one operator within the window beyond which it bursts.
    #[arg(long, env = "NOCTURNE_AGENT_VOTE_BURST", default_value_t = 120)]
    vote_burst: usize,
    /// Bad signatures from an operator's peer within the window that get it reported.
    #[arg(long, env = "NOCTURNE_AGENT_BAD_SIGNATURES", default_value_t = 3)]
    bad_signatures: usize,
    /// Entries two operators voted alike on (3 of them lost together) before it looks like collusion.
    #[arg(long, env = "NOCTURNE_AGENT_MIRROR", default_value_t = 10)]
    mirror: usize,
    /// How long a local quarantine lasts unless the network confirms it.
    #[arg(long, env = "NOCTURNE_AGENT_LOCAL_QUARANTINE", default_value = "1h", value_parser = parse_duration)]
    local_quarantine: Duration,
}

impl WatchArgs {
    fn thresholds(&self) -> mesh::agent::Thresholds {
        mesh::agent::Thresholds {
            window_s: self.anomaly_window.as_secs().max(1),
            flood: self.flood.max(1),
            vote_burst: self.vote_burst.max(1),
            bad_signatures: self.bad_signatures.max(1),
            mirror_min: self.mirror.max(1),
            local_s: self.local_quarantine.as_secs().max(1),
            ..mesh::agent::Thresholds::default()
        }
    }
}

/// Options shared by `encrypt` and `decrypt`.
#[derive(Debug, Args)]
struct CryptArgs {
    /// Input file (standard input if omitted).
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Output file (standard output if omitted). An existing file is
    /// replaced, once everything is written and authenticated; an existing
    /// FIFO or device is written to.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Read the password from this file instead of NOCTURNE_PASSWORD or a prompt.
    #[arg(long)]
    password_file: Option<PathBuf>,
}

/// `encrypt`'s options: the shared ones, and the cipher.
#[derive(Debug, Args)]
struct EncryptArgs {
    #[command(flatten)]
    io: CryptArgs,
    /// The content cipher (noctis-256 is experimental and not audited).
    #[arg(long, value_parser = ["aes-256-gcm", "noctis-256"], default_value = "aes-256-gcm")]
    cipher: String,
}

impl CryptArgs {
    fn into_job(self, cipher: noctis::format::CipherId) -> crypt::Job {
        crypt::Job {
            input: self.input,
            output: self.output,
            password_file: self.password_file,
            cipher,
        }
    }
}

/// Parses `args` (including the program name) and runs the command.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(canonical_args(args)) {
        Ok(cli) => cli,
        // clap prints help/version to stdout with status 0, usage errors to
        // stderr with status 2.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nocturne: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Rewrites the command line into its canonical form: `nocturne` alone or
/// followed by options is `nocturne serve …`, and the original release's
/// `nocturne-node` and `nocturne-agent` binaries (links to this one) run the
/// matching subcommand.
///
/// Done before parsing, rather than by flattening `serve`'s options into the
/// top level, so that `serve`'s environment variables (`PORT`, …) are only
/// read when serving and can never break another command.
fn canonical_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let first = args.get(1).and_then(|a| a.to_str());
    let top_level_flag = matches!(first, Some("-h" | "--help" | "-V" | "--version"));
    let serve_implied = match first {
        None => true,
        Some(arg) => arg.starts_with('-') && !top_level_flag,
    };
    let program = args
        .first()
        .and_then(|p| std::path::Path::new(p).file_name().map(|n| n.to_owned()));
    let sub = match program.as_ref().and_then(|p| p.to_str()) {
        Some("nocturne-node") => Some("node"),
        Some("nocturne-agent") => Some("agent"),
        _ => None,
    };
    if let Some(sub) = sub {
        // The alias is `nocturne <sub>`, and its help and errors say so
        // (not `nocturne-node node …`).
        if let Some(program) = args.first_mut() {
            *program = "nocturne".into();
        }
        args.insert(1.min(args.len()), sub.into());
    } else if serve_implied {
        args.insert(1.min(args.len()), "serve".into());
    }
    args
}

fn dispatch(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Node(command) => node(command),
        Command::Agent(command) => agent(command),
        Command::Encrypt(args) => crypt::encrypt(args.io.into_job(match args.cipher.as_str() {
            "noctis-256" => noctis::format::CipherId::Noctis256,
            _ => noctis::format::CipherId::Aes256Gcm,
        })),
        Command::Backup { to, data_dir } => crate::backup::backup(&data_dir, &to),
        Command::Restore { from, data_dir } => crate::backup::restore(&from, &data_dir),
        // Read from the file's header; this is only the field's filler.
        Command::Decrypt(args) => {
            crypt::decrypt(args.into_job(noctis::format::CipherId::Aes256Gcm))
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), Error> {
    init_logging();
    let mesh = mesh_config(&args)?;
    let mut config = Config::new(args.data_dir).with_secret_from_env()?;
    config.mesh = mesh;
    config.trust_proxy = args.trust_proxy;
    config.trusted_proxies = args.trusted_proxies;
    config.orphan_retention = (!args.orphan_retention.is_zero()).then_some(args.orphan_retention);
    config.registration = args.registration;
    config.max_file_size = args.max_file_size;
    config.quota = args.quota;
    config.test_clock_file = args.test_clock_file;
    let (max_connections, max_connections_per_client, header_timeout) = (
        args.max_connections,
        args.max_connections_per_client,
        args.header_timeout,
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Config(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let addr = SocketAddr::new(args.bind, args.port);
        let listener = TcpListener::bind(addr).await.map_err(|source| Error::Listen {
            addr: addr.to_string(),
            source,
        })?;
        let (router, mesh_addrs) = http::app(&config).await?;
        let local = listener.local_addr().map_err(|source| Error::Listen {
            addr: addr.to_string(),
            source,
        })?;
        tracing::info!(data_dir = %config.data_dir.display(), "nocturne {} ready", env!("CARGO_PKG_VERSION"));
        // One line on stdout with the real address: people read it, and
        // tests started with PORT=0 learn the port from it.
        #[expect(clippy::print_stdout, reason = "the lines of normal output")]
        {
            if let Some(tracker) = tracker_line(&mesh_addrs) {
                println!("nocturne mesh tracker at {tracker}");
            }
            println!("nocturne listening on http://{local}");
        }
        let limits = http::ServeLimits {
            connections: http::ConnectionLimits {
                total: max_connections,
                per_client: max_connections_per_client,
            },
            header_timeout,
        };
        http::serve(listener, router, limits, crate::shutdown::signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// The mesh settings, or `None` with the mesh off.
fn mesh_config(args: &ServeArgs) -> Result<Option<MeshConfig>, Error> {
    if args.mesh == MeshMode::Off {
        return Ok(None);
    }
    let mut listen = Vec::new();
    for text in args
        .mesh_listen
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let addr: mesh::Multiaddr = text.parse().map_err(|_| {
            Error::Config(format!("NOCTURNE_MESH_LISTEN: `{text}` is not a multiaddr"))
        })?;
        let quic = quic_twin(&addr);
        listen.push(addr);
        listen.extend(quic);
    }
    let shard = args.mesh_shard_size;
    if shard < 2 || !shard.is_multiple_of(2) || shard > u64::from(mesh::storage::wire::MAX_CHUNK) {
        return Err(Error::Config(
            "NOCTURNE_MESH_SHARD_SIZE must be even and at most 256KiB".into(),
        ));
    }
    Ok(Some(MeshConfig {
        mode: args.mesh,
        listen,
        coding: args.mesh_coding,
        shard_size: shard as u32,
        grace: args.mesh_grace,
        audit_interval: args.mesh_audit_interval.max(Duration::from_millis(100)),
        repair_interval: args.mesh_repair_interval.max(Duration::from_millis(100)),
        repair_parallelism: args.mesh_repair_parallelism.clamp(1, 16),
        repair_rate: args.mesh_repair_rate.max(1),
        repair_threshold: args.mesh_repair_threshold,
    }))
}

/// `/ip4/A/tcp/P` → `/ip4/A/udp/P/quic-v1`.
fn quic_twin(addr: &mesh::Multiaddr) -> Option<mesh::Multiaddr> {
    use mesh::Protocol;
    let mut parts = addr.iter();
    let ip = parts.next()?;
    let Some(Protocol::Tcp(port)) = parts.next() else {
        return None;
    };
    if parts.next().is_some() || !matches!(ip, Protocol::Ip4(_) | Protocol::Ip6(_)) {
        return None;
    }
    Some(
        mesh::Multiaddr::empty()
            .with(ip)
            .with(Protocol::Udp(port))
            .with(Protocol::QuicV1),
    )
}

/// The tracker address to print: a TCP one, not loopback if there is another.
fn tracker_line(addrs: &[mesh::Multiaddr]) -> Option<String> {
    let tcp: Vec<&mesh::Multiaddr> = addrs
        .iter()
        .filter(|a| !a.to_string().contains("/udp/"))
        .collect();
    tcp.iter()
        .find(|a| {
            !a.to_string().starts_with("/ip4/127.") && !a.to_string().starts_with("/ip6/::1/")
        })
        .or(tcp.first())
        .map(|a| a.to_string())
}

fn node(command: NodeCommand) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Config(format!("cannot start the async runtime: {e}")))?;
    match command {
        NodeCommand::Connect {
            max_storage,
            tracker,
            listen,
            data_dir,
        } => {
            init_logging();
            runtime.block_on(crate::node::connect(crate::node::Connect {
                data_dir,
                max_storage,
                tracker,
                listen,
            }))
        }
        NodeCommand::Status { json, data_dir } => {
            runtime.block_on(crate::node::status(&data_dir, json))
        }
        NodeCommand::Disconnect { force, data_dir } => {
            runtime.block_on(crate::node::disconnect(&data_dir, force))
        }
    }
}

fn agent(command: AgentCommand) -> Result<(), Error> {
    use crate::agent;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Config(format!("cannot start the async runtime: {e}")))?;
    match command {
        AgentCommand::Setup { label, data_dir } => agent::setup(&data_dir, &label),
        AgentCommand::Start {
            genesis,
            bootstrap,
            listen,
            api_port,
            data_dir,
            watch,
        } => {
            init_logging();
            runtime.block_on(agent::start(agent::Start {
                dir: data_dir,
                genesis,
                bootstrap,
                listen,
                api_port,
                thresholds: watch.thresholds(),
            }))
        }
        AgentCommand::Vote {
            entry,
            vote,
            reason,
            data_dir,
        } => runtime.block_on(agent::commands::vote(&data_dir, &entry, &vote, &reason)),
        AgentCommand::Tally {
            entry,
            json,
            data_dir,
        } => runtime.block_on(agent::commands::tally(&data_dir, &entry, json)),
        AgentCommand::Tasks {
            state,
            json,
            data_dir,
        } => runtime.block_on(agent::commands::tasks(&data_dir, state.as_deref(), json)),
        AgentCommand::Claim {
            task,
            hold,
            data_dir,
        } => runtime.block_on(agent::commands::claim(
            &data_dir,
            &task,
            hold.map(|d| d.as_secs()),
        )),
        AgentCommand::Complete {
            task,
            content,
            confidence,
            data_dir,
        } => runtime.block_on(agent::commands::complete(
            &data_dir, &task, &content, confidence,
        )),
        AgentCommand::Report {
            operator,
            reason,
            data_dir,
        } => runtime.block_on(agent::commands::statement(
            &data_dir, false, &operator, &reason,
        )),
        AgentCommand::Lift {
            operator,
            reason,
            data_dir,
        } => runtime.block_on(agent::commands::statement(
            &data_dir, true, &operator, &reason,
        )),
        AgentCommand::Mcp {
            genesis,
            bootstrap,
            listen,
            data_dir,
        } => {
            init_logging();
            runtime.block_on(crate::mcp::run(crate::mcp::Args {
                dir: data_dir,
                genesis,
                bootstrap,
                listen,
            }))
        }
        AgentCommand::Config {
            name,
            genesis,
            bootstrap,
            data_dir,
        } => crate::mcp::config(&name, &data_dir, genesis.as_deref(), &bootstrap),
        AgentCommand::Awareness { json, data_dir } => {
            runtime.block_on(agent::commands::awareness(&data_dir, json))
        }
        AgentCommand::Status { json, data_dir } => runtime.block_on(agent::status(&data_dir, json)),
        AgentCommand::Endorse {
            operator,
            key,
            out,
            genesis,
            data_dir,
        } => agent::endorse(&data_dir, &operator, &key, out.as_deref(), genesis.as_ref()),
        AgentCommand::Enroll {
            endorsements,
            data_dir,
        } => runtime.block_on(agent::enroll(&data_dir, &endorsements)),
        AgentCommand::RevokeVote {
            operator,
            key,
            out,
            genesis,
            data_dir,
        } => agent::revoke_vote(&data_dir, &operator, &key, out.as_deref(), genesis.as_ref()),
        AgentCommand::Revoke {
            operator,
            votes,
            data_dir,
        } => runtime.block_on(agent::revoke(&data_dir, &operator, &votes)),
        AgentCommand::Stop { data_dir } => runtime.block_on(agent::stop(&data_dir)),
    }
}

/// Structured logs on stderr; the level comes from `RUST_LOG` (default
/// `info`).
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::canonical_args;

    fn canon(args: &[&str]) -> Vec<String> {
        canonical_args(args.iter().map(|a| a.into()))
            .into_iter()
            .map(|a| a.into_string().expect("utf-8"))
            .collect()
    }

    #[test]
    fn serve_is_the_default_command() {
        assert_eq!(canon(&["nocturne"]), ["nocturne", "serve"]);
        assert_eq!(
            canon(&["nocturne", "--port", "1"]),
            ["nocturne", "serve", "--port", "1"]
        );
        assert_eq!(canon(&["nocturne", "--help"]), ["nocturne", "--help"]);
        assert_eq!(
            canon(&["nocturne", "node", "status"]),
            ["nocturne", "node", "status"]
        );
    }

    #[test]
    fn old_binary_names_map_to_subcommands() {
        assert_eq!(
            canon(&["/usr/bin/nocturne-node", "status"]),
            ["nocturne", "node", "status"]
        );
        assert_eq!(
            canon(&["nocturne-agent", "setup"]),
            ["nocturne", "agent", "setup"]
        );
    }
}
