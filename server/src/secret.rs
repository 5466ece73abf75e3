//! The server secret: the key for whatever the server itself must keep
//! unforgeable (session tokens, the fake salts that hide which usernames
//! exist). It decrypts nothing a user stored.
//!
//! Taken from `NOCTURNE_SECRET` when set; otherwise generated once from the
//! operating system's RNG and kept in `<data dir>/secret` with mode 0600.

use std::{
    fmt,
    fs::{self, OpenOptions},
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
};

use sha2::{Digest as _, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::{Error, config::MIN_SECRET_LEN};

/// The file name of the generated secret inside the data directory.
pub(crate) const FILE_NAME: &str = "secret";

/// The server secret's bytes; zeroized on drop, never printed.
pub(crate) struct ServerSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret(<redacted>)")
    }
}

impl ServerSecret {
    /// Uses `configured` if given, else the secret file in `data_dir`,
    /// creating it on first start.
    pub(crate) fn load_or_create(
        configured: Option<&Zeroizing<String>>,
        data_dir: &Path,
    ) -> Result<Self, Error> {
        if let Some(value) = configured {
            return Ok(ServerSecret(Zeroizing::new(value.as_bytes().to_vec())));
        }
        let path = data_dir.join(FILE_NAME);
        match read_bounded(&path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                Self::tighten_permissions(&path)?;
                let value = text.trim();
                if value.len() < MIN_SECRET_LEN {
                    return Err(Error::Config(format!(
                        "{} is damaged (too short); remove it to generate a new one, \
                         which signs everyone out",
                        path.display()
                    )));
                }
                Ok(ServerSecret(Zeroizing::new(value.as_bytes().to_vec())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(&path),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    /// Writes a fresh secret atomically: a temporary file created with mode
    /// 0600, synced, then renamed into place, so a crash never leaves a
    /// half-written secret behind.
    fn create(path: &Path) -> Result<Self, Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut_slice())
            .map_err(|e| Error::Config(format!("the operating system RNG failed: {e}")))?;
        let hex = Zeroizing::new(to_hex(bytes.as_slice()));

        let tmp = path.with_extension("tmp");
        let _ = fs::remove_file(&tmp);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| Error::io("create", &tmp, e))?;
        file.write_all(hex.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io("write", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| Error::io("create", path, e))?;
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
        tracing::info!(path = %path.display(), "generated a new server secret");
        Ok(ServerSecret(Zeroizing::new(hex.as_bytes().to_vec())))
    }

    /// A secret file others can read is repaired, loudly.
    fn tighten_permissions(path: &Path) -> Result<(), Error> {
        let meta = fs::metadata(path).map_err(|e| Error::io("inspect", path, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the secret file was readable by others; setting mode 0600");
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io("set permissions on", path, e))?;
        }
        Ok(())
    }

    /// The secret's bytes, for key derivation.
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

/// Reads the secret file, refusing one far larger than any secret.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    const LIMIT: u64 = 4096;
    let mut text = String::new();
    fs::File::open(path)?
        .take(LIMIT + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > LIMIT {
        text.zeroize();
        return Err(std::io::Error::other(
            "larger than any secret; is it the right file?",
        ));
    }
    Ok(text)
}

/// Makes a rename or file creation inside `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync", dir, e))
}

/// SHA-256 of `secret` under a label, for what the server keeps of auth
/// keys and tokens. These inputs are 256-bit random values (or Argon2id
/// output), so a fast hash is enough: there is nothing to brute-force
/// below the Argon2id the browser already paid for.
pub(crate) fn digest(label: &str, secret: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(label.as_bytes());
    h.update([0]);
    h.update(secret);
    h.finalize().into()
}

/// Compares two digests without an early exit.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes from the OS.
pub(crate) fn random32() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
    bytes
}

/// Lower-case hex, for the secret file and asset ETags.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The bytes of lower- or upper-case hex; `None` for anything else.
pub(crate) fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |c: u8| char::from(c).to_digit(16);
            u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_non_hex() {
        let bytes = [0u8, 1, 0x7f, 0x80, 0xff];
        assert_eq!(from_hex(&to_hex(&bytes)).as_deref(), Some(&bytes[..]));
        assert_eq!(from_hex("ABcd").as_deref(), Some(&[0xab, 0xcd][..]));
        for bad in ["abc", "zz", "é0", "+1"] {
            assert_eq!(from_hex(bad), None, "{bad}");
        }
    }

    #[test]
    fn generated_once_with_mode_0600_then_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ServerSecret::load_or_create(None, dir.path()).expect("create");
        let path = dir.path().join(FILE_NAME);
        let mode = fs::metadata(&path).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(first.expose().len(), 64);
        let second = ServerSecret::load_or_create(None, dir.path()).expect("reload");
        assert_eq!(first.expose(), second.expose());
    }

    #[test]
    fn configured_secret_wins_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let configured = Zeroizing::new("x".repeat(40));
        let secret = ServerSecret::load_or_create(Some(&configured), dir.path()).expect("load");
        assert_eq!(secret.expose(), configured.as_bytes());
        assert!(!dir.path().join(FILE_NAME).exists());
    }

    #[test]
    fn readable_secret_file_is_tightened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        fs::write(&path, "a".repeat(64)).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        ServerSecret::load_or_create(None, dir.path()).expect("load");
        let mode = fs::metadata(&path).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn damaged_secret_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(FILE_NAME), "abc12").expect("write");
        let err = ServerSecret::load_or_create(None, dir.path()).expect_err("must refuse");
        assert!(err.to_string().contains("damaged"), "{err}");
        assert!(
            !err.to_string().contains("abc12"),
            "the value must not be echoed"
        );
    }

    #[test]
    fn debug_is_redacted() {
        let secret = ServerSecret(Zeroizing::new(b"topsecretvalue".to_vec()));
        assert_eq!(format!("{secret:?}"), "ServerSecret(<redacted>)");
    }
}
