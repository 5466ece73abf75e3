//! The MCP server: `nocturne agent mcp` gives an AI agent the agent mesh
//! as seven tools, over stdio, with the official Rust SDK (`rmcp`).
//!
//! Another front end beside `http/`: the tools are thin over the agent
//! peer's local API (`crate::agent`), which owns the rules. The server
//! attaches to the peer already running on the data directory, or starts
//! one in-process (with its local API, so `nocturne agent …` commands
//! reach it too) and stops it when the client goes away.
//!
//! - [`tools`]: the seven tools, their argument schemas and descriptions,
//!   and how what the mesh says is handed back: as data, in a structured
//!   field, labelled untrusted, never spliced into instructions.
//!
//! Standard output carries the protocol and nothing else: logs go to
//! standard error, and this module prints nothing itself.

mod tools;

use std::path::PathBuf;

use rmcp::ServiceExt;

use crate::{Error, agent};

/// What `agent mcp` was given.
#[derive(Debug)]
pub(crate) struct Args {
    /// The agent's data directory.
    pub(crate) dir: PathBuf,
    /// For a peer started in-process: the network's genesis file.
    pub(crate) genesis: Option<PathBuf>,
    /// … peers to join through.
    pub(crate) bootstrap: Vec<String>,
    /// … where to listen.
    pub(crate) listen: Vec<String>,
}

/// `agent config`: the `mcpServers` JSON for this binary and directory.
pub(crate) fn config(
    name: &str,
    dir: &std::path::Path,
    genesis: Option<&std::path::Path>,
    bootstrap: &[String],
) -> Result<(), Error> {
    let absolute = |p: &std::path::Path| {
        std::path::absolute(p)
            .map_err(|e| Error::Usage(format!("{}: {e}", p.display())))
            .map(|p| p.display().to_string())
    };
    let binary = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| Error::Usage(format!("cannot tell where this binary is: {e}")))?;
    let mut args = vec![
        "agent".to_owned(),
        "mcp".to_owned(),
        "--data-dir".to_owned(),
        absolute(dir)?,
    ];
    if let Some(g) = genesis {
        args.push("--genesis".into());
        args.push(absolute(g)?);
    }
    for b in bootstrap {
        args.push("--bootstrap".into());
        args.push(b.clone());
    }
    let config = serde_json::json!({
        "mcpServers": {
            name: {
                "command": binary.display().to_string(),
                "args": args,
            }
        }
    });
    let text = serde_json::to_string_pretty(&config).map_err(|e| Error::Usage(e.to_string()))?;
    agent::print(&text);
    Ok(())
}

/// Serves MCP on stdio until the client closes it (or a signal).
pub(crate) async fn run(args: Args) -> Result<(), Error> {
    // A peer already running on the directory answers its local API.
    let attached = matches!(
        agent::local::call(&args.dir, "GET", "/api/status", None).await,
        Ok((200, _))
    );
    let in_process = if attached {
        tracing::info!(dir = %args.dir.display(), "attached to the running agent peer");
        None
    } else {
        let launched = agent::launch(agent::Start {
            dir: args.dir.clone(),
            genesis: args.genesis,
            bootstrap: args.bootstrap,
            listen: args.listen,
            api_port: 0,
            thresholds: mesh::agent::Thresholds::default(),
        })
        .await?;
        tracing::info!(dir = %args.dir.display(), "started an agent peer in-process");
        let stop = launched.stopper();
        Some((stop, tokio::spawn(launched.serve(std::future::pending()))))
    };
    let served = tools::Mesh::new(args.dir)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| Error::Usage(format!("the MCP session did not start: {e}")));
    let result = match served {
        Ok(service) => {
            tokio::select! {
                done = service.waiting() => done
                    .map(|_| ())
                    .map_err(|e| Error::Usage(format!("the MCP session failed: {e}"))),
                () = crate::shutdown::signal() => Ok(()),
            }
        }
        Err(e) => Err(e),
    };
    if let Some((stop, peer)) = in_process {
        stop.notify_one();
        if let Ok(Err(e)) = peer.await {
            tracing::warn!(error = %e, "the in-process agent peer stopped badly");
        }
    }
    result
}
