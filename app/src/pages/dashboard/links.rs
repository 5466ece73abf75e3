//! The owner's side of share links on the dashboard: the dialog that
//! creates one (password on by default, mode, expiry, download limit; the
//! link shown once with a copy button and a QR code) and the panel that
//! lists every link with its state and lets the owner revoke it, unlock it,
//! or change its expiry or password (re-wrapped in this browser).

use leptos::{prelude::*, task::spawn_local};

use ::api::shares::{ExpiryChange, UpdateShare};

use crate::client::{
    api, keyring,
    share::{self, LinkView, Mode, NewLink},
};

/// A file as the link dialogs need it: id, decrypted name, wrapped key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shareable {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) wrapped_key: String,
}

/// Seconds since 1970, from the browser's clock.
fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// The end of `date` (`YYYY-MM-DD`, as a date input gives it) in local time.
fn end_of_day(date: &str) -> Option<i64> {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(&format!(
        "{date}T23:59:59"
    )));
    let ms = d.get_time();
    ms.is_finite().then(|| (ms / 1000.0) as i64)
}

/// Expiry presets, in seconds from now.
const PRESETS: [(&str, i64); 4] = [
    ("1 hour", 3600),
    ("1 day", 86_400),
    ("7 days", 7 * 86_400),
    ("30 days", 30 * 86_400),
];

/// Creates a link for the files in `sharing`; closes by setting it to `None`.
#[component]
pub(crate) fn ShareDialog(
    sharing: RwSignal<Option<Vec<Shareable>>>,
    links_changed: RwSignal<u32>,
) -> impl IntoView {
    let protect = RwSignal::new(true);
    let password = RwSignal::new(String::new());
    let mode = RwSignal::new("persistent".to_owned());
    let expiry = RwSignal::new("86400".to_owned());
    let date = RwSignal::new(String::new());
    let max = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let created = RwSignal::new(None::<String>);
    let copied = RwSignal::new(false);

    let dialog = NodeRef::<leptos::html::Dialog>::new();
    // The new link takes the focus (the form that had it is gone), selected
    // so that a keyboard user can copy it at once.
    let url_input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(el) = url_input.get() {
            let _ = el.focus();
            el.select();
        }
    });
    // Whatever had focus when the dialog opened gets it back when it closes.
    let opener = StoredValue::new_local(None::<web_sys::HtmlElement>);

    let close = move || {
        sharing.set(None);
        created.set(None);
        password.set(String::new());
        error.set(None);
        copied.set(false);
    };
    // Open as a modal whenever files are handed to it, each time with the
    // safe defaults (a password, a link that lasts until revoked) whatever
    // the previous link was, so a one-time or password-less link is never
    // made by accident.
    Effect::new(move |_| {
        let open = sharing.with(Option::is_some);
        let Some(el) = dialog.get() else {
            return;
        };
        if open && !el.open() {
            protect.set(true);
            mode.set("persistent".to_owned());
            expiry.set("86400".to_owned());
            date.set(String::new());
            max.set(String::new());
            opener.set_value(
                web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.active_element())
                    .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok()),
            );
            let _ = el.show_modal();
        } else if !open && el.open() {
            el.close();
        }
        if !open && let Some(back) = opener.get_value() {
            opener.set_value(None);
            let _ = back.focus();
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(files) = sharing.get_untracked() else {
            return;
        };
        let Some(keyring) = keyring::unlocked() else {
            return;
        };
        let pw = password.get_untracked();
        if protect.get_untracked() && pw.is_empty() {
            error.set(Some("Choose a password, or turn the password off.".into()));
            return;
        }
        let mode_value = match mode.get_untracked().as_str() {
            "expiring" => Mode::Expiring,
            "one_time" => Mode::OneTime,
            _ => Mode::Persistent,
        };
        let expires_at = if mode_value == Mode::Expiring {
            let choice = expiry.get_untracked();
            let at = if choice == "date" {
                end_of_day(&date.get_untracked())
            } else {
                choice.parse::<i64>().ok().map(|s| now() + s)
            };
            match at {
                Some(t) if t > now() => Some(t),
                _ => {
                    error.set(Some("Pick a date in the future.".into()));
                    return;
                }
            }
        } else {
            None
        };
        let max_downloads = match (mode_value, max.get_untracked().trim()) {
            (Mode::OneTime, _) | (_, "") => None,
            (_, n) => match n.parse::<i64>() {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    error.set(Some(
                        "The download limit must be a whole number, 1 or more.".into(),
                    ));
                    return;
                }
            },
        };
        let new = NewLink {
            password: protect.get_untracked().then_some(pw),
            mode: mode_value,
            expires_at,
            max_downloads,
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let files: Vec<(String, String)> =
                files.into_iter().map(|f| (f.id, f.wrapped_key)).collect();
            match share::create(&keyring, &files, new).await {
                Ok(url) => {
                    created.set(Some(url));
                    password.set(String::new());
                    links_changed.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let copy = move |_| {
        let Some(url) = created.get_untracked() else {
            return;
        };
        if crate::client::copy_text(&url) {
            copied.set(true);
        }
    };

    let content = move || {
        let files = sharing.get()?;
        let names = files
            .iter()
            .map(|f| f.name.clone())
            .collect::<Vec<_>>()
            .join(", ");
        Some(view! {
                <h2 id="share-title">{if files.len() == 1 { "Share a file".to_owned() } else { format!("Share {} files", files.len()) }}</h2>
                <p class="muted share-files">{names}</p>
                {move || match created.get() {
                    Some(url) => {
                        let qr = share::qr_svg(&url).unwrap_or_default();
                        view! {
                            <div class="share-result">
                                <p class="share-once">"This link is shown only once. Copy it now: the key is in it, and Nocturne cannot show it again."</p>
                                <div class="share-url-row">
                                    <input id="share-url" type="text" readonly aria-label="Share link" node_ref=url_input prop:value=url.clone()/>
                                    <button id="share-copy" class="primary small" type="button" on:click=copy>
                                        {move || if copied.get() { "Copied" } else { "Copy" }}
                                    </button>
                                </div>
                                <div id="share-qr" class="share-qr" inner_html=qr></div>
                                <button id="share-close" class="ghost" type="button" on:click=move |_| close()>"Done"</button>
                            </div>
                        }.into_any()
                    }
                    None => view! {
                        <form class="share-form" on:submit=submit>
                            <label class="check-label">
                                <input id="share-password-on" type="checkbox" prop:checked=move || protect.get()
                                    on:change:target=move |ev| protect.set(ev.target().checked())/>
                                " Protect with a password"
                            </label>
                            <Show when=move || protect.get() fallback=|| view! {
                                <p class="share-warning" role="alert">"Without a password, anyone who gets hold of the link can open these files."</p>
                            }>
                                <input id="share-password" type="password" autocomplete="new-password" autofocus
                                    aria-label="Link password" placeholder="Link password"
                                    prop:value=move || password.get()
                                    on:input:target=move |ev| password.set(ev.target().value())/>
                            </Show>
                            <label>"Link "
                                <select id="share-mode" on:change:target=move |ev| mode.set(ev.target().value())
                                    prop:value=move || mode.get()>
                                    <option value="persistent">"works until revoked"</option>
                                    <option value="expiring">"expires"</option>
                                    <option value="one_time">"works for one download"</option>
                                </select>
                            </label>
                            <Show when=move || mode.get() == "expiring">
                                <label>"after "
                                    <select id="share-expiry" on:change:target=move |ev| expiry.set(ev.target().value())
                                        prop:value=move || expiry.get()>
                                        {PRESETS.iter().map(|(label, secs)| view! { <option value=secs.to_string()>{*label}</option> }).collect_view()}
                                        <option value="date">"on a date…"</option>
                                    </select>
                                </label>
                                <Show when=move || expiry.get() == "date">
                                    <input id="share-date" type="date" aria-label="Expiry date"
                                        on:change:target=move |ev| date.set(ev.target().value())/>
                                </Show>
                            </Show>
                            <Show when=move || mode.get() != "one_time">
                                <label>"Download limit "
                                    <input id="share-max" type="number" min="1" placeholder="none"
                                        prop:value=move || max.get()
                                        on:input:target=move |ev| max.set(ev.target().value())/>
                                </label>
                            </Show>
                            <Show when=move || error.with(Option::is_some)>
                                <p id="share-error" class="form-error" role="alert">{move || error.get()}</p>
                            </Show>
                            <div class="dialog-actions">
                                <button id="share-create" class="primary" type="submit" disabled=move || busy.get()>
                                    {move || if busy.get() { "Creating…" } else { "Create link" }}
                                </button>
                                <button id="share-cancel" class="ghost" type="button" on:click=move |_| close()>"Cancel"</button>
                            </div>
                        </form>
                    }.into_any(),
                }}
        })
    };
    // Escape (or the browser) closing the dialog closes it here too.
    view! {
        <dialog id="share-dialog" class="dialog" aria-labelledby="share-title" node_ref=dialog
            on:close=move |_| if sharing.with_untracked(Option::is_some) { close() }>
            {content}
        </dialog>
    }
}

/// Every link of the account, with state, counts and actions.
#[component]
pub(crate) fn LinksPanel(
    files: Signal<Vec<Shareable>>,
    links: RwSignal<Vec<LinkView>>,
    links_changed: RwSignal<u32>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        links_changed.track();
        spawn_local(async move {
            match share::list().await {
                Ok(l) => links.set(l),
                Err(e) => error.set(Some(e.message)),
            }
        });
    });
    let changed = move || links_changed.update(|n| *n += 1);
    let patch = move |id: String, body: UpdateShare| {
        spawn_local(async move {
            match api::patch::<_, serde_json::Value>(&format!("/api/shares/{id}"), &body).await {
                Ok(_) => error.set(None),
                Err(e) => error.set(Some(e.message)),
            }
            changed();
        });
    };

    move || {
        let list = links.get();
        if list.is_empty() {
            return None;
        }
        let names = files.get();
        Some(view! {
            <section id="links" class="links" aria-labelledby="links-title">
                <h2 id="links-title">"Share links"</h2>
                <Show when=move || error.with(Option::is_some)>
                    <p id="links-error" class="form-error" role="alert">{move || error.get()}</p>
                </Show>
                <ul class="link-list">
                    {list.into_iter().map(|link| {
                        let id = link.id.clone();
                        let shown: Vec<String> = link.files.iter().map(|f| names.iter().find(|n| n.id == f.file_id).map_or_else(|| "(cannot be decrypted)".to_owned(), |n| n.name.clone())).collect();
                        let wrapped: Option<Vec<(i64, String)>> = link.files.iter().map(|f| names.iter().find(|n| n.id == f.file_id).map(|n| (f.index, n.wrapped_key.clone()))).collect();
                        let mode = match link.mode { Mode::Persistent => "until revoked", Mode::Expiring => "expiring", Mode::OneTime => "one-time" };
                        let expiry = link.expires_at.map_or_else(|| "never expires".to_owned(), |t| format!("expires {}", crate::client::local_time(t)));
                        let downloads = match link.max_downloads { Some(m) => format!("{} of {m} downloads", link.downloads), None => format!("{} downloads", link.downloads) };
                        let state = share::state_name(link.state);
                        let active = matches!(state, "active" | "locked");
                        let locked = state == "locked";
                        let new_expiry = RwSignal::new("604800".to_owned());
                        let new_password = RwSignal::new(String::new());
                        let busy = RwSignal::new(false);
                        let revoke = { let id = id.clone(); move |_| { let id = id.clone(); spawn_local(async move { if let Err(e) = api::delete(&format!("/api/shares/{id}")).await { error.set(Some(e.message)); } changed(); }); } };
                        let unlock = { let id = id.clone(); move |_| patch(id.clone(), UpdateShare { expiry: None, password: None, unlock: true }) };
                        let set_expiry = { let id = id.clone(); move |_| {
                            let choice = new_expiry.get_untracked();
                            let at = if choice == "never" { None } else { choice.parse::<i64>().ok().map(|s| now() + s) };
                            patch(id.clone(), UpdateShare { expiry: Some(ExpiryChange { expires_at: at }), password: None, unlock: false });
                        } };
                        let view_link = link.clone();
                        let set_password = move |_| {
                            let Some(keyring) = keyring::unlocked() else { return };
                            let Some(wrapped) = wrapped.clone() else {
                                error.set(Some("A file of this link cannot be opened here.".into()));
                                return;
                            };
                            let pw = new_password.get_untracked();
                            let link = view_link.clone();
                            busy.set(true);
                            spawn_local(async move {
                                let password = (!pw.is_empty()).then_some(pw);
                                match share::change_password(&keyring, &link, &wrapped, password).await {
                                    Ok(()) => { error.set(None); new_password.set(String::new()); }
                                    Err(e) => error.set(Some(e)),
                                }
                                busy.set(false);
                                changed();
                            });
                        };
                        view! {
                            <li class="link-row" data-id=id.clone() data-state=state>
                                <div class="link-summary">
                                    <span class="link-files">{shown.join(", ")}</span>
                                    <span class=format!("link-state badge {state}")>{state}</span>
                                </div>
                                <div class="link-details muted">
                                    {mode}" · "{expiry}" · "
                                    <span class="link-downloads">{downloads}</span>
                                    {(link.in_progress > 0).then(|| format!(" · {} in progress", link.in_progress))}
                                    {(link.failures > 0).then(|| view! { " · "<span class="link-failures">{format!("{} wrong passwords", link.failures)}</span> })}
                                    {if link.argon2.is_some() { " · password" } else { " · no password" }}
                                </div>
                                <Show when=move || active>
                                    <div class="link-actions">
                                        <select class="link-expiry" aria-label="New expiry" on:change:target=move |ev| new_expiry.set(ev.target().value()) prop:value=move || new_expiry.get()>
                                            <option value="never">"never expires"</option>
                                            {PRESETS.iter().map(|(label, secs)| view! { <option value=secs.to_string()>{format!("expires in {label}")}</option> }).collect_view()}
                                        </select>
                                        <button class="ghost small link-expiry-apply" type="button" on:click=set_expiry.clone()>"Set expiry"</button>
                                        <input class="link-new-password" type="password" autocomplete="new-password" placeholder="New password (empty: none)"
                                            aria-label="New link password" prop:value=move || new_password.get()
                                            on:input:target=move |ev| new_password.set(ev.target().value())/>
                                        <button class="ghost small link-password-apply" type="button" disabled=move || busy.get() on:click=set_password.clone()>"Change password"</button>
                                        {locked.then(|| view! {
                                            <button class="ghost small link-unlock" type="button" on:click=unlock.clone()>"Unlock"</button>
                                        })}
                                        <button class="danger small link-revoke" type="button" on:click=revoke.clone()>"Revoke"</button>
                                    </div>
                                </Show>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
        })
    }
}
