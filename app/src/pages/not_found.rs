//! The page for addresses that lead nowhere.

use leptos::prelude::*;

/// Rendered for any path no route matches; answers with status 404.
#[component]
pub(crate) fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }

    view! {
        <main class="page-message">
            <h1>"Not found"</h1>
            <p>"There is nothing at this address."</p>
            <a class="button" href="/">"Back to your files"</a>
        </main>
    }
}
