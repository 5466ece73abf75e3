//! Download claims: one-time links under concurrency, a broken download
//! resumed within the grace, one stream per claim and a revoke stopping it.

use super::*;

#[tokio::test]
async fn a_one_time_link_gives_exactly_one_download_to_twenty_racers() {
    let (_dir, s, owner) = setup(None).await;
    let a = encrypt("once.bin", &body(2 << 20, 4), CipherId::Aes256Gcm);
    let fa = owner.upload(&a, 1 << 20).await;
    let link = link_for(&owner, (&fa, &a), "pw", "one_time").await;
    let opener = Opener::new(&s.base);
    let keys = opener.keys(&link, Some("pw")).await;

    let racers = (0..20).map(|_| opener.post(&link.id, "claim", &keys));
    let answers = futures_util::future::join_all(racers).await;
    let mut claims = Vec::new();
    let mut refused = 0;
    for r in answers {
        match r.status().as_u16() {
            200 => claims.push(
                r.json::<Value>().await.expect("json")["claim"]
                    .as_str()
                    .expect("claim")
                    .to_owned(),
            ),
            410 => {
                let (_, code) = error_of(r).await;
                assert_eq!(code, "claimed");
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((claims.len(), refused), (1, 19));
    let wrapped = owner_file_key(&opener, &link, &keys).await;
    let r = opener.content(&link.id, 0, &claims[0], None).await;
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.expect("body");
    let key = unwrap_file_key(&keys, &unb64(&wrapped)).expect("key");
    assert_eq!(decrypt(&key, &bytes).expect("decrypts"), body(2 << 20, 4));

    // Burned: the link says so, and the spent claim reads nothing more but
    // the tail a break at the very end could have lost.
    for r in [
        opener.info(&link.id).await,
        opener.post(&link.id, "open", &keys).await,
        opener.post(&link.id, "claim", &keys).await,
        opener.content(&link.id, 0, &claims[0], None).await,
        opener
            .content(&link.id, 0, &claims[0], Some("bytes=1-"))
            .await,
    ] {
        let (status, code) = error_of(r).await;
        assert_eq!((status.as_u16(), code.as_str()), (410, "used"));
    }
    // A position that is not a number is the API's JSON 404, not a crash.
    let bad = opener
        .http
        .get(format!("{}/api/s/{}/files/x/content", s.base, link.id))
        .bearer_auth(&claims[0])
        .send()
        .await
        .expect("bad index");
    assert_eq!(error_of(bad).await.0, 404);
    let tail = opener
        .content(
            &link.id,
            0,
            &claims[0],
            Some(&format!("bytes={}-", bytes.len() - 100)),
        )
        .await;
    assert_eq!(tail.status(), 206);
    assert_eq!(
        tail.bytes().await.expect("tail")[..],
        bytes[bytes.len() - 100..]
    );
    // Once.
    let again = opener
        .content(
            &link.id,
            0,
            &claims[0],
            Some(&format!("bytes={}-", bytes.len() - 100)),
        )
        .await;
    assert_eq!(error_of(again).await.1, "used");
    let view = owner_view(&owner, &link.id).await;
    assert_eq!(
        (view["state"].as_str(), view["downloads"].as_i64()),
        (Some("used"), Some(1))
    );
}

/// A spent one-time claim on a file of a few KiB: the "last MiB" a broken
/// final read can have lost is the whole file, so it may be fetched again,
/// but once, and that fetch never keeps the claim alive (a claim once read
/// a small file again and again, each re-fetch extending its grace).
#[tokio::test]
async fn a_spent_claim_refetches_a_small_file_once_and_never_extends_its_grace() {
    let clock = TestClock::new();
    let (_dir, s, owner) = setup(Some(&clock)).await;
    let a = encrypt("small.txt", &body(4000, 9), CipherId::Aes256Gcm);
    let fa = owner.upload(&a, 1 << 20).await;
    let opener = Opener::new(&s.base);
    let (link, _keys, claim) = claimed(&owner, &opener, (&fa, &a), "one_time").await;
    let whole = opener.content(&link.id, 0, &claim, None).await;
    assert_eq!(whole.status(), 200);
    let whole = whole.bytes().await.expect("body");

    // Nine minutes on (within the ten-minute grace) the client asks again
    // for what its broken final read lost: allowed, once.
    clock.advance_to(9 * 60);
    let lost = opener.content(&link.id, 0, &claim, Some("bytes=1-")).await;
    assert_eq!(lost.status(), 206);
    assert_eq!(lost.bytes().await.expect("body")[..], whole[1..]);
    for range in [Some("bytes=1-"), Some("bytes=100-"), None] {
        let r = opener.content(&link.id, 0, &claim, range).await;
        assert_eq!(
            error_of(r).await,
            (StatusCode::GONE, "used".to_owned()),
            "{range:?}"
        );
    }
    // And the re-fetch did not keep the claim alive past its grace.
    clock.advance_to(11 * 60);
    let late = opener
        .content(&link.id, 0, &claim, Some("bytes=3000-"))
        .await;
    assert_eq!(error_of(late).await.1, "claim_expired");
}

/// A link with password "pw" for one file, its keys as the opener derives
/// them, and a download claim on it.
async fn claimed(
    owner: &Client,
    opener: &Opener,
    file: (&Value, &Encrypted),
    mode: &str,
) -> (Link, Keys, String) {
    let link = link_for(owner, file, "pw", mode).await;
    let keys = opener.keys(&link, Some("pw")).await;
    let claim = opener.claim(&link, &keys).await;
    (link, keys, claim)
}

/// The wrapped key of the link's first file, fetched by opening it.
async fn owner_file_key(opener: &Opener, link: &Link, keys: &Keys) -> Value {
    let opened: Value = opener
        .post(&link.id, "open", keys)
        .await
        .json()
        .await
        .expect("json");
    opened["files"][0]["wrapped_key"].clone()
}

#[tokio::test]
async fn a_broken_download_resumes_within_the_grace_and_a_lapsed_one_burns() {
    let clock = TestClock::new();
    let (_dir, s, owner) = setup(Some(&clock)).await;
    let plain = body(24 << 20, 5);
    let a = encrypt("big.bin", &plain, CipherId::Aes256Gcm);
    let fa = owner.upload(&a, 8 << 20).await;
    let opener = Opener::new(&s.base);

    let (link, keys, claim) = claimed(&owner, &opener, (&fa, &a), "one_time").await;
    let wrapped = owner_file_key(&opener, &link, &keys).await;
    // Read the start, then break the connection.
    let mut r = opener.content(&link.id, 0, &claim, None).await;
    let mut got = Vec::new();
    while got.len() < (1 << 20) {
        got.extend_from_slice(&r.chunk().await.expect("chunk").expect("more"));
    }
    drop(r);
    // Someone else cannot take the link meanwhile; a wrong password does
    // not burn it either.
    let (status, code) = error_of(opener.post(&link.id, "claim", &keys).await).await;
    assert_eq!((status.as_u16(), code.as_str()), (410, "claimed"));
    let wrong = opener.keys(&link, Some("not it")).await;
    assert_eq!(opener.post(&link.id, "claim", &wrong).await.status(), 401);
    // Nine minutes later the same downloader resumes where it broke.
    clock.advance_to(9 * 60);
    let r = opener
        .content(&link.id, 0, &claim, Some(&format!("bytes={}-", got.len())))
        .await;
    assert_eq!(r.status(), 206);
    got.extend_from_slice(&r.bytes().await.expect("rest"));
    let key = unwrap_file_key(&keys, &unb64(&wrapped)).expect("key");
    assert_eq!(decrypt(&key, &got).expect("decrypts"), plain);
    assert_eq!(owner_view(&owner, &link.id).await["state"], "used");

    // A download broken and then abandoned past the grace counts as the
    // one download (it had ciphertext); a claim that read nothing does not.
    // The grace runs from the last request, not from when the server
    // noticed the break.
    let link = link_for(&owner, (&fa, &a), "pw", "one_time").await;
    let keys = opener.keys(&link, Some("pw")).await;
    let _idle = opener.claim(&link, &keys).await;
    clock.advance_to(9 * 60 + 11 * 60);
    let claim = opener.claim(&link, &keys).await;
    let mut r = opener.content(&link.id, 0, &claim, None).await;
    r.chunk().await.expect("chunk").expect("some bytes");
    drop(r);
    clock.advance_to(9 * 60 + 22 * 60);
    let (status, code) = error_of(opener.post(&link.id, "claim", &keys).await).await;
    assert_eq!((status.as_u16(), code.as_str()), (410, "used"));
}

#[tokio::test]
async fn one_claim_feeds_one_stream_and_a_revoke_stops_it() {
    let (_dir, s, owner) = setup(None).await;
    let plain = body(24 << 20, 10);
    let a = encrypt("big.bin", &plain, CipherId::Aes256Gcm);
    let fa = owner.upload(&a, 8 << 20).await;
    let size = a.ciphertext.len();
    let opener = Opener::new(&s.base);

    // Two parallel copies under one claim: the newer wins, the older stops
    // short of the end, and the link counts one download.
    let (link, _keys, claim) = claimed(&owner, &opener, (&fa, &a), "one_time").await;
    let mut older = opener.content(&link.id, 0, &claim, None).await;
    older.chunk().await.expect("chunk").expect("bytes");
    let newer = opener.content(&link.id, 0, &claim, None).await;
    assert_eq!(newer.bytes().await.expect("whole").len(), size);
    assert!(
        drain(&mut older).await < size,
        "the superseded stream must not finish"
    );
    assert_eq!(owner_view(&owner, &link.id).await["downloads"], 1);

    // A download in progress when its link is revoked never gets its end.
    let (link, _keys, claim) = claimed(&owner, &opener, (&fa, &a), "persistent").await;
    let mut r = opener.content(&link.id, 0, &claim, None).await;
    r.chunk().await.expect("chunk").expect("bytes");
    let revoked = owner
        .req(Method::DELETE, &format!("/api/shares/{}", link.id))
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 204);
    // It stops at its next piece: what still arrives is what the sockets
    // held, far from the rest of the file (it once streamed on for up to
    // 30 s, to just short of the end).
    let after = drain(&mut r).await;
    eprintln!("{after} of {size} bytes arrived after the revoke");
    assert!(after < size / 2, "{after} of {size} bytes after the revoke");
}

/// A download in progress when its link expires stops at its next piece.
#[tokio::test]
async fn an_expiring_link_stops_its_downloads_when_it_expires() {
    let clock = TestClock::new();
    let (_dir, s, owner) = setup(Some(&clock)).await;
    let plain = body(24 << 20, 12);
    let a = encrypt("big.bin", &plain, CipherId::Aes256Gcm);
    let fa = owner.upload(&a, 8 << 20).await;
    let size = a.ciphertext.len();
    let opener = Opener::new(&s.base);
    let link = share(
        &owner,
        &[(&fa, &a)],
        Some("pw"),
        json!({"mode": "expiring", "expires_at": now() + 3600}),
    )
    .await;
    let keys = opener.keys(&link, Some("pw")).await;
    let claim = opener.claim(&link, &keys).await;
    let mut r = opener.content(&link.id, 0, &claim, None).await;
    r.chunk().await.expect("chunk").expect("bytes");
    clock.advance_to(3601);
    let after = drain(&mut r).await;
    eprintln!("{after} of {size} bytes arrived after the expiry");
    assert!(after < size / 2, "{after} of {size} bytes after the expiry");
}

/// Reads the rest of a body; returns how many bytes arrived before it ended
/// (an error ends it too).
async fn drain(r: &mut reqwest::Response) -> usize {
    let mut n = 0;
    while let Ok(Some(chunk)) = r.chunk().await {
        n += chunk.len();
    }
    n
}
