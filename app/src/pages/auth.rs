//! Register, log in, and recover with the recovery key.
//!
//! Each form derives keys in this browser (Argon2id, a second or two, in the
//! crypto worker so the page stays responsive) and sends the server only an
//! auth key and wrapped keys.
//!
//! The fields have no `name` and the submit buttons stay disabled until the
//! WASM has hydrated the page, so a form can never be submitted the plain
//! HTML way, which would put the password in a request to the server.

use ::api::{
    B64,
    accounts::{
        LoginRequest, LoginResponse, RecoveryKeyRequest, RecoveryKeyResponse, RecoveryResetRequest,
    },
};
use leptos::{prelude::*, task::spawn_local};
use leptos_router::hooks::use_navigate;

use crate::{
    client::{
        api,
        keyring::{KeyringSignal, log_in},
        keys::{self, Keyring},
    },
    components::Header,
};

/// A text field bound to a signal.
#[component]
fn Field(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(default = true)] required: bool,
) -> impl IntoView {
    view! {
        <label class="field" for=id>
            <span>{label}</span>
            <input
                id=id
                type=kind
                autocomplete=autocomplete
                required=required
                prop:value=move || value.get()
                on:input:target=move |ev| value.set(ev.target().value())
            />
        </label>
    }
}

/// The error line under a form, announced to screen readers.
#[component]
fn FormError(error: RwSignal<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || error.with(Option::is_some)>
            <p id="form-error" class="form-error" role="alert">{move || error.get()}</p>
        </Show>
    }
}

/// A new password (sign-up, recovery) must be typed twice alike and be at
/// least 10 characters long.
fn check_new_password(password: &str, again: &str) -> Result<(), &'static str> {
    if password != again {
        Err("The two passwords are not the same.")
    } else if password.chars().count() < 10 {
        Err("Use a password of at least 10 characters.")
    } else {
        Ok(())
    }
}

fn hydrated_marker() -> RwSignal<bool> {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| {
        hydrated.set(true);
        crate::client::mark_hydrated();
    });
    hydrated
}

/// What the recovery-key step shows, once.
#[derive(Clone)]
struct Shown {
    hex: String,
    words: String,
    auth_key: B64,
    keyring: Keyring,
}

/// `/register`: create an account, then show the recovery key once and ask
/// the user to confirm they saved it before going on.
#[component]
pub(crate) fn Register() -> impl IntoView {
    let (username, password, confirm, invite) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let shown = RwSignal::new(None::<Shown>);
    let saved = RwSignal::new(false);
    let hydrated = hydrated_marker();
    // An administrator's sign-up link carries the code after `#invite=`
    // (a fragment, so no server or log ever sees it in a URL).
    Effect::new(move |_| {
        if let Some(code) = invite_from_fragment() {
            invite.set(code);
        }
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (u, p) = (username.get_untracked(), password.get_untracked());
        if let Err(problem) = check_new_password(&p, &confirm.get_untracked()) {
            error.set(Some(problem.into()));
            return;
        }
        let code = Some(invite.get_untracked().trim().to_owned()).filter(|c| !c.is_empty());
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            let result = async {
                let account = keys::new_account(&u, &p, code).await?;
                api::post::<_, serde_json::Value>("/api/auth/register", &account.request)
                    .await
                    .map_err(|e| e.message)?;
                Ok::<_, String>(Shown {
                    hex: account.recovery_hex.to_string(),
                    words: account.recovery_words.to_string(),
                    auth_key: account.auth_key.clone(),
                    keyring: account.keyring.clone(),
                })
            }
            .await;
            busy.set(false);
            match result {
                Ok(s) => {
                    password.set(String::new());
                    confirm.set(String::new());
                    shown.set(Some(s));
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };

    view! {
        <div class="app" data-hydrated=move || hydrated.get().then_some("true")>
            <Header/>
            <main class="auth">
                <Show
                    when=move || shown.with(Option::is_some)
                    fallback=move || view! {
                        <form class="card" on:submit=submit>
                            <h1>"Create an account"</h1>
                            <Field id="username" label="Username" value=username autocomplete="username"/>
                            <Field id="password" label="Password" value=password kind="password" autocomplete="new-password"/>
                            <Field id="password2" label="Password again" value=confirm kind="password" autocomplete="new-password"/>
                            <Field id="invite" label="Invite code (if the server needs one)" value=invite required=false/>
                            <FormError error/>
                            <button id="register" class="primary" type="submit" disabled=move || busy.get() || !hydrated.get()>
                                {move || if busy.get() { "Deriving keys…" } else { "Create account" }}
                            </button>
                            <p class="hint">"Already have an account? " <a href="/login">"Log in"</a></p>
                        </form>
                    }
                >
                    <RecoveryStep shown saved busy error/>
                </Show>
            </main>
        </div>
    }
}

/// The invite code in this page's fragment (`#invite=<32 hex digits>`).
fn invite_from_fragment() -> Option<String> {
    let hash = web_sys::window()?.location().hash().ok()?;
    let code = hash
        .trim_start_matches('#')
        .split('&')
        .find_map(|part| part.strip_prefix("invite="))?;
    (code.len() == 32 && code.bytes().all(|b| b.is_ascii_hexdigit())).then(|| code.to_owned())
}

/// The recovery key, shown once, and the confirmation that it was saved.
/// Continuing logs in with the auth key already derived.
#[component]
fn RecoveryStep(
    shown: RwSignal<Option<Shown>>,
    saved: RwSignal<bool>,
    busy: RwSignal<bool>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let keyring = expect_context::<KeyringSignal>();
    let navigate = use_navigate();
    let go_on = move |_| {
        let Some(s) = shown.get_untracked() else {
            return;
        };
        let navigate = navigate.clone();
        busy.set(true);
        spawn_local(async move {
            let body = LoginRequest {
                username: s.keyring.username.clone(),
                auth_key: s.auth_key.clone(),
                token: false,
            };
            match api::post::<_, LoginResponse>("/api/auth/login", &body).await {
                Ok(_) => {
                    keyring.set(Some(s.keyring.clone()));
                    shown.set(None);
                    navigate("/", Default::default());
                }
                Err(e) => {
                    busy.set(false);
                    error.set(Some(e.message));
                }
            }
        });
    };
    view! {
                    <section class="card" aria-labelledby="recovery-title">
            <h1 id="recovery-title">"Your recovery key"</h1>
            <p>
                "This key is the only way back into your files if you forget your password. "
                "It is shown once and never sent to the server. Write it down or store it "
                "in a password manager, away from this device."
            </p>
            <p class="label">"As hex"</p>
            <code id="recovery-hex" class="secret">{move || shown.with(|s| s.as_ref().map(|s| s.hex.clone()))}</code>
            <p class="label">"As words"</p>
            <code id="recovery-words" class="secret">{move || shown.with(|s| s.as_ref().map(|s| s.words.clone()))}</code>
            <label class="check" for="recovery-saved">
                <input
                    id="recovery-saved"
                    type="checkbox"
                    prop:checked=move || saved.get()
                    on:change:target=move |ev| saved.set(ev.target().checked())
                />
                <span>"I have saved my recovery key somewhere safe."</span>
            </label>
            <FormError error/>
            <button
                id="recovery-continue"
                class="primary"
                type="button"
                prop:disabled=move || !saved.get() || busy.get()
                on:click=go_on
            >
                "Continue"
            </button>
        </section>
    }
}

/// `/login`.
#[component]
pub(crate) fn Login() -> impl IntoView {
    let keyring = expect_context::<KeyringSignal>();
    let navigate = use_navigate();
    let (username, password) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let hydrated = hydrated_marker();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (u, p) = (username.get_untracked(), password.get_untracked());
        let navigate = navigate.clone();
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            match log_in(&u, &p).await {
                Ok(k) => {
                    password.set(String::new());
                    keyring.set(Some(k));
                    navigate("/", Default::default());
                }
                Err(e) => {
                    busy.set(false);
                    error.set(Some(e));
                }
            }
        });
    };

    view! {
        <div class="app" data-hydrated=move || hydrated.get().then_some("true")>
            <Header/>
            <main class="auth">
                <form class="card" on:submit=submit>
                    <h1>"Log in"</h1>
                    <Field id="username" label="Username" value=username autocomplete="username"/>
                    <Field id="password" label="Password" value=password kind="password" autocomplete="current-password"/>
                    <FormError error/>
                    <button id="login" class="primary" type="submit" disabled=move || busy.get() || !hydrated.get()>
                        {move || if busy.get() { "Deriving keys…" } else { "Log in" }}
                    </button>
                    <p class="hint">
                        <a href="/register">"Create an account"</a>
                        " · "
                        <a href="/recover">"Forgot your password?"</a>
                    </p>
                </form>
            </main>
        </div>
    }
}

/// `/recover`: the recovery key unwraps the master key here, which is
/// wrapped again under a new password; every file stays readable.
#[component]
pub(crate) fn Recover() -> impl IntoView {
    let (username, recovery, password, confirm) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let done = RwSignal::new(false);
    let hydrated = hydrated_marker();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (u, r, p) = (
            username.get_untracked().trim().to_ascii_lowercase(),
            recovery.get_untracked(),
            password.get_untracked(),
        );
        if let Err(problem) = check_new_password(&p, &confirm.get_untracked()) {
            error.set(Some(problem.into()));
            return;
        }
        let key = match keys::parse_recovery(&r) {
            Ok(k) => k,
            Err(e) => {
                error.set(Some(e));
                return;
            }
        };
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            let result = async {
                let auth = keys::recovery_auth(&key);
                let wrapped: RecoveryKeyResponse = api::post(
                    "/api/auth/recovery/key",
                    &RecoveryKeyRequest {
                        username: u.clone(),
                        recovery_auth: auth.clone(),
                    },
                )
                .await
                .map_err(|e| {
                    if e.status == 401 {
                        "This recovery key does not open that account.".to_owned()
                    } else {
                        e.message
                    }
                })?;
                let new = keys::reset_material(&key, &wrapped.master_by_recovery.0, &p).await?;
                api::post::<_, serde_json::Value>(
                    "/api/auth/recovery/reset",
                    &RecoveryResetRequest {
                        username: u,
                        recovery_auth: auth,
                        new,
                    },
                )
                .await
                .map_err(|e| e.message)?;
                Ok::<_, String>(())
            }
            .await;
            busy.set(false);
            match result {
                Ok(()) => {
                    recovery.set(String::new());
                    password.set(String::new());
                    confirm.set(String::new());
                    done.set(true);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };

    view! {
        <div class="app" data-hydrated=move || hydrated.get().then_some("true")>
            <Header/>
            <main class="auth">
                <Show
                    when=move || done.get()
                    fallback=move || view! {
                        <form class="card" on:submit=submit>
                            <h1>"Recover your account"</h1>
                            <p>"Your recovery key opens your files again; then choose a new password."</p>
                            <Field id="username" label="Username" value=username autocomplete="username"/>
                            <label class="field" for="recovery-key">
                                <span>"Recovery key (hex or words)"</span>
                                <textarea
                                    id="recovery-key"
                                    rows="3"
                                    required
                                    spellcheck="false"
                                    autocomplete="off"
                                    prop:value=move || recovery.get()
                                    on:input:target=move |ev| recovery.set(ev.target().value())
                                ></textarea>
                            </label>
                            <Field id="new-password" label="New password" value=password kind="password" autocomplete="new-password"/>
                            <Field id="new-password2" label="New password again" value=confirm kind="password" autocomplete="new-password"/>
                            <FormError error/>
                            <button id="recover" class="primary" type="submit" disabled=move || busy.get() || !hydrated.get()>
                                {move || if busy.get() { "Deriving keys…" } else { "Set new password" }}
                            </button>
                        </form>
                    }
                >
                    <section class="card" id="recovered" role="status">
                        <h1>"Password changed"</h1>
                        <p>"Every session of this account was signed out. Log in with the new password."</p>
                        <a class="primary button" href="/login">"Log in"</a>
                    </section>
                </Show>
            </main>
        </div>
    }
}
