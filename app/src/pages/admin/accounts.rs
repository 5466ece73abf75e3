//! The accounts on this server as the administrator manages them: who,
//! how many files, how much of which quota, and whether the account is
//! disabled. The administrator sets a quota (or returns an account to the
//! server's default) and disables or enables an account; nothing here
//! can read a file.

use ::api::accounts::{AccountPage, AccountSummary, UpdateAccount};
use leptos::{prelude::*, task::spawn_local};

use crate::{
    client::{api, local_time},
    components::{human_size, parse_size},
};

/// Accounts fetched per page.
const PAGE: u32 = 100;

#[component]
pub(super) fn AccountsPanel(me: String) -> impl IntoView {
    let me = StoredValue::new(me);
    let accounts = RwSignal::new(Vec::<AccountSummary>::new());
    let next = RwSignal::new(None::<String>);
    let loaded = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let load = move |after: Option<String>| {
        spawn_local(async move {
            let path = match &after {
                Some(a) => format!("/api/admin/accounts?limit={PAGE}&after={}", urlencoding(a)),
                None => format!("/api/admin/accounts?limit={PAGE}"),
            };
            match api::get::<AccountPage>(&path).await {
                Ok(page) => {
                    accounts.update(|list| {
                        if after.is_none() {
                            list.clear();
                        }
                        list.extend(page.accounts);
                    });
                    next.set(page.next);
                    loaded.set(true);
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    Effect::new(move |_| load(None));

    // One account changed: its row is replaced by the server's answer.
    let change = move |name: String, body: UpdateAccount| {
        error.set(None);
        spawn_local(async move {
            match api::patch::<_, AccountSummary>(&format!("/api/admin/accounts/{name}"), &body)
                .await
            {
                Ok(updated) => accounts.update(|list| {
                    if let Some(row) = list.iter_mut().find(|a| a.username == updated.username) {
                        *row = updated;
                    }
                }),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };

    view! {
        <section id="accounts" class="accounts-panel" aria-labelledby="accounts-title">
            <h2 id="accounts-title">"Accounts"</h2>
            <p class="muted">
                "Usage counts ciphertext and encrypted names, uploads in progress included. "
                "A disabled account cannot log in and its share links stop working; its files stay."
            </p>
            <Show when=move || error.with(Option::is_some)>
                <p id="accounts-error" class="form-error" role="alert">{move || error.get()}</p>
            </Show>
            {move || {
                if !loaded.get() {
                    return view! { <p class="muted">"Loading…"</p> }.into_any();
                }
                view! {
                    <div class="table-scroll" role="region" aria-labelledby="accounts-title" tabindex="0">
                        <table id="account-list" class="data-table accounts-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Account"</th>
                                    <th scope="col" class="num">"Files"</th>
                                    <th scope="col">"Used"</th>
                                    <th scope="col">"Quota"</th>
                                    <th scope="col">"Status"</th>
                                </tr>
                            </thead>
                            <tbody>
                                <For each=move || accounts.get() key=|a| format!("{a:?}") let:a>
                                    {let is_me = me.with_value(|m| *m == a.username); account_row(a, is_me, change)}
                                </For>
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            <Show when=move || next.with(Option::is_some)>
                <button id="accounts-more" class="ghost small" type="button"
                    on:click=move |_| load(next.get_untracked())>"Show more accounts"</button>
            </Show>
        </section>
    }
}

/// `text` safe inside a query string (account names are lowercase letters,
/// digits and a few marks, but a name is never trusted to be).
fn urlencoding(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}

fn account_row(
    a: AccountSummary,
    is_me: bool,
    change: impl Fn(String, UpdateAccount) + Copy + 'static,
) -> impl IntoView {
    let name = a.username.clone();
    let quota_text = RwSignal::new(String::new());
    let invalid = RwSignal::new(false);
    let set_quota = {
        let name = name.clone();
        move || {
            let Some(bytes) = parse_size(&quota_text.get_untracked()) else {
                invalid.set(true);
                return;
            };
            invalid.set(false);
            quota_text.set(String::new());
            change(
                name.clone(),
                UpdateAccount {
                    quota: Some(bytes),
                    ..Default::default()
                },
            );
        }
    };
    let set_quota_key = set_quota.clone();
    let default_quota = {
        let name = name.clone();
        move |_| {
            change(
                name.clone(),
                UpdateAccount {
                    clear_quota: true,
                    ..Default::default()
                },
            )
        }
    };
    let toggle = {
        let (name, disabled) = (name.clone(), a.disabled);
        move |_| {
            change(
                name.clone(),
                UpdateAccount {
                    disabled: Some(!disabled),
                    ..Default::default()
                },
            )
        }
    };
    let share = a
        .used
        .saturating_mul(100)
        .checked_div(a.quota)
        .unwrap_or(0)
        .min(100);
    let quota_label = match a.own_quota {
        Some(q) => human_size(q),
        None => format!("{} (default)", human_size(a.quota)),
    };
    let input_label = format!("New quota for {name}, for example 10 GB");
    let set_label = format!("Set quota for {name}");
    let default_label = format!("Default quota for {name}");
    let toggle_label = format!("{} {name}", if a.disabled { "Enable" } else { "Disable" });
    let since = format!("Since {}", local_time(a.created_at));
    view! {
        <tr class="account-row" data-name=name.clone() data-disabled=a.disabled.to_string()>
            <td data-label="Account">
                <span class="account-name" title=since>{name.clone()}</span>
                {a.is_admin.then(|| view! { <span class="badge">"admin"</span> })}
            </td>
            <td data-label="Files" class="num">{a.files.to_string()}</td>
            <td data-label="Used">
                <span class="account-used">{format!("{} · {share}%", human_size(a.used))}</span>
            </td>
            <td data-label="Quota">
                <div class="quota-edit">
                    <span class="account-quota">{quota_label}</span>
                    <input class="quota-input" type="text" inputmode="decimal" placeholder="10 GB"
                        aria-label=input_label aria-invalid=move || invalid.get().then_some("true")
                        prop:value=move || quota_text.get()
                        on:input:target=move |ev| quota_text.set(ev.target().value())
                        on:keydown=move |ev| if ev.key() == "Enter" { set_quota_key() }/>
                    <button class="ghost small quota-set" type="button" aria-label=set_label
                        on:click=move |_| set_quota()>"Set"</button>
                    {a.own_quota.is_some().then(|| view! {
                        <button class="ghost small quota-default" type="button" aria-label=default_label
                            on:click=default_quota>"Default"</button>
                    })}
                </div>
            </td>
            <td data-label="Status">
                <div class="account-status">
                    {if a.disabled {
                        view! { <span class="mesh-warn">"Disabled"</span> }.into_any()
                    } else {
                        view! { <span>"Active"</span> }.into_any()
                    }}
                    {(!is_me).then(|| view! {
                        <button class=if a.disabled { "ghost small account-toggle" } else { "danger small account-toggle" }
                            type="button" aria-label=toggle_label on:click=toggle>
                            {if a.disabled { "Enable" } else { "Disable" }}
                        </button>
                    })}
                </div>
            </td>
        </tr>
    }
}
