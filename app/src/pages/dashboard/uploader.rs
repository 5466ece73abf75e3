//! Getting files in: the drop zone and picker (files become server uploads
//! one at a time, a few open per tab), and uploads interrupted earlier,
//! resumed by picking the same file again or discarded.

use leptos::{prelude::*, task::spawn_local};

use crate::{
    client::{
        api,
        keyring::{self, KeyringSignal},
        transfer::{PendingUpload, Transfers},
    },
    components::Cipher,
};

/// An interrupted upload, its name decrypted.
#[derive(Debug, Clone)]
pub(super) struct Interrupted {
    pub(super) upload: PendingUpload,
    pub(super) name: String,
}

fn cipher_id(cipher: Cipher) -> noctis::format::CipherId {
    match cipher {
        Cipher::Aes256Gcm => noctis::format::CipherId::Aes256Gcm,
        Cipher::Noctis256 => noctis::format::CipherId::Noctis256,
    }
}

fn start_uploads(
    files: Option<web_sys::FileList>,
    cipher: Cipher,
    pad: bool,
    transfers: Transfers,
) {
    let (Some(files), Some(keyring)) = (files, keyring::unlocked()) else {
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
            transfers
                .upload(&keyring, file, cipher_id(cipher), pad)
                .await;
        }
    });
}

/// The drop zone and file picker.
#[component]
pub(super) fn Uploader(cipher: RwSignal<Cipher>, transfers: Transfers) -> impl IntoView {
    let over = RwSignal::new(false);
    // Off by default: padding costs up to 12 % more storage (about 3 %
    // past 64 KiB), which counts in the quota.
    let pad = RwSignal::new(false);
    let on_pick = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        start_uploads(
            input.files(),
            cipher.get_untracked(),
            pad.get_untracked(),
            transfers,
        );
        // The same file can be picked again later.
        input.set_value("");
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        over.set(false);
        start_uploads(
            ev.data_transfer().and_then(|d| d.files()),
            cipher.get_untracked(),
            pad.get_untracked(),
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
            <label class="pad-option small muted">
                <input id="pad-sizes" type="checkbox" prop:checked=move || pad.get()
                    on:change:target=move |ev| pad.set(ev.target().checked())/>
                " Hide exact sizes: pad each file (up to 12\u{a0}% larger, about 3\u{a0}% past 64\u{a0}KiB)"
            </label>
        </section>
    }
}

/// Uploads the server holds unfinished: resume by picking the file again,
/// or discard.
#[component]
pub(super) fn InterruptedList(
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
                            if let (Some(file), Some(k)) = (file, keyring::unlocked()) {
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
