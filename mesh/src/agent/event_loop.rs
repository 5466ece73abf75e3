//! The task that owns the agent swarm.

use std::{
    collections::{HashMap, HashSet},
    num::NonZeroUsize,
    path::PathBuf,
    time::{Duration, Instant},
};

use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, SwarmBuilder, connection_limits, gossipsub, identify,
    identity::Keypair,
    kad::{self, store::RecordStore as _},
    multiaddr::Protocol,
    noise,
    request_response::{self, OutboundRequestId, ProtocolSupport, cbor},
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, yamux,
};
use tokio::sync::{mpsc, oneshot};

use super::{
    Command,
    anomaly::{Finding, Thresholds, Watch},
    client::{AgentStatus, Client, Found, PeerInfo},
    clock::Clock,
    genesis::{Genesis, Rules},
    quarantine::{self, Quarantine},
    record::{
        Body, MAX_RECORD_BYTES, NetworkId, OperatorId, OperatorKey, RecordError, RecordId, Signed,
        bound_operator,
    },
    store::{Inserted, Query, RecordStore},
    trust::Trust,
    view::View,
    wire,
};
use crate::{
    Error,
    checked::{Checked, Inbound},
    limits::RateLimits,
};

/// Bad records a peer may send before it is disconnected and refused.
const STRIKES: u32 = 3;
/// Peers refused at most (oldest forgotten first beyond).
const MAX_BANNED: usize = 4096;
/// How often the routing table is refreshed.
const BOOTSTRAP_EVERY: Duration = Duration::from_secs(30);
/// How often held records are re-replicated to the closest peers.
const REPLICATE_EVERY: Duration = Duration::from_secs(300);

/// How to start an agent peer.
#[derive(Debug)]
pub struct Config {
    /// The peer's libp2p identity.
    pub keypair: Keypair,
    /// The network's founders.
    pub genesis: Genesis,
    /// Where to listen.
    pub listen: Vec<Multiaddr>,
    /// Peers to join through (multiaddrs ending in `/p2p/<id>`).
    pub bootstrap: Vec<Multiaddr>,
    /// Where the record store lives.
    pub data_dir: PathBuf,
    /// The operator running this peer: it binds the peer to itself and
    /// signs the reports of what the peer saw.
    pub operator: OperatorKey,
    /// Time (the system's, or a test's).
    pub clock: Clock,
    /// What this peer reports and quarantines locally.
    pub thresholds: Thresholds,
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    identify: identify::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    gossip: gossipsub::Behaviour,
    rr: request_response::Behaviour<Checked<cbor::codec::Codec<wire::Request, wire::Response>>>,
}

enum Pending {
    Put(RecordId, oneshot::Sender<Result<RecordId, Error>>),
    Providers(HashSet<PeerId>, oneshot::Sender<Vec<PeerId>>),
    Get(RecordId, oneshot::Sender<Result<Option<Found>, Error>>),
}

/// Owns the swarm, the record store and the web of trust; `run` it on its
/// own task.
pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    network: NetworkId,
    topic: gossipsub::IdentTopic,
    store: RecordStore,
    trust: Trust,
    queries: HashMap<kad::QueryId, Pending>,
    requests: HashMap<OutboundRequestId, Option<oneshot::Sender<Result<wire::Response, Error>>>>,
    rates: RateLimits,
    strikes: HashMap<PeerId, u32>,
    banned: HashSet<PeerId>,
    synced: HashSet<PeerId>,
    provided: HashSet<String>,
    rules: Rules,
    clock: Clock,
    operator: OperatorKey,
    watch: Watch,
    quarantine: Quarantine,
    /// Connected peers' operators, from their signed bindings.
    bound: HashMap<PeerId, OperatorId>,
    /// The request-response protocol version that has `About`.
    about_protocol: StreamProtocol,
    /// Connected peers that listed it in identify: the only ones asked
    /// `About` (an older build would take it as malformed and strike us).
    answers_about: HashSet<PeerId>,
}

/// What became of a record that arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ingested {
    /// Kept.
    New,
    /// Held already, or not kept (full store, withdrawn entry).
    Known,
    /// From a quarantined operator: neither kept nor forwarded.
    Ignored,
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("peer_id", self.swarm.local_peer_id())
            .finish_non_exhaustive()
    }
}

fn domain_key(domain: &str) -> kad::RecordKey {
    kad::RecordKey::new(&format!("nocturne/domain/{}", domain.to_lowercase()))
}

/// Builds the peer: its client and its event loop (not yet running).
pub fn new(config: Config) -> Result<(Client, EventLoop), Error> {
    let network = config.genesis.network();
    let net = network.to_string();
    let short = &net[..16];
    // 1.1.0 adds `About`; 1.0.0 stays for peers of builds before it.
    let rr = |version: &str, fallback: &'static str| {
        StreamProtocol::try_from_owned(format!("/nocturne/agent/{short}/rr/{version}"))
            .unwrap_or(StreamProtocol::new(fallback))
    };
    let about_protocol = rr("1.1.0", "/nocturne/agent/rr/1.1.0");
    let first_protocol = rr("1.0.0", "/nocturne/agent/rr/1.0.0");
    let clock = config.clock.clone();
    let store = RecordStore::open(&config.data_dir, &network, clock.now())?;
    let mut trust = Trust::new(&config.genesis);
    for record in store.all() {
        if matches!(
            record.record.body,
            Body::Certificate { .. } | Body::Revocation { .. }
        ) {
            trust.add(record.clone()).ok();
        }
    }
    let topic = gossipsub::IdentTopic::new(format!("nocturne/agent/{net}/records"));
    let binding = config
        .operator
        .bind_peer(&network, &config.keypair.public().to_peer_id().to_bytes());
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
            let mut kad_config = kad::Config::new(
                StreamProtocol::try_from_owned(format!("/nocturne/agent/{short}/kad/1.0.0"))
                    .unwrap_or(StreamProtocol::new("/nocturne/agent/kad/1.0.0")),
            );
            kad_config
                .set_replication_factor(NonZeroUsize::new(20).unwrap_or(NonZeroUsize::MIN))
                .disjoint_query_paths(true)
                .set_record_filtering(kad::StoreInserts::FilterBoth)
                .set_max_packet_size(MAX_RECORD_BYTES + 16 * 1024)
                .set_replication_interval(Some(REPLICATE_EVERY))
                .set_query_timeout(Duration::from_secs(20));
            let store = kad::store::MemoryStore::with_config(
                peer_id,
                kad::store::MemoryStoreConfig {
                    max_records: super::store::MAX_RECORDS,
                    max_value_bytes: MAX_RECORD_BYTES,
                    max_providers_per_key: 20,
                    max_provided_keys: 1024,
                },
            );
            let mut kad = kad::Behaviour::with_config(peer_id, store, kad_config);
            kad.set_mode(Some(kad::Mode::Server));
            let gossip_config = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Strict)
                .validate_messages()
                .max_transmit_size(MAX_RECORD_BYTES + 4 * 1024)
                .message_id_fn(|m| {
                    gossipsub::MessageId::from(blake3::hash(&m.data).as_bytes().to_vec())
                })
                .build()
                .map_err(|e| e.to_string())?;
            let gossip = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gossip_config,
            )?;
            let codec = cbor::codec::Codec::default()
                .set_request_size_maximum(wire::MAX_REQUEST)
                .set_response_size_maximum(wire::MAX_RESPONSE);
            Ok(Behaviour {
                limits: crate::limits::connections(256),
                identify: identify::Behaviour::new(
                    identify::Config::new(
                        format!("/nocturne/agent/{short}/id/1.0.0"),
                        key.public(),
                    )
                    .with_agent_version(format!(
                        "nocturne-agent/{} {}",
                        env!("CARGO_PKG_VERSION"),
                        binding
                    )),
                ),
                kad,
                gossip,
                rr: request_response::Behaviour::with_codec(
                    Checked(codec),
                    [
                        (about_protocol.clone(), ProtocolSupport::Full),
                        (first_protocol, ProtocolSupport::Full),
                    ],
                    request_response::Config::default()
                        .with_request_timeout(Duration::from_secs(20))
                        .with_max_concurrent_streams(64),
                ),
            })
        })
        .map_err(|e| Error::Transport(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build();
    swarm
        .behaviour_mut()
        .gossip
        .subscribe(&topic)
        .map_err(|e| Error::Transport(e.to_string()))?;
    for addr in &config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| Error::Transport(format!("cannot listen on {addr}: {e}")))?;
    }
    for addr in &config.bootstrap {
        if let Some(Protocol::P2p(peer)) = addr.iter().last() {
            swarm.behaviour_mut().kad.add_address(&peer, addr.clone());
        }
        if let Err(e) = swarm.dial(addr.clone()) {
            tracing::warn!(%addr, error = %e, "cannot dial a bootstrap peer");
        }
    }
    let (commands_tx, commands) = mpsc::channel(256);
    let client = Client {
        commands: commands_tx,
        peer_id: *swarm.local_peer_id(),
    };
    let mut event_loop = EventLoop {
        swarm,
        commands,
        network,
        topic,
        store,
        trust,
        queries: HashMap::new(),
        requests: HashMap::new(),
        rates: RateLimits::new(200, 400),
        strikes: HashMap::new(),
        banned: HashSet::new(),
        synced: HashSet::new(),
        provided: HashSet::new(),
        rules: config.genesis.rules(),
        clock,
        operator: config.operator,
        watch: Watch::new(config.thresholds),
        quarantine: Quarantine::default(),
        bound: HashMap::new(),
        about_protocol,
        answers_about: HashSet::new(),
    };
    event_loop.refresh_quarantine();
    // What was kept on disk is served and re-replicated like anything new.
    let held: Vec<Signed> = event_loop.store.all().cloned().collect();
    for record in held {
        event_loop.hold_in_dht(&record);
    }
    Ok((client, event_loop))
}

impl EventLoop {
    /// Runs until [`Client::shutdown`] or until every client is dropped.
    pub async fn run(mut self) {
        let mut bootstrap = tokio::time::interval(BOOTSTRAP_EVERY);
        bootstrap.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(command) => self.on_command(command),
                },
                _ = bootstrap.tick() => {
                    self.swarm.behaviour_mut().kad.bootstrap().ok();
                }
            }
        }
    }

    fn view(&self) -> View<'_> {
        View {
            network: &self.network,
            rules: &self.rules,
            store: &self.store,
            trust: &self.trust,
            quarantine: &self.quarantine,
            now: self.clock.now(),
        }
    }

    /// Verifies and keeps a record from anywhere (`from`: the peer that
    /// sent it, if any).
    fn ingest(&mut self, bytes: &[u8], from: Option<PeerId>) -> Result<Ingested, RecordError> {
        let signed = Signed::from_bytes(bytes)?;
        // The same bytes as a record already held (the same record arriving
        // by gossip, the DHT and trust sync) were verified when it was kept:
        // skip the signature check, the costly part.
        if self
            .store
            .get(&signed.id())
            .is_some_and(|held| held.to_bytes() == bytes)
        {
            return Ok(Ingested::Known);
        }
        let now = self.clock.now();
        if let Err(e) = signed.verify(&self.network, now) {
            if e == RecordError::BadSignature
                && let Some(operator) = from.and_then(|p| self.bound.get(&p)).copied()
                && let Some(finding) = self.watch.bad_signature(operator, now)
            {
                self.act(finding);
            }
            return Err(e);
        }
        if self.quarantine.is_quarantined(&signed.record.author, now) {
            return Ok(Ingested::Ignored);
        }
        match self.store.insert(signed.clone()) {
            Inserted::New => {}
            Inserted::Known | Inserted::Refused => return Ok(Ingested::Known),
        }
        self.hold_in_dht(&signed);
        let (id, author, at) = (signed.id(), signed.record.author, signed.record.created_at);
        let finding = match &signed.record.body {
            Body::Certificate { .. } | Body::Revocation { .. } => {
                self.trust.add(signed.clone()).ok();
                self.refresh_quarantine();
                None
            }
            Body::Lift { operator, .. } => {
                if author == self.operator.id() {
                    self.quarantine.lift_locally(operator);
                }
                self.refresh_quarantine();
                None
            }
            Body::Report { .. } => {
                self.refresh_quarantine();
                None
            }
            Body::Knowledge(_) => self.watch.entry(author, id, at),
            Body::VoteCommit { .. } => self.watch.vote_record(author, id, at),
            Body::VoteReveal { entry, vote, .. } => {
                let burst = self.watch.vote_record(author, id, at);
                let mirror = self.watch.reveal(author, *entry, *vote, at, id);
                burst.or(mirror)
            }
            _ => None,
        };
        if let Some(finding) = finding {
            self.act(finding);
        }
        Ok(Ingested::New)
    }

    /// Recomputes the network-wide quarantines from the reports held.
    fn refresh_quarantine(&mut self) {
        let state =
            quarantine::network(self.store.statements(), self.trust.enrolled(), &self.rules);
        self.quarantine.set_network(state);
    }

    /// Acts on what the watch saw: quarantines locally at once and
    /// reports it, signed by this peer's operator, with the evidence.
    fn act(&mut self, finding: Finding) {
        let now = self.clock.now();
        if finding.operator == self.operator.id()
            || !self.quarantine.quarantine_locally(
                finding.operator,
                finding.anomaly,
                now,
                self.watch.thresholds().local_s,
            )
        {
            return;
        }
        tracing::warn!(
            operator = %finding.operator,
            anomaly = ?finding.anomaly,
            "quarantined an operator locally; reporting it"
        );
        let report = self.operator.make(
            self.network,
            now,
            Body::Report {
                operator: finding.operator,
                anomaly: finding.anomaly,
                evidence: finding.evidence,
                detail: finding.detail,
            },
        );
        if let Ok(Ingested::New) = self.ingest(&report.to_bytes(), None) {
            self.spread(&report);
        }
    }

    /// Gossips a record and puts it in the DHT, without waiting.
    fn spread(&mut self, signed: &Signed) -> Option<kad::QueryId> {
        let bytes = signed.to_bytes();
        if let Err(e) = self
            .swarm
            .behaviour_mut()
            .gossip
            .publish(self.topic.clone(), bytes.clone())
        {
            tracing::debug!(error = %e, "gossip did not take the record");
        }
        let record = kad::Record::new(kad::RecordKey::new(&signed.id().0), bytes);
        self.swarm
            .behaviour_mut()
            .kad
            .put_record(record, kad::Quorum::One)
            .ok()
    }

    /// Puts a held record in the DHT's local store (so it is served and
    /// re-replicated) and provides its domain.
    fn hold_in_dht(&mut self, signed: &Signed) {
        let id = signed.id();
        let record = kad::Record::new(kad::RecordKey::new(&id.0), signed.to_bytes());
        self.swarm.behaviour_mut().kad.store_mut().put(record).ok();
        if let Body::Knowledge(k) = &signed.record.body {
            let domain = k.domain.to_lowercase();
            if self.provided.len() < 1024 && self.provided.insert(domain.clone()) {
                self.swarm
                    .behaviour_mut()
                    .kad
                    .start_providing(domain_key(&domain))
                    .ok();
            }
        }
    }

    fn strike(&mut self, peer: PeerId, why: &str) {
        let strikes = self.strikes.entry(peer).or_default();
        *strikes += 1;
        tracing::info!(%peer, reason = why, strikes = *strikes, "a peer sent a bad record");
        if *strikes >= STRIKES {
            if self.banned.len() >= MAX_BANNED {
                self.banned.clear();
            }
            self.banned.insert(peer);
            self.swarm.disconnect_peer_id(peer).ok();
        }
    }

    fn found(&self, signed: &Signed) -> Found {
        let author = &signed.record.author;
        Found {
            author_enrolled: self.trust.is_enrolled(author),
            author_quarantined: self.quarantine.is_quarantined(author, self.clock.now()),
            vote: self.view().tally(&signed.id()).filter(|t| t.committed > 0),
            signed: signed.clone(),
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { record, reply } => {
                if let Err(e) = record.verify(&self.network, self.clock.now()) {
                    reply.send(Err(Error::Invalid(e.to_string()))).ok();
                    return;
                }
                let (author, at) = (&record.record.author, record.record.created_at);
                // A record already held is not published again: no pacing.
                let held = self.store.get(&record.id()).is_some();
                let room = match record.record.body {
                    _ if held => None,
                    Body::Knowledge(_) => self.watch.room_for_entry(author, at),
                    Body::VoteCommit { .. } | Body::VoteReveal { .. } => {
                        self.watch.room_for_vote(author, at)
                    }
                    _ => None,
                };
                if let Some(retry_after) = room {
                    reply.send(Err(Error::Paced { retry_after })).ok();
                    return;
                }
                if matches!(
                    record.record.body,
                    Body::Certificate { .. } | Body::Revocation { .. }
                ) && let Err(e) = self.trust.check(&record)
                {
                    reply.send(Err(Error::Invalid(e.to_string()))).ok();
                    return;
                }
                let id = record.id();
                match self.ingest(&record.to_bytes(), None) {
                    Err(e) => {
                        reply.send(Err(Error::Invalid(e.to_string()))).ok();
                        return;
                    }
                    Ok(Ingested::Ignored) => {
                        reply
                            .send(Err(Error::Invalid(
                                "the author is quarantined: its records are ignored".into(),
                            )))
                            .ok();
                        return;
                    }
                    Ok(_) => {}
                }
                match self.spread(&record) {
                    Some(query) => {
                        self.queries.insert(query, Pending::Put(id, reply));
                    }
                    None => {
                        reply
                            .send(Err(Error::Invalid("the DHT refused the record".into())))
                            .ok();
                    }
                }
            }
            Command::Providers { domain, reply } => {
                let query = self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .get_providers(domain_key(&domain));
                self.queries
                    .insert(query, Pending::Providers(HashSet::new(), reply));
            }
            Command::Ingest { records, reply } => {
                let mut fresh = 0;
                for bytes in records.iter().take(wire::MAX_RECORDS) {
                    if let Ok(Ingested::New) = self.ingest(bytes, None) {
                        fresh += 1;
                    }
                }
                reply.send(fresh).ok();
            }
            Command::LocalQuery { query, reply } => {
                let trust = &self.trust;
                let found = self
                    .store
                    .query(&query, |o| trust.is_enrolled(o))
                    .into_iter()
                    .map(|s| self.found(s))
                    .collect();
                reply.send(found).ok();
            }
            Command::Get { id, reply } => {
                if let Some(signed) = self.store.get(&id) {
                    let found = (!self.store.is_hidden(&id)).then(|| self.found(signed));
                    reply.send(Ok(found)).ok();
                    return;
                }
                let query = self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .get_record(kad::RecordKey::new(&id.0));
                self.queries.insert(query, Pending::Get(id, reply));
            }
            Command::Request {
                peer,
                request,
                reply,
            } => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .rr
                    .send_request(&peer, Inbound::Valid(request));
                self.requests.insert(id, Some(reply));
            }
            Command::CheckTrust { record, reply } => {
                let verdict = record
                    .verify(&self.network, self.clock.now())
                    .map_err(|e| e.to_string())
                    .and_then(|()| self.trust.check(&record).map_err(|e| e.to_string()));
                reply.send(verdict).ok();
            }
            Command::Status { reply } => {
                let peer_id = *self.swarm.local_peer_id();
                reply
                    .send(AgentStatus {
                        peer_id,
                        listen_addrs: self
                            .swarm
                            .listeners()
                            .map(|a| a.clone().with(Protocol::P2p(peer_id)))
                            .collect(),
                        peers: self.swarm.connected_peers().copied().collect(),
                        records: self.store.len(),
                        enrolled: self.trust.enrolled().iter().copied().collect(),
                    })
                    .ok();
            }
            Command::Peers { reply } => {
                let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
                let now = self.clock.now();
                let mut out = Vec::with_capacity(peers.len());
                for peer in peers {
                    let addrs = self
                        .swarm
                        .behaviour_mut()
                        .kad
                        .kbucket(peer)
                        .and_then(|b| {
                            b.iter()
                                .find(|e| *e.node.key.preimage() == peer)
                                .map(|e| e.node.value.iter().cloned().collect())
                        })
                        .unwrap_or_default();
                    let operator = self.bound.get(&peer).copied();
                    out.push(PeerInfo {
                        peer,
                        addrs,
                        operator,
                        enrolled: operator.is_some_and(|o| self.trust.is_enrolled(&o)),
                        quarantined: operator
                            .is_some_and(|o| self.quarantine.is_quarantined(&o, now)),
                        answers_about: self.answers_about.contains(&peer),
                    });
                }
                reply.send(out).ok();
            }
            Command::Tally { entry, reply } => {
                reply.send(self.view().tally(&entry)).ok();
            }
            Command::Tasks { reply } => {
                reply.send(self.view().tasks()).ok();
            }
            Command::Quarantines { reply } => {
                reply.send(self.view().quarantines()).ok();
            }
            Command::Awareness { reply } => {
                let peers = self.swarm.connected_peers().count();
                reply.send(self.view().awareness(peers)).ok();
            }
            Command::Changes { operator, reply } => {
                reply.send(self.view().changes_for(&operator)).ok();
            }
            Command::Banned { reply } => {
                reply.send(self.banned.clone()).ok();
            }
            Command::Shutdown => {}
        }
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                ..
            } => {
                if self.banned.contains(&peer_id) {
                    self.swarm.disconnect_peer_id(peer_id).ok();
                    return;
                }
                // A newcomer learns who is enrolled from the first peers it meets.
                if num_established.get() == 1
                    && self.synced.len() < 8
                    && self.synced.insert(peer_id)
                {
                    let id = self
                        .swarm
                        .behaviour_mut()
                        .rr
                        .send_request(&peer_id, Inbound::Valid(wire::Request::Trust));
                    self.requests.insert(id, None);
                    // The first connection fills the routing table; after
                    // that the periodic bootstrap is enough (one per new
                    // connection would flood a large network with queries).
                    if self.synced.len() == 1 {
                        self.swarm.behaviour_mut().kad.bootstrap().ok();
                    }
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.rates.forget(&peer_id);
                self.bound.remove(&peer_id);
                self.answers_about.remove(&peer_id);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                for addr in info.listen_addrs.into_iter().take(8) {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                }
                if info.protocols.contains(&self.about_protocol) {
                    self.answers_about.insert(peer_id);
                }
                // Which operator runs the peer: its signed binding, if any.
                if let Some(operator) =
                    bound_operator(&info.agent_version, &self.network, &peer_id.to_bytes())
                {
                    self.bound.insert(peer_id, operator);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                let verdict = match self.ingest(&message.data, Some(propagation_source)) {
                    Ok(Ingested::Ignored) => gossipsub::MessageAcceptance::Ignore,
                    Ok(_) => gossipsub::MessageAcceptance::Accept,
                    Err(e) => {
                        self.strike(propagation_source, &e.to_string());
                        gossipsub::MessageAcceptance::Reject
                    }
                };
                self.swarm
                    .behaviour_mut()
                    .gossip
                    .report_message_validation_result(&message_id, &propagation_source, verdict);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => self.on_kad(event),
            SwarmEvent::Behaviour(BehaviourEvent::Rr(event)) => self.on_rr(event),
            _ => {}
        }
    }

    fn on_kad(&mut self, event: kad::Event) {
        match event {
            kad::Event::InboundRequest {
                request:
                    kad::InboundRequest::PutRecord {
                        source,
                        record: Some(record),
                        ..
                    },
            } => {
                // Record filtering: nothing enters the DHT store unverified,
                // and a record is filed only under its own id.
                match self.ingest(&record.value, Some(source)) {
                    Ok(_) => {
                        let id = Signed::from_bytes(&record.value).map(|s| s.id());
                        if id.map(|id| id.0.to_vec()) != Ok(record.key.to_vec()) {
                            self.strike(source, "a record under another key");
                        }
                    }
                    Err(e) => self.strike(source, &e.to_string()),
                }
            }
            // Providers only for domain keys (libp2p files them under the
            // sending peer itself).
            kad::Event::InboundRequest {
                request:
                    kad::InboundRequest::AddProvider {
                        record: Some(record),
                    },
            } if record.key.as_ref().starts_with(b"nocturne/domain/") => {
                self.swarm
                    .behaviour_mut()
                    .kad
                    .store_mut()
                    .add_provider(record)
                    .ok();
            }
            kad::Event::OutboundQueryProgressed {
                id, result, step, ..
            } => match result {
                kad::QueryResult::PutRecord(result) => {
                    if let Some(Pending::Put(record, reply)) = self.queries.remove(&id) {
                        let answer = result.map(|_| record).map_err(|e| {
                            Error::Invalid(format!("no other peer stored the record ({e:?})"))
                        });
                        reply.send(answer).ok();
                    }
                }
                kad::QueryResult::GetProviders(result) => {
                    let done = match result {
                        Ok(kad::GetProvidersOk::FoundProviders { providers, .. }) => {
                            if let Some(Pending::Providers(found, _)) = self.queries.get_mut(&id) {
                                found.extend(providers.into_iter().take(64));
                            }
                            step.last
                        }
                        _ => true,
                    };
                    if done && let Some(Pending::Providers(found, reply)) = self.queries.remove(&id)
                    {
                        reply.send(found.into_iter().collect()).ok();
                    }
                }
                kad::QueryResult::GetRecord(result) => {
                    let record = match result {
                        Ok(kad::GetRecordOk::FoundRecord(peer_record)) => Some(peer_record.record),
                        _ => None,
                    };
                    if let Some(record) = record {
                        let _ = self.ingest(&record.value, None);
                        if let Some(Pending::Get(wanted, reply)) = self.queries.remove(&id) {
                            let found = self
                                .store
                                .get(&wanted)
                                .filter(|_| !self.store.is_hidden(&wanted))
                                .map(|s| self.found(s));
                            reply.send(Ok(found)).ok();
                            if let Some(mut query) = self.swarm.behaviour_mut().kad.query_mut(&id) {
                                query.finish();
                            }
                        }
                    } else if step.last
                        && let Some(Pending::Get(_, reply)) = self.queries.remove(&id)
                    {
                        reply.send(Ok(None)).ok();
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn on_rr(&mut self, event: request_response::Event<Inbound<wire::Request>, wire::Response>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    let Inbound::Valid(request) = request else {
                        self.strike(peer, "a malformed or oversized request");
                        self.swarm.disconnect_peer_id(peer).ok();
                        return;
                    };
                    let response = if self.rates.allow(peer, Instant::now()) {
                        self.answer(request)
                    } else {
                        wire::Response::Refused
                    };
                    self.swarm
                        .behaviour_mut()
                        .rr
                        .send_response(channel, response)
                        .ok();
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => match self.requests.remove(&request_id) {
                    Some(Some(reply)) => {
                        reply.send(Ok(response)).ok();
                    }
                    Some(None) => {
                        // A trust sync: certificates and revocations.
                        if let wire::Response::Records(records) = response {
                            for bytes in records.iter().take(4096) {
                                if self.ingest(bytes, Some(peer)).is_err() {
                                    self.strike(peer, "a bad trust record");
                                }
                            }
                        }
                    }
                    None => {}
                },
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(Some(reply)) = self.requests.remove(&request_id) {
                    reply
                        .send(Err(Error::Unreachable {
                            peer,
                            reason: error.to_string(),
                        }))
                        .ok();
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                if matches!(error, request_response::InboundFailure::Io(_)) {
                    tracing::info!(%peer, %error, "dropping a peer that sent a bad request");
                    self.strike(peer, "a malformed or oversized request");
                    self.swarm.disconnect_peer_id(peer).ok();
                }
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn answer(&self, request: wire::Request) -> wire::Response {
        let bytes = |s: &Signed| serde_bytes::ByteBuf::from(s.to_bytes());
        let mut budget = wire::MAX_RESPONSE as usize - 64 * 1024;
        let mut within = |b: serde_bytes::ByteBuf| {
            let fits = b.len() + 16 <= budget;
            budget = budget.saturating_sub(b.len() + 16);
            fits.then_some(b)
        };
        match request {
            wire::Request::Query {
                domain,
                text,
                min_confidence,
                limit,
            } => {
                let query = Query {
                    domain,
                    text,
                    min_confidence,
                    enrolled_only: false,
                    limit: (limit as usize).min(wire::MAX_RECORDS),
                };
                let found = self.store.query(&query, |_| true);
                wire::Response::Records(
                    found
                        .into_iter()
                        .map(bytes)
                        .map_while(&mut within)
                        .collect(),
                )
            }
            wire::Request::Trust => wire::Response::Records(
                self.trust
                    .records()
                    .chain(self.store.statements())
                    .map(bytes)
                    .map_while(&mut within)
                    .collect(),
            ),
            wire::Request::Get { id } => wire::Response::Records(
                self.store
                    .get(&id)
                    .filter(|_| !self.store.is_hidden(&id))
                    .map(bytes)
                    .into_iter()
                    .collect(),
            ),
            // The record first, so the asker holds it before what names it.
            wire::Request::About { id } => wire::Response::Records(
                self.store
                    .get(&id)
                    .map(|s| (id, s))
                    .into_iter()
                    .chain(self.store.about(&id))
                    .filter(|(id, _)| !self.store.is_hidden(id))
                    .take(wire::MAX_RECORDS)
                    .map(|(_, s)| bytes(s))
                    .map_while(&mut within)
                    .collect(),
            ),
        }
    }
}
