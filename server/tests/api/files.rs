//! Uploads and downloads against the real binary: resumable parts in any
//! order, ranged downloads, isolation between accounts, limits, crashes,
//! concurrency, and the OpenAPI document.

use crate::common::{
    Server, binary,
    client::{Client, encrypt, sha256_hex},
};
use noctis::format::CipherId;
use reqwest::Method;
use serde_json::Value;

const PART: u64 = 256 * 1024;

async fn logged_in(s: &Server, name: &str) -> Client {
    let mut c = Client::new(&s.base, name);
    assert_eq!(c.register("pw", None).await.status(), 201);
    assert_eq!(c.login("pw").await, 200);
    c
}

fn body(i: u64) -> Vec<u8> {
    (0..i).map(|n| (n * 31 % 251) as u8).collect()
}

#[tokio::test]
async fn parts_out_of_order_with_a_retry_then_a_ranged_download() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(&binary(), dir.path(), &[("NOCTURNE_REGISTRATION", "open")]).await;
    let a = logged_in(&s, "alice").await;
    let file = encrypt("report.pdf", &body(2 * PART + 1000), CipherId::Aes256Gcm);
    let ct = &file.ciphertext;
    let part = |i: usize| ct[i * PART as usize..((i + 1) * PART as usize).min(ct.len())].to_vec();
    let created: Value = a
        .create_upload(&file, PART)
        .await
        .json()
        .await
        .expect("json");
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["parts"], 3);

    assert_eq!(a.put_part(&id, 2, part(2)).await.status(), 200);
    // Part 0 first arrives damaged, then is retried: the retry replaces it.
    let mut bad = part(0);
    bad[5] ^= 0xff;
    assert_eq!(a.put_part(&id, 0, bad).await.status(), 200);
    let early = a.finish(&id, ct).await;
    assert_eq!(early.status(), 409, "part 1 is missing");
    assert_eq!(a.put_part(&id, 1, part(1)).await.status(), 200);
    let wrong = a.finish(&id, ct).await;
    assert_eq!(wrong.status(), 400, "the whole hash does not match yet");
    assert_eq!(
        wrong.json::<Value>().await.expect("json")["error"],
        "hash_mismatch"
    );
    assert_eq!(a.put_part(&id, 0, part(0)).await.status(), 200);
    let status: Value = a.upload_status(&id).await;
    assert_eq!(status["received"].as_array().expect("parts").len(), 3);
    assert_eq!(status["received"][0]["sha256"], sha256_hex(&part(0)));
    let done = a.finish(&id, ct).await;
    assert_eq!(done.status(), 201);
    let done: Value = done.json().await.expect("json");
    assert_eq!(done["size"], ct.len());

    let list = a.list().await;
    assert_eq!(list["files"].as_array().expect("files").len(), 1);
    // Used bytes count the sealed metadata beside the ciphertext.
    let metadata = crate::common::client::unb64(&list["files"][0]["metadata"]).len();
    assert_eq!(list["used"], ct.len() + metadata);
    let (name, plain) = a.open(&list["files"][0]).await;
    assert_eq!(
        (name.as_str(), plain),
        ("report.pdf", body(2 * PART + 1000))
    );

    let r = a
        .req(Method::GET, &format!("/api/files/{id}/content"))
        .header("range", "bytes=1000-299999")
        .send()
        .await
        .expect("range");
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 1000-299999/{}", ct.len()).as_str()
    );
    let etag = r.headers()["etag"].to_str().expect("etag").to_owned();
    assert_eq!(&r.bytes().await.expect("bytes")[..], &ct[1000..300_000]);
    let r = a
        .req(Method::GET, &format!("/api/files/{id}/content"))
        .header("range", "bytes=-100")
        .send()
        .await
        .expect("suffix");
    assert_eq!(&r.bytes().await.expect("bytes")[..], &ct[ct.len() - 100..]);
    let r = a
        .req(Method::GET, &format!("/api/files/{id}/content"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("304");
    assert_eq!(r.status(), 304);
    let r = a
        .req(Method::GET, &format!("/api/files/{id}/content"))
        .header("range", format!("bytes={}-", ct.len()))
        .send()
        .await
        .expect("416");
    assert_eq!(r.status(), 416);

    // Rename: new encrypted metadata, same content.
    let meta = noctis::account::seal_metadata(
        &mut rand::rng(),
        &file.data_key,
        br#"{"name":"renamed.pdf"}"#,
    );
    let r = a
        .req(Method::PATCH, &format!("/api/files/{id}"))
        .json(&serde_json::json!({"metadata": crate::common::client::b64(&meta)}))
        .send()
        .await
        .expect("rename");
    assert_eq!(r.status(), 200);
    let (name, _) = a.open(&a.list().await["files"][0]).await;
    assert_eq!(name, "renamed.pdf");
    let r = a
        .req(Method::DELETE, &format!("/api/files/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    assert_eq!(a.download(&id).await.status(), 404);
    assert_eq!(a.list().await["used"], 0);
}

#[tokio::test]
async fn another_account_sees_nothing_and_gets_404s() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(&binary(), dir.path(), &[("NOCTURNE_REGISTRATION", "open")]).await;
    let a = logged_in(&s, "alice").await;
    let b = logged_in(&s, "bob").await;
    let file = a
        .upload(&encrypt("a.txt", b"alice's", CipherId::Aes256Gcm), PART)
        .await;
    let id = file["id"].as_str().expect("id");
    assert_eq!(b.list().await["files"].as_array().expect("files").len(), 0);
    for (method, path) in [
        (Method::GET, format!("/api/files/{id}")),
        (Method::GET, format!("/api/files/{id}/content")),
        (Method::DELETE, format!("/api/files/{id}")),
    ] {
        let r = b.req(method, &path).send().await.expect("send");
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = b
        .req(Method::PATCH, &format!("/api/files/{id}"))
        .json(&serde_json::json!({"metadata": "AAAA"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 404);
    // Bob cannot write into Alice's upload either.
    let up: Value = a
        .create_upload(&encrypt("x", b"x", CipherId::Aes256Gcm), PART)
        .await
        .json()
        .await
        .expect("json");
    let up_id = up["id"].as_str().expect("id");
    assert_eq!(b.put_part(up_id, 0, vec![0; 10]).await.status(), 404);
    let anonymous = reqwest::Client::new()
        .get(s.url("/api/files"))
        .send()
        .await
        .expect("anon");
    assert_eq!(anonymous.status(), 401);
    assert_eq!(a.open(&a.list().await["files"][0]).await.1, b"alice's");
}

#[tokio::test]
async fn size_and_quota_limits_answer_413_before_storing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(
        &binary(),
        dir.path(),
        &[
            ("NOCTURNE_MAX_FILE_SIZE", "1MiB"),
            ("NOCTURNE_QUOTA", "1500KiB"),
        ],
    )
    .await;
    let a = logged_in(&s, "alice").await;
    let big = encrypt("big", &vec![0u8; (1 << 20) + 1], CipherId::Aes256Gcm);
    let r = a.create_upload(&big, PART).await;
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "file_too_large"
    );
    let fits = encrypt("fits", &vec![1u8; 900 * 1024], CipherId::Aes256Gcm);
    a.upload(&fits, PART).await;
    let r = a.create_upload(&fits, PART).await;
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "quota_exceeded"
    );
    // A part longer than its slot is refused and not recorded.
    let small = encrypt("s", &[2u8; 100], CipherId::Aes256Gcm);
    let up: Value = a
        .create_upload(&small, PART)
        .await
        .json()
        .await
        .expect("json");
    let id = up["id"].as_str().expect("id");
    let r = a
        .put_part(id, 0, vec![0u8; small.ciphertext.len() + 1])
        .await;
    assert_eq!(r.status(), 413);
    // Without a length up front (a chunked body), the server counts as the
    // bytes arrive: one byte too many stops the part, one too few is named.
    let streamed = |len: usize| {
        let chunks = vec![0u8; len]
            .chunks(64)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>();
        a.req(Method::PUT, &format!("/api/uploads/{id}/parts/0"))
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            )))
            .send()
    };
    let r = streamed(small.ciphertext.len() + 1).await.expect("put");
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "part_too_large"
    );
    let r = streamed(small.ciphertext.len() - 1).await.expect("put");
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "wrong_part_length"
    );
    let status: Value = a
        .req(Method::GET, &format!("/api/uploads/{id}"))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!(status["received"], serde_json::json!([]), "{status}");
    let r = a.put_part(id, 1, vec![0u8; 1]).await;
    assert_eq!(r.status(), 400, "no part 1 in a one-part upload");
    let r = a
        .req(Method::PUT, &format!("/api/uploads/{id}/parts/first"))
        .body(vec![0u8; 1])
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "invalid_part"
    );
    let tiny = a
        .req(Method::POST, "/api/uploads")
        .json(&serde_json::json!({"size": 10, "metadata": "AAAA",
            "wrapped_key": crate::common::client::b64(&[0; 60])}))
        .send()
        .await
        .expect("tiny");
    assert_eq!(tiny.status(), 400, "smaller than any file in the format");
    let status: Value = a.upload_status(id).await;
    assert_eq!(status["received"].as_array().expect("parts").len(), 0);
    // Cancelling gives the reservation back.
    let r = a
        .req(Method::DELETE, &format!("/api/uploads/{id}"))
        .send()
        .await
        .expect("cancel");
    assert_eq!(r.status(), 204);
    let list = a.list().await;
    let metadata = crate::common::client::unb64(&list["files"][0]["metadata"]).len();
    assert_eq!(list["used"], fits.ciphertext.len() + metadata);
}

#[tokio::test]
async fn a_server_killed_mid_upload_restarts_consistent_and_the_upload_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Server::start(&binary(), dir.path(), &[]).await;
    let mut a = logged_in(&s, "alice").await;
    let file = encrypt("movie.mkv", &body(5 * PART), CipherId::Noctis256);
    let ct = file.ciphertext.clone();
    let part = |i: usize| ct[i * PART as usize..((i + 1) * PART as usize).min(ct.len())].to_vec();
    let up: Value = a
        .create_upload(&file, PART)
        .await
        .json()
        .await
        .expect("json");
    let id = up["id"].as_str().expect("id").to_owned();
    for i in [0, 3] {
        assert_eq!(a.put_part(&id, i, part(i)).await.status(), 200);
    }
    // Start a part, send half of it, then SIGKILL the server mid-body.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let half = part(1)[..PART as usize / 2].to_vec();
    tx.send(Ok(half)).await.expect("send half");
    let stream = tokio_stream_from(rx);
    let pending = a
        .req(Method::PUT, &format!("/api/uploads/{id}/parts/1"))
        .header("content-length", PART.to_string())
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let pending = tokio::spawn(pending);
    // The server has the half once the upload's staged file grew past it;
    // waiting on that file's contents, not on time.
    let staged = dir.path().join("data/uploads").join(format!("{id}.part"));
    let needle = part(1)[..1024].to_vec();
    loop {
        let bytes = std::fs::read(&staged).expect("staged file");
        if bytes[PART as usize..PART as usize + 1024] == needle[..] {
            break;
        }
        tokio::task::yield_now().await;
    }
    s.child.start_kill().expect("SIGKILL");
    s.child.wait().await.expect("wait");
    drop(tx);
    let _ = pending.await;

    let s = Server::start(&binary(), dir.path(), &[]).await;
    a.base = s.base.clone();
    assert_eq!(a.login("pw").await, 200);
    assert_eq!(
        a.list().await["files"].as_array().expect("files").len(),
        0,
        "no partial file is visible"
    );
    let status: Value = a.upload_status(&id).await;
    let received: Vec<u64> = status["received"]
        .as_array()
        .expect("parts")
        .iter()
        .map(|p| p["index"].as_u64().expect("index"))
        .collect();
    assert_eq!(received, vec![0, 3], "the cut-off part was never recorded");
    for i in [1, 2, 4, 5] {
        if i * PART as usize >= ct.len() {
            continue;
        }
        assert_eq!(a.put_part(&id, i, part(i)).await.status(), 200);
    }
    assert_eq!(a.finish(&id, &ct).await.status(), 201);
    let (name, plain) = a.open(&a.list().await["files"][0]).await;
    assert_eq!((name.as_str(), plain), ("movie.mkv", body(5 * PART)));
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn leftovers_of_a_crash_are_sorted_out_at_startup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Server::start(&binary(), dir.path(), &[]).await;
    let a = logged_in(&s, "alice").await;
    let kept = a
        .upload(&encrypt("kept", b"kept", CipherId::Aes256Gcm), PART)
        .await;
    // An upload with every part in, whose finish was interrupted right after
    // the commit's rename: the blob is in place, its row not yet written.
    let late = encrypt("late.txt", &body(PART + 5), CipherId::Aes256Gcm);
    let up: Value = a
        .create_upload(&late, PART)
        .await
        .json()
        .await
        .expect("json");
    let late_id = up["id"].as_str().expect("id").to_owned();
    for (i, part) in late.ciphertext.chunks(PART as usize).enumerate() {
        assert_eq!(a.put_part(&late_id, i, part.to_vec()).await.status(), 200);
    }
    assert_eq!(s.terminate().await.code(), Some(0));
    let data = dir.path().join("data");
    let committed = data.join("blobs").join(&late_id[..2]).join(&late_id);
    std::fs::create_dir_all(committed.parent().expect("parent")).expect("mkdir");
    std::fs::rename(
        data.join("uploads").join(format!("{late_id}.part")),
        &committed,
    )
    .expect("commit by hand");
    // A blob no row names (a crash mid-delete, or an older database), and a
    // staged file whose upload row never made it.
    let orphan_id = "ab000000000000000000000000000000";
    let orphan = data.join("blobs/ab").join(orphan_id);
    std::fs::create_dir_all(orphan.parent().expect("parent")).expect("mkdir");
    std::fs::write(&orphan, b"orphan").expect("write");
    let staged = data.join("uploads/cd000000000000000000000000000000.part");
    std::fs::write(&staged, b"staged").expect("write");

    let s = Server::start(&binary(), dir.path(), &[("RUST_LOG", "info")]).await;
    let logs = s.logs();
    for count in ["recovered_uploads=1", "orphan_blobs=1", "orphan_staged=1"] {
        assert!(logs.contains(count), "{count} missing from: {logs}");
    }
    assert!(!orphan.exists() && !staged.exists());
    assert_eq!(
        std::fs::read(data.join("orphans").join(orphan_id)).expect("quarantined, not deleted"),
        b"orphan"
    );
    let mut a = Client::new(&s.base, "alice");
    assert_eq!(a.login("pw").await, 200);
    let list = a.list().await;
    let files = list["files"].as_array().expect("files");
    assert_eq!(files.len(), 2, "{list}");
    assert!(files.iter().any(|f| f["id"] == kept["id"]));
    let recovered = files
        .iter()
        .find(|f| f["id"] == late_id.as_str())
        .expect("recovered");
    let (name, plain) = a.open(recovered).await;
    assert_eq!((name.as_str(), plain), ("late.txt", body(PART + 5)));
}

/// A blob found in another fan-out folder than its name's is moved where
/// it belongs (it was once reported at every start and its file could not
/// be downloaded), and `orphans/` keeps what it holds for the retention
/// period only: an orphan set aside 40 days ago goes, one from yesterday
/// stays.
#[tokio::test]
async fn strays_go_home_and_old_orphans_go_away() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Server::start(&binary(), dir.path(), &[]).await;
    let a = logged_in(&s, "alice").await;
    let file = a
        .upload(
            &encrypt("stray.txt", b"wandering", CipherId::Aes256Gcm),
            PART,
        )
        .await;
    let id = file["id"].as_str().expect("id").to_owned();
    assert_eq!(s.terminate().await.code(), Some(0));
    let data = dir.path().join("data");
    let home = data.join("blobs").join(&id[..2]).join(&id);
    let wrong_fan = if &id[..2] == "00" { "01" } else { "00" };
    let astray = data.join("blobs").join(wrong_fan).join(&id);
    std::fs::create_dir_all(astray.parent().expect("parent")).expect("mkdir");
    std::fs::rename(&home, &astray).expect("move by hand");
    let orphans = data.join("orphans");
    std::fs::create_dir_all(&orphans).expect("orphans");
    let aged = |name: &str, days: u64| {
        let path = orphans.join(name);
        std::fs::write(&path, b"x").expect("write");
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open")
            .set_modified(when)
            .expect("set the time");
        path
    };
    let old = aged("ef000000000000000000000000000000", 40);
    let recent = aged("ef000000000000000000000000000001", 1);

    let s = Server::start(&binary(), dir.path(), &[]).await;
    assert!(
        home.exists() && !astray.exists(),
        "the stray was not moved home"
    );
    assert!(!old.exists(), "an orphan past its retention was kept");
    assert!(
        recent.exists(),
        "an orphan within its retention was deleted"
    );
    let mut a = Client::new(&s.base, "alice");
    assert_eq!(a.login("pw").await, 200);
    let (name, plain) = a.open(&file).await;
    assert_eq!(
        (name.as_str(), plain.as_slice()),
        ("stray.txt", &b"wandering"[..])
    );
}

/// `nocturne backup` taken while the server runs, `nocturne restore` into
/// a fresh data directory: a server started there serves the same account
/// and the same file.
#[tokio::test]
async fn a_backup_taken_while_serving_restores_into_a_working_server() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(&binary(), dir.path(), &[]).await;
    let a = logged_in(&s, "alice").await;
    let plain = body(2 * PART + 7);
    let file = a
        .upload(&encrypt("kept.bin", &plain, CipherId::Aes256Gcm), PART)
        .await;
    let run = |args: &[&str]| {
        std::process::Command::new(binary())
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .output()
            .expect("run nocturne")
    };
    let out = run(&["backup", "--to", "bk", "--data-dir", "data"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.starts_with("backed up 1 files"), "{said}");
    let mode = |p: &str| {
        std::fs::metadata(dir.path().join(p))
            .expect("exists")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(
        (mode("bk"), mode("bk/nocturne.db"), mode("bk/secret")),
        (0o700, 0o600, 0o600)
    );
    // Into a non-empty directory it refuses, in one line.
    let again = run(&["backup", "--to", "bk", "--data-dir", "data"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&again.stderr)
            .trim_end()
            .lines()
            .count(),
        1
    );

    let out = run(&["restore", "--from", "bk", "--data-dir", "fresh"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let twice = run(&["restore", "--from", "bk", "--data-dir", "fresh"]);
    assert_eq!(
        twice.status.code(),
        Some(1),
        "a second restore over a database"
    );

    let restored = Server::start(&binary(), dir.path(), &[("NOCTURNE_DATA_DIR", "fresh")]).await;
    let mut b = Client::new(&restored.base, "alice");
    assert_eq!(b.login("pw").await, 200);
    let list = b.list().await;
    let files = list["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "{list}");
    assert_eq!(files[0]["id"], file["id"]);
    let (name, got) = b.open(&files[0]).await;
    assert_eq!((name.as_str(), got), ("kept.bin", plain));
    drop(s);
}

#[tokio::test]
async fn a_finish_waits_for_parts_still_being_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(&binary(), dir.path(), &[]).await;
    let a = logged_in(&s, "alice").await;
    let file = encrypt("f", &body(PART - 200), CipherId::Aes256Gcm);
    let ct = file.ciphertext.clone();
    let up: Value = a
        .create_upload(&file, PART)
        .await
        .json()
        .await
        .expect("json");
    let id = up["id"].as_str().expect("id").to_owned();
    assert_eq!(a.put_part(&id, 0, ct.clone()).await.status(), 200);
    // A retry of part 0 is still streaming in when the finish arrives.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tx.send(Ok(ct[..1000].to_vec())).await.expect("send");
    let retry = a
        .req(Method::PUT, &format!("/api/uploads/{id}/parts/0"))
        .header("content-length", ct.len().to_string())
        .body(reqwest::Body::wrap_stream(tokio_stream_from(rx)));
    let retry = tokio::spawn(retry.send());
    // The server holds the retry once its bytes reach the staging file.
    let staged = dir.path().join("data/uploads").join(format!("{id}.part"));
    let marker = ct[..1000].to_vec();
    let mut changed = ct.clone();
    changed[..1000].fill(0);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&staged)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &changed[..1000]))
        .expect("scribble over the start, so the retry's write is visible");
    while std::fs::read(&staged).expect("staged")[..1000] != marker[..] {
        tokio::task::yield_now().await;
    }
    let busy = a.finish(&id, &ct).await;
    assert_eq!(busy.status(), 409);
    assert_eq!(
        busy.json::<Value>().await.expect("json")["error"],
        "upload_busy"
    );
    tx.send(Ok(ct[1000..].to_vec()))
        .await
        .expect("send the rest");
    drop(tx);
    assert_eq!(retry.await.expect("task").expect("retry").status(), 200);
    assert_eq!(a.finish(&id, &ct).await.status(), 201);
    let again = a.finish(&id, &ct).await;
    assert_eq!(
        again.status(),
        404,
        "a second finish finds nothing to finish"
    );
}

#[tokio::test]
async fn fifty_concurrent_uploads_and_downloads_stay_intact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(&binary(), dir.path(), &[]).await;
    let a = std::sync::Arc::new(logged_in(&s, "alice").await);
    let mut tasks = Vec::new();
    for i in 0..50u64 {
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            let plain = body(PART + i * 7919);
            let file = encrypt(&format!("file-{i}"), &plain, CipherId::Aes256Gcm);
            let meta = a.upload(&file, PART).await;
            let got = a.download(meta["id"].as_str().expect("id")).await;
            assert_eq!(got.status(), 200);
            assert_eq!(got.bytes().await.expect("bytes")[..], file.ciphertext[..]);
            (format!("file-{i}"), plain)
        }));
    }
    let mut expected = std::collections::HashMap::new();
    for t in tasks {
        let (name, plain) = t.await.expect("task");
        expected.insert(name, plain);
    }
    let list = a.list().await;
    let files = list["files"].as_array().expect("files");
    assert_eq!(files.len(), 50);
    for f in files {
        let (name, plain) = a.open(f).await;
        assert_eq!(expected.get(&name), Some(&plain), "{name}");
    }
}

#[tokio::test]
async fn the_openapi_document_lists_every_api_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(&binary(), dir.path(), &[]).await;
    let doc: Value = reqwest::get(s.url("/api/openapi.json"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    let paths = doc["paths"].as_object().expect("paths");
    let routes = [
        ("/api/health", "get"),
        ("/api/auth/params", "post"),
        ("/api/auth/register", "post"),
        ("/api/auth/login", "post"),
        ("/api/auth/logout", "post"),
        ("/api/auth/recovery/key", "post"),
        ("/api/auth/recovery/reset", "post"),
        ("/api/account", "get"),
        ("/api/account", "delete"),
        ("/api/account/password", "post"),
        ("/api/invites", "post"),
        ("/api/invites", "get"),
        ("/api/invites/{id}", "delete"),
        ("/api/admin/accounts", "get"),
        ("/api/admin/accounts/{username}", "patch"),
        ("/api/uploads", "post"),
        ("/api/uploads", "get"),
        ("/api/uploads/{id}", "get"),
        ("/api/uploads/{id}", "delete"),
        ("/api/uploads/{id}/parts/{index}", "put"),
        ("/api/uploads/{id}/finish", "post"),
        ("/api/files", "get"),
        ("/api/files/{id}", "get"),
        ("/api/files/{id}", "patch"),
        ("/api/files/{id}", "delete"),
        ("/api/files/{id}/content", "get"),
        ("/api/mesh", "get"),
        ("/api/shares", "post"),
        ("/api/shares", "get"),
        ("/api/shares/{id}", "patch"),
        ("/api/shares/{id}", "delete"),
        ("/api/s/{id}", "get"),
        ("/api/s/{id}/open", "post"),
        ("/api/s/{id}/claim", "post"),
        ("/api/s/{id}/files/{index}/content", "get"),
    ];
    for (path, method) in routes {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path}"
        );
        // And the route really exists: anything but a routing 404/405.
        let concrete = path
            .replace("{id}", "00000000000000000000000000000000")
            .replace("{index}", "0")
            .replace("{username}", "nobody");
        let r = reqwest::Client::new()
            .request(
                method.to_uppercase().parse().expect("method"),
                s.url(&concrete),
            )
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("send");
        assert_ne!(r.status(), 405, "{method} {path}");
        if r.status() == 404 {
            // A share route answers an unknown link with its own code.
            let body: Value = r.json().await.expect("json");
            assert_eq!(
                body["error"], "unknown_link",
                "{method} {path} is not routed: {body}"
            );
        }
    }
    let checked: std::collections::BTreeSet<&str> = routes.iter().map(|(p, _)| *p).collect();
    let documented: std::collections::BTreeSet<&str> = paths.keys().map(String::as_str).collect();
    assert_eq!(
        documented, checked,
        "every documented path is checked above"
    );
    let operations: usize = paths
        .values()
        .map(|item| {
            ["get", "post", "put", "patch", "delete"]
                .iter()
                .filter(|m| item.get(**m).is_some())
                .count()
        })
        .sum();
    assert_eq!(operations, routes.len(), "and every documented operation");

    // What the shared extractors make true is declared on every route: a
    // session route its 401 and its security, a JSON body its 400 and
    // 413, a path parameter its 400. (`cargo xtask test` then fuzzes the
    // API against the document with schemathesis.)
    let statuses = |path: &str, method: &str| -> Vec<String> {
        paths[path][method]["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .cloned()
            .collect()
    };
    for (path, method) in routes {
        let op = &paths[path][method];
        let has = statuses(path, method);
        let public = path == "/api/health"
            || path.starts_with("/api/s/")
            || (path.starts_with("/api/auth/") && path != "/api/auth/logout");
        assert!(
            has.contains(&"401".to_owned()) || public,
            "{method} {path}: {has:?}"
        );
        assert_eq!(op["security"].is_array(), !public, "{method} {path}");
        if !op["requestBody"].is_null() {
            assert!(
                has.contains(&"400".into()) && has.contains(&"413".into()),
                "{method} {path}: {has:?}"
            );
        }
        if path.contains('{') {
            assert!(has.contains(&"400".into()), "{method} {path}: {has:?}");
        }
    }
    for (path, method, status) in [
        ("/api/auth/login", "post", "400"),
        ("/api/auth/recovery/key", "post", "400"),
        ("/api/account", "delete", "429"),
        ("/api/account/password", "post", "429"),
    ] {
        assert!(
            statuses(path, method).contains(&status.into()),
            "{method} {path}: {status}"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
