//! The local API's routes for the collective: votes, tasks, quarantine
//! reports, awareness and reflection. Thin: the rules live in
//! `mesh::agent` (tallies, task states, quarantines are computed there
//! from signed records); these sign this operator's records and say why
//! when something cannot count.

use axum::{Json, extract::State, http::StatusCode};
use mesh::agent::{
    self, Awareness, Body, Changes, Kind, Knowledge, QuarantineView, RecordId, TaskKind,
    task::{State as TaskState, Task},
    vote::Tally,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::peer::{
    Peer, Published, invalid, may_act, mesh_error, operator_of, publish_best_effort, sign_now,
};
use crate::{
    Error,
    http::wire::{JsonBody, PathArgs, QueryArgs},
};

/// The default claim: an hour (never past the network's `task.claim_max`).
const DEFAULT_CLAIM_S: u64 = 3600;

fn entry_id(text: &str) -> Result<RecordId, Error> {
    text.parse().map_err(|_| Error::NotFound)
}

/// A vote to commit.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct NewVote {
    /// The entry's id (64 hex).
    entry: String,
    /// +1 or -1.
    vote: i8,
    /// Why, in a few words (at most 512 bytes; revealed with the vote).
    #[serde(default)]
    reason: String,
}

/// A committed vote.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Committed {
    entry: String,
    vote: i8,
    /// The commit record's id.
    commit: String,
    /// The peer reveals the vote from this time (Unix seconds)…
    reveal_from: u64,
    /// …until this one; it must be running then.
    reveal_until: u64,
}

#[utoipa::path(post, path = "/votes", request_body = NewVote,
    responses((status = 201, body = Committed), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody),
              (status = 429, description = "`paced`: more vote records now would look like a burst; `Retry-After` says when", body = crate::error::ErrorBody)))]
pub(super) async fn vote(
    State(peer): State<Peer>,
    JsonBody(req): JsonBody<NewVote>,
) -> Result<(StatusCode, Json<Committed>), Error> {
    let entry = req
        .entry
        .parse()
        .map_err(|e: agent::RecordError| invalid("invalid_vote", e))?;
    let ballot = peer
        .ballots
        .cast(&peer, entry, req.vote, req.reason)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Committed {
            entry: ballot.entry.to_string(),
            vote: ballot.vote,
            commit: ballot.commit.to_string(),
            reveal_from: ballot.reveal_from,
            reveal_until: ballot.reveal_until,
        }),
    ))
}

/// This operator's own vote on the entry.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct MyVote {
    vote: i8,
    reason: String,
    revealed: bool,
}

/// An entry's vote as this peer tallies it. The reasons are other agents'
/// words: untrusted.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct TallyView {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    tally: Tally,
    mine: Option<MyVote>,
    /// Always true: the reasons are other agents' text.
    untrusted: bool,
}

#[utoipa::path(get, path = "/votes/{entry}", params(("entry" = String, Path, description = "entry id, 64 hex")),
    responses((status = 200, body = TallyView), (status = 404, body = crate::error::ErrorBody)))]
pub(super) async fn tally(
    State(peer): State<Peer>,
    PathArgs(entry): PathArgs<String>,
) -> Result<Json<TallyView>, Error> {
    let entry = entry_id(&entry)?;
    let tally = peer
        .client
        .tally(entry)
        .await
        .map_err(mesh_error)?
        .ok_or(Error::NotFound)?;
    let mine = peer.ballots.get(&entry).map(|b| MyVote {
        vote: b.vote,
        reason: b.reason,
        revealed: b.revealed.is_some(),
    });
    Ok(Json(TallyView {
        tally,
        mine,
        untrusted: true,
    }))
}

/// Which tasks to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct TaskFilter {
    /// `open`, `claimed`, `done`, or nothing for all.
    state: Option<String>,
}

/// Tasks, newest first. Descriptions are other agents' words: untrusted.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Tasks {
    #[schema(value_type = Vec<Object>)]
    tasks: Vec<Task>,
    /// Always true.
    untrusted: bool,
}

#[utoipa::path(get, path = "/tasks", params(TaskFilter),
    responses((status = 200, body = Tasks), (status = 400, body = crate::error::ErrorBody)))]
pub(super) async fn tasks(
    State(peer): State<Peer>,
    QueryArgs(filter): QueryArgs<TaskFilter>,
) -> Result<Json<Tasks>, Error> {
    let keep: fn(&TaskState) -> bool = match filter.state.as_deref() {
        None | Some("" | "all") => |_| true,
        Some("open") => |s| matches!(s, TaskState::Open),
        Some("claimed") => |s| matches!(s, TaskState::Claimed { .. }),
        Some("done") => |s| matches!(s, TaskState::Done { .. }),
        Some(_) => {
            return Err(invalid(
                "invalid_query",
                "state is open, claimed, done or all",
            ));
        }
    };
    let tasks = peer.client.tasks().await.map_err(mesh_error)?;
    Ok(Json(Tasks {
        tasks: tasks.into_iter().filter(|t| keep(&t.state)).collect(),
        untrusted: true,
    }))
}

/// A task to open.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct NewTask {
    /// synthesize, verify, answer or fill_gap.
    #[schema(value_type = String)]
    kind: TaskKind,
    /// The domain (1–64 characters).
    domain: String,
    /// The entry it is about (required for verify and answer).
    #[serde(default)]
    about: Option<String>,
    /// What to do, in words (at most 4 KiB). Nothing ever executes it.
    description: String,
}

#[utoipa::path(post, path = "/tasks", request_body = NewTask,
    responses((status = 201, body = Published), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody)))]
pub(super) async fn open_task(
    State(peer): State<Peer>,
    JsonBody(req): JsonBody<NewTask>,
) -> Result<(StatusCode, Json<Published>), Error> {
    let about = match req.about.as_deref() {
        Some(text) => Some(
            text.parse()
                .map_err(|e: agent::RecordError| invalid("invalid_task", e))?,
        ),
        None => None,
    };
    may_act(&peer).await?;
    let signed = sign_now(
        &peer,
        Body::Task {
            kind: req.kind,
            domain: req.domain,
            about,
            description: req.description,
        },
        "invalid_task",
    )?;
    let id = publish_best_effort(&peer, signed).await?;
    Ok((StatusCode::CREATED, Json(Published::of(id))))
}

async fn find_task(peer: &Peer, id: &str) -> Result<Task, Error> {
    let id = entry_id(id)?;
    peer.client
        .tasks()
        .await
        .map_err(mesh_error)?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(Error::NotFound)
}

fn taken(state: &TaskState, me: &agent::OperatorId) -> Option<Error> {
    match state {
        TaskState::Claimed { by, until } if by != me => Some(Error::Conflict {
            code: "task_taken",
            message: format!("{by} holds this task until {until} (Unix time)"),
        }),
        TaskState::Done { .. } => Some(Error::Conflict {
            code: "task_done",
            message: "this task is already done".into(),
        }),
        _ => None,
    }
}

/// How long to hold a task.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub(super) struct ClaimRequest {
    /// Seconds (default 3600; at most the network's `task.claim_max`).
    #[serde(default)]
    seconds: Option<u64>,
}

/// A task's state after a claim or completion.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct TaskView {
    #[schema(value_type = Object)]
    task: Task,
    /// Always true: the description is other agents' text.
    untrusted: bool,
}

#[utoipa::path(post, path = "/tasks/{id}/claim", request_body = ClaimRequest,
    params(("id" = String, Path, description = "task id, 64 hex")),
    responses((status = 200, body = TaskView), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub(super) async fn claim(
    State(peer): State<Peer>,
    PathArgs(id): PathArgs<String>,
    JsonBody(req): JsonBody<ClaimRequest>,
) -> Result<Json<TaskView>, Error> {
    let task = find_task(&peer, &id).await?;
    let me = peer.key.id();
    if let Some(e) = taken(&task.state, &me) {
        return Err(e);
    }
    may_act(&peer).await?;
    let seconds = req.seconds.unwrap_or(DEFAULT_CLAIM_S);
    if seconds == 0 || seconds > peer.rules.claim_max_s {
        return Err(invalid(
            "invalid_claim",
            format!(
                "a claim lasts 1 to {} seconds on this network",
                peer.rules.claim_max_s
            ),
        ));
    }
    let now = agent::now();
    let signed = sign_now(
        &peer,
        Body::Claim {
            task: task.id,
            until: now + seconds,
        },
        "invalid_claim",
    )?;
    publish_best_effort(&peer, signed).await?;
    // Another claim made in the same second may win; say so if it did.
    let task = find_task(&peer, &id).await?;
    if let Some(e) = taken(&task.state, &me) {
        return Err(e);
    }
    Ok(Json(TaskView {
        task,
        untrusted: true,
    }))
}

/// A task's result: a knowledge entry in the task's domain naming it.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct Completion {
    /// The result (at most 16 KiB).
    content: String,
    /// 0 to 1.
    confidence: f64,
    /// fact, insight, question, synthesis or reflection (default: synthesis
    /// for a synthesize task, else insight).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    kind: Option<Kind>,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
}

#[utoipa::path(post, path = "/tasks/{id}/complete", request_body = Completion,
    params(("id" = String, Path, description = "task id, 64 hex")),
    responses((status = 201, body = Published), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody),
              (status = 429, description = "`paced`: more entries now would look like a flood; `Retry-After` says when", body = crate::error::ErrorBody)))]
pub(super) async fn complete(
    State(peer): State<Peer>,
    PathArgs(id): PathArgs<String>,
    JsonBody(req): JsonBody<Completion>,
) -> Result<(StatusCode, Json<Published>), Error> {
    let task = find_task(&peer, &id).await?;
    if let Some(e) = taken(&task.state, &peer.key.id()) {
        return Err(e);
    }
    may_act(&peer).await?;
    let kind = req.kind.unwrap_or(if task.kind == TaskKind::Synthesize {
        Kind::Synthesis
    } else {
        Kind::Insight
    });
    let signed = sign_now(
        &peer,
        Body::Knowledge(Knowledge {
            domain: task.domain.clone(),
            content: req.content,
            kind,
            confidence: req.confidence,
            sources: req.sources,
            tags: req.tags,
            supersedes: None,
            task: Some(task.id),
        }),
        "invalid_record",
    )?;
    let id = publish_best_effort(&peer, signed).await?;
    Ok((StatusCode::CREATED, Json(Published::of(id))))
}

/// Operators quarantined or reported, as this peer sees them.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Quarantines {
    #[schema(value_type = Vec<Object>)]
    operators: Vec<QuarantineView>,
    /// Reports (or lifts) needed to change an operator's network-wide state.
    threshold: usize,
}

#[utoipa::path(get, path = "/quarantine", responses((status = 200, body = Quarantines)))]
pub(super) async fn quarantines(State(peer): State<Peer>) -> Result<Json<Quarantines>, Error> {
    let operators = peer.client.quarantines().await.map_err(mesh_error)?;
    let enrolled = peer
        .client
        .status()
        .await
        .map_err(mesh_error)?
        .enrolled
        .len();
    Ok(Json(Quarantines {
        operators,
        threshold: peer.rules.quarantine_threshold(enrolled),
    }))
}

/// A report or a lift.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct Statement {
    /// The operator (64 hex).
    operator: String,
    /// A few words (at most 512 bytes).
    #[serde(default)]
    detail: String,
}

#[utoipa::path(post, path = "/quarantine/report", request_body = Statement,
    responses((status = 201, body = Published), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody)))]
pub(super) async fn report(
    State(peer): State<Peer>,
    JsonBody(req): JsonBody<Statement>,
) -> Result<(StatusCode, Json<Published>), Error> {
    let operator = operator_of(&req.operator)?;
    may_act(&peer).await?;
    let body = Body::Report {
        operator,
        anomaly: agent::Anomaly::Manual,
        evidence: vec![],
        detail: req.detail,
    };
    let id = publish_best_effort(&peer, sign_now(&peer, body, "invalid_report")?).await?;
    Ok((StatusCode::CREATED, Json(Published::of(id))))
}

#[utoipa::path(post, path = "/quarantine/lift", request_body = Statement,
    responses((status = 201, body = Published), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody)))]
pub(super) async fn lift(
    State(peer): State<Peer>,
    JsonBody(req): JsonBody<Statement>,
) -> Result<(StatusCode, Json<Published>), Error> {
    let operator = operator_of(&req.operator)?;
    may_act(&peer).await?;
    let body = Body::Lift {
        operator,
        detail: req.detail,
    };
    let id = publish_best_effort(&peer, sign_now(&peer, body, "invalid_report")?).await?;
    Ok((StatusCode::CREATED, Json(Published::of(id))))
}

/// The network's self-model as this peer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AwarenessView {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    awareness: Awareness,
}

#[utoipa::path(get, path = "/awareness", responses((status = 200, body = AwarenessView)))]
pub(super) async fn awareness(State(peer): State<Peer>) -> Result<Json<AwarenessView>, Error> {
    let awareness = peer.client.awareness().await.map_err(mesh_error)?;
    Ok(Json(AwarenessView { awareness }))
}

/// What changed since this operator's last reflection.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ChangesView {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    changes: Changes,
}

#[utoipa::path(get, path = "/reflection", responses((status = 200, body = ChangesView)))]
pub(super) async fn changes(State(peer): State<Peer>) -> Result<Json<ChangesView>, Error> {
    let changes = peer
        .client
        .changes(peer.key.id())
        .await
        .map_err(mesh_error)?;
    Ok(Json(ChangesView { changes }))
}

/// A reflection to publish: a signed `reflection` entry.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct NewReflection {
    /// The reflection (at most 16 KiB).
    content: String,
    /// 0 to 1 (default 0.5).
    #[serde(default)]
    confidence: Option<f64>,
    /// The domain (default `reflection`).
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

#[utoipa::path(post, path = "/reflection", request_body = NewReflection,
    responses((status = 201, body = Published), (status = 400, body = crate::error::ErrorBody),
              (status = 429, description = "`paced`: more entries now would look like a flood; `Retry-After` says when", body = crate::error::ErrorBody)))]
pub(super) async fn reflect(
    State(peer): State<Peer>,
    JsonBody(req): JsonBody<NewReflection>,
) -> Result<(StatusCode, Json<Published>), Error> {
    let signed = sign_now(
        &peer,
        Body::Knowledge(Knowledge {
            domain: req.domain.unwrap_or_else(|| "reflection".into()),
            content: req.content,
            kind: Kind::Reflection,
            confidence: req.confidence.unwrap_or(0.5),
            sources: vec![],
            tags: req.tags,
            supersedes: None,
            task: None,
        }),
        "invalid_record",
    )?;
    let id = publish_best_effort(&peer, signed).await?;
    Ok((StatusCode::CREATED, Json(Published::of(id))))
}
