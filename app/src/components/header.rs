//! The bar across the top of every page.

use leptos::prelude::*;

/// The product mark and whatever controls the page puts beside it.
#[component]
pub(crate) fn Header(#[prop(optional)] children: Option<Children>) -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href="/" aria-label="Nocturne home">
                <span class="brand-mark" aria-hidden="true"></span>
                <span class="brand-name">"Nocturne"</span>
            </a>
            <div class="topbar-controls">{children.map(|c| c())}</div>
        </header>
    }
}
