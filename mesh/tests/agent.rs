//! Real agent swarms on loopback, in-process.
//!
//! - A raw libp2p peer on the same network gossips forged, foreign-network,
//!   oversized and replayed records and puts forged ones into the DHT: every
//!   honest peer stores only the valid ones, and the sender is disconnected
//!   and refused after three bad records, while the honest peers keep working.
//! - Oversized and malformed requests get their sender disconnected.
//! - Three enrolled operators' votes revoke an operator on every peer.

mod common;

use common::{DEADLINE, poll};

use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::{
    Multiaddr, StreamProtocol, SwarmBuilder, gossipsub,
    identity::Keypair,
    kad, noise,
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, yamux,
};
use mesh::agent::{self, Body, Genesis, Kind, Knowledge, NetworkId, OperatorKey, Signed};

fn entry(key: &OperatorKey, network: NetworkId, content: &str) -> Signed {
    key.make(
        network,
        agent::now(),
        Body::Knowledge(Knowledge {
            domain: "tests".into(),
            content: content.into(),
            kind: Kind::Fact,
            confidence: 0.5,
            sources: vec![],
            tags: vec![],
            supersedes: None,
            task: None,
        }),
    )
}

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
        operator: OperatorKey::generate(),
        clock: agent::Clock::system(),
        thresholds: agent::Thresholds::default(),
    })
    .expect("an agent peer");
    tokio::spawn(event_loop.run());
    let addr = poll("the peer listens", || async {
        client
            .status()
            .await
            .ok()
            .and_then(|s| s.listen_addrs.first().cloned())
    })
    .await;
    (client, dir, addr)
}

#[derive(NetworkBehaviour)]
struct Hostile {
    gossip: gossipsub::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_records_are_stored_nowhere_and_their_sender_is_refused() {
    let founder = OperatorKey::generate();
    let genesis = Genesis::parse(&format!("{}\n", founder.id())).expect("genesis");
    let network = genesis.network();
    let (first, _d0, addr0) = peer(&genesis, vec![]).await;
    let mut honest = vec![first];
    let mut dirs = vec![_d0];
    for _ in 0..3 {
        let (c, d, _) = peer(&genesis, vec![addr0.clone()]).await;
        honest.push(c);
        dirs.push(d);
    }

    // The hostile peer speaks the network's protocols (its names are public).
    let net = network.to_string();
    let topic = gossipsub::IdentTopic::new(format!("nocturne/agent/{net}/records"));
    let mut swarm = SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp")
        .with_behaviour(|key| {
            let config = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Permissive)
                .max_transmit_size(256 * 1024)
                .build()
                .expect("gossip config");
            let gossip = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                config,
            )
            .expect("gossip");
            let protocol =
                StreamProtocol::try_from_owned(format!("/nocturne/agent/{}/kad/1.0.0", &net[..16]))
                    .expect("protocol");
            let id = key.public().to_peer_id();
            let mut kad = kad::Behaviour::with_config(
                id,
                kad::store::MemoryStore::new(id),
                kad::Config::new(protocol),
            );
            kad.set_mode(Some(kad::Mode::Server));
            Hostile { gossip, kad }
        })
        .expect("behaviour")
        .build();
    swarm
        .behaviour_mut()
        .gossip
        .subscribe(&topic)
        .expect("subscribe");
    let hostile_id = *swarm.local_peer_id();
    swarm.dial(addr0.clone()).expect("dial");

    // Wait until the hostile peer is meshed for the topic.
    let started = Instant::now();
    loop {
        tokio::select! {
            _ = swarm.select_next_some() => {}
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        if swarm
            .behaviour()
            .gossip
            .all_peers()
            .any(|(_, topics)| !topics.is_empty())
        {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the hostile peer never joined the topic"
        );
    }

    let key = OperatorKey::generate();
    let valid = entry(&key, network, "a valid entry");
    let mut forged = entry(&key, network, "forged");
    forged.record.body = entry(&key, network, "changed after signing").record.body;
    let foreign = entry(&key, NetworkId([9; 32]), "another network");
    let oversized = entry(&key, network, &"x".repeat(20 * 1024));

    let mut send = |bytes: Vec<u8>| {
        swarm
            .behaviour_mut()
            .gossip
            .publish(topic.clone(), bytes)
            .ok();
    };
    send(valid.to_bytes());
    send(forged.to_bytes());
    send(foreign.to_bytes());
    send(oversized.to_bytes());
    send(b"not a record at all".to_vec());
    // A forged record straight into the DHT store of the first peer.
    let bad_put = kad::Record::new(kad::RecordKey::new(&forged.id().0), forged.to_bytes());
    swarm
        .behaviour_mut()
        .kad
        .add_address(&honest[0].peer_id(), addr0.clone());
    swarm.behaviour_mut().kad.put_record_to(
        bad_put,
        std::iter::once(honest[0].peer_id()),
        kad::Quorum::One,
    );

    // Drive the hostile swarm while waiting for the verdicts.
    let hostile = tokio::spawn(async move {
        loop {
            if let SwarmEvent::ConnectionClosed {
                num_established: 0, ..
            } = swarm.select_next_some().await
            {
                return;
            }
        }
    });

    for (i, client) in honest.iter().enumerate() {
        poll(&format!("peer {i} holds the valid entry"), || async {
            let found = client.get(valid.id()).await.ok().flatten();
            found.map(|_| ())
        })
        .await;
    }
    poll("the hostile peer is refused", || async {
        honest[0]
            .banned()
            .await
            .ok()
            .filter(|b| b.contains(&hostile_id))
            .map(|_| ())
    })
    .await;
    for (i, client) in honest.iter().enumerate() {
        let status = client.status().await.expect("status");
        assert_eq!(status.records, 1, "peer {i} stores only the valid entry");
        for bad in [&forged, &foreign, &oversized] {
            assert_eq!(
                client.get(bad.id()).await.expect("get"),
                None,
                "peer {i} holds a bad record"
            );
        }
    }
    hostile.abort();

    // Replays are the same record: a second publish stores nothing new, and
    // the honest peers keep working.
    // (Whether the DHT put of a replay succeeds does not matter here; the
    // store's count does.)
    let _ = honest[1].publish(valid.clone()).await;
    assert_eq!(
        honest[1].status().await.expect("status").records,
        1,
        "a replay is not a new record"
    );
    let fresh = entry(&founder, network, "after the attack");
    honest[2]
        .publish(fresh.clone())
        .await
        .expect("publish after the attack");
    for (i, client) in honest.iter().enumerate() {
        poll(&format!("peer {i} gets the next entry"), || async {
            client
                .status()
                .await
                .ok()
                .filter(|s| s.records == 2)
                .map(|_| ())
        })
        .await;
    }
    drop(dirs);
}

/// Bytes as they are: the hostile peer's side of the request-response
/// protocol, to send what no honest peer would.
#[derive(Debug, Clone, Default)]
struct RawCodec;

impl libp2p::request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, _: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        Err(std::io::Error::other("the hostile peer serves nothing"))
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        use futures::AsyncReadExt;
        let mut answer = Vec::new();
        io.take(1 << 20).read_to_end(&mut answer).await?;
        if answer.is_empty() {
            // The stream closed without an answer: a refusal, not a response.
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(answer)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        use futures::AsyncWriteExt;
        io.write_all(&request).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
        _: Vec<u8>,
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        Ok(())
    }
}

/// Oversized and malformed requests: the sender is disconnected, and the
/// peers keep serving each other.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_get_the_sender_disconnected() {
    use libp2p::request_response::{self, ProtocolSupport};

    let founder = OperatorKey::generate();
    let genesis = Genesis::parse(&format!("{}\n", founder.id())).expect("genesis");
    let network = genesis.network();
    let (first, _d0, addr0) = peer(&genesis, vec![]).await;
    let (second, _d1, _) = peer(&genesis, vec![addr0.clone()]).await;

    let net = network.to_string();
    let protocol =
        StreamProtocol::try_from_owned(format!("/nocturne/agent/{}/rr/1.0.0", &net[..16]))
            .expect("protocol");
    let mut swarm = SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp")
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                RawCodec,
                [(protocol.clone(), ProtocolSupport::Outbound)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(20)),
            )
        })
        .expect("behaviour")
        // Never close an idle connection ourselves: only the honest peer
        // dropping us may end it.
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build();
    let target = first.peer_id();
    for (what, garbage) in [
        ("8 MiB", vec![0x5a_u8; 8 << 20]),
        ("100 bytes", vec![0xff_u8; 100]),
    ] {
        swarm.dial(addr0.clone()).expect("dial");
        let started = Instant::now();
        let mut sent = false;
        loop {
            let event = tokio::time::timeout(DEADLINE, swarm.select_next_some())
                .await
                .expect("the hostile swarm stalled");
            match event {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == target && !sent => {
                    swarm.behaviour_mut().send_request(&target, garbage.clone());
                    sent = true;
                }
                SwarmEvent::ConnectionClosed {
                    peer_id,
                    num_established: 0,
                    ..
                } if peer_id == target && sent => break,
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message: request_response::Message::Response { response, .. },
                    ..
                }) => panic!(
                    "{what} of garbage was answered with {} bytes",
                    response.len()
                ),
                _ => {}
            }
            assert!(
                started.elapsed() < DEADLINE,
                "{what}: the peer never dropped the sender"
            );
        }
    }

    // The honest peers are unharmed and still serve each other.
    let entry = entry(&founder, network, "still working");
    let published = first.publish(entry.clone()).await;
    assert!(published.is_ok(), "{published:?}");
    poll("the other peer has the entry", || async {
        second.get(entry.id()).await.ok().flatten().map(|_| ())
    })
    .await;
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
        poll(
            &format!("peer {i} no longer counts the revoked operator"),
            || async { (!p.is_enrolled(target).await.expect("status")).then_some(()) },
        )
        .await;
        for k in &keys[..3] {
            assert!(
                p.is_enrolled(k.id()).await.expect("status"),
                "peer {i} lost a voter"
            );
        }
    }
    drop(dirs);
}
