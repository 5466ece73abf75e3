//! What the server needs to start, gathered from flags and the environment.

use std::{fmt, path::PathBuf};

use zeroize::Zeroizing;

use crate::Error;

/// The shortest `NOCTURNE_SECRET` accepted: 32 characters, so that even a
/// hex- or base64-encoded value carries at least 128 bits.
pub(crate) const MIN_SECRET_LEN: usize = 32;

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
}

impl Config {
    /// A configuration with the given data directory, no explicit secret and
    /// no trusted proxy.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            data_dir: data_dir.into(),
            secret: None,
            trust_proxy: false,
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
        Ok(self)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("trust_proxy", &self.trust_proxy)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
