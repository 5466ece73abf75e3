//! What the server needs to start, gathered from flags and the environment.

use std::{fmt, path::PathBuf, time::Duration};

use mesh::{Multiaddr, storage::erasure::Coding};

use zeroize::Zeroizing;

use crate::Error;

/// The shortest `NOCTURNE_SECRET` accepted: 32 characters, so that even a
/// hex- or base64-encoded value carries at least 128 bits.
pub(crate) const MIN_SECRET_LEN: usize = 32;

/// Who may create an account (`NOCTURNE_REGISTRATION`). Whatever the
/// policy, the very first account may always register and becomes the
/// administrator, so a fresh server can be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Registration {
    /// Anyone who can reach the server.
    Open,
    /// Only with an invite code from an administrator (the default).
    Invite,
    /// No one after the first account.
    Closed,
}

/// The default largest file: 10 GiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 << 30;
/// The default storage per account: 100 GiB.
pub const DEFAULT_QUOTA: u64 = 100 << 30;

/// Settings for a running server (the listener's address is the caller's).
#[derive(Clone)]
pub struct Config {
    /// Where SQLite, blobs and the generated secret live. Created if missing.
    pub data_dir: PathBuf,
    /// `NOCTURNE_SECRET`, if set; otherwise one is generated in `data_dir`.
    pub secret: Option<Zeroizing<String>>,
    /// Whether a reverse proxy in front terminates TLS and sets
    /// `X-Forwarded-For`: turns on HSTS and (later) client addresses from
    /// forwarded headers.
    pub trust_proxy: bool,
    /// How many proxies in front append to `X-Forwarded-For` (with
    /// `trust_proxy`): the client is the entry the first of them appended,
    /// this many from the right.
    pub trusted_proxies: usize,
    /// Who may register.
    pub registration: Registration,
    /// The largest file (ciphertext bytes) an upload may declare.
    pub max_file_size: u64,
    /// Ciphertext bytes each account may store, uploads in progress included.
    pub quota: u64,
    /// For tests only (`NOCTURNE_TEST_CLOCK_FILE`): a file holding a number
    /// of seconds added to the clock that share links are judged by
    /// (expiry, claims, lockout delays), so tests move time instead of
    /// sleeping.
    pub test_clock_file: Option<PathBuf>,
    /// The storage mesh (`NOCTURNE_MESH` other than `off`).
    pub mesh: Option<MeshConfig>,
    /// How long blobs moved to `orphans/` are kept before they are deleted
    /// (`None`: kept forever).
    pub orphan_retention: Option<Duration>,
    /// `NOCTURNE_METRICS_TOKEN`: turns on `GET /metrics` for this bearer
    /// token (environment only, so it never shows in process listings).
    pub metrics_token: Option<Zeroizing<String>>,
}

impl Config {
    /// A configuration with the given data directory, no explicit secret and
    /// no trusted proxy.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            data_dir: data_dir.into(),
            secret: None,
            trust_proxy: false,
            trusted_proxies: 1,
            registration: Registration::Invite,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            quota: DEFAULT_QUOTA,
            test_clock_file: None,
            orphan_retention: Some(Duration::from_secs(30 * 86_400)),
            metrics_token: None,
            mesh: None,
        }
    }

    /// Reads `NOCTURNE_SECRET` from the environment into `self.secret`.
    ///
    /// The secret is taken only from the environment (never a flag) so that
    /// it does not show up in process listings.
    pub fn with_secret_from_env(mut self) -> Result<Self, Error> {
        match std::env::var("NOCTURNE_SECRET") {
            Ok(value) if value.is_empty() => {}
            Ok(value) => {
                let value = Zeroizing::new(value);
                if value.len() < MIN_SECRET_LEN {
                    return Err(Error::Config(format!(
                        "NOCTURNE_SECRET must be at least {MIN_SECRET_LEN} characters long"
                    )));
                }
                self.secret = Some(value);
            }
            Err(std::env::VarError::NotPresent) => {}
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::Config("NOCTURNE_SECRET is not valid UTF-8".into()));
            }
        }
        match std::env::var("NOCTURNE_METRICS_TOKEN") {
            Ok(value) if value.is_empty() => {}
            Ok(value) => {
                let value = Zeroizing::new(value);
                if value.len() < 16 {
                    return Err(Error::Config(
                        "NOCTURNE_METRICS_TOKEN must be at least 16 characters long".into(),
                    ));
                }
                self.metrics_token = Some(value);
            }
            Err(std::env::VarError::NotPresent) => {}
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::Config(
                    "NOCTURNE_METRICS_TOKEN is not valid UTF-8".into(),
                ));
            }
        }
        Ok(self)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .field("trust_proxy", &self.trust_proxy)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("registration", &self.registration)
            .field("max_file_size", &self.max_file_size)
            .field("quota", &self.quota)
            .field("mesh", &self.mesh)
            .finish()
    }
}

/// What the mesh does with finished files (`NOCTURNE_MESH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MeshMode {
    /// No mesh: files live in the local blob store only.
    Off,
    /// Every file is also placed on the mesh; the local blob stays.
    Replicate,
    /// Every file is placed on the mesh and its local blob dropped once all
    /// fragments are confirmed; reads come from the mesh.
    Offload,
}

impl MeshMode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MeshMode::Off => "off",
            MeshMode::Replicate => "replicate",
            MeshMode::Offload => "offload",
        }
    }
}

/// The mesh's settings (flags and `NOCTURNE_MESH_*`).
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// Replicate or offload.
    pub mode: MeshMode,
    /// Where the server's peer listens (TCP and QUIC).
    pub listen: Vec<Multiaddr>,
    /// k + m.
    pub coding: Coding,
    /// Bytes per shard (stripe = k shards).
    pub shard_size: u32,
    /// How long a node may be gone before its fragments are rebuilt elsewhere.
    pub grace: Duration,
    /// How often a round of audits runs.
    pub audit_interval: Duration,
    /// How often placement and repair look for work (they are also woken by
    /// events).
    pub repair_interval: Duration,
    /// Files repaired at once.
    pub repair_parallelism: usize,
    /// Repair bandwidth, bytes per second written to new nodes.
    pub repair_rate: u64,
    /// Repair starts at once, grace or not, when fewer than this many
    /// fragments of a file are healthy on connected nodes (default k + 1).
    pub repair_threshold: Option<usize>,
}

/// Parses a byte size: a number with an optional unit, `B`, `KB`/`MB`/`GB`/`TB`
/// (powers of 1000) or `KiB`/`MiB`/`GiB`/`TiB` (powers of 1024), case and
/// spaces ignored: `10GiB`, `500 MB`, `1048576`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (try 10GiB, 500MB or a number of bytes)"))?;
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "tb" | "t" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "`{unit}` is not a size unit (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Parses a duration: a number with `ms`, `s`, `m`, `h` or `d` (`90s`,
/// `10m`, `1h`); a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || format!("`{text}` is not a duration (try 30s, 10m or 1h)");
    let n: u64 = number.parse().map_err(|_| bad())?;
    let ms = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    n.checked_mul(ms).map(Duration::from_millis).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_either_unit_family() {
        assert_eq!(parse_size("10GiB"), Ok(10 << 30));
        assert_eq!(parse_size("10 gb"), Ok(10_000_000_000));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("3MiB"), Ok(3 << 20));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("99999999999TiB").is_err());
    }

    #[test]
    fn durations_parse() {
        use std::time::Duration;
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 fortnights").is_err());
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let mut config = Config::new("data");
        config.secret = Some(Zeroizing::new(
            "correct horse battery staple 1234567".into(),
        ));
        let shown = format!("{config:?}");
        assert!(!shown.contains("horse"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
