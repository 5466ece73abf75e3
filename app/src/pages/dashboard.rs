//! The signed-in home page: the user's files, names decrypted here.
//!
//! States: checking the session; signed out (links to log in or register);
//! signed in but locked (the master key is only in memory, so after a
//! reload the password unlocks it again); unlocked: the upload zone, the
//! transfers with their progress, uploads interrupted earlier (resumable by
//! picking the file again), and the file list with sort, filter, rename,
//! delete and multi-select. Encryption and decryption run in the file worker
//! (`client::transfer`).

use leptos::{prelude::*, task::spawn_local};
use serde::Deserialize;

use super::{
    auth::{KeyringSignal, log_in},
    links::{LinksPanel, ShareDialog, Shareable},
};
use crate::{
    client::{
        api,
        keys::{FileMeta, Keyring},
        share::LinkView,
        transfer::{self, Direction, FileRef, PendingUpload, Phase, Transfers},
    },
    components::{Cipher, CipherPicker, Header},
};

#[derive(Debug, Clone, Deserialize)]
struct Account {
    username: String,
    #[serde(default)]
    is_admin: bool,
    used: u64,
    quota: u64,
}

#[derive(Debug, Clone, Deserialize)]
struct FileEntry {
    id: String,
    size: u64,
    metadata: String,
    wrapped_key: String,
    created_at: i64,
}

#[derive(Debug, Clone, Deserialize)]
struct FileList {
    files: Vec<FileEntry>,
    used: u64,
    quota: u64,
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Checking,
    SignedOut,
    SignedIn {
        username: String,
        is_admin: bool,
        used: u64,
        quota: u64,
    },
    Failed(String),
}

/// A listed file, its metadata decrypted (`None`: unreadable).
#[derive(Debug, Clone, PartialEq)]
struct Row {
    id: String,
    meta: Option<FileMeta>,
    /// Ciphertext bytes.
    size: u64,
    created_at: i64,
    wrapped_key: String,
}

impl Row {
    fn name(&self) -> String {
        self.meta
            .as_ref()
            .map_or_else(|| "(cannot be decrypted)".into(), |m| m.name.clone())
    }

    /// Plaintext bytes: from the metadata, else the ciphertext size.
    fn plain_size(&self) -> u64 {
        self.meta.as_ref().and_then(|m| m.size).unwrap_or(self.size)
    }

    fn kind(&self) -> String {
        self.meta
            .as_ref()
            .map(|m| m.mime.clone())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "—".into())
    }

    fn shareable(&self) -> Shareable {
        Shareable {
            id: self.id.clone(),
            name: self.name(),
            wrapped_key: self.wrapped_key.clone(),
        }
    }

    fn file_ref(&self) -> FileRef {
        FileRef {
            id: self.id.clone(),
            name: self.name(),
            size: self.size,
            plain_size: self.meta.as_ref().and_then(|m| m.size),
            content_url: format!("/api/files/{}/content", self.id),
            bearer: None,
        }
    }
}

/// An interrupted upload, its name decrypted.
#[derive(Debug, Clone)]
struct Interrupted {
    upload: PendingUpload,
    name: String,
}

/// How the list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Name,
    Size,
    Added,
}

/// Bytes in a unit people read.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The file dashboard.
#[component]
pub(crate) fn Dashboard() -> impl IntoView {
    let keyring = expect_context::<KeyringSignal>();
    let cipher = RwSignal::new(Cipher::default());
    let state = RwSignal::new(State::Checking);
    let rows = RwSignal::new(None::<Vec<Row>>);
    let interrupted = RwSignal::new(Vec::<Interrupted>::new());
    let usage = RwSignal::new(None::<(u64, u64)>);
    let transfers = Transfers::new();
    let reload = RwSignal::new(0u32);
    let sharing = RwSignal::new(None::<Vec<Shareable>>);
    let links_changed = RwSignal::new(0u32);
    let links = RwSignal::new(Vec::<LinkView>::new());
    let shareable = Signal::derive(move || {
        rows.get()
            .unwrap_or_default()
            .iter()
            .filter(|r| r.meta.is_some())
            .map(Row::shareable)
            .collect::<Vec<_>>()
    });

    // Effects only run in the browser, so this attribute appears exactly when
    // the WASM has taken over the page. Tests wait on it; it costs nothing.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| {
        hydrated.set(true);
        crate::client::mark_hydrated();
        transfer::register_service_worker();
        spawn_local(async move {
            match api::get::<Account>("/api/account").await {
                Ok(a) => {
                    usage.set(Some((a.used, a.quota)));
                    state.set(State::SignedIn {
                        username: a.username,
                        is_admin: a.is_admin,
                        used: a.used,
                        quota: a.quota,
                    });
                }
                Err(e) if e.status == 401 => {
                    keyring.set(None);
                    state.set(State::SignedOut);
                }
                Err(e) => state.set(State::Failed(e.message)),
            }
        });
    });

    // Once signed in and unlocked, list the files and interrupted uploads
    // and open their metadata; again whenever a transfer finishes or the
    // list changes.
    Effect::new(move |_| {
        let unlocked = keyring.get();
        let signed_in = matches!(state.get(), State::SignedIn { .. });
        transfers.finished.track();
        reload.track();
        if let (Some(k), true) = (unlocked, signed_in) {
            spawn_local(async move {
                match api::get::<FileList>("/api/files").await {
                    Ok(list) => {
                        usage.set(Some((list.used, list.quota)));
                        rows.set(Some(open_rows(&k, list.files)));
                    }
                    Err(e) => state.set(State::Failed(e.message)),
                }
                if let Ok(pending) = api::get::<Vec<PendingUpload>>("/api/uploads").await {
                    let running: Vec<String> = transfers.list.with_untracked(|l| {
                        l.iter()
                            .filter(|t| matches!(t.phase, Phase::Running | Phase::Paused))
                            .filter_map(|t| t.upload.clone())
                            .collect()
                    });
                    interrupted.set(
                        pending
                            .into_iter()
                            .filter(|p| !running.contains(&p.id))
                            .map(|upload| Interrupted {
                                name: k
                                    .file_name(&upload.wrapped_key, &upload.metadata)
                                    .unwrap_or_else(|| "(cannot be decrypted)".into()),
                                upload,
                            })
                            .collect(),
                    );
                }
            });
        }
    });

    let logout = move |_| {
        spawn_local(async move {
            let _ =
                api::post::<_, serde_json::Value>("/api/auth/logout", &serde_json::json!({})).await;
            transfers.shutdown();
            keyring.set(None);
            rows.set(None);
            state.set(State::SignedOut);
        });
    };

    view! {
        <div class="app" data-hydrated=move || hydrated.get().then_some("true")>
            <Header>
                <CipherPicker cipher/>
                <Show when=move || matches!(state.get(), State::SignedIn { is_admin: true, .. })>
                    <a id="go-admin" class="ghost button small" href="/admin">"Invites"</a>
                </Show>
                <Show when=move || matches!(state.get(), State::SignedIn { .. })>
                    <button id="logout" class="ghost small" type="button" on:click=logout>"Log out"</button>
                </Show>
            </Header>
            <main class="files" aria-labelledby="files-title">
                {move || match state.get() {
                    State::Checking => view! { <p class="muted">"Loading…"</p> }.into_any(),
                    State::Failed(message) => view! {
                        <p id="form-error" class="form-error" role="alert">{message}</p>
                    }.into_any(),
                    State::SignedOut => view! {
                        <section id="signed-out" class="empty-state">
                            <h1 id="files-title">"Nocturne"</h1>
                            <p class="empty-hint">
                                "Files are encrypted in this browser before they leave it. "
                                "The server only ever stores ciphertext."
                            </p>
                            <p>
                                <a id="go-login" class="primary button" href="/login">"Log in"</a>
                                " "
                                <a id="go-register" class="button" href="/register">"Create an account"</a>
                            </p>
                        </section>
                    }.into_any(),
                    State::SignedIn { username, .. } => {
                        let locked = move || keyring.with(|k| k.as_ref().is_none_or(|k| k.username != username));
                        view! {
                            <div class="files-head">
                                <h1 id="files-title">"Files"</h1>
                                <Usage usage/>
                            </div>
                            <Show when=locked fallback=move || view! {
                                <Uploader cipher transfers/>
                                <TransferPanel transfers/>
                                <InterruptedList interrupted transfers reload/>
                                <FileTable rows transfers reload sharing links/>
                                <ShareDialog sharing links_changed/>
                                <LinksPanel files=shareable links links_changed/>
                            }>
                                <Unlock state/>
                            </Show>
                        }.into_any()
                    }
                }}
            </main>
        </div>
    }
}

fn open_rows(keyring: &Keyring, files: Vec<FileEntry>) -> Vec<Row> {
    files
        .into_iter()
        .map(|f| Row {
            meta: keyring
                .open_file(&f.wrapped_key, &f.metadata)
                .map(|(_, m)| m),
            id: f.id,
            size: f.size,
            created_at: f.created_at,
            wrapped_key: f.wrapped_key,
        })
        .collect()
}

/// Storage used against the quota.
#[component]
fn Usage(usage: RwSignal<Option<(u64, u64)>>) -> impl IntoView {
    move || {
        usage.get().map(|(used, quota)| {
            let percent = if quota == 0 {
                100.0
            } else {
                (used as f64 / quota as f64 * 100.0).min(100.0)
            };
            view! {
                <div class="usage">
                    <p id="usage" class="muted">
                        {format!("{} of {} used", human_size(used), human_size(quota))}
                    </p>
                    <progress class="usage-bar" max="100" value=format!("{percent:.1}")
                        aria-label="Storage used"></progress>
                </div>
            }
        })
    }
}

pub(crate) fn unlocked_keyring() -> Option<Keyring> {
    expect_context::<KeyringSignal>().get_untracked()
}

fn cipher_id(cipher: Cipher) -> noctis::format::CipherId {
    match cipher {
        Cipher::Aes256Gcm => noctis::format::CipherId::Aes256Gcm,
        Cipher::Noctis256 => noctis::format::CipherId::Noctis256,
    }
}

fn start_uploads(files: Option<web_sys::FileList>, cipher: Cipher, transfers: Transfers) {
    let (Some(files), Some(keyring)) = (files, unlocked_keyring()) else {
        return;
    };
    let picked: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
    // One at a time, and only while few of this tab's uploads are open: the
    // server allows 64 open uploads per account and reserves quota for each
    // from its creation, so a drop of hundreds of files must not create
    // them all at once.
    let signal = expect_context::<KeyringSignal>();
    spawn_local(async move {
        for file in picked {
            // Stop at logout, or when the dashboard goes away.
            let unlocked = signal.try_with_untracked(Option::is_some).unwrap_or(false);
            if !unlocked || !transfers.wait_for_room().await {
                break;
            }
            transfers.upload(&keyring, file, cipher_id(cipher)).await;
        }
    });
}

/// The drop zone and file picker.
#[component]
fn Uploader(cipher: RwSignal<Cipher>, transfers: Transfers) -> impl IntoView {
    let over = RwSignal::new(false);
    let on_pick = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        start_uploads(input.files(), cipher.get_untracked(), transfers);
        // The same file can be picked again later.
        input.set_value("");
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        over.set(false);
        start_uploads(
            ev.data_transfer().and_then(|d| d.files()),
            cipher.get_untracked(),
            transfers,
        );
    };
    view! {
        <section
            id="dropzone"
            class="dropzone"
            class:over=move || over.get()
            on:dragover=move |ev: leptos::ev::DragEvent| {
                ev.prevent_default();
                over.set(true);
            }
            on:dragleave=move |_| over.set(false)
            on:drop=on_drop
        >
            <p class="dropzone-title">"Drop files here to encrypt and upload them"</p>
            <label class="button primary" for="file-input">"Choose files"</label>
            <input id="file-input" class="visually-hidden" type="file" multiple on:change=on_pick/>
            <p class="muted small">
                {move || format!("Encrypted in this browser with {} before upload.", match cipher.get() {
                    Cipher::Aes256Gcm => "AES-256-GCM",
                    Cipher::Noctis256 => "Noctis-256 (experimental, not audited)",
                })}
            </p>
        </section>
    }
}

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
                                    format!("{n} active · {} of {} · {}/s", human_size(done), human_size(size), human_size(speed as u64))
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
                human_size(t.speed as u64),
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
                human_size(t.speed as u64)
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

/// Uploads the server holds unfinished: resume by picking the file again,
/// or discard.
#[component]
fn InterruptedList(
    interrupted: RwSignal<Vec<Interrupted>>,
    transfers: Transfers,
    reload: RwSignal<u32>,
) -> impl IntoView {
    view! {
        <Show when=move || interrupted.with(|l| !l.is_empty())>
            <section id="interrupted" class="interrupted" aria-label="Interrupted uploads">
                <h2>"Interrupted uploads"</h2>
                <p class="muted small">"Pick the same file again to resume; what the server already has is checked, not re-sent."</p>
                <ul>
                    {move || interrupted.get().into_iter().map(|item| {
                        let id = item.upload.id.clone();
                        let input_id = format!("resume-{id}");
                        let held = item.upload.received.len() as u64;
                        let parts = item.upload.parts;
                        let pending = item.upload.clone();
                        let on_pick = move |ev: leptos::ev::Event| {
                            let input: web_sys::HtmlInputElement = event_target(&ev);
                            let file = input.files().and_then(|f| f.get(0));
                            if let (Some(file), Some(k)) = (file, unlocked_keyring()) {
                                transfers.resume(&k, &pending, file);
                                let gone = pending.id.clone();
                                interrupted.update(|l| l.retain(|i| i.upload.id != gone));
                            }
                        };
                        let discard_id = id.clone();
                        let discard = move |_| {
                            let id = discard_id.clone();
                            spawn_local(async move {
                                let _ = api::delete(&format!("/api/uploads/{id}")).await;
                                reload.update(|n| *n += 1);
                            });
                        };
                        view! {
                            <li class="interrupted-row" data-upload=id.clone()>
                                <span class="file-name">{item.name.clone()}</span>
                                <span class="muted">{format!("{held} of {parts} parts on the server")}</span>
                                <label class="button small" for=input_id.clone()>"Resume…"</label>
                                <input id=input_id class="visually-hidden resume-input" type="file" on:change=on_pick/>
                                <button class="ghost small discard" type="button" on:click=discard>"Discard"</button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
        </Show>
    }
}

fn date(seconds: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(seconds as f64 * 1000.0));
    String::from(d.to_locale_date_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}

/// Starts a download of `row` into the best sink this browser has. Called
/// straight from the click, because the save dialog needs the gesture.
fn download(row: &Row, transfers: Transfers, error: RwSignal<Option<String>>) {
    let Some(keyring) = unlocked_keyring() else {
        return;
    };
    let file = row.file_ref();
    let Some(key) = keyring.data_key(&row.wrapped_key) else {
        error.set(Some("This file cannot be decrypted with your keys.".into()));
        return;
    };
    let name = file.name.clone();
    // An empty message: the save dialog was cancelled.
    transfer::save(transfers, &name, async move { Ok((key, file)) }, move |e| {
        error.set((!e.is_empty()).then_some(e));
    });
}

/// The list, or its empty state.
#[component]
fn FileTable(
    rows: RwSignal<Option<Vec<Row>>>,
    transfers: Transfers,
    reload: RwSignal<u32>,
    sharing: RwSignal<Option<Vec<Shareable>>>,
    links: RwSignal<Vec<LinkView>>,
) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let sort = RwSignal::new((SortKey::Added, false));
    let selected = RwSignal::new(std::collections::BTreeSet::<String>::new());
    let editing = RwSignal::new(None::<String>);
    let new_name = RwSignal::new(String::new());
    let confirm = RwSignal::new(None::<Vec<String>>);
    let error = RwSignal::new(None::<String>);

    let visible = move || {
        let needle = filter.get().to_lowercase();
        let (key, ascending) = sort.get();
        let mut list: Vec<Row> = rows
            .get()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| needle.is_empty() || r.name().to_lowercase().contains(&needle))
            .collect();
        list.sort_by(|a, b| {
            let order = match key {
                SortKey::Name => a.name().to_lowercase().cmp(&b.name().to_lowercase()),
                SortKey::Size => a.plain_size().cmp(&b.plain_size()),
                SortKey::Added => a.created_at.cmp(&b.created_at),
            };
            if ascending { order } else { order.reverse() }
        });
        list
    };
    let header = move |key: SortKey, label: &'static str, class: &'static str| {
        let aria = move || match sort.get() {
            (k, true) if k == key => "ascending",
            (k, false) if k == key => "descending",
            _ => "none",
        };
        view! {
            <th scope="col" class=class aria-sort=aria>
                <button type="button" class="sort" on:click=move |_| sort.update(|(k, asc)| {
                    if *k == key { *asc = !*asc } else { *k = key; *asc = key == SortKey::Name }
                })>{label}</button>
            </th>
        }
        .into_any()
    };
    let rename = move |id: String| {
        let Some(keyring) = unlocked_keyring() else {
            return;
        };
        let name = new_name.get_untracked().trim().to_owned();
        let Some(row) = rows.with_untracked(|r| {
            r.as_ref()
                .and_then(|r| r.iter().find(|x| x.id == id).cloned())
        }) else {
            return;
        };
        editing.set(None);
        if name.is_empty() || row.meta.as_ref().is_none_or(|m| m.name == name) {
            return;
        }
        let Some(mut meta) = row.meta.clone() else {
            return;
        };
        meta.name = name;
        let Some(sealed) = keyring.reseal(&row.wrapped_key, &meta) else {
            return;
        };
        spawn_local(async move {
            match api::patch::<_, serde_json::Value>(
                &format!("/api/files/{id}"),
                &serde_json::json!({ "metadata": sealed }),
            )
            .await
            {
                Ok(_) => reload.update(|n| *n += 1),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    let delete = move |ids: Vec<String>| {
        confirm.set(None);
        spawn_local(async move {
            for id in &ids {
                if let Err(e) = api::delete(&format!("/api/files/{id}")).await {
                    error.set(Some(e.message));
                }
            }
            selected.update(|s| {
                ids.iter().for_each(|id| {
                    s.remove(id);
                })
            });
            reload.update(|n| *n += 1);
        });
    };

    move || {
        match rows.get() {
        None => view! { <p class="muted">"Opening your files…"</p> }.into_any(),
        Some(list) if list.is_empty() => view! {
            <section id="empty" class="empty-state" aria-live="polite">
                <div class="empty-icon" aria-hidden="true"></div>
                <p class="empty-title">"No files yet"</p>
                <p class="empty-hint">
                    "Files are encrypted in this browser before they leave it. "
                    "The server only ever stores ciphertext."
                </p>
            </section>
        }
        .into_any(),
        Some(_) => view! {
            <section class="file-section">
                <div class="toolbar">
                    <input id="filter" class="filter" type="search" placeholder="Filter by name"
                        aria-label="Filter by name"
                        prop:value=move || filter.get()
                        on:input:target=move |ev| filter.set(ev.target().value())
                        on:change:target=move |ev| filter.set(ev.target().value())/>
                    <Show when=move || selected.with(|s| !s.is_empty())>
                        <button id="share-selected" class="ghost small" type="button"
                            on:click=move |_| {
                                let ids = selected.get_untracked();
                                let files: Vec<Shareable> = rows.with_untracked(|r| r.iter().flatten().filter(|r| ids.contains(&r.id) && r.meta.is_some()).map(Row::shareable).collect());
                                if !files.is_empty() { sharing.set(Some(files)); }
                            }>
                            {move || format!("Share {} selected", selected.with(|s| s.len()))}
                        </button>
                        <button id="delete-selected" class="danger small" type="button"
                            on:click=move |_| confirm.set(Some(selected.get_untracked().into_iter().collect()))>
                            {move || format!("Delete {} selected", selected.with(|s| s.len()))}
                        </button>
                    </Show>
                </div>
                <Show when=move || error.with(Option::is_some)>
                    <p id="list-error" class="form-error" role="alert">{move || error.get()}</p>
                </Show>
                {move || confirm.get().map(|ids| {
                    let n = ids.len();
                    let go = ids.clone();
                    view! {
                        <div id="confirm-delete" class="confirm" role="alertdialog" aria-labelledby="confirm-text">
                            <span id="confirm-text">
                                {if n == 1 { "Delete this file? This cannot be undone.".to_owned() } else { format!("Delete {n} files? This cannot be undone.") }}
                            </span>
                            <button id="confirm-yes" class="danger small" type="button" on:click=move |_| delete(go.clone())>"Delete"</button>
                            <button id="confirm-no" class="ghost small" type="button" on:click=move |_| confirm.set(None)>"Cancel"</button>
                        </div>
                    }.into_any()
                })}
                <table id="file-list" class="file-table">
                    <thead>
                        <tr>
                            <th scope="col" class="check-cell">
                                <input id="select-all" type="checkbox" aria-label="Select all"
                                    prop:checked=move || { let v = visible(); !v.is_empty() && selected.with(|s| v.iter().all(|r| s.contains(&r.id))) }
                                    on:change:target=move |ev| {
                                        let on = ev.target().checked();
                                        let ids: Vec<String> = visible().into_iter().map(|r| r.id).collect();
                                        selected.update(|s| for id in ids { if on { s.insert(id); } else { s.remove(&id); } });
                                    }/>
                            </th>
                            {header(SortKey::Name, "Name", "name")}
                            <th scope="col" class="type">"Type"</th>
                            {header(SortKey::Size, "Size", "file-size")}
                            {header(SortKey::Added, "Added", "added")}
                            <th scope="col" class="actions"><span class="visually-hidden">"Actions"</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || visible().into_iter().map(|row| {
                            let id = row.id.clone();
                            let unreadable = row.meta.is_none();
                            let check_id = id.clone();
                            let is_editing = { let id = id.clone(); move || editing.get().as_deref() == Some(id.as_str()) };
                            let name = row.name();
                            let start_edit = { let id = id.clone(); let name = name.clone(); move |_| { new_name.set(name.clone()); editing.set(Some(id.clone())); } };
                            let save = { let id = id.clone(); move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); rename(id.clone()); } };
                            let del = { let id = id.clone(); move |_| confirm.set(Some(vec![id.clone()])) };
                            let dl_row = row.clone();
                            let share_row = row.shareable();
                            view! {
                                <tr class="file-row" data-id=id.clone()>
                                    <td class="check-cell">
                                        <input type="checkbox" class="select" aria-label=format!("Select {name}")
                                            prop:checked={ let id = check_id.clone(); move || selected.with(|s| s.contains(&id)) }
                                            on:change:target=move |ev| { let on = ev.target().checked(); let id = check_id.clone(); selected.update(|s| { if on { s.insert(id); } else { s.remove(&id); } }); }/>
                                    </td>
                                    <td class="name">
                                        <Show when=is_editing.clone() fallback={ let name = name.clone(); let id = id.clone(); move || view! {
                                            <span class="file-name" class:unreadable=unreadable title=name.clone()>{name.clone()}</span>
                                            {
                                                let id = id.clone();
                                                move || {
                                                    let n = links.with(|l| l.iter().filter(|k| k.state == "active" && k.files.iter().any(|f| f.file_id == id)).count());
                                                    (n > 0).then(|| view! {
                                                        <a class="link-count muted" href="#links" rel="external">{if n == 1 { "1 link".to_owned() } else { format!("{n} links") }}</a>
                                                    })
                                                }
                                            }
                                        }}>
                                            <form class="rename-form" on:submit=save.clone()>
                                                <input class="rename-input" type="text" aria-label="New name" required
                                                    prop:value=move || new_name.get()
                                                    on:input:target=move |ev| new_name.set(ev.target().value())
                                                    on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Escape" { editing.set(None) }/>
                                                <button class="small primary" type="submit">"Save"</button>
                                            </form>
                                        </Show>
                                    </td>
                                    <td class="type muted" title=row.kind()>{row.kind()}</td>
                                    <td class="file-size muted">{human_size(row.plain_size())}</td>
                                    <td class="added muted">{date(row.created_at)}</td>
                                    <td class="actions">
                                        <button class="ghost small download" type="button" disabled=unreadable aria-label=format!("Download {name}")
                                            on:click=move |_| download(&dl_row, transfers, error)>"Download"</button>
                                        <button class="ghost small share" type="button" disabled=unreadable aria-label=format!("Share {name}")
                                            on:click=move |_| sharing.set(Some(vec![share_row.clone()]))>"Share"</button>
                                        <button class="ghost small rename" type="button" disabled=unreadable aria-label=format!("Rename {name}") on:click=start_edit>"Rename"</button>
                                        <button class="ghost small delete" type="button" aria-label=format!("Delete {name}") on:click=del>"Delete"</button>
                                    </td>
                                </tr>
                            }.into_any()
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        }
        .into_any(),
    }
    }
}

/// After a reload the session cookie is still there but the master key is
/// not: the password unlocks it again.
#[component]
fn Unlock(state: RwSignal<State>) -> impl IntoView {
    let keyring = expect_context::<KeyringSignal>();
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let State::SignedIn { username, .. } = state.get_untracked() else {
            return;
        };
        let p = password.get_untracked();
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match log_in(&username, &p).await {
                Ok(k) => {
                    password.set(String::new());
                    keyring.set(Some(k));
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <form id="unlock-form" class="card" on:submit=submit>
            <h2>"Unlock your files"</h2>
            <p class="muted">"Your keys are kept only while this tab is open. Enter your password to open your files."</p>
            <label class="field" for="unlock-password">
                <span>"Password"</span>
                <input
                    id="unlock-password"
                    type="password"
                    autocomplete="current-password"
                    required
                    prop:value=move || password.get()
                    on:input:target=move |ev| password.set(ev.target().value())
                />
            </label>
            <Show when=move || error.with(Option::is_some)>
                <p id="form-error" class="form-error" role="alert">{move || error.get()}</p>
            </Show>
            <button id="unlock" class="primary" type="submit" prop:disabled=move || busy.get()>
                {move || if busy.get() { "Deriving keys…" } else { "Unlock" }}
            </button>
        </form>
    }
}
