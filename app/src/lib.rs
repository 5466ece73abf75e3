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
//! - [`App`] holds the routes; each page is its own WASM chunk, loaded when
//!   it is first shown, so a first visit fetches the main module and one
//!   page rather than the whole interface;
//! - `pages` has one module per page, `components` the pieces they share;
//! - `client` is what the browser does itself: JSON API calls and the
//!   account key hierarchy over `noctis` (Argon2id, key wrapping, the
//!   recovery key). Only auth keys, wrapped keys and ciphertext leave it.

// Lazy routes erase each page's view type inside an async block; laying
// that out needs more than the default 128 levels.
#![recursion_limit = "256"]

mod client;
mod components;
mod pages;
pub mod security;

use leptos::prelude::*;
use leptos_meta::{Link, Meta, MetaTags, Title, provide_meta_context};
use leptos_router::{
    Lazy, LazyRoute, ParamSegment, StaticSegment,
    components::{Route, Router, Routes},
    lazy_route,
};

/// The name cargo-leptos gives the WASM, JS and CSS bundles (`/pkg/<name>.*`).
pub const OUTPUT_NAME: &str = "nocturne";

/// Where the page names the site's bundles: `<root>/pkg/…`. The server
/// provides a root naming its build (`/v/<build>`), under which it lets
/// browsers keep every bundle for good; without one the page uses `/pkg/`.
/// Everything the main module loads after it (page chunks, the chunk
/// loader, JS snippets) is found relative to it, under the same root.
#[derive(Debug, Clone, Default)]
pub struct AssetRoot(pub String);

/// The HTML document every page is rendered into.
///
/// On the server this also sets the response's Content-Security-Policy, since
/// the policy has to name the nonce Leptos put on this response's inline
/// hydration script.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    security::apply_page_policy();

    let root = use_context::<AssetRoot>().unwrap_or_default().0;
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // Here rather than a `Stylesheet` in `App`: the shell is
                // rendered on the server only, which knows the build's root.
                <link rel="stylesheet" id="nocturne-style" href=format!("{root}/pkg/{OUTPUT_NAME}.css")/>
                <HydrationScripts options root/>
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
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Meta name="color-scheme" content="dark"/>
        <Meta name="theme-color" content="#0b0d12"/>
        <Title text="Nocturne"/>
        <Router>
            <Routes fallback=pages::not_found::NotFound>
                <Route path=StaticSegment("") view={Lazy::<DashboardRoute>::new()}/>
                <Route path=StaticSegment("login") view={Lazy::<LoginRoute>::new()}/>
                <Route path=StaticSegment("register") view={Lazy::<RegisterRoute>::new()}/>
                <Route path=StaticSegment("recover") view={Lazy::<RecoverRoute>::new()}/>
                <Route path=StaticSegment("admin") view={Lazy::<AdminRoute>::new()}/>
                <Route path=(StaticSegment("s"), ParamSegment("id")) view={Lazy::<ShareRoute>::new()}/>
            </Routes>
        </Router>
    }
}

/// Declares a route whose page is a WASM chunk of its own.
///
/// `#[lazy_route]` moves the page's code out of the main module: the browser
/// fetches it when the page is first shown (the server names the chunks in
/// `<link rel="preload">`s, so a fresh load fetches them beside the main
/// module). The server renders every page in full either way.
macro_rules! lazy_page {
    ($route:ident, $page:path) => {
        struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                $page().into_any()
            }
        }
    };
}

lazy_page!(DashboardRoute, pages::dashboard::Dashboard);
lazy_page!(LoginRoute, pages::auth::Login);
lazy_page!(RegisterRoute, pages::auth::Register);
lazy_page!(RecoverRoute, pages::auth::Recover);
lazy_page!(AdminRoute, pages::admin::AdminPage);
lazy_page!(ShareRoute, pages::share::SharePage);
