//! The choice of cipher for new uploads.

use leptos::prelude::*;

/// The content ciphers a user can choose for new files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Cipher {
    /// AES-256-GCM through the browser's WebCrypto: the default.
    #[default]
    Aes256Gcm,
    /// Noctis-256: experimental, not audited.
    Noctis256,
}

impl Cipher {
    fn label(self) -> &'static str {
        match self {
            Cipher::Aes256Gcm => "AES-256-GCM",
            Cipher::Noctis256 => "Noctis-256",
        }
    }

    fn dom_id(self) -> &'static str {
        match self {
            Cipher::Aes256Gcm => "cipher-aes",
            Cipher::Noctis256 => "cipher-noctis",
        }
    }
}

/// A two-way switch between the ciphers, with the warning Noctis-256 must
/// always carry while it is selected.
///
/// Built as a radio group of buttons so it works from the keyboard (Tab to
/// reach it, Enter or Space to choose) and reads correctly to screen readers.
#[component]
pub(crate) fn CipherPicker(cipher: RwSignal<Cipher>) -> impl IntoView {
    let option = move |choice: Cipher| {
        view! {
            <button
                type="button"
                role="radio"
                id=choice.dom_id()
                class="segment"
                aria-checked=move || if cipher.get() == choice { "true" } else { "false" }
                on:click=move |_| cipher.set(choice)
            >
                {choice.label()}
            </button>
        }
    };

    view! {
        <div class="cipher-picker">
            <span class="cipher-label" id="cipher-label">"Cipher for new files"</span>
            <div class="segmented" role="radiogroup" aria-labelledby="cipher-label">
                {option(Cipher::Aes256Gcm)}
                {option(Cipher::Noctis256)}
            </div>
            <Show when=move || cipher.get() == Cipher::Noctis256>
                <p id="cipher-warning" class="warning" role="status">
                    "Noctis-256 is experimental and has not been audited. "
                    "Keep AES-256-GCM for anything that matters."
                </p>
            </Show>
        </div>
    }
}
