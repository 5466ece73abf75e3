//! The agent mesh with real processes: `nocturne agent start` peers on
//! 127.0.0.1, each with its own data directory and operator key. A network
//! founded by one operator grows by endorsements under the web-of-trust
//! rule, refusing forged, foreign and insufficient ones; knowledge outlives
//! its publisher; bad records are stored nowhere; the local API wants its
//! token and refuses browsers; the commands fail with one readable line.
//!
//! The tests take turns ([`SERIAL`]): each runs up to 21 peers, and two such
//! swarms at once on a small machine would only make the deadlines lie. Set
//! `NOCTURNE_TEST_LOG=debug` for the peers' logs, printed (their tails) when
//! a test fails.

#[path = "../common/mod.rs"]
mod common;

use std::{
    collections::BTreeSet,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    time::Duration,
};

use common::{
    agent::{
        Agent, COMMAND_LIMIT, ENTRY_KEYS, MAX_CONTENT, Swarm, endorse, endorse_on, one_line,
        path_str, random_hex, random_word, run_agent, text, write_genesis,
    },
    mesh::wait_until,
};
use serde_json::{Value, json};

mod collective;
mod mcp;

/// One agent test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How many agents the swarm tests start (the issue asks for at least 20).
const SWARM: usize = 20;
/// The agent farthest from the founder in start order.
const FAR: usize = SWARM - 1;
/// A bound on anything spreading through the swarm: an enrollment, an
/// entry, a query through the DHT. Generous, so a slow machine fails
/// nothing that works.
const SPREAD: Duration = Duration::from_secs(120);

/// `agent enroll` for agent `who`, which must succeed and print `enrolled
/// <operator>`; then waits until the farthest agent, and every other,
/// lists the operator as enrolled and the agent's own status says so.
async fn enroll_ok(swarm: &Swarm, who: usize, endorsements: &[PathBuf]) {
    let agent = &swarm.agents[who];
    let output = agent.enroll(endorsements).await;
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert!(
        output.status.success(),
        "{} enrolling with {} endorsement(s) failed ({}): {stderr}",
        agent.name,
        endorsements.len(),
        output.status
    );
    assert_eq!(
        stdout.trim(),
        format!("enrolled {}", agent.operator),
        "{}: what `agent enroll` printed",
        agent.name
    );
    assert!(!stderr.contains("panicked"), "{}: {stderr}", agent.name);
    eprintln!(
        "{} enrolled with {} endorsement(s)",
        agent.name,
        endorsements.len()
    );
    swarm.wait_sees_enrolled(FAR, &agent.operator, SPREAD).await;
    swarm.wait_all_see_enrolled(&agent.operator, SPREAD).await;
    wait_until(
        &format!("{} reports itself enrolled", agent.name),
        SPREAD,
        async || {
            let status = agent.api_status().await?;
            if status["enrolled"].as_bool() == Some(true) {
                Ok(())
            } else {
                Err(format!("status: {status}"))
            }
        },
    )
    .await;
    let status = agent.status().await;
    assert_eq!(
        status["enrolled"].as_bool(),
        Some(true),
        "{}: `agent status` after enrolling: {status}",
        agent.name
    );
}

/// `agent enroll` for agent `who`, which must be refused with a reason on
/// stderr and enroll nobody; returns stderr.
async fn enroll_refused(swarm: &Swarm, who: usize, endorsements: &[PathBuf], what: &str) -> String {
    let agent = &swarm.agents[who];
    let output = agent.enroll(endorsements).await;
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert!(
        !output.status.success(),
        "{what}: {} must not be enrolled; stdout: {stdout}; stderr: {stderr}",
        agent.name
    );
    assert!(
        !stderr.trim().is_empty(),
        "{what}: `agent enroll` failed without saying why"
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(
        !stdout.contains(&format!("enrolled {}", agent.operator)),
        "{what}: a refused enrollment printed {stdout}"
    );
    eprintln!("{what}: refused: {}", stderr.trim_end());
    let status = agent.status().await;
    assert_eq!(
        status["enrolled"].as_bool(),
        Some(false),
        "{what}: {} after a refused enrollment: {status}",
        agent.name
    );
    let enrolled = swarm.agents[FAR]
        .operators()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !enrolled.contains(agent.operator.as_str()),
        "{what}: agent-{FAR} lists {} as enrolled after a refusal",
        agent.name
    );
    stderr
}

/// Reads a JSON file.
fn read_json(path: &Path) -> Value {
    let body =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{} is not JSON ({e}): {body}", path.display()))
}

/// `s` with one letter or digit past its middle changed to another one
/// (`a` becomes `b`, anything else `a`): still hex (or base64), another
/// value.
fn change_one_digit(s: &str) -> String {
    let mut bytes = s.as_bytes().to_vec();
    let at = (s.len() / 2..bytes.len())
        .find(|&i| bytes[i].is_ascii_alphanumeric())
        .unwrap_or_else(|| panic!("no digit to change in {s:?}"));
    bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
    String::from_utf8(bytes).expect("ASCII")
}

/// Changes one digit of the first string under a key named `signature`
/// (or `sig`, or ending in `_signature`), wherever it is nested; whether
/// there was one.
fn change_signature(value: &mut Value) -> bool {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                let key = key.to_ascii_lowercase();
                let is_signature = key == "sig" || key.ends_with("signature");
                match field {
                    Value::String(s) if is_signature => {
                        *s = change_one_digit(s);
                        return true;
                    }
                    _ => {
                        if change_signature(field) {
                            return true;
                        }
                    }
                }
            }
            false
        }
        Value::Array(items) => items.iter_mut().any(change_signature),
        _ => false,
    }
}

/// A copy of the endorsement in `valid` with one digit of its signature
/// changed.
fn forge_signature(valid: &Path) -> PathBuf {
    let mut json = read_json(valid);
    let before = json.clone();
    assert!(
        change_signature(&mut json),
        "no signature found in the endorsement {before}"
    );
    let forged = valid.with_extension("forged-signature.json");
    std::fs::write(&forged, json.to_string()).expect("write the forged endorsement");
    eprintln!("forged a signature: {before} became {json}");
    forged
}

/// A copy of the endorsement in `valid` claiming to endorse `to` where it
/// endorsed `from`, its signature unchanged.
fn forge_operator(valid: &Path, from: &str, to: &str) -> PathBuf {
    let body = std::fs::read_to_string(valid).expect("read the endorsement");
    assert!(
        body.contains(from),
        "the endorsement does not name the endorsed operator {from} in hex: {body}"
    );
    let forged = valid.with_extension("forged-operator.json");
    std::fs::write(&forged, body.replace(from, to)).expect("write the forged endorsement");
    forged
}

#[tokio::test(flavor = "multi_thread")]
async fn web_of_trust_grows_from_one_founder() {
    let _serial = SERIAL.lock().await;
    let swarm = Swarm::start(SWARM, 1).await;
    let a = &swarm.agents;
    let op = |i: usize| a[i].operator.clone();

    // The founder is enrolled from the start, and nobody else.
    let status = a[0].status().await;
    assert_eq!(
        status["enrolled"].as_bool(),
        Some(true),
        "agent-0: {status}"
    );
    let status = a[1].status().await;
    assert_eq!(
        status["enrolled"].as_bool(),
        Some(false),
        "agent-1: {status}"
    );
    swarm.wait_sees_enrolled(FAR, &op(0), SPREAD).await;
    let enrolled = a[FAR].operators().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        enrolled,
        BTreeSet::from([op(0)]),
        "before any enrollment, only the founder"
    );

    // One enrolled operator: its endorsement is enough.
    eprintln!("--- agent-1: the founder's endorsement alone");
    let e0_1 = endorse(&a[0], &op(1)).await;
    enroll_ok(&swarm, 1, &[e0_1]).await;

    // Two enrolled: both are needed.
    eprintln!("--- agent-2: one of two is not enough, both are");
    let e0_2 = endorse(&a[0], &op(2)).await;
    let err = enroll_refused(
        &swarm,
        2,
        std::slice::from_ref(&e0_2),
        "one endorsement of two",
    )
    .await;
    assert!(
        err.to_lowercase().contains("endorsement"),
        "the refusal does not say what is missing: {err}"
    );
    let e1_2 = endorse(&a[1], &op(2)).await;
    enroll_ok(&swarm, 2, &[e0_2, e1_2]).await;

    // Three enrolled: all three.
    eprintln!("--- agent-3: all three enrolled operators");
    let e0_3 = endorse(&a[0], &op(3)).await;
    let e1_3 = endorse(&a[1], &op(3)).await;
    let e2_3 = endorse(&a[2], &op(3)).await;
    enroll_ok(&swarm, 3, &[e0_3, e1_3, e2_3]).await;

    // Four enrolled: the 3-endorsement rule applies; two are not enough.
    eprintln!("--- agent-4: two of four are not enough, three are");
    let e0_4 = endorse(&a[0], &op(4)).await;
    let e1_4 = endorse(&a[1], &op(4)).await;
    let err = enroll_refused(
        &swarm,
        4,
        &[e0_4.clone(), e1_4.clone()],
        "two endorsements of four",
    )
    .await;
    assert!(
        err.to_lowercase().contains("endorsement"),
        "the refusal does not say what is missing: {err}"
    );
    let e3_4 = endorse(&a[3], &op(4)).await;
    enroll_ok(&swarm, 4, &[e0_4, e1_4, e3_4]).await;

    // Agent 5: three endorsements each time, one of them bad.
    eprintln!("--- agent-5: bad endorsements are refused");
    let e0_5 = endorse(&a[0], &op(5)).await;
    let e1_5 = endorse(&a[1], &op(5)).await;
    let e2_5 = endorse(&a[2], &op(5)).await;

    let again0_5 = endorse(&a[0], &op(5)).await;
    enroll_refused(
        &swarm,
        5,
        &[e0_5.clone(), again0_5, e1_5.clone()],
        "the same endorser twice (two distinct)",
    )
    .await;

    let e10_5 = endorse(&a[10], &op(5)).await;
    enroll_refused(
        &swarm,
        5,
        &[e0_5.clone(), e1_5.clone(), e10_5],
        "an endorsement by an operator who is not enrolled",
    )
    .await;

    let forged = forge_signature(&e2_5);
    enroll_refused(
        &swarm,
        5,
        &[e0_5.clone(), e1_5.clone(), forged],
        "an endorsement with a forged signature",
    )
    .await;

    let e2_6 = endorse(&a[2], &op(6)).await;
    let renamed = forge_operator(&e2_6, &op(6), &op(5));
    enroll_refused(
        &swarm,
        5,
        &[e0_5.clone(), e1_5.clone(), renamed],
        "an endorsement of another operator, renamed",
    )
    .await;

    enroll_refused(
        &swarm,
        5,
        &[e0_5.clone(), e1_5.clone(), e2_6],
        "an endorsement of another operator",
    )
    .await;

    let other_genesis = swarm.dir().join("other-genesis.txt");
    let stranger = random_hex(32);
    write_genesis(&other_genesis, &[stranger.as_str()]);
    let foreign = endorse_on(&a[2], &op(5), &other_genesis).await;
    enroll_refused(
        &swarm,
        5,
        &[e0_5.clone(), e1_5.clone(), foreign],
        "an endorsement for another network",
    )
    .await;

    eprintln!("--- agent-5: three good endorsements");
    enroll_ok(&swarm, 5, &[e0_5, e1_5, e2_5]).await;

    // Exactly the six enrolled ones, as seen from the far end.
    let want: BTreeSet<String> = (0..=5).map(op).collect();
    let enrolled = a[FAR].operators().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(enrolled, want, "agent-{FAR}'s enrolled operators");
    for i in [6, 10, FAR] {
        let status = a[i].status().await;
        assert_eq!(
            status["enrolled"].as_bool(),
            Some(false),
            "{}: {status}",
            a[i].name
        );
    }
}

/// Checks an entry the API returned against what was published.
fn check_entry(
    entry: &Value,
    id: &str,
    author: &str,
    published: &Value,
    enrolled: bool,
    seen_by: &str,
) {
    let what = format!("{seen_by}: entry {entry}");
    for key in ENTRY_KEYS {
        assert!(entry.get(key).is_some(), "`{key}` missing; {what}");
    }
    assert_eq!(entry["id"].as_str(), Some(id), "{what}");
    assert_eq!(entry["author"].as_str(), Some(author), "{what}");
    assert_eq!(entry["author_enrolled"].as_bool(), Some(enrolled), "{what}");
    for key in ["domain", "content", "kind", "sources", "tags"] {
        assert_eq!(entry[key], published[key], "`{key}`; {what}");
    }
    let confidence = entry["confidence"]
        .as_f64()
        .unwrap_or_else(|| panic!("`confidence` is not a number; {what}"));
    let want = published["confidence"].as_f64().expect("a confidence");
    assert!((confidence - want).abs() < 1e-6, "`confidence`; {what}");
    assert!(!entry["created_at"].is_null(), "`created_at`; {what}");
    assert_eq!(entry["untrusted"].as_bool(), Some(true), "{what}");
}

/// A knowledge entry to publish.
fn entry(domain: &str, content: &str, kind: &str, confidence: f64) -> Value {
    json!({
        "domain": domain,
        "content": content,
        "kind": kind,
        "confidence": confidence,
        "sources": ["https://doc.rust-lang.org/book/ch04-01-what-is-ownership.html"],
        "tags": ["ownership", "test"],
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn knowledge_survives_its_publisher() {
    let _serial = SERIAL.lock().await;
    let mut swarm = Swarm::start(SWARM, 1).await;

    // Agent 5 is enrolled (by the founder alone, the only enrolled one);
    // agent 7 is not.
    let e0_5 = endorse(&swarm.agents[0], &swarm.agents[5].operator).await;
    enroll_ok(&swarm, 5, &[e0_5]).await;

    let word = random_word(14);
    let published = entry(
        "rust",
        &format!("A value has exactly one owner at a time; marker {word}."),
        "fact",
        0.9,
    );
    let id = swarm.agents[5].publish(&published).await;
    let op5 = swarm.agents[5].operator.clone();
    let (status, at_home) = swarm.agents[5]
        .api_get(&format!("/api/knowledge/{id}"))
        .await;
    assert_eq!(status, 200, "agent-5 GET its own entry: {at_home}");
    check_entry(&at_home, &id, &op5, &published, true, "agent-5");

    // The far end finds it by domain, by text, by confidence and by id.
    {
        let far = &swarm.agents[FAR];
        let found = wait_until(
            &format!("agent-{FAR} finds the entry by domain"),
            SPREAD,
            async || far.find("domain=rust", &id).await,
        )
        .await;
        check_entry(&found, &id, &op5, &published, true, &far.name);
        let by_text = format!("domain=rust&text={word}");
        let found = wait_until(
            &format!("agent-{FAR} finds the entry by text"),
            SPREAD,
            async || far.find(&by_text, &id).await,
        )
        .await;
        check_entry(&found, &id, &op5, &published, true, &far.name);
        let confident = format!("domain=rust&text={word}&min_confidence=0.5&enrolled_only=true");
        let found = wait_until(
            &format!("agent-{FAR} finds the entry with a minimum confidence, enrolled only"),
            SPREAD,
            async || far.find(&confident, &id).await,
        )
        .await;
        check_entry(&found, &id, &op5, &published, true, &far.name);

        let other_word = format!("domain=rust&text={}", random_word(14));
        let entries = far
            .query(&other_word)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !entries
                .iter()
                .any(|e| e["id"].as_str() == Some(id.as_str())),
            "a query for another word found the entry: {entries:?}"
        );
        let too_confident = format!("domain=rust&text={word}&min_confidence=0.95");
        let entries = far
            .query(&too_confident)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !entries
                .iter()
                .any(|e| e["id"].as_str() == Some(id.as_str())),
            "min_confidence=0.95 kept an entry of confidence 0.9: {entries:?}"
        );

        let by_id = format!("/api/knowledge/{id}");
        let found = wait_until(
            &format!("agent-{FAR} finds the entry by id"),
            SPREAD,
            async || far.try_get_ok(&by_id).await,
        )
        .await;
        check_entry(&found, &id, &op5, &published, true, &far.name);
        let (status, body) = far
            .api_get(&format!("/api/knowledge/{}", random_hex(32)))
            .await;
        assert_eq!(status, 404, "an id nobody published: {body}");
    }

    // An entry by an operator who is not enrolled: shown, marked, and left
    // out of enrolled-only queries.
    {
        let word7 = random_word(14);
        let unvouched = entry(
            "rust",
            &format!("Interior mutability moves the borrow check to run time; marker {word7}."),
            "insight",
            0.8,
        );
        let id7 = swarm.agents[7].publish(&unvouched).await;
        let op7 = swarm.agents[7].operator.clone();
        let far = &swarm.agents[FAR];
        let found = wait_until(
            &format!("agent-{FAR} finds agent-7's entry"),
            SPREAD,
            async || far.find("domain=rust", &id7).await,
        )
        .await;
        check_entry(&found, &id7, &op7, &unvouched, false, &far.name);
        let enrolled_only = wait_until(
            &format!("agent-{FAR}'s enrolled-only query has agent-5's entry"),
            SPREAD,
            async || {
                let entries = far.query("domain=rust&enrolled_only=true").await?;
                if entries
                    .iter()
                    .any(|e| e["id"].as_str() == Some(id.as_str()))
                {
                    Ok(entries)
                } else {
                    Err(format!("entries: {entries:?}"))
                }
            },
        )
        .await;
        assert!(
            !enrolled_only
                .iter()
                .any(|e| e["id"].as_str() == Some(id7.as_str())),
            "enrolled_only=true kept the entry of an operator who is not enrolled: {enrolled_only:?}"
        );
        for e in &enrolled_only {
            assert_eq!(
                e["author_enrolled"].as_bool(),
                Some(true),
                "enrolled_only=true: {e}"
            );
        }
    }

    // The publisher dies; a peer that joins afterwards, and so never saw
    // the gossip, still finds the entry.
    swarm.agents[5].kill().await;
    let late = swarm.add().await;
    let newcomer = &swarm.agents[late];
    let found = wait_until(
        &format!(
            "{} (joined after agent-5 died) finds the entry by domain",
            newcomer.name
        ),
        SPREAD,
        async || newcomer.find("domain=rust", &id).await,
    )
    .await;
    assert_eq!(found["content"], published["content"], "{found}");
    assert_eq!(found["author"].as_str(), Some(op5.as_str()), "{found}");
    let by_id = format!("/api/knowledge/{id}");
    let found = wait_until(
        &format!("{} finds the entry by id", newcomer.name),
        SPREAD,
        async || newcomer.try_get_ok(&by_id).await,
    )
    .await;
    assert_eq!(found["content"], published["content"], "{found}");
    // It learns the web of trust too: the dead author is still enrolled.
    swarm.wait_sees_enrolled(late, &op5, SPREAD).await;
    let found = wait_until(
        &format!("{} shows the entry's author as enrolled", newcomer.name),
        SPREAD,
        async || {
            let found = newcomer.find("domain=rust", &id).await?;
            if found["author_enrolled"].as_bool() == Some(true) {
                Ok(found)
            } else {
                Err(format!("entry: {found}"))
            }
        },
    )
    .await;
    check_entry(&found, &id, &op5, &published, true, &newcomer.name);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_records_are_refused_everywhere() {
    let _serial = SERIAL.lock().await;
    let swarm = Swarm::start(SWARM, 1).await;
    let a = &swarm.agents;

    // Nothing stored yet.
    for agent in a {
        let status = agent.status().await;
        assert_eq!(
            status["records"].as_u64(),
            Some(0),
            "{}: {status}",
            agent.name
        );
    }

    // Refused at the API.
    let oversized = "x".repeat(MAX_CONTENT + 1);
    let (status, body) = a[2]
        .api_post("/api/knowledge", &entry("rust", &oversized, "fact", 0.9))
        .await;
    assert_eq!(status, 400, "content of 16 KiB + 1 byte: {body}");
    // 8193 two-byte characters: fewer characters than the limit, more bytes.
    let wide = "é".repeat(MAX_CONTENT / 2 + 1);
    let (status, body) = a[2]
        .api_post("/api/knowledge", &entry("rust", &wide, "fact", 0.9))
        .await;
    assert_eq!(
        status, 400,
        "content of 16 KiB + 2 bytes in 8193 characters: {body}"
    );
    let mut bad = vec![
        (
            "a kind that does not exist",
            entry("rust", "a rumour", "rumour", 0.5),
        ),
        (
            "a confidence above 1",
            entry("rust", "too sure", "fact", 1.5),
        ),
        (
            "a negative confidence",
            entry("rust", "too unsure", "fact", -0.1),
        ),
    ];
    let mut no_content = entry("rust", "", "fact", 0.5);
    no_content
        .as_object_mut()
        .expect("an object")
        .remove("content");
    bad.push(("no content", no_content));
    for (what, body) in &bad {
        let (status, answer) = a[2].api_post("/api/knowledge", body).await;
        assert!((400..500).contains(&status), "{what}: {status} {answer}");
        eprintln!("{what}: refused with {status}");
    }
    let response = a[2]
        .request(reqwest::Method::POST, "/api/knowledge")
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .expect("POST /api/knowledge");
    let status = response.status().as_u16();
    assert!(
        (400..500).contains(&status),
        "a body that is not JSON: {status}"
    );

    // Valid ones, one of them exactly at the limit.
    let ids = [
        a[1].publish(&entry(
            "rust",
            &format!("Moves are bitwise copies; {}.", random_word(10)),
            "fact",
            0.9,
        ))
        .await,
        a[4].publish(&entry("rust", &"y".repeat(MAX_CONTENT), "synthesis", 0.7))
            .await,
        a[9].publish(&entry(
            "rust",
            &format!("Is Pin ever needed outside async? {}", random_word(10)),
            "question",
            0.3,
        ))
        .await,
    ];
    let valid = ids.len() as u64;

    // Every agent stores exactly those.
    wait_until(
        &format!("every agent stores the {valid} valid records and nothing else"),
        SPREAD,
        async || {
            let mut counts = Vec::new();
            for agent in a {
                let status = agent.api_status().await?;
                let records = status["records"]
                    .as_u64()
                    .ok_or_else(|| format!("{}: no record count in {status}", agent.name))?;
                assert!(
                    records <= valid,
                    "{} stores {records} records, only {valid} were valid: {status}",
                    agent.name
                );
                counts.push((agent.name.as_str(), records));
            }
            if counts.iter().all(|&(_, n)| n == valid) {
                Ok(())
            } else {
                Err(format!("records per agent: {counts:?}"))
            }
        },
    )
    .await;
    for agent in a {
        let status = agent.status().await;
        assert_eq!(
            status["records"].as_u64(),
            Some(valid),
            "{}: `agent status`: {status}",
            agent.name
        );
        let entries = agent
            .query("domain=rust")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for e in &entries {
            let id = e["id"].as_str().unwrap_or_default();
            assert!(
                ids.iter().any(|i| i == id),
                "{}: an entry nobody validly published: {e}",
                agent.name
            );
            let len = e["content"].as_str().map_or(usize::MAX, str::len);
            assert!(
                len <= MAX_CONTENT,
                "{}: an entry of {len} bytes",
                agent.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn local_api_demands_the_token_and_refuses_browsers() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut agent = Agent::new("agent-api");
    let operator = agent.setup("api test").await;
    let genesis = dir.path().join("genesis.txt");
    write_genesis(&genesis, &[operator.as_str()]);
    agent.start(&genesis, &[]).await;

    // What only the operator may read.
    for (path, want) in [
        (agent.data_dir.clone(), 0o700),
        (agent.key_path(), 0o600),
        (agent.data_dir.join("api.token"), 0o600),
    ] {
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, want, "{}: mode {mode:o}", path.display());
    }

    // On loopback, and nowhere else.
    assert!(agent.api.starts_with("http://127.0.0.1:"), "{}", agent.api);
    let status = agent.status().await;
    assert_eq!(
        status["enrolled"].as_bool(),
        Some(true),
        "a founder: {status}"
    );
    let port: u16 = agent
        .api
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("a port");
    assert!(
        std::net::TcpStream::connect(("::1", port)).is_err(),
        "the API answers on [::1]:{port}"
    );
    // A non-loopback address of this machine, if it has one: the one it
    // would send from (a UDP socket sends nothing until asked to).
    let outward = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").and_then(|()| s.local_addr()))
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified());
    if let Some(ip) = outward {
        assert!(
            std::net::TcpStream::connect((ip, port)).is_err(),
            "the API answers on {ip}:{port}"
        );
        eprintln!("the API does not answer on {ip}:{port}");
    }

    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client");
    let publish = entry(
        "rust",
        "Sent by a web page, it must not be published.",
        "fact",
        0.5,
    );
    let routes = [
        (reqwest::Method::GET, "/api/status".to_owned()),
        (reqwest::Method::GET, "/api/operators".to_owned()),
        (
            reqwest::Method::GET,
            "/api/knowledge?domain=rust".to_owned(),
        ),
        (
            reqwest::Method::GET,
            format!("/api/knowledge/{}", random_hex(32)),
        ),
        (reqwest::Method::POST, "/api/knowledge".to_owned()),
    ];
    let wrong = random_hex(32);
    for (method, path) in &routes {
        let request = |token: Option<&str>, origin: Option<&str>| {
            let mut r = http.request(method.clone(), agent.url(path));
            if let Some(token) = token {
                r = r.bearer_auth(token);
            }
            if let Some(origin) = origin {
                r = r.header("origin", origin);
            }
            if *method == reqwest::Method::POST {
                r = r.json(&publish);
            }
            r
        };
        let status = |r: reqwest::RequestBuilder| async move {
            r.send()
                .await
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
                .status()
                .as_u16()
        };
        assert_eq!(
            status(request(None, None)).await,
            401,
            "{method} {path} without a token"
        );
        assert_eq!(
            status(request(Some(wrong.as_str()), None)).await,
            401,
            "{method} {path} with a wrong token"
        );
        for origin in ["http://evil.example", "null", agent.api.as_str()] {
            assert_eq!(
                status(request(Some(agent.token.as_str()), Some(origin))).await,
                403,
                "{method} {path} with the token and Origin: {origin}"
            );
        }
        eprintln!("{method} {path}: 401 without the token, 403 with an Origin");
    }
    let response = http
        .get(agent.url("/api/status"))
        .header("authorization", format!("Basic {}", agent.token))
        .send()
        .await
        .expect("GET /api/status");
    assert_eq!(
        response.status().as_u16(),
        401,
        "the token as Basic credentials"
    );

    // With the token and no Origin, it answers.
    let (code, body) = agent.api_get("/api/status").await;
    assert_eq!(code, 200, "{body}");
    agent.check_status(&body);
    let (code, body) = agent.api_get("/api/operators").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["enrolled"], json!([operator]), "{body}");
    let (code, body) = agent.api_get("/api/openapi.json").await;
    assert_eq!(code, 200, "{body}");
    assert!(
        body["paths"].get("/api/knowledge").is_some(),
        "the OpenAPI document lacks /api/knowledge: {body}"
    );
    // The refused POSTs stored nothing.
    let status = agent.status().await;
    assert_eq!(status["records"].as_u64(), Some(0), "{status}");

    // Stopped, it is gone; started again on the same directory, it is the
    // same peer.
    let exit = agent.stop().await;
    assert!(
        exit.success(),
        "the peer's own exit after `agent stop`: {exit}"
    );
    let output = agent
        .run(&["status", "--data-dir", agent.dir()], COMMAND_LIMIT)
        .await;
    assert_eq!(
        output.status.code(),
        Some(1),
        "`agent status` after `agent stop`"
    );
    one_line(&output, "`agent status` after `agent stop`");
    assert!(
        http.get(agent.url("/api/status"))
            .bearer_auth(&agent.token)
            .send()
            .await
            .is_err(),
        "the API still answers after `agent stop`"
    );
    let peer_id = agent.peer_id.clone();
    agent.start(&genesis, &[]).await;
    assert_eq!(agent.peer_id, peer_id, "the same peer after a restart");
    let (code, body) = agent.api_get("/api/status").await;
    assert_eq!(code, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_errors_are_one_line() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path();
    let nowhere = cwd.join("no-such-agent");

    // No peer running.
    for args in [
        &["status", "--data-dir", path_str(&nowhere)][..],
        &["status", "--json", "--data-dir", path_str(&nowhere)],
    ] {
        let output = run_agent(cwd, args, COMMAND_LIMIT).await;
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        one_line(&output, &format!("{args:?} with no peer"));
    }
    let mut agent = Agent::new("agent-cli");
    let operator = agent.setup("cli test").await;
    let output = agent
        .run(&["status", "--data-dir", agent.dir()], COMMAND_LIMIT)
        .await;
    assert_eq!(
        output.status.code(),
        Some(1),
        "status of a peer never started"
    );
    one_line(&output, "`agent status` of a peer never started");
    let output = agent
        .run(&["stop", "--data-dir", agent.dir()], COMMAND_LIMIT)
        .await;
    one_line(&output, "`agent stop` of a peer never started");

    // Setting up twice keeps the first key.
    let key = std::fs::read(agent.key_path()).expect("operator.key");
    let output = agent
        .run(
            &["setup", "--label", "again", "--data-dir", agent.dir()],
            COMMAND_LIMIT,
        )
        .await;
    one_line(&output, "a second `agent setup`");
    assert_eq!(
        std::fs::read(agent.key_path()).expect("operator.key"),
        key,
        "a second `agent setup` changed operator.key"
    );

    // Endorsing: bad ids, a missing key, no network to endorse on.
    let genesis = cwd.join("genesis.txt");
    write_genesis(&genesis, &[operator.as_str()]);
    let key_path = agent.key_path();
    let out = cwd.join("endorsement.json");
    let too_long = format!("{operator}00");
    let not_hex = "zz".repeat(32);
    for bad in [
        "nothex",
        &operator[..63],
        too_long.as_str(),
        not_hex.as_str(),
    ] {
        let output = agent
            .run(
                &[
                    "endorse",
                    "--operator",
                    bad,
                    "--key",
                    path_str(&key_path),
                    "--genesis",
                    path_str(&genesis),
                    "--out",
                    path_str(&out),
                ],
                COMMAND_LIMIT,
            )
            .await;
        one_line(&output, &format!("`agent endorse --operator {bad:?}`"));
        assert!(!out.exists(), "a refused endorsement was written");
    }
    let output = agent
        .run(
            &[
                "endorse",
                "--operator",
                &operator,
                "--key",
                path_str(&cwd.join("missing.key")),
                "--genesis",
                path_str(&genesis),
                "--out",
                path_str(&out),
            ],
            COMMAND_LIMIT,
        )
        .await;
    one_line(&output, "`agent endorse` with a missing key");
    assert!(!out.exists(), "a refused endorsement was written");
    let output = agent
        .run(
            &[
                "endorse",
                "--operator",
                &operator,
                "--key",
                path_str(&key_path),
                "--data-dir",
                agent.dir(),
                "--out",
                path_str(&out),
            ],
            COMMAND_LIMIT,
        )
        .await;
    one_line(
        &output,
        "`agent endorse --data-dir` of a peer never started (no network recorded)",
    );

    // Enrolling with files that are missing or not endorsements.
    let output = agent.enroll(&[cwd.join("missing.json")]).await;
    one_line(&output, "`agent enroll` with a missing file");
    let garbage = cwd.join("garbage.json");
    std::fs::write(&garbage, "this is not an endorsement").expect("write");
    let output = agent.enroll(&[garbage]).await;
    one_line(&output, "`agent enroll` with a file that is not JSON");

    // Starting on a genesis that is missing or malformed.
    let malformed = cwd.join("malformed-genesis.txt");
    std::fs::write(&malformed, "# a comment\nnot an operator id\n").expect("write");
    for (genesis, what) in [
        (cwd.join("missing-genesis.txt"), "a missing genesis file"),
        (malformed, "a malformed genesis file"),
    ] {
        let output = agent
            .run(
                &[
                    "start",
                    "--data-dir",
                    agent.dir(),
                    "--genesis",
                    path_str(&genesis),
                    "--listen",
                    "/ip4/127.0.0.1/tcp/0",
                    "--api-port",
                    "0",
                ],
                COMMAND_LIMIT,
            )
            .await;
        one_line(&output, &format!("`agent start` with {what}"));
    }
}
