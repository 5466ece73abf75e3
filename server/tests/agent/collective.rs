//! The collective through the CLI, on real `nocturne agent start` peers:
//! votes committed by `agent vote` and revealed by the running peer on its
//! own when the reveal window opens (the windows are seconds long on this
//! test network, and the test waits on the tallies, not on a clock), tasks
//! claimed and completed, reports, and awareness.

use std::{os::unix::fs::PermissionsExt as _, time::Duration};

use serde_json::{Value, json};

use super::{SERIAL, entry};
use crate::common::{
    agent::{COMMAND_LIMIT, Swarm, one_line, text},
    mesh::wait_until,
};

/// Commit and reveal windows on the test network: long enough for three
/// CLI votes on a slow machine, short enough to wait through.
const WINDOW_S: u64 = 12;
/// Past both windows, with room.
const ROUND: Duration = Duration::from_secs(4 * WINDOW_S + 60);

/// `nocturne agent <args> --data-dir <the agent's>`.
trait RunIn {
    async fn run_in(&self, args: &[&str], limit: Duration) -> std::process::Output;
}

impl RunIn for crate::common::agent::Agent {
    async fn run_in(&self, args: &[&str], limit: Duration) -> std::process::Output {
        let mut all = args.to_vec();
        all.extend(["--data-dir", self.dir()]);
        self.run(&all, limit).await
    }
}

async fn tally(swarm: &Swarm, who: usize, entry: &str) -> Result<Value, String> {
    let out = swarm.agents[who]
        .run_in(&["tally", entry, "--json"], COMMAND_LIMIT)
        .await;
    if !out.status.success() {
        return Err(text(&out.stderr));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{e}: {}", text(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_votes_are_revealed_by_the_peer_and_decide_everywhere() {
    let _serial = SERIAL.lock().await;
    let rules = format!("vote.commit = {WINDOW_S}s\nvote.reveal = {WINDOW_S}s\n");
    // Three founders (a quorum of 3) and one operator nobody enrolled.
    let swarm = Swarm::start_with(4, 3, &rules).await;
    let a = &swarm.agents;
    let id = a[0]
        .publish(&entry(
            "votes",
            "Commit-reveal hides votes until all are in.",
            "fact",
            0.9,
        ))
        .await;
    for (i, agent) in a[..3].iter().enumerate() {
        let out = agent
            .run_in(
                &["vote", &id, "+1", "--reason", "matches the docs"],
                COMMAND_LIMIT,
            )
            .await;
        assert!(
            out.status.success(),
            "agent-{i} vote: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).starts_with(&format!("committed +1 on {id}")),
            "{}",
            text(&out.stdout)
        );
    }
    // The nonce waits on disk, for the operator only.
    let ballot = a[1].data_dir.join("votes").join(format!("{id}.json"));
    let mode = std::fs::metadata(&ballot)
        .expect("ballot")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "{}", ballot.display());
    let kept: Value =
        serde_json::from_slice(&std::fs::read(&ballot).expect("ballot")).expect("json");
    assert_eq!(kept["nonce"].as_str().map(str::len), Some(64));

    // Refusals, each one line: a second vote, no vote, an outsider's vote.
    let again = a[1].run_in(&["vote", &id, "-1"], COMMAND_LIMIT).await;
    assert!(one_line(&again, "a second vote").contains("already voted"));
    let bad = a[1].run_in(&["vote", &id, "2"], COMMAND_LIMIT).await;
    assert!(one_line(&bad, "a vote of 2").contains("+1 or -1"));
    let outsider = a[3].run_in(&["vote", &id, "+1"], COMMAND_LIMIT).await;
    assert!(one_line(&outsider, "an unenrolled vote").contains("not enrolled"));

    // While commits are open nothing is revealed.
    let early = tally(&swarm, 2, &id).await.expect("tally");
    assert_eq!(early["up"], 0, "{early}");
    assert_eq!(early["mine"]["revealed"], false, "{early}");

    // The peers reveal on their own; every peer counts three votes, then
    // decides alike once the reveal window closes.
    for i in 0..4 {
        wait_until(&format!("agent-{i} decides"), ROUND, async || {
            let t = tally(&swarm, i, &id).await?;
            (t["outcome"] == "accepted")
                .then_some(t.clone())
                .ok_or(t.to_string())
        })
        .await;
    }
    let last = tally(&swarm, 0, &id).await.expect("tally");
    assert_eq!(
        (last["up"].as_u64(), last["down"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(last["mine"]["revealed"], true);
    assert_eq!(last["untrusted"], true);
    let late = a[0].run_in(&["vote", &id, "-1"], COMMAND_LIMIT).await;
    assert!(one_line(&late, "a late vote").contains("closed"));

    // A question opens an answer task: claimed by one, refused to another,
    // completed by the holder.
    let question = a[0]
        .publish(&entry(
            "votes",
            "How long should a reveal window be?",
            "question",
            0.5,
        ))
        .await;
    let task = wait_until("agent-2 lists the answer task", ROUND, async || {
        let out = a[2].run_in(&["tasks", "--json"], COMMAND_LIMIT).await;
        let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        v["tasks"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["about"] == question.as_str()).cloned())
            .ok_or(v.to_string())
    })
    .await;
    let task_id = task["id"].as_str().expect("id").to_owned();
    assert_eq!(
        (task["kind"].as_str(), task["state"]["state"].as_str()),
        (Some("answer"), Some("open"))
    );
    let claimed = a[2]
        .run_in(&["claim", &task_id, "--for", "10m"], COMMAND_LIMIT)
        .await;
    assert!(claimed.status.success(), "{}", text(&claimed.stderr));
    wait_until("agent-1 sees the claim", ROUND, async || {
        let out = a[1]
            .run_in(&["tasks", "--state", "claimed", "--json"], COMMAND_LIMIT)
            .await;
        let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        (v["tasks"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["id"] == task_id.as_str())))
        .then_some(())
        .ok_or(v.to_string())
    })
    .await;
    let taken = a[1].run_in(&["claim", &task_id], COMMAND_LIMIT).await;
    assert!(one_line(&taken, "a claim on a held task").contains("holds this task"));
    let done = a[2]
        .run_in(
            &[
                "complete",
                &task_id,
                "--content",
                "Long enough for every peer to commit.",
            ],
            COMMAND_LIMIT,
        )
        .await;
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert!(text(&done.stdout).starts_with(&format!("completed {task_id} with entry ")));

    // A report by one operator is counted and quarantines nobody.
    let report = a[0]
        .run_in(
            &["report", &a[1].operator, "--reason", "testing"],
            COMMAND_LIMIT,
        )
        .await;
    assert!(report.status.success(), "{}", text(&report.stderr));
    let q = wait_until("agent-2 counts the report", ROUND, async || {
        let (code, v) = a[2].api_get("/api/quarantine").await;
        (code == 200 && v["operators"].as_array().is_some_and(|o| !o.is_empty()))
            .then_some(v.clone())
            .ok_or(v.to_string())
    })
    .await;
    assert_eq!(q["threshold"], 2, "two thirds of a quorum of 3: {q}");
    assert_eq!(q["operators"][0]["network"], false, "{q}");
    assert_eq!(q["operators"][0]["reports"], 1, "{q}");

    // Awareness agrees on the far peer, in JSON and for people.
    let aware = wait_until("agent-3 is aware of it all", ROUND, async || {
        let out = a[3].run_in(&["awareness", "--json"], COMMAND_LIMIT).await;
        let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        (v["votes"]["accepted"] == 1 && v["tasks"]["done"] == 1 && v["entries"] == 3)
            .then_some(v.clone())
            .ok_or(v.to_string())
    })
    .await;
    assert_eq!(aware["enrolled"], 3, "{aware}");
    let people = a[3].run_in(&["awareness"], COMMAND_LIMIT).await;
    let shown = text(&people.stdout);
    assert!(shown.contains("3 enrolled"), "{shown}");
    assert!(shown.contains("1 accepted"), "{shown}");
    assert!(shown.contains("votes"), "{shown}");

    // What changed since the last reflection, then a reflection.
    let (code, changes) = a[0].api_get("/api/reflection").await;
    assert_eq!(code, 200, "{changes}");
    assert_eq!(
        (changes["since"].as_u64(), changes["new_entries"].as_u64()),
        (Some(0), Some(3))
    );
    let (code, made) = a[0]
        .api_post(
            "/api/reflection",
            &json!({ "content": "Three entries, one vote, one task." }),
        )
        .await;
    assert_eq!(code, 201, "{made}");
    // Bad requests get their 4xx, and nothing else happens.
    let unknown = "ab".repeat(32);
    for (method, path, body, want) in [
        (
            "POST",
            "/api/votes".to_owned(),
            json!({ "entry": "nothex", "vote": 1 }),
            400,
        ),
        (
            "POST",
            "/api/votes".to_owned(),
            json!({ "entry": unknown, "vote": 1 }),
            404,
        ),
        (
            "POST",
            "/api/votes".to_owned(),
            json!({ "entry": id, "vote": "up" }),
            400,
        ),
        ("GET", "/api/votes/zz".to_owned(), Value::Null, 404),
        ("GET", "/api/tasks?state=weird".to_owned(), Value::Null, 400),
        (
            "POST",
            format!("/api/tasks/{unknown}/claim"),
            json!({}),
            404,
        ),
        (
            "POST",
            format!("/api/tasks/{task_id}/claim"),
            json!({ "seconds": 0 }),
            409,
        ),
        (
            "POST",
            "/api/tasks".to_owned(),
            json!({ "kind": "verify", "domain": "votes", "description": "about nothing" }),
            400,
        ),
        (
            "POST",
            "/api/quarantine/report".to_owned(),
            json!({ "operator": a[0].operator }),
            400,
        ),
    ] {
        let (code, answer) = if method == "GET" {
            a[0].api_get(&path).await
        } else {
            a[0].api_post(&path, &body).await
        };
        assert_eq!(code, want, "{method} {path} {body}: {answer}");
        assert!(answer["error"].is_string(), "{method} {path}: {answer}");
    }
    let (code, doc) = a[0].api_get("/api/openapi.json").await;
    assert_eq!(code, 200);
    for path in [
        "/api/votes",
        "/api/votes/{entry}",
        "/api/tasks",
        "/api/tasks/{id}/claim",
        "/api/tasks/{id}/complete",
        "/api/quarantine",
        "/api/quarantine/report",
        "/api/quarantine/lift",
        "/api/awareness",
        "/api/reflection",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "the OpenAPI document lacks {path}"
        );
    }

    let (_, after) = a[0].api_get("/api/reflection").await;
    assert_eq!(after["new_entries"], 0, "{after}");
    assert!(after["since"].as_u64() > Some(0));
}
