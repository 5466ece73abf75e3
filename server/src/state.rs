//! What every front end (the HTTP handlers today; the meshes and the MCP
//! server later) reaches the server through: the database, the blob store,
//! the secret, the clock, the settings, and the in-memory state of the
//! domain modules. Opened once at startup.

use std::{path::Path, sync::Arc};

use leptos::prelude::LeptosOptions;

use crate::{
    Config, Error, config::Registration, db::Db, files::UploadLocks, limits, secret::ServerSecret,
    shares::Streams, store::LocalDisk,
};

/// What every handler can reach.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub(crate) leptos: LeptosOptions,
    pub(crate) db: Db,
    pub(crate) secret: Arc<ServerSecret>,
    pub(crate) trust_proxy: bool,
    /// Proxies appending to `X-Forwarded-For` (see `http::client`).
    pub(crate) trusted_proxies: usize,
    pub(crate) blobs: LocalDisk,
    pub(crate) limiter: Arc<limits::Limiter>,
    /// Wrong share-link passwords per client (growing delays).
    pub(crate) penalties: Arc<limits::Penalties>,
    /// Share downloads in flight, per claim and file.
    pub(crate) streams: Arc<Streams>,
    pub(crate) uploads: Arc<UploadLocks>,
    pub(crate) registration: Registration,
    pub(crate) quota: u64,
    pub(crate) max_file_size: u64,
    /// The clock share links are judged by (movable in tests).
    pub(crate) clock: crate::clock::Clock,
    /// The storage mesh, when `NOCTURNE_MESH` is on.
    pub(crate) mesh: Option<crate::replication::Mesh>,
    /// How long `orphans/` keeps a blob (`None`: forever).
    pub(crate) orphan_retention: Option<std::time::Duration>,
    /// What `/metrics` reports.
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    /// `/metrics`'s bearer token; without one it does not exist.
    pub(crate) metrics_token: Option<Arc<zeroize::Zeroizing<String>>>,
}

impl AppState {
    /// Prepares the data directory (created with mode 0700 if missing), the
    /// server secret and the database.
    pub(crate) async fn open(config: &Config) -> Result<Self, Error> {
        let config = config.clone();
        // Filesystem work is blocking; keep it off the executor.
        tokio::task::spawn_blocking(move || {
            create_data_dir(&config.data_dir)?;
            let secret = ServerSecret::load_or_create(config.secret.as_ref(), &config.data_dir)?;
            let db = Db::open(&config.data_dir.join(crate::db::FILE_NAME))?;
            let blobs = LocalDisk::open(&config.data_dir)
                .map_err(|e| Error::io("create the blob store in", &config.data_dir, e))?;
            Ok(AppState {
                leptos: leptos_options(),
                db,
                secret: Arc::new(secret),
                trust_proxy: config.trust_proxy,
                trusted_proxies: config.trusted_proxies.max(1),
                blobs,
                limiter: Arc::default(),
                penalties: Arc::default(),
                streams: Arc::default(),
                uploads: Arc::default(),
                registration: config.registration,
                quota: config.quota,
                max_file_size: config.max_file_size,
                clock: crate::clock::Clock::new(config.test_clock_file.clone()),
                mesh: None,
                orphan_retention: config.orphan_retention,
                metrics: Arc::default(),
                metrics_token: config.metrics_token.clone().map(Arc::new),
            })
        })
        .await
        .map_err(|_| Error::Config("startup was interrupted".into()))?
    }
}

fn create_data_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io("create the data directory", dir, e))?;
    // An existing directory keeps the mode its owner chose, but it should
    // not go unnoticed that others can look inside.
    let mode = std::fs::metadata(dir)
        .map_err(|e| Error::io("inspect the data directory", dir, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %dir.display(),
            "the data directory is accessible to other users (mode {:o}); consider chmod 700",
            mode & 0o777
        );
    }
    Ok(())
}

/// Leptos' settings, fixed at build time: the site is embedded in the
/// binary, so nothing is read from a `Cargo.toml` or the environment.
fn leptos_options() -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(app::OUTPUT_NAME)
        .site_pkg_dir("pkg")
        .env(if cfg!(debug_assertions) {
            leptos::config::Env::DEV
        } else {
            leptos::config::Env::PROD
        })
        .build()
}
