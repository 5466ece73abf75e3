//! A hostile peer: a raw libp2p client in the test dials a node that holds a
//! fragment and asks for what is not its own, then sends oversized and
//! malformed requests. It is refused or dropped, the fragment stays, and
//! the node goes on serving the server.

use std::{io, time::Duration};

use libp2p::{
    Multiaddr, PeerId, StreamProtocol,
    futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, StreamExt as _},
    noise,
    request_response::{self, Codec as _, ProtocolSupport},
    swarm::SwarmEvent,
    tcp, yamux,
};
use mesh::storage::{
    FragmentId,
    wire::{PROTOCOL, Request, Response},
};
use serde_json::Value;

use crate::{
    AUDIT, BIG, PLACE, SERIAL,
    common::mesh::{MIB, Mesh, assert_downloads, random_bytes, wait_until},
};

/// How long one hostile request may take to be answered or to fail. The
/// client's own request timeout is shorter, so this only catches a hang.
const OUTCOME_LIMIT: Duration = Duration::from_secs(90);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The most of an answer the raw client reads.
const RESPONSE_CAP: u64 = 1024 * 1024;

/// What became of one request.
#[derive(Debug)]
enum Outcome<R> {
    /// A response came back.
    Answered(R),
    /// It failed: an outbound failure, a closed connection, a failed dial.
    Failed(String),
}

/// Bytes on the storage protocol, no framing: the request is written and
/// the stream closed; the answer is read to its end (at most
/// [`RESPONSE_CAP`]). A request-response codec that lets the test say
/// anything at all.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, _io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        Err(io::Error::other("the hostile client serves nothing"))
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut answer = Vec::new();
        io.take(RESPONSE_CAP).read_to_end(&mut answer).await?;
        if answer.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the stream ended without an answer",
            ));
        }
        Ok(answer)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&request).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        _io: &mut T,
        _response: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        Err(io::Error::other("the hostile client serves nothing"))
    }
}

/// The codec the mesh speaks (libp2p's CBOR request-response codec over
/// [`PROTOCOL`]), with well-formed requests.
type CborCodec = request_response::cbor::codec::Codec<Request, Response>;

/// A fresh identity (a stranger to the node every time) sends one request
/// with `codec` to `peer` at `addr` and waits for what becomes of it.
async fn request_once<C>(
    codec: C,
    peer: PeerId,
    addr: Multiaddr,
    request: C::Request,
) -> Outcome<C::Response>
where
    C: request_response::Codec<Protocol = StreamProtocol> + Clone + Send + 'static,
{
    let behaviour = request_response::Behaviour::with_codec(
        codec,
        [(StreamProtocol::new(PROTOCOL), ProtocolSupport::Outbound)],
        request_response::Config::default().with_request_timeout(REQUEST_TIMEOUT),
    );
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp transport")
        .with_behaviour(|_| behaviour)
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    eprintln!("hostile peer {} dials {addr}", swarm.local_peer_id());
    let sent = swarm
        .behaviour_mut()
        .send_request_with_addresses(&peer, request, vec![addr]);
    let limit = tokio::time::sleep(OUTCOME_LIMIT);
    tokio::pin!(limit);
    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message: request_response::Message::Response { request_id, response },
                    ..
                }) if request_id == sent => return Outcome::Answered(response),
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    request_id, error, ..
                }) if request_id == sent => {
                    return Outcome::Failed(format!("outbound failure: {error}"));
                }
                SwarmEvent::ConnectionClosed { cause, .. } => {
                    return Outcome::Failed(format!("connection closed: {cause:?}"));
                }
                SwarmEvent::OutgoingConnectionError { error, .. } => {
                    return Outcome::Failed(format!("dial failed: {error}"));
                }
                SwarmEvent::ConnectionEstablished { .. } => {
                    eprintln!("hostile peer connected");
                }
                _ => {}
            },
            () = &mut limit => panic!("a hostile request had no outcome in {OUTCOME_LIMIT:?}"),
        }
    }
}

/// The node's loopback TCP address from its status.
fn loopback_addr(status: &Value) -> Multiaddr {
    status["listen_addrs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|a| {
            a.starts_with("/ip4/127.0.0.1/tcp/")
                && !a.starts_with("/ip4/127.0.0.1/tcp/0/")
                && *a != "/ip4/127.0.0.1/tcp/0"
        })
        .unwrap_or_else(|| panic!("no loopback TCP listen address in {status}"))
        .parse()
        .expect("a multiaddr")
}

/// Garbage must get nowhere: the request fails, or is answered with a
/// refusal (checked by decoding the answer as the mesh's own response).
async fn assert_rejected(outcome: Outcome<Vec<u8>>, what: &str) {
    match outcome {
        Outcome::Failed(why) => eprintln!("{what}: failed as it should: {why}"),
        Outcome::Answered(bytes) => {
            let protocol = StreamProtocol::new(PROTOCOL);
            let decoded = CborCodec::default()
                .read_response(&protocol, &mut libp2p::futures::io::Cursor::new(&bytes))
                .await;
            match decoded {
                Ok(Response::Refused(_)) => eprintln!("{what}: refused"),
                Ok(other) => panic!("{what} was answered with {other:?}"),
                Err(e) => panic!(
                    "{what} was answered with {} bytes that are no response ({e})",
                    bytes.len()
                ),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_peer_is_refused_and_node_keeps_serving() {
    let _serial = SERIAL.lock().await;
    let mut m = Mesh::start(&[BIG; 8], &[]).await;
    let (id, ct) = m.upload("target.bin", &random_bytes(2 * MIB + 11)).await;
    m.wait_offloaded(&id, PLACE).await;
    let holders = m.holders().await;
    m.assert_fragments_on_disk(&holders, ct.len());
    let h = holders[0];
    let status = m.nodes[h].status().await;
    let peer: PeerId = m.nodes[h].peer_id.parse().expect("the node's peer id");
    let addr = loopback_addr(&status);
    let path = m.nodes[h].fragment_files()[0].clone();
    let hex = path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a fragment file name")
        .to_owned();
    let fragment = std::fs::read(&path).expect("the fragment");
    let fragment_id = || FragmentId::from_hex(&hex).expect("a fragment file is named by its id");
    let fragments_before = status["fragments"].clone();

    // (a) A well-formed read of a fragment the peer did not store.
    let read = request_once(
        CborCodec::default(),
        peer,
        addr.clone(),
        Request::Read {
            id: fragment_id(),
            offset: 0,
            len: 1024,
        },
    )
    .await;
    eprintln!("read by a stranger: {read:?}");
    assert!(
        matches!(read, Outcome::Answered(Response::Refused(_))),
        "a read of another peer's fragment must be refused, got {read:?}"
    );

    // (b) A well-formed delete of it.
    let delete = request_once(
        CborCodec::default(),
        peer,
        addr.clone(),
        Request::Delete { id: fragment_id() },
    )
    .await;
    eprintln!("delete by a stranger: {delete:?}");
    assert!(
        matches!(delete, Outcome::Answered(Response::Refused(_))),
        "a delete of another peer's fragment must be refused, got {delete:?}"
    );
    let kept = std::fs::read(&path).unwrap_or_default();
    assert!(kept == fragment, "the fragment is still there, unchanged");

    // (b') Storing on the node: it lends its disk to its tracker only.
    let used_before = status["bytes_used"].clone();
    let reserve = request_once(
        CborCodec::default(),
        peer,
        addr.clone(),
        Request::Reserve {
            id: FragmentId([7; 16]),
            len: 1024,
        },
    )
    .await;
    eprintln!("reservation by a stranger: {reserve:?}");
    assert!(
        matches!(reserve, Outcome::Answered(Response::Refused(_))),
        "a stranger's reservation must be refused, got {reserve:?}"
    );
    let after = m.nodes[h].status().await;
    assert_eq!(after["bytes_used"], used_before, "{after}");

    // (c) Oversized and malformed requests, each from a fresh stranger.
    let oversized = request_once(RawCodec, peer, addr.clone(), random_bytes(8 * MIB)).await;
    assert_rejected(oversized, "8 MiB of garbage").await;
    let malformed = request_once(RawCodec, peer, addr.clone(), random_bytes(100)).await;
    assert_rejected(malformed, "100 bytes of garbage").await;

    // The node is still up, still holds its fragment, still answers the
    // server's audits...
    assert!(
        m.nodes[h].is_running(),
        "the node survived the hostile peer"
    );
    let status = m.nodes[h].status().await;
    assert_eq!(status["fragments"], fragments_before, "{status}");
    assert_eq!(status["state"], "running", "{status}");
    let kept = std::fs::read(&path).unwrap_or_default();
    assert!(kept == fragment, "the fragment is still there, unchanged");
    let passed = m.node_view(h).await.unwrap_or_else(|e| panic!("{e}"))["audits_passed"]
        .as_u64()
        .expect("audits_passed");
    wait_until(
        "the node passes another audit after the hostile peer",
        AUDIT,
        async || {
            let node = m.node_view(h).await?;
            if node["audits_passed"].as_u64().unwrap_or(0) > passed {
                Ok(())
            } else {
                Err(format!("{node}"))
            }
        },
    )
    .await;
    // ... and serves reads: with two other holders gone, any read of the
    // file needs this node's fragment.
    for &i in &holders[1..3] {
        m.nodes[i].kill().await;
    }
    assert_downloads(&m.admin, &id, &ct, "through the node the hostile peer hit").await;
}
