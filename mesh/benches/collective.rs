//! What the collective's views cost on one peer holding many records.
//!
//! Every tally, task list and self-model is computed from the records a
//! peer holds, at the moment it is asked (nothing is cached, so nothing
//! can go stale). This measures that on one peer (`mesh::agent::new`, no
//! other peer: publishing keeps the record locally) holding
//! `ENTRIES` knowledge entries by 8 enrolled operators across 50 domains,
//! `VOTED` of them with 7 committed and revealed votes each (14 vote
//! records per entry), a tenth of the entries questions (each an answer
//! task): about 15,000 records, three quarters of the store's bound. A
//! manual clock puts every vote round past its reveal window.
//!
//! Printed: the CPU, how long filling the store took, and the median and
//! worst time of `Client::awareness`, `Client::tasks` and `Client::tally`
//! (the request to the event loop and back included). Nothing is asserted.
//!
//! Run with `cargo bench -p mesh --bench collective`.

#![allow(clippy::print_stdout, reason = "a bench binary prints its figures")]

use std::time::{Duration, Instant};

use libp2p::identity::Keypair;
use mesh::agent::{self, Body, Clock, Genesis, Kind, Knowledge, Nonce, OperatorKey, Thresholds};

const ENTRIES: usize = 5_000;
const VOTED: usize = 700;
const WINDOW: u64 = 60;

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn figures(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let median = times[times.len() / 2];
    let worst = times[times.len() - 1];
    println!(
        "{what:<28} median {:>8.2} ms   worst {:>8.2} ms   ({} runs)",
        median.as_secs_f64() * 1e3,
        worst.as_secs_f64() * 1e3,
        times.len()
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    println!("CPU: {}", cpu_model());
    let keys: Vec<OperatorKey> = (0..8).map(|_| OperatorKey::generate()).collect();
    let mut text: String = keys.iter().map(|k| format!("{}\n", k.id())).collect();
    text.push_str(&format!(
        "vote.commit = {WINDOW}s\nvote.reveal = {WINDOW}s\n"
    ));
    let genesis = Genesis::parse(&text).expect("genesis");
    let network = genesis.network();
    let start = agent::now() - 2 * 86_400;
    let clock = Clock::manual(start);
    let dir = tempfile::tempdir().expect("tempdir");
    let (client, event_loop) = agent::new(agent::Config {
        keypair: Keypair::generate_ed25519(),
        genesis,
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("addr")],
        bootstrap: vec![],
        data_dir: dir.path().to_owned(),
        operator: keys[0].clone(),
        clock: clock.clone(),
        thresholds: Thresholds {
            flood: 1_000_000,
            vote_burst: 1_000_000,
            ..Thresholds::default()
        },
    })
    .expect("a peer");
    tokio::spawn(event_loop.run());

    let filling = Instant::now();
    let mut voted = Vec::new();
    for n in 0..ENTRIES {
        // A second apart: every entry's vote round has its own windows.
        clock.advance(1);
        let author = &keys[n % 8];
        let entry = author.make(
            network,
            clock.now(),
            Body::Knowledge(Knowledge {
                domain: format!("domain-{}", n % 50),
                content: format!("entry {n}: something worth knowing"),
                kind: if n % 10 == 0 {
                    Kind::Question
                } else {
                    Kind::Fact
                },
                confidence: 0.5,
                sources: vec![],
                tags: vec![],
                supersedes: None,
                task: None,
            }),
        );
        let id = entry.id();
        // No other peer: the DHT put fails, the record is kept all the same.
        let _ = client.publish(entry).await;
        if n < VOTED {
            voted.push((id, clock.now()));
        }
    }
    for (entry, made) in &voted {
        let mut reveals = Vec::new();
        for (i, key) in keys[1..].iter().enumerate() {
            // Votes that look independent: no pair of operators always
            // agrees (the watch would take that for collusion).
            let vote = if blake3::hash(&[&entry.0[..], &[i as u8]].concat()).as_bytes()[0] & 1 == 0
            {
                1
            } else {
                -1
            };
            let nonce = Nonce([i as u8; 32]);
            let c = agent::commitment(&network, entry, &key.id(), vote, "r", &nonce);
            let commit = key.sign(agent::Record {
                network,
                author: key.id(),
                created_at: made + 1,
                expires_at: None,
                body: Body::VoteCommit {
                    entry: *entry,
                    commitment: c,
                },
            });
            if let Err(e) = client.publish(commit).await
                && !e.to_string().starts_with("no other peer")
            {
                panic!("a commit: {e}");
            }
            reveals.push(key.sign(agent::Record {
                network,
                author: key.id(),
                created_at: made + WINDOW + 1,
                expires_at: None,
                body: Body::VoteReveal {
                    entry: *entry,
                    vote,
                    reason: "r".into(),
                    nonce,
                },
            }));
        }
        for reveal in reveals {
            let _ = client.publish(reveal).await;
        }
    }
    clock.advance(3 * WINDOW);
    let records = client.status().await.expect("status").records;
    println!(
        "filled: {records} records ({ENTRIES} entries, {VOTED} voted on) in {:.1} s",
        filling.elapsed().as_secs_f64()
    );

    let mut times = Vec::new();
    let mut aware = None;
    for _ in 0..20 {
        let t = Instant::now();
        aware = Some(client.awareness().await.expect("awareness"));
        times.push(t.elapsed());
    }
    figures("awareness", times);
    let aware = aware.expect("ran");
    println!(
        "  (entries {}, domains {}, votes accepted {} / rejected {} / disputed {}, tasks open {})",
        aware.entries,
        aware.domains.len(),
        aware.votes.accepted,
        aware.votes.rejected,
        aware.votes.disputed,
        aware.tasks.open
    );
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let tasks = client.tasks().await.expect("tasks");
        times.push(t.elapsed());
        assert!(!tasks.is_empty());
    }
    figures("tasks (all, newest 500)", times);
    let mut times = Vec::new();
    for (entry, _) in voted.iter().take(200) {
        let t = Instant::now();
        let tally = client.tally(*entry).await.expect("tally").expect("held");
        times.push(t.elapsed());
        assert_eq!(tally.up + tally.down, 7);
    }
    figures("tally (one entry)", times);
}
