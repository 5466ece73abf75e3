//! The public page a share link opens: `/s/<id>#<secret>`, no account.
//!
//! It reads the secret from the URL fragment (which the browser never
//! sends), asks the server how to derive the keys, asks for the password
//! when there is one, derives in the crypto worker, and only then shows
//! what is shared. Downloads are decrypted as they stream, through the same
//! file worker as the dashboard, with a progress bar.

use std::rc::Rc;

use leptos::{prelude::*, task::spawn_local};
use leptos_router::hooks::use_params_map;

use crate::{
    client::{
        api,
        keys::FileMeta,
        share::{self, LinkInfo, Mode, OpenLink, SharedFile},
        transfer::{self, Direction, FileRef, Phase, Transfers},
    },
    components::{Header, TransferPanel, human_size},
};

#[derive(Clone)]
enum Stage {
    Loading,
    /// No secret in the fragment: nothing can be decrypted.
    Incomplete,
    /// Expired, revoked, used, locked or unknown: says which.
    Refused(String, String),
    Password(LinkInfo),
    Opening,
    Open(Vec<(SharedFile, FileMeta)>),
}

#[component]
pub(crate) fn SharePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with_untracked(|p| p.get("id").unwrap_or_default());
    let stage = RwSignal::new(Stage::Loading);
    let error = RwSignal::new(None::<String>);
    let password = RwSignal::new(String::new());
    let opened = StoredValue::new_local(None::<Rc<OpenLink>>);
    // The current claim and the files already started under it: a claim
    // serves each file once, so downloading a file again takes a new one.
    let claim = StoredValue::new_local(None::<(String, Vec<i64>)>);
    let claiming = RwSignal::new(false);
    // A one-time link is spent by the claim that starts its download; the
    // page then says so instead of offering a click that can only fail.
    let spent = RwSignal::new(false);
    let transfers = Transfers::new();
    let hydrated = RwSignal::new(false);

    let refuse = move |e: api::ApiError| {
        let code = if e.status == 404 {
            "not_found".to_owned()
        } else {
            e.code
        };
        let message = if e.status == 404 {
            "There is no such link. Check that it was copied whole.".to_owned()
        } else {
            e.message
        };
        stage.set(Stage::Refused(code, message));
    };
    let unlock = move |info: LinkInfo, pw: Option<String>| {
        let Some(secret) = fragment_secret() else {
            stage.set(Stage::Incomplete);
            return;
        };
        stage.set(Stage::Opening);
        error.set(None);
        spawn_local(async move {
            match share::open(&id(), &secret, &info, pw.as_deref()).await {
                Ok(link) => {
                    let files = link.files.clone();
                    opened.set_value(Some(Rc::new(link)));
                    password.set(String::new());
                    stage.set(Stage::Open(files));
                }
                Err(e) if matches!(e.status, 401 | 429) || e.status == 0 => {
                    error.set(Some(e.message));
                    stage.set(Stage::Password(info));
                }
                Err(e) => refuse(e),
            }
        });
    };

    Effect::new(move |_| {
        hydrated.set(true);
        crate::client::mark_hydrated();
        transfer::register_service_worker();
        // A link pasted over this one differs only after `#`, which the
        // browser does not reload for: start over with the new secret.
        let handle = window_event_listener(leptos::ev::hashchange, |_| {
            if let Some(w) = web_sys::window() {
                let _ = w.location().reload();
            }
        });
        on_cleanup(move || handle.remove());
        if fragment_secret().is_none() {
            stage.set(Stage::Incomplete);
            return;
        }
        spawn_local(async move {
            match api::get::<LinkInfo>(&format!("/api/s/{}", id())).await {
                Ok(info) if info.password => stage.set(Stage::Password(info)),
                Ok(info) => unlock(info, None),
                Err(e) => refuse(e),
            }
        });
    });

    // One claim for `files` (reusing the current one if none of them was
    // started under it yet), then each file's key and where to fetch it.
    let prepare = move |files: Vec<(SharedFile, FileMeta)>| {
        let link = opened.get_value();
        let link_id = id();
        async move {
            let link = link.ok_or("Open the link first.")?;
            let indices: Vec<i64> = files.iter().map(|(f, _)| f.index).collect();
            let reusable = claim
                .get_value()
                .filter(|(_, used)| !indices.iter().any(|i| used.contains(i)));
            let bearer = match reusable {
                Some((c, mut used)) => {
                    used.extend(&indices);
                    claim.set_value(Some((c.clone(), used)));
                    c
                }
                None => {
                    let c = link.claim(&link_id).await.map_err(|e| e.message)?;
                    claim.set_value(Some((c.clone(), indices)));
                    if link.mode == Mode::OneTime {
                        spent.set(true);
                    }
                    c
                }
            };
            files
                .into_iter()
                .map(|(file, meta)| {
                    let key = link
                        .data_key(&file)
                        .ok_or("This file cannot be decrypted: the link is damaged.")?;
                    Ok((
                        key,
                        FileRef {
                            id: format!("{link_id}-{}", file.index),
                            name: meta.name,
                            size: file.size,
                            plain_size: meta.size,
                            padded: meta.padded,
                            content_url: format!("/api/s/{link_id}/files/{}/content", file.index),
                            bearer: Some(bearer.clone()),
                        },
                    ))
                })
                .collect::<Result<Vec<_>, String>>()
        }
    };
    let failed = move |e: String| {
        claiming.set(false);
        if !e.is_empty() {
            error.set(Some(e));
        }
    };
    let download = move |file: SharedFile, meta: FileMeta| {
        claiming.set(true);
        error.set(None);
        let name = meta.name.clone();
        let ready = prepare(vec![(file, meta)]);
        let ready = async move {
            let mut all = ready.await?;
            claiming.set(false);
            all.pop().ok_or_else(|| "Nothing to download.".to_owned())
        };
        transfer::save(transfers, &name, ready, failed);
    };
    let download_all = move |files: Vec<(SharedFile, FileMeta)>| {
        claiming.set(true);
        error.set(None);
        let ready = prepare(files);
        let ready = async move {
            let all = ready.await?;
            claiming.set(false);
            Ok(all)
        };
        transfer::save_all(transfers, ready, failed);
    };

    view! {
        <div class="app share-page" data-hydrated=move || hydrated.get().then_some("true")>
            <Header/>
            <main class="share-view" aria-labelledby="share-page-title">
                <h1 id="share-page-title">"Shared with you"</h1>
                {move || match stage.get() {
                    Stage::Loading => view! { <p class="muted">"Opening the link…"</p> }.into_any(),
                    Stage::Incomplete => view! {
                        <p id="share-state" class="form-error" role="alert" data-code="incomplete">
                            "This link is incomplete: the part after # is missing, and without it nothing can be decrypted. Ask the sender for the whole link."
                        </p>
                    }.into_any(),
                    Stage::Refused(code, message) => view! {
                        <p id="share-state" class="form-error" role="alert" data-code=code>{message}</p>
                    }.into_any(),
                    Stage::Password(info) => {
                        let submit = move |ev: leptos::ev::SubmitEvent| {
                            ev.prevent_default();
                            unlock(info.clone(), Some(password.get_untracked()));
                        };
                        view! {
                            <form id="share-unlock-form" class="share-unlock" on:submit=submit>
                                <p>"This link is protected by a password. What it shares, names and sizes included, shows once the password is right."</p>
                                <input id="share-password" type="password" autocomplete="off" aria-label="Password"
                                    placeholder="Password" required
                                    prop:value=move || password.get()
                                    on:input:target=move |ev| password.set(ev.target().value())/>
                                <button id="share-unlock" class="primary" type="submit" disabled=move || !hydrated.get()>"Open"</button>
                            </form>
                        }.into_any()
                    }
                    Stage::Opening => view! { <p id="share-opening" class="muted">"Deriving the key…"</p> }.into_any(),
                    Stage::Open(files) => {
                        let one_time = opened.with_value(|l| l.as_ref().is_some_and(|l| l.mode == Mode::OneTime));
                        let several = files.len() > 1;
                        let all: Vec<(SharedFile, FileMeta)> = files.clone();
                        view! {
                            {(one_time && several).then(|| view! {
                                <p class="muted">"This link works for one download: take all the files at once."</p>
                            })}
                            <ul id="shared-files" class="shared-files">
                                {files.into_iter().map(|(file, meta)| {
                                    let name = meta.name.clone();
                                    let size = human_size(meta.size.unwrap_or(file.size));
                                    let (f, n) = (file.clone(), meta.clone());
                                    let running = { let n = name.clone(); Signal::derive(move || downloading(transfers, &n)) };
                                    // The accessible name starts with the visible text,
                                    // whatever the button says ("Download", "Link used"…).
                                    let label = {
                                        let name = name.clone();
                                        move || format!("{} {name}", button_text(claiming.get(), running.get(), spent.get()))
                                    };
                                    view! {
                                        <li class="shared-file" data-index=file.index>
                                            <span class="shared-name">{name}</span>
                                            <span class="shared-size muted">{size}</span>
                                            {(!(one_time && several)).then(|| view! {
                                                <button class="primary small share-download" type="button" aria-label=label
                                                    disabled=move || claiming.get() || spent.get() || running.get()
                                                    on:click=move |_| download(f.clone(), n.clone())>
                                                    {move || button_text(claiming.get(), running.get(), spent.get())}
                                                </button>
                                            })}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            {several.then(|| view! {
                                <button id="share-download-all" class="primary" type="button"
                                    disabled=move || claiming.get() || spent.get() || downloading_any(transfers)
                                    on:click=move |_| download_all(all.clone())>
                                    {move || match button_text(claiming.get(), downloading_any(transfers), spent.get()) {
                                        "Download" => "Download all",
                                        other => other,
                                    }}
                                </button>
                            })}
                            <Show when=move || spent.get()>
                                <p id="share-spent" class="notice" role="status">
                                    "This link worked for one download, and that was it: it will not open again. "
                                    "What you downloaded is saved on this device."
                                </p>
                            </Show>
                            <TransferPanel transfers/>
                        }.into_any()
                    }
                }}
                <Show when=move || error.with(Option::is_some)>
                    <p id="share-error" class="form-error" role="alert">{move || error.get()}</p>
                </Show>
            </main>
        </div>
    }
}

/// A download named `name` is running or paused on this page.
fn downloading(transfers: Transfers, name: &str) -> bool {
    transfers.list.with(|l| {
        l.iter().any(|t| {
            t.direction == Direction::Download
                && t.name == name
                && matches!(t.phase, Phase::Running | Phase::Paused)
        })
    })
}

fn downloading_any(transfers: Transfers) -> bool {
    transfers.list.with(|l| {
        l.iter().any(|t| {
            t.direction == Direction::Download && matches!(t.phase, Phase::Running | Phase::Paused)
        })
    })
}

/// What a download button says: what it would do, or why it cannot.
fn button_text(claiming: bool, running: bool, spent: bool) -> &'static str {
    if running {
        "Downloading…"
    } else if claiming {
        "Starting…"
    } else if spent {
        "Link used"
    } else {
        "Download"
    }
}

/// The fragment secret of this page's URL, if it has a valid one.
fn fragment_secret() -> Option<zeroize::Zeroizing<[u8; 32]>> {
    let hash = web_sys::window()?.location().hash().ok()?;
    share::secret_from_fragment(&hash)
}
