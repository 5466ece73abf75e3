//! The signed-in home page: the user's files, names decrypted here.
//!
//! States: checking the session; signed out (links to log in or register);
//! signed in but locked (the master key is only in memory, so after a
//! reload the password unlocks it again); unlocked: the upload zone, the
//! transfers with their progress, uploads interrupted earlier (resumable by
//! picking the file again), and the file list with sort, filter, rename,
//! delete and multi-select. Encryption and decryption run in the file worker
//! (`client::transfer`).

mod links;
mod listing;
mod row;
mod table;
mod uploader;

use ::api::accounts::AccountDetails;
use leptos::{lazy, lazy_preload, prelude::*, task::spawn_local};

use crate::{
    client::{
        api,
        keyring::{KeyringSignal, log_in},
        keys,
        share::LinkView,
        transfer::{self, PendingUpload, Phase, Transfers},
    },
    components::{Cipher, CipherPicker, Header, TransferPanel, human_size},
};
use links::{LinksPanel, ShareDialog, Shareable};
use listing::Listing;
use row::Row;
use table::FileTable;
use uploader::{Interrupted, InterruptedList, Uploader};

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

/// The file dashboard.
#[component]
pub(crate) fn Dashboard() -> impl IntoView {
    let keyring = expect_context::<KeyringSignal>();
    let cipher = RwSignal::new(Cipher::default());
    let state = RwSignal::new(State::Checking);
    let listing = Listing::new();
    let rows = listing.rows;
    let interrupted = RwSignal::new(Vec::<Interrupted>::new());
    let usage = listing.usage;
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
        // The unlocked view's code, fetched once the page is interactive,
        // while it asks who is signed in and the user types a password.
        let _ = lazy_preload!(files_view);
        spawn_local(async move {
            match api::get::<AccountDetails>("/api/account").await {
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
                if let Err(e) = listing.refresh(&k).await {
                    state.set(State::Failed(e.message));
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
                                    .file_name(
                                        &keys::b64(&upload.wrapped_key.0),
                                        &keys::b64(&upload.metadata.0),
                                    )
                                    .unwrap_or_else(|| "(cannot be decrypted)".into()),
                                upload,
                            })
                            .collect(),
                    );
                }
            });
        }
    });

    let unlocked = Unlocked {
        cipher,
        transfers,
        interrupted,
        reload,
        listing,
        sharing,
        links,
        links_changed,
        shareable,
    };

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
                    <a id="go-admin" class="ghost button small" href="/admin">"Admin"</a>
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
                                <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                                    {move || Suspend::new(files_view(unlocked))}
                                </Suspense>
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

/// What the unlocked view shares with the rest of the dashboard.
#[derive(Clone, Copy)]
struct Unlocked {
    cipher: RwSignal<Cipher>,
    transfers: Transfers,
    interrupted: RwSignal<Vec<Interrupted>>,
    reload: RwSignal<u32>,
    listing: Listing,
    sharing: RwSignal<Option<Vec<Shareable>>>,
    links: RwSignal<Vec<LinkView>>,
    links_changed: RwSignal<u32>,
    shareable: Signal<Vec<Shareable>>,
}

/// The unlocked dashboard: uploads, transfers, the file table, sharing.
///
/// Most of the dashboard's code is here, so it is a WASM chunk of its own
/// (`#[lazy]`): a fresh page shows "Loading…", the sign-in links or the
/// unlock form without it, and fetches it in the background.
#[lazy]
fn files_view(parts: Unlocked) -> AnyView {
    let Unlocked {
        transfers,
        links,
        links_changed,
        sharing,
        reload,
        ..
    } = parts;
    view! {
        <Uploader cipher=parts.cipher transfers/>
        <TransferPanel transfers/>
        <InterruptedList interrupted=parts.interrupted transfers reload/>
        <FileTable listing=parts.listing transfers reload sharing links/>
        <ShareDialog sharing links_changed/>
        <LinksPanel files=parts.shareable links links_changed/>
    }
    .into_any()
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
