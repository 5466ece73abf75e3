//! The file table: names, types and sizes decrypted in this browser; sort,
//! filter, rename, delete (one or several, after a confirmation), share
//! and download. A table on a wide screen, a card per file on a phone.

use ::api::{B64, files::UpdateFile, mesh::MeshHealth};
use leptos::{prelude::*, task::spawn_local};

use super::row::Row;
use super::{
    links::Shareable,
    listing::{Listing, PAGE},
};
use crate::{
    client::{
        api, keyring, keys,
        share::{LinkView, ShareState},
        transfer::{self, Transfers},
    },
    components::human_size,
};

/// A file's fragments on the storage mesh, a short label under its name (a
/// cell of its own would squeeze the name column); the title says what the
/// numbers mean and whether the server still keeps a copy of its own.
fn mesh_badge(health: Option<MeshHealth>) -> Option<impl IntoView> {
    health.map(|h| {
        let copy = if h.local {
            "a local copy is kept too"
        } else {
            "the server keeps no local copy"
        };
        let title = format!(
            "{} of {} fragments healthy on the storage mesh; {copy}",
            h.healthy, h.total
        );
        let degraded = h.healthy < h.total;
        view! {
            <span class="mesh-health" class:mesh-degraded=degraded title=title>
                {format!("mesh {}/{}", h.healthy, h.total)}
            </span>
        }
    })
}

/// How the list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Name,
    Size,
    Added,
}

fn date(seconds: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(seconds as f64 * 1000.0));
    String::from(d.to_locale_date_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}

/// Starts a download of `row` into the best sink this browser has. Called
/// straight from the click, because the save dialog needs the gesture.
fn download(row: &Row, transfers: Transfers, error: RwSignal<Option<String>>) {
    let Some(keyring) = keyring::unlocked() else {
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
pub(super) fn FileTable(
    listing: Listing,
    transfers: Transfers,
    reload: RwSignal<u32>,
    sharing: RwSignal<Option<Vec<Shareable>>>,
    links: RwSignal<Vec<LinkView>>,
) -> impl IntoView {
    let rows = listing.rows;
    let filter = RwSignal::new(String::new());
    let sort = RwSignal::new((SortKey::Added, false));
    // Rows shown: a page at first, a page more at each "Show more".
    let shown = RwSignal::new(PAGE);
    let selected = RwSignal::new(std::collections::BTreeSet::<String>::new());
    let editing = RwSignal::new(None::<String>);
    let new_name = RwSignal::new(String::new());
    let confirm = RwSignal::new(None::<Vec<String>>);
    let error = RwSignal::new(None::<String>);

    // The server lists newest first; any other order, and any filter,
    // needs every name, which only this browser can read: load the rest.
    Effect::new(move |_| {
        let needs_all = !filter.with(String::is_empty) || sort.get() != (SortKey::Added, false);
        if needs_all
            && listing.next.with(Option::is_some)
            && !listing.loading.get()
            && let Some(keyring) = keyring::unlocked()
        {
            spawn_local(async move {
                if let Err(e) = listing.all(&keyring).await {
                    error.set(Some(e.message));
                }
            });
        }
    });
    let show_more = move |_| {
        shown.update(|n| *n += PAGE);
        let loaded = rows.with_untracked(|r| r.as_ref().map_or(0, Vec::len));
        if loaded < shown.get_untracked()
            && let Some(keyring) = keyring::unlocked()
        {
            spawn_local(async move {
                if let Err(e) = listing.more(&keyring).await {
                    error.set(Some(e.message));
                }
            });
        }
    };
    // Filtered and sorted once per change of the rows, the filter or the
    // sort; the rows shown, the summary and "Show more" all read it.
    let matching = Memo::new(move |_| {
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
    });
    let visible = move || {
        let mut list = matching.get();
        list.truncate(shown.get());
        list
    };
    // "Showing 200 of 5,000": of every file, or of the matches once the
    // filter has seen them all.
    let summary = move || {
        let showing = visible().len();
        let everything = listing.next.with(Option::is_none);
        let of = if filter.with(String::is_empty) {
            Some(listing.total.get() as usize)
        } else if everything {
            Some(matching.with(Vec::len))
        } else {
            None
        };
        match of {
            Some(of) if of > showing => format!("Showing {showing} of {of} files"),
            Some(_) => format!("{showing} file{}", if showing == 1 { "" } else { "s" }),
            None => format!("Searching… {showing} matches so far"),
        }
    };
    let more_left = move || {
        matching.with(Vec::len) > shown.get()
            || (filter.with(String::is_empty) && listing.next.with(Option::is_some))
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
        let Some(keyring) = keyring::unlocked() else {
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
        let Ok(metadata) = keys::unb64(&sealed) else {
            return;
        };
        let body = UpdateFile {
            metadata: B64(metadata),
        };
        spawn_local(async move {
            match api::patch::<_, serde_json::Value>(&format!("/api/files/{id}"), &body).await {
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
                            let mesh = row.mesh;
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
                                            {mesh_badge(mesh)}
                                            {
                                                let id = id.clone();
                                                move || {
                                                    let n = links.with(|l| l.iter().filter(|k| k.state == ShareState::Active && k.files.iter().any(|f| f.file_id == id)).count());
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
                <div class="list-footer">
                    <span id="list-summary" class="muted" aria-live="polite">{summary}</span>
                    <Show when=more_left>
                        <button id="show-more" class="ghost small" type="button"
                            disabled=move || listing.loading.get() on:click=show_more>"Show more"</button>
                    </Show>
                </div>
            </section>
        }
        .into_any(),
    }
    }
}
