//! The agent mesh's collective on real swarms over loopback, in-process,
//! with one manual clock shared by every peer (vote windows and claim
//! expiries move when the test says so; nothing sleeps through a window).
//!
//! - Votes: 5 for and 2 against is accepted on every peer, 4 and 3 is
//!   disputed, 4 votes are below the quorum and decide nothing; a reveal
//!   that does not match its commit, a replayed commitment, an early
//!   reveal, an outsider's vote and a second vote count for nothing.
//! - The disputed entry opens a verification task on every peer; two
//!   agents race to claim it and every peer agrees on the winner; the
//!   claim expires, a third claims it and completes it with a result entry.
//! - A peer that was not running through a whole vote catches up when it
//!   tallies: it asks its peers for the entry and its votes.
//! - An operator publishing in bulk is paced by its own peer at the flood
//!   threshold, with the seconds to wait, and nobody quarantines it.
//! - Awareness agrees between the first and the last peer.
//! - A flooding operator is quarantined locally by the peers that saw it,
//!   network-wide once 4 (two thirds of the quorum of 5) reported, and
//!   freed by 4 lifts but not 3; a single lying report quarantines nobody.

mod common;

use common::poll;

use libp2p::{Multiaddr, identity::Keypair};
use mesh::agent::{
    self, Body, Clock, Genesis, Kind, Knowledge, NetworkId, Nonce, OperatorId, OperatorKey,
    RecordId, Signed, TaskKind, Thresholds,
    task::State,
    vote::{Outcome, Tally},
};

const WINDOW: u64 = 60;

struct Net {
    network: NetworkId,
    clock: Clock,
    keys: Vec<OperatorKey>,
    peers: Vec<agent::Client>,
    _dirs: Vec<tempfile::TempDir>,
}

/// `n` founders (all enrolled), one peer each, each joining through the
/// one before it; `thresholds(i)` for peer i.
async fn network(n: usize, thresholds: impl Fn(usize) -> Thresholds) -> Net {
    let keys: Vec<OperatorKey> = (0..n).map(|_| OperatorKey::generate()).collect();
    let mut text: String = keys.iter().map(|k| format!("{}\n", k.id())).collect();
    text.push_str(&format!(
        "vote.commit = {WINDOW}s\nvote.reveal = {WINDOW}s\ntask.claim_max = 10m\n"
    ));
    let genesis = Genesis::parse(&text).expect("genesis");
    let clock = Clock::manual(agent::now());
    let mut peers: Vec<agent::Client> = Vec::new();
    let mut dirs = Vec::new();
    let mut last: Option<Multiaddr> = None;
    for (i, key) in keys.iter().enumerate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (client, event_loop) = agent::new(agent::Config {
            keypair: Keypair::generate_ed25519(),
            genesis: genesis.clone(),
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("addr")],
            bootstrap: last.iter().cloned().collect(),
            data_dir: dir.path().to_owned(),
            operator: key.clone(),
            clock: clock.clone(),
            thresholds: thresholds(i),
        })
        .expect("an agent peer");
        tokio::spawn(event_loop.run());
        last = Some(
            poll("the peer listens", || async {
                client
                    .status()
                    .await
                    .ok()
                    .and_then(|s| s.listen_addrs.first().cloned())
            })
            .await,
        );
        peers.push(client);
        dirs.push(dir);
    }
    for (i, p) in peers.iter().enumerate() {
        poll(&format!("peer {i} has two peers"), || async {
            (p.status().await.ok()?.peers.len() >= 2).then_some(())
        })
        .await;
    }
    Net {
        network: genesis.network(),
        clock,
        keys,
        peers,
        _dirs: dirs,
    }
}

impl Net {
    fn entry(
        &self,
        key: &OperatorKey,
        content: &str,
        kind: Kind,
        task: Option<RecordId>,
    ) -> Signed {
        key.make(
            self.network,
            self.clock.now(),
            Body::Knowledge(Knowledge {
                domain: "collective".into(),
                content: content.into(),
                kind,
                confidence: 0.6,
                sources: vec![],
                tags: vec![],
                supersedes: None,
                task,
            }),
        )
    }

    /// Publishes through peer `via` and waits until every peer holds it.
    async fn publish(&self, via: usize, record: Signed) -> RecordId {
        let id = self.peers[via].publish(record).await.expect("published");
        self.everywhere(id).await;
        id
    }

    async fn everywhere(&self, id: RecordId) {
        for (i, p) in self.peers.iter().enumerate() {
            poll(&format!("peer {i} holds {id}"), || async {
                p.get(id).await.ok().flatten().map(|_| ())
            })
            .await;
        }
    }

    /// Waits until every peer's tally of `entry` satisfies `done`, and
    /// returns them.
    async fn tallies(&self, entry: RecordId, done: impl Fn(&Tally) -> bool) -> Vec<Tally> {
        let mut out = Vec::new();
        for (i, p) in self.peers.iter().enumerate() {
            out.push(
                poll(&format!("peer {i}'s tally of {entry}"), || async {
                    p.tally(entry).await.ok().flatten().filter(|t| done(t))
                })
                .await,
            );
        }
        out
    }

    fn commit(&self, key: &OperatorKey, entry: RecordId, vote: i8, nonce: &Nonce) -> Signed {
        let commitment = agent::commitment(&self.network, &entry, &key.id(), vote, "why", nonce);
        key.make(
            self.network,
            self.clock.now(),
            Body::VoteCommit { entry, commitment },
        )
    }

    fn reveal(&self, key: &OperatorKey, entry: RecordId, vote: i8, nonce: &Nonce) -> Signed {
        key.make(
            self.network,
            self.clock.now(),
            Body::VoteReveal {
                entry,
                vote,
                reason: "why".into(),
                nonce: *nonce,
            },
        )
    }
}

impl Net {
    async fn quarantine_of(&self, p: usize, who: OperatorId) -> Option<agent::QuarantineView> {
        self.peers[p]
            .quarantines()
            .await
            .expect("quarantines")
            .into_iter()
            .find(|q| q.operator == who)
    }
}

fn nonce() -> Nonce {
    let mut n = [0u8; 32];
    getrandom::fill(&mut n).expect("random");
    Nonce(n)
}

/// Bulk publishing (an agent importing what it knows) is held to the flood
/// threshold by the publisher's own peer, which says how long to wait,
/// instead of being sent and getting its operator quarantined.
#[tokio::test(flavor = "multi_thread")]
async fn bulk_publishing_is_paced_by_its_own_peer_not_quarantined() {
    let net = network(3, |_| Thresholds::default()).await;
    let k = &net.keys;
    let flood = Thresholds::default().flood;
    let mut ids = Vec::new();
    for n in 0..flood {
        let id = net.peers[0]
            .publish(net.entry(&k[0], &format!("import {n}"), Kind::Fact, None))
            .await
            .expect("within the threshold");
        ids.push(id);
    }
    let refused = net.peers[0]
        .publish(net.entry(&k[0], "one too many", Kind::Fact, None))
        .await;
    let Err(mesh::Error::Paced { retry_after }) = refused else {
        panic!("the entry past the threshold was not paced: {refused:?}");
    };
    assert_eq!(
        retry_after,
        Thresholds::default().window_s,
        "all were signed at once"
    );
    net.clock.advance(retry_after);
    ids.push(
        net.publish(0, net.entry(&k[0], "after the wait", Kind::Fact, None))
            .await,
    );
    for id in ids {
        net.everywhere(id).await;
    }
    for p in 0..3 {
        assert_eq!(
            net.quarantine_of(p, k[0].id()).await.and_then(|q| q.local),
            None
        );
    }
}

/// A peer started after a vote closed never saw its gossip; its tally asks
/// connected peers for the entry and every record naming it, verifies them,
/// and reaches the outcome everyone else reached.
#[tokio::test(flavor = "multi_thread")]
async fn a_peer_away_through_a_vote_catches_up_when_it_tallies() {
    let net = network(5, |_| Thresholds::default()).await;
    let k = &net.keys;
    let entry = net
        .publish(
            0,
            net.entry(&k[0], "voted while one was away", Kind::Fact, None),
        )
        .await;
    let ballots: Vec<(usize, i8, Nonce)> = (0..5)
        .map(|i| (i, if i == 4 { -1 } else { 1 }, nonce()))
        .collect();
    for (i, vote, n) in &ballots {
        net.publish(*i, net.commit(&k[*i], entry, *vote, n)).await;
    }
    net.clock.advance(WINDOW);
    for (i, vote, n) in &ballots {
        net.publish(*i, net.reveal(&k[*i], entry, *vote, n)).await;
    }
    net.clock.advance(WINDOW);
    for t in net.tallies(entry, |_| true).await {
        assert_eq!(
            (t.up, t.down, t.outcome),
            (4, 1, Outcome::Accepted),
            "{t:?}"
        );
    }

    // Only now does the late peer start, through peer 4.
    let at = net.peers[4]
        .status()
        .await
        .expect("status")
        .listen_addrs
        .first()
        .cloned()
        .expect("peer 4 listens");
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis_text: String = k
        .iter()
        .map(|k| format!("{}\n", k.id()))
        .collect::<String>()
        + &format!("vote.commit = {WINDOW}s\nvote.reveal = {WINDOW}s\ntask.claim_max = 10m\n");
    let (late, event_loop) = agent::new(agent::Config {
        keypair: Keypair::generate_ed25519(),
        genesis: Genesis::parse(&genesis_text).expect("genesis"),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("addr")],
        bootstrap: vec![at],
        data_dir: dir.path().to_owned(),
        operator: OperatorKey::generate(),
        clock: net.clock.clone(),
        thresholds: Thresholds::default(),
    })
    .expect("the late peer");
    tokio::spawn(event_loop.run());
    poll("the late peer knows a peer that answers About", || async {
        late.peers()
            .await
            .ok()?
            .iter()
            .any(|p| p.answers_about)
            .then_some(())
    })
    .await;
    // The entry itself comes by id from the DHT, as before; its votes
    // were only ever gossiped.
    poll("the late peer finds the entry", || async {
        late.get(entry).await.ok().flatten().map(|_| ())
    })
    .await;
    let t = late.tally(entry).await.expect("tally").expect("the entry");
    assert_eq!(
        (t.committed, t.up, t.down, t.outcome),
        (5, 4, 1, Outcome::Accepted),
        "{t:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn votes_decide_alike_everywhere_and_a_disputed_entry_becomes_a_task() {
    let net = network(8, |_| Thresholds::default()).await;
    let k = &net.keys;
    let outsider = OperatorKey::generate();
    let accepted = net
        .publish(0, net.entry(&k[0], "accepted", Kind::Fact, None))
        .await;
    let disputed = net
        .publish(0, net.entry(&k[0], "disputed", Kind::Fact, None))
        .await;
    let few = net
        .publish(0, net.entry(&k[0], "too few", Kind::Fact, None))
        .await;
    let tricky = net
        .publish(0, net.entry(&k[0], "tricky", Kind::Fact, None))
        .await;

    // Commit window: operators 1..=7 vote, each through its own peer.
    let ballots: Vec<(RecordId, Vec<i8>)> = vec![
        (accepted, vec![1, 1, 1, 1, 1, -1, -1]),
        (disputed, vec![1, 1, 1, 1, -1, -1, -1]),
        (few, vec![1, 1, 1, 1]),
    ];
    let mut reveals = Vec::new();
    for (entry, votes) in &ballots {
        for (i, vote) in votes.iter().enumerate() {
            let n = nonce();
            net.publish(i + 1, net.commit(&k[i + 1], *entry, *vote, &n))
                .await;
            reveals.push((i + 1, &k[i + 1], *entry, *vote, n));
        }
    }
    // The tricky entry: one good vote and every way of not counting.
    let good = nonce();
    let good_commit = net.commit(&k[1], tricky, 1, &good);
    net.publish(1, good_commit.clone()).await;
    reveals.push((1, &k[1], tricky, 1, good));
    // 2 reveals another vote than it committed.
    let n2 = nonce();
    net.publish(2, net.commit(&k[2], tricky, 1, &n2)).await;
    reveals.push((2, &k[2], tricky, -1, n2));
    // 3 replays 1's commitment under its own signature, then 1's nonce.
    let Body::VoteCommit { commitment, .. } = good_commit.record.body else {
        unreachable!()
    };
    net.publish(
        3,
        k[3].make(
            net.network,
            net.clock.now(),
            Body::VoteCommit {
                entry: tricky,
                commitment,
            },
        ),
    )
    .await;
    reveals.push((3, &k[3], tricky, 1, good));
    // 4 votes twice and reveals its second vote.
    let (first, second) = (nonce(), nonce());
    net.publish(4, net.commit(&k[4], tricky, 1, &first)).await;
    net.clock.advance(1);
    net.publish(4, net.commit(&k[4], tricky, -1, &second)).await;
    reveals.push((4, &k[4], tricky, -1, second));
    // 5 reveals during the commit window.
    let n5 = nonce();
    net.publish(5, net.commit(&k[5], tricky, 1, &n5)).await;
    net.publish(5, net.reveal(&k[5], tricky, 1, &n5)).await;
    // An operator nobody enrolled votes properly.
    let n9 = nonce();
    net.publish(6, net.commit(&outsider, tricky, 1, &n9)).await;
    reveals.push((6, &outsider, tricky, 1, n9));

    // Nothing is decided or revealed during the commit window.
    for t in net.tallies(accepted, |t| t.committed == 7).await {
        assert_eq!((t.outcome, t.up + t.down), (Outcome::Open, 0), "{t:?}");
    }

    net.clock.advance(WINDOW);
    for (via, key, entry, vote, nonce) in reveals {
        net.publish(via, net.reveal(key, entry, vote, &nonce)).await;
    }
    let expect = [
        (accepted, 5, 2),
        (disputed, 4, 3),
        (few, 4, 0),
        (tricky, 1, 0),
    ];
    for (entry, up, down) in expect {
        for t in net.tallies(entry, |t| t.up + t.down >= up + down).await {
            assert_eq!(
                (t.up, t.down, t.outcome),
                (up, down, Outcome::Open),
                "{t:?}"
            );
        }
    }

    net.clock.advance(WINDOW);
    for (entry, outcome) in [
        (accepted, Outcome::Accepted),
        (disputed, Outcome::Disputed),
        (few, Outcome::Undecided),
        (tricky, Outcome::Undecided),
    ] {
        for (i, t) in net.tallies(entry, |_| true).await.iter().enumerate() {
            assert_eq!(t.outcome, outcome, "peer {i}: {t:?}");
            assert_eq!(t.quorum, 5);
        }
    }
    let tricky_tally = &net.tallies(tricky, |_| true).await[7];
    assert_eq!(tricky_tally.votes.len(), 1);
    assert_eq!(tricky_tally.votes[0].operator, k[1].id());
    assert_eq!(
        tricky_tally.committed, 5,
        "operators 1 to 5 committed; the outsider does not count"
    );

    // The disputed entry opened a verification task on every peer.
    let mut task = None;
    for (i, p) in net.peers.iter().enumerate() {
        let t = poll(&format!("peer {i} lists the verify task"), || async {
            p.tasks()
                .await
                .ok()?
                .into_iter()
                .find(|t| t.kind == TaskKind::Verify && t.about == Some(disputed))
        })
        .await;
        assert_eq!(t.state, State::Open);
        assert_eq!(*task.get_or_insert(t.id), t.id, "peer {i} names it alike");
    }
    let task = task.expect("a task");

    // Two agents claim it in the same second; every peer picks the same one.
    let claim = |key: &OperatorKey, secs: u64| {
        key.make(
            net.network,
            net.clock.now(),
            Body::Claim {
                task,
                until: net.clock.now() + secs,
            },
        )
    };
    let (a, b) = (claim(&k[2], 30), claim(&k[3], 30));
    let winner = if (a.record.created_at, a.id()) < (b.record.created_at, b.id()) {
        k[2].id()
    } else {
        k[3].id()
    };
    let (ra, rb) = tokio::join!(
        net.peers[2].publish(a.clone()),
        net.peers[3].publish(b.clone())
    );
    ra.expect("claim a");
    rb.expect("claim b");
    net.everywhere(a.id()).await;
    net.everywhere(b.id()).await;
    for (i, p) in net.peers.iter().enumerate() {
        let state = task_state(p, task).await;
        assert!(
            matches!(state, State::Claimed { by, .. } if by == winner),
            "peer {i}: {state:?}"
        );
    }

    // The claim expires; a third agent claims and completes it.
    net.clock.advance(31);
    for p in &net.peers {
        assert_eq!(task_state(p, task).await, State::Open);
    }
    net.publish(4, claim(&k[4], 60)).await;
    for p in &net.peers {
        assert!(matches!(task_state(p, task).await, State::Claimed { by, .. } if by == k[4].id()));
    }
    let result = net
        .publish(
            4,
            net.entry(&k[4], "checked: half right", Kind::Insight, Some(task)),
        )
        .await;
    for p in &net.peers {
        assert_eq!(
            task_state(p, task).await,
            State::Done {
                by: k[4].id(),
                result
            }
        );
    }

    // Two distant peers see the same network once gossip has settled.
    let (first, last) = (&net.peers[0], &net.peers[7]);
    let a = first.awareness().await.expect("awareness");
    let b = last.awareness().await.expect("awareness");
    assert_eq!(
        (
            a.enrolled,
            a.entries,
            &a.domains,
            a.votes,
            a.tasks,
            &a.activity
        ),
        (
            b.enrolled,
            b.entries,
            &b.domains,
            b.votes,
            b.tasks,
            &b.activity
        )
    );
    assert_eq!(a.enrolled, 8);
    assert_eq!(a.entries, 5);
    assert_eq!(
        (a.votes.accepted, a.votes.disputed, a.votes.undecided),
        (1, 1, 2)
    );
    assert_eq!((a.tasks.done, a.tasks.open), (1, 0));
    assert_eq!(a.domains[0].entries, 5);
    assert_eq!(a.domains[0].accepted, 1);
}

async fn task_state(p: &agent::Client, task: RecordId) -> State {
    p.tasks()
        .await
        .expect("tasks")
        .into_iter()
        .find(|t| t.id == task)
        .map(|t| t.state)
        .expect("the task is listed")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_is_quarantined_locally_then_network_wide_and_one_liar_cannot() {
    // Peers 0-2 notice a flood past 20 entries, peer 3 past 30, the others
    // never: so the reports arrive in two steps.
    let net = network(8, |i| Thresholds {
        flood: match i {
            0..=2 => 20,
            3 => 30,
            _ => 1_000_000,
        },
        ..Thresholds::default()
    })
    .await;
    let k = &net.keys;
    let flooder = &k[7];
    // (Not waiting for every peer to hold each: the ones that quarantine
    // the flooder stop keeping its entries.)
    for n in 0..25 {
        net.peers[7]
            .publish(net.entry(flooder, &format!("flood {n}"), Kind::Fact, None))
            .await
            .expect("published");
    }
    let view = |p: usize, who: OperatorId| net.quarantine_of(p, who);
    for p in 0..=2 {
        let q = poll(&format!("peer {p} quarantines the flooder"), || async {
            view(p, flooder.id()).await.filter(|q| q.local.is_some())
        })
        .await;
        assert_eq!(q.local, Some(agent::Anomaly::Flood));
    }
    // Three reports: everyone holds them, nobody quarantines network-wide.
    for p in 0..8 {
        let q = poll(&format!("peer {p} counts 3 reports"), || async {
            view(p, flooder.id()).await.filter(|q| q.reports == 3)
        })
        .await;
        assert!(!q.network, "peer {p}: 3 reports of 4 needed: {q:?}");
    }
    assert_eq!(view(4, flooder.id()).await.and_then(|q| q.local), None);
    // Entries are marked, not dropped, where the flooder is quarantined.
    let marked = net.peers[0]
        .query(agent::Query {
            domain: Some("collective".into()),
            limit: 100,
            ..agent::Query::default()
        })
        .await
        .expect("query");
    // It keeps the 21 it took before it noticed (the 21st showed the
    // flood), and no more.
    assert_eq!(marked.len(), 21);
    assert!(marked.iter().all(|f| f.author_quarantined));

    // More: peer 3 sees the flood too, and four reports quarantine it
    // everywhere, even on the peers that never saw a flood.
    // (Its own peer refuses its records once the fourth report is in.)
    for n in 25..35 {
        let more = net.peers[7]
            .publish(net.entry(flooder, &format!("flood {n}"), Kind::Fact, None))
            .await;
        if more.is_err() {
            break;
        }
    }
    for p in 0..8 {
        poll(&format!("peer {p} quarantines it network-wide"), || async {
            view(p, flooder.id()).await.filter(|q| q.network)
        })
        .await;
    }

    // Its vote counts for nothing; an honest one beside it does.
    let entry = net
        .publish(0, net.entry(&k[0], "judge me", Kind::Fact, None))
        .await;
    let bad = net.commit(flooder, entry, 1, &nonce());
    for p in [4, 7] {
        let refused = net.peers[p].publish(bad.clone()).await;
        assert!(refused.is_err(), "peer {p} took the vote: {refused:?}");
    }
    net.publish(1, net.commit(&k[1], entry, 1, &nonce())).await;
    for t in net.tallies(entry, |t| t.committed >= 1).await {
        assert_eq!(t.committed, 1);
    }

    // One liar reports an innocent operator: nobody quarantines it.
    let lie = k[0].make(
        net.network,
        net.clock.now(),
        Body::Report {
            operator: k[1].id(),
            anomaly: agent::Anomaly::Manual,
            evidence: vec![],
            detail: "trust me".into(),
        },
    );
    net.publish(0, lie).await;
    for p in 0..8 {
        let q = view(p, k[1].id()).await.expect("the report is known");
        assert_eq!(
            (q.network, q.reports, q.local),
            (false, 1, None),
            "peer {p}"
        );
    }
    let innocent = net
        .publish(1, net.entry(&k[1], "still heard", Kind::Fact, None))
        .await;
    let found = net.peers[5]
        .get(innocent)
        .await
        .expect("get")
        .expect("found");
    assert!(!found.author_quarantined);

    // Three lifts do not free the flooder; the fourth does.
    let lift = |key: &OperatorKey| {
        key.make(
            net.network,
            net.clock.now(),
            Body::Lift {
                operator: flooder.id(),
                detail: "it stopped".into(),
            },
        )
    };
    net.clock.advance(1);
    for (i, key) in k[..3].iter().enumerate() {
        net.publish(i, lift(key)).await;
    }
    for p in 0..8 {
        let q = view(p, flooder.id()).await.expect("known");
        assert!(q.network, "peer {p}: 3 lifts of 4 needed: {q:?}");
    }
    net.publish(3, lift(&k[3])).await;
    for p in 0..8 {
        poll(&format!("peer {p} frees the flooder"), || async {
            view(p, flooder.id())
                .await
                .filter(|q| !q.network && q.local.is_none())
        })
        .await;
    }
}
