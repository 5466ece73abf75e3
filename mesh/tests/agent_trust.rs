//! The web of trust across real agent swarms on loopback (in-process): a
//! revocation carried by three enrolled operators' votes removes an operator
//! on every peer, and one with two votes is refused where it is published.

use std::time::{Duration, Instant};

use libp2p::identity::Keypair;
use mesh::{
    Multiaddr,
    agent::{self, Body, Genesis, OperatorKey},
};

const DEADLINE: Duration = Duration::from_secs(60);

async fn peer(
    genesis: &Genesis,
    bootstrap: Vec<Multiaddr>,
) -> (agent::Client, tempfile::TempDir, Multiaddr) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (client, event_loop) = agent::new(agent::Config {
        keypair: Keypair::generate_ed25519(),
        genesis: genesis.clone(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("addr")],
        bootstrap,
        data_dir: dir.path().to_owned(),
    })
    .expect("an agent peer");
    tokio::spawn(event_loop.run());
    let started = Instant::now();
    let addr = loop {
        if let Some(a) = client
            .status()
            .await
            .ok()
            .and_then(|s| s.listen_addrs.first().cloned())
        {
            break a;
        }
        assert!(started.elapsed() < DEADLINE, "the peer never listened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    (client, dir, addr)
}

#[tokio::test(flavor = "multi_thread")]
async fn three_votes_revoke_an_operator_everywhere_and_two_do_not() {
    let keys: Vec<OperatorKey> = (0..4).map(|_| OperatorKey::generate()).collect();
    let genesis = Genesis::parse(
        &keys
            .iter()
            .map(|k| format!("{}\n", k.id()))
            .collect::<String>(),
    )
    .expect("genesis");
    let network = genesis.network();
    let (first, _d0, addr0) = peer(&genesis, vec![]).await;
    let mut peers = vec![first];
    let mut dirs = vec![_d0];
    for _ in 0..3 {
        let (c, d, _) = peer(&genesis, vec![addr0.clone()]).await;
        peers.push(c);
        dirs.push(d);
    }
    let target = keys[3].id();
    let vote =
        |k: &OperatorKey| k.make(network, agent::now(), Body::RevokeVote { operator: target });

    let two = keys[0].make(
        network,
        agent::now(),
        Body::Revocation {
            operator: target,
            votes: vec![vote(&keys[0]), vote(&keys[1])],
        },
    );
    let refused = peers[1].publish(two).await;
    assert!(refused.is_err(), "two votes must not revoke: {refused:?}");

    let three = keys[0].make(
        network,
        agent::now(),
        Body::Revocation {
            operator: target,
            votes: vec![vote(&keys[0]), vote(&keys[1]), vote(&keys[2])],
        },
    );
    peers[1].publish(three).await.expect("three votes revoke");
    for (i, p) in peers.iter().enumerate() {
        let started = Instant::now();
        while p.is_enrolled(target).await.expect("status") {
            assert!(
                started.elapsed() < DEADLINE,
                "peer {i} still counts the revoked operator"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for k in &keys[..3] {
            assert!(
                p.is_enrolled(k.id()).await.expect("status"),
                "peer {i} lost a voter"
            );
        }
    }
    drop(dirs);
}
