//! The agent mesh at 100 peers, in one process on loopback.
//!
//! 100 agent peers (`mesh::agent::new`, each with its own data directory
//! and its event loop on a multi-thread tokio runtime) listen on
//! `/ip4/127.0.0.1/tcp/0`; each joins through peer 0 and through a random
//! earlier peer, so the graph is not a star. The network has one genesis
//! operator, whose key signs every entry. Then:
//!
//! - **Gossip**: 50 knowledge entries are published from random peers
//!   (`Client::publish`), one every 50 ms, and every peer's store is polled
//!   every 25 ms: the figure is the time from each publish until the last of
//!   the 100 peers held the entry (goal: under 2 s). Entries also travel by
//!   the publisher's DHT put, so this is "published → everywhere" by
//!   whichever path is faster.
//! - **Lookups**: gossip gives every peer every entry, so a lookup of a
//!   gossiped entry is answered by the first peer asked. For lookups that
//!   have to walk the DHT, 50 more entries are put into the DHT only (no
//!   gossip) by a bare Kademlia client speaking the network's protocol
//!   (same k = 20, disjoint paths, α = 3); the mesh peers check and keep
//!   them as they would any put, so each is held by roughly the 20 peers
//!   closest to its key. That client then looks every entry up again
//!   (its own copies dropped first), and libp2p's `QueryStats` say how many
//!   requests it had sent and how many peers had answered when the record
//!   arrived. The answers received bound the number of hops from above
//!   (every hop takes at least one answer), which is what the goal
//!   (median hops ≤ log2 N) is checked against. The mesh's own event loop
//!   does not surface `QueryStats`, so for `Client::get` only success and
//!   latency are reported: from a 101st peer that joins after everything
//!   was published (it missed the gossip), for the gossiped and for the
//!   DHT-only entries.
//! - **Memory per peer**: the process's resident set (VmRSS) once the 100
//!   peers are connected and a first entry has reached all of them, and
//!   again after the 50 gossiped entries, minus the resident set before the
//!   first peer started, divided by 100.
//!
//! Every phase has a deadline and panics saying which one was missed. The
//! whole run takes a minute or two on two cores; it should stay under five
//! minutes, when the peers' first Kademlia re-replication would start.
//!
//! Run with `cargo bench -p mesh --bench agent`.

#![allow(clippy::print_stdout, reason = "a bench binary prints its figures")]

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    time::{Duration, Instant},
};

use futures::{StreamExt, future::join_all};
use libp2p::{
    StreamProtocol, Swarm, SwarmBuilder, identity::Keypair, kad, noise, swarm::SwarmEvent, tcp,
    yamux,
};
use mesh::{
    Multiaddr,
    agent::{
        self, Body, Client, Genesis, Kind, Knowledge, NetworkId, OperatorKey, Query, RecordId,
        Signed,
    },
};

/// Peers in the mesh.
const PEERS: usize = 100;
/// Entries published by gossip, and entries put into the DHT only.
const ENTRIES: usize = 50;
/// Domains the entries are spread over.
const DOMAINS: usize = 5;
/// How often the peers' stores are polled.
const POLL: Duration = Duration::from_millis(25);
/// The pause between two gossiped publishes.
const PUBLISH_EVERY: Duration = Duration::from_millis(50);
/// Starting the peers until each has a connection.
const START_DEADLINE: Duration = Duration::from_secs(120);
/// The first entry reaching every peer.
const WARM_UP_DEADLINE: Duration = Duration::from_secs(60);
/// The 50 gossiped entries reaching every peer.
const GOSSIP_DEADLINE: Duration = Duration::from_secs(120);
/// The 50 DHT puts of the Kademlia client.
const PUT_DEADLINE: Duration = Duration::from_secs(120);
/// One lookup (the mesh's Kademlia queries time out after 20 s).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);
/// All the lookups of one phase.
const LOOKUPS_DEADLINE: Duration = Duration::from_secs(300);
/// The newcomer's first connection.
const JOIN_DEADLINE: Duration = Duration::from_secs(60);
/// How long the newcomer may take to reach `NEWCOMER_PEERS` connections
/// before its lookups start anyway.
const NEWCOMER_SETTLE: Duration = Duration::from_secs(15);
const NEWCOMER_PEERS: usize = 10;
/// Below this many open files the run would run out of sockets.
const MIN_OPEN_FILES: u64 = 8192;
/// Which earlier peers the peers join through, and who publishes what.
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// A small deterministic pseudo-random generator (xorshift64).
struct XorShift64(u64);

impl XorShift64 {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A running agent peer.
struct Peer {
    client: Client,
    /// Its listen address, ending in `/p2p/<id>`.
    addr: Multiaddr,
    _dir: tempfile::TempDir,
}

/// The bare Kademlia client that puts the DHT-only entries and measures
/// lookups.
type Probe = Swarm<kad::Behaviour<kad::store::MemoryStore>>;

/// What one lookup of the Kademlia client saw.
struct ProbeLookup {
    found: bool,
    /// Requests sent when the record arrived.
    requests: u32,
    /// Peers that had answered, the one with the record included.
    answers: u32,
    latency: Duration,
}

/// What the newcomer's `Client::get` lookups saw.
struct Gets {
    /// Entries it held already (from gossip) and so did not look up.
    held_before: usize,
    asked: usize,
    found: usize,
    /// Every lookup's time, found or not.
    latencies: Vec<Duration>,
}

/// One line of the table.
struct Row {
    what: String,
    figure: String,
    note: String,
}

fn row(what: impl Into<String>, figure: impl Into<String>, note: impl Into<String>) -> Row {
    Row {
        what: what.into(),
        figure: figure.into(),
        note: note.into(),
    }
}

fn entry(key: &OperatorKey, network: NetworkId, n: usize, kind: &str) -> Signed {
    key.make(
        network,
        agent::now(),
        Body::Knowledge(Knowledge {
            domain: format!("bench-{}", n % DOMAINS),
            content: format!("{kind} entry {n} of the agent mesh bench"),
            kind: Kind::Fact,
            // Exactly representable, like every figure a bench writes.
            confidence: 0.5,
            sources: vec![],
            tags: vec![kind.to_owned()],
            supersedes: None,
            task: None,
        }),
    )
}

/// Polls `check` every [`POLL`] until it gives a value; panics at `deadline`.
async fn poll_until<T, F, Fut>(what: &str, deadline: Instant, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(POLL).await;
    }
}

async fn start_peer(genesis: &Genesis, bootstrap: Vec<Multiaddr>, deadline: Instant) -> Peer {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (client, event_loop) = agent::new(agent::Config {
        keypair: Keypair::generate_ed25519(),
        genesis: genesis.clone(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("a listen address")],
        bootstrap,
        data_dir: dir.path().to_owned(),
        operator: OperatorKey::generate(),
        clock: agent::Clock::system(),
        thresholds: agent::Thresholds {
            flood: 1_000_000,
            vote_burst: 1_000_000,
            ..agent::Thresholds::default()
        },
    })
    .expect("an agent peer");
    tokio::spawn(event_loop.run());
    let addr = poll_until("a new peer listens", deadline, || async {
        client
            .status()
            .await
            .ok()
            .and_then(|s| s.listen_addrs.into_iter().next())
    })
    .await;
    Peer {
        client,
        addr,
        _dir: dir,
    }
}

/// Peer 0, and a random earlier peer if that is another one.
fn bootstrap_for(peers: &[Peer], rng: &mut XorShift64) -> Vec<Multiaddr> {
    let Some(first) = peers.first() else {
        return Vec::new();
    };
    let mut addrs = vec![first.addr.clone()];
    let other = rng.below(peers.len());
    if other != 0 {
        addrs.push(peers[other].addr.clone());
    }
    addrs
}

/// The knowledge entries a peer holds (its local store only: no domain, so
/// no DHT query).
async fn held(client: &Client) -> HashSet<RecordId> {
    client
        .query(Query {
            limit: 500,
            ..Query::default()
        })
        .await
        .expect("a peer answers a local query")
        .into_iter()
        .map(|found| found.signed.id())
        .collect()
}

/// Publishes `entries` from random peers, one every [`PUBLISH_EVERY`], and
/// returns, for each, the time until every peer held it.
async fn gossip(peers: &[Peer], entries: &[Signed], rng: &mut XorShift64) -> Vec<Duration> {
    let index: HashMap<RecordId, usize> = entries
        .iter()
        .enumerate()
        .map(|(n, e)| (e.id(), n))
        .collect();
    let mut published_at: Vec<Instant> = Vec::with_capacity(entries.len());
    let mut publishes = Vec::with_capacity(entries.len());
    let mut holders = vec![0_usize; entries.len()];
    let mut reached: Vec<Option<Duration>> = vec![None; entries.len()];
    let mut seen: Vec<HashSet<RecordId>> = vec![HashSet::new(); peers.len()];
    let mut counts: Vec<Option<usize>> = vec![None; peers.len()];
    let started = Instant::now();
    let deadline = started + GOSSIP_DEADLINE;
    let mut next_publish = started;
    loop {
        while published_at.len() < entries.len() && Instant::now() >= next_publish {
            let n = published_at.len();
            let client = peers[rng.below(peers.len())].client.clone();
            let record = entries[n].clone();
            published_at.push(Instant::now());
            publishes.push(tokio::spawn(async move { client.publish(record).await }));
            next_publish += PUBLISH_EVERY;
        }
        // Only the peers whose count moved are asked which entries they hold.
        let statuses = join_all(peers.iter().map(|p| p.client.status())).await;
        let mut changed = Vec::new();
        for (i, status) in statuses.into_iter().enumerate() {
            let records = status.expect("every peer answers").records;
            if counts[i] != Some(records) {
                counts[i] = Some(records);
                changed.push(i);
            }
        }
        let sets = join_all(changed.iter().map(|&i| held(&peers[i].client))).await;
        let observed = Instant::now();
        for (&i, ids) in changed.iter().zip(sets) {
            for id in ids {
                if let Some(&n) = index.get(&id)
                    && seen[i].insert(id)
                {
                    holders[n] += 1;
                    if holders[n] == peers.len() {
                        reached[n] = Some(observed.duration_since(published_at[n]));
                    }
                }
            }
        }
        if reached.iter().all(Option::is_some) {
            break;
        }
        if Instant::now() >= deadline {
            let missing = reached.iter().filter(|r| r.is_none()).count();
            let fewest = holders.iter().min().copied().unwrap_or(0);
            panic!(
                "gossip: after {GOSSIP_DEADLINE:?}, {missing} of {} entries had not reached every \
                 peer (the fewest holders: {fewest} of {})",
                entries.len(),
                peers.len()
            );
        }
        tokio::time::sleep(POLL).await;
    }
    for (n, publish) in publishes.into_iter().enumerate() {
        match tokio::time::timeout(Duration::from_secs(60), publish).await {
            Ok(Ok(Ok(_))) => {}
            Ok(Ok(Err(e))) => panic!("gossip: publishing entry {n} failed: {e}"),
            Ok(Err(e)) => panic!("gossip: the task publishing entry {n} failed: {e}"),
            Err(_) => panic!("gossip: publishing entry {n} did not finish within 60 s"),
        }
    }
    reached.into_iter().flatten().collect()
}

/// A bare Kademlia client on the network's DHT protocol, configured like
/// the mesh's peers (k = 20 is libp2p's default).
fn probe(network: NetworkId) -> Probe {
    let net = network.to_string();
    let protocol =
        StreamProtocol::try_from_owned(format!("/nocturne/agent/{}/kad/1.0.0", &net[..16]))
            .expect("a protocol name");
    SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("a TCP transport")
        .with_behaviour(|key| {
            let id = key.public().to_peer_id();
            let mut config = kad::Config::new(protocol);
            config
                .disjoint_query_paths(true)
                .set_query_timeout(Duration::from_secs(20));
            let mut kad = kad::Behaviour::with_config(id, kad::store::MemoryStore::new(id), config);
            kad.set_mode(Some(kad::Mode::Client));
            kad
        })
        .expect("the Kademlia client's behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build()
}

/// Puts every entry into the DHT under its id (Quorum::One), all at once.
async fn put_all(probe: &mut Probe, entries: &[Signed]) {
    let mut pending: HashMap<kad::QueryId, usize> = HashMap::new();
    for (n, e) in entries.iter().enumerate() {
        let record = kad::Record::new(kad::RecordKey::new(&e.id().0), e.to_bytes());
        let query = probe
            .behaviour_mut()
            .put_record(record, kad::Quorum::One)
            .expect("the Kademlia client keeps the record locally");
        pending.insert(query, n);
    }
    let deadline = Instant::now() + PUT_DEADLINE;
    let mut failures = Vec::new();
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(event) = tokio::time::timeout(left, probe.select_next_some()).await else {
            panic!(
                "DHT puts: {} of {} had not finished after {PUT_DEADLINE:?}",
                pending.len(),
                entries.len()
            );
        };
        if let SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed {
            id,
            result: kad::QueryResult::PutRecord(result),
            ..
        }) = event
            && let Some(n) = pending.remove(&id)
            && let Err(e) = result
        {
            failures.push(format!("entry {n}: {e:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "DHT puts: no mesh peer stored {} entries: {}",
        failures.len(),
        failures.join("; ")
    );
}

/// Looks `id` up from the Kademlia client, its own copy dropped first.
async fn probe_get(probe: &mut Probe, id: RecordId) -> ProbeLookup {
    let key = kad::RecordKey::new(&id.0);
    probe.behaviour_mut().remove_record(&key);
    let started = Instant::now();
    let query = probe.behaviour_mut().get_record(key);
    let deadline = started + LOOKUP_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(event) = tokio::time::timeout(left, probe.select_next_some()).await else {
            return ProbeLookup {
                found: false,
                requests: 0,
                answers: 0,
                latency: started.elapsed(),
            };
        };
        let SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed {
            id: progressed,
            result: kad::QueryResult::GetRecord(result),
            stats,
            step,
        }) = event
        else {
            continue;
        };
        if progressed != query {
            continue;
        }
        match result {
            Ok(kad::GetRecordOk::FoundRecord(found))
                if Signed::from_bytes(&found.record.value).is_ok_and(|s| s.id() == id) =>
            {
                let latency = started.elapsed();
                if let Some(mut running) = probe.behaviour_mut().query_mut(&query) {
                    running.finish();
                }
                // The statistics are taken before the answer carrying the
                // record is counted.
                return ProbeLookup {
                    found: true,
                    requests: stats.num_requests(),
                    answers: stats.num_successes() + 1,
                    latency,
                };
            }
            _ if step.last => {
                return ProbeLookup {
                    found: false,
                    requests: stats.num_requests(),
                    answers: stats.num_successes(),
                    latency: started.elapsed(),
                };
            }
            _ => {}
        }
    }
}

async fn probe_lookups(probe: &mut Probe, ids: &[RecordId]) -> Vec<ProbeLookup> {
    let deadline = Instant::now() + LOOKUPS_DEADLINE;
    let mut lookups = Vec::with_capacity(ids.len());
    for &id in ids {
        assert!(
            Instant::now() < deadline,
            "the Kademlia client's lookups ran past {LOOKUPS_DEADLINE:?}"
        );
        lookups.push(probe_get(probe, id).await);
    }
    lookups
}

/// `Client::get` for each id the newcomer does not hold yet.
async fn newcomer_gets(client: &Client, ids: &[RecordId], held_before: &HashSet<RecordId>) -> Gets {
    let deadline = Instant::now() + LOOKUPS_DEADLINE;
    let mut gets = Gets {
        held_before: 0,
        asked: 0,
        found: 0,
        latencies: Vec::with_capacity(ids.len()),
    };
    for &id in ids {
        if held_before.contains(&id) {
            gets.held_before += 1;
            continue;
        }
        assert!(
            Instant::now() < deadline,
            "the newcomer's lookups ran past {LOOKUPS_DEADLINE:?}"
        );
        gets.asked += 1;
        let started = Instant::now();
        let answer = tokio::time::timeout(LOOKUP_TIMEOUT, client.get(id)).await;
        gets.latencies.push(started.elapsed());
        if let Ok(Ok(Some(found))) = answer
            && found.signed.id() == id
        {
            gets.found += 1;
        }
    }
    gets
}

/// The value at the nearest rank for `percent` (50 is the median).
fn nearest_rank<T: Copy + Ord>(values: &[T], percent: usize) -> Option<T> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn secs(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| format!("{:.2} s", d.as_secs_f64()))
}

fn millis(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".to_owned(),
        |d| format!("{:.0} ms", d.as_secs_f64() * 1000.0),
    )
}

fn count(n: Option<impl std::fmt::Display>) -> String {
    n.map_or_else(|| "-".to_owned(), |n| n.to_string())
}

fn probe_row(what: &str, lookups: &[ProbeLookup]) -> Row {
    let found: Vec<&ProbeLookup> = lookups.iter().filter(|l| l.found).collect();
    let answers: Vec<u32> = found.iter().map(|l| l.answers).collect();
    let requests: Vec<u32> = found.iter().map(|l| l.requests).collect();
    let latencies: Vec<Duration> = lookups.iter().map(|l| l.latency).collect();
    row(
        what,
        format!(
            "{}/{} found; answers until found: median {}, max {}",
            found.len(),
            lookups.len(),
            count(nearest_rank(&answers, 50)),
            count(nearest_rank(&answers, 100)),
        ),
        format!(
            "requests sent by then: median {}, max {}; latency median {}, p95 {}",
            count(nearest_rank(&requests, 50)),
            count(nearest_rank(&requests, 100)),
            millis(nearest_rank(&latencies, 50)),
            millis(nearest_rank(&latencies, 95)),
        ),
    )
}

fn gets_row(what: &str, gets: &Gets) -> Row {
    row(
        what,
        format!(
            "{}/{} found; latency median {}, p95 {}",
            gets.found,
            gets.asked,
            millis(nearest_rank(&gets.latencies, 50)),
            millis(nearest_rank(&gets.latencies, 95)),
        ),
        format!(
            "{} held from gossip before its lookups; hop counts are not exposed by the event loop yet",
            gets.held_before
        ),
    )
}

/// The process's resident set in KiB.
fn rss_kib() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

fn per_peer(before: u64, after: u64) -> String {
    format!(
        "{:.2} MiB",
        after.saturating_sub(before) as f64 / 1024.0 / PEERS as f64
    )
}

/// The soft limit on open files, if there is one.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The CPU's model name, or "unknown".
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .filter(|model| !model.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

async fn run() -> Vec<Row> {
    let mut rows = Vec::new();
    let mut rng = XorShift64(SEED);
    let key = OperatorKey::generate();
    let genesis = Genesis::parse(&format!("{}\n", key.id())).expect("a genesis of one operator");
    let network = genesis.network();

    // The peers, each joining through peer 0 and a random earlier one.
    eprintln!("starting {PEERS} peers …");
    let rss_before = rss_kib();
    let started = Instant::now();
    let deadline = started + START_DEADLINE;
    let mut peers: Vec<Peer> = Vec::with_capacity(PEERS);
    for _ in 0..PEERS {
        let bootstrap = bootstrap_for(&peers, &mut rng);
        peers.push(start_peer(&genesis, bootstrap, deadline).await);
    }
    let connections = poll_until("every peer has a connection", deadline, || async {
        let statuses = join_all(peers.iter().map(|p| p.client.status())).await;
        statuses
            .into_iter()
            .map(|s| s.ok().map(|s| s.peers.len()).filter(|&n| n > 0))
            .collect::<Option<Vec<usize>>>()
    })
    .await;
    rows.push(row(
        format!("{PEERS} peers started, each connected"),
        secs(Some(started.elapsed())),
        format!(
            "connections per peer then: median {}, max {}",
            count(nearest_rank(&connections, 50)),
            count(nearest_rank(&connections, 100)),
        ),
    ));

    // A first entry from peer 0 (connected to all): gossip works everywhere.
    eprintln!("a first entry to every peer …");
    let warm_up = entry(&key, network, 0, "warm-up");
    let started = Instant::now();
    let deadline = started + WARM_UP_DEADLINE;
    let publish = {
        let client = peers[0].client.clone();
        tokio::spawn(async move { client.publish(warm_up).await })
    };
    poll_until("the first entry reached every peer", deadline, || async {
        let statuses = join_all(peers.iter().map(|p| p.client.status())).await;
        statuses
            .iter()
            .all(|s| s.as_ref().is_ok_and(|s| s.records >= 1))
            .then_some(())
    })
    .await;
    let warm_up_time = started.elapsed();
    match tokio::time::timeout(WARM_UP_DEADLINE, publish).await {
        Ok(Ok(Ok(_))) => {}
        Ok(Ok(Err(e))) => panic!("warm-up: publishing the first entry failed: {e}"),
        Ok(Err(e)) => panic!("warm-up: the task publishing the first entry failed: {e}"),
        Err(_) => panic!("warm-up: publishing the first entry took over {WARM_UP_DEADLINE:?}"),
    }
    let rss_meshed = rss_kib();
    rows.push(row(
        "first entry, from peer 0, at every peer",
        secs(Some(warm_up_time)),
        "peer 0 is connected to every peer",
    ));

    // Gossip.
    eprintln!("gossip: {ENTRIES} entries from random peers …");
    let gossiped: Vec<Signed> = (0..ENTRIES)
        .map(|n| entry(&key, network, n, "gossip"))
        .collect();
    let times = gossip(&peers, &gossiped, &mut rng).await;
    let rss_gossiped = rss_kib();
    rows.push(row(
        format!("gossip: publish -> all {PEERS} peers hold it"),
        format!(
            "median {}, p95 {}, max {}",
            secs(nearest_rank(&times, 50)),
            secs(nearest_rank(&times, 95)),
            secs(nearest_rank(&times, 100)),
        ),
        format!(
            "goal < 2 s; {ENTRIES} entries, one every {} ms from a random peer; polled every {} ms",
            PUBLISH_EVERY.as_millis(),
            POLL.as_millis()
        ),
    ));

    // DHT-only entries, put and looked up by a bare Kademlia client.
    eprintln!("DHT: {ENTRIES} entries put without gossip, and lookups …");
    let dht_only: Vec<Signed> = (0..ENTRIES)
        .map(|n| entry(&key, network, n, "dht"))
        .collect();
    let dht_ids: Vec<RecordId> = dht_only.iter().map(Signed::id).collect();
    let gossip_ids: Vec<RecordId> = gossiped.iter().map(Signed::id).collect();
    let mut kad_client = probe(network);
    let peer0 = peers[0].client.peer_id();
    kad_client
        .behaviour_mut()
        .add_address(&peer0, peers[0].addr.clone());
    kad_client
        .dial(peers[0].addr.clone())
        .expect("the Kademlia client dials peer 0");
    put_all(&mut kad_client, &dht_only).await;
    let dht_lookups = probe_lookups(&mut kad_client, &dht_ids).await;
    let gossip_lookups = probe_lookups(&mut kad_client, &gossip_ids).await;
    drop(kad_client);

    let wanted: HashSet<RecordId> = dht_ids.iter().copied().collect();
    let mut holders: HashMap<RecordId, usize> = dht_ids.iter().map(|&id| (id, 0)).collect();
    for set in join_all(peers.iter().map(|p| held(&p.client))).await {
        for id in set.intersection(&wanted) {
            if let Some(n) = holders.get_mut(id) {
                *n += 1;
            }
        }
    }
    let holders: Vec<usize> = holders.into_values().collect();
    rows.push(row(
        "DHT-only entries (put by a Kademlia client)",
        format!(
            "held by median {} peers (min {}, max {})",
            count(nearest_rank(&holders, 50)),
            count(holders.iter().min()),
            count(holders.iter().max()),
        ),
        format!("of {PEERS}; not gossiped, so only where the puts went"),
    ));
    rows.push(probe_row(
        "Kademlia client lookup, DHT-only entries",
        &dht_lookups,
    ));
    rows.push(probe_row(
        "Kademlia client lookup, gossiped entries",
        &gossip_lookups,
    ));

    // A newcomer that missed the gossip looks everything up.
    eprintln!("a newcomer looks the entries up …");
    let bootstrap = bootstrap_for(&peers, &mut rng);
    let newcomer = start_peer(&genesis, bootstrap, Instant::now() + JOIN_DEADLINE).await;
    poll_until(
        "the newcomer has a connection",
        Instant::now() + JOIN_DEADLINE,
        || async {
            newcomer
                .client
                .status()
                .await
                .is_ok_and(|s| !s.peers.is_empty())
                .then_some(())
        },
    )
    .await;
    let settle = Instant::now() + NEWCOMER_SETTLE;
    let newcomer_connections = loop {
        let n = newcomer
            .client
            .status()
            .await
            .expect("the newcomer answers")
            .peers
            .len();
        if n >= NEWCOMER_PEERS || Instant::now() >= settle {
            break n;
        }
        tokio::time::sleep(POLL).await;
    };
    let held_before = held(&newcomer.client).await;
    let gossip_gets = newcomer_gets(&newcomer.client, &gossip_ids, &held_before).await;
    let dht_gets = newcomer_gets(&newcomer.client, &dht_ids, &held_before).await;
    rows.push(gets_row(
        "newcomer Client::get, gossiped entries",
        &gossip_gets,
    ));
    rows.push(gets_row(
        "newcomer Client::get, DHT-only entries",
        &dht_gets,
    ));
    rows.push(row(
        "newcomer's connections when its lookups began",
        newcomer_connections.to_string(),
        format!("it waits for {NEWCOMER_PEERS} or {NEWCOMER_SETTLE:?}"),
    ));

    rows.push(row(
        "memory per peer, connected, 1 entry",
        per_peer(rss_before, rss_meshed),
        format!("(VmRSS then - VmRSS before the first peer) / {PEERS}"),
    ));
    rows.push(row(
        format!("memory per peer, {} entries", ENTRIES + 1),
        per_peer(rss_before, rss_gossiped),
        "the same, after the gossip phase",
    ));

    join_all(peers.iter().map(|p| p.client.shutdown())).await;
    newcomer.client.shutdown().await;
    rows
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("CPU: {}; {cores} cores", cpu_model());
    if let Some(limit) = open_files_limit()
        && limit < MIN_OPEN_FILES
    {
        panic!(
            "{PEERS} peers need thousands of sockets but open files are limited to {limit}; \
             raise it first (`ulimit -n 65536`)"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let rows = runtime.block_on(run());
    runtime.shutdown_timeout(Duration::from_secs(5));

    println!(
        "{PEERS} agent peers in one process on loopback TCP, one genesis operator; lookup goal: \
         median hops <= log2 {PEERS} = {:.1}",
        (PEERS as f64).log2()
    );
    let what = rows.iter().map(|r| r.what.len()).max().unwrap_or(0);
    let figure = rows.iter().map(|r| r.figure.len()).max().unwrap_or(0);
    for r in &rows {
        println!("{:<what$}  {:<figure$}  {}", r.what, r.figure, r.note);
    }
    println!(
        "Answers until found bound the hops from above (each hop takes at least one answer). \
         The mesh's event loop does not expose its queries' statistics, so Client::get shows \
         success and latency only."
    );
}
