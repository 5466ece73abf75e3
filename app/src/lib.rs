//! Nocturne's web interface.
//!
//! The same components are compiled twice: with the `ssr` feature into the
//! `nocturne` server, which renders every page to HTML, and with `hydrate`
//! into the WASM bundle built from the `frontend` crate, which takes over that
//! HTML in the browser. This crate never touches storage or the network
//! itself: the server owns SQLite and blobs, and all cryptography lives in
//! `noctis`.
//!
//! - [`shell`] is the HTML document around the app (head, hydration scripts,
//!   and on the server the page's Content-Security-Policy);
//! - [`App`] holds the routes;
//! - `pages` has one module per page, `components` the pieces they share;
//! - `client` is what the browser does itself: JSON API calls and the
//!   account key hierarchy over `noctis` (Argon2id, key wrapping, the
//!   recovery key). Only auth keys, wrapped keys and ciphertext leave it.

mod client;
mod components;
mod pages;
pub mod security;

use leptos::prelude::*;
use leptos_meta::{Link, Meta, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, StaticSegment,
    components::{Route, Router, Routes},
};

/// The name cargo-leptos gives the WASM, JS and CSS bundles (`/pkg/<name>.*`).
pub const OUTPUT_NAME: &str = "nocturne";

/// The HTML document every page is rendered into.
///
/// On the server this also sets the response's Content-Security-Policy, since
/// the policy has to name the nonce Leptos put on this response's inline
/// hydration script.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    security::apply_page_policy();

    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: document metadata and the routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // The unlocked master key of this tab: memory only, never stored.
    provide_context::<client::keyring::KeyringSignal>(RwSignal::new(None));

    view! {
        <Stylesheet id="nocturne-style" href=format!("/pkg/{OUTPUT_NAME}.css")/>
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Meta name="color-scheme" content="dark"/>
        <Meta name="theme-color" content="#0b0d12"/>
        <Title text="Nocturne"/>
        <Router>
            <Routes fallback=pages::not_found::NotFound>
                <Route path=StaticSegment("") view=pages::dashboard::Dashboard/>
                <Route path=StaticSegment("login") view=pages::auth::Login/>
                <Route path=StaticSegment("register") view=pages::auth::Register/>
                <Route path=StaticSegment("recover") view=pages::auth::Recover/>
                <Route path=StaticSegment("admin") view=pages::admin::AdminPage/>
                <Route path=(StaticSegment("s"), ParamSegment("id")) view=pages::share::SharePage/>
            </Routes>
        </Router>
    }
}
