//! The `nocturne` binary: web server, storage and command line.
//!
//! - [`cli`] parses the command line and dispatches: `serve` (the default),
//!   `encrypt` and `decrypt` (`crypt`: files to Nocturne's format and back
//!   with a password, streaming), and the `node` and `agent` commands of
//!   later releases, which say so and exit non-zero until they exist.
//! - [`Config`] is everything `serve` needs, from flags and environment.
//! - [`http`] builds the axum router: the Leptos pages (server-rendered, then
//!   hydrated by the WASM bundle embedded in this binary), the JSON API, and
//!   the security headers every response carries; unit tests drive it in
//!   memory. [`http::serve`] runs it on a listener until a shutdown future
//!   resolves; the integration tests run the real binary on port 0.
//! - `db` owns the SQLite connection on a dedicated thread so blocking calls
//!   never run on the async executor; `secret` loads or creates the server
//!   secret in the data directory.
//!
//! The server stores and serves; it never reads. Nothing here ever sees a
//! password, a decrypting key or a plaintext byte.

mod accounts;
mod agent;
mod backup;
pub mod cli;
mod clock;
mod config;
mod crypt;
mod db;
mod error;
mod files;
pub mod http;
mod limits;
mod maintenance;
mod mcp;
mod metrics;
mod node;
mod replication;
mod secret;
mod shares;
mod shutdown;
mod state;
mod store;

pub use config::{Config, MeshConfig, MeshMode, Registration, parse_duration, parse_size};
pub use error::Error;
