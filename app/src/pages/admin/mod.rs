//! `/admin`: the administrator invites people, manages accounts
//! (`accounts`) and watches the storage mesh.
//!
//! With the default `invite` registration a server admits a second person
//! only with an invite code. This page creates one (shown once, as a
//! sign-up link that carries the code in its fragment, so the code never
//! reaches a server log or a `Referer`), lists the pending ones with their
//! expiry, and revokes them. Below, the storage mesh (`GET /api/mesh`): its
//! mode and coding, how many files are on it, waiting or degraded, and each
//! storage node with its space and audits; or how to turn it on. Anyone
//! else who opens the page is told it is not theirs; the server refuses
//! them whatever the page shows.

mod accounts;

use ::api::{
    accounts::{AccountDetails, Invite, PendingInvite},
    mesh::{MeshNode, MeshView},
};
use leptos::{prelude::*, task::spawn_local};

use crate::{
    client::{api, copy_text, local_time},
    components::{Header, human_size},
};

#[derive(Debug, Clone, PartialEq)]
enum Access {
    Checking,
    SignedOut,
    NotAdmin,
    /// Signed in as this administrator.
    Admin(String),
    Failed(String),
}

/// The sign-up link for `code` on this server.
fn signup_link(code: &str) -> String {
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    format!("{origin}/register#invite={code}")
}

/// A peer id shortened in the middle: the ends tell nodes apart, and the
/// whole id (52 characters) would make the table scroll even on a laptop.
fn short_peer(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 16 {
        return id.to_owned();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 6..].iter().collect();
    format!("{head}…{tail}")
}

/// How long ago `then` was, coarsely (a node's last contact); past a month,
/// the date.
fn ago(now: i64, then: i64) -> String {
    let s = now.saturating_sub(then).max(0);
    if s < 60 {
        "just now".into()
    } else if s < 3600 {
        format!("{} min ago", s / 60)
    } else if s < 86_400 {
        format!("{} h ago", s / 3600)
    } else if s < 2 * 86_400 {
        "yesterday".into()
    } else if s < 30 * 86_400 {
        format!("{} days ago", s / 86_400)
    } else {
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(then as f64 * 1000.0));
        String::from(d.to_locale_date_string("default", &wasm_bindgen::JsValue::UNDEFINED))
    }
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
    // `None` while it loads; its own error, apart from the invites'.
    let mesh = RwSignal::new(None::<Result<MeshView, String>>);

    Effect::new(move |_| {
        hydrated.set(true);
        crate::client::mark_hydrated();
        spawn_local(async move {
            match api::get::<AccountDetails>("/api/account").await {
                Ok(me) if me.is_admin => access.set(Access::Admin(me.username)),
                Ok(_) => access.set(Access::NotAdmin),
                Err(e) if e.status == 401 => access.set(Access::SignedOut),
                Err(e) => access.set(Access::Failed(e.message)),
            }
        });
    });
    Effect::new(move |_| {
        reload.track();
        if !matches!(access.get(), Access::Admin(_)) {
            return;
        }
        spawn_local(async move {
            match api::get::<Vec<PendingInvite>>("/api/invites").await {
                Ok(list) => pending.set(list),
                Err(e) => error.set(Some(e.message)),
            }
        });
    });

    Effect::new(move |_| {
        if !matches!(access.get(), Access::Admin(_)) {
            return;
        }
        spawn_local(async move {
            let answer = api::get::<MeshView>("/api/mesh").await;
            mesh.set(Some(answer.map_err(|e| e.message)));
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
                <h1 id="admin-title">"Administration"</h1>
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
                    Access::Admin(me) => view! {
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
                        <accounts::AccountsPanel me/>
                        <MeshPanel mesh/>
                    }.into_any(),
                }}
            </main>
        </div>
    }
}

/// The storage mesh as the server reports it: one line when it is off,
/// else its figures and its nodes.
#[component]
fn MeshPanel(mesh: RwSignal<Option<Result<MeshView, String>>>) -> impl IntoView {
    view! {
        <section id="mesh" class="mesh-panel" aria-labelledby="mesh-title">
            <h2 id="mesh-title">"Storage mesh"</h2>
            {move || match mesh.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(message)) => view! {
                    <p id="mesh-error" class="form-error" role="alert">{message}</p>
                }.into_any(),
                Some(Ok(m)) if m.mode == "off" => view! {
                    <p id="mesh-off" class="muted">
                        "The storage mesh is off: every file is kept on this server only. "
                        "To spread files over storage nodes, start the server with "
                        <code class="code">"NOCTURNE_MESH=offload"</code>
                        " (the nodes hold them, the server drops its copy) or "
                        <code class="code">"NOCTURNE_MESH=replicate"</code>
                        " (the server keeps its copy too)."
                    </p>
                }.into_any(),
                Some(Ok(m)) => mesh_details(m).into_any(),
            }}
        </section>
    }
}

/// The figures, then the nodes: a table that scrolls sideways inside its
/// own box on a phone rather than widening the page.
fn mesh_details(m: MeshView) -> impl IntoView {
    let f = m.files;
    let coding = m.coding.split_once('+').map(|(k, parity)| {
        format!(
            "Each file is cut into {k} data and {parity} parity fragments, \
             each on a different node; any {k} of them rebuild it."
        )
    });
    let stats = [
        ("mesh-mode", "Mode", m.mode, false),
        ("mesh-coding", "Coding", m.coding, false),
        ("mesh-files-total", "Files", f.total.to_string(), false),
        (
            "mesh-files-placed",
            "On the mesh",
            f.placed.to_string(),
            false,
        ),
        (
            "mesh-files-pending",
            "Waiting",
            f.pending.to_string(),
            false,
        ),
        (
            "mesh-files-degraded",
            "Degraded",
            f.degraded.to_string(),
            f.degraded > 0,
        ),
    ];
    let nodes = if m.nodes.is_empty() {
        view! {
            <p id="mesh-no-nodes" class="muted">
                "No storage nodes yet. Start one with "
                <code class="code">"nocturne node connect --max-storage 10GB --tracker <address>"</code>
                " (the server prints its tracker address when it starts)."
            </p>
        }
        .into_any()
    } else {
        let now = (js_sys::Date::now() / 1000.0) as i64;
        view! {
            <div class="table-scroll" role="region" aria-labelledby="mesh-nodes-title" tabindex="0">
                <table id="mesh-nodes" class="data-table" aria-labelledby="mesh-nodes-title">
                    <thead>
                        <tr>
                            <th scope="col">"Node"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col" class="num">"Fragments"</th>
                            <th scope="col">"Space used"</th>
                            <th scope="col">"Audits"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {m.nodes.into_iter().map(|n| node_row(n, now)).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <dl class="mesh-stats">
            {stats.into_iter().map(|(id, label, value, warn)| view! {
                <div class="mesh-stat">
                    <dt class="label">{label}</dt>
                    <dd id=id class:mesh-warn=warn>{value}</dd>
                </div>
            }).collect_view()}
        </dl>
        {coding.map(|text| view! { <p class="muted">{text}</p> })}
        <h3 id="mesh-nodes-title">"Storage nodes"</h3>
        {nodes}
    }
}

/// One node: its id, whether it is there, what it holds and its audits.
fn node_row(n: MeshNode, now: i64) -> impl IntoView {
    let status = if n.connected {
        "Connected".to_owned()
    } else {
        format!("Last seen {}", ago(now, n.last_seen))
    };
    let space = if n.max_storage == 0 {
        human_size(n.bytes_used)
    } else {
        format!(
            "{} of {}",
            human_size(n.bytes_used),
            human_size(n.max_storage)
        )
    };
    let audits = format!("{} passed · {} failed", n.audits_passed, n.audits_failed);
    let failing = n.audits_failed > 0;
    let (state, status_class) = if n.connected {
        ("connected", "mesh-online")
    } else {
        ("away", "muted")
    };
    let seen = format!("Last seen {}", local_time(n.last_seen));
    let short = short_peer(&n.peer_id);
    let full = n.peer_id.clone();
    view! {
        <tr class="mesh-node" data-peer=n.peer_id data-state=state>
            <td data-label="Node"><code class="code" title=full>{short}</code></td>
            <td data-label="Status" class=status_class title=seen>{status}</td>
            <td data-label="Fragments" class="num">{n.fragments.to_string()}</td>
            <td data-label="Space used">{space}</td>
            <td data-label="Audits" class:mesh-warn=failing>{audits}</td>
        </tr>
    }
}
