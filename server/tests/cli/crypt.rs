//! `nocturne encrypt` / `decrypt`: round trips for both ciphers through files
//! and pipes; wrong passwords and tampered files fail with one line and
//! leave no output file behind.

use std::{
    path::Path,
    process::{Output, Stdio},
    time::Duration,
};

use tokio::{io::AsyncWriteExt, process::Command};

const LIMIT: Duration = Duration::from_secs(120);
const MARKER: &[u8] = b"PLAINTEXT-MARKER-7f3a";

async fn nocturne(
    dir: &Path,
    args: &[&str],
    password: Option<&str>,
    stdin: Option<&[u8]>,
) -> Output {
    let mut command = Command::new(crate::common::binary());
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(password) = password {
        command.env("NOCTURNE_PASSWORD", password);
    }
    let mut child = command.spawn().expect("run nocturne");
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        tokio::spawn(async move {
            let _ = pipe.write_all(&data).await;
        });
    }
    tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .expect("nocturne did not finish")
        .expect("wait")
}

fn sample(len: usize) -> Vec<u8> {
    let mut data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    for at in [0, len / 2, len.saturating_sub(MARKER.len())] {
        if at + MARKER.len() <= len {
            data[at..at + MARKER.len()].copy_from_slice(MARKER);
        }
    }
    data
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn one_line(output: &Output) -> String {
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "expected one line: {err}"
    );
    err
}

#[tokio::test]
async fn both_ciphers_round_trip_through_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = sample((3 << 20) + 5);
    std::fs::write(dir.path().join("plain.bin"), &data).expect("write");
    for cipher in ["aes-256-gcm", "noctis-256"] {
        let enc = nocturne(
            dir.path(),
            &[
                "encrypt",
                "--cipher",
                cipher,
                "-i",
                "plain.bin",
                "-o",
                "sealed.noc",
            ],
            Some("correct horse"),
            None,
        )
        .await;
        assert!(
            enc.status.success(),
            "{cipher}: {}",
            String::from_utf8_lossy(&enc.stderr)
        );
        let sealed = std::fs::read(dir.path().join("sealed.noc")).expect("sealed");
        assert!(
            !contains(&sealed, MARKER),
            "plaintext visible in the {cipher} output"
        );
        assert_eq!(&sealed[..6], b"NOCTRN");

        let dec = nocturne(
            dir.path(),
            &["decrypt", "-i", "sealed.noc", "-o", "back.bin"],
            Some("correct horse"),
            None,
        )
        .await;
        assert!(
            dec.status.success(),
            "{cipher}: {}",
            String::from_utf8_lossy(&dec.stderr)
        );
        assert!(
            std::fs::read(dir.path().join("back.bin")).expect("back") == data,
            "{cipher} round trip"
        );
    }
}

#[tokio::test]
async fn pipes_and_password_files_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pw"), "s3cret phrase\n").expect("password file");
    let data = sample(1000);
    let enc = nocturne(
        dir.path(),
        &["encrypt", "--password-file", "pw"],
        None,
        Some(&data),
    )
    .await;
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    // The trailing newline of the file is not part of the password.
    let dec = nocturne(
        dir.path(),
        &["decrypt"],
        Some("s3cret phrase"),
        Some(&enc.stdout),
    )
    .await;
    assert!(
        dec.status.success(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
    assert_eq!(dec.stdout, data);
    // An empty input is a valid file too.
    let empty = nocturne(dir.path(), &["encrypt"], Some("x"), Some(b"")).await;
    let back = nocturne(dir.path(), &["decrypt"], Some("x"), Some(&empty.stdout)).await;
    assert!(back.status.success());
    assert!(back.stdout.is_empty());
}

async fn sealed_file(dir: &Path) -> Vec<u8> {
    std::fs::write(dir.join("plain.bin"), sample((2 << 20) + 77)).expect("write");
    let enc = nocturne(
        dir,
        &["encrypt", "-i", "plain.bin", "-o", "sealed.noc"],
        Some("pw-one"),
        None,
    )
    .await;
    assert!(enc.status.success());
    std::fs::read(dir.join("sealed.noc")).expect("sealed")
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".nocturne-partial") || n == "out.bin")
        .collect()
}

#[tokio::test]
async fn a_wrong_password_fails_with_one_line_and_no_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    sealed_file(dir.path()).await;
    let dec = nocturne(
        dir.path(),
        &["decrypt", "-i", "sealed.noc", "-o", "out.bin"],
        Some("pw-two"),
        None,
    )
    .await;
    assert!(!dec.status.success());
    let err = one_line(&dec);
    assert!(err.contains("decryption failed"), "{err}");
    assert!(
        !err.contains("pw-"),
        "the password reached the error: {err}"
    );
    assert!(
        leftovers(dir.path()).is_empty(),
        "left behind: {:?}",
        leftovers(dir.path())
    );
}

#[tokio::test]
async fn tampered_truncated_or_extended_files_fail_and_leave_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sealed = sealed_file(dir.path()).await;
    let mut flipped = sealed.clone();
    let chunk = noctis::format::DEFAULT_CHUNK_SIZE as usize;
    flipped[80 + chunk + 500] ^= 0x04; // inside the second chunk
    let mut extended = sealed.clone();
    extended.extend_from_slice(b"more");
    let cases: [(&str, Vec<u8>); 4] = [
        ("flipped bit", flipped),
        ("truncated", sealed[..sealed.len() - 10].to_vec()),
        (
            "cut at a chunk boundary",
            sealed[..80 + chunk + 16].to_vec(),
        ),
        ("extended", extended),
    ];
    for (what, bytes) in cases {
        std::fs::write(dir.path().join("bad.noc"), &bytes).expect("write");
        let dec = nocturne(
            dir.path(),
            &["decrypt", "-i", "bad.noc", "-o", "out.bin"],
            Some("pw-one"),
            None,
        )
        .await;
        assert!(!dec.status.success(), "{what} was accepted");
        assert!(one_line(&dec).contains("decryption failed"), "{what}");
        assert!(
            leftovers(dir.path()).is_empty(),
            "{what} left {:?}",
            leftovers(dir.path())
        );
    }
    // Not our format at all: a clear, different message.
    std::fs::write(
        dir.path().join("junk"),
        b"hello world, not encrypted at all",
    )
    .expect("write");
    let dec = nocturne(
        dir.path(),
        &["decrypt", "-i", "junk", "-o", "out.bin"],
        Some("pw-one"),
        None,
    )
    .await;
    assert!(one_line(&dec).contains("not a Nocturne encrypted file"));
}

#[tokio::test]
async fn without_a_password_source_it_says_how_to_give_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let enc = nocturne(dir.path(), &["encrypt"], None, Some(b"data")).await;
    assert!(!enc.status.success());
    assert!(one_line(&enc).contains("NOCTURNE_PASSWORD"));
}

/// An output that is a FIFO or a device is written to, not replaced: the
/// rename that protects regular files once swapped a FIFO for a regular
/// file (its reader got nothing) and, as root, `/dev/null` for a file
/// holding the plaintext. Both are made in a temporary directory, never the
/// system's.
#[tokio::test]
async fn fifos_and_devices_are_written_to_not_replaced() {
    use std::os::unix::fs::FileTypeExt;

    let dir = tempfile::tempdir().expect("tempdir");
    let data = sample(300_000);
    std::fs::write(dir.path().join("plain.bin"), &data).expect("write");
    let enc = nocturne(
        dir.path(),
        &["encrypt", "-i", "plain.bin", "-o", "sealed.noc"],
        Some("pw"),
        None,
    )
    .await;
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );

    // A FIFO, read by another thread while `decrypt` writes to it.
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(&fifo).expect("read the fifo"))
    };
    let dec = nocturne(
        dir.path(),
        &["decrypt", "-i", "sealed.noc", "-o", "pipe"],
        Some("pw"),
        None,
    )
    .await;
    assert!(
        dec.status.success(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
    let got = reader.join().expect("the reader");
    assert!(got == data, "the FIFO's reader got {} bytes", got.len());
    let kind = std::fs::symlink_metadata(&fifo)
        .expect("still there")
        .file_type();
    assert!(kind.is_fifo(), "the FIFO was replaced: {kind:?}");

    // A null device of our own (mknod needs root; said when skipped).
    let null = dir.path().join("null");
    let made = std::process::Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("skipped the device case: mknod needs root here");
        return;
    }
    let dec = nocturne(
        dir.path(),
        &["decrypt", "-i", "sealed.noc", "-o", "null"],
        Some("pw"),
        None,
    )
    .await;
    assert!(
        dec.status.success(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
    let kind = std::fs::symlink_metadata(&null)
        .expect("still there")
        .file_type();
    assert!(kind.is_char_device(), "the device was replaced: {kind:?}");
    assert_eq!(std::fs::metadata(&null).expect("meta").len(), 0);
}

/// `decrypt` takes no `--cipher` (the file says which): it is refused with
/// a usage error instead of being accepted and ignored.
#[tokio::test]
async fn decrypt_refuses_a_cipher_it_would_ignore() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = nocturne(
        dir.path(),
        &["decrypt", "--cipher", "noctis-256", "-i", "x", "-o", "y"],
        Some("pw"),
        None,
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cipher"));
}
