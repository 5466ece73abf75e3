//! The signed-in home page: the user's files, names decrypted here.
//!
//! States: checking the session; signed out (links to log in or register);
//! signed in but locked (the master key is only in memory, so after a
//! reload the password unlocks it again); unlocked (the file list).

use leptos::{prelude::*, task::spawn_local};
use serde::Deserialize;

use super::auth::{KeyringSignal, log_in};
use crate::{
    client::{api, keys::Keyring},
    components::{Cipher, CipherPicker, Header},
};

#[derive(Debug, Clone, Deserialize)]
struct Account {
    username: String,
    used: u64,
    quota: u64,
}

#[derive(Debug, Clone, Deserialize)]
struct FileEntry {
    id: String,
    size: u64,
    metadata: String,
    wrapped_key: String,
}

#[derive(Debug, Clone, Deserialize)]
struct FileList {
    files: Vec<FileEntry>,
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Checking,
    SignedOut,
    SignedIn {
        username: String,
        used: u64,
        quota: u64,
    },
    Failed(String),
}

/// A listed file, its name decrypted (or marked unreadable).
#[derive(Debug, Clone, PartialEq)]
struct Row {
    id: String,
    name: Option<String>,
    size: u64,
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

    // Effects only run in the browser, so this attribute appears exactly when
    // the WASM has taken over the page. Tests wait on it; it costs nothing.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| {
        hydrated.set(true);
        spawn_local(async move {
            match api::get::<Account>("/api/account").await {
                Ok(a) => state.set(State::SignedIn {
                    username: a.username,
                    used: a.used,
                    quota: a.quota,
                }),
                Err(e) if e.status == 401 => {
                    keyring.set(None);
                    state.set(State::SignedOut);
                }
                Err(e) => state.set(State::Failed(e.message)),
            }
        });
    });

    // Once signed in and unlocked, list the files and open their names.
    Effect::new(move |_| {
        let unlocked = keyring.get();
        let signed_in = matches!(state.get(), State::SignedIn { .. });
        if let (Some(k), true) = (unlocked, signed_in) {
            spawn_local(async move {
                match api::get::<FileList>("/api/files").await {
                    Ok(list) => rows.set(Some(open_names(&k, list))),
                    Err(e) => state.set(State::Failed(e.message)),
                }
            });
        }
    });

    let logout = move |_| {
        spawn_local(async move {
            let _ =
                api::post::<_, serde_json::Value>("/api/auth/logout", &serde_json::json!({})).await;
            keyring.set(None);
            rows.set(None);
            state.set(State::SignedOut);
        });
    };

    view! {
        <div class="app" data-hydrated=move || hydrated.get().then_some("true")>
            <Header>
                <CipherPicker cipher/>
                <Show when=move || matches!(state.get(), State::SignedIn { .. })>
                    <button id="logout" class="ghost" type="button" on:click=logout>"Log out"</button>
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
                    State::SignedIn { username, used, quota } => {
                        let locked = move || keyring.with(|k| k.as_ref().is_none_or(|k| k.username != username));
                        view! {
                            <div class="files-head">
                                <h1 id="files-title">"Files"</h1>
                                <p id="usage" class="muted">
                                    {format!("{} of {} used", human_size(used), human_size(quota))}
                                </p>
                            </div>
                            <Show when=locked fallback=move || view! { <FileTable rows/> }>
                                <Unlock state/>
                            </Show>
                        }.into_any()
                    }
                }}
            </main>
        </div>
    }
}

fn open_names(keyring: &Keyring, list: FileList) -> Vec<Row> {
    list.files
        .into_iter()
        .map(|f| Row {
            name: keyring.file_name(&f.wrapped_key, &f.metadata),
            id: f.id,
            size: f.size,
        })
        .collect()
}

/// The list, or its empty state.
#[component]
fn FileTable(rows: RwSignal<Option<Vec<Row>>>) -> impl IntoView {
    move || match rows.get() {
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
        Some(list) => view! {
            <ul id="file-list" class="file-list">
                {list
                    .into_iter()
                    .map(|row| {
                        let unreadable = row.name.is_none();
                        view! {
                            <li class="file-row" data-id=row.id.clone()>
                                <span class="file-name" class:unreadable=unreadable>
                                    {row.name.unwrap_or_else(|| "(cannot be decrypted)".into())}
                                </span>
                                <span class="file-size muted">{human_size(row.size)}</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any(),
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
