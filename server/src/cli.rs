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

use crate::{
    Config, Error,
    config::{Registration, parse_size},
    crypt, http,
};

/// Self-hosted, end-to-end encrypted file storage and sharing.
///
/// With no command, `nocturne` runs the server: `nocturne --port 9000` is
/// `nocturne serve --port 9000`.
#[derive(Debug, Parser)]
#[command(name = "nocturne", version, about, long_about = None)]
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
    Encrypt(CryptArgs),
    /// Decrypt a file in Nocturne's format with its password.
    Decrypt(CryptArgs),
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
    /// Tests only: a file whose number is added (in seconds) to the clock
    /// share links are judged by.
    #[arg(long, env = "NOCTURNE_TEST_CLOCK_FILE", hide = true)]
    test_clock_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum NodeCommand {
    /// Join the storage mesh and offer up to --max-storage of disk.
    Connect {
        /// How much disk to offer, such as 10GB or 500MiB.
        #[arg(long)]
        max_storage: String,
        /// The tracker (bootstrap peer) to join through.
        #[arg(long, env = "NOCTURNE_TRACKER")]
        tracker: Option<String>,
    },
    /// Show this node's fragments, space and peers.
    Status,
    /// Hand fragments on to other nodes, then leave the mesh.
    Disconnect,
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Create this agent's operator key and configuration.
    Setup,
    /// Join the agent mesh and start the MCP server.
    Start,
    /// Show enrollment, peers and records.
    Status,
    /// Endorse another operator's enrollment.
    Endorse {
        /// The operator's public key.
        operator: String,
    },
    /// Ask to be enrolled, presenting collected endorsements.
    Enroll,
}

/// Options shared by `encrypt` and `decrypt`.
#[derive(Debug, Args)]
struct CryptArgs {
    /// Input file (standard input if omitted).
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Output file (standard output if omitted).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Read the password from this file instead of NOCTURNE_PASSWORD or a prompt.
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// The content cipher (encrypt only; noctis-256 is experimental and not audited).
    #[arg(long, value_parser = ["aes-256-gcm", "noctis-256"], default_value = "aes-256-gcm")]
    cipher: String,
}

impl CryptArgs {
    fn into_job(self) -> crypt::Job {
        crypt::Job {
            input: self.input,
            output: self.output,
            password_file: self.password_file,
            cipher: match self.cipher.as_str() {
                "noctis-256" => noctis::format::CipherId::Noctis256,
                _ => noctis::format::CipherId::Aes256Gcm,
            },
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
        args.insert(1.min(args.len()), sub.into());
    } else if serve_implied {
        args.insert(1.min(args.len()), "serve".into());
    }
    args
}

fn dispatch(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Node(_) => Err(Error::NotImplemented("node")),
        Command::Agent(_) => Err(Error::NotImplemented("agent")),
        Command::Encrypt(args) => crypt::encrypt(args.into_job()),
        Command::Decrypt(args) => crypt::decrypt(args.into_job()),
    }
}

fn serve(args: ServeArgs) -> Result<(), Error> {
    init_logging();
    let mut config = Config::new(args.data_dir).with_secret_from_env()?;
    config.trust_proxy = args.trust_proxy;
    config.registration = args.registration;
    config.max_file_size = args.max_file_size;
    config.quota = args.quota;
    config.test_clock_file = args.test_clock_file;

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
        let router = http::router(&config).await?;
        let local = listener.local_addr().map_err(|source| Error::Listen {
            addr: addr.to_string(),
            source,
        })?;
        tracing::info!(data_dir = %config.data_dir.display(), "nocturne {} ready", env!("CARGO_PKG_VERSION"));
        // One line on stdout with the real address: people read it, and
        // tests started with PORT=0 learn the port from it.
        #[expect(clippy::print_stdout, reason = "the one line of normal output")]
        {
            println!("nocturne listening on http://{local}");
        }
        http::serve(listener, router, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
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

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!("cannot listen for SIGTERM ({e}); only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
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
            ["/usr/bin/nocturne-node", "node", "status"]
        );
        assert_eq!(
            canon(&["nocturne-agent", "setup"]),
            ["nocturne-agent", "agent", "setup"]
        );
    }
}
