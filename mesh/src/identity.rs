//! A peer's identity: an Ed25519 key kept in one file, mode 0600.

use std::{io::Write, path::Path};

use libp2p::identity::Keypair;

use crate::Error;

/// Loads the key at `path`, or creates one there (owner-only) if there is
/// none. A peer id is the key's hash, so keeping the file keeps the id.
pub fn load_or_create(path: &Path) -> Result<Keypair, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Keypair::from_protobuf_encoding(&bytes)
            .map_err(|_| Error::Identity(path.display().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = Keypair::generate_ed25519();
            let bytes = key
                .to_protobuf_encoding()
                .map_err(|_| Error::Identity(path.display().to_string()))?;
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir).map_err(Error::io("creating the data directory"))?;
            let mut file = tempfile_in(dir)?;
            file.1
                .write_all(&bytes)
                .and_then(|()| file.1.sync_all())
                .map_err(Error::io("writing the identity key"))?;
            std::fs::rename(&file.0, path).map_err(Error::io("saving the identity key"))?;
            Ok(key)
        }
        Err(e) => Err(Error::Io {
            context: format!("reading {}", path.display()),
            source: e,
        }),
    }
}

/// A new owner-only file beside the key, renamed into place once written so
/// a crash never leaves half a key.
fn tempfile_in(dir: &Path) -> Result<(std::path::PathBuf, std::fs::File), Error> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| Error::Io {
        context: "the OS random source".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let name = dir.join(format!(".identity-{}.tmp", u64::from_le_bytes(suffix)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(&name)
        .map_err(Error::io("creating the identity key"))?;
    Ok((name, file))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_key_survives_a_reload_and_is_owner_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("identity.key");
        let first = super::load_or_create(&path).expect("create");
        let again = super::load_or_create(&path).expect("load");
        assert_eq!(first.public().to_peer_id(), again.public().to_peer_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"not a key").expect("write");
        assert!(super::load_or_create(&path).is_err());
    }
}
