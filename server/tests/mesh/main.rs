//! The storage mesh with real processes: a server with `NOCTURNE_MESH=offload`
//! at 4+2 and `nocturne node connect` processes on 127.0.0.1, each with its
//! own data directory. Files survive killed nodes and flipped bytes and are
//! repaired, `--max-storage` holds, a node leaves gracefully, restarts keep
//! what they should, a hostile peer is refused, and (as root) one scenario
//! runs across network namespaces.
//!
//! The tests take turns ([`SERIAL`]): each runs a server and up to eight
//! nodes, and two such meshes at once on a small machine would only make the
//! deadlines lie. Set `NOCTURNE_TEST_LOG=debug` for the processes' logs,
//! printed (their tails) when a test fails.

#[path = "../common/mod.rs"]
mod common;

mod hostile;
mod netns;

use std::{os::unix::fs::FileExt as _, time::Duration};

use common::mesh::{
    FRAGMENTS, MIB, Mesh, Node, OFFLOADED, assert_downloads, assert_same, download, mesh_view,
    random_bytes, view_node, wait_until,
};

/// One mesh test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Room for every fragment any test stores.
const BIG: &str = "200MiB";
/// Bounds on waiting, generous so a slow machine fails nothing that works.
const PLACE: Duration = Duration::from_secs(180);
const REPAIR: Duration = Duration::from_secs(240);
const AUDIT: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread")]
async fn survives_two_killed_nodes_and_repairs() {
    let _serial = SERIAL.lock().await;
    let mut m = Mesh::start(&[BIG; 8], &[]).await;
    let (id, ct) = m.upload("big.bin", &random_bytes(50 * MIB + 7)).await;
    m.wait_offloaded(&id, PLACE).await;
    let holders = m.holders().await;
    assert_eq!(
        holders.len(),
        FRAGMENTS as usize,
        "one fragment on each of six distinct nodes"
    );
    m.assert_fragments_on_disk(&holders, ct.len());
    let view = m.view().await;
    assert_eq!(view["mode"], "offload", "{view}");
    assert_eq!(view["files"]["total"], 1, "{view}");
    assert_eq!(view["files"]["placed"], 1, "{view}");
    assert_eq!(view["files"]["pending"], 0, "{view}");
    assert_eq!(view["files"]["degraded"], 0, "{view}");

    for &i in &holders[..2] {
        m.nodes[i].kill().await;
    }
    assert_downloads(&m.admin, &id, &ct, "two holders killed").await;
    // The issue's own ranges: across stripes, and the very end.
    let (status, _, body) = download(&m.admin, &id, Some("bytes=10000000-30000006")).await;
    assert_eq!(status, 206);
    assert_same(
        &body,
        &ct[10_000_000..30_000_007],
        "bytes=10000000-30000006",
    );

    m.wait_spread(
        &id,
        "repair puts six fragments back on six distinct live nodes",
        REPAIR,
    )
    .await;
    let holders = m.holders().await;
    m.assert_fragments_on_disk(&holders, ct.len());
    assert_downloads(&m.admin, &id, &ct, "repaired").await;

    let third = holders[0];
    m.nodes[third].kill().await;
    assert_downloads(&m.admin, &id, &ct, "repaired, then a third holder killed").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn flipped_byte_is_caught_by_audit() {
    let _serial = SERIAL.lock().await;
    let m = Mesh::start(&[BIG; 8], &[]).await;
    let (id, ct) = m.upload("small.bin", &random_bytes(MIB + 3)).await;
    m.wait_offloaded(&id, PLACE).await;
    let holders = m.holders().await;
    m.assert_fragments_on_disk(&holders, ct.len());
    let h = holders[0];

    // Audits run: this node passes one before anything is touched.
    let before = wait_until("the holder has passed an audit", AUDIT, async || {
        let node = m.node_view(h).await?;
        if node["audits_passed"].as_u64().unwrap_or(0) >= 1 {
            Ok(node)
        } else {
            Err(format!("{node}"))
        }
    })
    .await;
    assert_eq!(before["audits_failed"], 0, "{before}");

    let files = m.nodes[h].fragment_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let path = files[0].clone();
    let original = std::fs::read(&path).expect("fragment file");
    let at = original.len() / 2;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open the fragment file");
    file.write_all_at(&[original[at] ^ 0xff], at as u64)
        .expect("flip a byte");
    file.sync_all().expect("sync");
    drop(file);
    let corrupted = std::fs::read(&path).expect("fragment file");
    assert!(corrupted != original && corrupted.len() == original.len());
    eprintln!(
        "flipped byte {at} of {} ({} bytes) on {}",
        path.display(),
        original.len(),
        m.nodes[h].name
    );

    wait_until(
        "an audit of the flipped fragment fails",
        AUDIT,
        async || {
            let node = m.node_view(h).await?;
            if node["audits_failed"].as_u64().unwrap_or(0) >= 1 {
                Ok(())
            } else {
                Err(format!("{node}"))
            }
        },
    )
    .await;

    // Repaired around: six good fragments again. The damaged copy counts for
    // nothing; the holder counts only if it now has a good fragment (the
    // damaged one replaced, or another one).
    wait_until(
        "the file is back to six good fragments",
        REPAIR,
        async || {
            let health = m.health(&id).await?;
            let counts = m.counts().await?;
            let elsewhere: u64 = counts
                .iter()
                .filter(|&&(i, _)| i != h)
                .map(|&(_, n)| n)
                .sum();
            let holder_good = m.nodes[h].fragment_files().iter().any(|p| {
                *p != path || std::fs::read(p).is_ok_and(|bytes| bytes != corrupted)
            });
            if health == Some(OFFLOADED) && elsewhere + u64::from(holder_good) >= FRAGMENTS {
                Ok(())
            } else {
                Err(format!(
                    "health {health:?}, fragments per node {counts:?}, the holder has a good one: {holder_good}"
                ))
            }
        },
    )
    .await;
    assert_downloads(&m.admin, &id, &ct, "repaired around the flipped byte").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn max_storage_is_enforced() {
    let _serial = SERIAL.lock().await;
    // Five roomy nodes, one with room for one fragment of a 20 MiB file (a
    // quarter of it, padded to whole stripes: 5 to 8 MiB for shards of up to
    // 4 MiB) but not two, and one with room for none.
    const ONE: usize = 5;
    const NONE: usize = 6;
    let mut m = Mesh::start(&[BIG, BIG, BIG, BIG, BIG, "9MiB", "1MiB"], &[]).await;
    for (i, max) in [(ONE, 9 * MIB), (NONE, MIB)] {
        let status = m.nodes[i].status().await;
        assert_eq!(status["max_storage"], max as u64, "{status}");
        assert_eq!(status["bytes_used"], 0, "{status}");
    }
    let within_limits = async |mesh: &Mesh| -> Result<(), String> {
        for (i, max) in [(ONE, 9 * MIB), (NONE, MIB)] {
            let status = mesh.nodes[i].try_status().await?;
            let used = status["bytes_used"].as_u64().unwrap_or(u64::MAX);
            assert!(
                used <= max as u64,
                "{} holds more than its --max-storage: {status}",
                mesh.nodes[i].name
            );
        }
        Ok(())
    };

    let (first, first_ct) = m.upload("first.bin", &random_bytes(20 * MIB)).await;
    m.wait_offloaded(&first, PLACE).await;
    within_limits(&m).await.unwrap_or_else(|e| panic!("{e}"));
    let counts = m.counts().await.unwrap_or_else(|e| panic!("{e}"));
    for &(i, n) in &counts {
        let want = u64::from(i != NONE);
        assert_eq!(
            n, want,
            "{}: fragments per node {counts:?}",
            m.nodes[i].name
        );
    }
    let none = m.nodes[NONE].status().await;
    assert_eq!(none["fragments"], 0, "{none}");
    assert_eq!(none["bytes_used"], 0, "{none}");
    assert!(
        m.nodes[NONE].all_fragment_dir_files().is_empty(),
        "nothing partial is kept: {:?}",
        m.nodes[NONE].all_fragment_dir_files()
    );
    let seen = m.node_view(NONE).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seen["fragments"], 0, "{seen}");
    assert_eq!(seen["bytes_used"], 0, "{seen}");
    assert_eq!(seen["max_storage"], MIB as u64, "{seen}");
    m.assert_fragments_on_disk(&(0..=ONE).collect::<Vec<_>>(), first_ct.len());

    // A second file: the one-fragment node is full, the tiny one too small,
    // so only five nodes can take it; it stays whole on the server until a
    // sixth roomy node joins, then goes there.
    let (second, second_ct) = m.upload("second.bin", &random_bytes(20 * MIB)).await;
    let status = m.nodes[ONE].status().await;
    eprintln!("{} after the first file: {status}", m.nodes[ONE].name);
    let tracker = m.server.tracker.clone();
    m.nodes.push(Node::start("node-late", &tracker, BIG).await);
    let late = m.nodes.len() - 1;
    m.wait_connected(&[late]).await;
    wait_until(
        "the second file is placed, the full node left out",
        PLACE,
        async || {
            within_limits(&m).await?;
            match m.health(&second).await? {
                Some(h) if h == OFFLOADED => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    m.wait_offloaded(&second, PLACE).await;
    let counts = m.counts().await.unwrap_or_else(|e| panic!("{e}"));
    for &(i, n) in &counts {
        let want = match i {
            ONE => 1,
            NONE => 0,
            i if i == late => 1,
            _ => 2,
        };
        assert_eq!(
            n, want,
            "{}: fragments per node {counts:?}",
            m.nodes[i].name
        );
    }
    assert_eq!(m.nodes[NONE].status().await["bytes_used"], 0);
    assert_downloads(&m.admin, &first, &first_ct, "first file").await;
    assert_downloads(&m.admin, &second, &second_ct, "second file").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn disconnect_hands_everything_on() {
    let _serial = SERIAL.lock().await;
    let mut m = Mesh::start(&[BIG; 8], &[]).await;
    let (id, ct) = m.upload("handed-on.bin", &random_bytes(4 * MIB + 1)).await;
    m.wait_offloaded(&id, PLACE).await;
    let holders = m.holders().await;
    m.assert_fragments_on_disk(&holders, ct.len());
    let h = holders[0];
    let leaving = m.nodes[h].peer_id.clone();

    let (status, stdout, stderr) = m.nodes[h].disconnect(&[]).await;
    eprintln!("node disconnect: {status}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    assert!(
        status.success(),
        "disconnect failed: {status}\n{stdout}\n{stderr}"
    );
    let exit = m.nodes[h].wait_exit(Duration::from_secs(60)).await;
    assert!(
        exit.success(),
        "the node's process ends cleanly after leaving: {exit}"
    );
    assert!(
        m.nodes[h].all_fragment_dir_files().is_empty(),
        "the node left its data behind: {:?}",
        m.nodes[h].all_fragment_dir_files()
    );

    // `disconnect` exits 0 only once nothing it held is under-replicated:
    // no waiting here.
    let health = m.health(&id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(health, Some(OFFLOADED));
    let counts = m.counts().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        counts.iter().map(|&(_, n)| n).sum::<u64>(),
        FRAGMENTS,
        "{counts:?}"
    );
    assert!(counts.iter().all(|&(_, n)| n <= 1), "{counts:?}");

    wait_until("the tracker shows the node gone", REPAIR, async || {
        let view = mesh_view(&m.admin).await?;
        match view_node(&view, &leaving) {
            Some(node) if node["connected"] == true => Err(format!("{node}")),
            _ => Ok(()),
        }
    })
    .await;
    assert_downloads(&m.admin, &id, &ct, "after a holder left").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn restarts_keep_identity_fragments_and_manifests() {
    let _serial = SERIAL.lock().await;
    // A grace long enough that a node restarted at once is not repaired around.
    let mut m = Mesh::start(&[BIG; 8], &[("NOCTURNE_MESH_GRACE", "10s")]).await;
    let (id, ct) = m.upload("kept.bin", &random_bytes(4 * MIB + 5)).await;
    m.wait_offloaded(&id, PLACE).await;
    let holders = m.holders().await;
    m.assert_fragments_on_disk(&holders, ct.len());
    let (h1, h2) = (holders[0], holders[1]);

    // A node restarted on its data dir: same peer id, same fragments.
    let before = m.nodes[h1].status().await;
    let files_before: Vec<(std::path::PathBuf, Vec<u8>)> = m.nodes[h1]
        .fragment_files()
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("fragment");
            (p, bytes)
        })
        .collect();
    m.nodes[h1].restart().await;
    let after = m.nodes[h1].status().await;
    assert_eq!(after["peer_id"], before["peer_id"]);
    assert_eq!(after["fragments"], before["fragments"]);
    assert_eq!(after["bytes_used"], before["bytes_used"]);
    for (path, bytes) in &files_before {
        let now = std::fs::read(path).unwrap_or_default();
        assert!(
            now == *bytes,
            "{} changed across the restart",
            path.display()
        );
    }
    assert_eq!(m.nodes[h1].fragment_files().len(), files_before.len());
    m.wait_connected(&[h1]).await;
    m.wait_spread(&id, "the restarted node still counts", REPAIR)
        .await;

    // The server restarted while a holder is down: the manifest is kept, and
    // the repair the dead holder calls for happens after the restart.
    m.nodes[h2].kill().await;
    wait_until("the server sees the holder gone", REPAIR, async || {
        let node = m.node_view(h2).await?;
        if node["connected"] == false {
            Ok(())
        } else {
            Err(format!("{node}"))
        }
    })
    .await;
    m.server.restart().await;
    m.admin.base = m.server.base().to_owned();
    assert_eq!(m.admin.login(common::mesh::ADMIN_PASSWORD).await, 200);
    let health = m
        .health(&id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("after the restart, the file is still on the mesh");
    assert_eq!(health.total, FRAGMENTS, "{health:?}");
    assert!(!health.local, "the file was offloaded before the restart");
    assert_eq!(m.view().await["files"]["total"], 1);
    m.wait_connected(&m.live_indices()).await;
    m.wait_spread(
        &id,
        "repair after the server's restart re-places the dead holder's fragment",
        REPAIR,
    )
    .await;
    assert_downloads(&m.admin, &id, &ct, "after the server's restart").await;
}

/// A deleted file's fragments are deleted on the nodes too (none is left
/// behind on anyone's disk), and `replicate` keeps the local copy. Two of
/// the six nodes join through `host:port` and through QUIC.
#[tokio::test(flavor = "multi_thread")]
async fn replicate_keeps_the_blob_and_deletes_reach_the_nodes() {
    let _serial = SERIAL.lock().await;
    let server = common::mesh::MeshServer::start("replicate", &[]).await;
    let mut nodes = common::mesh::start_nodes(&server.tracker, &[BIG; 4]).await;
    // The tracker given other ways: `host:port` of the mesh listener, and
    // its QUIC address (the same port over UDP).
    let port = server.listen.rsplit('/').next().expect("a port");
    let peer = server.peer_id().to_owned();
    nodes.push(Node::start("node-hostport", &format!("127.0.0.1:{port}"), BIG).await);
    nodes.push(
        Node::start(
            "node-quic",
            &format!("/ip4/127.0.0.1/udp/{port}/quic-v1/p2p/{peer}"),
            BIG,
        )
        .await,
    );
    let m = Mesh::with(server, nodes).await;
    let (id, ct) = m.upload("kept.bin", &random_bytes(3 * MIB + 1)).await;
    wait_until("the file is on six nodes", PLACE, async || {
        match m.health(&id).await? {
            Some(h) if h.healthy == 6 && h.total == 6 => Ok(h),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let health = m.health(&id).await.expect("health").expect("on the mesh");
    assert!(health.local, "replicate keeps the local copy: {health:?}");
    assert!(
        m.server.blob_path(&id).exists(),
        "the local blob is still there"
    );
    let holders = m.holders().await;
    assert_eq!(holders.len(), 6);
    m.assert_fragments_on_disk(&holders, ct.len());
    assert_downloads(&m.admin, &id, &ct, "replicated").await;

    assert_eq!(m.admin.delete_file(&id).await.status(), 204);
    wait_until("every node has deleted its fragment", PLACE, async || {
        let counts = m.counts().await?;
        let left: Vec<usize> = holders
            .iter()
            .copied()
            .filter(|&i| !m.nodes[i].fragment_files().is_empty())
            .collect();
        if counts.iter().all(|&(_, n)| n == 0) && left.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "status counts {counts:?}, fragment files left on {left:?}"
            ))
        }
    })
    .await;
    let view = m.view().await;
    assert_eq!(view["files"]["total"], 0, "{view}");
    assert_eq!(view["files"]["placed"], 0, "{view}");
}
