//! The task that owns the `Swarm`.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, SwarmBuilder, connection_limits, identify,
    identity::Keypair,
    kad,
    multiaddr::Protocol,
    noise,
    request_response::{self, OutboundRequestId, ProtocolSupport, cbor},
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, yamux,
};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::{
    checked::{Checked, Inbound},
    limits::RateLimits,
};

use super::{
    Client, Command, FragmentStore, NODE_AGENT, OWNER_AGENT, SwarmStatus,
    wire::{self, Refusal, Request, Response},
};
use crate::Error;

/// The Kademlia protocol of the storage mesh (its own DHT, apart from the
/// agent mesh's).
const KAD_PROTOCOL: &str = "/nocturne/storage/kad/1.0.0";

/// The Kademlia key storage nodes provide.
const PROVIDER_KEY: &[u8] = b"nocturne/storage-nodes/1";

/// How long a request may wait for its answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a node checks its tracker connection and redials.
const REDIAL_EVERY: Duration = Duration::from_secs(2);

/// Bounds on what peers may ask of this one.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Established connections, all peers together.
    pub max_connections: u32,
    /// Requests per second a peer may send (sustained).
    pub requests_per_second: u32,
    /// Requests a peer may send in a burst.
    pub burst: u32,
    /// Inbound requests being handled at once (disk work), all peers together.
    pub max_inflight: usize,
    /// Outbound requests waiting for answers.
    pub max_pending: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 256,
            // 2000 chunks of 256 KiB a second is 500 MiB/s per peer: far
            // above what an honest owner sends one node, far below a flood.
            requests_per_second: 2000,
            burst: 4000,
            max_inflight: 64,
            max_pending: 4096,
        }
    }
}

/// How to start a peer.
#[derive(Debug)]
pub struct Config {
    /// Its identity.
    pub keypair: Keypair,
    /// Addresses to listen on (a node may listen nowhere).
    pub listen: Vec<Multiaddr>,
    /// Trackers to dial and keep dialled (a node's `--tracker`).
    pub bootstrap: Vec<Multiaddr>,
    /// A node's fragments; `None` for an owner.
    pub store: Option<FragmentStore>,
    /// Bounds.
    pub limits: Limits,
}

/// What the event loop tells the application.
#[derive(Debug)]
pub enum Event {
    /// A node says it is leaving and asks its owner (us) to re-place these
    /// fragments and then delete them there.
    Leave {
        /// The node.
        peer: PeerId,
        /// The fragments, at most [`wire::MAX_LEAVE_IDS`].
        ids: Vec<wire::FragmentId>,
    },
    /// A connection to a storage node opened (identify told us its role).
    NodeUp(PeerId),
    /// The last connection to a peer closed.
    PeerDown(PeerId),
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    identify: identify::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    storage: request_response::Behaviour<Checked<cbor::codec::Codec<Request, Response>>>,
}

/// Owns the swarm; `run` it on its own task.
pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    /// For handler tasks to send their answers back through the loop.
    responder: mpsc::Sender<Command>,
    events: mpsc::Sender<Event>,
    store: Option<FragmentStore>,
    limits: Limits,
    rates: RateLimits,
    inflight: Arc<Semaphore>,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Response, Error>>>,
    /// Trackers: address → the peer that answered there, and when we last dialled.
    trackers: Vec<(Multiaddr, Option<PeerId>, Option<Instant>)>,
    /// Connected peers known to be storage nodes.
    nodes: HashSet<PeerId>,
    /// Peers to drop once their answer is out.
    to_drop: HashSet<PeerId>,
    providing: bool,
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("peer_id", self.swarm.local_peer_id())
            .finish_non_exhaustive()
    }
}

/// Builds a peer: its client, its event loop (not yet running) and the
/// receiver of its events.
pub fn new(config: Config) -> Result<(Client, EventLoop, mpsc::Receiver<Event>), Error> {
    let is_node = config.store.is_some();
    let limits = config.limits;
    let mut swarm = SwarmBuilder::with_existing_identity(config.keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| Error::Transport(e.to_string()))?
        .with_quic()
        .with_behaviour(|key| {
            let peer_id = key.public().to_peer_id();
            let agent = if is_node { NODE_AGENT } else { OWNER_AGENT };
            let mut kad_config = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
            kad_config.set_query_timeout(Duration::from_secs(30));
            let mut kad = kad::Behaviour::with_config(
                peer_id,
                kad::store::MemoryStore::new(peer_id),
                kad_config,
            );
            if !is_node {
                // The tracker answers queries even before it knows its
                // external address; nodes stay clients (no inbound port).
                kad.set_mode(Some(kad::Mode::Server));
            }
            let codec = cbor::codec::Codec::default()
                .set_request_size_maximum(wire::MAX_MESSAGE)
                .set_response_size_maximum(wire::MAX_MESSAGE);
            Behaviour {
                limits: crate::limits::connections(limits.max_connections),
                identify: identify::Behaviour::new(
                    identify::Config::new("/nocturne/storage/id/1.0.0".into(), key.public())
                        .with_agent_version(agent.into()),
                ),
                kad,
                storage: request_response::Behaviour::with_codec(
                    Checked(codec),
                    [(StreamProtocol::new(wire::PROTOCOL), ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(REQUEST_TIMEOUT)
                        .with_max_concurrent_streams(limits.max_inflight * 2),
                ),
            }
        })
        .map_err(|e| Error::Transport(e.to_string()))?
        // Connections are the nodes' way in (they have no inbound port):
        // keep them open while idle; nodes redial if one drops.
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(24 * 3600)))
        .build();
    for addr in &config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| Error::Transport(format!("cannot listen on {addr}: {e}")))?;
    }
    let (commands_tx, commands) = mpsc::channel(256);
    let (events_tx, events) = mpsc::channel(256);
    let client = Client {
        commands: commands_tx.clone(),
        peer_id: *swarm.local_peer_id(),
    };
    let event_loop = EventLoop {
        swarm,
        commands,
        responder: commands_tx,
        events: events_tx,
        store: config.store,
        limits,
        rates: RateLimits::new(limits.requests_per_second, limits.burst),
        inflight: Arc::new(Semaphore::new(limits.max_inflight)),
        pending: HashMap::new(),
        trackers: config
            .bootstrap
            .into_iter()
            .map(|a| (a, None, None))
            .collect(),
        nodes: HashSet::new(),
        to_drop: HashSet::new(),
        providing: false,
    };
    Ok((client, event_loop, events))
}

impl EventLoop {
    /// Runs until [`Client::shutdown`] or until every client is dropped.
    pub async fn run(mut self) {
        let mut redial = tokio::time::interval(REDIAL_EVERY);
        redial.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(command) => self.on_command(command),
                },
                _ = redial.tick() => self.redial(),
            }
        }
        for (_, reply) in self.pending.drain() {
            reply.send(Err(Error::Stopped)).ok();
        }
    }

    fn redial(&mut self) {
        let now = Instant::now();
        for (addr, peer, last) in &mut self.trackers {
            let connected = peer.is_some_and(|p| self.swarm.is_connected(&p));
            let due = last.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(5));
            if !connected && due {
                *last = Some(now);
                if let Err(e) = self.swarm.dial(addr.clone()) {
                    tracing::debug!(%addr, error = %e, "could not dial the tracker");
                }
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Request {
                peer,
                request,
                reply,
            } => {
                if self.pending.len() >= self.limits.max_pending {
                    reply
                        .send(Err(Error::Refused {
                            peer,
                            refusal: Refusal::Busy,
                        }))
                        .ok();
                    return;
                }
                let id = self
                    .swarm
                    .behaviour_mut()
                    .storage
                    .send_request(&peer, Inbound::Valid(request));
                self.pending.insert(id, reply);
            }
            Command::Respond {
                peer,
                channel,
                response,
            } => {
                if self
                    .swarm
                    .behaviour_mut()
                    .storage
                    .send_response(channel, response)
                    .is_err()
                {
                    tracing::debug!(%peer, "a peer left before its answer");
                }
            }
            Command::Status { reply } => {
                let peer_id = *self.swarm.local_peer_id();
                let status = SwarmStatus {
                    peer_id,
                    listen_addrs: self
                        .swarm
                        .listeners()
                        .map(|a| a.clone().with(Protocol::P2p(peer_id)))
                        .collect(),
                    connected: self.swarm.connected_peers().copied().collect(),
                    nodes: self.nodes.iter().copied().collect(),
                };
                reply.send(status).ok();
            }
            Command::Shutdown => {}
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Storage(event)) => self.on_storage(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                if info.agent_version.starts_with("nocturne-node/") && self.nodes.insert(peer_id) {
                    self.events.try_send(Event::NodeUp(peer_id)).ok();
                }
                if self.store.is_some() && self.trackers.iter().any(|(_, p, _)| *p == Some(peer_id))
                {
                    for addr in info.listen_addrs.into_iter().take(8) {
                        self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                    }
                    if !self.providing {
                        self.providing = true;
                        let key = kad::RecordKey::new(&PROVIDER_KEY);
                        if let Err(e) = self.swarm.behaviour_mut().kad.start_providing(key) {
                            tracing::debug!(error = %e, "could not announce as a provider");
                        }
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::InboundRequest {
                request: kad::InboundRequest::AddProvider { .. },
            })) => {
                // A node announced itself; identify has normally told us already.
                let key = kad::RecordKey::new(&PROVIDER_KEY);
                let providers: Vec<PeerId> = kad::store::RecordStore::providers(
                    self.swarm.behaviour_mut().kad.store_mut(),
                    &key,
                )
                .into_iter()
                .map(|p| p.provider)
                .collect();
                for peer in providers {
                    if self.swarm.is_connected(&peer) && self.nodes.insert(peer) {
                        self.events.try_send(Event::NodeUp(peer)).ok();
                    }
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } if endpoint.is_dialer() => {
                let addr = endpoint.get_remote_address();
                for (tracker, peer, _) in &mut self.trackers {
                    let same = tracker == addr
                        || tracker.iter().find_map(|p| match p {
                            Protocol::P2p(id) => Some(id),
                            _ => None,
                        }) == Some(peer_id);
                    if same {
                        *peer = Some(peer_id);
                    }
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.rates.forget(&peer_id);
                self.to_drop.remove(&peer_id);
                self.nodes.remove(&peer_id);
                self.events.try_send(Event::PeerDown(peer_id)).ok();
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::debug!(%address, "listening");
            }
            _ => {}
        }
    }

    fn on_storage(&mut self, event: request_response::Event<Inbound<Request>, Response>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => match request {
                    Inbound::Valid(request) => self.on_request(peer, request, channel),
                    Inbound::Malformed => {
                        tracing::info!(%peer, "dropping a peer that sent a malformed or oversized request");
                        self.refuse(peer, channel, Refusal::Unsupported, true);
                    }
                },
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(reply) = self.pending.remove(&request_id) {
                        reply.send(Ok(response)).ok();
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    reply
                        .send(Err(Error::Unreachable {
                            peer,
                            reason: error.to_string(),
                        }))
                        .ok();
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                // An oversized or malformed request fails to decode: drop the
                // sender. Timeouts and closed connections are not misconduct.
                if matches!(error, request_response::InboundFailure::Io(_))
                    || self.to_drop.contains(&peer)
                {
                    tracing::info!(%peer, %error, "dropping a peer that sent a bad request");
                    self.swarm.disconnect_peer_id(peer).ok();
                }
            }
            request_response::Event::ResponseSent { peer, .. } => {
                if self.to_drop.remove(&peer) {
                    self.swarm.disconnect_peer_id(peer).ok();
                }
            }
        }
    }

    fn on_request(
        &mut self,
        peer: PeerId,
        request: Request,
        channel: request_response::ResponseChannel<Response>,
    ) {
        if !self.rates.allow(peer, Instant::now()) {
            return self.refuse(peer, channel, Refusal::Busy, false);
        }
        match (&self.store, request) {
            (None, Request::Leave { ids }) => {
                if ids.len() > wire::MAX_LEAVE_IDS {
                    return self.refuse(peer, channel, Refusal::BadRange, true);
                }
                match self.events.try_send(Event::Leave { peer, ids }) {
                    Ok(()) => {
                        self.swarm
                            .behaviour_mut()
                            .storage
                            .send_response(channel, Response::Done)
                            .ok();
                    }
                    Err(_) => self.refuse(peer, channel, Refusal::Busy, false),
                }
            }
            // Roles: an owner stores nothing and a node takes no hand-overs.
            (None, _) | (Some(_), Request::Leave { .. }) => {
                self.refuse(peer, channel, Refusal::Unsupported, true);
            }
            // A node lends its disk to the owner it joined through, not to
            // whoever dials it: new fragments come only from its trackers.
            // (A well-formed request: refused, the connection kept.)
            (Some(_), Request::Reserve { .. }) if !self.is_tracker(peer) => {
                self.refuse(peer, channel, Refusal::Unsupported, false);
            }
            (Some(store), request) => {
                let Ok(permit) = Arc::clone(&self.inflight).try_acquire_owned() else {
                    return self.refuse(peer, channel, Refusal::Busy, false);
                };
                let store = store.clone();
                let responder = self.responder.clone();
                tokio::spawn(async move {
                    let response = store.handle(peer, request).await;
                    drop(permit);
                    responder
                        .send(Command::Respond {
                            peer,
                            channel,
                            response,
                        })
                        .await
                        .ok();
                });
            }
        }
    }

    /// Whether `peer` answered at one of our tracker addresses.
    fn is_tracker(&self, peer: PeerId) -> bool {
        self.trackers.iter().any(|(_, p, _)| *p == Some(peer))
    }

    /// Answers with a refusal; `drop_peer` also closes the connection once
    /// the answer is out (for requests no honest peer sends).
    fn refuse(
        &mut self,
        peer: PeerId,
        channel: request_response::ResponseChannel<Response>,
        refusal: Refusal,
        drop_peer: bool,
    ) {
        if drop_peer {
            self.to_drop.insert(peer);
        }
        self.swarm
            .behaviour_mut()
            .storage
            .send_response(channel, Response::Refused(refusal))
            .ok();
    }
}
