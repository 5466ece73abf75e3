//! The signed-in home page: the user's files.

use leptos::prelude::*;

use crate::components::{Cipher, CipherPicker, Header};

/// The file dashboard. For now an empty file area; uploads, the file list and
/// downloads arrive with the account and dashboard issues (#4, #5).
#[component]
pub(crate) fn Dashboard() -> impl IntoView {
    let cipher = RwSignal::new(Cipher::default());

    // Effects only run in the browser, so this attribute appears exactly when
    // the WASM has taken over the page. Tests wait on it; it costs nothing.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <div class="app" data-hydrated=move || hydrated.get().then_some("true")>
            <Header>
                <CipherPicker cipher/>
            </Header>
            <main class="files" aria-labelledby="files-title">
                <div class="files-head">
                    <h1 id="files-title">"Files"</h1>
                </div>
                <section class="empty-state" aria-live="polite">
                    <div class="empty-icon" aria-hidden="true"></div>
                    <p class="empty-title">"No files yet"</p>
                    <p class="empty-hint">
                        "Files are encrypted in this browser before they leave it. "
                        "The server only ever stores ciphertext."
                    </p>
                </section>
            </main>
        </div>
    }
}
