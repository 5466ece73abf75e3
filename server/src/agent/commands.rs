//! The CLI commands for the collective (`vote`, `tally`, `tasks`, `claim`,
//! `complete`, `report`, `lift`, `awareness`): each one request to the
//! running peer's local API, its answer printed for people, or as the
//! API's JSON with `--json`.

use std::path::Path;

use serde_json::{Value, json};

use super::{local, say};
use crate::Error;

/// Calls the API and turns anything but `ok` into one readable line.
async fn call(
    dir: &Path,
    method: &str,
    path: &str,
    body: Option<&Value>,
    ok: u16,
) -> Result<Value, Error> {
    let (code, value) = local::call(dir, method, path, body).await?;
    if code != ok {
        return Err(Error::Usage(local::message(&value)));
    }
    Ok(value)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn num(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// A time relative to now, for people ("in 2h 5m", "3m ago").
fn when(t: u64) -> String {
    let now = mesh::agent::now();
    let (d, future) = if t >= now {
        (t - now, true)
    } else {
        (now - t, false)
    };
    let span = match d {
        0..60 => format!("{d}s"),
        60..3600 => format!("{}m", d / 60),
        3600..86_400 => format!("{}h {}m", d / 3600, d % 3600 / 60),
        _ => format!("{}d {}h", d / 86_400, d % 86_400 / 3600),
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

fn vote_value(text: &str) -> Result<i8, Error> {
    match text.trim() {
        "+1" | "1" | "up" | "for" => Ok(1),
        "-1" | "down" | "against" => Ok(-1),
        other => Err(Error::Usage(format!(
            "`{other}` is not a vote: give +1 or -1"
        ))),
    }
}

fn id_arg(text: &str, what: &str) -> Result<String, Error> {
    let t = text.trim();
    if t.len() == 64
        && t.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(t.to_owned())
    } else {
        Err(Error::Usage(format!(
            "`{text}` is not {what} id (64 lowercase hex digits)"
        )))
    }
}

/// `agent vote ENTRY +1|-1 --reason TEXT`.
pub(crate) async fn vote(dir: &Path, entry: &str, vote: &str, reason: &str) -> Result<(), Error> {
    let entry = id_arg(entry, "an entry")?;
    let vote = vote_value(vote)?;
    let body = json!({ "entry": entry, "vote": vote, "reason": reason });
    let v = call(dir, "POST", "/api/votes", Some(&body), 201).await?;
    say(&format!(
        "committed {} on {entry}; this peer reveals it {} (it must be running until {})",
        if vote > 0 { "+1" } else { "-1" },
        when(num(&v, "reveal_from")),
        when(num(&v, "reveal_until")),
    ));
    Ok(())
}

/// `agent tally ENTRY [--json]`.
pub(crate) async fn tally(dir: &Path, entry: &str, as_json: bool) -> Result<(), Error> {
    let entry = id_arg(entry, "an entry")?;
    let v = call(dir, "GET", &format!("/api/votes/{entry}"), None, 200).await?;
    if as_json {
        say(&v.to_string());
        return Ok(());
    }
    let phase = match text(&v, "phase") {
        "commit" => format!("commit (commits close {})", when(num(&v, "commit_closes"))),
        "reveal" => format!("reveal (reveals close {})", when(num(&v, "reveal_closes"))),
        _ => format!("closed {}", when(num(&v, "reveal_closes"))),
    };
    let mine = match v.get("mine") {
        Some(m) if m.is_object() => format!(
            "{}{}",
            if m.get("vote").and_then(Value::as_i64) == Some(1) {
                "+1"
            } else {
                "-1"
            },
            if m.get("revealed").and_then(Value::as_bool) == Some(true) {
                " (revealed)"
            } else {
                " (not revealed yet)"
            }
        ),
        _ => "none".into(),
    };
    say(&format!(
        "entry     {entry}\nphase     {phase}\nvotes     {} for, {} against, {} committed; quorum {}\noutcome   {}\nmine      {mine}",
        num(&v, "up"),
        num(&v, "down"),
        num(&v, "committed"),
        num(&v, "quorum"),
        text(&v, "outcome"),
    ));
    Ok(())
}

/// `agent tasks [--state S] [--json]`.
pub(crate) async fn tasks(dir: &Path, state: Option<&str>, as_json: bool) -> Result<(), Error> {
    let path = match state {
        Some(s) => format!("/api/tasks?state={s}"),
        None => "/api/tasks".into(),
    };
    let v = call(dir, "GET", &path, None, 200).await?;
    if as_json {
        say(&v.to_string());
        return Ok(());
    }
    let tasks = v
        .get("tasks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if tasks.is_empty() {
        say("no tasks");
    }
    for t in tasks {
        let state = t.get("state").cloned().unwrap_or(Value::Null);
        let shown = match text(&state, "state") {
            "claimed" => format!("claimed until {}", when(num(&state, "until"))),
            other => other.to_owned(),
        };
        // Other agents' words: one line, cut short, never interpreted.
        let description: String = text(&t, "description")
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(100)
            .collect();
        say(&format!(
            "{}  {:<9} {:<24} {}: {description}",
            text(&t, "id"),
            text(&t, "kind"),
            shown,
            text(&t, "domain"),
        ));
    }
    Ok(())
}

/// `agent claim TASK [--for DURATION]`.
pub(crate) async fn claim(dir: &Path, task: &str, seconds: Option<u64>) -> Result<(), Error> {
    let task = id_arg(task, "a task")?;
    let body = json!({ "seconds": seconds });
    let v = call(
        dir,
        "POST",
        &format!("/api/tasks/{task}/claim"),
        Some(&body),
        200,
    )
    .await?;
    let until = v
        .get("task")
        .and_then(|t| t.get("state"))
        .map_or(0, |s| num(s, "until"));
    say(&format!("claimed {task} until {}", when(until)));
    Ok(())
}

/// `agent complete TASK --content TEXT [--confidence X]`.
pub(crate) async fn complete(
    dir: &Path,
    task: &str,
    content: &str,
    confidence: f64,
) -> Result<(), Error> {
    let task = id_arg(task, "a task")?;
    let body = json!({ "content": content, "confidence": confidence });
    let v = call(
        dir,
        "POST",
        &format!("/api/tasks/{task}/complete"),
        Some(&body),
        201,
    )
    .await?;
    say(&format!("completed {task} with entry {}", text(&v, "id")));
    Ok(())
}

/// `agent report OPERATOR --reason TEXT` and `agent lift OPERATOR --reason TEXT`.
pub(crate) async fn statement(
    dir: &Path,
    lift: bool,
    operator: &str,
    reason: &str,
) -> Result<(), Error> {
    let operator = id_arg(operator, "an operator")?;
    let body = json!({ "operator": operator, "detail": reason });
    let path = if lift {
        "/api/quarantine/lift"
    } else {
        "/api/quarantine/report"
    };
    call(dir, "POST", path, Some(&body), 201).await?;
    say(&format!(
        "{} {operator}",
        if lift { "lifted" } else { "reported" }
    ));
    Ok(())
}

/// `agent awareness [--json]`.
pub(crate) async fn awareness(dir: &Path, as_json: bool) -> Result<(), Error> {
    let v = call(dir, "GET", "/api/awareness", None, 200).await?;
    if as_json {
        say(&v.to_string());
        return Ok(());
    }
    let votes = v.get("votes").cloned().unwrap_or(Value::Null);
    let tasks = v.get("tasks").cloned().unwrap_or(Value::Null);
    let quarantined = v
        .get("quarantined")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let network_wide = quarantined
        .iter()
        .filter(|q| q.get("network").and_then(Value::as_bool) == Some(true))
        .count();
    let local_only = quarantined
        .iter()
        .filter(|q| {
            q.get("network").and_then(Value::as_bool) != Some(true)
                && q.get("local").is_some_and(|l| !l.is_null())
        })
        .count();
    let domains = v
        .get("domains")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let activity = v
        .get("activity")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let (entries_24h, votes_24h) = activity.iter().fold((0, 0), |(e, n), a| {
        (e + num(a, "entries"), n + num(a, "votes"))
    });
    let mut out = format!(
        "network     {}\npeers       {} connected\noperators   {} enrolled, {} authors\nentries     {} in {} domains; {} records held\nvotes       {} open, {} accepted, {} rejected, {} disputed, {} undecided\ntasks       {} open, {} claimed, {} done\nquarantine  {network_wide} network-wide, {local_only} here only\nlast 24 h   {entries_24h} entries, {votes_24h} vote records",
        text(&v, "network"),
        num(&v, "peers"),
        num(&v, "enrolled"),
        num(&v, "authors"),
        num(&v, "entries"),
        domains.len(),
        num(&v, "records"),
        num(&votes, "open"),
        num(&votes, "accepted"),
        num(&votes, "rejected"),
        num(&votes, "disputed"),
        num(&votes, "undecided"),
        num(&tasks, "open"),
        num(&tasks, "claimed"),
        num(&tasks, "done"),
    );
    if !domains.is_empty() {
        out.push_str("\ndomains");
    }
    for d in domains.iter().take(20) {
        out.push_str(&format!(
            "\n  {:<24} {} entries, confidence {:.2}, {} accepted, {} rejected, {} disputed",
            text(d, "domain")
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>(),
            num(d, "entries"),
            d.get("mean_confidence")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            num(d, "accepted"),
            num(d, "rejected"),
            num(d, "disputed"),
        ));
    }
    say(&out);
    Ok(())
}
