//! Guessing link passwords: slowed per link and per client, locked after
//! twenty, unlocked by the owner.

use super::*;

#[tokio::test]
async fn guessing_slows_then_locks_and_the_owner_unlocks() {
    let clock = TestClock::new();
    // Stopped, and moved only by the test: a second passing on its own
    // would end a one-second wait the test is checking.
    let base = now();
    clock.stop_at(base);
    let (_dir, s, owner) = setup(Some(&clock)).await;
    let a = encrypt("a.txt", &body(100, 6), CipherId::Aes256Gcm);
    let fa = owner.upload(&a, 1 << 20).await;
    let link = link_for(&owner, (&fa, &a), "right", "one_time").await;
    let opener = Opener::new(&s.base);
    let wrong = opener.keys(&link, Some("wrong")).await;
    let right = opener.keys(&link, Some("right")).await;

    let mut offset = 0;
    for _ in 0..3 {
        assert_eq!(opener.post(&link.id, "open", &wrong).await.status(), 401);
    }
    // Now each attempt, even the right one, waits its turn.
    let r = opener.post(&link.id, "open", &right).await;
    assert_eq!(r.status(), 429);
    let wait: i64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    assert_eq!(wait, 1);
    for failure in 4..=20 {
        offset += noctis_delay(failure - 1);
        clock.stop_at(base + offset);
        let (status, code) = error_of(opener.post(&link.id, "open", &wrong).await).await;
        if failure < 20 {
            assert_eq!(
                (status.as_u16(), code.as_str()),
                (401, "wrong_password"),
                "{failure}"
            );
        } else {
            assert_eq!((status.as_u16(), code.as_str()), (423, "locked"));
        }
    }
    offset += 3600;
    clock.stop_at(base + offset);
    assert_eq!(opener.post(&link.id, "open", &right).await.status(), 423);
    let view = owner_view(&owner, &link.id).await;
    assert_eq!(
        (view["state"].as_str(), view["failures"].as_i64()),
        (Some("locked"), Some(20))
    );

    let r = owner
        .req(Method::PATCH, &format!("/api/shares/{}", link.id))
        .json(&json!({"unlock": true}))
        .send()
        .await
        .expect("unlock");
    assert_eq!(r.status(), 200);
    // Twenty wrong passwords did not use the one-time link up.
    assert_eq!(
        opener.download_all(&link, Some("right")).await[0].1,
        body(100, 6)
    );
}

/// The server's delay after the n-th consecutive failure (mirrors
/// `shares::delay_after`: free for 3, then 1, 2, 4 ... 300 seconds).
fn noctis_delay(failures: i64) -> i64 {
    if failures < 3 {
        0
    } else {
        (1i64 << (failures - 3).min(30)).min(300)
    }
}

#[tokio::test]
async fn one_client_guessing_across_links_is_limited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(&binary(), dir.path(), &[("NOCTURNE_REGISTRATION", "open")]).await;
    let opener = Opener::new(&s.base);
    let keys = keys_for(&random(), None, b"salt");
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let id: String = random::<16>().iter().map(|b| format!("{b:02x}")).collect();
        statuses.push(opener.post(&id, "open", &keys).await.status().as_u16());
    }
    assert!(statuses[..30].iter().all(|&s| s == 404), "{statuses:?}");
    assert!(statuses[30..].iter().all(|&s| s == 429), "{statuses:?}");
}

#[tokio::test]
async fn a_client_guessing_on_one_link_waits_on_the_next() {
    let clock = TestClock::new();
    // Stopped, so that the one-second wait cannot run out between requests.
    clock.stop_at(now());
    let (_dir, s, owner) = setup(Some(&clock)).await;
    let a = encrypt("a.txt", &body(100, 9), CipherId::Aes256Gcm);
    let fa = owner.upload(&a, 1 << 20).await;
    let first = link_for(&owner, (&fa, &a), "one", "persistent").await;
    let second = link_for(&owner, (&fa, &a), "two", "persistent").await;
    let opener = Opener::new(&s.base);
    let wrong = opener.keys(&first, Some("nope")).await;
    for _ in 0..3 {
        assert_eq!(opener.post(&first.id, "open", &wrong).await.status(), 401);
    }
    // The second link has no failures of its own; the client waits anyway.
    let right = opener.keys(&second, Some("two")).await;
    let r = opener.post(&second.id, "open", &right).await;
    assert_eq!(r.status(), 429);
    assert_eq!(owner_view(&owner, &second.id).await["failures"], 0);
}

/// Knowing a link's id (servers and proxies see it in the path) is not
/// enough to lock it: tokens sent without the fragment secret's proof are
/// answered like an unknown link and never counted, so the owner's link
/// still opens after 25 of them, and its wrong-attempt count stays 0.
#[tokio::test]
async fn the_id_alone_cannot_lock_a_link() {
    let (_dir, s, owner) = setup(None).await;
    let a = encrypt("a.txt", &body(100, 8), CipherId::Aes256Gcm);
    let fa = owner.upload(&a, 1 << 20).await;
    let link = link_for(&owner, (&fa, &a), "right", "persistent").await;
    let opener = Opener::new(&s.base);
    let salt = unb64(
        &opener
            .info(&link.id)
            .await
            .json::<Value>()
            .await
            .expect("json")["salt"],
    );
    for i in 0..25 {
        // Random secrets: random tokens with their (wrong) proofs.
        let guess = keys_for(&random(), Some("right"), &salt);
        let (status, code) = error_of(opener.post(&link.id, "open", &guess).await).await;
        assert_eq!(
            (status.as_u16(), code.as_str()),
            (404, "unknown_link"),
            "attempt {i}"
        );
    }
    // A token without any proof is the same.
    let right = opener.keys(&link, Some("right")).await;
    let r = opener
        .http
        .post(format!("{}/api/s/{}/open", s.base, link.id))
        .json(&json!({"token": b64(&right.token)}))
        .send()
        .await
        .expect("post");
    assert_eq!(
        error_of(r).await,
        (StatusCode::NOT_FOUND, "unknown_link".into())
    );
    assert_eq!(owner_view(&owner, &link.id).await["failures"], 0);
    assert_eq!(opener.post(&link.id, "open", &right).await.status(), 200);
    // The right proof with a wrong password is a counted wrong attempt.
    let wrong = opener.keys(&link, Some("wrong")).await;
    assert_eq!(opener.post(&link.id, "open", &wrong).await.status(), 401);
    assert_eq!(owner_view(&owner, &link.id).await["failures"], 1);
}
