//! The transfer panel: this tab's uploads and downloads with progress,
//! speed, time left, pause, resume and cancel. The dashboard and the public
//! share page both show it.

use leptos::prelude::*;

use super::human_size;
use crate::client::transfer::{Direction, Phase, Transfers};

fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Uploads and downloads of this tab, with progress and controls.
#[component]
pub(crate) fn TransferPanel(transfers: Transfers) -> impl IntoView {
    let total = move || {
        transfers.list.with(|l| {
            let active: Vec<_> = l
                .iter()
                .filter(|t| matches!(t.phase, Phase::Running | Phase::Paused))
                .collect();
            let size: u64 = active.iter().map(|t| t.size).sum();
            let done: u64 = active.iter().map(|t| t.done).sum();
            // A paused transfer moves nothing.
            let speed: f64 = active
                .iter()
                .filter(|t| t.phase == Phase::Running)
                .map(|t| t.speed)
                .sum();
            (active.len(), size, done, speed)
        })
    };
    view! {
        <Show when=move || transfers.list.with(|l| !l.is_empty())>
            <section id="transfers" class="transfers" aria-label="Transfers">
                <div class="transfers-head">
                    {move || {
                        let (n, size, done, speed) = total();
                        let percent = if size == 0 { 100.0 } else { done as f64 / size as f64 * 100.0 };
                        view! {
                            <span id="transfers-total">
                                {if n == 0 {
                                    "All transfers finished".to_owned()
                                } else {
                                    format!("{n} active · {} of {} · {}/s", unbroken(done), unbroken(size), unbroken(speed as u64))
                                }}
                            </span>
                            <progress class="total-bar" max="100" value=format!("{percent:.1}")
                                aria-label="All transfers"></progress>
                        }
                    }}
                    <button id="clear-finished" class="ghost small" type="button"
                        on:click=move |_| transfers.clear_finished()>"Clear finished"</button>
                </div>
                <ul class="transfer-list">
                    <For
                        each=move || transfers.list.get()
                        key=|t| t.job
                        children=move |t| view! { <TransferRow transfers job=t.job direction=t.direction name=t.name/> }
                    />
                </ul>
            </section>
        </Show>
    }
}

/// One transfer. Keyed by job, so progress updates change its text and
/// bar in place and its buttons are never replaced under the pointer.
#[component]
fn TransferRow(
    transfers: Transfers,
    job: u32,
    direction: Direction,
    name: String,
) -> impl IntoView {
    let current = move || {
        transfers
            .list
            .with(|l| l.iter().find(|t| t.job == job).cloned())
    };
    let percent = move || {
        current().map_or(0.0, |t| {
            if t.size == 0 {
                100.0
            } else {
                t.done as f64 / t.size as f64 * 100.0
            }
        })
    };
    let phase = move || current().map_or(Phase::Cancelled, |t| t.phase);
    let status = move || {
        let Some(t) = current() else {
            return String::new();
        };
        let percent = percent();
        match &t.phase {
            Phase::Running if t.speed > 0.0 => format!(
                "{:.0}% · {}/s · {} left",
                percent,
                unbroken(t.speed as u64),
                t.eta().map(duration).unwrap_or_default()
            ),
            Phase::Running => format!("{percent:.0}%"),
            Phase::Paused => format!("Paused at {percent:.0}%"),
            Phase::Done => format!(
                "{} · {}/s",
                if t.direction == Direction::Upload {
                    "Uploaded"
                } else {
                    "Downloaded"
                },
                unbroken(t.speed as u64)
            ),
            Phase::Failed(m) => m.clone(),
            Phase::Cancelled => "Cancelled".into(),
        }
    };
    let state = move || match phase() {
        Phase::Running => "running",
        Phase::Paused => "paused",
        Phase::Done => "done",
        Phase::Failed(_) => "failed",
        Phase::Cancelled => "cancelled",
    };
    let arrow = if direction == Direction::Upload {
        "↑"
    } else {
        "↓"
    };
    let label = format!("Progress of {name}");
    let (pause, resume, cancel) = (
        format!("Pause {name}"),
        format!("Resume {name}"),
        format!("Cancel {name}"),
    );
    view! {
        <li class="transfer" data-job=job data-state=state
            data-direction=if direction == Direction::Upload { "upload" } else { "download" }>
            <span class="transfer-name">{arrow}" "{name}</span>
            <progress max="100" value=move || format!("{:.1}", percent()) aria-label=label></progress>
            <span class="transfer-status muted" role=move || if matches!(phase(), Phase::Failed(_)) { "alert" } else { "status" }>{status}</span>
            <span class="transfer-actions">
                <Show when=move || phase() == Phase::Running>
                    <button class="ghost small pause" type="button" aria-label=pause.clone() on:click=move |_| transfers.control(job, "pause")>"Pause"</button>
                </Show>
                <Show when=move || phase() == Phase::Paused>
                    <button class="ghost small resume" type="button" aria-label=resume.clone() on:click=move |_| transfers.control(job, "resume")>"Resume"</button>
                </Show>
                <Show when=move || matches!(phase(), Phase::Running | Phase::Paused)>
                    <button class="ghost small cancel" type="button" aria-label=cancel.clone() on:click=move |_| transfers.control(job, "cancel")>"Cancel"</button>
                </Show>
            </span>
        </li>
    }
}

/// A size whose number and unit stay on one line: on a phone the summary
/// wrapped between "0" and "B/s".
fn unbroken(bytes: u64) -> String {
    human_size(bytes).replace(' ', "\u{a0}")
}
