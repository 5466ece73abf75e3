//! `/admin`: the administrator invites people.
//!
//! With the default `invite` registration a server admits a second person
//! only with an invite code. This page creates one (shown once, as a
//! sign-up link that carries the code in its fragment, so the code never
//! reaches a server log or a `Referer`), lists the pending ones with their
//! expiry, and revokes them. Anyone else who opens the page is told it is
//! not theirs; the server refuses them whatever the page shows.

use ::api::accounts::{AccountDetails, Invite, PendingInvite};
use leptos::{prelude::*, task::spawn_local};

use crate::{
    client::{api, copy_text, local_time},
    components::Header,
};

#[derive(Debug, Clone, PartialEq)]
enum Access {
    Checking,
    SignedOut,
    NotAdmin,
    Admin,
    Failed(String),
}

/// The sign-up link for `code` on this server.
fn signup_link(code: &str) -> String {
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    format!("{origin}/register#invite={code}")
}

#[component]
pub(crate) fn AdminPage() -> impl IntoView {
    let access = RwSignal::new(Access::Checking);
    let pending = RwSignal::new(Vec::<PendingInvite>::new());
    let created = RwSignal::new(None::<(String, Invite)>);
    let copied = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let reload = RwSignal::new(0u32);
    let hydrated = RwSignal::new(false);

    Effect::new(move |_| {
        hydrated.set(true);
        crate::client::mark_hydrated();
        spawn_local(async move {
            match api::get::<AccountDetails>("/api/account").await {
                Ok(me) if me.is_admin => access.set(Access::Admin),
                Ok(_) => access.set(Access::NotAdmin),
                Err(e) if e.status == 401 => access.set(Access::SignedOut),
                Err(e) => access.set(Access::Failed(e.message)),
            }
        });
    });
    Effect::new(move |_| {
        reload.track();
        if access.get() != Access::Admin {
            return;
        }
        spawn_local(async move {
            match api::get::<Vec<PendingInvite>>("/api/invites").await {
                Ok(list) => pending.set(list),
                Err(e) => error.set(Some(e.message)),
            }
        });
    });

    let create = move |_| {
        busy.set(true);
        error.set(None);
        copied.set(false);
        spawn_local(async move {
            match api::post::<_, Invite>("/api/invites", &serde_json::json!({})).await {
                Ok(invite) => {
                    created.set(Some((signup_link(&invite.code), invite)));
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let revoke = move |id: String| {
        spawn_local(async move {
            match api::delete(&format!("/api/invites/{id}")).await {
                // Already used or expired: the list will say so.
                Ok(()) | Err(api::ApiError { status: 404, .. }) => error.set(None),
                Err(e) => error.set(Some(e.message)),
            }
            reload.update(|n| *n += 1);
        });
    };

    view! {
        <div class="app" data-hydrated=move || hydrated.get().then_some("true")>
            <Header>
                <a id="go-files" class="ghost button small" href="/">"Files"</a>
            </Header>
            <main class="admin" aria-labelledby="admin-title">
                <h1 id="admin-title">"Invite people"</h1>
                {move || match access.get() {
                    Access::Checking => view! { <p class="muted">"Loading…"</p> }.into_any(),
                    Access::Failed(message) => view! {
                        <p id="form-error" class="form-error" role="alert">{message}</p>
                    }.into_any(),
                    Access::SignedOut => view! {
                        <p id="admin-refused" class="muted">
                            "Log in as the server's administrator to invite people. "
                            <a href="/login">"Log in"</a>
                        </p>
                    }.into_any(),
                    Access::NotAdmin => view! {
                        <p id="admin-refused" class="muted">
                            "Only the server's administrator can invite people. Ask them for an invite to pass on."
                        </p>
                    }.into_any(),
                    Access::Admin => view! {
                        <section class="card invite-card" aria-labelledby="invite-new-title">
                            <h2 id="invite-new-title">"New invite"</h2>
                            <p class="muted">
                                "Each invite admits one person: whoever opens its link can create one account, "
                                "within seven days."
                            </p>
                            {move || created.get().map(|(link, invite)| {
                                let copy_link = link.clone();
                                view! {
                                    <div id="invite-created" class="invite-created">
                                        <p class="share-once">"This invite is shown only once: the server keeps only a hash of it. Copy the link now."</p>
                                        <div class="share-url-row">
                                            <input id="invite-link" type="text" readonly aria-label="Sign-up link" prop:value=link/>
                                            <button id="invite-copy" class="primary small" type="button"
                                                on:click=move |_| copied.set(copy_text(&copy_link))>
                                                {move || if copied.get() { "Copied" } else { "Copy" }}
                                            </button>
                                        </div>
                                        <p class="muted small">
                                            "Code "<code id="invite-code" class="code">{invite.code.clone()}</code>
                                            {format!(" · works until {}", local_time(invite.expires_at))}
                                        </p>
                                    </div>
                                }
                            })}
                            <div>
                                <button id="invite-create" class="primary" type="button"
                                    disabled=move || busy.get() || !hydrated.get() on:click=create>
                                    {move || if busy.get() { "Creating…" } else { "Create an invite" }}
                                </button>
                            </div>
                        </section>
                        <Show when=move || error.with(Option::is_some)>
                            <p id="admin-error" class="form-error" role="alert">{move || error.get()}</p>
                        </Show>
                        <section class="pending-invites" aria-labelledby="pending-title">
                            <h2 id="pending-title">"Pending invites"</h2>
                            {move || {
                                let list = pending.get();
                                if list.is_empty() {
                                    return view! { <p id="no-invites" class="muted">"No invite is waiting to be used."</p> }.into_any();
                                }
                                view! {
                                    <ul id="invites" class="invite-list">
                                        {list.into_iter().map(|p| {
                                            let id = p.id.clone();
                                            let made = local_time(p.created_at);
                                            let label = format!("Revoke the invite created {made}");
                                            view! {
                                                <li class="invite-row" data-id=p.id.clone()>
                                                    <span>{format!("Created {made}")}</span>
                                                    <span class="muted">{format!("expires {}", local_time(p.expires_at))}</span>
                                                    <button class="danger small invite-revoke" type="button" aria-label=label
                                                        on:click=move |_| revoke(id.clone())>"Revoke"</button>
                                                </li>
                                            }
                                        }).collect_view()}
                                    </ul>
                                }.into_any()
                            }}
                        </section>
                    }.into_any(),
                }}
            </main>
        </div>
    }
}
